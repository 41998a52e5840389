use super::*;

pub(crate) fn flow(kind: FlowKind) -> Flow {
    let now = Utc::now();
    Flow {
        id: Uuid::new_v4(),
        kind,
        flow_type: FlowType::Api,
        state: State::initial(kind),
        request_url: "http://x/".into(),
        return_to: None,
        csrf_token: String::new(),
        ui: Ui {
            action: "a".into(),
            method: "POST".into(),
            nodes: vec![],
            messages: vec![],
        },
        issued_at: now,
        expires_at: now,
        updated_at: now,
        transient_payload: None,
        identity_id: None,
        refresh: false,
        internal_context: json!({}),
        active: None,
        challenge: Challenge::default(),
    }
}

#[test]
fn verification_moves_through_its_states() {
    let mut f = flow(FlowKind::Verification);
    f.code_sent(Method::Code, Via::Email, "a@x.io").unwrap();
    assert_eq!(f.state, State::SentEmail);
    assert_eq!(f.challenge.sent_to.as_deref(), Some("a@x.io"));
    f.code_sent(Method::Code, Via::Email, "a@x.io").unwrap();
    f.passed().unwrap();
    assert!(f.code_sent(Method::Code, Via::Email, "a@x.io").is_err());
    assert!(f.passed().is_err(), "a flow passes once");
}

#[test]
fn each_kind_keeps_to_its_own_states() {
    assert!(
        flow(FlowKind::Registration)
            .code_sent(Method::Code, Via::Email, "a@x.io")
            .is_err()
    );
    assert!(flow(FlowKind::Settings).passed().is_err());
    assert!(flow(FlowKind::Login).saved().is_err());
    let mut s = flow(FlowKind::Settings);
    s.saved().unwrap();
    s.saved().unwrap();
    s.form_shown().unwrap();
    assert_eq!(s.state, State::ShowForm);
}

#[test]
fn json_carries_what_each_kind_shows() {
    let mut f = flow(FlowKind::Verification);
    let j = f.to_json();
    assert!(j.get("return_to").is_none() && j.get("active").is_none());
    assert_eq!(j["state"], "choose_method");
    f.active = Some(Method::Code);
    assert_eq!(f.to_json()["active"], "code");
    let mut l = flow(FlowKind::Login);
    l.refresh = true;
    let j = l.to_json();
    assert_eq!(j["refresh"], true);
    assert_eq!(j["requested_aal"], "aal1");
    assert!(
        flow(FlowKind::Registration)
            .to_json()
            .get("refresh")
            .is_none()
    );
    for k in [
        "login",
        "registration",
        "settings",
        "verification",
        "recovery",
    ] {
        assert_eq!(FlowKind::parse(k).unwrap().as_str(), k);
    }
}

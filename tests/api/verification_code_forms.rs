//! The code strategy's form errors and resends: missing and invalid
//! addresses, the Resend button, `max_resends`.

use crate::helpers::spawn_app;
use crate::verification_support::*;

#[tokio::test]
async fn resend_invalidates_the_old_code_and_keeps_the_attempt_count() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "resend");
        let identity = create_email_identity(&app, &email).await;
        let (flow, first) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        // Two wrong attempts before the resend ...
        for _ in 0..2 {
            let reply = c.use_code(&app, &flow, &wrong(&first)).await;
            c.expect_same_flow(&app, &reply, &id, 200).await;
        }
        // ... the Resend button submits the address again.
        let reply = c.send_code(&app, &flow, &email).await;
        let flow = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(message_ids(&flow), [1080003]);
        assert!(node(&flow, "code").is_some());
        let second = wait_messages(&app, &email, 2).await[0]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        // The first code is dead (3rd attempt).
        let reply = c.use_code(&app, &flow, &first).await;
        let flow = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(message_ids(&flow), [4070006]);
        if first == second {
            continue; // one in a million: the new code equals the old one
        }
        // Attempts 4 and 5 are wrong; the 6th, with the new code, is one too many: the
        // resend did not reset the counter.
        for _ in 0..2 {
            let reply = c.use_code(&app, &flow, &wrong(&second)).await;
            c.expect_same_flow(&app, &reply, &id, 200).await;
        }
        let reply = c.use_code(&app, &flow, &second).await;
        c.expect_replaced(&app, &reply, &id).await;
        assert_not_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn the_new_code_works_after_a_resend() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "resend-ok");
        let identity = create_email_identity(&app, &email).await;
        let (flow, first) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        let reply = c.send_code(&app, &flow, &email).await;
        let flow = c.expect_same_flow(&app, &reply, &id, 200).await;
        let second = wait_messages(&app, &email, 2).await[0]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        if first != second {
            let reply = c.use_code(&app, &flow, &first).await;
            assert_eq!(
                message_ids(&c.expect_same_flow(&app, &reply, &id, 200).await),
                [4070006]
            );
        }
        let reply = c.use_code(&app, &flow, &second).await;
        let done = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(message_ids(&done), [1080002]);
        assert_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn the_fourth_send_replaces_the_flow() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "max-resends");
        create_email_identity(&app, &email).await;
        let (flow, _) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            let reply = c.send_code(&app, &flow, &email).await;
            c.expect_same_flow(&app, &reply, &id, 200).await;
        }
        assert_eq!(wait_messages(&app, &email, 3).await.len(), 3);
        let reply = c.send_code(&app, &flow, &email).await;
        let new = c.expect_replaced(&app, &reply, &id).await;
        assert_eq!(message_ids(&new), [4000001]);
        assert_eq!(
            inbox(&app, &email).await.len(),
            3,
            "the 4th send sent nothing"
        );
        // The new flow can send again.
        let reply = c.send_code(&app, &new, &email).await;
        let new_id = new["id"].as_str().unwrap();
        assert_eq!(
            c.expect_same_flow(&app, &reply, new_id, 200).await["state"],
            "sent_email"
        );
    }
}

#[tokio::test]
async fn missing_and_invalid_addresses_are_form_errors() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let flow = c.init(&app).await;
        let id = flow["id"].as_str().unwrap().to_owned();

        let reply = c.submit(&app, &flow, &[("method", "code")]).await;
        let after = c.expect_same_flow(&app, &reply, &id, 400).await;
        assert_eq!(after["active"], "code");
        assert_eq!(node_message_ids(&after, "email"), [4000002]);
        let m = &node(&after, "email").unwrap()["messages"][0];
        assert_eq!(m["text"], "Property email is missing.");
        assert_eq!(m["context"]["property"], "email");

        for bad in ["not@an@address", "a b@example.com", "@example.com"] {
            let reply = c.send_code(&app, &flow, bad).await;
            let after = c.expect_same_flow(&app, &reply, &id, 400).await;
            assert_eq!(node_message_ids(&after, "email"), [4000040], "{bad}");
            assert_eq!(
                node(&after, "email").unwrap()["messages"][0]["text"],
                "Enter a valid email address"
            );
            assert_eq!(after["state"], "choose_method");
        }
        // The dev courier has an SMS channel, so an address without `@` is a phone number.
        for bad in ["12", "+49", "not-a-number"] {
            let reply = c.send_code(&app, &flow, bad).await;
            let after = c.expect_same_flow(&app, &reply, &id, 400).await;
            assert_eq!(node_message_ids(&after, "email"), [4000041], "{bad}");
            assert_eq!(
                node(&after, "email").unwrap()["messages"][0]["text"],
                "Enter a valid phone number"
            );
        }
        let reply = c
            .submit(
                &app,
                &flow,
                &[("method", "not-link"), ("email", "x@example.com")],
            )
            .await;
        let after = c.expect_same_flow(&app, &reply, &id, 400).await;
        let m = &node(&after, "method").unwrap()["messages"][0];
        assert_eq!(m["id"], 4000001);
        assert_eq!(m["text"], r#"value must be one of "code", "link""#);
    }
    assert!(outbox_all(&app).await.is_empty(), "nothing was sent");
}

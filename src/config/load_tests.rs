use super::*;

const MINIMAL: &str = "dsn: memory\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n";

fn load_with(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = std::env::temp_dir().join(format!("verity-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.yml");
    std::fs::write(&path, text).unwrap();
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    load(&ConfigSource::File(path), env)
}

#[test]
fn minimal_config_gets_defaults() {
    let s = load_with(MINIMAL, &[]).unwrap();
    assert_eq!(s.session.cookie.name, "ory_kratos_session");
    assert_eq!(
        s.selfservice.methods.code.config.lifespan.whole_minutes(),
        10
    );
    assert_eq!(s.courier.message_retries, 5);
}

#[test]
fn environment_overrides_the_file() {
    let s = load_with(
        MINIMAL,
        &[("SERVE_PUBLIC_PORT", "5005"), ("DSN", "sqlite://x.db")],
    )
    .unwrap();
    assert_eq!(s.serve.public.port, Some(5005));
    assert_eq!(s.dsn.expose(), "sqlite://x.db");
}

#[test]
fn unknown_key_names_its_path() {
    let err = load_with(&format!("{MINIMAL}serve:\n  public:\n    prot: 1\n"), &[]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("serve.public"), "{text}");
    assert!(text.contains("prot"), "{text}");
}

#[test]
fn wrong_type_names_path_and_expectation() {
    let err = load_with(
        &format!("{MINIMAL}serve:\n  public:\n    port: eighty\n"),
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("serve.public.port"), "{text}");
    assert!(text.contains("u16"), "{text}");
}

#[test]
fn wrong_type_from_environment_names_the_variable() {
    let err = load_with(MINIMAL, &[("SERVE_ADMIN_PORT", "eighty")]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SERVE_ADMIN_PORT"), "{text}");
}

#[test]
fn missing_required_key_is_named() {
    let err = load_with("dsn: memory\n", &[]).unwrap_err();
    assert!(err.to_string().contains("identity"), "{err}");
}

#[test]
fn short_secret_is_refused() {
    let err = load_with(&format!("{MINIMAL}secrets:\n  default: [short]\n"), &[]).unwrap_err();
    assert!(err.to_string().contains("secrets.default.0"), "{err}");
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let err = load_with(
        &format!(
            "{MINIMAL}serve:\n  public:\n    port: eighty\n    prot: 1\n  admin:\n    port: also-bad\nhashers:\n  bcrypt:\n    cost: 40\nsecrets:\n  default: [short]\ntracing:\n  provider: jaeger\n"
        ),
        &[],
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "serve.public.prot",
        "serve.public.port",
        "serve.admin.port",
        "hashers.bcrypt.cost",
        "secrets.default.0",
        "`tracing`",
        "Fix:",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}

#[test]
fn kratos_keys_load_with_warnings() {
    let s = load_with(
        &format!(
            "{MINIMAL}version: v26.2.0\nciphers:\n  algorithm: xchacha20-poly1305\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 8\nfeature_flags:\n  use_continue_with_transitions: true\nserve:\n  public:\n    cors:\n      enabled: true\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(s.hashers.algorithm, super::super::HashAlgorithm::Bcrypt);
    assert_eq!(s.hashers.bcrypt.cost, 8);
    assert!(s.serve.public.cors.enabled);
    let w = s.warnings.join("\n");
    assert!(
        w.contains("feature_flags.use_continue_with_transitions"),
        "{w}"
    );
    assert!(w.contains("ciphers.algorithm"), "{w}");
    assert_eq!(s.warnings.len(), 2, "{w}");
}

#[test]
fn later_files_override_earlier_ones() {
    let dir = std::env::temp_dir().join(format!("verity-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.yml"), dir.join("b.yml"));
    std::fs::write(
        &a,
        format!("{MINIMAL}serve:\n  public:\n    port: 1\n    host: 0.0.0.0\n"),
    )
    .unwrap();
    std::fs::write(
        &b,
        "serve:\n  public:\n    port: 2\n  admin:\n    port: eighty\n",
    )
    .unwrap();
    let source = ConfigSource::Files(vec![a.clone(), b.clone()]);
    let err = load(&source, std::iter::empty()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("(in {})", b.display())),
        "the file that set it: {err}"
    );
    std::fs::write(&b, "serve:\n  public:\n    port: 2\n").unwrap();
    let s = load(&source, [("SERVE_ADMIN_PORT".to_owned(), "3".to_owned())]).unwrap();
    assert_eq!(
        (s.serve.public.port, s.serve.admin.port),
        (Some(2), Some(3))
    );
    assert_eq!(s.serve.public.host, "0.0.0.0", "maps merge");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verity_only_keys_load_without_warnings() {
    let text = MINIMAL.replace(
        "selfservice:\n",
        "selfservice:\n  rate_limits:\n    flows_per_ip_minute: 7\n  methods:\n    code:\n      config:\n        allow_short_codes: true\n        length: 6\n",
    ) + "protection:\n  fetch_metadata:\n    enabled: true\nserve:\n  drain: 2s\n  admin:\n    cors:\n      enabled: true\nidentity_extra: 1\n";
    let err = load_with(&text, &[]).unwrap_err().to_string();
    assert!(err.contains("`identity_extra`: unknown key"), "{err}");
    let s = load_with(&text.replace("identity_extra: 1\n", ""), &[]).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.selfservice.rate_limits.flows_per_ip_minute, 7);
    assert!(s.selfservice.methods.code.config.allow_short_codes);
    assert_eq!(s.serve.drain.std(), std::time::Duration::from_secs(2));
    assert!(s.serve.admin.cors.enabled);
}

#[test]
fn the_bundled_config_is_valid() {
    load(&ConfigSource::Bundled, std::iter::empty()).unwrap();
}

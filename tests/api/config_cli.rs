//! The `verity` binary's commands that need no server.

use std::process::Command;

fn verity() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verity"))
}

#[test]
fn version_prints_the_crate_version() {
    let out = verity().arg("version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn config_validate_accepts_the_bundled_config() {
    let out = verity()
        .args(["config", "validate", "--config", "config.yml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_validate_names_the_bad_key_and_the_variable() {
    let out = verity()
        .args(["config", "validate", "--config", "config.yml"])
        .env("SERVE_PUBLIC_PORT", "eighty")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("serve.public.port") && err.contains("SERVE_PUBLIC_PORT"),
        "{err}"
    );
}

#[test]
fn schema_validate_checks_shipped_and_broken_schemas() {
    let root = env!("CARGO_MANIFEST_DIR");
    for name in ["email", "phone", "email-and-phone", "username"] {
        let out = verity()
            .args([
                "schema",
                "validate",
                &format!("{root}/identity-schemas/{name}.schema.json"),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = std::env::temp_dir().join(format!("verity-schema-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"type":"object","properties":{"traits":{"type":"object","properties":{"email":{"type":"string","ory.sh/kratos":{"verification":{"via":"pigeon"}}}}}}}"#).unwrap();
    let out = verity()
        .args(["schema", "validate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

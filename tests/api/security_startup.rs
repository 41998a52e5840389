//! What start-up refuses (issue 15.2, 15.8): the bundled example secrets and short secrets
//! outside `--dev`, and codes under a million values without the explicit opt-in.

use std::path::PathBuf;

use verity::config::{ConfigSource, Sensitive, Settings};
use verity::startup::Application;

use crate::helpers::{TempDir, base_settings, production_secrets};

async fn build(settings: Settings, dev: bool) -> Result<Application, String> {
    verity::install_crypto_provider();
    let source = ConfigSource::File(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.yml"
    )));
    Application::build(settings, &source, dev, true)
        .await
        .map_err(|e| format!("{e:#}"))
}

fn settings(dir: &TempDir) -> Settings {
    base_settings(&format!("sqlite://{}/v.sqlite?mode=rwc", dir.0.display()))
}

#[tokio::test]
async fn example_secrets_are_refused_outside_dev_naming_the_key_and_the_fix() {
    let dir = TempDir::new();
    let err = build(settings(&dir), false).await.err().expect("refused");
    assert!(err.contains("secrets.default[0]"), "{err}");
    assert!(err.contains("openssl rand -hex 32"), "{err}");
    assert!(
        build(settings(&dir), true).await.is_ok(),
        "--dev accepts them"
    );
    let mut short = settings(&dir);
    production_secrets(&mut short);
    short.secrets.cookie = vec![Sensitive::new("only-twenty-bytes-xx")];
    let err = build(short, false).await.err().expect("refused");
    assert!(
        err.contains("secrets.cookie[0]") && err.contains("20 bytes"),
        "{err}"
    );
    let mut good = settings(&dir);
    production_secrets(&mut good);
    assert!(build(good, false).await.is_ok());
}

#[tokio::test]
async fn short_codes_need_the_opt_in_and_get_the_tighter_limits() {
    let dir = TempDir::new();
    let mut four = settings(&dir);
    four.selfservice.methods.code.config.length = 4;
    let err = build(four.clone(), true).await.err().expect("refused");
    assert!(err.contains("allow_short_codes"), "{err}");
    four.selfservice.methods.code.config.allow_short_codes = true;
    let app = build(four, true).await.expect("starts with the opt-in");
    let reg = app.registry();
    let code = reg.settings.selfservice.methods.code.config.effective();
    assert_eq!(
        (code.max_submissions, code.lifespan.std().as_secs()),
        (3, 300)
    );
    assert_eq!(reg.limiter.config().code_failures_per_address_day, 10);
}

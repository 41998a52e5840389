//! Passwords from elsewhere: hashes in Kratos's import forms are accepted on admin create,
//! sign in, and come out rehashed with the configured hasher (argon2id, or bcrypt). Both
//! databases.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Value, json};
use sha2::Digest;

use crate::auth_support::{FlowClient, sign_in};
use crate::helpers::{TestApp, json_with_status, spawn_postgres_with, spawn_with};
use crate::verification_support::Kind;

const PASSWORD: &str = "imported-correct-horse";

/// One hash of `PASSWORD` in each import form, made here with the named parameters.
fn imported_hashes() -> Vec<(&'static str, String)> {
    let salt = b"0123456789abcdef";
    let mut out32 = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD.as_bytes(), salt, 1000, &mut out32);
    let pbkdf2 = format!(
        "$pbkdf2-sha256$i=1000,l=32${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out32)
    );
    let params = scrypt::Params::new(10, 8, 1).unwrap();
    scrypt::scrypt(PASSWORD.as_bytes(), salt, &params, &mut out32).unwrap();
    let scrypt = format!(
        "$scrypt$ln=1024,r=8,p=1${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(out32)
    );
    let argon2i = {
        use argon2::PasswordHasher as _;
        let p = argon2::Params::new(64, 1, 1, Some(32)).unwrap();
        argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, p)
            .hash_password(PASSWORD.as_bytes())
            .unwrap()
            .to_string()
    };
    let md5 = format!(
        "$md5${}",
        STANDARD.encode(md5::Md5::digest(PASSWORD.as_bytes()))
    );
    let mut ssha = sha1::Sha1::digest(format!("{PASSWORD}NaCl").as_bytes()).to_vec();
    ssha.extend_from_slice(b"NaCl");
    let sha = format!(
        "$sha512$pf={}${}${}",
        STANDARD.encode("{SALT}{PASSWORD}"),
        STANDARD.encode("pepper"),
        STANDARD.encode(sha2::Sha512::digest(format!("pepper{PASSWORD}").as_bytes()))
    );
    let hmac = {
        use hmac::{KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"hmac-key").unwrap();
        mac.update(PASSWORD.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "$hmac-sha256${}${}",
            STANDARD.encode(hex),
            STANDARD.encode("hmac-key")
        )
    };
    vec![
        ("sha512", sha),
        ("hmac", hmac),
        ("firescrypt", firebase_scrypt(salt)),
        ("bcrypt", bcrypt::hash(PASSWORD, 4).unwrap()),
        ("argon2i", argon2i),
        ("pbkdf2", pbkdf2),
        ("scrypt", scrypt),
        ("md5", md5),
        ("ssha", format!("{{SSHA}}{}", STANDARD.encode(ssha))),
    ]
}

/// Firebase's form: scrypt(password, salt + separator) keys AES-256-CTR over the signer key.
fn firebase_scrypt(salt: &[u8]) -> String {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let (separator, signer) = (
        b"\x01".as_slice(),
        b"firebase-signer-key-0123456789ab".as_slice(),
    );
    let mut key = [0u8; 32];
    let salted = [salt, separator].concat();
    scrypt::scrypt(
        PASSWORD.as_bytes(),
        &salted,
        &scrypt::Params::new(4, 8, 1).unwrap(),
        &mut key,
    )
    .unwrap();
    let mut hash = signer.to_vec();
    ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &[0u8; 16].into()).apply_keystream(&mut hash);
    format!(
        "$firescrypt$ln=4,r=8,p=1${}${}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(hash),
        STANDARD.encode(separator),
        STANDARD.encode(signer)
    )
}

async fn import(app: &TestApp, email: &str, hash: &str) -> String {
    let body = json!({
        "schema_id": "default",
        "traits": {"email": email},
        "verifiable_addresses": [{"value": email, "via": "email", "verified": true, "status": "completed"}],
        "credentials": {"password": {"config": {"hashed_password": hash}}},
    });
    let created = json_with_status(app.post_admin("/admin/identities", &body).await, 201).await;
    created["id"].as_str().unwrap().to_owned()
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    let identity = app
        .store()
        .get_identity(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    identity.credential("password").unwrap().config["hashed_password"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sign_in_status(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(app, "login").await;
    let r = c
        .submit(app, "login", &flow, sign_in(email, password))
        .await;
    (r.status, r.body)
}

async fn imported_hashes_sign_in_and_are_rehashed(app: &TestApp, prefix: &str) {
    for (name, hash) in imported_hashes() {
        let email = format!("{name}@import.example");
        let id = import(app, &email, &hash).await;
        let (status, body) = sign_in_status(app, &email, "not the password").await;
        assert_eq!(status, 400, "{name}: a wrong password fails: {body}");
        assert_eq!(
            stored_hash(app, &id).await,
            hash,
            "{name}: untouched on failure"
        );
        let (status, body) = sign_in_status(app, &email, PASSWORD).await;
        assert_eq!(status, 200, "{name}: {body}");
        let now = stored_hash(app, &id).await;
        assert!(now.starts_with(prefix), "{name}: rehashed to {now}");
        let (status, body) = sign_in_status(app, &email, PASSWORD).await;
        assert_eq!(status, 200, "{name}: the new hash signs in: {body}");
        assert_eq!(stored_hash(app, &id).await, now, "{name}: no second rehash");
    }
}

#[tokio::test]
async fn imported_hashes_sign_in_and_come_out_argon2id_sqlite() {
    let app = spawn_with(|_| {}).await;
    imported_hashes_sign_in_and_are_rehashed(&app, "$argon2id$").await;
}

#[tokio::test]
async fn imported_hashes_sign_in_and_come_out_argon2id_postgres() {
    let Some(app) = spawn_postgres_with(|_| {}).await else {
        return;
    };
    imported_hashes_sign_in_and_are_rehashed(&app, "$argon2id$").await;
}

#[tokio::test]
async fn with_the_bcrypt_hasher_imports_come_out_bcrypt() {
    let app = spawn_with(|s| {
        s.hashers.algorithm = verity::config::HashAlgorithm::Bcrypt;
        s.hashers.bcrypt.cost = 4;
    })
    .await;
    let email = "argon@import.example";
    let argon = {
        use argon2::PasswordHasher as _;
        let p = argon2::Params::new(64, 1, 1, Some(32)).unwrap();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
            .hash_password(PASSWORD.as_bytes())
            .unwrap()
            .to_string()
    };
    let id = import(&app, email, &argon).await;
    assert_eq!(sign_in_status(&app, email, PASSWORD).await.0, 200);
    let now = stored_hash(&app, &id).await;
    assert!(now.starts_with("$2b$04$"), "{now}");
}

#[tokio::test]
async fn a_password_changed_meanwhile_is_not_overwritten() {
    let app = spawn_with(|_| {}).await;
    let old = bcrypt::hash(PASSWORD, 4).unwrap();
    let id = import(&app, "race@import.example", &old).await;
    let newer = bcrypt::hash("someone-else-set-this", 4).unwrap();
    let store = app.store();
    let uuid = id.parse().unwrap();
    let now = chrono::Utc::now();
    assert!(
        store
            .swap_password_hash(uuid, &old, &newer, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .swap_password_hash(uuid, &old, "$argon2id$late", now)
            .await
            .unwrap(),
        "the swap compares against the hash it read"
    );
    assert_eq!(stored_hash(&app, &id).await, newer);
}

#[tokio::test]
async fn a_hash_that_cannot_verify_is_refused_at_import_with_the_reason() {
    let app = spawn_with(|_| {}).await;
    for bad in [
        "plaintext",
        "$pbkdf2-sha256$i=x,l=32$AA$AA",
        "$scrypt$ln=1000,r=8,p=1$AA==$AA==",
    ] {
        let body = json!({
            "schema_id": "default",
            "traits": {"email": "bad@import.example"},
            "credentials": {"password": {"config": {"hashed_password": bad}}},
        });
        let r = json_with_status(app.post_admin("/admin/identities", &body).await, 400).await;
        let text = r.to_string();
        assert!(text.contains("hashed_password"), "{bad}: {text}");
    }
}

//! Checks of each import form against hashes made here.

use super::*;

fn check(password: &str, stored: &str) -> bool {
    let parsed = parse(stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
    verify(password.as_bytes(), stored, &parsed)
}

#[test]
fn pbkdf2_scrypt_md5_and_ssha_verify() {
    // Made here from the password "test" with the named parameters.
    let salt = b"saltsaltsaltsalt";
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"test", salt, 1000, &mut out);
    let pbkdf2 = format!(
        "$pbkdf2-sha256$i=1000,l=32${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    );
    assert!(check("test", &pbkdf2));
    assert!(!check("tesT", &pbkdf2));

    let params = scrypt::Params::new(10, 8, 1).unwrap();
    scrypt::scrypt(b"test", salt, &params, &mut out).unwrap();
    let scrypt = format!(
        "$scrypt$ln=1024,r=8,p=1${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(out)
    );
    assert!(check("test", &scrypt));
    assert!(!check("nope", &scrypt));

    let md5 = format!("$md5${}", STANDARD.encode(md5::Md5::digest(b"test")));
    assert!(check("test", &md5));
    let salted = format!(
        "$md5$pf={}${}${}",
        STANDARD.encode("{SALT}{PASSWORD}"),
        STANDARD.encode("s1"),
        STANDARD.encode(md5::Md5::digest(b"s1test"))
    );
    assert!(check("test", &salted));
    assert!(!check("s1test", &salted));

    let mut ssha = sha1::Sha1::digest(b"testNaCl").to_vec();
    ssha.extend_from_slice(b"NaCl");
    let ssha = format!("{{SSHA}}{}", STANDARD.encode(ssha));
    assert!(check("test", &ssha));
    assert!(!check("test2", &ssha));
}

#[test]
fn sha_with_a_format_and_hmac_verify() {
    let sha = format!(
        "$sha256$pf={}${}${}",
        STANDARD.encode("{PASSWORD}{SALT}"),
        STANDARD.encode("pepper"),
        STANDARD.encode(sha2::Sha256::digest(b"testpepper"))
    );
    assert!(check("test", &sha));
    assert!(!check("pepper", &sha));
    // HMAC-SHA256(key "key", "test") in hex, as a Kratos export holds it.
    let hex = HmacKind::Sha(ShaKind::Sha256).hex(b"key", b"test");
    assert_eq!(
        hex,
        "02afb56304902c656fcb737cdd03de6205bb6d401da2812efd9b2d36a08af159"
    );
    let hmac = format!(
        "$hmac-sha256${}${}",
        STANDARD.encode(&hex),
        STANDARD.encode("key")
    );
    assert!(check("test", &hmac));
    assert!(!check("tesT", &hmac));
    assert!(parse("$hmac-md4$AA==$AA==").is_err());
}

#[test]
fn bcrypt_and_firebase_verify() {
    let b = bcrypt::hash("test", 4).unwrap();
    assert!(check("test", &b));
    assert!(!check("Test", &b));
    let (salt, sep, signer) = (
        b"salt".as_slice(),
        b"\x01".as_slice(),
        b"signer-key-bytes".as_slice(),
    );
    let hash = firebase(b"test", (4, 8, 1), salt, sep, signer).unwrap();
    let fire = format!(
        "$firescrypt$ln=4,r=8,p=1${}${}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(&hash),
        STANDARD.encode(sep),
        STANDARD.encode(signer)
    );
    assert!(check("test", &fire));
    assert!(!check("tset", &fire));
}

#[test]
fn malformed_hashes_are_refused_with_a_reason() {
    for bad in [
        "plain",
        "$2b$10$short",
        "$pbkdf2-md4$i=1,l=1$AA$AA",
        "$scrypt$ln=1000,r=8,p=1$AA==$AA==",
        "$md5$!!!",
        "{SSHA}AAAA",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

//! Random secrets, their hashes, and argon2id passwords.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 hex: how session ids and token secrets are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two hashes in time independent of where they differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// argon2id with the crate's defaults, off the async runtime (tens of ms).
pub(super) async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Corrupt {
                what: "password hash".into(),
                message: e.to_string(),
            })
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)))?
}

/// Checks `password` against `hash`; without a hash (unknown user, SSO
/// user) it checks against a fixed one so the time taken is the same.
pub(super) async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY.get_or_init(dummy_hash).clone());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && ok
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)))
}

static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn dummy_hash() -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(random_secret(16).as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

//! Passwords: argon2id hashes in PHC string form, verification that takes
//! the same time whether or not the user exists, and generated passwords.
//!
//! Hashing is deliberately slow; async callers use [`hash_password_async`]
//! and [`verify_password_async`], which run it on the blocking pool.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use gridsync_core::Reason;
use rand::Rng;

use super::AuthError;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters (hashing cost is bounded).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Letters and digits that cannot be confused when read aloud or copied
/// from paper (no 0/O, 1/l/I).
const GENERATED_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// Length of a generated password.
const GENERATED_CHARS: usize = 16;

/// argon2id, version 0x13, OWASP's parameters (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Whether `password` is acceptable as a new password.
pub fn check_password(password: &str) -> Result<(), Reason> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Reason::new(
            format!("密码至少需要{MIN_PASSWORD_CHARS}个字符"),
            format!("password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Reason::new(
            format!("密码不能超过{MAX_PASSWORD_CHARS}个字符"),
            format!("password must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if password.trim().is_empty() || password.chars().any(char::is_control) {
        return Err(Reason::new(
            "密码不能为空白或包含控制字符",
            "password must not be blank or contain control characters",
        ));
    }
    Ok(())
}

/// Hash a new password (after [`check_password`]) into an argon2id PHC
/// string. Slow: off the async threads, use [`hash_password_async`].
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    check_password(password).map_err(|reason| AuthError::Invalid {
        field: "password",
        reason,
    })?;
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| AuthError::Internal(format!("salt: {e}")))?;
    let hash = argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Internal(format!("hashing: {e}")))?;
    Ok(hash.to_string())
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_password_async(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AuthError::Internal(format!("hashing task: {e}")))?
}

/// A hash of no one's password, verified against when the user does not
/// exist so that a wrong username takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let Ok(salt) = SaltString::encode_b64(b"gridsync-no-user") else {
            return String::new();
        };
        argon2()
            .hash_password(b"not a password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Whether `password` matches `hash` (a PHC string). `None` (no such user,
/// or no password set) verifies against a dummy hash and answers false.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // The parameters come from the stored hash, so older hashes still verify.
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// [`verify_password`] on the blocking pool.
pub async fn verify_password_async(
    password: String,
    hash: Option<String>,
) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref()))
        .await
        .map_err(|e| AuthError::Internal(format!("verification task: {e}")))
}

/// A random password of 16 letters and digits (about 93 bits), to hand to a
/// new user once.
pub fn generate_password() -> String {
    let mut rng = rand::rng();
    (0..GENERATED_CHARS)
        .map(|_| char::from(GENERATED_ALPHABET[rng.random_range(0..GENERATED_ALPHABET.len())]))
        .collect()
}

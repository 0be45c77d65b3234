//! The store's encryption key (SQLCipher): what a key may be, how it is
//! applied to a connection, and changing it (`rekey`).
//!
//! The rule, stated once: exactly 64 hex digits are a raw 256-bit key,
//! used as it is (SQLCipher's `x'…'` form, no key derivation); anything
//! else is a passphrase, which must be at least [`MIN_PASSPHRASE_CHARS`]
//! characters (SQLCipher derives the key from it with PBKDF2). Anything
//! shorter is refused as `Invalid { field: "key" }` before the file is
//! touched.
//!
//! Compatibility: before this rule every key was applied as a passphrase,
//! so a store made with a 64-hex key was keyed with that text as a
//! passphrase. When the raw form does not open a file, the same text is
//! tried as a passphrase, and a store it opens is rekeyed to the raw form
//! there and then (so the next opening takes the fast path).

use std::path::Path;

use rusqlite::Connection;

use crate::error::Reason;
use crate::{Error, Result};

/// The fewest characters a passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// A checked store key. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreKey {
    /// 64 hex digits, as given: a raw 256-bit key.
    Raw(String),
    /// A passphrase of at least [`MIN_PASSPHRASE_CHARS`] characters.
    Passphrase(String),
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKey::Raw(_) => "StoreKey::Raw(..)",
            StoreKey::Passphrase(_) => "StoreKey::Passphrase(..)",
        })
    }
}

impl StoreKey {
    /// Check `key` against the rule (see the module docs); the error names
    /// the field `key` and never echoes the key.
    pub fn parse(key: &str) -> Result<Self> {
        if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(StoreKey::Raw(key.to_owned()));
        }
        if key.trim().chars().count() >= MIN_PASSPHRASE_CHARS {
            return Ok(StoreKey::Passphrase(key.to_owned()));
        }
        Err(Reason::new(
            format!(
                "加密密钥须为64位十六进制数（256位随机密钥），或至少{MIN_PASSPHRASE_CHARS}个字符的口令"
            ),
            format!(
                "the key must be 64 hex digits (a random 256-bit key) or a passphrase of at \
                 least {MIN_PASSPHRASE_CHARS} characters"
            ),
        )
        .on("key"))
    }

    /// The value of `PRAGMA key` / `PRAGMA rekey` for this key.
    fn pragma_value(&self) -> String {
        match self {
            StoreKey::Raw(hex) => format!("x'{hex}'"),
            StoreKey::Passphrase(p) => p.clone(),
        }
    }
}

fn ensure_encryption() -> Result<()> {
    if cfg!(feature = "encryption") {
        Ok(())
    } else {
        Err(Error::Encryption(
            "this build has no SQLCipher: enable gridsync-core's `encryption` feature".into(),
        ))
    }
}

/// Key `conn` and check the key by reading the file (`WrongKey` if it
/// does not open it).
pub(super) fn apply(conn: &Connection, key: &StoreKey) -> Result<()> {
    ensure_encryption()?;
    conn.pragma_update(None, "key", key.pragma_value())?;
    // SQLCipher would log a failed HMAC check (a wrong key) to the
    // console; the caller gets `WrongKey` instead.
    let _ = conn.pragma_update(None, "cipher_log_level", "NONE");
    // The key is only checked when the file is first read.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|_| Error::WrongKey)?;
    Ok(())
}

/// Open the file at `path` with `key` (none: not encrypted). A raw key
/// that does not open it is tried as the passphrase earlier versions
/// applied it as; a store it opens is rekeyed to the raw form.
pub(super) fn open(path: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    let conn = Connection::open(path)?;
    let Some(key) = key else {
        return Ok(conn);
    };
    match apply(&conn, key) {
        Ok(()) => Ok(conn),
        Err(Error::WrongKey) => {
            let StoreKey::Raw(hex) = key else {
                return Err(Error::WrongKey);
            };
            drop(conn);
            let conn = Connection::open(path)?;
            apply(&conn, &StoreKey::Passphrase(hex.clone()))?;
            rekey(&conn, key)?;
            Ok(conn)
        }
        Err(e) => Err(e),
    }
}

/// Re-encrypt the open, keyed store under `new`. SQLCipher rekeys a
/// rollback-journal database: a WAL one is checkpointed and switched to
/// `DELETE` for the rekey, then back.
pub(super) fn rekey(conn: &Connection, new: &StoreKey) -> Result<()> {
    ensure_encryption()?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    let wal = mode.eq_ignore_ascii_case("wal");
    if wal {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    }
    let result = conn.pragma_update(None, "rekey", new.pragma_value());
    if wal {
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    }
    result?;
    // Read back under the new key: a rekey that did not take is an error
    // here, not a store that no longer opens later.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let hex = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
        assert!(matches!(StoreKey::parse(hex), Ok(StoreKey::Raw(_))));
        assert!(matches!(
            StoreKey::parse(&hex.to_uppercase()),
            Ok(StoreKey::Raw(_))
        ));
        // 63 hex digits: not raw, but long enough for a passphrase.
        assert!(matches!(
            StoreKey::parse(&hex[1..]),
            Ok(StoreKey::Passphrase(_))
        ));
        assert!(matches!(
            StoreKey::parse("门前的老槐树开花了十二字"),
            Ok(StoreKey::Passphrase(_))
        ));
        for short in ["", "abcd", "eleven char", "            x"] {
            match StoreKey::parse(short) {
                Err(Error::Invalid { field, reason }) => {
                    assert_eq!(field, "key");
                    assert!(reason.zh.contains("64"), "{}", reason.zh);
                    assert!(!reason.en.contains("abcd") && !reason.zh.contains("abcd"));
                }
                other => panic!("{short:?} accepted: {other:?}"),
            }
        }
        assert_eq!(
            StoreKey::parse(hex)
                .map(|k| format!("{k:?}"))
                .ok()
                .as_deref(),
            Some("StoreKey::Raw(..)")
        );
    }
}

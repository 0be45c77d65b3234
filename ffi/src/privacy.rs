//! Private by default, and the store's key.
//!
//! Every record the SDK returns for display carries ID numbers and phones
//! masked (the core's rule: `110105********1234`, `138****1234`; see
//! [`crate::records`]); the full values come only from
//! [`Gridsync::reveal_resident`], which records who read them, when, which
//! resident and why, and the next sync sends that record to the server's
//! audit log. The key rule (64 hex digits: a raw 256-bit key; else a
//! passphrase of at least 12 characters) is the core's
//! (`gridsync_core::store::StoreKey`); [`Gridsync::rekey`] changes it.

use gridsync_core::store::StoreKey;

use crate::client::{Gridsync, lock};
use crate::error::Result;

/// A resident's full ID number and phone, from `revealResident`. Show
/// them, then let them go: keep them in no list, file or log.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct RevealedResident {
    /// 公民身份号码, in full.
    pub id_number: Option<String>,
    /// Phone, in full.
    pub phone: Option<String>,
}

impl std::fmt::Debug for RevealedResident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data never reaches a log through `{:?}`.
        f.debug_struct("RevealedResident").finish_non_exhaustive()
    }
}

/// Check a store key against the rule before anything is opened: `Invalid`
/// naming `key` (Chinese first), never echoing it.
pub(crate) fn check_key(key: &str) -> Result<()> {
    StoreKey::parse(key)?;
    Ok(())
}

#[uniffi::export]
impl Gridsync {
    /// A resident's full ID number and phone (everything else shows them
    /// masked). The reading is recorded on this device — the signed-in
    /// user, the time, the household and resident ids and `reason`; no
    /// name or number — and sent to the server's audit log at the next
    /// sync. Throws `Unauthorized` while nobody is signed in, `Invalid`
    /// (field `reason`) for an empty reason, one over 200 characters or
    /// one with a line break or other control character,
    /// `NotFound` for an unknown household or resident.
    pub fn reveal_resident(
        &self,
        household_id: String,
        resident_id: String,
        reason: String,
    ) -> Result<RevealedResident> {
        let r = lock(&self.store).reveal_resident(&household_id, &resident_id, &reason)?;
        Ok(RevealedResident {
            id_number: r.id_number,
            phone: r.phone,
        })
    }

    /// Reveals recorded on this device and not yet on the server.
    pub fn pending_reveals(&self) -> Result<i64> {
        let n = lock(&self.store).pending_reveal_count()?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// Re-encrypt the store under `new_key` (the same rule as `open`: 64
    /// hex digits, or a passphrase of at least 12 characters; else
    /// `Invalid`, field `key`). This object goes on working; from now on
    /// only `new_key` opens the file (the old one throws `WrongKey`), so
    /// keep it in the Keystore / Keychain first, then call this.
    pub fn rekey(&self, new_key: String) -> Result<()> {
        check_key(&new_key)?;
        let mut store = lock(&self.store);
        store.rekey(&new_key)?;
        // A hand-over makes the new, empty store under the current key.
        *lock(&self.key) = new_key;
        Ok(())
    }
}

//! Reveals: a resident's full ID number and phone, read for a person who
//! asked for them, and the record of that reading. Everything the device
//! shows is masked (110105********1234, 138****1234); the full values come
//! only from [`Store::reveal_resident`], which records who, when, which
//! resident and why in the `reveals` table, in the same call. The sync
//! sends the records to the server's audit log and removes them here
//! (`sync/reveals`). A record holds ids, a time and the reason: no name,
//! number or phone.

use rusqlite::params;

use crate::error::Reason;
use crate::{Error, Result};

use super::Store;

/// The most characters a reveal's reason may have.
pub const MAX_REASON_CHARS: usize = 200;

/// A resident's full ID number and phone, as revealed.
#[derive(Clone, PartialEq, Eq)]
pub struct Revealed {
    /// 公民身份号码, in full.
    pub id_number: Option<String>,
    /// Phone, in full.
    pub phone: Option<String>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data never reaches a log through `{:?}`.
        f.debug_struct("Revealed").finish_non_exhaustive()
    }
}

/// The record of one reveal, waiting to be sent to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reveal {
    /// Its id (a UUID): the server records each once.
    pub id: String,
    /// When, ms since the epoch (this device's clock).
    pub at: i64,
    /// Who: the signed-in user's id.
    pub user_id: String,
    /// The household.
    pub household_id: String,
    /// The resident.
    pub resident_id: String,
    /// Why, as the person gave it.
    pub reason: String,
}

impl Store {
    /// The full ID number and phone of a resident, for the signed-in
    /// person, recording that they were shown (who, when, which resident,
    /// `reason`) for the server's audit log. Throws `Unauthorized` while
    /// nobody is signed in, `Invalid` (field `reason`) for an empty or
    /// over-long reason or one with control characters (the server's rule
    /// too, so a record it would refuse is never queued), `NotFound` for an unknown household or resident.
    pub fn reveal_resident(
        &mut self,
        household_id: &str,
        resident_id: &str,
        reason: &str,
    ) -> Result<Revealed> {
        if !self.author.is_signed_in() {
            return Err(Error::Unauthorized(
                "请先登录：查看完整信息须留下查看人记录 / sign in first: who reads full \
                 personal data is recorded"
                    .into(),
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Reason::new(
                "请填写查看完整信息的原因",
                "give the reason for reading the full values",
            )
            .on("reason"));
        }
        if reason.chars().any(char::is_control) {
            return Err(Reason::new(
                "原因不能含换行等控制字符",
                "the reason must not contain line breaks or other control characters",
            )
            .on("reason"));
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(Reason::new(
                format!("原因不能超过{MAX_REASON_CHARS}个字"),
                format!("the reason must be at most {MAX_REASON_CHARS} characters"),
            )
            .on("reason"));
        }
        let r = self.resident(household_id, resident_id)?;
        self.conn
            .prepare_cached(
                "INSERT INTO reveals (id, at, user_id, household_id, resident_id, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                uuid::Uuid::new_v4().to_string(),
                self.clock.now_ms(),
                self.author.user,
                household_id,
                resident_id,
                reason,
            ])?;
        Ok(Revealed {
            id_number: r.id_number,
            phone: r.phone,
        })
    }

    /// Reveal records of `user` not yet on the server, oldest first, at
    /// most `limit`.
    pub fn pending_reveals(&self, user: &str, limit: usize) -> Result<Vec<Reveal>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn
            .prepare_cached(
                "SELECT id, at, user_id, household_id, resident_id, reason FROM reveals
                 WHERE user_id = ?1 ORDER BY at, id LIMIT +?2",
            )?
            .query_map(params![user, limit], |r| {
                Ok(Reveal {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    user_id: r.get(2)?,
                    household_id: r.get(3)?,
                    resident_id: r.get(4)?,
                    reason: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How many reveal records (anyone's) are not yet on the server.
    pub fn pending_reveal_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM reveals", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Forget reveal records the server has recorded.
    pub fn forget_reveals(&mut self, ids: &[String]) -> Result<()> {
        // One transaction (one fsync), unless a batch already holds one.
        let tx = match self.write {
            Some(_) => None,
            None => Some(self.conn.unchecked_transaction()?),
        };
        {
            let mut stmt = self
                .conn
                .prepare_cached("DELETE FROM reveals WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        if let Some(tx) = tx {
            tx.commit()?;
        }
        Ok(())
    }
}

//! The hotline's tables on the embedded SQLite database.

use deadpool_sqlite::Pool;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Claim, Credential, Due, Failing, NewCredential};
use crate::db::{self, DbError};

const CREDENTIAL: &str =
    "id, name, token_sha256, signing_secret, webhook_url, created_at, revoked_at";

fn credential(r: &rusqlite::Row<'_>) -> rusqlite::Result<Credential> {
    Ok(Credential {
        id: r.get(0)?,
        name: r.get(1)?,
        token_sha256: r.get(2)?,
        signing_secret: r.get(3)?,
        webhook_url: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

/// Store a new credential; `false` if its name is taken.
pub(super) async fn create(pool: &Pool, c: NewCredential) -> Result<bool, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let n = conn.execute(
            "INSERT INTO hotline_credentials (id, name, token_sha256, signing_secret, webhook_url, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
            params![c.id, c.name, c.token_sha256, c.signing_secret, c.webhook_url, c.created_at],
        )?;
        Ok(n == 1)
    })
    .await
}

pub(super) async fn revoke(pool: &Pool, name: String, now: i64) -> Result<bool, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let n = conn.execute(
            "UPDATE hotline_credentials SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, now],
        )?;
        Ok(n == 1)
    })
    .await
}

pub(super) async fn list(pool: &Pool) -> Result<Vec<Credential>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let mut stmt = conn.prepare(&format!(
            "SELECT {CREDENTIAL} FROM hotline_credentials ORDER BY created_at, name"
        ))?;
        stmt.query_map([], credential)?.collect()
    })
    .await
}

pub(super) async fn by_token(pool: &Pool, sha: String) -> Result<Option<Credential>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        conn.prepare_cached(&format!(
            "SELECT {CREDENTIAL} FROM hotline_credentials WHERE token_sha256 = ?1"
        ))?
        .query_row([sha], credential)
        .optional()
    })
    .await
}

pub(super) async fn claim(
    pool: &Pool,
    credential: String,
    reference: String,
    report_id: String,
    change: Vec<u8>,
    now: i64,
) -> Result<Claim, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let tx = conn.transaction()?;
        let n = tx.execute(
            "INSERT INTO hotline_cases (credential_id, reference, report_id, change, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (credential_id, reference) DO NOTHING",
            params![credential, reference, report_id, change, now],
        )?;
        let claim = if n == 1 {
            Claim::New
        } else {
            let (report_id, change) = tx.query_row(
                "SELECT report_id, change FROM hotline_cases WHERE credential_id = ?1 AND reference = ?2",
                params![credential, reference],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Claim::Existing { report_id, change }
        };
        tx.commit()?;
        Ok(claim)
    })
    .await
}

pub(super) async fn case(
    pool: &Pool,
    credential: String,
    reference: String,
) -> Result<Option<String>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        conn.prepare_cached(
            "SELECT report_id FROM hotline_cases
             WHERE credential_id = ?1 AND reference = ?2 AND change IS NULL",
        )?
        .query_row(params![credential, reference], |r| r.get(0))
        .optional()
    })
    .await
}

pub(super) async fn filed(pool: &Pool, report_id: String) -> Result<(), DbError> {
    db::run(pool, move |conn: &mut Connection| {
        conn.execute(
            "UPDATE hotline_cases SET change = NULL WHERE report_id = ?1",
            [report_id],
        )?;
        Ok(())
    })
    .await
}

pub(super) async fn unclaim(pool: &Pool, report_id: String) -> Result<(), DbError> {
    db::run(pool, move |conn: &mut Connection| {
        conn.execute(
            "DELETE FROM hotline_cases WHERE report_id = ?1 AND change IS NOT NULL",
            [report_id],
        )?;
        Ok(())
    })
    .await
}

pub(super) async fn unfiled(
    pool: &Pool,
    before: i64,
    limit: i64,
) -> Result<Vec<(String, Vec<u8>)>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let mut stmt = conn.prepare_cached(
            "SELECT report_id, change FROM hotline_cases
             WHERE change IS NOT NULL AND created_at < ?1 ORDER BY created_at LIMIT +?2",
        )?;
        stmt.query_map(params![before, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    })
    .await
}

/// How far the dispatcher has followed the change log.
pub(super) async fn cursor(pool: &Pool) -> Result<i64, DbError> {
    db::run(pool, |conn: &mut Connection| {
        conn.query_row("SELECT seq FROM hotline_cursor WHERE id = 1", [], |r| {
            r.get(0)
        })
    })
    .await
}

/// Which of the reports `ids` came from the hotline: (report id, the
/// platform's reference), in id order.
pub(super) async fn references(
    pool: &Pool,
    ids: Vec<String>,
) -> Result<Vec<(String, String)>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let mut stmt = conn.prepare_cached(
            "SELECT report_id, reference FROM hotline_cases WHERE report_id = ?1",
        )?;
        let mut out = Vec::new();
        for id in &ids {
            if let Some(found) = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                out.push(found);
            }
        }
        Ok(out)
    })
    .await
}

pub(super) async fn enqueue(
    pool: &Pool,
    steps: Vec<(String, String, String)>,
    upto: i64,
    now: i64,
) -> Result<usize, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let tx = conn.transaction()?;
        let mut added = 0;
        for (report_id, event_id, payload) in &steps {
            added += tx
                .prepare_cached(
                    "INSERT INTO hotline_deliveries (report_id, event_id, payload, next_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (report_id, event_id) DO NOTHING",
                )?
                .execute(params![report_id, event_id, payload, now])?;
        }
        tx.execute(
            "UPDATE hotline_cursor SET seq = max(seq, ?1) WHERE id = 1",
            [upto],
        )?;
        tx.commit()?;
        Ok(added)
    })
    .await
}

pub(super) async fn due(pool: &Pool, now: i64, limit: i64) -> Result<Vec<Due>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let mut stmt = conn.prepare_cached(
            "SELECT d.id, d.report_id, d.event_id, d.payload, d.attempts, k.webhook_url, k.signing_secret
             FROM hotline_deliveries d
             JOIN hotline_cases c ON c.report_id = d.report_id
             JOIN hotline_credentials k ON k.id = c.credential_id
             WHERE d.delivered_at IS NULL AND d.next_at <= ?1 AND k.revoked_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM hotline_deliveries e
                               WHERE e.report_id = d.report_id AND e.delivered_at IS NULL AND e.id < d.id)
             ORDER BY d.next_at, d.id LIMIT +?2",
        )?;
        stmt.query_map(params![now, limit], |r| {
            Ok(Due {
                id: r.get(0)?,
                report_id: r.get(1)?,
                event_id: r.get(2)?,
                payload: r.get(3)?,
                attempts: r.get(4)?,
                url: r.get(5)?,
                secret: r.get(6)?,
            })
        })?
        .collect()
    })
    .await
}

pub(super) async fn delivered(pool: &Pool, id: i64, now: i64) -> Result<(), DbError> {
    db::run(pool, move |conn: &mut Connection| {
        conn.execute(
            "UPDATE hotline_deliveries SET delivered_at = ?2, last_at = ?2, attempts = attempts + 1
             WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    })
    .await
}

pub(super) async fn failed(
    pool: &Pool,
    id: i64,
    next_at: i64,
    error: String,
    now: i64,
) -> Result<(), DbError> {
    db::run(pool, move |conn: &mut Connection| {
        conn.execute(
            "UPDATE hotline_deliveries SET attempts = attempts + 1, next_at = ?2, last_error = ?3, last_at = ?4
             WHERE id = ?1 AND delivered_at IS NULL",
            params![id, next_at, error, now],
        )?;
        Ok(())
    })
    .await
}

pub(super) async fn failing(pool: &Pool, after: i64, limit: i64) -> Result<Vec<Failing>, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let mut stmt = conn.prepare_cached(
            "SELECT d.id, k.name, c.reference, d.report_id, d.event_id, d.payload, d.attempts,
                    d.last_error, d.last_at, d.next_at, k.revoked_at IS NOT NULL
             FROM hotline_deliveries d
             JOIN hotline_cases c ON c.report_id = d.report_id
             JOIN hotline_credentials k ON k.id = c.credential_id
             WHERE d.delivered_at IS NULL AND d.attempts >= ?1
             ORDER BY d.id LIMIT +?2",
        )?;
        stmt.query_map(params![after, limit], |r| {
            Ok(Failing {
                id: r.get(0)?,
                credential: r.get(1)?,
                reference: r.get(2)?,
                report_id: r.get(3)?,
                event_id: r.get(4)?,
                payload: r.get(5)?,
                attempts: r.get(6)?,
                last_error: r.get(7)?,
                last_at: r.get(8)?,
                next_at: r.get(9)?,
                revoked: r.get(10)?,
            })
        })?
        .collect()
    })
    .await
}

pub(super) async fn retry(pool: &Pool, id: Option<i64>, now: i64) -> Result<usize, DbError> {
    db::run(pool, move |conn: &mut Connection| {
        let n = match id {
            Some(id) => conn.execute(
                "UPDATE hotline_deliveries SET next_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
                params![id, now],
            )?,
            None => conn.execute(
                "UPDATE hotline_deliveries SET next_at = ?1 WHERE delivered_at IS NULL AND next_at > ?1",
                [now],
            )?,
        };
        Ok(n)
    })
    .await
}

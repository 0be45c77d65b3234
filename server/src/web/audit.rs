//! The audit log: every unmasked view of personal data and every export,
//! who, what, when; phones' reveals of a resident's full values arrive
//! through `/v1/reveals` ([`crate::reveals`]). Kept in the main database (it cannot be rebuilt, unlike
//! the read model), readable by administrators on `/web/admin/audit`.
//! Entries name records by id, never by a person's name or number.

use rusqlite::params;

use super::MainDb;
use crate::db::DbError;
use crate::principal::Principal;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When, Unix milliseconds.
    pub at: i64,
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// `unmask`, `export` or `reveal` (on a phone).
    pub action: String,
    /// What: a household id, an export's scope.
    pub target: String,
    /// More: the export's file name, the fields shown.
    pub detail: String,
}

/// Record that `p` did `action` on `target`.
pub async fn record(
    main: &MainDb,
    p: &Principal,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), DbError> {
    let e = Entry {
        at: gridsync_core::household::Clock::System.now_ms(),
        user_id: p.user_id.clone(),
        username: p.username.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_owned(),
    };
    const SQL_LITE: &str = "INSERT INTO web_audit (at, user_id, username, action, target, detail)
                            VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    const SQL_PG: &str = "INSERT INTO web_audit (at, user_id, username, action, target, detail)
                          VALUES ($1, $2, $3, $4, $5, $6)";
    match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                c.prepare_cached(SQL_LITE)?.execute(params![
                    e.at, e.user_id, e.username, e.action, e.target, e.detail
                ])?;
                Ok(())
            })
            .await
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            crate::pg::execute(
                &client,
                SQL_PG,
                &[
                    &e.at,
                    &e.user_id,
                    &e.username,
                    &e.action,
                    &e.target,
                    &e.detail,
                ],
            )
            .await
            .map_err(crate::pg::err)?;
            Ok(())
        }
    }
}

/// Record `e` unless an entry equal to it (time, user, action, target and
/// detail) is there already; returns whether it was written. For entries
/// that a client may send again after a dropped answer (a phone's
/// reveals, whose detail names the reveal's own id); the lookup uses the
/// index on `at`.
pub async fn record_once(main: &MainDb, e: Entry) -> Result<bool, DbError> {
    const FIND_LITE: &str = "SELECT 1 FROM web_audit WHERE at = ?1 AND user_id = ?2 \
                             AND action = ?3 AND target = ?4 AND detail = ?5 LIMIT 1";
    const INSERT_LITE: &str =
        "INSERT INTO web_audit (at, user_id, username, action, target, detail)
                               VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    const FIND_PG: &str = "SELECT 1 FROM web_audit WHERE at = $1 AND user_id = $2 \
                           AND action = $3 AND target = $4 AND detail = $5 LIMIT 1";
    const INSERT_PG: &str = "INSERT INTO web_audit (at, user_id, username, action, target, detail)
                             VALUES ($1, $2, $3, $4, $5, $6)";
    match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                let tx = c.transaction()?;
                let seen = tx
                    .prepare_cached(FIND_LITE)?
                    .exists(params![e.at, e.user_id, e.action, e.target, e.detail])?;
                if !seen {
                    tx.prepare_cached(INSERT_LITE)?.execute(params![
                        e.at, e.user_id, e.username, e.action, e.target, e.detail
                    ])?;
                }
                tx.commit()?;
                Ok(!seen)
            })
            .await
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            let seen = crate::pg::query_opt(
                &client,
                FIND_PG,
                &[&e.at, &e.user_id, &e.action, &e.target, &e.detail],
            )
            .await
            .map_err(crate::pg::err)?
            .is_some();
            if !seen {
                crate::pg::execute(
                    &client,
                    INSERT_PG,
                    &[
                        &e.at,
                        &e.user_id,
                        &e.username,
                        &e.action,
                        &e.target,
                        &e.detail,
                    ],
                )
                .await
                .map_err(crate::pg::err)?;
            }
            Ok(!seen)
        }
    }
}

/// The latest `limit` entries, newest first.
pub async fn latest(main: &MainDb, limit: i64) -> Result<Vec<Entry>, DbError> {
    const SQL: &str = "SELECT at, user_id, username, action, target, detail FROM web_audit
                       ORDER BY id DESC LIMIT ";
    match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                c.prepare_cached(&format!("{SQL}?1"))?
                    .query_map([limit], |r| {
                        Ok(Entry {
                            at: r.get(0)?,
                            user_id: r.get(1)?,
                            username: r.get(2)?,
                            action: r.get(3)?,
                            target: r.get(4)?,
                            detail: r.get(5)?,
                        })
                    })?
                    .collect()
            })
            .await
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            let rows = crate::pg::query(&client, &format!("{SQL}$1"), &[&limit])
                .await
                .map_err(crate::pg::err)?;
            Ok(rows
                .iter()
                .map(|r| Entry {
                    at: r.get(0),
                    user_id: r.get(1),
                    username: r.get(2),
                    action: r.get(3),
                    target: r.get(4),
                    detail: r.get(5),
                })
                .collect())
        }
    }
}

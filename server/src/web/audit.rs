//! The audit log: every unmasked view of personal data, every export and
//! every 群众诉求 / 需跟进 marked handled, who, what, when; phones' reveals of a resident's full values arrive
//! through `/v1/reveals` ([`crate::reveals`]). Kept in the main database (it cannot be rebuilt, unlike
//! the read model), readable by administrators on `/web/admin/audit`.
//! Entries name records by id, never by a person's name or number; what
//! an entry is about is read back from them ([`subject`]) so that the
//! audit page can name the person, the household's address and the
//! territory in words.

use rusqlite::params;

use super::MainDb;
use crate::db::DbError;
use crate::principal::Principal;

/// The action of a 群众诉求 / 需跟进 marked handled on the overview
/// ([`super::needs`]): target `household:<id>`, detail `visit:<key>`.
pub const CLOSE_NEED: &str = "close_need";

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
        at: gridsync_core::clock::Clock::System.now_ms(),
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

/// What an entry is about, read back from how it is written: the
/// household page writes `unmask` with `household:<id>`; exports write
/// `export` with `territory:<code>` and `<what>.<format>[（单栋楼）]，完整信息|已脱敏`;
/// phones' reveals are `reveal` with the household id and
/// `居民 <key>；设备 <id>；原因：<reason>；记录 <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A household's residents shown unmasked on its web page.
    Unmask {
        /// The household's id.
        household: String,
    },
    /// An export of a territory.
    Export {
        /// The territory's code (empty: the whole city).
        territory: String,
        /// `ledger`, `visits`, `reports` or `figures`.
        what: String,
        /// `xlsx` or `csv`.
        format: String,
        /// Unmasked.
        full: bool,
        /// Of one building only.
        building: bool,
        /// The reason given for an unmasked export.
        reason: Option<String>,
    },
    /// A phone's reveal of one resident's full values.
    Reveal {
        /// The household's id.
        household: String,
        /// The resident's key.
        resident: String,
        /// The device's id.
        device: String,
        /// The reason the person gave.
        reason: String,
    },
    /// A visit's 群众诉求 / 需跟进 marked handled.
    NeedClosed {
        /// The household's id.
        household: String,
        /// The visit's key.
        visit: String,
    },
    /// Anything else, shown as written.
    Other,
}

/// What `e` is about ([`Subject`]).
pub fn subject(e: &Entry) -> Subject {
    match e.action.as_str() {
        "unmask" => match e.target.strip_prefix("household:") {
            Some(household) => Subject::Unmask {
                household: household.to_owned(),
            },
            None => Subject::Other,
        },
        "export" => {
            let Some(territory) = e.target.strip_prefix("territory:") else {
                return Subject::Other;
            };
            let file = e.detail.split(['（', '，']).next().unwrap_or("");
            let Some((what, format)) = file.rsplit_once('.') else {
                return Subject::Other;
            };
            // `<file>[（单栋楼）]，完整信息[，原因：<reason>]` or `…，已脱敏`.
            let reason = e.detail.split_once("，原因：").map(|(_, r)| r.to_owned());
            Subject::Export {
                territory: territory.to_owned(),
                what: what.to_owned(),
                format: format.to_owned(),
                full: e.detail.contains("，完整信息"),
                building: e.detail.contains("（单栋楼）"),
                reason,
            }
        }
        "reveal" => {
            let parsed = e.detail.strip_prefix("居民 ").and_then(|rest| {
                let (resident, rest) = rest.split_once("；设备 ")?;
                let (device, rest) = rest.split_once("；原因：")?;
                let (reason, _record) = rest.rsplit_once("；记录 ")?;
                Some(Subject::Reveal {
                    household: e.target.clone(),
                    resident: resident.to_owned(),
                    device: device.to_owned(),
                    reason: reason.to_owned(),
                })
            });
            parsed.unwrap_or(Subject::Other)
        }
        CLOSE_NEED => match (
            e.target.strip_prefix("household:"),
            e.detail.strip_prefix("visit:"),
        ) {
            (Some(household), Some(visit)) => Subject::NeedClosed {
                household: household.to_owned(),
                visit: visit.to_owned(),
            },
            _ => Subject::Other,
        },
        _ => Subject::Other,
    }
}

/// The Chinese name of an export (`ledger` is 居民台账), as its file is
/// named.
pub fn export_name(what: &str) -> Option<&'static str> {
    Some(match what {
        "ledger" => "居民台账",
        "visits" => "走访记录",
        "figures" => "事件统计",
        "reports" => "事件清单",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(action: &str, target: &str, detail: &str) -> Entry {
        Entry {
            at: 1,
            user_id: "u".into(),
            username: "shequ".into(),
            action: action.into(),
            target: target.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn entries_are_read_back_as_written() {
        assert_eq!(
            subject(&entry("unmask", "household:h1", "公民身份号码、联系电话")),
            Subject::Unmask {
                household: "h1".into()
            }
        );
        assert_eq!(
            subject(&entry(
                "export",
                "territory:110105001001001",
                "ledger.xlsx（单栋楼），完整信息"
            )),
            Subject::Export {
                territory: "110105001001001".into(),
                what: "ledger".into(),
                format: "xlsx".into(),
                full: true,
                building: true,
                reason: None,
            }
        );
        assert_eq!(
            subject(&entry(
                "export",
                "territory:110105001001",
                "ledger.csv，完整信息，原因：核对低保名单"
            )),
            Subject::Export {
                territory: "110105001001".into(),
                what: "ledger".into(),
                format: "csv".into(),
                full: true,
                building: false,
                reason: Some("核对低保名单".into()),
            }
        );
        assert_eq!(
            subject(&entry("export", "territory:", "visits.csv，已脱敏")),
            Subject::Export {
                territory: String::new(),
                what: "visits".into(),
                format: "csv".into(),
                full: false,
                building: false,
                reason: None,
            }
        );
        assert_eq!(
            subject(&entry(
                "reveal",
                "h1",
                "居民 r1；设备 d1；原因：核实；身份；记录 x1"
            )),
            Subject::Reveal {
                household: "h1".into(),
                resident: "r1".into(),
                device: "d1".into(),
                reason: "核实；身份".into(),
            }
        );
        assert_eq!(
            subject(&entry(CLOSE_NEED, "household:h1", "visit:v1")),
            Subject::NeedClosed {
                household: "h1".into(),
                visit: "v1".into(),
            }
        );
        assert_eq!(subject(&entry(CLOSE_NEED, "h1", "v1")), Subject::Other);
        assert_eq!(subject(&entry("unmask", "h1", "")), Subject::Other);
        assert_eq!(subject(&entry("reveal", "h1", "garbled")), Subject::Other);
        assert_eq!(subject(&entry("login", "x", "y")), Subject::Other);
    }
}

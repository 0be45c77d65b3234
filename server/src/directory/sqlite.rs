//! The [`Directory`] on the embedded SQLite database (schema in
//! `migrations/sqlite/0001_directory.sql`). Every multi-row change runs in
//! one transaction.

use deadpool_sqlite::Pool;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{
    CommunityInfo, Department, Device, Directory, DirectoryError, DirectoryResult, EndReason,
    GridInfo, ImportSummary, NewRefreshToken, NewUser, RefreshTokenRecord, Session, StreetInfo,
    TerritoryRows, UpsertCounts, User, UserUpdate,
};
use crate::db;
use crate::principal::Role;

/// The directory in the server's SQLite file.
#[derive(Clone)]
pub struct SqliteDirectory {
    pool: Pool,
}

impl SqliteDirectory {
    /// A directory on this pool (already migrated by [`crate::db::open`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Run `f` on a pooled connection; `f` may answer a directory error
    /// (a refused value) inside a successful query.
    async fn run<T, F>(&self, f: F) -> DirectoryResult<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<DirectoryResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        db::run(&self.pool, f).await?
    }

    /// Run `f` returning a plain query result.
    async fn query<T, F>(&self, f: F) -> DirectoryResult<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        Ok(db::run(&self.pool, f).await?)
    }
}

/// A write transaction that takes the write lock at once, so that a
/// read-then-write cannot fail half-way on a concurrent writer (WAL).
fn immediate(c: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// `s` followed by `%`, with LIKE's wildcards escaped (codes are digits,
/// but a prefix comes from a caller).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn role_from_sql(code: &str) -> rusqlite::Result<Role> {
    Role::from_code(code).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role code {code:?} in users.role").into(),
        )
    })
}

const USER_COLUMNS: &str = "id, username, display_name, role, active, subtree, password_hash IS NOT NULL, created_at, updated_at, department, post";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(3)?;
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        role: role_from_sql(&role)?,
        active: row.get(4)?,
        subtree: row.get(5)?,
        has_password: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        department: row.get(9)?,
        post: super::post_from_sql(row.get(10)?),
        grids: Vec::new(),
    })
}

fn user_grids(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT grid_code FROM user_grids WHERE user_id = ?1 ORDER BY grid_code")?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    rows.collect()
}

/// One user by `column = value` (`id` or `username`).
fn load_user(conn: &Connection, column: &str, value: &str) -> rusqlite::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1");
    let user = conn.query_row(&sql, [value], user_from_row).optional()?;
    match user {
        Some(mut u) => {
            u.grids = user_grids(conn, &u.id)?;
            Ok(Some(u))
        }
        None => Ok(None),
    }
}

/// The first unknown grid, subtree or department, as a directory error.
fn check_assignment(
    tx: &Transaction<'_>,
    grids: &[String],
    subtree: Option<&str>,
    department: Option<&str>,
) -> rusqlite::Result<DirectoryResult<()>> {
    if let Some(code) = department {
        let known = tx
            .query_row("SELECT 1 FROM departments WHERE code = ?1", [code], |_| {
                Ok(())
            })
            .optional()?;
        if known.is_none() {
            return Ok(Err(DirectoryError::UnknownDepartment(code.to_owned())));
        }
    }
    for g in grids {
        let known = tx
            .query_row("SELECT 1 FROM grids WHERE code = ?1", [g], |_| Ok(()))
            .optional()?;
        if known.is_none() {
            return Ok(Err(DirectoryError::UnknownGrid(g.clone())));
        }
    }
    if let Some(code) = subtree {
        let sql = if code.len() == gridsync_core::codes::CommunityCode::LEN {
            "SELECT 1 FROM communities WHERE code = ?1"
        } else {
            "SELECT 1 FROM streets WHERE code = ?1"
        };
        if tx.query_row(sql, [code], |_| Ok(())).optional()?.is_none() {
            return Ok(Err(DirectoryError::UnknownSubtree(code.to_owned())));
        }
    }
    Ok(Ok(()))
}

fn write_grids(tx: &Transaction<'_>, user_id: &str, grids: &[String]) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM user_grids WHERE user_id = ?1", [user_id])?;
    let mut stmt =
        tx.prepare_cached("INSERT INTO user_grids (user_id, grid_code) VALUES (?1, ?2)")?;
    for g in grids {
        stmt.execute(params![user_id, g])?;
    }
    Ok(())
}

/// Insert or rename one territory row; which of the three it was.
fn upsert(
    tx: &Transaction<'_>,
    table: &str,
    parent_column: Option<(&str, &str)>,
    code: &str,
    name: &str,
    now: i64,
    counts: &mut UpsertCounts,
) -> rusqlite::Result<()> {
    let existing: Option<String> = tx
        .query_row(
            &format!("SELECT name FROM {table} WHERE code = ?1"),
            [code],
            |r| r.get(0),
        )
        .optional()?;
    match existing {
        Some(old) if old == name => counts.unchanged += 1,
        Some(_) => {
            tx.execute(
                &format!("UPDATE {table} SET name = ?2, updated_at = ?3 WHERE code = ?1"),
                params![code, name, now],
            )?;
            counts.updated += 1;
        }
        None => {
            match parent_column {
                Some((column, parent)) => tx.execute(
                    &format!("INSERT INTO {table} (code, {column}, name, updated_at) VALUES (?1, ?2, ?3, ?4)"),
                    params![code, parent, name, now],
                )?,
                None => tx.execute(
                    &format!("INSERT INTO {table} (code, name, updated_at) VALUES (?1, ?2, ?3)"),
                    params![code, name, now],
                )?,
            };
            counts.created += 1;
        }
    }
    Ok(())
}

const DEVICE_SELECT: &str = "SELECT d.id, d.user_id, u.username, d.name, d.registered_at, d.last_seen_at, d.revoked_at \
     FROM devices d JOIN users u ON u.id = d.user_id";

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        user_id: row.get(1)?,
        username: row.get(2)?,
        name: row.get(3)?,
        registered_at: row.get(4)?,
        last_seen_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

fn load_device(conn: &Connection, id: &str) -> rusqlite::Result<Option<Device>> {
    conn.query_row(
        &format!("{DEVICE_SELECT} WHERE d.id = ?1"),
        [id],
        device_from_row,
    )
    .optional()
}

fn grid_from_row(row: &Row<'_>) -> rusqlite::Result<GridInfo> {
    let code: String = row.get(0)?;
    let community_code: String = row.get(2)?;
    let street_code = community_code.get(..9).unwrap_or_default().to_owned();
    Ok(GridInfo {
        code,
        name: row.get(1)?,
        community_code,
        street_code,
    })
}

#[async_trait::async_trait]
impl Directory for SqliteDirectory {
    async fn grid_codes_under(&self, prefix: &str) -> DirectoryResult<Vec<String>> {
        let pattern = like_prefix(prefix);
        self.query(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT code FROM grids WHERE code LIKE ?1 ESCAPE '\\' ORDER BY code",
            )?;
            let rows = stmt.query_map([pattern], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn grid(&self, code: &str) -> DirectoryResult<Option<GridInfo>> {
        let code = code.to_owned();
        self.query(move |c| {
            c.query_row(
                "SELECT code, name, community_code FROM grids WHERE code = ?1",
                [code],
                grid_from_row,
            )
            .optional()
        })
        .await
    }

    async fn street(&self, code: &str) -> DirectoryResult<Option<StreetInfo>> {
        let code = code.to_owned();
        self.query(move |c| {
            c.query_row(
                "SELECT code, name FROM streets WHERE code = ?1",
                [code],
                |r| {
                    Ok(StreetInfo {
                        code: r.get(0)?,
                        name: r.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn community(&self, code: &str) -> DirectoryResult<Option<CommunityInfo>> {
        let code = code.to_owned();
        self.query(move |c| {
            c.query_row(
                "SELECT code, name, street_code FROM communities WHERE code = ?1",
                [code],
                |r| {
                    Ok(CommunityInfo {
                        code: r.get(0)?,
                        name: r.get(1)?,
                        street_code: r.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn streets(&self) -> DirectoryResult<Vec<StreetInfo>> {
        self.query(|c| {
            let mut stmt = c.prepare_cached("SELECT code, name FROM streets ORDER BY code")?;
            let rows = stmt.query_map([], |r| {
                Ok(StreetInfo {
                    code: r.get(0)?,
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn communities(&self, prefix: &str) -> DirectoryResult<Vec<CommunityInfo>> {
        let pattern = like_prefix(prefix);
        self.query(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT code, name, street_code FROM communities WHERE code LIKE ?1 ESCAPE '\\' ORDER BY code",
            )?;
            let rows = stmt.query_map([pattern], |r| {
                Ok(CommunityInfo {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    street_code: r.get(2)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn grids(&self, prefix: &str) -> DirectoryResult<Vec<GridInfo>> {
        let pattern = like_prefix(prefix);
        self.query(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT code, name, community_code FROM grids WHERE code LIKE ?1 ESCAPE '\\' ORDER BY code",
            )?;
            let rows = stmt.query_map([pattern], grid_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn import_territory(&self, rows: &TerritoryRows) -> DirectoryResult<ImportSummary> {
        let rows = rows.clone();
        let now = super::now();
        self.query(move |c| {
            let tx = immediate(c)?;
            let mut summary = ImportSummary::default();
            for s in &rows.streets {
                upsert(
                    &tx,
                    "streets",
                    None,
                    &s.code,
                    &s.name,
                    now,
                    &mut summary.streets,
                )?;
            }
            for m in &rows.communities {
                upsert(
                    &tx,
                    "communities",
                    Some(("street_code", &m.street_code)),
                    &m.code,
                    &m.name,
                    now,
                    &mut summary.communities,
                )?;
            }
            for g in &rows.grids {
                upsert(
                    &tx,
                    "grids",
                    Some(("community_code", &g.community_code)),
                    &g.code,
                    &g.name,
                    now,
                    &mut summary.grids,
                )?;
            }
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    async fn upsert_department(&self, mut department: Department) -> DirectoryResult<Department> {
        department.validate()?;
        let now = super::now();
        self.query(move |c| {
            c.execute(
                "INSERT INTO departments (code, name, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                params![department.code, department.name, now],
            )?;
            Ok(department)
        })
        .await
    }

    async fn departments(&self) -> DirectoryResult<Vec<Department>> {
        self.query(|c| {
            let mut stmt = c.prepare_cached("SELECT code, name FROM departments ORDER BY code")?;
            let rows = stmt.query_map([], |r| {
                Ok(Department {
                    code: r.get(0)?,
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn create_user(&self, mut user: NewUser) -> DirectoryResult<User> {
        user.validate()?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = super::now();
        self.run(move |c| {
            let tx = immediate(c)?;
            let taken = tx
                .query_row("SELECT 1 FROM users WHERE username = ?1", [&user.username], |_| Ok(()))
                .optional()?;
            if taken.is_some() {
                return Ok(Err(DirectoryError::UsernameTaken));
            }
            if let Err(e) = check_assignment(
                &tx,
                &user.grids,
                user.subtree.as_deref(),
                user.department.as_deref(),
            )? {
                return Ok(Err(e));
            }
            tx.execute(
                "INSERT INTO users (id, username, display_name, role, password_hash, active, subtree, created_at, updated_at, department, post) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10)",
                params![
                    id,
                    user.username,
                    user.display_name,
                    user.role.code(),
                    user.password_hash,
                    user.active,
                    user.subtree,
                    now,
                    user.department,
                    super::post_to_sql(user.post.as_ref())
                ],
            )?;
            write_grids(&tx, &id, &user.grids)?;
            let created = load_user(&tx, "id", &id)?;
            tx.commit()?;
            Ok(created.ok_or(DirectoryError::UserNotFound))
        })
        .await
    }

    async fn user(&self, id: &str) -> DirectoryResult<Option<User>> {
        let id = id.to_owned();
        self.query(move |c| load_user(c, "id", &id)).await
    }

    async fn user_by_username(&self, username: &str) -> DirectoryResult<Option<User>> {
        let username = username.trim().to_owned();
        self.query(move |c| load_user(c, "username", &username))
            .await
    }

    async fn users(&self) -> DirectoryResult<Vec<User>> {
        self.query(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY username"
            ))?;
            let mut users = stmt
                .query_map([], user_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for u in &mut users {
                u.grids = user_grids(c, &u.id)?;
            }
            Ok(users)
        })
        .await
    }

    async fn update_user(&self, id: &str, update: UserUpdate) -> DirectoryResult<User> {
        let id = id.to_owned();
        let now = super::now();
        self.run(move |c| {
            let tx = immediate(c)?;
            let Some(mut user) = load_user(&tx, "id", &id)? else {
                return Ok(Err(DirectoryError::UserNotFound));
            };
            if let Err(e) = update.apply(&mut user) {
                return Ok(Err(e));
            }
            if let Err(e) = check_assignment(
                &tx,
                &user.grids,
                user.subtree.as_deref(),
                user.department.as_deref(),
            )? {
                return Ok(Err(e));
            }
            tx.execute(
                "UPDATE users SET display_name = ?2, role = ?3, active = ?4, subtree = ?5, updated_at = ?6, department = ?7, post = ?8 WHERE id = ?1",
                params![id, user.display_name, user.role.code(), user.active, user.subtree, now, user.department, super::post_to_sql(user.post.as_ref())],
            )?;
            if let Some(hash) = &update.password_hash {
                tx.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![id, hash])?;
            }
            write_grids(&tx, &id, &user.grids)?;
            let updated = load_user(&tx, "id", &id)?;
            tx.commit()?;
            Ok(updated.ok_or(DirectoryError::UserNotFound))
        })
        .await
    }

    async fn password_hash(&self, user_id: &str) -> DirectoryResult<Option<String>> {
        let id = user_id.to_owned();
        self.query(move |c| {
            let hash: Option<Option<String>> = c
                .query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(hash.flatten())
        })
        .await
    }

    async fn register_device(
        &self,
        device_id: &str,
        user_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> DirectoryResult<Device> {
        let device_id = device_id.to_owned();
        let user_id = user_id.to_owned();
        let name = name.map(str::to_owned);
        self.run(move |c| {
            let tx = immediate(c)?;
            let existing: Option<(String, Option<i64>)> = tx
                .query_row("SELECT user_id, revoked_at FROM devices WHERE id = ?1", [&device_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            match existing {
                Some((owner, _)) if owner != user_id => return Ok(Err(DirectoryError::DeviceOfAnotherUser)),
                Some((_, Some(_))) => return Ok(Err(DirectoryError::DeviceRevoked)),
                Some(_) => {
                    tx.execute(
                        "UPDATE devices SET last_seen_at = ?2, name = coalesce(?3, name) WHERE id = ?1",
                        params![device_id, now, name],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO devices (id, user_id, name, registered_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![device_id, user_id, name, now],
                    )?;
                }
            }
            let device = load_device(&tx, &device_id)?;
            tx.commit()?;
            Ok(device.ok_or(DirectoryError::DeviceNotFound))
        })
        .await
    }

    async fn device(&self, id: &str) -> DirectoryResult<Option<Device>> {
        let id = id.to_owned();
        self.query(move |c| load_device(c, &id)).await
    }

    async fn devices(&self, user_id: Option<&str>) -> DirectoryResult<Vec<Device>> {
        let user_id = user_id.map(str::to_owned);
        self.query(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{DEVICE_SELECT} WHERE ?1 IS NULL OR d.user_id = ?1 ORDER BY u.username, d.registered_at"
            ))?;
            let rows = stmt.query_map([user_id], device_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn revoke_device(&self, id: &str, now: i64) -> DirectoryResult<Device> {
        let id = id.to_owned();
        self.run(move |c| {
            let tx = immediate(c)?;
            let n = tx.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                params![id, now],
            )?;
            if n == 0 {
                return Ok(Err(DirectoryError::DeviceNotFound));
            }
            tx.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE device_id = ?1 AND ended_at IS NULL",
                params![id, now, EndReason::DeviceRevoked.code()],
            )?;
            let device = load_device(&tx, &id)?;
            tx.commit()?;
            Ok(device.ok_or(DirectoryError::DeviceNotFound))
        })
        .await
    }

    async fn touch_device(&self, id: &str, now: i64) -> DirectoryResult<()> {
        let id = id.to_owned();
        self.query(move |c| {
            c.execute(
                "UPDATE devices SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1",
                params![id, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_session(
        &self,
        session: &Session,
        refresh: &NewRefreshToken,
    ) -> DirectoryResult<()> {
        let session = session.clone();
        let refresh = refresh.clone();
        self.query(move |c| {
            let tx = immediate(c)?;
            tx.execute(
                "INSERT INTO sessions (id, user_id, device_id, created_at, ended_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![session.id, session.user_id, session.device_id, session.created_at, session.ended_at],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![refresh.token_hash, session.id, session.created_at, refresh.expires_at],
            )?;
            tx.commit()
        })
        .await
    }

    async fn session(&self, id: &str) -> DirectoryResult<Option<Session>> {
        let id = id.to_owned();
        self.query(move |c| {
            c.query_row(
                "SELECT s.id, s.user_id, s.device_id, s.created_at, s.ended_at, d.revoked_at IS NOT NULL \
                 FROM sessions s LEFT JOIN devices d ON d.id = s.device_id WHERE s.id = ?1",
                [id],
                |r| {
                    Ok(Session {
                        id: r.get(0)?,
                        user_id: r.get(1)?,
                        device_id: r.get(2)?,
                        created_at: r.get(3)?,
                        ended_at: r.get(4)?,
                        device_revoked: r.get(5)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn end_session(&self, id: &str, reason: EndReason, now: i64) -> DirectoryResult<()> {
        let id = id.to_owned();
        self.query(move |c| {
            c.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
                params![id, now, reason.code()],
            )?;
            Ok(())
        })
        .await
    }

    async fn end_device_sessions(
        &self,
        device_id: &str,
        reason: EndReason,
        now: i64,
    ) -> DirectoryResult<u64> {
        let id = device_id.to_owned();
        self.query(move |c| {
            let n = c.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE device_id = ?1 AND ended_at IS NULL",
                params![id, now, reason.code()],
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn end_user_sessions(
        &self,
        user_id: &str,
        reason: EndReason,
        now: i64,
    ) -> DirectoryResult<u64> {
        let id = user_id.to_owned();
        self.query(move |c| {
            let n = c.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE user_id = ?1 AND ended_at IS NULL",
                params![id, now, reason.code()],
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn refresh_token(&self, token_hash: &str) -> DirectoryResult<Option<RefreshTokenRecord>> {
        let hash = token_hash.to_owned();
        self.query(move |c| {
            c.query_row(
                "SELECT token_hash, session_id, issued_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = ?1",
                [hash],
                |r| {
                    Ok(RefreshTokenRecord {
                        token_hash: r.get(0)?,
                        session_id: r.get(1)?,
                        issued_at: r.get(2)?,
                        expires_at: r.get(3)?,
                        used_at: r.get(4)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: &NewRefreshToken,
        now: i64,
    ) -> DirectoryResult<bool> {
        let old = old_hash.to_owned();
        let new = new.clone();
        self.query(move |c| {
            let tx = immediate(c)?;
            let session: Option<String> = tx
                .query_row(
                    "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL RETURNING session_id",
                    params![old, now],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(session) = session else {
                return Ok(false);
            };
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![new.token_hash, session, now, new.expires_at],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

//! The [`Directory`] on PostgreSQL (schema in
//! `migrations/postgres/0001_directory.sql`), for several server processes
//! sharing one database. It behaves as [`super::sqlite`] does.
//!
//! SQLite serializes writers; here each multi-row change runs in one READ
//! COMMITTED transaction that locks what it reads before writing it
//! (`FOR UPDATE`), or lets a constraint decide a race (a username taken
//! meanwhile is `UsernameTaken`, a refresh token spent meanwhile loses).
//! Usernames compare through `gs_nocase` (SQLite's NOCASE: ASCII letters
//! folded) and text sorts in byte order (`COLLATE "C"`), as in SQLite.
//!
//! Column types are fixed by the migration, so reading a column with
//! `Row::get` cannot meet a type it does not expect.

use deadpool_postgres::{GenericClient, Pool, Transaction};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::{
    CommunityInfo, Department, Device, Directory, DirectoryError, DirectoryResult, EndReason,
    GridInfo, ImportSummary, NewRefreshToken, NewUser, RefreshTokenRecord, Session, StreetInfo,
    TerritoryRows, UpsertCounts, User, UserUpdate,
};
use crate::pg::{execute, query, query_opt};
use crate::principal::Role;

/// The directory in a PostgreSQL database.
#[derive(Clone)]
pub struct PgDirectory {
    pool: Pool,
}

impl PgDirectory {
    /// A directory on this pool (already migrated by [`crate::pg::open`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn client(&self) -> DirectoryResult<deadpool_postgres::Client> {
        self.pool
            .get()
            .await
            .map_err(|e| storage(crate::pg::pool_err(e)))
    }
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> DirectoryError {
    DirectoryError::Storage(Box::new(e))
}

fn pg(e: tokio_postgres::Error) -> DirectoryError {
    storage(crate::pg::err(e))
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

fn role_from_sql(code: &str) -> DirectoryResult<Role> {
    Role::from_code(code).ok_or_else(|| {
        storage(crate::db::DbError::Task(format!(
            "unknown role code {code:?} in users.role"
        )))
    })
}

const USER_COLUMNS: &str = "id, username, display_name, role, active, subtree, password_hash IS NOT NULL, created_at, updated_at, department, post";

fn user_from_row(row: &Row) -> DirectoryResult<User> {
    let role: String = row.get(3);
    Ok(User {
        id: row.get(0),
        username: row.get(1),
        display_name: row.get(2),
        role: role_from_sql(&role)?,
        active: row.get(4),
        subtree: row.get(5),
        has_password: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
        department: row.get(9),
        post: super::post_from_sql(row.get(10)),
        grids: Vec::new(),
    })
}

async fn user_grids<C: GenericClient>(c: &C, user_id: &str) -> DirectoryResult<Vec<String>> {
    let rows = query(
        c,
        "SELECT grid_code FROM user_grids WHERE user_id = $1 ORDER BY grid_code",
        &[&user_id],
    )
    .await
    .map_err(pg)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// How [`load_user`] finds its user.
#[derive(Clone, Copy)]
enum UserKey {
    Id,
    Username,
    /// By id, locking the row for the rest of the transaction.
    IdForUpdate,
}

async fn load_user<C: GenericClient>(
    c: &C,
    key: UserKey,
    value: &str,
) -> DirectoryResult<Option<User>> {
    let sql = match key {
        UserKey::Id => format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
        UserKey::Username => {
            format!("SELECT {USER_COLUMNS} FROM users WHERE gs_nocase(username) = gs_nocase($1)")
        }
        UserKey::IdForUpdate => {
            format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE")
        }
    };
    let Some(row) = query_opt(c, &sql, &[&value]).await.map_err(pg)? else {
        return Ok(None);
    };
    let mut user = user_from_row(&row)?;
    user.grids = user_grids(c, &user.id).await?;
    Ok(Some(user))
}

/// The first unknown grid, subtree or department, as a directory error.
async fn check_assignment(
    tx: &Transaction<'_>,
    grids: &[String],
    subtree: Option<&str>,
    department: Option<&str>,
) -> DirectoryResult<()> {
    if let Some(code) = department {
        let known = query_opt(tx, "SELECT 1 FROM departments WHERE code = $1", &[&code])
            .await
            .map_err(pg)?;
        if known.is_none() {
            return Err(DirectoryError::UnknownDepartment(code.to_owned()));
        }
    }
    for g in grids {
        let known = query_opt(tx, "SELECT 1 FROM grids WHERE code = $1", &[g])
            .await
            .map_err(pg)?;
        if known.is_none() {
            return Err(DirectoryError::UnknownGrid(g.clone()));
        }
    }
    if let Some(code) = subtree {
        let sql = if code.len() == gridsync_core::codes::CommunityCode::LEN {
            "SELECT 1 FROM communities WHERE code = $1"
        } else {
            "SELECT 1 FROM streets WHERE code = $1"
        };
        if query_opt(tx, sql, &[&code]).await.map_err(pg)?.is_none() {
            return Err(DirectoryError::UnknownSubtree(code.to_owned()));
        }
    }
    Ok(())
}

async fn write_grids(tx: &Transaction<'_>, user_id: &str, grids: &[String]) -> DirectoryResult<()> {
    execute(tx, "DELETE FROM user_grids WHERE user_id = $1", &[&user_id])
        .await
        .map_err(pg)?;
    for g in grids {
        execute(
            tx,
            "INSERT INTO user_grids (user_id, grid_code) VALUES ($1, $2)",
            &[&user_id, g],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Insert or rename one territory row; which of the three it was. One
/// statement, so concurrent imports of the same code cannot collide.
async fn upsert(
    tx: &Transaction<'_>,
    table: &str,
    parent_column: Option<(&str, &str)>,
    code: &str,
    name: &str,
    now: i64,
    counts: &mut UpsertCounts,
) -> DirectoryResult<()> {
    // `xmax = 0` on the returned row: it was inserted, not updated. No row:
    // the name was the same.
    let tail = format!(
        "ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at \
         WHERE {table}.name IS DISTINCT FROM excluded.name RETURNING (xmax = 0)"
    );
    let row = match parent_column {
        Some((column, parent)) => {
            let sql = format!(
                "INSERT INTO {table} (code, {column}, name, updated_at) VALUES ($1, $2, $3, $4) {tail}"
            );
            query_opt(tx, &sql, &[&code, &parent, &name, &now]).await
        }
        None => {
            let sql =
                format!("INSERT INTO {table} (code, name, updated_at) VALUES ($1, $2, $3) {tail}");
            query_opt(tx, &sql, &[&code, &name, &now]).await
        }
    }
    .map_err(pg)?;
    match row.map(|r| r.get::<_, bool>(0)) {
        Some(true) => counts.created += 1,
        Some(false) => counts.updated += 1,
        None => counts.unchanged += 1,
    }
    Ok(())
}

const DEVICE_SELECT: &str = "SELECT d.id, d.user_id, u.username, d.name, d.registered_at, d.last_seen_at, d.revoked_at \
     FROM devices d JOIN users u ON u.id = d.user_id";

fn device_from_row(row: &Row) -> Device {
    Device {
        id: row.get(0),
        user_id: row.get(1),
        username: row.get(2),
        name: row.get(3),
        registered_at: row.get(4),
        last_seen_at: row.get(5),
        revoked_at: row.get(6),
    }
}

async fn load_device<C: GenericClient>(c: &C, id: &str) -> DirectoryResult<Option<Device>> {
    let sql = format!("{DEVICE_SELECT} WHERE d.id = $1");
    Ok(query_opt(c, &sql, &[&id])
        .await
        .map_err(pg)?
        .map(|r| device_from_row(&r)))
}

fn grid_from_row(row: &Row) -> GridInfo {
    let code: String = row.get(0);
    let community_code: String = row.get(2);
    let street_code = community_code.get(..9).unwrap_or_default().to_owned();
    GridInfo {
        code,
        name: row.get(1),
        community_code,
        street_code,
    }
}

fn street_from_row(r: &Row) -> StreetInfo {
    StreetInfo {
        code: r.get(0),
        name: r.get(1),
    }
}

fn community_from_row(r: &Row) -> CommunityInfo {
    CommunityInfo {
        code: r.get(0),
        name: r.get(1),
        street_code: r.get(2),
    }
}

fn session_end_sql(column: &str) -> String {
    format!(
        "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE {column} = $1 AND ended_at IS NULL"
    )
}

#[async_trait::async_trait]
impl Directory for PgDirectory {
    async fn grid_codes_under(&self, prefix: &str) -> DirectoryResult<Vec<String>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT code FROM grids WHERE code LIKE $1 ESCAPE '\\' ORDER BY code",
            &[&like_prefix(prefix)],
        )
        .await
        .map_err(pg)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn grid(&self, code: &str) -> DirectoryResult<Option<GridInfo>> {
        let c = self.client().await?;
        Ok(query_opt(
            &c,
            "SELECT code, name, community_code FROM grids WHERE code = $1",
            &[&code],
        )
        .await
        .map_err(pg)?
        .map(|r| grid_from_row(&r)))
    }

    async fn street(&self, code: &str) -> DirectoryResult<Option<StreetInfo>> {
        let c = self.client().await?;
        Ok(query_opt(
            &c,
            "SELECT code, name FROM streets WHERE code = $1",
            &[&code],
        )
        .await
        .map_err(pg)?
        .map(|r| street_from_row(&r)))
    }

    async fn community(&self, code: &str) -> DirectoryResult<Option<CommunityInfo>> {
        let c = self.client().await?;
        Ok(query_opt(
            &c,
            "SELECT code, name, street_code FROM communities WHERE code = $1",
            &[&code],
        )
        .await
        .map_err(pg)?
        .map(|r| community_from_row(&r)))
    }

    async fn streets(&self) -> DirectoryResult<Vec<StreetInfo>> {
        let c = self.client().await?;
        let rows = query(&c, "SELECT code, name FROM streets ORDER BY code", &[])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(street_from_row).collect())
    }

    async fn communities(&self, prefix: &str) -> DirectoryResult<Vec<CommunityInfo>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT code, name, street_code FROM communities WHERE code LIKE $1 ESCAPE '\\' ORDER BY code",
            &[&like_prefix(prefix)],
        )
        .await
        .map_err(pg)?;
        Ok(rows.iter().map(community_from_row).collect())
    }

    async fn grids(&self, prefix: &str) -> DirectoryResult<Vec<GridInfo>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT code, name, community_code FROM grids WHERE code LIKE $1 ESCAPE '\\' ORDER BY code",
            &[&like_prefix(prefix)],
        )
        .await
        .map_err(pg)?;
        Ok(rows.iter().map(grid_from_row).collect())
    }

    async fn import_territory(&self, rows: &TerritoryRows) -> DirectoryResult<ImportSummary> {
        let now = super::now();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
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
            )
            .await?;
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
            )
            .await?;
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
            )
            .await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(summary)
    }

    async fn upsert_department(&self, mut department: Department) -> DirectoryResult<Department> {
        department.validate()?;
        let now = super::now();
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO departments (code, name, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
            &[&department.code, &department.name, &now],
        )
        .await
        .map_err(pg)?;
        Ok(department)
    }

    async fn departments(&self) -> DirectoryResult<Vec<Department>> {
        let c = self.client().await?;
        let rows = query(&c, "SELECT code, name FROM departments ORDER BY code", &[])
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| Department {
                code: r.get(0),
                name: r.get(1),
            })
            .collect())
    }

    async fn create_user(&self, mut user: NewUser) -> DirectoryResult<User> {
        user.validate()?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = super::now();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        if load_user(&tx, UserKey::Username, &user.username)
            .await?
            .is_some()
        {
            return Err(DirectoryError::UsernameTaken);
        }
        check_assignment(
            &tx,
            &user.grids,
            user.subtree.as_deref(),
            user.department.as_deref(),
        )
        .await?;
        let inserted = execute(
            &tx,
            "INSERT INTO users (id, username, display_name, role, password_hash, active, subtree, created_at, updated_at, department, post) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)",
            &[
                &id,
                &user.username,
                &user.display_name,
                &user.role.code(),
                &user.password_hash,
                &user.active,
                &user.subtree,
                &now,
                &user.department,
                &super::post_to_sql(user.post.as_ref()),
            ],
        )
        .await;
        match inserted {
            // Created by a concurrent transaction after our check.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(DirectoryError::UsernameTaken);
            }
            other => other.map_err(pg)?,
        };
        write_grids(&tx, &id, &user.grids).await?;
        let created = load_user(&tx, UserKey::Id, &id).await?;
        tx.commit().await.map_err(pg)?;
        created.ok_or(DirectoryError::UserNotFound)
    }

    async fn user(&self, id: &str) -> DirectoryResult<Option<User>> {
        let c = self.client().await?;
        load_user(&c, UserKey::Id, id).await
    }

    async fn user_by_username(&self, username: &str) -> DirectoryResult<Option<User>> {
        let c = self.client().await?;
        load_user(&c, UserKey::Username, username.trim()).await
    }

    async fn users(&self) -> DirectoryResult<Vec<User>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY gs_nocase(username), username"),
            &[],
        )
        .await
        .map_err(pg)?;
        let mut users = rows
            .iter()
            .map(user_from_row)
            .collect::<DirectoryResult<Vec<_>>>()?;
        // Every user's grids in one query: one per user was a round trip
        // each, 100 ms of a district overview's 200 at 2,000 users.
        let mut grids: std::collections::HashMap<String, Vec<String>> = Default::default();
        for r in query(
            &c,
            "SELECT user_id, grid_code FROM user_grids ORDER BY user_id, grid_code",
            &[],
        )
        .await
        .map_err(pg)?
        {
            grids.entry(r.get(0)).or_default().push(r.get(1));
        }
        for u in &mut users {
            u.grids = grids.remove(&u.id).unwrap_or_default();
        }
        Ok(users)
    }

    async fn update_user(&self, id: &str, update: UserUpdate) -> DirectoryResult<User> {
        let now = super::now();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let Some(mut user) = load_user(&tx, UserKey::IdForUpdate, id).await? else {
            return Err(DirectoryError::UserNotFound);
        };
        update.apply(&mut user)?;
        check_assignment(
            &tx,
            &user.grids,
            user.subtree.as_deref(),
            user.department.as_deref(),
        )
        .await?;
        execute(
            &tx,
            "UPDATE users SET display_name = $2, role = $3, active = $4, subtree = $5, updated_at = $6, department = $7, post = $8 WHERE id = $1",
            &[
                &id,
                &user.display_name,
                &user.role.code(),
                &user.active,
                &user.subtree,
                &now,
                &user.department,
                &super::post_to_sql(user.post.as_ref()),
            ],
        )
        .await
        .map_err(pg)?;
        if let Some(hash) = &update.password_hash {
            execute(
                &tx,
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&id, hash],
            )
            .await
            .map_err(pg)?;
        }
        write_grids(&tx, id, &user.grids).await?;
        let updated = load_user(&tx, UserKey::Id, id).await?;
        tx.commit().await.map_err(pg)?;
        updated.ok_or(DirectoryError::UserNotFound)
    }

    async fn password_hash(&self, user_id: &str) -> DirectoryResult<Option<String>> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT password_hash FROM users WHERE id = $1",
            &[&user_id],
        )
        .await
        .map_err(pg)?;
        Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
    }

    async fn register_device(
        &self,
        device_id: &str,
        user_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> DirectoryResult<Device> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // Insert, or find the existing row and lock it: a concurrent first
        // login of the same device waits here instead of failing.
        let inserted = execute(
            &tx,
            "INSERT INTO devices (id, user_id, name, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (id) DO NOTHING",
            &[&device_id, &user_id, &name, &now],
        )
        .await
        .map_err(pg)?;
        if inserted == 0 {
            let existing = query_opt(
                &tx,
                "SELECT user_id, revoked_at FROM devices WHERE id = $1 FOR UPDATE",
                &[&device_id],
            )
            .await
            .map_err(pg)?;
            let Some(row) = existing else {
                return Err(DirectoryError::DeviceNotFound);
            };
            let owner: String = row.get(0);
            let revoked: Option<i64> = row.get(1);
            if owner != user_id {
                return Err(DirectoryError::DeviceOfAnotherUser);
            }
            if revoked.is_some() {
                return Err(DirectoryError::DeviceRevoked);
            }
            execute(
                &tx,
                "UPDATE devices SET last_seen_at = $2, name = coalesce($3, name) WHERE id = $1",
                &[&device_id, &now, &name],
            )
            .await
            .map_err(pg)?;
        }
        let device = load_device(&tx, device_id).await?;
        tx.commit().await.map_err(pg)?;
        device.ok_or(DirectoryError::DeviceNotFound)
    }

    async fn device(&self, id: &str) -> DirectoryResult<Option<Device>> {
        let c = self.client().await?;
        load_device(&c, id).await
    }

    async fn devices(&self, user_id: Option<&str>) -> DirectoryResult<Vec<Device>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            &format!(
                "{DEVICE_SELECT} WHERE $1::TEXT IS NULL OR d.user_id = $1 \
                 ORDER BY gs_nocase(u.username), d.registered_at"
            ),
            &[&user_id],
        )
        .await
        .map_err(pg)?;
        Ok(rows.iter().map(device_from_row).collect())
    }

    async fn revoke_device(&self, id: &str, now: i64) -> DirectoryResult<Device> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let n = execute(
            &tx,
            "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
            &[&id, &now],
        )
        .await
        .map_err(pg)?;
        if n == 0 {
            return Err(DirectoryError::DeviceNotFound);
        }
        execute(
            &tx,
            &session_end_sql("device_id"),
            &[&id, &now, &EndReason::DeviceRevoked.code()],
        )
        .await
        .map_err(pg)?;
        let device = load_device(&tx, id).await?;
        tx.commit().await.map_err(pg)?;
        device.ok_or(DirectoryError::DeviceNotFound)
    }

    async fn touch_device(&self, id: &str, now: i64) -> DirectoryResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE devices SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
            &[&id, &now],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }

    async fn create_session(
        &self,
        session: &Session,
        refresh: &NewRefreshToken,
    ) -> DirectoryResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        execute(
            &tx,
            "INSERT INTO sessions (id, user_id, device_id, created_at, ended_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &session.id,
                &session.user_id,
                &session.device_id,
                &session.created_at,
                &session.ended_at,
            ],
        )
        .await
        .map_err(pg)?;
        execute(
            &tx,
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[
                &refresh.token_hash,
                &session.id,
                &session.created_at,
                &refresh.expires_at,
            ],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn session(&self, id: &str) -> DirectoryResult<Option<Session>> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT s.id, s.user_id, s.device_id, s.created_at, s.ended_at, d.revoked_at IS NOT NULL \
             FROM sessions s LEFT JOIN devices d ON d.id = s.device_id WHERE s.id = $1",
            &[&id],
        )
        .await
        .map_err(pg)?;
        Ok(row.map(|r| Session {
            id: r.get(0),
            user_id: r.get(1),
            device_id: r.get(2),
            created_at: r.get(3),
            ended_at: r.get(4),
            device_revoked: r.get(5),
        }))
    }

    async fn end_session(&self, id: &str, reason: EndReason, now: i64) -> DirectoryResult<()> {
        let c = self.client().await?;
        execute(&c, &session_end_sql("id"), &[&id, &now, &reason.code()])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn end_device_sessions(
        &self,
        device_id: &str,
        reason: EndReason,
        now: i64,
    ) -> DirectoryResult<u64> {
        let c = self.client().await?;
        execute(
            &c,
            &session_end_sql("device_id"),
            &[&device_id, &now, &reason.code()],
        )
        .await
        .map_err(pg)
    }

    async fn end_user_sessions(
        &self,
        user_id: &str,
        reason: EndReason,
        now: i64,
    ) -> DirectoryResult<u64> {
        let c = self.client().await?;
        execute(
            &c,
            &session_end_sql("user_id"),
            &[&user_id, &now, &reason.code()],
        )
        .await
        .map_err(pg)
    }

    async fn refresh_token(&self, token_hash: &str) -> DirectoryResult<Option<RefreshTokenRecord>> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT token_hash, session_id, issued_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1",
            &[&token_hash],
        )
        .await
        .map_err(pg)?;
        Ok(row.map(|r| RefreshTokenRecord {
            token_hash: r.get(0),
            session_id: r.get(1),
            issued_at: r.get(2),
            expires_at: r.get(3),
            used_at: r.get(4),
        }))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: &NewRefreshToken,
        now: i64,
    ) -> DirectoryResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // A concurrent rotation of the same token waits on its row lock, then
        // finds `used_at` set and updates nothing: one winner.
        let session = query_opt(
            &tx,
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id",
            &[&old_hash, &now],
        )
        .await
        .map_err(pg)?;
        let Some(session) = session else {
            return Ok(false);
        };
        let session: String = session.get(0);
        execute(
            &tx,
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&new.token_hash, &session, &now, &new.expires_at],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }
}

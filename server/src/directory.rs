//! Users, devices, sessions with their refresh tokens, and the territory
//! (streets, communities, grids), behind the [`Directory`] trait so SQLite
//! and PostgreSQL can both serve it.
//!
//! The trait is storage-neutral: plain data in, plain data out, async. The
//! rules that do not depend on storage (what a username looks like, which
//! role needs grids or a subtree) live here, in [`NewUser::validate`] and
//! [`UserUpdate`], and every implementation applies them; whether a grid or
//! subtree exists is checked by the implementation inside the same
//! transaction that writes the user.
//!
//! Tokens themselves never reach the directory: it stores the SHA-256 of a
//! refresh token and the id of the session an access token names.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use gridsync_core::Reason;
use gridsync_core::contact::Post;
use serde::{Deserialize, Serialize};

use crate::principal::{Principal, Role};

/// Errors of a directory implementation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// A field was refused by validation; nothing was written.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field (`username`, `grids`, ...).
        field: &'static str,
        /// Why, in Chinese and English.
        reason: Reason,
    },
    /// Another user has this username (compared case-insensitively).
    #[error("用户名已被使用 / username already taken")]
    UsernameTaken,
    /// A grid code that is not in the territory.
    #[error("网格 {0} 不存在，请先导入辖区 / grid {0} does not exist; import the territory first")]
    UnknownGrid(String),
    /// A department code that is not in the directory.
    #[error("部门 {0} 不存在，请先创建部门 / department {0} does not exist; create it first")]
    UnknownDepartment(String),
    /// A supervisor's subtree that is neither a known community nor street.
    #[error("辖区编码 {0} 不存在 / community or street {0} does not exist")]
    UnknownSubtree(String),
    /// No user with that id or username.
    #[error("用户不存在 / no such user")]
    UserNotFound,
    /// No device with that id.
    #[error("设备不存在 / no such device")]
    DeviceNotFound,
    /// The device is registered to another user.
    #[error("该设备已登记给其他用户，请联系管理员 / this device is registered to another user")]
    DeviceOfAnotherUser,
    /// The device was revoked by an administrator.
    #[error("该设备已被停用，请联系管理员 / this device has been revoked")]
    DeviceRevoked,
    /// The storage failed.
    #[error("directory storage: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DirectoryError {
    fn invalid(field: &'static str, zh: &str, en: &str) -> Self {
        DirectoryError::Invalid {
            field,
            reason: Reason::new(zh, en),
        }
    }
}

impl From<crate::db::DbError> for DirectoryError {
    fn from(e: crate::db::DbError) -> Self {
        DirectoryError::Storage(Box::new(e))
    }
}

/// For callers written against the SQLite error type: directory refusals
/// become a task error carrying their message.
impl From<DirectoryError> for crate::db::DbError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Storage(inner) => match inner.downcast::<crate::db::DbError>() {
                Ok(db) => *db,
                Err(other) => crate::db::DbError::Task(other.to_string()),
            },
            other => crate::db::DbError::Task(other.to_string()),
        }
    }
}

/// Result of a directory call.
pub type DirectoryResult<T> = Result<T, DirectoryError>;

/// The current time, Unix seconds: the clock of every directory timestamp.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------- territory

/// A street (街道/乡镇).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreetInfo {
    /// 9-digit code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// A community (社区/村).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityInfo {
    /// 12-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// 9-digit street code (the first 9 digits of `code`).
    pub street_code: String,
}

/// A grid as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GridInfo {
    /// 15-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// 12-digit community code.
    pub community_code: String,
    /// 9-digit street code.
    pub street_code: String,
}

/// Validated territory rows to upsert, parents before children. Built by
/// [`crate::territory`], which checks codes, names and prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerritoryRows {
    /// Streets.
    pub streets: Vec<StreetInfo>,
    /// Communities; each street is in `streets` or already stored.
    pub communities: Vec<CommunityInfo>,
    /// Grids; each community is in `communities` or already stored.
    pub grids: Vec<GridInfo>,
}

/// How many rows of one kind an import created, renamed or left as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertCounts {
    /// New codes.
    pub created: u64,
    /// Known codes whose name changed.
    pub updated: u64,
    /// Known codes with the same name.
    pub unchanged: u64,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Streets.
    pub streets: UpsertCounts,
    /// Communities.
    pub communities: UpsertCounts,
    /// Grids.
    pub grids: UpsertCounts,
}

// -------------------------------------------------------------- departments

/// A functional department (职能部门: 城管, 住建, 消防, …) that receives
/// escalated issue reports. Its users have the department role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Code: 2–32 lowercase letters, digits or `_` (e.g. `chengguan`).
    pub code: String,
    /// Name shown to people (e.g. 区城管执法局).
    pub name: String,
}

impl Department {
    /// Normalize (trim, lowercase the code) and check the fields.
    pub fn validate(&mut self) -> DirectoryResult<()> {
        self.code = self.code.trim().to_ascii_lowercase();
        self.name = self.name.trim().to_owned();
        check_department_code(&self.code)?;
        let len = self.name.chars().count();
        if len == 0 || len > 64 || self.name.chars().any(char::is_control) {
            return Err(DirectoryError::invalid(
                "name",
                "部门名称应为1到64个字符",
                "a department name must be 1 to 64 characters",
            ));
        }
        Ok(())
    }
}

/// Department codes: 2–32 characters, lowercase letters, digits and `_`.
fn check_department_code(code: &str) -> DirectoryResult<()> {
    let ok = (2..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::invalid(
            "department",
            "部门编码应为2到32个小写字母、数字或下划线",
            "a department code is 2 to 32 lowercase letters, digits or _",
        ))
    }
}

// -------------------------------------------------------------------- users

/// A user as the directory knows it (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// UUID.
    pub id: String,
    /// Login name, unique (case-insensitively).
    pub username: String,
    /// Name shown to people (personal data: never logged).
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Whether the user may sign in.
    pub active: bool,
    /// Grid codes, sorted (grid workers only).
    pub grids: Vec<String>,
    /// Community or street code (supervisors only).
    pub subtree: Option<String>,
    /// Department code (department users only).
    #[serde(default)]
    pub department: Option<String>,
    /// The building or unit served (楼栋长, 单元长 only); its grid is also
    /// the user's one grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<Post>,
    /// Whether a password is set (users of the external identity provider
    /// may have none).
    pub has_password: bool,
    /// Created, Unix seconds.
    pub created_at: i64,
    /// Last changed, Unix seconds.
    pub updated_at: i64,
}

impl User {
    /// The principal this user acts as, on `device_id`.
    pub fn principal(&self, device_id: Option<String>) -> Principal {
        Principal {
            user_id: self.id.clone(),
            username: self.username.clone(),
            role: self.role,
            device_id,
            grids: self.grids.clone(),
            subtree: self.subtree.clone(),
            department: self.department.clone(),
            post: self.post.clone(),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// argon2id PHC string (see [`crate::auth::hash_password`]), or None for
    /// a user who signs in only through the external identity provider.
    pub password_hash: Option<String>,
    /// Grid codes (grid workers: at least one; other roles: none).
    pub grids: Vec<String>,
    /// Community or street code (supervisors: required; others: none).
    pub subtree: Option<String>,
    /// Department code (department users: required; others: none).
    pub department: Option<String>,
    /// Building or unit (楼栋长, 单元长: required; others: none).
    pub post: Option<Post>,
    /// Whether the user may sign in.
    pub active: bool,
}

impl NewUser {
    /// An active user without password, grids or subtree.
    pub fn new(username: impl Into<String>, display_name: impl Into<String>, role: Role) -> Self {
        Self {
            username: username.into(),
            display_name: display_name.into(),
            role,
            password_hash: None,
            grids: Vec::new(),
            subtree: None,
            department: None,
            post: None,
            active: true,
        }
    }

    /// With these grids.
    pub fn with_grids<I, S>(mut self, grids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grids = grids.into_iter().map(Into::into).collect();
        self
    }

    /// With this subtree.
    pub fn with_subtree(mut self, subtree: impl Into<String>) -> Self {
        self.subtree = Some(subtree.into());
        self
    }

    /// With this department.
    pub fn with_department(mut self, department: impl Into<String>) -> Self {
        self.department = Some(department.into());
        self
    }

    /// With this building or unit (楼栋长, 单元长).
    pub fn with_post(mut self, post: Post) -> Self {
        self.post = Some(post);
        self
    }

    /// With this password hash.
    pub fn with_password_hash(mut self, hash: impl Into<String>) -> Self {
        self.password_hash = Some(hash.into());
        self
    }

    /// Normalize (trim, sort and dedupe grids) and check the fields that do
    /// not need storage. Every implementation of
    /// [`Directory::create_user`] calls this first.
    pub fn validate(&mut self) -> DirectoryResult<()> {
        self.username = self.username.trim().to_owned();
        self.display_name = self.display_name.trim().to_owned();
        validate_username(&self.username)?;
        validate_display_name(&self.display_name)?;
        normalize_assignment(
            self.role,
            &mut self.grids,
            &mut self.subtree,
            &mut self.department,
            &mut self.post,
        )
    }
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New name shown to people.
    pub display_name: Option<String>,
    /// New role. Grids are dropped when the new role is not grid worker, and
    /// the subtree when it is not supervisor, unless given in the same update.
    pub role: Option<Role>,
    /// New grids (replacing the old ones).
    pub grids: Option<Vec<String>>,
    /// New subtree (`Some(None)` clears it).
    pub subtree: Option<Option<String>>,
    /// New department (`Some(None)` clears it).
    pub department: Option<Option<String>>,
    /// New building or unit (`Some(None)` clears it).
    pub post: Option<Option<Post>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// New argon2id PHC password hash.
    pub password_hash: Option<String>,
}

impl UserUpdate {
    /// Apply to `user` (as stored) and validate the result. Every
    /// implementation of [`Directory::update_user`] calls this on the user
    /// it read inside its transaction, then writes the result.
    pub fn apply(&self, user: &mut User) -> DirectoryResult<()> {
        if let Some(name) = &self.display_name {
            user.display_name = name.trim().to_owned();
            validate_display_name(&user.display_name)?;
        }
        if let Some(role) = self.role {
            if role != user.role {
                if role != Role::GridWorker && self.grids.is_none() {
                    user.grids.clear();
                }
                if role != Role::Supervisor && self.subtree.is_none() {
                    user.subtree = None;
                }
                if role != Role::Department && self.department.is_none() {
                    user.department = None;
                }
                if !role.is_head() && self.post.is_none() {
                    user.post = None;
                }
            }
            user.role = role;
        }
        if let Some(grids) = &self.grids {
            user.grids = grids.clone();
        }
        if let Some(subtree) = &self.subtree {
            user.subtree = subtree.clone();
        }
        if let Some(department) = &self.department {
            user.department = department.clone();
        }
        if let Some(post) = &self.post {
            user.post = post.clone();
        }
        if let Some(active) = self.active {
            user.active = active;
        }
        if self.password_hash.is_some() {
            user.has_password = true;
        }
        normalize_assignment(
            user.role,
            &mut user.grids,
            &mut user.subtree,
            &mut user.department,
            &mut user.post,
        )
    }
}

/// Usernames: 2–64 characters, letters, digits and `. _ - @`.
fn validate_username(username: &str) -> DirectoryResult<()> {
    let len = username.chars().count();
    if !(2..=64).contains(&len) {
        return Err(DirectoryError::invalid(
            "username",
            "用户名应为2到64个字符",
            "username must be 2 to 64 characters",
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(DirectoryError::invalid(
            "username",
            "用户名只能包含字母、数字和 . _ - @",
            "username may contain only letters, digits and . _ - @",
        ));
    }
    Ok(())
}

fn validate_display_name(name: &str) -> DirectoryResult<()> {
    let len = name.chars().count();
    if len == 0 {
        return Err(DirectoryError::invalid(
            "display_name",
            "姓名不能为空",
            "display name must not be empty",
        ));
    }
    if len > 64 {
        return Err(DirectoryError::invalid(
            "display_name",
            "姓名不能超过64个字符",
            "display name must be at most 64 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DirectoryError::invalid(
            "display_name",
            "姓名不能包含控制字符",
            "display name must not contain control characters",
        ));
    }
    Ok(())
}

/// The role rules: grid workers have grids and no subtree, supervisors a
/// subtree and no grids, department users a department, 楼栋长/单元长 a post
/// (whose grid becomes their one grid), everyone else none of these. Codes
/// are trimmed, checked for shape, sorted and deduplicated.
fn normalize_assignment(
    role: Role,
    grids: &mut Vec<String>,
    subtree: &mut Option<String>,
    department: &mut Option<String>,
    post: &mut Option<Post>,
) -> DirectoryResult<()> {
    normalize_post(role, grids, post)?;
    if let Some(d) = department.as_mut() {
        *d = d.trim().to_ascii_lowercase();
        if d.is_empty() {
            *department = None;
        }
    }
    match (role, department.as_deref()) {
        (Role::Department, None) => {
            return Err(DirectoryError::invalid(
                "department",
                "职能部门用户需要指定所属部门",
                "a department user needs a department",
            ));
        }
        (Role::Department, Some(code)) => check_department_code(code)?,
        (_, Some(_)) => {
            return Err(DirectoryError::invalid(
                "department",
                "只有职能部门用户可以指定部门",
                "only department users have a department",
            ));
        }
        (_, None) => {}
    }
    for g in grids.iter_mut() {
        let code =
            gridsync_core::codes::GridCode::parse(g).map_err(|reason| DirectoryError::Invalid {
                field: "grids",
                reason,
            })?;
        *g = code.as_str().to_owned();
    }
    grids.sort();
    grids.dedup();
    if let Some(s) = subtree.as_mut() {
        *s = s.trim().to_owned();
        if s.is_empty() {
            *subtree = None;
        }
    }
    match role {
        Role::GridWorker if grids.is_empty() => {
            return Err(DirectoryError::invalid(
                "grids",
                "网格员至少要分配一个网格",
                "a grid worker needs at least one grid",
            ));
        }
        Role::GridWorker | Role::BuildingHead | Role::UnitHead => {}
        _ if !grids.is_empty() => {
            return Err(DirectoryError::invalid(
                "grids",
                "只有网格员可以分配网格",
                "only grid workers are assigned grids",
            ));
        }
        _ => {}
    }
    match (role, subtree.as_deref()) {
        (Role::Supervisor, None) => Err(DirectoryError::invalid(
            "subtree",
            "社区/街道管理员需要指定管辖的社区（12位）或街道（9位）编码",
            "a supervisor needs a subtree: a 12-digit community or 9-digit street code",
        )),
        (Role::Supervisor, Some(code)) => {
            crate::territory::check_subtree_code(code).map_err(|reason| DirectoryError::Invalid {
                field: "subtree",
                reason,
            })
        }
        (_, Some(_)) => Err(DirectoryError::invalid(
            "subtree",
            "只有社区/街道管理员可以指定管辖范围",
            "only supervisors have a subtree",
        )),
        (_, None) => Ok(()),
    }
}

/// A post as stored in `users.post` (JSON).
pub(crate) fn post_to_sql(post: Option<&Post>) -> Option<String> {
    post.and_then(|p| serde_json::to_string(p).ok())
}

/// A post from `users.post` (unreadable JSON reads as none).
pub(crate) fn post_from_sql(json: Option<String>) -> Option<Post> {
    json.and_then(|j| serde_json::from_str(&j).ok())
}

/// A 楼栋长 needs a compound and building, a 单元长 also a unit; the post's
/// grid becomes their only grid. Nobody else has a post.
fn normalize_post(
    role: Role,
    grids: &mut Vec<String>,
    post: &mut Option<Post>,
) -> DirectoryResult<()> {
    if !role.is_head() {
        if post.is_some() {
            return Err(DirectoryError::invalid(
                "post",
                "只有楼栋长、单元长可以指定楼栋",
                "only building and unit heads have a post",
            ));
        }
        return Ok(());
    }
    let Some(p) = post.as_mut() else {
        return Err(DirectoryError::invalid(
            "post",
            "楼栋长、单元长需要指定所在的网格、小区和楼栋",
            "a building or unit head needs a grid, compound and building",
        ));
    };
    for part in [&mut p.grid, &mut p.compound, &mut p.building, &mut p.unit] {
        *part = part.trim().to_owned();
    }
    let code = gridsync_core::codes::GridCode::parse(&p.grid).map_err(|reason| {
        DirectoryError::Invalid {
            field: "post.grid",
            reason,
        }
    })?;
    p.grid = code.as_str().to_owned();
    if p.compound.is_empty() || p.building.is_empty() {
        return Err(DirectoryError::invalid(
            "post.building",
            "请填写小区和楼栋",
            "compound and building are required",
        ));
    }
    match (role, p.unit.is_empty()) {
        (Role::UnitHead, true) => {
            return Err(DirectoryError::invalid(
                "post.unit",
                "单元长需要指定单元",
                "a unit head needs a unit",
            ));
        }
        (Role::BuildingHead, false) => {
            return Err(DirectoryError::invalid(
                "post.unit",
                "楼栋长负责整栋楼，不指定单元",
                "a building head serves the whole building: no unit",
            ));
        }
        _ => {}
    }
    if grids.iter().any(|g| g.trim() != p.grid) {
        return Err(DirectoryError::invalid(
            "grids",
            "楼栋长、单元长的网格由所在楼栋决定",
            "a head's grid is their post's grid",
        ));
    }
    *grids = vec![p.grid.clone()];
    Ok(())
}

// ------------------------------------------------------------------ devices

/// A phone or browser registered to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// UUID chosen by the device.
    pub id: String,
    /// The user it is registered to.
    pub user_id: String,
    /// That user's username.
    pub username: String,
    /// Name the device gave at login ("华为 Mate 60"), if any.
    pub name: Option<String>,
    /// First login, Unix seconds.
    pub registered_at: i64,
    /// Last login or token refresh, Unix seconds.
    pub last_seen_at: i64,
    /// When an administrator revoked it.
    pub revoked_at: Option<i64>,
}

// ----------------------------------------------------------------- sessions

/// A login on a device: access tokens name it (`sid`), refresh tokens
/// belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// UUID.
    pub id: String,
    /// User.
    pub user_id: String,
    /// Device, if the login named one.
    pub device_id: Option<String>,
    /// Started, Unix seconds.
    pub created_at: i64,
    /// Ended (logout, revocation, refresh-token reuse), Unix seconds.
    pub ended_at: Option<i64>,
    /// Whether the device has been revoked.
    pub device_revoked: bool,
}

impl Session {
    /// Whether tokens of this session may still be used.
    pub fn is_live(&self) -> bool {
        self.ended_at.is_none() && !self.device_revoked
    }
}

/// A refresh token to store: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// The session it belongs to.
    pub session_id: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was exchanged for a new one (it is then spent).
    pub used_at: Option<i64>,
}

/// Why sessions ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user logged out.
    Logout,
    /// An administrator revoked the device.
    DeviceRevoked,
    /// A spent refresh token was presented again.
    RefreshReuse,
    /// The password was changed.
    PasswordChanged,
    /// The user was deactivated.
    Deactivated,
}

impl EndReason {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::DeviceRevoked => "device_revoked",
            EndReason::RefreshReuse => "refresh_reuse",
            EndReason::PasswordChanged => "password_changed",
            EndReason::Deactivated => "deactivated",
        }
    }
}

// -------------------------------------------------------------------- trait

/// Users, devices, sessions and the territory.
///
/// Usernames are unique and looked up case-insensitively. Lists are sorted
/// by code (territory) or username (users, devices).
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    // Territory.

    /// Every grid whose code starts with `prefix` (a community or street code), sorted.
    async fn grid_codes_under(&self, prefix: &str) -> Result<Vec<String>, DirectoryError>;
    /// One grid.
    async fn grid(&self, code: &str) -> Result<Option<GridInfo>, DirectoryError>;
    /// One street.
    async fn street(&self, code: &str) -> DirectoryResult<Option<StreetInfo>>;
    /// One community.
    async fn community(&self, code: &str) -> DirectoryResult<Option<CommunityInfo>>;
    /// Every street.
    async fn streets(&self) -> DirectoryResult<Vec<StreetInfo>>;
    /// Every community whose code starts with `prefix` (`""` for all).
    async fn communities(&self, prefix: &str) -> DirectoryResult<Vec<CommunityInfo>>;
    /// Every grid whose code starts with `prefix` (`""` for all).
    async fn grids(&self, prefix: &str) -> DirectoryResult<Vec<GridInfo>>;
    /// Upsert streets, communities and grids by code, all or nothing (one
    /// transaction). Nothing is deleted.
    async fn import_territory(&self, rows: &TerritoryRows) -> DirectoryResult<ImportSummary>;

    // Departments.

    /// Create a department, or rename it if the code exists (after
    /// [`Department::validate`]).
    async fn upsert_department(&self, department: Department) -> DirectoryResult<Department>;
    /// Every department, by code.
    async fn departments(&self) -> DirectoryResult<Vec<Department>>;

    // Users.

    /// Create a user (after [`NewUser::validate`]); grids, subtree and
    /// department must exist. Errors: `Invalid`, `UsernameTaken`,
    /// `UnknownGrid`, `UnknownSubtree`, `UnknownDepartment`.
    async fn create_user(&self, user: NewUser) -> DirectoryResult<User>;
    /// A user by id.
    async fn user(&self, id: &str) -> DirectoryResult<Option<User>>;
    /// A user by username (case-insensitive).
    async fn user_by_username(&self, username: &str) -> DirectoryResult<Option<User>>;
    /// Every user.
    async fn users(&self) -> DirectoryResult<Vec<User>>;
    /// Change a user (with [`UserUpdate::apply`] inside one transaction).
    /// Errors as [`Directory::create_user`], and `UserNotFound`.
    async fn update_user(&self, id: &str, update: UserUpdate) -> DirectoryResult<User>;
    /// The user's argon2id PHC password hash, if one is set.
    async fn password_hash(&self, user_id: &str) -> DirectoryResult<Option<String>>;

    // Devices.

    /// Register `device_id` to `user_id` at its first login, or note that it
    /// was seen again. Errors: `DeviceOfAnotherUser`, `DeviceRevoked`.
    async fn register_device(
        &self,
        device_id: &str,
        user_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> DirectoryResult<Device>;
    /// One device.
    async fn device(&self, id: &str) -> DirectoryResult<Option<Device>>;
    /// Every device, or those of one user.
    async fn devices(&self, user_id: Option<&str>) -> DirectoryResult<Vec<Device>>;
    /// Revoke a device and end its sessions. Error: `DeviceNotFound`.
    async fn revoke_device(&self, id: &str, now: i64) -> DirectoryResult<Device>;
    /// Note that a device was seen (login, refresh).
    async fn touch_device(&self, id: &str, now: i64) -> DirectoryResult<()>;

    // Sessions and refresh tokens.

    /// Start a session with its first refresh token.
    async fn create_session(
        &self,
        session: &Session,
        refresh: &NewRefreshToken,
    ) -> DirectoryResult<()>;
    /// One session, with whether its device is revoked.
    async fn session(&self, id: &str) -> DirectoryResult<Option<Session>>;
    /// End one session (no-op if already ended).
    async fn end_session(&self, id: &str, reason: EndReason, now: i64) -> DirectoryResult<()>;
    /// End every live session of a device; how many were ended.
    async fn end_device_sessions(
        &self,
        device_id: &str,
        reason: EndReason,
        now: i64,
    ) -> DirectoryResult<u64>;
    /// End every live session of a user; how many were ended.
    async fn end_user_sessions(
        &self,
        user_id: &str,
        reason: EndReason,
        now: i64,
    ) -> DirectoryResult<u64>;
    /// A refresh token by the hash of the token.
    async fn refresh_token(&self, token_hash: &str) -> DirectoryResult<Option<RefreshTokenRecord>>;
    /// Atomically spend `old_hash` (set `used_at`) and store `new` in the
    /// same session, if `old_hash` was not spent yet. False when it was
    /// already spent or does not exist (the caller lost a race, or reuse).
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: &NewRefreshToken,
        now: i64,
    ) -> DirectoryResult<bool>;
}

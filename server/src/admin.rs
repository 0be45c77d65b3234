//! Administration of users, devices and the territory, shared by the
//! command line (`gridsync-server admin …`, in [`cli`]) and the admin HTTP
//! endpoints (`/v1/admin/…`, in [`http`], admin role only).
//!
//! The rules that are not storage rules live here: a new password is
//! hashed off the async threads; a password change or a deactivation ends
//! the user's sessions at once; an administrator cannot deactivate
//! themselves or drop their own admin role.

pub mod cli;
pub mod http;
mod table;

use gridsync_core::contact::Post;
use serde::{Deserialize, Deserializer, Serialize};

pub use cli::{AdminArgs, run_cli};
pub use http::routes;
pub use table::table;

use crate::auth::{AuthError, hash_password_async};
use crate::directory::{Device, DirectoryError, EndReason, NewUser, User, UserUpdate};
use crate::principal::{Principal, Role};
use crate::state::AppState;

/// Why an administrative action failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The directory refused or failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The password was refused, or hashing failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The change would lock the administrator out.
    #[error(
        "不能停用自己的账号或取消自己的管理员权限 / you cannot deactivate yourself or drop your own admin role"
    )]
    SelfLockout,
}

/// A user to create (`POST /v1/admin/users`, `admin user add`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Grid codes (grid workers).
    #[serde(default)]
    pub grids: Vec<String>,
    /// Community or street code (supervisors).
    #[serde(default)]
    pub subtree: Option<String>,
    /// Department code (department users).
    #[serde(default)]
    pub department: Option<String>,
    /// The building or unit served (楼栋长, 单元长).
    #[serde(default)]
    pub post: Option<Post>,
    /// Initial password; generated (and answered once) when absent.
    #[serde(default)]
    pub password: Option<String>,
}

/// A created user, with the generated password if one was generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedUser {
    /// The user.
    pub user: User,
    /// The generated initial password, shown only this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

/// Changes to a user (`PATCH /v1/admin/users/{id}`); absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    /// Name shown to people.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Role (grids or subtree that the new role does not have are dropped).
    #[serde(default)]
    pub role: Option<Role>,
    /// Grid codes, replacing the old ones.
    #[serde(default)]
    pub grids: Option<Vec<String>>,
    /// Community or street code; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub subtree: Option<Option<String>>,
    /// Department code; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub department: Option<Option<String>>,
    /// Building or unit served; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub post: Option<Option<Post>>,
    /// Activate or deactivate (deactivating ends every session).
    #[serde(default)]
    pub active: Option<bool>,
    /// New password (ends every session).
    #[serde(default)]
    pub password: Option<String>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Create a user; a password is generated when none is given.
pub async fn create_user(state: &AppState, req: CreateUser) -> Result<CreatedUser, AdminError> {
    let mut new = NewUser {
        username: req.username,
        display_name: req.display_name,
        role: req.role,
        password_hash: None,
        grids: req.grids,
        subtree: req.subtree,
        department: req.department,
        post: req.post,
        active: true,
    };
    // Refuse malformed fields before paying for the hash.
    new.validate()?;
    let (password, generated) = match req.password {
        Some(p) => (p, false),
        None => (crate::auth::generate_password(), true),
    };
    new.password_hash = Some(hash_password_async(password.clone()).await?);
    let user = state.directory.create_user(new).await?;
    tracing::info!(user_id = %user.id, role = user.role.code(), "user created");
    Ok(CreatedUser {
        user,
        generated_password: generated.then_some(password),
    })
}

/// Change a user. `actor` is the administrator making the change (None
/// from the command line, which is trusted). A new password or a
/// deactivation ends the user's sessions.
pub async fn change_user(
    state: &AppState,
    actor: Option<&Principal>,
    id: &str,
    req: ChangeUser,
) -> Result<User, AdminError> {
    if let Some(actor) = actor
        && actor.user_id == id
        && (req.active == Some(false) || req.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(AdminError::SelfLockout);
    }
    let password_hash = match req.password {
        Some(p) => Some(hash_password_async(p).await?),
        None => None,
    };
    let password_changed = password_hash.is_some();
    let user = state
        .directory
        .update_user(
            id,
            UserUpdate {
                display_name: req.display_name,
                role: req.role,
                grids: req.grids,
                subtree: req.subtree,
                department: req.department,
                post: req.post,
                active: req.active,
                password_hash,
            },
        )
        .await?;
    let now = crate::directory::now();
    if req.active == Some(false) {
        state
            .directory
            .end_user_sessions(id, EndReason::Deactivated, now)
            .await?;
    } else if password_changed {
        state
            .directory
            .end_user_sessions(id, EndReason::PasswordChanged, now)
            .await?;
    }
    tracing::info!(user_id = %id, "user changed");
    Ok(user)
}

/// Revoke a device: its sessions end and its tokens fail on the next request.
pub async fn revoke_device(state: &AppState, device_id: &str) -> Result<Device, AdminError> {
    let device_id = device_id.trim().to_ascii_lowercase();
    let device = state
        .directory
        .revoke_device(&device_id, crate::directory::now())
        .await?;
    tracing::info!(device_id = %device.id, "device revoked");
    Ok(device)
}

/// A user by id or, failing that, by username.
pub async fn find_user(state: &AppState, id_or_username: &str) -> Result<User, AdminError> {
    if let Some(u) = state.directory.user(id_or_username).await? {
        return Ok(u);
    }
    state
        .directory
        .user_by_username(id_or_username)
        .await?
        .ok_or(AdminError::Directory(DirectoryError::UserNotFound))
}

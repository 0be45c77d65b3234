//! The one error the app sees: a flat enum of cases it can act on, each
//! with a message a person can read (Chinese first, then English). Every
//! core error is mapped here, in one `From`, and nowhere else.
//!
//! Messages never carry personal data: the core describes values, it never
//! echoes them, and nothing here adds any.

use gridsync_core::Error as Core;

/// Why a call failed. `text` is the message to show (Chinese / English);
/// Kotlin's `message`, Swift's `localizedDescription` and `toString()` give
/// the same text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum GridsyncError {
    /// The server could not be reached or the connection dropped. Nothing
    /// is lost: sync again later.
    #[error("{text}")]
    Network { text: String },
    /// Not signed in, wrong username or password, or the sign-in expired:
    /// show the login screen.
    #[error("{text}")]
    Unauthorized { text: String },
    /// This device was revoked by an administrator; its data was removed.
    /// Sign in again (on a device that is allowed).
    #[error("{text}")]
    DeviceRevoked { text: String },
    /// The signed-in user may not do this (server answered 403).
    #[error("{text}")]
    Forbidden { text: String },
    /// A value was refused; nothing was changed. `field` names it
    /// (`id_number`, `residents[0].phone`, `place.room`, …); `reason` is the
    /// Chinese reason to show beside that field.
    #[error("{text}")]
    Invalid {
        field: String,
        reason: String,
        text: String,
    },
    /// No record with that id on this device.
    #[error("{text}")]
    NotFound { text: String },
    /// The server refused because of a conflicting state (HTTP 409).
    #[error("{text}")]
    Conflict { text: String },
    /// The household was merged into another (a duplicate): edit `survivor`.
    #[error("{text}")]
    Merged { survivor: String, text: String },
    /// The store file cannot be opened with this key, or is not a store.
    #[error("{text}")]
    WrongKey { text: String },
    /// The store file could not be read or written (disk full, file
    /// damaged, written by a newer app version).
    #[error("{text}")]
    Storage { text: String },
    /// The server answered with an error not listed above.
    #[error("{text}")]
    Server {
        status: i32,
        code: String,
        text: String,
    },
    /// The sync was cancelled; what was done so far is kept.
    #[error("{text}")]
    Cancelled { text: String },
    /// Something typed on this device is not on the server yet (held
    /// back, refused, photos not uploaded): a hand-over stops before
    /// removing anything. `text` says what, and what to do.
    #[error("{text}")]
    Unsynced { text: String },
    /// A bug or damaged data: report it.
    #[error("{text}")]
    Internal { text: String },
}

impl GridsyncError {
    /// A refused argument of an FFI call (before it reaches the core).
    pub(crate) fn invalid(field: &str, zh: &str, en: &str) -> Self {
        gridsync_core::Reason::new(zh, en).on(field).into()
    }
}

impl From<Core> for GridsyncError {
    fn from(e: Core) -> Self {
        match e {
            Core::Invalid { field, reason } => Self::Invalid {
                text: format!("{} / {} ({field})", reason.zh, reason.en),
                reason: reason.zh,
                field,
            },
            e @ Core::NotFound { .. } => Self::NotFound {
                text: e.to_string(),
            },
            Core::Merged { survivor, .. } => Self::Merged {
                text: "该户已与另一户合并，请在合并后的记录上修改 / this household was merged into another; edit the merged record".into(),
                survivor,
            },
            e @ Core::Network(_) => Self::Network {
                text: e.to_string(),
            },
            Core::Unauthorized(m) => Self::Unauthorized {
                text: if m.trim().is_empty() {
                    "请重新登录 / please sign in again".into()
                } else {
                    m
                },
            },
            e @ Core::DeviceRevoked => Self::DeviceRevoked {
                text: e.to_string(),
            },
            Core::Server {
                status,
                code,
                message,
            } => {
                let text = if message.trim().is_empty() {
                    format!("服务器错误 {status} / server error {status} ({code})")
                } else {
                    message
                };
                match status {
                    403 => Self::Forbidden { text },
                    409 => Self::Conflict { text },
                    _ => Self::Server {
                        status: i32::from(status),
                        code,
                        text,
                    },
                }
            }
            e @ Core::Cancelled => Self::Cancelled {
                text: e.to_string(),
            },
            e @ Core::WrongKey => Self::WrongKey {
                text: e.to_string(),
            },
            Core::Storage(e) => Self::Storage {
                text: format!("本地数据读写失败 / cannot read or write the local store: {e}"),
            },
            Core::SchemaTooNew { .. } => Self::Storage {
                text: "本地数据由更新版本的应用写入，请升级应用 / the local store was written by a newer app version: update the app".into(),
            },
            e @ (Core::Automerge(_) | Core::Shape(_)) => Self::Internal {
                text: format!("数据格式错误 / damaged document: {e}"),
            },
            e => Self::Internal {
                text: e.to_string(),
            },
        }
    }
}

/// The result of every exported call.
pub(crate) type Result<T, E = GridsyncError> = std::result::Result<T, E>;

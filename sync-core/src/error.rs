//! The crate's error type: one enum, typed variants a caller can act on.
//!
//! Validation failures name the field and give the reason in Chinese (for the
//! person holding the phone) and English (for developers and logs). No error
//! text ever contains personal data: values are described, never echoed.

use std::fmt;

/// Why a value was refused, in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Chinese text, shown to grid workers and supervisors.
    pub zh: String,
    /// English text, for developers and logs.
    pub en: String,
}

impl Reason {
    /// A reason from its two texts.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// Attach the field the reason is about, giving a full [`Error::Invalid`].
    pub fn on(self, field: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            reason: self,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.zh, self.en)
    }
}

/// Everything that can go wrong in gridsync-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input refused by validation; nothing was changed.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: Reason },
    /// The signed-in user's role may not do this (e.g. a grid worker
    /// closing a report); nothing was changed.
    #[error("{0}")]
    Forbidden(Reason),
    /// No record with that id in this store.
    #[error("{kind} {id} not found / 未找到")]
    NotFound { kind: &'static str, id: String },
    /// The document was merged into another (a duplicate); edit the survivor.
    #[error("document {id} was merged into {survivor} / 该记录已合并")]
    Merged { id: String, survivor: String },
    /// The store file could not be read or written.
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A document or change could not be decoded or applied.
    #[error("document: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A document does not have the shape its kind requires.
    #[error("document shape: {0}")]
    Shape(String),
    /// The server could not be reached, or the connection dropped; nothing
    /// is lost, sync again later.
    #[error("network: {0} / 网络连接失败，请稍后重试")]
    Network(String),
    /// Not signed in, or the sign-in expired and could not be renewed.
    #[error("{0}")]
    Unauthorized(String),
    /// This device was revoked by an administrator; its data was removed.
    #[error("本设备已被停用，数据已清除 / this device was revoked; its data was removed")]
    DeviceRevoked,
    /// The server answered with an error.
    #[error("server error {status} ({code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Stable error code from the server.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The sync was cancelled; what was done so far is kept.
    #[error("已取消 / cancelled")]
    Cancelled,
    /// The store file could not be opened with this key (or is not a
    /// gridsync store).
    #[error(
        "无法打开本地数据：密钥错误或文件已损坏 / cannot open the store: wrong key or not a store file"
    )]
    WrongKey,
    /// Encryption is not available.
    #[error("encryption: {0}")]
    Encryption(String),
    /// The store was written by a newer version of gridsync.
    #[error("store schema version {found} is newer than this app supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

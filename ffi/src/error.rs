//! The one error the app sees: a flat enum of cases it can act on, each
//! with a message a person can read in Chinese (`zh`) and in English
//! (`en`), as separate properties. Every core error is mapped here, in one
//! `From`, and nowhere else; so is the typed last error of `status()`.
//!
//! Messages never carry personal data: the core describes values, it never
//! echoes them, and nothing here adds any.

use gridsync_core::Error as Core;

/// Why a call failed. `zh` is the message to show (Chinese), `en` the same
/// in English; Kotlin's `message`, Swift's `localizedDescription` and
/// `toString()` give both, Chinese first ("zh / en").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum GridsyncError {
    /// The server could not be reached or the connection dropped. Nothing
    /// is lost: sync again later.
    #[error("{zh} / {en}")]
    Network { zh: String, en: String },
    /// Not signed in, wrong username or password, or the sign-in expired:
    /// show the login screen.
    #[error("{zh} / {en}")]
    Unauthorized { zh: String, en: String },
    /// This device was revoked by an administrator; its data was removed.
    /// Sign in again (on a device that is allowed).
    #[error("{zh} / {en}")]
    DeviceRevoked { zh: String, en: String },
    /// The signed-in user may not do this (server answered 403).
    #[error("{zh} / {en}")]
    Forbidden { zh: String, en: String },
    /// A value was refused; nothing was changed. `field` names it in the
    /// binding language's names (`idNumber`, `residents[0].phone`,
    /// `place.room`, …); `reason` (the same as `zh`) is the Chinese reason
    /// to show beside that field.
    #[error("{zh} / {en}")]
    Invalid {
        field: String,
        reason: String,
        zh: String,
        en: String,
    },
    /// No record with that id on this device.
    #[error("{zh} / {en}")]
    NotFound { zh: String, en: String },
    /// The server refused because of a conflicting state (HTTP 409).
    #[error("{zh} / {en}")]
    Conflict { zh: String, en: String },
    /// The household was merged into another (a duplicate): edit `survivor`.
    #[error("{zh} / {en}")]
    Merged {
        survivor: String,
        zh: String,
        en: String,
    },
    /// The store file cannot be opened with this key, or is not a store.
    #[error("{zh} / {en}")]
    WrongKey { zh: String, en: String },
    /// The store file could not be read or written (disk full, file
    /// damaged, written by a newer app version).
    #[error("{zh} / {en}")]
    Storage { zh: String, en: String },
    /// The server answered with an error not listed above.
    #[error("{zh} / {en}")]
    Server {
        status: i32,
        code: String,
        zh: String,
        en: String,
    },
    /// The sync was cancelled; what was done so far is kept.
    #[error("{zh} / {en}")]
    Cancelled { zh: String, en: String },
    /// Something typed on this device is not on the server yet (held
    /// back, refused, photos not uploaded): a hand-over stops before
    /// removing anything. The message says what, and what to do.
    #[error("{zh} / {en}")]
    Unsynced { zh: String, en: String },
    /// A bug or damaged data: report it.
    #[error("{zh} / {en}")]
    Internal { zh: String, en: String },
    /// Called from this object's own `SyncListener` while its sync runs,
    /// a call that would wait for that sync (`sync`, `handOver`, `login`,
    /// `logout`): it fails at once instead of waiting forever. Reads and
    /// edits from a listener work.
    #[error("{zh} / {en}")]
    Busy { zh: String, en: String },
    /// A listener (`SyncListener.onProgress`, `ChangeListener.onChange`)
    /// threw. The sync it listened to was not stopped: it ran to its end
    /// (its outcome is in `status()`), and then `sync` throws this. `en`
    /// names the exception's class, never its message.
    #[error("{zh} / {en}")]
    Listener { zh: String, en: String },
}

/// What a foreign listener threw that is not a `GridsyncException`
/// (Kotlin gives its stack trace, Swift its description): named by its
/// class only, as its message may carry personal data.
impl From<uniffi::UnexpectedUniFFICallbackError> for GridsyncError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::listener(&exception_class(&e.reason))
    }
}

/// The class of an exception from its text (`java.lang.IllegalStateException: …`
/// → `java.lang.IllegalStateException`), or `unknown`.
fn exception_class(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    let name: String = first
        .split([':', '(', ' '])
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$'))
    {
        name
    } else {
        "unknown".into()
    }
}

/// Which case of [`GridsyncError`] a last error was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ErrorKind {
    Network,
    Unauthorized,
    DeviceRevoked,
    Forbidden,
    Invalid,
    NotFound,
    Conflict,
    Merged,
    WrongKey,
    Storage,
    Server,
    Cancelled,
    Unsynced,
    Internal,
    Busy,
    Listener,
}

/// The last sync's error, typed (`SyncStatus.lastError`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LastError {
    /// Which case of `GridsyncException` / `GridsyncError` it was.
    pub kind: ErrorKind,
    /// The message, Chinese.
    pub zh: String,
    /// The message, English.
    pub en: String,
    /// The HTTP status, for `Server`.
    pub status: Option<i32>,
}

/// The store's meta key of the last sync's error, as JSON.
pub(crate) const LAST_ERROR: &str = "ffi.sync.last_error";

impl GridsyncError {
    /// A refused argument of an FFI call (before it reaches the core).
    pub(crate) fn invalid(field: &str, zh: &str, en: &str) -> Self {
        gridsync_core::Reason::new(zh, en).on(field).into()
    }

    /// A listener threw `what` (an exception class, or a
    /// `GridsyncException` case).
    pub(crate) fn listener(what: &str) -> Self {
        Self::Listener {
            zh: format!("监听器抛出了异常（{what}），同步未因此中断"),
            en: format!("a listener threw {what}; the sync was not stopped by it"),
        }
    }

    /// A call from the running sync's own listener that would wait for it.
    pub(crate) fn busy() -> Self {
        Self::Busy {
            zh: "同步进行中：不能在同步监听器中调用此方法（会等待同步本身）".into(),
            en: "a sync is running: this call, made from its own listener, would wait for it"
                .into(),
        }
    }

    /// The case's name, for a log line or a listener error (no message).
    pub(crate) fn kind_name(&self) -> String {
        format!("GridsyncException.{:?}", self.parts().0)
    }

    fn parts(&self) -> (ErrorKind, &str, &str, Option<i32>) {
        use ErrorKind as K;
        match self {
            Self::Network { zh, en } => (K::Network, zh, en, None),
            Self::Unauthorized { zh, en } => (K::Unauthorized, zh, en, None),
            Self::DeviceRevoked { zh, en } => (K::DeviceRevoked, zh, en, None),
            Self::Forbidden { zh, en } => (K::Forbidden, zh, en, None),
            Self::Invalid { zh, en, .. } => (K::Invalid, zh, en, None),
            Self::NotFound { zh, en } => (K::NotFound, zh, en, None),
            Self::Conflict { zh, en } => (K::Conflict, zh, en, None),
            Self::Merged { zh, en, .. } => (K::Merged, zh, en, None),
            Self::WrongKey { zh, en } => (K::WrongKey, zh, en, None),
            Self::Storage { zh, en } => (K::Storage, zh, en, None),
            Self::Server { zh, en, status, .. } => (K::Server, zh, en, Some(*status)),
            Self::Cancelled { zh, en } => (K::Cancelled, zh, en, None),
            Self::Unsynced { zh, en } => (K::Unsynced, zh, en, None),
            Self::Internal { zh, en } => (K::Internal, zh, en, None),
            Self::Busy { zh, en } => (K::Busy, zh, en, None),
            Self::Listener { zh, en } => (K::Listener, zh, en, None),
        }
    }

    /// This error as the JSON kept for `status()`.
    /// `core` is the core's text of it, as `sync::status` reports it.
    pub(crate) fn to_last_error_json(&self, core: &str) -> String {
        let (kind, zh, en, status) = self.parts();
        serde_json::json!({
            "kind": format!("{kind:?}"),
            "zh": zh,
            "en": en,
            "status": status,
            "core": core,
        })
        .to_string()
    }
}

impl LastError {
    /// Read back what [`GridsyncError::to_last_error_json`] kept; `core`
    /// (the core's text of the same error) when there is none (a store
    /// written by an older version).
    pub(crate) fn read(json: Option<&str>, core: &str) -> Self {
        use ErrorKind as K;
        // Kept by this version for this very error (not an older one a
        // sync outside `sync_recorded` left behind).
        let v: serde_json::Value = json
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .filter(|v| v.get("core").and_then(|c| c.as_str()) == Some(core))
            .unwrap_or_default();
        let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_string);
        let kind = match v.get("kind").and_then(|k| k.as_str()).unwrap_or("") {
            "Network" => K::Network,
            "Unauthorized" => K::Unauthorized,
            "DeviceRevoked" => K::DeviceRevoked,
            "Forbidden" => K::Forbidden,
            "Invalid" => K::Invalid,
            "NotFound" => K::NotFound,
            "Conflict" => K::Conflict,
            "Merged" => K::Merged,
            "WrongKey" => K::WrongKey,
            "Storage" => K::Storage,
            "Server" => K::Server,
            "Cancelled" => K::Cancelled,
            "Unsynced" => K::Unsynced,
            "Busy" => K::Busy,
            "Listener" => K::Listener,
            // Nothing kept for this error (a store last synced by a
            // version that kept the typed form after the core's record,
            // and was read between the two): a cancellation is still told
            // as one. This version keeps both in one hold of the store
            // (`core_sync::sync_keeping`).
            _ if core == gridsync_core::Error::Cancelled.to_string() => K::Cancelled,
            _ => K::Internal,
        };
        let (zh, en) = match (text("zh"), text("en")) {
            (Some(zh), Some(en)) => (zh, en),
            _ => bilingual(core, "同步失败", "sync failed"),
        };
        Self {
            kind,
            zh,
            en,
            status: v
                .get("status")
                .and_then(serde_json::Value::as_i64)
                .and_then(|s| i32::try_from(s).ok()),
        }
    }
}

/// Whether `s` has Chinese characters.
fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A "中文 / English" (or "English / 中文") message as (zh, en); a message
/// in one language only goes with the other from the defaults.
fn bilingual(s: &str, zh_default: &str, en_default: &str) -> (String, String) {
    let s = s.trim();
    if s.is_empty() {
        return (zh_default.into(), en_default.into());
    }
    if let Some((a, b)) = s.split_once(" / ") {
        let (a, b) = (a.trim(), b.trim());
        if has_cjk(a) && !has_cjk(b) {
            return (a.into(), b.into());
        }
        if has_cjk(b) && !has_cjk(a) {
            return (b.into(), a.into());
        }
    }
    if has_cjk(s) {
        (s.into(), en_default.into())
    } else {
        (zh_default.into(), s.into())
    }
}

/// A Rust field path in the binding languages' names: `id_number` →
/// `idNumber`, `residents[0].id_number` → `residents[0].idNumber`.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' && !out.is_empty() && !out.ends_with(['.', '[']) {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl From<Core> for GridsyncError {
    fn from(e: Core) -> Self {
        Self::from(&e)
    }
}

impl From<&Core> for GridsyncError {
    fn from(e: &Core) -> Self {
        match e {
            Core::Invalid { field, reason } => Self::Invalid {
                field: camel_case(field),
                reason: reason.zh.clone(),
                zh: reason.zh.clone(),
                en: reason.en.clone(),
            },
            Core::Forbidden(reason) => Self::Forbidden {
                zh: reason.zh.clone(),
                en: reason.en.clone(),
            },
            Core::NotFound { kind, .. } => Self::NotFound {
                zh: "未找到该记录（本机没有）".into(),
                en: format!("{kind} not found on this device"),
            },
            Core::Merged { survivor, .. } => Self::Merged {
                zh: "该户已与另一户合并，请在合并后的记录上修改".into(),
                en: "this household was merged into another; edit the merged record".into(),
                survivor: survivor.clone(),
            },
            Core::Network(m) => Self::Network {
                zh: "网络连接失败，请稍后重试".into(),
                en: format!("network: {m}"),
            },
            Core::Unauthorized(m) => {
                let (zh, en) = bilingual(m, "请重新登录", "please sign in again");
                Self::Unauthorized { zh, en }
            }
            Core::DeviceRevoked => Self::DeviceRevoked {
                zh: "本设备已被停用，数据已清除".into(),
                en: "this device was revoked; its data was removed".into(),
            },
            Core::Server {
                status,
                code,
                message,
            } => {
                let (zh, en) = bilingual(
                    message,
                    &format!("服务器错误 {status}"),
                    &format!("server error {status} ({code})"),
                );
                match status {
                    403 => Self::Forbidden { zh, en },
                    409 => Self::Conflict { zh, en },
                    _ => Self::Server {
                        status: i32::from(*status),
                        code: code.clone(),
                        zh,
                        en,
                    },
                }
            }
            Core::Cancelled => Self::Cancelled {
                zh: "已取消".into(),
                en: "cancelled".into(),
            },
            Core::WrongKey => Self::WrongKey {
                zh: "无法打开本地数据：密钥错误或文件已损坏".into(),
                en: "cannot open the store: wrong key or not a store file".into(),
            },
            Core::Storage(e) => Self::Storage {
                zh: "本地数据读写失败".into(),
                en: format!("cannot read or write the local store: {e}"),
            },
            Core::SchemaTooNew { .. } => Self::Storage {
                zh: "本地数据由更新版本的应用写入，请升级应用".into(),
                en: "the local store was written by a newer app version: update the app".into(),
            },
            e @ (Core::Automerge(_) | Core::Shape(_)) => Self::Internal {
                zh: "数据格式错误".into(),
                en: format!("damaged document: {e}"),
            },
            e => Self::Internal {
                zh: "内部错误，请报告".into(),
                en: e.to_string(),
            },
        }
    }
}

/// The result of every exported call.
pub(crate) type Result<T, E = GridsyncError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_sync_with_no_typed_form_kept_reads_as_cancelled() {
        let core = gridsync_core::Error::Cancelled.to_string();
        let last = LastError::read(None, &core);
        assert!(matches!(last.kind, ErrorKind::Cancelled));
        assert_eq!(
            (last.zh.as_str(), last.en.as_str()),
            ("已取消", "cancelled")
        );
        // Another error with nothing kept stays internal.
        assert!(matches!(
            LastError::read(None, "出错了 / went wrong").kind,
            ErrorKind::Internal
        ));
    }

    #[test]
    fn fields_in_binding_names() {
        assert_eq!(camel_case("id_number"), "idNumber");
        assert_eq!(
            camel_case("residents[0].id_number"),
            "residents[0].idNumber"
        );
        assert_eq!(camel_case("place.room"), "place.room");
    }

    #[test]
    fn a_foreign_exception_is_named_by_its_class_only() {
        let kotlin =
            "java.lang.IllegalStateException: 张三 110105199001011234\n\tat Foo.bar(Foo.kt:3)";
        assert_eq!(exception_class(kotlin), "java.lang.IllegalStateException");
        assert_eq!(
            exception_class("MyError.failed(name: \"张三\")"),
            "MyError.failed"
        );
        assert_eq!(exception_class("张三 did it"), "unknown");
        let e = GridsyncError::from(uniffi::UnexpectedUniFFICallbackError::new(kotlin));
        assert!(
            matches!(&e, GridsyncError::Listener { en, .. } if en.contains("IllegalStateException"))
        );
        assert!(!e.to_string().contains("张三") && !e.to_string().contains("1101"));
    }

    #[test]
    fn messages_split_chinese_and_english() {
        assert_eq!(
            bilingual("network: x / 网络失败", "z", "e"),
            ("网络失败".to_string(), "network: x".to_string())
        );
        assert_eq!(
            bilingual("请登录 / sign in", "z", "e"),
            ("请登录".to_string(), "sign in".to_string())
        );
    }
}

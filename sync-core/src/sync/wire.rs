//! The shapes of `POST /v1/sync` as the client sees them
//! (docs/protocol.md is the reference).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The media type of a binary sync request (docs/protocol.md): a line of
/// JSON, then the pushed changes' bytes one after another.
pub const BINARY: &str = "application/vnd.gridsync.sync";

/// A sync request, borrowing the changes it pushes.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest<'a> {
    /// This device.
    pub device_id: String,
    /// Feed → position, exactly as the last answer gave it (opaque here).
    pub cursors: BTreeMap<String, serde_json::Value>,
    /// Changes to store, oldest first.
    pub push: Vec<PushedChange<'a>>,
    /// Most documents per page.
    pub max_docs: Option<usize>,
    /// Most bytes per page.
    pub max_bytes: Option<usize>,
    /// Where the log stood in the last answer, as given (opaque here).
    pub log: Option<serde_json::Value>,
}

/// One pushed change.
#[derive(Debug, Clone, Copy)]
pub struct PushedChange<'a> {
    /// Document id.
    pub doc: &'a str,
    /// Automerge binary change.
    pub data: &'a [u8],
}

/// The header line of a binary request.
#[derive(Serialize)]
struct Header<'a> {
    device_id: &'a str,
    cursors: &'a BTreeMap<String, serde_json::Value>,
    push: Vec<PushedSize<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_docs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<&'a serde_json::Value>,
}

#[derive(Serialize)]
struct PushedSize<'a> {
    doc: &'a str,
    size: usize,
}

impl SyncRequest<'_> {
    /// The request as a [`BINARY`] body: the header line (JSON, no raw
    /// newline in it), then each change's bytes in push order.
    pub fn to_binary(&self) -> crate::Result<Vec<u8>> {
        let header = Header {
            device_id: &self.device_id,
            cursors: &self.cursors,
            push: self
                .push
                .iter()
                .map(|p| PushedSize {
                    doc: p.doc,
                    size: p.data.len(),
                })
                .collect(),
            max_docs: self.max_docs,
            max_bytes: self.max_bytes,
            log: self.log.as_ref(),
        };
        let data: usize = self.push.iter().map(|p| p.data.len()).sum();
        let mut out = Vec::with_capacity(data + 64 * self.push.len() + 256);
        serde_json::to_writer(&mut out, &header).map_err(|e| crate::Error::Shape(e.to_string()))?;
        out.push(b'\n');
        for p in &self.push {
            out.extend_from_slice(p.data);
        }
        Ok(out)
    }
}

/// A refused change.
#[derive(Debug, Clone, Deserialize)]
pub struct Rejected {
    /// Position in the push.
    pub index: usize,
    /// Stable code.
    pub code: String,
    /// Reason for a person.
    pub reason: String,
}

/// A document in the answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncedDoc {
    /// Id.
    pub id: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Grid code.
    #[serde(default)]
    pub scope: String,
    /// Automerge data, base64.
    pub data: String,
    /// Its list rows as the server derived them (JSON, read by
    /// [`crate::store::Listing::from_json`]), when `data` is the whole
    /// document at the version they were derived from.
    #[serde(default)]
    pub list: Option<Box<serde_json::value::RawValue>>,
}

/// The answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncResponse {
    /// Newly stored.
    #[serde(default)]
    pub stored: usize,
    /// Already had.
    #[serde(default)]
    pub duplicates: usize,
    /// Refused.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    /// Documents.
    #[serde(default)]
    pub docs: Vec<SyncedDoc>,
    /// Documents to delete.
    #[serde(default)]
    pub purge: Vec<String>,
    /// Feeds no longer readable.
    #[serde(default)]
    pub dropped_feeds: Vec<String>,
    /// New positions of the feeds readable now.
    pub cursors: BTreeMap<String, serde_json::Value>,
    /// More pages wait.
    #[serde(default)]
    pub more: bool,
    /// Documents still to come.
    #[serde(default)]
    pub remaining: u64,
    /// The server's heads of documents whose pushed changes it could not
    /// take for missing dependencies.
    #[serde(default)]
    pub heads: BTreeMap<String, Vec<String>>,
    /// Where the log stands: sent back with the next sync.
    #[serde(default)]
    pub log: Option<serde_json::Value>,
    /// The log lost changes this device saw (a restore): this page was
    /// read from the start; push back what the server lacks.
    #[serde(default)]
    pub log_lost: bool,
    /// The server's clock (ms since the Unix epoch).
    #[serde(default)]
    pub now: Option<i64>,
    /// The `ETag` of the server's report rules as they stand (`None` from
    /// a server that does not say).
    #[serde(default)]
    pub rules: Option<String>,
}

/// An error body from the server.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// Stable code.
    #[serde(default)]
    pub error: String,
    /// Message.
    #[serde(default)]
    pub message: String,
}

/// Login request.
#[derive(Debug, Clone, Serialize)]
pub struct LoginRequest<'a> {
    /// Login name.
    pub username: &'a str,
    /// Password.
    pub password: &'a str,
    /// This device.
    pub device_id: &'a str,
    /// A name for this device.
    pub device_name: &'a str,
}

/// Refresh request.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshRequest<'a> {
    /// The refresh token.
    pub refresh_token: &'a str,
    /// This device.
    pub device_id: &'a str,
}

/// Tokens answered by login and refresh.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// Short-lived bearer token.
    pub access_token: String,
    /// Long-lived token to get new access tokens.
    pub refresh_token: String,
    /// The signed-in user, on login.
    #[serde(default)]
    pub user: Option<User>,
}

/// The signed-in user as the server describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Login name.
    #[serde(default)]
    pub username: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Role code.
    #[serde(default)]
    pub role: String,
    /// Assigned grids (grid workers).
    #[serde(default)]
    pub grids: Vec<String>,
    /// Community or street overseen (supervisors).
    #[serde(default)]
    pub subtree: Option<String>,
    /// Department acted for (department users).
    #[serde(default)]
    pub department: Option<String>,
    /// The building or unit served (楼栋长, 单元长).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<crate::contact::Post>,
}

impl User {
    /// What this user's role entitles them to, for the core's role rule.
    pub fn duty(&self) -> crate::issue::duty::Duty {
        crate::issue::duty::Duty {
            user_id: self.id.clone(),
            role: self.role.clone(),
            grids: self.grids.clone(),
            subtree: self.subtree.clone(),
            department: self.department.clone(),
            post: self.post.clone(),
        }
    }
}

//! The JSON shapes of `POST /v1/sync` as the client sees them
//! (docs/protocol.md is the reference).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A sync request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncRequest {
    /// This device.
    pub device_id: String,
    /// Feed → position, exactly as the last answer gave it (opaque here).
    pub cursors: BTreeMap<String, serde_json::Value>,
    /// Changes to store, oldest first.
    pub push: Vec<PushedChange>,
    /// Most documents per page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_docs: Option<usize>,
    /// Most bytes per page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
}

/// One pushed change.
#[derive(Debug, Clone, Serialize)]
pub struct PushedChange {
    /// Document id.
    pub doc: String,
    /// Automerge binary change, base64.
    pub change: String,
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
}

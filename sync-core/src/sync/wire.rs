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
    /// Automerge data (base64 in a JSON answer).
    #[serde(deserialize_with = "from_base64")]
    pub data: Vec<u8>,
    /// Its list rows as the server derived them (JSON, read by
    /// [`crate::store::Listing::from_json`]), when `data` is the whole
    /// document at the version they were derived from.
    #[serde(default)]
    pub list: Option<Box<serde_json::value::RawValue>>,
}

fn from_base64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use base64::Engine;
    // Owned: a JSON string with escapes in it cannot be borrowed.
    let text = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| serde::de::Error::custom("document data is not base64"))
}

/// A document in the header line of a binary answer: its data follows
/// the line, `size` bytes of it.
#[derive(Debug, Clone, Deserialize)]
pub struct SizedDoc {
    /// Id.
    pub id: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Grid code.
    #[serde(default)]
    pub scope: String,
    /// Length of its data, bytes.
    pub size: usize,
    /// As in [`SyncedDoc`].
    #[serde(default)]
    pub list: Option<Box<serde_json::value::RawValue>>,
}

/// The answer: as JSON, or in a binary answer ([`BINARY`]) its header
/// line, with [`SizedDoc`]s.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncResponse<D = SyncedDoc> {
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
    #[serde(default = "Vec::new")]
    pub docs: Vec<D>,
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

impl SyncResponse {
    /// Read a binary answer ([`BINARY`], docs/protocol.md "Binary
    /// answers"): the header line, then each document's data, the sizes
    /// adding up to exactly the bytes after the line.
    pub fn from_binary(body: &[u8]) -> Result<Self, String> {
        let end = body
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("binary answer without its header line")?;
        let header: SyncResponse<SizedDoc> =
            serde_json::from_slice(&body[..end]).map_err(|e| e.to_string())?;
        let SyncResponse {
            stored,
            duplicates,
            rejected,
            docs: sized,
            purge,
            dropped_feeds,
            cursors,
            more,
            remaining,
            heads,
            log,
            log_lost,
            now,
            rules,
        } = header;
        let mut data = &body[end + 1..];
        let mut docs = Vec::with_capacity(sized.len());
        for d in sized {
            if d.size > data.len() {
                return Err(format!(
                    "binary answer cut off: document {} wants {} bytes, {} left",
                    d.id,
                    d.size,
                    data.len()
                ));
            }
            let (this, rest) = data.split_at(d.size);
            data = rest;
            docs.push(SyncedDoc {
                id: d.id,
                kind: d.kind,
                scope: d.scope,
                data: this.to_vec(),
                list: d.list,
            });
        }
        if !data.is_empty() {
            return Err(format!(
                "binary answer: {} bytes beyond its documents' sizes",
                data.len()
            ));
        }
        Ok(SyncResponse {
            stored,
            duplicates,
            rejected,
            docs,
            purge,
            dropped_feeds,
            cursors,
            more,
            remaining,
            heads,
            log,
            log_lost,
            now,
            rules,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = header.as_bytes().to_vec();
        out.push(b'\n');
        out.extend_from_slice(data);
        out
    }

    const HEADER: &str = r#"{"stored":2,"docs":[{"id":"a","kind":"household","scope":"g","size":3,"list":{"x":1}},{"id":"b","size":2}],"cursors":{"g":5},"more":true,"rules":"r1"}"#;

    #[test]
    fn a_binary_answer_reads_as_its_json_would() {
        let answer = SyncResponse::from_binary(&binary(HEADER, b"abcde")).expect("read");
        assert_eq!(answer.stored, 2);
        assert!(answer.more);
        assert_eq!(answer.rules.as_deref(), Some("r1"));
        assert_eq!(answer.cursors["g"], serde_json::json!(5));
        let docs: Vec<(&str, &str, &[u8], Option<&str>)> = answer
            .docs
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    d.kind.as_str(),
                    d.data.as_slice(),
                    d.list.as_deref().map(|l| l.get()),
                )
            })
            .collect();
        assert_eq!(
            docs,
            vec![
                ("a", "household", &b"abc"[..], Some(r#"{"x":1}"#)),
                ("b", "", &b"de"[..], None)
            ]
        );
        // The same answer as JSON, data in base64.
        let json: SyncResponse = serde_json::from_str(
            r#"{"stored":2,"docs":[{"id":"a","kind":"household","scope":"g","data":"YWJj"}],"cursors":{}}"#,
        )
        .expect("JSON");
        assert_eq!(json.docs[0].data, b"abc");
        // A JSON encoder may escape the slash of base64.
        let escaped: SyncResponse =
            serde_json::from_str(r#"{"docs":[{"id":"a","data":"Pz8\/"}],"cursors":{}}"#)
                .expect("escaped JSON");
        assert_eq!(escaped.docs[0].data, b"???");
    }

    #[test]
    fn a_binary_answer_whose_sizes_do_not_add_up_is_refused() {
        for (name, body) in [
            ("cut off", binary(HEADER, b"abcd")),
            ("bytes beyond the sizes", binary(HEADER, b"abcdef")),
            ("no header line", HEADER.as_bytes().to_vec()),
            ("header not JSON", binary("{nope", b"abcde")),
        ] {
            let refused = SyncResponse::from_binary(&body);
            assert!(refused.is_err(), "{name}: {refused:?}");
        }
        let not_base64: Result<SyncResponse, _> =
            serde_json::from_str(r#"{"docs":[{"id":"a","data":"***"}],"cursors":{}}"#);
        assert!(not_base64.is_err());
    }
}

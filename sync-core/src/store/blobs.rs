//! Photos and attachments in the device store: blobs named by the SHA-256
//! of their bytes (so the same photo is kept once however often it is
//! attached), a size limit, attaching a photo to an issue report, and the
//! queue of blobs the server does not have yet (uploaded by
//! [`crate::sync::blobs`] after the documents that list them).

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, Value};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::Store;
use crate::codes::Op;
use crate::issue;
use crate::{Error, Reason, Result};

/// Largest photo or attachment a device accepts: 10 MiB (the server's
/// default limit too).
pub const MAX_BLOB_BYTES: u64 = 10 * 1024 * 1024;

/// What the store holds of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// SHA-256 of the bytes, hex.
    pub hash: String,
    /// Size, bytes.
    pub size: u64,
    /// What it is, e.g. `image/jpeg`.
    pub content_type: String,
    /// Waiting to be uploaded.
    pub pending_upload: bool,
}

/// A blob waiting to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBlob {
    /// SHA-256, hex.
    pub hash: String,
    /// Size, bytes.
    pub size: u64,
    /// The document it is uploaded for, once one listing it is known.
    pub doc_id: Option<String>,
}

/// SHA-256 of `data`, hex: the name of a blob.
pub fn blob_hash(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Whether `s` is a blob name (64 hex digits).
pub fn is_blob_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What `data` is, from its first bytes.
pub(crate) fn sniff_content_type(data: &[u8]) -> &'static str {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        "application/octet-stream"
    }
}

fn too_large() -> Error {
    Reason::new(
        format!("文件过大：最大{} MB", MAX_BLOB_BYTES >> 20),
        format!("larger than the {} MB limit", MAX_BLOB_BYTES >> 20),
    )
    .on("photo")
}

impl Store {
    /// Keep `data` as a blob and queue it for upload; returns its name
    /// (SHA-256 hex). Storing the same bytes again stores nothing new.
    /// Refused, with nothing stored, past [`MAX_BLOB_BYTES`] or when empty.
    pub fn put_blob(&mut self, data: &[u8]) -> Result<String> {
        let size = data.len() as u64;
        if size > MAX_BLOB_BYTES {
            return Err(too_large());
        }
        if data.is_empty() {
            return Err(Reason::new("文件为空", "the file is empty").on("photo"));
        }
        let hash = blob_hash(data);
        let now = self.clock.now_ms();
        self.write(|s| {
            let new = s
                .conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO blobs (hash, size, content_type, data, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![hash, size as i64, sniff_content_type(data), data, now])?;
            if new > 0 {
                s.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO blob_uploads (hash, doc_id, queued_at) VALUES (?1, '', ?2)",
                    )?
                    .execute(params![hash, now])?;
            }
            Ok(())
        })?;
        Ok(hash)
    }

    /// Attach a photo to issue report `issue_id`: keep its bytes (once),
    /// list it in the report's `photos` and queue it for upload, all in one
    /// transaction. Returns the photo's name (SHA-256 hex). Attaching the
    /// same photo twice lists it once.
    pub fn attach_photo(&mut self, issue_id: &str, data: &[u8]) -> Result<String> {
        // Check the report first: nothing is stored for a wrong id.
        self.issue(issue_id)?;
        self.write(|s| {
            let hash = s.put_blob(data)?;
            let h = hash.clone();
            s.edit_doc(issue_id, Op::AttachPhoto.code(), |tx| {
                let photos = match tx.get(&automerge::ROOT, "photos")? {
                    Some((Value::Object(ObjType::List), obj)) => obj,
                    _ => tx.put_object(&automerge::ROOT, "photos", ObjType::List)?,
                };
                let n = tx.length(&photos);
                for i in 0..n {
                    if let Some((Value::Scalar(v), _)) = tx.get(&photos, i)?
                        && let ScalarValue::Str(p) = v.as_ref()
                        && p.eq_ignore_ascii_case(&h)
                    {
                        return Ok(());
                    }
                }
                tx.insert(&photos, n, h.as_str())?;
                Ok(())
            })?;
            // Even a blob the server has must be recorded there for this
            // report, so that the report's readers may see it.
            s.queue_upload(&hash, issue_id)?;
            Ok(hash)
        })
    }

    /// Queue `hash` (held by this store) for upload for document `doc_id`
    /// (in place of an upload for no document yet).
    fn queue_upload(&mut self, hash: &str, doc_id: &str) -> Result<()> {
        let now = self.clock.now_ms();
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO blob_uploads (hash, doc_id, queued_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![hash, doc_id, now])?;
        self.conn
            .prepare_cached("DELETE FROM blob_uploads WHERE hash = ?1 AND doc_id = ''")?
            .execute([hash])?;
        Ok(())
    }

    /// The bytes of blob `hash`, if this store holds it.
    pub fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM blobs WHERE hash = ?1")?
            .query_row([hash.to_ascii_lowercase()], |r| r.get(0))
            .optional()?)
    }

    /// What this store holds of blob `hash`.
    pub fn blob_info(&self, hash: &str) -> Result<Option<BlobInfo>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT b.hash, b.size, b.content_type,
                        EXISTS (SELECT 1 FROM blob_uploads u WHERE u.hash = b.hash)
                 FROM blobs b WHERE b.hash = ?1",
            )?
            .query_row([hash.to_ascii_lowercase()], |r| {
                Ok(BlobInfo {
                    hash: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    content_type: r.get(2)?,
                    pending_upload: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// `len` bytes of blob `hash` from `offset` (fewer at its end).
    pub(crate) fn blob_range(&self, hash: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.conn
            .prepare_cached("SELECT substr(data, ?2, ?3) FROM blobs WHERE hash = ?1")?
            .query_row(params![hash, offset as i64 + 1, len as i64], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::NotFound {
                kind: "blob",
                id: hash.to_owned(),
            })
    }

    /// Blobs waiting to be uploaded, oldest first. A blob stored with
    /// [`Store::put_blob`] and listed in a report by its caller is matched
    /// to that report here.
    pub fn pending_blobs(&mut self) -> Result<Vec<PendingBlob>> {
        let mut pending: Vec<PendingBlob> = self
            .conn
            .prepare_cached(
                "SELECT u.hash, b.size, u.doc_id FROM blob_uploads u JOIN blobs b ON b.hash = u.hash
                 ORDER BY u.queued_at, u.hash",
            )?
            .query_map([], |r| {
                let doc: String = r.get(2)?;
                Ok(PendingBlob {
                    hash: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    doc_id: (!doc.is_empty()).then_some(doc),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if pending.iter().any(|p| p.doc_id.is_none()) {
            let issues: Vec<String> = self
                .conn
                .prepare_cached("SELECT id FROM docs WHERE kind = ?1 ORDER BY id")?
                .query_map([issue::KIND], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let unknown: Vec<PendingBlob> = pending
                .iter()
                .filter(|p| p.doc_id.is_none())
                .cloned()
                .collect();
            pending.retain(|p| p.doc_id.is_some());
            for id in issues {
                let Ok(i) = self.issue(&id) else { continue };
                for p in &unknown {
                    if i.photos.iter().any(|h| h.eq_ignore_ascii_case(&p.hash)) {
                        self.queue_upload(&p.hash, &id)?;
                        pending.push(PendingBlob {
                            doc_id: Some(id.clone()),
                            ..p.clone()
                        });
                    }
                }
            }
        }
        Ok(pending)
    }

    /// The server has blob `hash` complete for `doc_id`: take it off the
    /// upload queue.
    pub(crate) fn blob_uploaded(&mut self, hash: &str, doc_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM blob_uploads WHERE hash = ?1 AND doc_id = ?2")?
            .execute([hash, doc_id])?;
        Ok(())
    }

    /// Keep a blob downloaded from the server (verified by the caller).
    pub(crate) fn store_downloaded_blob(&mut self, hash: &str, data: &[u8]) -> Result<()> {
        let now = self.clock.now_ms();
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO blobs (hash, size, content_type, data, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                hash,
                data.len() as i64,
                sniff_content_type(data),
                data,
                now
            ])?;
        Ok(())
    }

    /// The thumbnail of photo `hash` kept on this device, if any.
    pub fn thumbnail(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM thumbnails WHERE hash = ?1")?
            .query_row([hash], |r| r.get(0))
            .optional()?)
    }

    /// Keep a thumbnail downloaded from the server.
    pub(crate) fn store_thumbnail(&mut self, hash: &str, data: &[u8]) -> Result<()> {
        let now = self.clock.now_ms();
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO thumbnails (hash, data, fetched_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![hash, data, now])?;
        Ok(())
    }

    /// Remove the photos no report on this device lists any more (its
    /// reports were purged: the user lost access). With `keep_unattached`
    /// a photo stored but not yet listed in a report stays. Returns how
    /// many were removed.
    pub fn drop_unreferenced_blobs(&mut self, keep_unattached: bool) -> Result<usize> {
        let issues: Vec<String> = self
            .conn
            .prepare_cached("SELECT id FROM docs WHERE kind = ?1")?
            .query_map([issue::KIND], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut listed = std::collections::HashSet::new();
        for id in issues {
            if let Ok(i) = self.issue(&id) {
                listed.extend(i.photos.into_iter().map(|p| p.to_ascii_lowercase()));
            }
        }
        let held: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT hash FROM blobs WHERE ?1 = 0
                 OR hash NOT IN (SELECT hash FROM blob_uploads WHERE doc_id = '')",
            )?
            .query_map([keep_unattached as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let gone: Vec<String> = held.into_iter().filter(|h| !listed.contains(h)).collect();
        let thumbs: Vec<String> = self
            .conn
            .prepare_cached("SELECT hash FROM thumbnails")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.write(|s| {
            for h in thumbs.iter().filter(|h| !listed.contains(*h)) {
                s.conn
                    .prepare_cached("DELETE FROM thumbnails WHERE hash = ?1")?
                    .execute([h])?;
            }
            for h in &gone {
                s.conn
                    .prepare_cached("DELETE FROM blob_uploads WHERE hash = ?1")?
                    .execute([h])?;
                s.conn
                    .prepare_cached("DELETE FROM blobs WHERE hash = ?1")?
                    .execute([h])?;
            }
            Ok(())
        })?;
        Ok(gone.len())
    }
}

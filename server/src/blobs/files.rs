//! Blobs of the embedded-SQLite deployment: bytes in files under the data
//! directory, what is known of them in the SQLite database.
//!
//! Layout under `blobs/`: `partial/<hash>` while an upload is under way
//! (its length is the upload's offset; every chunk is fsynced before it
//! is acknowledged), `<hh>/<hash>` once verified (moved there by rename,
//! after an fsync, so a blob file is either whole or absent) and
//! `<hh>/<hash>.thumb.jpg` for its thumbnail (written to a temporary file,
//! fsynced, renamed). One server process owns the directory; appends to
//! one blob are serialised by an in-process lock. Files are created 0600
//! and directories 0700: photos show people and their homes. A write
//! refused for want of space (`ENOSPC`) keeps its text, so it is answered
//! 507 `storage_full` ([`crate::error`]).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Bytes;
use deadpool_sqlite::Pool;
use rusqlite::{OptionalExtension, params};

use super::{Appended, BlobInfo, BlobStore};
use crate::db::{DbError, run};

/// Blob files next to an SQLite database.
pub struct FileBlobStore {
    pool: Pool,
    dir: PathBuf,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn io(e: std::io::Error) -> DbError {
    DbError::Task(format!("blob file: {e}"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Run blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
        .map_err(io)
}

fn file_len(path: &Path) -> std::io::Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn read_if_there(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Create `dir` and its missing parents, 0700.
fn private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Options that create a file 0600.
fn private_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Make a directory entry durable (a rename or a new file in it).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

struct Row {
    size: u64,
    complete: bool,
    content_type: String,
    has_thumb: bool,
}

impl FileBlobStore {
    /// Blob files under `dir` (created if needed), their records in `pool`.
    pub fn open(pool: Pool, dir: PathBuf) -> std::io::Result<Self> {
        private_dir_all(&dir.join("partial"))?;
        Ok(Self {
            pool,
            dir,
            locks: Mutex::new(HashMap::new()),
        })
    }

    fn final_path(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2]).join(hash)
    }

    fn thumb_path(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2]).join(format!("{hash}.thumb.jpg"))
    }

    fn partial_path(&self, hash: &str) -> PathBuf {
        self.dir.join("partial").join(hash)
    }

    fn lock(&self, hash: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(hash.to_owned()).or_default().clone()
    }

    fn unlock_entry(&self, hash: &str) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.remove(hash);
    }

    async fn row(&self, hash: &str) -> Result<Option<Row>, DbError> {
        let h = hash.to_owned();
        run(&self.pool, move |c| {
            c.query_row(
                "SELECT size, complete, content_type, has_thumb FROM blobs WHERE hash = ?1",
                [h],
                |r| {
                    Ok(Row {
                        size: r.get::<_, i64>(0)? as u64,
                        complete: r.get::<_, i64>(1)? != 0,
                        content_type: r.get(2)?,
                        has_thumb: r.get::<_, i64>(3)? != 0,
                    })
                },
            )
            .optional()
        })
        .await
    }
}

#[async_trait]
impl BlobStore for FileBlobStore {
    async fn info(&self, hash: &str) -> Result<Option<BlobInfo>, DbError> {
        let Some(row) = self.row(hash).await? else {
            return Ok(None);
        };
        let received = if row.complete {
            row.size
        } else {
            // A crash after the rename into place but before the record
            // said so leaves the whole blob there: received, to be
            // verified again.
            let (p, fin, size) = (self.partial_path(hash), self.final_path(hash), row.size);
            blocking(move || {
                if !p.exists() && fin.exists() {
                    return Ok(size);
                }
                file_len(&p)
            })
            .await?
        };
        Ok(Some(BlobInfo {
            size: row.size,
            received,
            complete: row.complete,
            content_type: row.content_type,
            has_thumb: row.has_thumb,
        }))
    }

    async fn begin(
        &self,
        hash: &str,
        size: u64,
        doc_id: &str,
        user_id: &str,
    ) -> Result<BlobInfo, DbError> {
        let lock = self.lock(hash);
        let _held = lock.lock().await;
        let existing = self.row(hash).await?;
        let restart = existing
            .as_ref()
            .is_some_and(|r| !r.complete && r.size != size);
        if restart {
            let p = self.partial_path(hash);
            blocking(move || remove_if_there(&p)).await?;
        }
        let (h, d, u) = (hash.to_owned(), doc_id.to_owned(), user_id.to_owned());
        run(&self.pool, move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO blobs (hash, size, uploaded_by, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hash) DO UPDATE SET size = excluded.size
                 WHERE blobs.complete = 0",
                params![h, size as i64, u, now_ms()],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO blob_refs (hash, doc_id) VALUES (?1, ?2)",
                params![h, d],
            )?;
            tx.commit()
        })
        .await?;
        drop(_held);
        self.info(hash)
            .await?
            .ok_or_else(|| DbError::Task("blob vanished while beginning".into()))
    }

    async fn append(&self, hash: &str, offset: u64, data: Bytes) -> Result<Appended, DbError> {
        let lock = self.lock(hash);
        let _held = lock.lock().await;
        let Some(row) = self.row(hash).await? else {
            return Ok(Appended::Missing);
        };
        if row.complete {
            return Ok(Appended::Complete);
        }
        let path = self.partial_path(hash);
        let size = row.size;
        blocking(move || {
            let at = file_len(&path)?;
            if offset != at {
                return Ok(Appended::WrongOffset(at));
            }
            if at + data.len() as u64 > size {
                return Ok(Appended::TooLong);
            }
            let mut f = private_file().create(true).append(true).open(&path)?;
            f.write_all(&data)?;
            // Acknowledged bytes are on disk: the offset a client is told
            // survives a crash.
            f.sync_data()?;
            Ok(Appended::Ok(at + data.len() as u64))
        })
        .await
    }

    async fn partial(&self, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
        match self.row(hash).await? {
            Some(r) if !r.complete => {
                let (p, fin) = (self.partial_path(hash), self.final_path(hash));
                blocking(move || match read_if_there(&p)? {
                    Some(b) => Ok(Some(b)),
                    None => read_if_there(&fin),
                })
                .await
            }
            _ => Ok(None),
        }
    }

    async fn complete(
        &self,
        hash: &str,
        content_type: &str,
        thumb: Option<Vec<u8>>,
    ) -> Result<(), DbError> {
        let lock = self.lock(hash);
        let _held = lock.lock().await;
        let (partial, fin, thumb_path) = (
            self.partial_path(hash),
            self.final_path(hash),
            self.thumb_path(hash),
        );
        let has_thumb = thumb.is_some();
        blocking(move || {
            let dir = fin.parent().map(Path::to_path_buf).unwrap_or_default();
            private_dir_all(&dir)?;
            if let Some(t) = thumb {
                let tmp = thumb_path.with_extension("tmp");
                let mut f = private_file()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&tmp)?;
                f.write_all(&t)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &thumb_path)?;
            }
            if partial.exists() {
                std::fs::File::open(&partial)?.sync_all()?;
                std::fs::rename(&partial, &fin)?;
            }
            sync_dir(&dir)
        })
        .await?;
        let (h, ct) = (hash.to_owned(), content_type.to_owned());
        run(&self.pool, move |c| {
            c.execute(
                "UPDATE blobs SET complete = 1, content_type = ?2, has_thumb = ?3 WHERE hash = ?1",
                params![h, ct, has_thumb as i64],
            )
        })
        .await?;
        drop(_held);
        self.unlock_entry(hash);
        Ok(())
    }

    async fn discard(&self, hash: &str) -> Result<(), DbError> {
        let lock = self.lock(hash);
        let _held = lock.lock().await;
        let h = hash.to_owned();
        run(&self.pool, move |c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM blobs WHERE hash = ?1 AND complete = 0", [&h])?;
            if n > 0 {
                tx.execute("DELETE FROM blob_refs WHERE hash = ?1", [&h])?;
            }
            tx.commit()
        })
        .await?;
        let p = self.partial_path(hash);
        blocking(move || remove_if_there(&p)).await?;
        drop(_held);
        self.unlock_entry(hash);
        Ok(())
    }

    async fn read(&self, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
        match self.row(hash).await? {
            Some(r) if r.complete => {
                let p = self.final_path(hash);
                blocking(move || read_if_there(&p)).await
            }
            _ => Ok(None),
        }
    }

    async fn thumb(&self, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
        match self.row(hash).await? {
            Some(r) if r.complete && r.has_thumb => {
                let p = self.thumb_path(hash);
                blocking(move || read_if_there(&p)).await
            }
            _ => Ok(None),
        }
    }

    async fn refs(&self, hash: &str) -> Result<Vec<String>, DbError> {
        let h = hash.to_owned();
        run(&self.pool, move |c| {
            let mut stmt =
                c.prepare_cached("SELECT doc_id FROM blob_refs WHERE hash = ?1 ORDER BY doc_id")?;
            stmt.query_map([h], |r| r.get(0))?.collect()
        })
        .await
    }
}

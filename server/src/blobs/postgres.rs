//! Blobs of PostgreSQL deployments, kept in the database (`bytea`) so that
//! every server process behind the load balancer sees the same uploads:
//! a chunk acknowledged by one process is the offset another reports.
//!
//! An upload in progress is a `blobs` row (complete = false) with its
//! chunks in `blob_chunks`; an append locks the row (`FOR UPDATE`), so two
//! processes appending at once cannot both write at one offset. On
//! completion the chunks are joined into `blobs.data` and deleted.

use async_trait::async_trait;
use axum::body::Bytes;
use deadpool_postgres::Pool;

use super::{Appended, BlobInfo, BlobStore};
use crate::db::DbError;
use crate::pg::{err, execute, pool_err, query, query_opt};

/// Blobs in a PostgreSQL database.
pub struct PgBlobStore {
    pool: Pool,
}

impl PgBlobStore {
    /// Blobs in the database behind `pool` (migrated by [`crate::pg::open`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[async_trait]
impl BlobStore for PgBlobStore {
    async fn info(&self, hash: &str) -> Result<Option<BlobInfo>, DbError> {
        let c = self.pool.get().await.map_err(pool_err)?;
        let row = query_opt(
            &c,
            "SELECT size, received, complete, content_type, thumb IS NOT NULL FROM blobs WHERE hash = $1",
            &[&hash],
        )
        .await
        .map_err(err)?;
        Ok(row.map(|r| BlobInfo {
            size: r.get::<_, i64>(0) as u64,
            received: r.get::<_, i64>(1) as u64,
            complete: r.get(2),
            content_type: r.get(3),
            has_thumb: r.get(4),
        }))
    }

    async fn begin(
        &self,
        hash: &str,
        size: u64,
        doc_id: &str,
        user_id: &str,
    ) -> Result<BlobInfo, DbError> {
        let mut c = self.pool.get().await.map_err(pool_err)?;
        let tx = c.transaction().await.map_err(err)?;
        let size = size as i64;
        // A new upload, or an unfinished one declared with another size
        // starting over.
        let restarted = query_opt(
            &tx,
            "INSERT INTO blobs (hash, size, uploaded_by, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hash) DO UPDATE SET size = excluded.size, received = 0
             WHERE blobs.complete = false AND blobs.size <> excluded.size
             RETURNING hash",
            &[&hash, &size, &user_id, &now_ms()],
        )
        .await
        .map_err(err)?
        .is_some();
        if restarted {
            execute(&tx, "DELETE FROM blob_chunks WHERE hash = $1", &[&hash])
                .await
                .map_err(err)?;
        }
        execute(
            &tx,
            "INSERT INTO blob_refs (hash, doc_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&hash, &doc_id],
        )
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        drop(c);
        self.info(hash)
            .await?
            .ok_or_else(|| DbError::Task("blob vanished while beginning".into()))
    }

    async fn append(&self, hash: &str, offset: u64, data: Bytes) -> Result<Appended, DbError> {
        let mut c = self.pool.get().await.map_err(pool_err)?;
        let tx = c.transaction().await.map_err(err)?;
        let Some(row) = query_opt(
            &tx,
            "SELECT size, received, complete FROM blobs WHERE hash = $1 FOR UPDATE",
            &[&hash],
        )
        .await
        .map_err(err)?
        else {
            return Ok(Appended::Missing);
        };
        let (size, received, complete): (i64, i64, bool) = (row.get(0), row.get(1), row.get(2));
        if complete {
            return Ok(Appended::Complete);
        }
        if offset != received as u64 {
            return Ok(Appended::WrongOffset(received as u64));
        }
        let end = received + data.len() as i64;
        if end > size {
            return Ok(Appended::TooLong);
        }
        let chunk: &[u8] = &data;
        execute(
            &tx,
            "INSERT INTO blob_chunks (hash, \"offset\", data) VALUES ($1, $2, $3)",
            &[&hash, &received, &chunk],
        )
        .await
        .map_err(err)?;
        execute(
            &tx,
            "UPDATE blobs SET received = $2 WHERE hash = $1",
            &[&hash, &end],
        )
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Appended::Ok(end as u64))
    }

    async fn partial(&self, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
        let c = self.pool.get().await.map_err(pool_err)?;
        let Some(row) = query_opt(&c, "SELECT complete FROM blobs WHERE hash = $1", &[&hash])
            .await
            .map_err(err)?
        else {
            return Ok(None);
        };
        if row.get::<_, bool>(0) {
            return Ok(None);
        }
        let rows = query(
            &c,
            "SELECT data FROM blob_chunks WHERE hash = $1 ORDER BY \"offset\"",
            &[&hash],
        )
        .await
        .map_err(err)?;
        let mut out = Vec::new();
        for r in rows {
            out.extend_from_slice(r.get::<_, &[u8]>(0));
        }
        Ok(Some(out))
    }

    async fn complete(
        &self,
        hash: &str,
        content_type: &str,
        thumb: Option<Vec<u8>>,
    ) -> Result<(), DbError> {
        let mut c = self.pool.get().await.map_err(pool_err)?;
        let tx = c.transaction().await.map_err(err)?;
        execute(
            &tx,
            "UPDATE blobs SET complete = true, received = size, content_type = $2, thumb = $3,
                 data = (SELECT string_agg(data, ''::bytea ORDER BY \"offset\")
                         FROM blob_chunks WHERE hash = $1)
             WHERE hash = $1 AND complete = false",
            &[&hash, &content_type, &thumb],
        )
        .await
        .map_err(err)?;
        execute(&tx, "DELETE FROM blob_chunks WHERE hash = $1", &[&hash])
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn discard(&self, hash: &str) -> Result<(), DbError> {
        let mut c = self.pool.get().await.map_err(pool_err)?;
        let tx = c.transaction().await.map_err(err)?;
        let n = execute(
            &tx,
            "DELETE FROM blobs WHERE hash = $1 AND complete = false",
            &[&hash],
        )
        .await
        .map_err(err)?;
        if n > 0 {
            execute(&tx, "DELETE FROM blob_refs WHERE hash = $1", &[&hash])
                .await
                .map_err(err)?;
            execute(&tx, "DELETE FROM blob_chunks WHERE hash = $1", &[&hash])
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn read(&self, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
        let c = self.pool.get().await.map_err(pool_err)?;
        Ok(query_opt(
            &c,
            "SELECT data FROM blobs WHERE hash = $1 AND complete",
            &[&hash],
        )
        .await
        .map_err(err)?
        .and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
    }

    async fn thumb(&self, hash: &str) -> Result<Option<Vec<u8>>, DbError> {
        let c = self.pool.get().await.map_err(pool_err)?;
        Ok(query_opt(
            &c,
            "SELECT thumb FROM blobs WHERE hash = $1 AND complete",
            &[&hash],
        )
        .await
        .map_err(err)?
        .and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
    }

    async fn refs(&self, hash: &str) -> Result<Vec<String>, DbError> {
        let c = self.pool.get().await.map_err(pool_err)?;
        Ok(query(
            &c,
            "SELECT doc_id FROM blob_refs WHERE hash = $1 ORDER BY doc_id",
            &[&hash],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }
}

//! Numbered migrations of the device store, embedded in the binary and
//! tracked with SQLite's `user_version`. A shipped migration is never edited.

use rusqlite::Connection;

use crate::{Error, Result};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_blobs.sql"),
    include_str!("migrations/0003_pending_index.sql"),
    include_str!("migrations/0004_heal.sql"),
    include_str!("migrations/0005_thumbnails.sql"),
    include_str!("migrations/0006_reveals.sql"),
    include_str!("migrations/0007_pending_listing.sql"),
    include_str!("migrations/0008_no_visit_rows.sql"),
    include_str!("migrations/0009_chunk_read.sql"),
];

/// Bring the database up to the newest schema.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let newest = MIGRATIONS.len() as i64;
    if version > newest {
        return Err(Error::SchemaTooNew {
            found: version,
            supported: newest,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

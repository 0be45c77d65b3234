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
    include_str!("migrations/0010_docs_rowid.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A store as migration `version` left it.
    fn at_version(version: usize) -> Connection {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).expect("an earlier migration");
        }
        conn.pragma_update(None, "user_version", version as i64)
            .expect("the version");
        conn
    }

    fn table_sql(conn: &Connection, table: &str) -> String {
        conn.query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .expect("the table")
    }

    #[test]
    fn documents_and_thumbnails_move_to_rowid_tables_with_every_row() {
        let conn = at_version(9);
        for (id, snapshot) in [("d2", vec![7u8; 3000]), ("d1", vec![1u8, 2])] {
            conn.execute(
                "INSERT INTO docs (id, kind, scope, snapshot, loose, updated_at)
                 VALUES (?1, 'household', '110101001001001', ?2, 3, 42)",
                rusqlite::params![id, snapshot],
            )
            .expect("a document");
        }
        conn.execute(
            "INSERT INTO docs (id, kind, scope, snapshot, loose, updated_at)
             VALUES ('d3', 'grid', '110101001001001', NULL, 1, 43)",
            [],
        )
        .expect("a document with changes only");
        conn.execute(
            "INSERT INTO thumbnails (hash, data, fetched_at) VALUES ('h1', x'ffd8', 7)",
            [],
        )
        .expect("a thumbnail");

        migrate(&conn).expect("migrated");

        for table in ["docs", "thumbnails"] {
            let sql = table_sql(&conn, table);
            assert!(
                !sql.to_uppercase().contains("WITHOUT ROWID"),
                "{table} is still WITHOUT ROWID: {sql}"
            );
        }
        type Row = (String, String, String, Option<Vec<u8>>, i64, i64);
        let docs: Vec<Row> = conn
            .prepare("SELECT id, kind, scope, snapshot, loose, updated_at FROM docs ORDER BY id")
            .expect("a query")
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let grid = "110101001001001".to_owned();
        assert_eq!(
            docs,
            vec![
                (
                    "d1".into(),
                    "household".into(),
                    grid.clone(),
                    Some(vec![1, 2]),
                    3,
                    42
                ),
                (
                    "d2".into(),
                    "household".into(),
                    grid.clone(),
                    Some(vec![7; 3000]),
                    3,
                    42
                ),
                ("d3".into(), "grid".into(), grid, None, 1, 43),
            ]
        );
        let thumbnail: (String, Vec<u8>, i64) = conn
            .query_row("SELECT hash, data, fetched_at FROM thumbnails", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("the thumbnail");
        assert_eq!(thumbnail, ("h1".into(), vec![0xff, 0xd8], 7));
        // The ids are still keys.
        let again = conn.execute(
            "INSERT INTO docs (id, kind, scope, loose, updated_at)
             VALUES ('d1', 'household', 'x', 0, 0)",
            [],
        );
        assert!(again.is_err(), "a second row for d1 was taken");
    }
}

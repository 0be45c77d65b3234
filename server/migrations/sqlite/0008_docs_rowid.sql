-- `docs` becomes an ordinary (rowid) table.
--
-- As a WITHOUT ROWID table its rows were the keys of its B-tree, and the
-- B-tree's interior pages held whole rows: with the snapshot (often over
-- a KB) only a few fit a page, the tree grew deep, and every lookup of a
-- document walked it (500 lookups took 0.4 ms on an empty server and
-- 5-7 ms after twenty grids). SQLite advises WITHOUT ROWID only for rows
-- under about a twentieth of a page. Now the ids have an index of their
-- own, a few dozen to a page, and a lookup reads a row only when found.
CREATE TABLE docs_new (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    holder        TEXT,
    snapshot_seq  INTEGER NOT NULL DEFAULT 0,
    loose         INTEGER NOT NULL DEFAULT 0,
    last_seq      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    writer        TEXT,
    writer_after  INTEGER NOT NULL DEFAULT 0,
    snapshot      BLOB
);
INSERT INTO docs_new (id, kind, scope, holder, snapshot_seq, loose, last_seq, updated_at,
        writer, writer_after, snapshot)
    SELECT id, kind, scope, holder, snapshot_seq, loose, last_seq, updated_at,
        writer, writer_after, snapshot
    FROM docs ORDER BY id;
DROP TABLE docs;
ALTER TABLE docs_new RENAME TO docs;

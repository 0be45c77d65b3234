-- Who wrote a document last, so a pull need not read the change log to
-- know that every change a device lacks of a document is its own (its
-- own changes are not echoed back, and right after a grid's push that is
-- every document of the page).
--
-- writer:        the device that pushed the document's latest changes
--                (NULL: the server, or written before this column);
-- writer_after:  the seq of the document's last change from anyone else
--                (0: none); every change after it is the writer's.
--
-- The table is rebuilt rather than altered so that the snapshot, often
-- several KB, is the last column: SQLite reads a row's columns in order,
-- and a column stored after a large BLOB costs a walk of its overflow
-- pages on every lookup of the row (every pushed document, every page
-- of a pull).
CREATE TABLE docs_new (
    id            TEXT PRIMARY KEY,
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
) WITHOUT ROWID;
INSERT INTO docs_new (id, kind, scope, holder, snapshot_seq, loose, last_seq, updated_at, snapshot)
    SELECT id, kind, scope, holder, snapshot_seq, loose, last_seq, updated_at, snapshot FROM docs;
DROP TABLE docs;
ALTER TABLE docs_new RENAME TO docs;

-- `docs` and `thumbnails` become ordinary (rowid) tables.
--
-- As WITHOUT ROWID tables their rows were the keys of their B-trees. A
-- key that large (a document's snapshot, often over a kilobyte; a
-- thumbnail's bytes) keeps about a kilobyte in the tree's page and spills
-- the rest onto an overflow page of its own, mostly empty: a supervisor's
-- store after pulling 10,000 households took 116 MB (file and log), 60 MB
-- now; inserting the rows took three times as long, and every lookup of a
-- document walked a tree of two rows a page. SQLite advises WITHOUT ROWID only for
-- rows under about a twentieth of a page (the server's `docs` changed the
-- same way in its migration 0008). Now the ids have an index of their
-- own, dozens to a page; the large column comes last, so reading the
-- others does not step over it.
CREATE TABLE docs_new (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    loose       INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    snapshot    BLOB
);
INSERT INTO docs_new (id, kind, scope, loose, updated_at, snapshot)
    SELECT id, kind, scope, loose, updated_at, snapshot FROM docs ORDER BY id;
DROP TABLE docs;
ALTER TABLE docs_new RENAME TO docs;

CREATE TABLE thumbnails_new (
    hash        TEXT PRIMARY KEY NOT NULL,
    fetched_at  INTEGER NOT NULL,
    data        BLOB NOT NULL
);
INSERT INTO thumbnails_new (hash, fetched_at, data)
    SELECT hash, fetched_at, data FROM thumbnails ORDER BY hash;
DROP TABLE thumbnails;
ALTER TABLE thumbnails_new RENAME TO thumbnails;

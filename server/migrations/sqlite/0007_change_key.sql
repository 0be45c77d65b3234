-- A change is unique within its document rather than across the whole log.
--
-- The hash alone was the key of an index in which every push's rows land
-- at random places: once that index outgrew the page cache each push
-- dirtied pages all over it, and pushes slowed as the log grew (storing a
-- grid took up to twice as long after twenty grids as on an empty
-- server). Keyed
-- by document first, a push's rows are neighbours (document ids are
-- time-ordered UUIDs). It is also what a change is: the same Automerge
-- change may belong to two documents (one forked from the other), and
-- each document's log must hold it.
--
-- SQLite cannot drop a column's UNIQUE constraint: the table is rebuilt.
CREATE TABLE changes_new (
    seq          INTEGER PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    hash         BLOB NOT NULL,
    data         BLOB NOT NULL,
    user_id      TEXT,
    device_id    TEXT,
    received_at  INTEGER NOT NULL
);
INSERT INTO changes_new (seq, doc_id, hash, data, user_id, device_id, received_at)
    SELECT seq, doc_id, hash, data, user_id, device_id, received_at FROM changes ORDER BY seq;
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
CREATE INDEX changes_doc ON changes (doc_id, seq);
CREATE UNIQUE INDEX changes_doc_hash ON changes (doc_id, hash);

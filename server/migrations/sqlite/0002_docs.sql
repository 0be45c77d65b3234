-- Documents and the append-only change log.

-- Every Automerge change the server accepted, in the order accepted. `seq`
-- is the log position devices keep cursors on.
CREATE TABLE changes (
    seq          INTEGER PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    data         BLOB NOT NULL,
    user_id      TEXT,
    device_id    TEXT,
    received_at  INTEGER NOT NULL
);
CREATE INDEX changes_doc ON changes (doc_id, seq);

-- One row per document: what access control needs, and a compacted
-- snapshot holding every change up to `snapshot_seq`.
CREATE TABLE docs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    holder        TEXT,
    snapshot      BLOB,
    snapshot_seq  INTEGER NOT NULL DEFAULT 0,
    loose         INTEGER NOT NULL DEFAULT 0,
    last_seq      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- The feeds a document is in ('g:<grid code>', 'h:<holder user id>'), with
-- the document's latest change and when it entered the feed.
CREATE TABLE feed (
    feed       TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    last_seq   INTEGER NOT NULL,
    since_seq  INTEGER NOT NULL,
    PRIMARY KEY (feed, doc_id)
) WITHOUT ROWID;
CREATE INDEX feed_order ON feed (feed, last_seq);

-- Documents that left a feed (moved to another grid, holder changed):
-- devices following the feed must purge them.
CREATE TABLE departures (
    feed    TEXT NOT NULL,
    doc_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (feed, doc_id)
) WITHOUT ROWID;
CREATE INDEX departures_order ON departures (feed, seq);

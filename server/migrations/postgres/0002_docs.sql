-- Documents and the append-only change log; the same tables as
-- migrations/sqlite/0002. Owned by store/postgres.rs.

-- Every Automerge change the server accepted, in the order accepted. `seq`
-- is the log position devices keep cursors on. It is assigned by the store
-- (max + 1 under a transaction-level advisory lock), not by a sequence: a
-- sequence would leave gaps on rollback and hand out numbers in an order
-- other than commit order, and a pull could then skip a change.
CREATE TABLE changes (
    seq          BIGINT PRIMARY KEY,
    doc_id       TEXT COLLATE "C" NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    data         BYTEA NOT NULL,
    user_id      TEXT,
    device_id    TEXT,
    received_at  BIGINT NOT NULL
);
CREATE INDEX changes_doc ON changes (doc_id, seq);

-- One row per document: what access control needs, and a compacted
-- snapshot holding every change up to `snapshot_seq`.
CREATE TABLE docs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    kind          TEXT NOT NULL,
    scope         TEXT COLLATE "C" NOT NULL,
    holder        TEXT COLLATE "C",
    snapshot      BYTEA,
    snapshot_seq  BIGINT NOT NULL DEFAULT 0,
    loose         BIGINT NOT NULL DEFAULT 0,
    last_seq      BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- The feeds a document is in ('g:<grid code>', 'h:<holder user id>'), with
-- the document's latest change and when it entered the feed.
CREATE TABLE feed (
    feed       TEXT COLLATE "C" NOT NULL,
    doc_id     TEXT COLLATE "C" NOT NULL,
    last_seq   BIGINT NOT NULL,
    since_seq  BIGINT NOT NULL,
    PRIMARY KEY (feed, doc_id)
);
CREATE INDEX feed_order ON feed (feed, last_seq);

-- Documents that left a feed (moved to another grid, holder changed):
-- devices following the feed must purge them.
CREATE TABLE departures (
    feed    TEXT COLLATE "C" NOT NULL,
    doc_id  TEXT COLLATE "C" NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (feed, doc_id)
);
CREATE INDEX departures_order ON departures (feed, seq);

-- The device store: documents, their changes, the outbox, and projections.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per Automerge document. `snapshot` is a full save; changes that
-- came after it are in `chunks`, folded in now and then (compaction).
CREATE TABLE docs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    snapshot    BLOB,
    loose       INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Changes (or saved documents) not yet folded into the snapshot.
CREATE TABLE chunks (
    id      INTEGER PRIMARY KEY,
    doc_id  TEXT NOT NULL,
    data    BLOB NOT NULL
);
CREATE INDEX chunks_doc ON chunks (doc_id);

-- Local changes not yet acknowledged by the server, in the order made.
CREATE TABLE outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id  TEXT NOT NULL,
    hash    BLOB NOT NULL,
    data    BLOB NOT NULL
);

-- Projections: derived from the documents, rebuilt from them if dropped.
CREATE TABLE p_grids (
    code       TEXT PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    community  TEXT NOT NULL,
    street     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE p_households (
    doc_id        TEXT PRIMARY KEY,
    grid          TEXT NOT NULL,
    area          TEXT NOT NULL,
    compound      TEXT NOT NULL,
    building      TEXT NOT NULL,
    unit          TEXT NOT NULL,
    room          TEXT NOT NULL,
    address_key   TEXT NOT NULL,
    holder        TEXT,
    residents     INTEGER NOT NULL,
    last_visit    INTEGER,
    last_contact  INTEGER,
    merged_into   TEXT
) WITHOUT ROWID;
CREATE INDEX p_households_place ON p_households (grid, area, compound, building, unit, room);
CREATE INDEX p_households_visit ON p_households (last_visit);
CREATE INDEX p_households_holder ON p_households (holder, last_contact);
CREATE INDEX p_households_address ON p_households (grid, address_key);

CREATE TABLE p_residents (
    doc_id       TEXT NOT NULL,
    resident_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    id_number    TEXT,
    id_reversed  TEXT,
    sex          TEXT,
    birth_date   TEXT,
    phone        TEXT,
    status       TEXT,
    removed      INTEGER NOT NULL,
    PRIMARY KEY (doc_id, resident_id)
) WITHOUT ROWID;
CREATE INDEX p_residents_name ON p_residents (name);
CREATE INDEX p_residents_id_rev ON p_residents (id_reversed);
CREATE INDEX p_residents_id ON p_residents (id_number);

CREATE TABLE p_resident_tags (
    tag          TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    resident_id  TEXT NOT NULL,
    PRIMARY KEY (tag, doc_id, resident_id)
) WITHOUT ROWID;
CREATE INDEX p_resident_tags_doc ON p_resident_tags (doc_id);

CREATE TABLE p_visits (
    doc_id     TEXT NOT NULL,
    visit_id   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    visitor    TEXT NOT NULL,
    role       TEXT NOT NULL,
    method     TEXT NOT NULL,
    follow_up  INTEGER NOT NULL,
    PRIMARY KEY (doc_id, visit_id)
) WITHOUT ROWID;
CREATE INDEX p_visits_at ON p_visits (at);

-- Pairs of households a person confirmed are not duplicates.
CREATE TABLE p_distinct (
    doc_id  TEXT NOT NULL,
    other   TEXT NOT NULL,
    PRIMARY KEY (doc_id, other)
) WITHOUT ROWID;

-- Local changes the server refused, with its reason, until a person
-- discards them (the document is then rebuilt without them).
CREATE TABLE rejected (
    hash     BLOB PRIMARY KEY,
    doc_id   TEXT NOT NULL,
    code     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    data     BLOB NOT NULL,
    at       INTEGER NOT NULL
) WITHOUT ROWID;

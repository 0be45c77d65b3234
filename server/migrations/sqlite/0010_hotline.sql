-- The 12345 hotline (接诉即办): external platforms filing reports into a
-- grid's loop, and the webhook calls telling them of every step. Owned by
-- hotline.rs.

-- A platform's credential. The bearer token is stored only as its SHA-256
-- (it is 256 random bits, so a plain hash is enough); the signing secret
-- is stored as given, since every webhook call is signed with it.
CREATE TABLE hotline_credentials (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    token_sha256    TEXT NOT NULL UNIQUE,
    signing_secret  TEXT NOT NULL,
    webhook_url     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
) STRICT;

-- One row per 诉求 filed: the platform's own reference number (unique per
-- credential: filing twice makes one report) and the report it made.
-- `change` holds the creating change until it is stored, so a filing cut
-- short (a crash) is finished by the next call with the same reference,
-- with the same report id.
CREATE TABLE hotline_cases (
    credential_id  TEXT NOT NULL REFERENCES hotline_credentials (id),
    reference      TEXT NOT NULL,
    report_id      TEXT NOT NULL UNIQUE,
    change         BLOB,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (credential_id, reference)
) STRICT;
CREATE INDEX hotline_cases_unfiled ON hotline_cases (created_at) WHERE change IS NOT NULL;

-- How far the dispatcher has followed the change log for steps of filed
-- reports. Starts at the log's end: no report was filed before this table.
CREATE TABLE hotline_cursor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
) STRICT;
INSERT INTO hotline_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM changes;

-- Webhook calls to make: one per step of a filed report, in the order the
-- steps were found (`id`). A row is marked delivered only after a 2xx.
CREATE TABLE hotline_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id     TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    payload       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    last_error    TEXT,
    last_at       INTEGER,
    delivered_at  INTEGER,
    created_at    INTEGER NOT NULL,
    UNIQUE (report_id, event_id)
) STRICT;
CREATE INDEX hotline_deliveries_pending ON hotline_deliveries (report_id, id) WHERE delivered_at IS NULL;
CREATE INDEX hotline_deliveries_due ON hotline_deliveries (next_at) WHERE delivered_at IS NULL;

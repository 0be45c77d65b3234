-- The 12345 hotline (接诉即办): external platforms filing reports into a
-- grid's loop, and the webhook calls telling them of every step. Owned by
-- hotline.rs; the SQLite twin (0010_hotline.sql) explains the columns.

CREATE TABLE hotline_credentials (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    token_sha256    TEXT COLLATE "C" NOT NULL UNIQUE,
    signing_secret  TEXT NOT NULL,
    webhook_url     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);

CREATE TABLE hotline_cases (
    credential_id  TEXT COLLATE "C" NOT NULL REFERENCES hotline_credentials (id),
    reference      TEXT COLLATE "C" NOT NULL,
    report_id      TEXT COLLATE "C" NOT NULL UNIQUE,
    change         BYTEA,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (credential_id, reference)
);

CREATE TABLE hotline_cursor (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL
);
INSERT INTO hotline_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM changes;

CREATE TABLE hotline_deliveries (
    id            BIGSERIAL PRIMARY KEY,
    report_id     TEXT COLLATE "C" NOT NULL,
    event_id      TEXT COLLATE "C" NOT NULL,
    payload       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    last_error    TEXT,
    last_at       BIGINT,
    delivered_at  BIGINT,
    created_at    BIGINT NOT NULL,
    UNIQUE (report_id, event_id)
);
CREATE INDEX hotline_deliveries_pending ON hotline_deliveries (report_id, id) WHERE delivered_at IS NULL;
CREATE INDEX hotline_deliveries_due ON hotline_deliveries (next_at) WHERE delivered_at IS NULL;

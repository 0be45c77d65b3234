-- Photos and attachments (blobs), named by the SHA-256 of their bytes,
-- kept in the database so that every server process sees them. An upload
-- in progress is a row with complete = false and its chunks in
-- blob_chunks; when the hash is verified the chunks become `data`.
CREATE TABLE blobs (
    hash          TEXT PRIMARY KEY,
    size          BIGINT NOT NULL,
    received      BIGINT NOT NULL DEFAULT 0,
    complete      BOOLEAN NOT NULL DEFAULT false,
    content_type  TEXT NOT NULL DEFAULT 'application/octet-stream',
    data          BYTEA,
    thumb         BYTEA,
    uploaded_by   TEXT,
    created_at    BIGINT NOT NULL
);

-- The chunks of uploads in progress, by offset.
CREATE TABLE blob_chunks (
    hash     TEXT NOT NULL,
    "offset" BIGINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (hash, "offset")
);

-- The documents (issue reports) a blob was uploaded for. A blob may be
-- read by whoever may read one of them, as long as it lists the blob.
CREATE TABLE blob_refs (
    hash    TEXT NOT NULL,
    doc_id  TEXT NOT NULL,
    PRIMARY KEY (hash, doc_id)
);

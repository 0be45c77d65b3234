-- Photos and attachments (blobs), named by the SHA-256 of their bytes.
-- The bytes live in files under the data directory (blobs/); this table
-- says what is known of each: its declared size, whether the upload is
-- complete (hash verified), what it is, and whether a thumbnail was made.
CREATE TABLE blobs (
    hash          TEXT PRIMARY KEY,
    size          INTEGER NOT NULL,
    complete      INTEGER NOT NULL DEFAULT 0,
    content_type  TEXT NOT NULL DEFAULT 'application/octet-stream',
    has_thumb     INTEGER NOT NULL DEFAULT 0,
    uploaded_by   TEXT,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- The documents (issue reports) a blob was uploaded for. A blob may be
-- read by whoever may read one of them, as long as it lists the blob.
CREATE TABLE blob_refs (
    hash    TEXT NOT NULL,
    doc_id  TEXT NOT NULL,
    PRIMARY KEY (hash, doc_id)
) WITHOUT ROWID;

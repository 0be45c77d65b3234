-- Photos and attachments on the device, named by the SHA-256 of their
-- bytes (hex), so the same photo is stored once however often attached.
CREATE TABLE blobs (
    hash          TEXT PRIMARY KEY,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    data          BLOB NOT NULL,
    added_at      INTEGER NOT NULL
);

-- Uploads to do: a blob and the document (issue report) it is uploaded
-- for, '' until one listing it is known. The server records the blob for
-- each document (its readers may see it), so a blob attached to two
-- reports has two rows, though its bytes are sent once. A row goes when
-- the server confirms the blob complete for that document.
CREATE TABLE blob_uploads (
    hash       TEXT NOT NULL REFERENCES blobs (hash) ON DELETE CASCADE,
    doc_id     TEXT NOT NULL DEFAULT '',
    queued_at  INTEGER NOT NULL,
    PRIMARY KEY (hash, doc_id)
) WITHOUT ROWID;

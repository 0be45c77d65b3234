-- The list rows of each document, as validation derived them from the
-- version of it at `seq` (its `last_seq` then): sent with the document to
-- a device that pulls it whole while `seq` is still the document's
-- `last_seq`, so the device lists it without decoding it. Derived data:
-- a row behind its document is never sent, and losing the table loses
-- nothing (devices derive the rows themselves).
CREATE TABLE listings (
    doc_id  TEXT PRIMARY KEY NOT NULL,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL
);

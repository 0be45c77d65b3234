-- A document waiting in p_pending may carry the list rows the server sent
-- with it (JSON, `Listing`): the next list query writes those instead of
-- decoding the document. An ordinary (rowid) table now: the rows are a
-- kilobyte or more, too large to be the keys of a WITHOUT ROWID B-tree.
CREATE TABLE p_pending_new (
    doc_id  TEXT PRIMARY KEY NOT NULL,
    listing TEXT
);
INSERT INTO p_pending_new (doc_id) SELECT doc_id FROM p_pending;
DROP TABLE p_pending;
ALTER TABLE p_pending_new RENAME TO p_pending;

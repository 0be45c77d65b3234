-- Documents received whole from the server whose list rows are not built
-- yet: a pulled page is stored as it came (fast, durable), and the lists
-- are brought up to date before the next query reads them (or in the
-- background, Store::index_pending). Projection rows are derived data.
CREATE TABLE p_pending (
    doc_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

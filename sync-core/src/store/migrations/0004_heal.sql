-- Documents the server may lack changes of: a pushed change was refused as
-- missing_dependencies, or the server's log lost changes (a restore from an
-- older backup). The device pushes back its own changes after `heads` (a
-- JSON list of the server's heads, hex), or, when they are not known
-- (NULL), its latest own changes to find out.
CREATE TABLE heal (
    doc_id  TEXT PRIMARY KEY,
    heads   TEXT
) WITHOUT ROWID;

-- Settling by change: a change pushed back from a document may also wait
-- in the outbox.
CREATE INDEX outbox_doc ON outbox (doc_id, hash);

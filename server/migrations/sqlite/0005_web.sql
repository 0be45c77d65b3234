-- The supervisor web pages: the audit log of reads of personal data.
--
-- Every unmasked view of a resident's ID number or phone and every export
-- is recorded here: who, what, when. Administrators read it on the web
-- (/web/admin/audit). The read model the pages aggregate from is derived
-- data kept apart (see server/src/web/readmodel.rs); only what cannot be
-- rebuilt lives in the main database.
CREATE TABLE IF NOT EXISTS web_audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    user_id   TEXT NOT NULL,
    username  TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS web_audit_at ON web_audit (at);

-- 群众诉求 and 需跟进 noted in visits, marked handled (已处理) on the
-- overview: who closed which visit's need, and when.
--
-- A visit is never edited (docs/adr/0002), so whether its need was
-- handled is not a field of the household document: it is kept here, in
-- the main database, keyed by the household and the visit's key. The web
-- read model is derived and rebuilt at will; this table is not, so a
-- closed need stays closed across a rebuild. A visit keeps its key when
-- duplicate households are merged, so closures are looked up by it
-- (needs_closed_visit). A later visit noting a new need is another key:
-- it opens a new item and reopens nothing.
CREATE TABLE IF NOT EXISTS needs_closed (
    household_id TEXT NOT NULL,
    visit_key    TEXT NOT NULL,
    closed_by    TEXT NOT NULL,
    closed_at    BIGINT NOT NULL,
    PRIMARY KEY (household_id, visit_key)
);
CREATE INDEX IF NOT EXISTS needs_closed_visit ON needs_closed (visit_key);

-- A change is unique within its document rather than across the whole log.
--
-- The hash alone was the key of an index in which every push's rows land
-- at random places: once that index outgrows memory each push dirties
-- pages all over it, and pushes slow as the log grows. Keyed by document
-- first, a push's rows are neighbours (document ids are time-ordered
-- UUIDs). It is also what a change is: the same Automerge change may
-- belong to two documents (one forked from the other), and each
-- document's log must hold it.
ALTER TABLE changes DROP CONSTRAINT changes_hash_key;
CREATE UNIQUE INDEX changes_doc_hash ON changes (doc_id, hash);

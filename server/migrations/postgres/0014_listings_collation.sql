-- listings.doc_id compares in byte order like every other document id
-- (docs.id is COLLATE "C", see 0001): with the database's default
-- collation, `l.doc_id = d.id` mixed two collations, its primary key
-- could not serve the lookup, and every 250 documents a pull sent whole
-- read the whole table (a sequential scan per chunk, growing with the
-- district: 129 ms for a grid's pull at 200 grids instead of ~50).
ALTER TABLE listings ALTER COLUMN doc_id TYPE TEXT COLLATE "C";

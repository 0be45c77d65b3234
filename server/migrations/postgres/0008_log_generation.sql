-- The change log's generation; the same table as migrations/sqlite/0009.
-- A random id made with the log, and made anew when a device shows that
-- the log lost changes it once held (a restore from an older backup).
CREATE TABLE log_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  TEXT NOT NULL
);
INSERT INTO log_generation (id, generation)
    VALUES (1, md5(random()::text || clock_timestamp()::text));

-- The change log's generation: a random id made with the log, and made
-- anew when a device shows that the log lost changes it once held (the
-- database was restored from an older backup, or a commit was lost). A
-- device that last saw another generation pulls again from the start and
-- pushes back what the server lacks (docs/protocol.md, "Restores").
CREATE TABLE log_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  TEXT NOT NULL
);
INSERT INTO log_generation (id, generation) VALUES (1, lower(hex(randomblob(16))));

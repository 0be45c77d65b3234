-- Importing the ledgers communities keep: the column mapping a community
-- confirmed. Owned by import/mapping.rs; the SQLite twin
-- (0011_ledger_import.sql) explains the columns.
CREATE TABLE ledger_mappings (
    community   TEXT COLLATE "C" PRIMARY KEY CHECK (length(community) = 12),
    mapping     TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Importing the ledgers communities keep (import.rs, docs/import.md): the
-- column mapping a community confirmed, so its next file is mapped
-- already. `mapping` is JSON: field code → column name (the header text).
CREATE TABLE ledger_mappings (
    community   TEXT PRIMARY KEY CHECK (length(community) = 12),
    mapping     TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

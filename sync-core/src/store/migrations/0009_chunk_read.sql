-- Kept news read once for a merge (a write of the root's `merged_into`)
-- is marked, so that the next news for the same household reads only what
-- was not read yet. Each arrival used to read every chunk kept since the
-- household was last listed, again: a phone receiving a colleague's edits
-- of households it does not open read more with every sync.
ALTER TABLE chunks ADD COLUMN no_merge INTEGER NOT NULL DEFAULT 0;

-- Reveals of a resident's full ID number and phone, recorded on the device
-- when the person asks for them and sent to the server's audit log at the
-- next sync (then removed here). Ids only: no name, number or phone.
CREATE TABLE reveals (
    id            TEXT PRIMARY KEY,
    at            INTEGER NOT NULL,
    user_id       TEXT NOT NULL,
    household_id  TEXT NOT NULL,
    resident_id   TEXT NOT NULL,
    reason        TEXT NOT NULL
) WITHOUT ROWID;

-- Users, devices, tokens and the territory. Owned by directory.rs
-- (directory/sqlite.rs). Times are Unix seconds (UTC).

-- The territory: street 街道 (9 digits) → community 社区 (12) → grid 网格 (15).
-- A child's code starts with its parent's code.
CREATE TABLE streets (
    code TEXT PRIMARY KEY CHECK (length(code) = 9),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE communities (
    code TEXT PRIMARY KEY CHECK (length(code) = 12),
    street_code TEXT NOT NULL REFERENCES streets (code),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at INTEGER NOT NULL,
    CHECK (substr(code, 1, 9) = street_code)
) STRICT;
CREATE INDEX communities_street ON communities (street_code);

CREATE TABLE grids (
    code TEXT PRIMARY KEY CHECK (length(code) = 15),
    community_code TEXT NOT NULL REFERENCES communities (code),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at INTEGER NOT NULL,
    CHECK (substr(code, 1, 12) = community_code)
) STRICT;
CREATE INDEX grids_community ON grids (community_code);

-- People who sign in. `password_hash` is an argon2id PHC string, NULL for
-- users who only sign in through the external identity provider.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('grid_worker', 'package_holder', 'supervisor', 'department', 'admin')),
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- Supervisors: the community (12 digits) or street (9 digits) they oversee.
    subtree TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Grid workers' grids.
CREATE TABLE user_grids (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grid_code TEXT NOT NULL REFERENCES grids (code),
    PRIMARY KEY (user_id, grid_code)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_grids_grid ON user_grids (grid_code);

-- Phones (and browsers), registered to one user at their first login.
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT,
    registered_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX devices_user ON devices (user_id);

-- A login: what access tokens (claim `sid`) and refresh tokens hang on.
-- Ending a session ends both on the next request.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    device_id TEXT REFERENCES devices (id),
    created_at INTEGER NOT NULL,
    ended_at INTEGER,
    end_reason TEXT
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_device ON sessions (device_id);

-- Refresh tokens, stored only as the SHA-256 of the token (hex). A used
-- token keeps its row (used_at set) so that presenting it again is
-- recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

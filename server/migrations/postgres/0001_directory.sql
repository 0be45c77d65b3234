-- Users, devices, tokens and the territory. Owned by directory.rs
-- (directory/postgres.rs); the same tables as migrations/sqlite/0001.
-- Times are Unix seconds (UTC). Text that is sorted or compared is
-- COLLATE "C" (byte order, as SQLite compares), whatever the database's
-- default collation.

-- SQLite's NOCASE: ASCII letters folded, nothing else. Usernames are unique
-- and looked up through it, exactly as in the SQLite schema.
CREATE FUNCTION gs_nocase(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

-- The territory: street 街道 (9 digits) → community 社区 (12) → grid 网格 (15).
-- A child's code starts with its parent's code.
CREATE TABLE streets (
    code TEXT COLLATE "C" PRIMARY KEY CHECK (length(code) = 9),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at BIGINT NOT NULL
);

CREATE TABLE communities (
    code TEXT COLLATE "C" PRIMARY KEY CHECK (length(code) = 12),
    street_code TEXT COLLATE "C" NOT NULL REFERENCES streets (code),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at BIGINT NOT NULL,
    CHECK (substr(code, 1, 9) = street_code)
);
CREATE INDEX communities_street ON communities (street_code);

CREATE TABLE grids (
    code TEXT COLLATE "C" PRIMARY KEY CHECK (length(code) = 15),
    community_code TEXT COLLATE "C" NOT NULL REFERENCES communities (code),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at BIGINT NOT NULL,
    CHECK (substr(code, 1, 12) = community_code)
);
CREATE INDEX grids_community ON grids (community_code);

-- People who sign in. `password_hash` is an argon2id PHC string, NULL for
-- users who only sign in through the external identity provider.
CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT COLLATE "C" NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('grid_worker', 'package_holder', 'supervisor', 'department', 'admin')),
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Supervisors: the community (12 digits) or street (9 digits) they oversee.
    subtree TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (gs_nocase(username));

-- Grid workers' grids.
CREATE TABLE user_grids (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grid_code TEXT COLLATE "C" NOT NULL REFERENCES grids (code),
    PRIMARY KEY (user_id, grid_code)
);
CREATE INDEX user_grids_grid ON user_grids (grid_code);

-- Phones (and browsers), registered to one user at their first login.
CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name TEXT,
    registered_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX devices_user ON devices (user_id);

-- A login: what access tokens (claim `sid`) and refresh tokens hang on.
-- Ending a session ends both on the next request.
CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    device_id TEXT COLLATE "C" REFERENCES devices (id),
    created_at BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_device ON sessions (device_id);

-- Refresh tokens, stored only as the SHA-256 of the token (hex). A used
-- token keeps its row (used_at set) so that presenting it again is
-- recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

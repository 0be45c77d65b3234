-- The 小三级 below the grid: 楼栋长 (building_head) and 单元长 (unit_head)
-- sign in too. They serve a post, a building or one unit of it, kept as
-- JSON {"grid", "compound", "building", "unit"} in `users.post`; the post's
-- grid is also their row in user_grids.
--
-- SQLite cannot change a CHECK constraint in place: the users table is
-- rebuilt (the documented create-copy-drop-rename procedure; `db::migrate`
-- runs migrations with foreign keys off and checks them afterwards, so the
-- tables referencing users keep their rows).
CREATE TABLE users_new (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('grid_worker', 'package_holder', 'supervisor', 'department', 'admin', 'building_head', 'unit_head')),
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- Supervisors: the community (12 digits) or street (9 digits) they oversee.
    subtree TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    department TEXT REFERENCES departments (code),
    -- 楼栋长/单元长: the building or unit they serve (JSON).
    post TEXT
) STRICT;
INSERT INTO users_new (id, username, display_name, role, password_hash, active, subtree, created_at, updated_at, department)
    SELECT id, username, display_name, role, password_hash, active, subtree, created_at, updated_at, department FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

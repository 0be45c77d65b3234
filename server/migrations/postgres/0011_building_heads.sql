-- The 小三级 below the grid: 楼栋长 (building_head) and 单元长 (unit_head)
-- sign in too. They serve a post, a building or one unit of it, kept as
-- JSON {"grid", "compound", "building", "unit"} in `users.post`; the post's
-- grid is also their row in user_grids.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('grid_worker', 'package_holder', 'supervisor', 'department', 'admin', 'building_head', 'unit_head'));
ALTER TABLE users ADD COLUMN post TEXT;

-- Departments (职能部门) and the issue report read model. Owned by
-- directory.rs (departments, users.department) and reports.rs (reports,
-- report_departments, report_cursor).

-- Functional departments that receive escalated issue reports
-- ("街道吹哨、部门报到"), e.g. chengguan 城管, zhujian 住建, xiaofang 消防.
CREATE TABLE departments (
    code TEXT COLLATE "C" PRIMARY KEY CHECK (length(code) BETWEEN 2 AND 32),
    name TEXT NOT NULL CHECK (name <> ''),
    updated_at BIGINT NOT NULL
);

-- Department users: the department they act for.
ALTER TABLE users ADD COLUMN department TEXT REFERENCES departments (code);

-- One row per issue report, derived from its document (never the reverse):
-- where it stands and when handling is due. Rebuilt by replaying the log.
CREATE TABLE reports (
    id TEXT COLLATE "C" PRIMARY KEY,
    grid TEXT COLLATE "C" NOT NULL,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    stage TEXT NOT NULL,
    level TEXT NOT NULL,
    -- The department currently handling it (dispatched to `dept:<code>`).
    department TEXT,
    created_at BIGINT NOT NULL,
    dispatched_at BIGINT,
    -- When handling is due (ms since the epoch), while dispatched.
    deadline BIGINT,
    -- Time of the latest workflow event (ms).
    updated_at BIGINT NOT NULL,
    -- The log position it was projected at.
    seq BIGINT NOT NULL
);
CREATE INDEX reports_due ON reports (deadline) WHERE stage = 'dispatched';
CREATE INDEX reports_grid ON reports (grid, stage);
CREATE INDEX reports_department ON reports (department, deadline);

-- Every department a report was ever dispatched to (they keep seeing it).
CREATE TABLE report_departments (
    department TEXT NOT NULL,
    report_id TEXT NOT NULL,
    PRIMARY KEY (department, report_id)
);

-- How far the read model has followed the change log.
CREATE TABLE report_cursor (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO report_cursor (id, seq) VALUES (1, 0);

-- Projects (with members, each holding a project role through a
-- project-scope role assignment), groups (with members), groups attached to
-- projects (also through an assignment), and custom roles made for one project.

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    external_key_id TEXT,
    residency TEXT,
    is_default BOOLEAN NOT NULL,
    archived_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX projects_org ON projects (org_id, id);

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (org_id, user_id);

CREATE TABLE org_groups (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES org_groups(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (org_id, user_id);

CREATE TABLE project_groups (
    project_id TEXT NOT NULL REFERENCES projects(id),
    group_id TEXT NOT NULL REFERENCES org_groups(id),
    org_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, group_id)
);

ALTER TABLE roles ADD COLUMN project_id TEXT;

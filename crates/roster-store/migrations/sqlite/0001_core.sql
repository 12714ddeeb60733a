-- Roster's core schema. Ids are canonical UUID text; times are microseconds
-- since the Unix epoch (BIGINT), so one query text serves both databases.

CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    full_name TEXT,
    username TEXT,
    password_hash TEXT,
    external_id TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    org_type TEXT NOT NULL,
    description TEXT,
    website TEXT,
    industry TEXT,
    company_size TEXT,
    logo_image TEXT,
    image_url TEXT,
    domains TEXT NOT NULL DEFAULT '[]',
    is_active INTEGER NOT NULL,
    owner_id TEXT REFERENCES users(id),
    api_usage_limit DOUBLE PRECISION NOT NULL,
    total_usage_limit DOUBLE PRECISION NOT NULL,
    external_id TEXT UNIQUE,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, user_id)
);

-- Organization-defined permission keys; org_id '' holds deployment-wide keys.
CREATE TABLE permissions (
    org_id TEXT NOT NULL,
    perm_key TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, perm_key)
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT,
    resource_type TEXT NOT NULL,
    external_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE role_grants (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    perm_key TEXT NOT NULL,
    effect TEXT NOT NULL,
    PRIMARY KEY (role_id, perm_key)
);

CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT,
    parent_id TEXT REFERENCES departments(id),
    path TEXT NOT NULL,
    depth INTEGER NOT NULL,
    color TEXT,
    created_by TEXT,
    external_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, name_key)
);
CREATE INDEX departments_parent ON departments (parent_id);
CREATE INDEX departments_path ON departments (org_id, path);

CREATE TABLE department_members (
    dept_id TEXT NOT NULL REFERENCES departments(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (dept_id, user_id)
);
CREATE INDEX department_members_user ON department_members (org_id, user_id);

-- (role, principal, scope); scope_id '' for organization scope.
CREATE TABLE role_assignments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    role_id TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    scope_type TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, role_id, principal_type, principal_id, scope_type, scope_id)
);
CREATE UNIQUE INDEX role_assignments_one_primary ON role_assignments (org_id, principal_id) WHERE is_primary;
CREATE INDEX role_assignments_role ON role_assignments (role_id);
CREATE INDEX role_assignments_principal ON role_assignments (org_id, principal_type, principal_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    role_id TEXT NOT NULL,
    user_id TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (org_id, email_key) WHERE state = 'pending';

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    org_id TEXT REFERENCES organizations(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    role_id TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    usage_limit DOUBLE PRECISION,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT,
    deleted_at BIGINT
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    revision BIGINT NOT NULL,
    org_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    trace_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (org_id, created_at);

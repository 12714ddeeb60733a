-- Service accounts of projects and their API keys (the admin API's project
-- API keys). A key's secret is stored only as a SHA-256 with a short prefix.
-- No foreign key to projects: a deleted project's accounts are simply unreachable.

CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX service_accounts_project ON service_accounts (project_id, id);

CREATE TABLE project_api_keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    project_id TEXT NOT NULL,
    service_account_id TEXT NOT NULL REFERENCES service_accounts(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    deleted_at BIGINT
);
CREATE INDEX project_api_keys_project ON project_api_keys (project_id, id);

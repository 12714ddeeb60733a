-- A user's chosen default organization (the FastAPI dialect's
-- `/api/v1/organizations/default`). Without a row, or when the user has left
-- that organization, the default is the oldest organization they belong to.
CREATE TABLE user_default_orgs (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    updated_at BIGINT NOT NULL
);

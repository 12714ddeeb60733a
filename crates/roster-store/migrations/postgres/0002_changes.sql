-- The change feed: one row per (revision, organization) written in the same
-- transaction as the change. Replicas follow it to keep their indexes current.
-- org_id '*' means "everything may have changed" (bulk imports).
CREATE TABLE changes (
    revision BIGINT NOT NULL,
    org_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (revision, org_id)
);

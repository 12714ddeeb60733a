-- A write takes its revision as it commits, inside the database.
--
-- Revisions order all writes (the change feed is read in revision order),
-- so whoever holds the next revision holds it until its commit is durable.
-- Taking it with a statement from the client made that span include client
-- round trips and scheduling (the writer's statement, its COMMIT, and the
-- waits for the client to be run in between). Here a write stages its
-- change-feed rows and audit events in one `pending_writes` row; a deferred
-- trigger runs at COMMIT, takes the revision and writes the rows, so the
-- span is this function and the commit's WAL flush, all in the server.
-- The writer reads its revision back from its ticket after the commit.

CREATE SEQUENCE write_tickets;

CREATE TABLE pending_writes (
    ticket BIGINT PRIMARY KEY,
    -- set at commit; the payload is cleared then
    revision BIGINT,
    -- [{org_id, created_at, delta}]
    changes JSONB,
    -- [{id, org_id, actor, action, target_type, target_id, before_json,
    --   after_json, trace_id, created_at}]
    audit JSONB
);

CREATE FUNCTION take_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r BIGINT;
BEGIN
    -- Committing writers wait here one at a time: an exclusive advisory lock
    -- wakes only the next waiter, where waiting on the counter row would wake
    -- them all at each commit. Everything that takes a revision takes it.
    PERFORM pg_advisory_xact_lock(7263010001);
    UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision INTO r;
    INSERT INTO changes (revision, org_id, created_at, delta)
        SELECT r, c.org_id, c.created_at, c.delta
        FROM jsonb_to_recordset(NEW.changes) AS c(org_id TEXT, created_at BIGINT, delta TEXT);
    INSERT INTO audit_events (id, revision, org_id, actor, action, target_type, target_id,
                              before_json, after_json, trace_id, created_at)
        SELECT e.id, r, e.org_id, e.actor, e.action, e.target_type, e.target_id,
               e.before_json, e.after_json, e.trace_id, e.created_at
        FROM jsonb_to_recordset(NEW.audit) AS e(id TEXT, org_id TEXT, actor TEXT, action TEXT,
             target_type TEXT, target_id TEXT, before_json TEXT, after_json TEXT,
             trace_id TEXT, created_at BIGINT);
    UPDATE pending_writes SET revision = r, changes = NULL, audit = NULL
        WHERE ticket = NEW.ticket;
    -- Tickets are read back right after their commit; old ones go.
    IF NEW.ticket % 10000 = 0 THEN
        DELETE FROM pending_writes WHERE ticket <= NEW.ticket - 100000;
    END IF;
    PERFORM pg_notify('roster_changes', r::text);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER take_revision AFTER INSERT ON pending_writes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION take_revision();

-- A change-feed row may carry the write's own description of what it changed
-- in the organization's index rows (JSON, see roster_core::index::IndexDelta):
-- replicas then follow the write in memory instead of re-reading the
-- organization. NULL: re-read it.
ALTER TABLE changes ADD COLUMN delta TEXT;

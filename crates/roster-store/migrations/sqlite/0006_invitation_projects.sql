-- The projects an invitation adds its invitee to when it is accepted, each
-- with a project role. No foreign key to projects or roles: a project deleted
-- (or a custom role deleted) before acceptance is skipped then, not refused.
CREATE TABLE invitation_projects (
    invitation_id TEXT NOT NULL REFERENCES invitations(id),
    project_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    PRIMARY KEY (invitation_id, project_id)
);

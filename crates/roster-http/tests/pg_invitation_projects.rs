// The same tests as `invitation_projects.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("invitation_projects.rs");

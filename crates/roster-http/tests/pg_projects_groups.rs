// The same tests as `projects_groups.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("projects_groups.rs");

// The same tests as `auth_orgs.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("auth_orgs.rs");

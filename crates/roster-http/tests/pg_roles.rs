// The same tests as `roles.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("roles.rs");

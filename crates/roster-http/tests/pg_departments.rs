// The same tests as `departments.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("departments.rs");

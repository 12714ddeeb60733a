// The same tests as `check.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("check.rs");

// The same tests as `change_logs.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("change_logs.rs");

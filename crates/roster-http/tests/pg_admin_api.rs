// The same tests as `admin_api.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("admin_api.rs");

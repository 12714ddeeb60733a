// The same tests as `api_keys.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("api_keys.rs");

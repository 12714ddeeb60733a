// The same tests as `fastapi_api.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("fastapi_api.rs");

// The same tests as `concurrent_writes.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("concurrent_writes.rs");

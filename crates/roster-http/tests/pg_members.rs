// The same tests as `members.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("members.rs");

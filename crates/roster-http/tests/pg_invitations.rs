// The same tests as `invitations.rs`, run on PostgreSQL (see `common::wants_postgres`).
include!("invitations.rs");

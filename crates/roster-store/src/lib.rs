//! Roster's storage and use cases over SQL. One implementation serves SQLite
//! and PostgreSQL through sqlx's `Any` driver: the queries are written once in
//! the SQL both accept, migrations are kept per database, and constraint
//! violations become domain errors at this edge ([`db::conflict`]).
//!
//! Every write runs in one [`Tx`]: it bumps the deployment's revision, appends
//! its audit events and change-feed rows, commits, then rebuilds the permission
//! index of the organizations it touched from the committed state and
//! publishes it before the write is acknowledged (read-your-writes, never a
//! half update).

pub mod audit;
pub mod auth;
pub mod batch;
pub mod db;
pub mod defaults;
pub mod departments;
mod fastload;
pub mod follow;
mod group;
pub mod groups;
pub mod holdings;
pub mod import;
pub mod invitations;
pub mod keys;
pub mod load;
pub mod members;
pub mod orgs;
pub mod pages;
pub mod permissions;
pub mod projects;
pub mod roles;
mod rows;
pub mod service_accounts;
pub mod users;

pub use db::{DbKind, Store};
pub use projects::Chunk;
pub use rows::Page;

/// What a write produced, and the revision it produced it at.
#[derive(Debug, Clone)]
pub struct Written<T> {
    pub value: T,
    pub revision: i64,
}

/// The request context of a write: who, and the trace id audit events carry.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: roster_core::Actor,
    pub trace_id: String,
}

//! Roster's HTTP layer: one module per dialect, each mapping its paths, id
//! spelling, status codes and error envelope onto the one core.

pub mod admin;
pub mod app;
pub mod fastapi;
mod nul;
pub mod org;
mod trace;

pub use app::{openapi, router, App, Authorized, Caller, Config};
pub use trace::current_trace_id;

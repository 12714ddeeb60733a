//! Roster's core: the one model shared by every dialect, its ids, errors,
//! validated values, the permission index and the typed authorization handles.
//! It depends on neither the web framework nor the database driver.

pub mod access;
pub mod compiled;
pub mod error;
pub mod ids;
pub mod index;
pub mod model;
pub mod text;

pub use access::{authorize, authorize_platform, need, Actor, Need, OrgAccess, PlatformAccess};
pub use error::{Error, KeyRefusal, Result, ValidationError};
pub use ids::IdError;
pub use ids::*;
pub use model::*;

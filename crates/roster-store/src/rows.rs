//! Decoding helpers: ids are stored as canonical UUID text, times as
//! microseconds since the epoch.

use crate::db::db_err;
use chrono::{DateTime, TimeZone, Utc};
use roster_core::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

pub(crate) fn uuid_of(row: &AnyRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col).map_err(db_err)?;
    Uuid::parse_str(&s).map_err(Error::internal)
}

pub(crate) fn opt_uuid_of(row: &AnyRow, col: &str) -> Result<Option<Uuid>> {
    let s: Option<String> = row.try_get(col).map_err(db_err)?;
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => Uuid::parse_str(s).map(Some).map_err(Error::internal),
    }
}

pub(crate) fn ts(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

pub(crate) fn ts_of(row: &AnyRow, col: &str) -> Result<DateTime<Utc>> {
    Ok(ts(row.try_get::<i64, _>(col).map_err(db_err)?))
}

pub(crate) fn opt_ts_of(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col).map_err(db_err)?.map(ts))
}

pub(crate) fn str_of(row: &AnyRow, col: &str) -> Result<String> {
    row.try_get(col).map_err(db_err)
}

pub(crate) fn opt_str_of(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get(col).map_err(db_err)
}

pub(crate) fn i64_of(row: &AnyRow, col: &str) -> Result<i64> {
    row.try_get(col).map_err(db_err)
}

/// Booleans are `BOOLEAN` in PostgreSQL and `INTEGER` 0/1 in SQLite (the `Any`
/// driver cannot map SQLite's declared BOOLEAN), so accept both.
pub(crate) fn bool_of(row: &AnyRow, col: &str) -> Result<bool> {
    match row.try_get::<bool, _>(col) {
        Ok(b) => Ok(b),
        Err(_) => row.try_get::<i64, _>(col).map(|v| v != 0).map_err(db_err),
    }
}

pub(crate) fn id(u: impl Into<Uuid>) -> String {
    u.into().to_string()
}

/// A page of results with the total count of the unpaged query.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

//! Organization API keys (`/v1/organizations/{org}/api-keys`): create (the
//! raw key is in that response only), list, get, update, delete, activate,
//! deactivate, rotate. Admin or Owner for every call: keys are credentials.

use super::*;
use crate::app::{App, Authorized};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use roster_core::{need, ApiKeyId, Error, SystemRole};
use roster_store::keys::{CreatedKey, KeyInfo, KeyPatch, KeySwitch, NewKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(get_key, update_key, delete_key))
        .routes(routes!(activate_key))
        .routes(routes!(deactivate_key))
        .routes(routes!(pause_key))
        .routes(routes!(unpause_key))
        .routes(routes!(rotate_key))
}

/// A time in a body or query: RFC 3339, or without offset (read as UTC), or a date.
pub(super) fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(t.and_utc());
    }
    if let Some(t) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    Err(ApiError::validation(
        field,
        "must be an ISO-8601 date-time, e.g. 2026-01-15T10:30:00Z",
    ))
}

fn key_id(raw: &str) -> Result<ApiKeyId, ApiError> {
    parse_id(raw, "key_id", |r| {
        unknown(Error::ApiKeyNotFound(nil()), "key_id", r)
    })
}

/// API_KEY_NOT_FOUND echoing the id as given.
fn echo_key(e: Error, raw: &str) -> ApiError {
    match e {
        e @ Error::ApiKeyNotFound(_) => unknown(e, "key_id", raw),
        e => e.into(),
    }
}

/// An API key without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ApiKeyOut {
    id: String,
    organization_id: String,
    key_name: String,
    /// The first characters of the key, to recognise it.
    key_prefix: String,
    /// The role the key acts with inside its organization (Roster extension).
    role_id: String,
    is_active: bool,
    /// Pausing is not supported: always false.
    is_paused: bool,
    usage_limit_chf: Option<f64>,
    scopes: Vec<String>,
    #[schema(value_type = Object)]
    metadata: Value,
    /// `usr_…` of the creating user (`key_…` or `platform` for machine callers).
    created_by: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl From<&KeyInfo> for ApiKeyOut {
    fn from(k: &KeyInfo) -> Self {
        ApiKeyOut {
            id: k.id.to_string(),
            organization_id: k.org_id.to_string(),
            key_name: k.name.clone(),
            key_prefix: k.prefix.clone(),
            role_id: k.role_id.to_string(),
            is_active: k.is_active,
            is_paused: k.is_paused,
            usage_limit_chf: k.usage_limit,
            scopes: k.scopes.clone(),
            metadata: k.metadata.clone(),
            created_by: k.created_by.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
        }
    }
}

/// A new key: the key object plus the raw `key`, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ApiKeyCreateOut {
    /// The raw key (`ak_` + 39 alphanumerics). It cannot be retrieved again.
    key: String,
    #[serde(flatten)]
    info: ApiKeyOut,
}

impl From<&CreatedKey> for ApiKeyCreateOut {
    fn from(c: &CreatedKey) -> Self {
        ApiKeyCreateOut {
            key: c.secret.clone(),
            info: (&c.key).into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateKey {
    /// 1 to 255 characters.
    key_name: String,
    /// The role the key acts with (Roster extension; default `role_admin`).
    /// The caller must hold everything the role allows; `role_owner` only an Owner.
    role_id: Option<String>,
    usage_limit_chf: Option<f64>,
    scopes: Option<Vec<String>>,
    /// Must be in the future.
    expires_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Map<String, Value>>,
}

/// Create an API key (Admin or Owner). The response holds the raw key once.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/api-keys", tag = "api keys",
    params(("organization_id" = String, Path)), request_body = CreateKey,
    responses((status = 201, body = ApiKeyCreateOut)))]
async fn create_key(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    OJson(b): OJson<CreateKey>,
) -> Result<impl IntoResponse, ApiError> {
    let role = match b.role_id.as_deref() {
        Some(r) => super::members::role_id(r, "role_id")?,
        None => SystemRole::Admin.id(),
    };
    let expires_at = b
        .expires_at
        .as_deref()
        .map(|t| parse_time("expires_at", t))
        .transpose()?;
    let input = NewKey {
        name: b.key_name,
        role,
        usage_limit: b.usage_limit_chf,
        scopes: b.scopes,
        expires_at,
        metadata: b.metadata,
    };
    let w = app
        .store
        .create_api_key(&caller.ctx, &access, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(ApiKeyCreateOut::from(&w.value)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct ListQuery {
    /// Page number, from 1 (default 1).
    page: Option<i64>,
    /// Keys per page, 1..100 (default 20).
    page_size: Option<i64>,
    /// Alternative to `page`: keys to skip.
    skip: Option<i64>,
    /// Alternative to `page_size`: keys to return, 1..100.
    take: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ApiKeyList {
    keys: Vec<ApiKeyOut>,
    total: i64,
    page: i64,
    page_size: i64,
    skip: i64,
    take: i64,
}

/// List the organization's API keys, newest first (never their secrets).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/api-keys", tag = "api keys",
    params(("organization_id" = String, Path), ListQuery), responses((status = 200, body = ApiKeyList)))]
async fn list_keys(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::Admin>,
    OQuery(q): OQuery<ListQuery>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let (skip, take) = if q.skip.is_some() || q.take.is_some() {
        (
            check_range("skip", q.skip.unwrap_or(0), 0, i64::MAX)?,
            check_range("take", q.take.or(q.page_size).unwrap_or(20), 1, 100)?,
        )
    } else {
        let page = check_range("page", q.page.unwrap_or(1), 1, i64::MAX / 100)?;
        let size = check_range("page_size", q.page_size.unwrap_or(20), 1, 100)?;
        ((page - 1) * size, size)
    };
    let p = app.store.list_api_keys(&access, skip, take).await?;
    Ok(Json(ApiKeyList {
        keys: p.items.iter().map(Into::into).collect(),
        total: p.total,
        page: skip / take + 1,
        page_size: take,
        skip,
        take,
    }))
}

/// Retrieve an API key (without its secret).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/api-keys/{key_id}", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = ApiKeyOut)))]
async fn get_key(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<Json<ApiKeyOut>, ApiError> {
    let k = app
        .store
        .get_api_key(&access, key_id(&raw)?)
        .await
        .map_err(|e| echo_key(e, &raw))?;
    Ok(Json((&k).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateKey {
    key_name: Option<String>,
    /// Roster extension, with the same rule as on create.
    role_id: Option<String>,
    usage_limit_chf: Option<f64>,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
}

/// Update an API key's name, limit, scopes, expiry or role. Omitted or null fields stay.
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}/api-keys/{key_id}", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), request_body = UpdateKey,
    responses((status = 200, body = ApiKeyOut)))]
async fn update_key(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<UpdateKey>,
) -> Result<impl IntoResponse, ApiError> {
    let key = key_id(&raw)?;
    let patch = KeyPatch {
        name: b.key_name,
        role: b
            .role_id
            .as_deref()
            .map(|r| super::members::role_id(r, "role_id"))
            .transpose()?,
        usage_limit: b.usage_limit_chf,
        scopes: b.scopes,
        expires_at: b
            .expires_at
            .as_deref()
            .map(|t| parse_time("expires_at", t))
            .transpose()?,
    };
    let w = app
        .store
        .update_api_key(&caller.ctx, &access, key, patch)
        .await
        .map_err(|e| echo_key(e, &raw))?;
    Ok((revision_header(w.revision), Json(ApiKeyOut::from(&w.value))))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct KeyAction {
    success: bool,
    message: String,
    key: Option<ApiKeyOut>,
}

/// Delete an API key: it stops authenticating at once.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/api-keys/{key_id}", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = KeyAction)))]
async fn delete_key(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let key = key_id(&raw)?;
    let w = app
        .store
        .delete_api_key(&caller.ctx, &access, key)
        .await
        .map_err(|e| echo_key(e, &raw))?;
    Ok((
        revision_header(w.revision),
        Json(KeyAction {
            success: true,
            message: "API key deleted successfully".to_owned(),
            key: None,
        }),
    ))
}

async fn set_switch(
    app: &App,
    Authorized { caller, access }: Authorized<need::Admin>,
    raw: &str,
    switch: KeySwitch,
    on: bool,
) -> Result<impl IntoResponse, ApiError> {
    let key = key_id(raw)?;
    let w = app
        .store
        .set_api_key_switch(&caller.ctx, &access, key, switch, on)
        .await
        .map_err(|e| echo_key(e, raw))?;
    let message = match (switch, on) {
        (KeySwitch::Active, true) => "API key activated successfully",
        (KeySwitch::Active, false) => "API key deactivated successfully",
        (KeySwitch::Paused, true) => "API key paused successfully",
        (KeySwitch::Paused, false) => "API key unpaused successfully",
    };
    Ok((
        revision_header(w.revision),
        Json(KeyAction {
            success: true,
            message: message.to_owned(),
            key: Some((&w.value).into()),
        }),
    ))
}

/// Activate an API key.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/api-keys/{key_id}/activate", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = KeyAction)))]
async fn activate_key(
    State(app): State<App>,
    auth: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    set_switch(&app, auth, &raw, KeySwitch::Active, true).await
}

/// Deactivate an API key: it stops authenticating at once (until activated).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/api-keys/{key_id}/deactivate", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = KeyAction)))]
async fn deactivate_key(
    State(app): State<App>,
    auth: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    set_switch(&app, auth, &raw, KeySwitch::Active, false).await
}

/// Pause an API key: it stops authenticating at once (401 `API_KEY_PAUSED`)
/// until unpaused; it stays active.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/api-keys/{key_id}/pause", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = KeyAction)))]
async fn pause_key(
    State(app): State<App>,
    auth: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    set_switch(&app, auth, &raw, KeySwitch::Paused, true).await
}

/// Unpause an API key: it authenticates again (if active and not expired).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/api-keys/{key_id}/unpause", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = KeyAction)))]
async fn unpause_key(
    State(app): State<App>,
    auth: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    set_switch(&app, auth, &raw, KeySwitch::Paused, false).await
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RotateOut {
    success: bool,
    message: String,
    old_key_id: String,
    new_key: ApiKeyCreateOut,
}

/// Rotate an API key: a new key with the same settings replaces it; the old
/// one stops working at once. The response holds the new raw key once.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/api-keys/{key_id}/rotate", tag = "api keys",
    params(("organization_id" = String, Path), ("key_id" = String, Path)), responses((status = 200, body = RotateOut)))]
async fn rotate_key(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let key = key_id(&raw)?;
    let w = app
        .store
        .rotate_api_key(&caller.ctx, &access, key)
        .await
        .map_err(|e| echo_key(e, &raw))?;
    Ok((
        revision_header(w.revision),
        Json(RotateOut {
            success: true,
            message: "API key rotated successfully".to_owned(),
            old_key_id: key.to_string(),
            new_key: (&w.value).into(),
        }),
    ))
}

//! The application: shared state, authentication, and the assembled router.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use roster_core::index::Snapshot;
use roster_core::{Actor, Error, Need, OrgAccess, OrgId};
use roster_store::{Ctx, Store};
use std::sync::Arc;
use utoipa::OpenApi;

/// Settings the HTTP layer needs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The platform bootstrap key, if configured (kept only as a hash).
    pub bootstrap_key: Option<String>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    bootstrap_hash: Option<Arc<str>>,
}

impl App {
    pub fn new(store: Store, config: &Config) -> Self {
        let bootstrap_hash = config
            .bootstrap_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(|k| Arc::from(roster_store::auth::hash_secret(k)));
        App {
            store,
            bootstrap_hash,
        }
    }

    /// Checks `N` for the caller in `org` against the current index.
    pub fn authorize<N: Need>(&self, caller: &Caller, org: OrgId) -> Result<OrgAccess<N>, Error> {
        let snap: &Snapshot = &self.store.index().load();
        roster_core::authorize::<N>(snap, &caller.actor, org)
    }
}

/// An authenticated caller, with the raw credential (for logout) and a write context.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub credential: String,
    pub ctx: Ctx,
}

/// The credential of a request: `X-API-Key`, else `Authorization: Bearer`,
/// else the `session` cookie. Header names are case-insensitive by HTTP.
pub fn credential_of(parts: &Parts) -> Option<String> {
    let h = &parts.headers;
    if let Some(k) = h
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return Some(k.to_owned());
    }
    if let Some(auth) = h.get("authorization").and_then(|v| v.to_str().ok()) {
        let mut it = auth.trim().splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (it.next(), it.next()) {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_owned());
            }
        }
    }
    None
}

impl FromRequestParts<App> for Caller {
    type Rejection = crate::org::ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let credential = credential_of(parts).ok_or(Error::Unauthenticated)?;
        let actor = app
            .store
            .authenticate(&credential, app.bootstrap_hash.as_deref())
            .await?;
        let ctx = Ctx {
            actor: actor.clone(),
            trace_id: crate::current_trace_id(),
        };
        Ok(Caller {
            actor,
            credential,
            ctx,
        })
    }
}

async fn healthz(State(app): State<App>) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::OK,
        Json(serde_json::json!({"status": "ok", "revision": app.store.revision()})),
    )
}

/// The whole service: every dialect, health, the OpenAPI document and its page.
pub fn router(app: App) -> Router {
    let (org_router, api) = crate::org::routes().split_for_parts();
    let api = std::sync::Arc::new(merge_info(api));
    let doc = api.clone();
    Router::new()
        .merge(org_router)
        .route("/healthz", get(healthz))
        .route(
            "/openapi.json",
            get(move || async move { Json((*doc).clone()) }),
        )
        .merge({
            use utoipa_scalar::Servable;
            utoipa_scalar::Scalar::with_url("/docs", (*api).clone())
        })
        .fallback(crate::org::not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024))
        .layer(axum::middleware::from_fn(crate::org::map_framework_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            crate::org::panic_response,
        ))
        .layer(axum::middleware::from_fn(crate::trace::middleware))
        .with_state(app)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "Organizations, roles, departments and permission checks. \
        This document covers the organization API dialect (`/v1/organizations/...`), Roster's native API."),
    components(schemas()),
    modifiers(&SecurityAddon)
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn merge_info(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut base = ApiDoc::openapi();
    base.merge(api);
    base.info.version = env!("CARGO_PKG_VERSION").to_owned();
    base
}

/// The OpenAPI document the server serves (also written to `openapi.json` in the repository).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = crate::org::routes().split_for_parts();
    merge_info(api)
}

/// A caller authorized for `N` in the organization named by the path's
/// `organization_id`. As a request-parts extractor it runs before the body is
/// read, so an unauthorized caller learns nothing from body validation.
pub struct Authorized<N> {
    pub caller: Caller,
    pub access: OrgAccess<N>,
}

impl<N: Need + Send> FromRequestParts<App> for Authorized<N> {
    type Rejection = crate::org::ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let params =
            axum::extract::Path::<std::collections::HashMap<String, String>>::from_request_parts(
                parts, app,
            )
            .await
            .map_err(|e| crate::org::ApiError::validation("path", e.body_text()))?;
        let raw = params
            .get("organization_id")
            .map(String::as_str)
            .unwrap_or_default();
        let org = crate::org::org_id(raw)?;
        let access = app.authorize::<N>(&caller, org)?;
        Ok(Authorized { caller, access })
    }
}

/// A caller holding the platform key, checked before the body is read.
pub struct Platform {
    pub caller: Caller,
    pub access: roster_core::PlatformAccess,
}

impl FromRequestParts<App> for Platform {
    type Rejection = crate::org::ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let access = roster_core::authorize_platform(&caller.actor)?;
        Ok(Platform { caller, access })
    }
}

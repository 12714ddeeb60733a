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

    /// Resolves a presented credential to a caller (for dialects that read it
    /// from one header only, such as the admin API's `Authorization: Bearer`).
    pub async fn caller_for(&self, credential: String) -> Result<Caller, Error> {
        let actor = self
            .store
            .authenticate(&credential, self.bootstrap_hash.as_deref())
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

/// Where a request's credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `X-API-Key` or `Authorization: Bearer`: never sent by a browser on its own.
    Header,
    /// The `session` cookie, which a browser attaches to cross-site requests too.
    Cookie,
}

/// The credential of a request: `X-API-Key`, else `Authorization: Bearer`,
/// else the `session` cookie (header names are case-insensitive by HTTP),
/// and where it was found.
pub fn credential_with_source(parts: &Parts) -> Option<(String, CredentialSource)> {
    let h = &parts.headers;
    if let Some(k) = h
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return Some((k.to_owned(), CredentialSource::Header));
    }
    if let Some(token) = bearer(parts) {
        return Some((token, CredentialSource::Header));
    }
    session_cookie(parts).map(|c| (c, CredentialSource::Cookie))
}

/// The credential of an `Authorization: Bearer <credential>` header.
pub fn bearer(parts: &Parts) -> Option<String> {
    let auth = parts.headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The value of the `session` cookie, if the request carries a non-empty one.
fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// Cross-site request forgery protection for cookie-authenticated writes.
///
/// A browser attaches the `session` cookie to requests that other sites make
/// it send, so an unsafe method authenticated by the cookie alone must come
/// from a page of this origin. The rule is the one Go's
/// `http.CrossOriginProtection` applies: safe methods pass; a
/// `Sec-Fetch-Site` header (sent by every current browser) must say
/// `same-origin` or `none` (typed by the user); without it, an `Origin`
/// header must name this host; a request with neither did not come from a
/// current browser's cross-site form or script, and passes.
pub fn same_origin_write(parts: &Parts) -> bool {
    use axum::http::Method;
    if matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return true;
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site.trim(), "same-origin" | "none");
    }
    let Some(origin) = header("origin") else {
        return true;
    };
    let host = header("x-forwarded-host")
        .and_then(|h| h.split(',').next())
        .or_else(|| header("host"))
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h.trim()))
}

/// True when the request reached us over TLS: the URI's scheme, or the
/// `X-Forwarded-Proto` a TLS-terminating proxy sets. Decides the cookie's
/// `Secure` attribute.
pub fn came_over_https(parts: &Parts) -> bool {
    parts.uri.scheme_str() == Some("https")
        || parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

impl Caller {
    /// Authenticates the request: a credential must be present and valid; a
    /// cookie-authenticated unsafe request must also pass [`same_origin_write`].
    /// Each dialect's extractor maps the error onto its own envelope.
    pub async fn authenticate(parts: &Parts, app: &App) -> Result<Caller, Error> {
        let (credential, source) = credential_with_source(parts).ok_or(Error::Unauthenticated)?;
        if source == CredentialSource::Cookie && !same_origin_write(parts) {
            return Err(Error::CrossSiteRequest);
        }
        app.caller_for(credential).await
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = crate::org::ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Caller::authenticate(parts, app).await?)
    }
}

async fn healthz(State(app): State<App>) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::OK,
        Json(serde_json::json!({"status": "ok", "revision": app.store.revision()})),
    )
}

/// The whole service, ready for `axum::serve`: every dialect, health, the
/// OpenAPI document and its page, behind the request-wide middleware.
///
/// The middleware wraps the router once instead of being layered onto each
/// route (`Router::layer`): a route's layered stack is boxed, so every
/// request cloned one boxed service per layer; around the router a clone is
/// the router's reference count.
pub fn router(
    app: App,
) -> axum::routing::IntoMakeService<
    impl tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static,
> {
    let service = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(crate::trace::middleware))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            crate::org::panic_response,
        ))
        .layer(axum::middleware::from_fn(map_framework_errors))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024))
        .service(routes(app));
    axum::ServiceExt::<axum::extract::Request>::into_make_service(service)
}

/// Every route, with the application state, without the middleware.
fn routes(app: App) -> Router {
    let (routes, api) = all_routes().split_for_parts();
    let api = std::sync::Arc::new(merge_info(api));
    let doc = api.clone();
    Router::new()
        .merge(routes)
        .route("/healthz", get(healthz))
        .route(
            "/openapi.json",
            get(move || async move { Json((*doc).clone()) }),
        )
        .merge({
            use utoipa_scalar::Servable;
            utoipa_scalar::Scalar::with_url("/docs", (*api).clone())
        })
        .fallback(not_found)
        .with_state(app)
}

/// The dialect a path belongs to: each answers unknown routes and framework
/// errors in its own envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1/organizations/...` and everything that is not another dialect's.
    Org,
    /// `/v1/organization/...` and `/v1/projects/...` (OpenAI's admin API).
    Admin,
    /// `/api/...` (LlamaCloud's FastAPI service).
    FastApi,
}

impl Dialect {
    pub fn of(path: &str) -> Dialect {
        let mut segs = path.trim_start_matches('/').split('/');
        match (segs.next(), segs.next()) {
            (Some("api"), _) => Dialect::FastApi,
            (Some("v1"), Some("organization" | "projects")) => Dialect::Admin,
            _ => Dialect::Org,
        }
    }

    /// The credentials the dialect reads, as the names of security schemes:
    /// the admin API reads `Authorization: Bearer` only; the others also
    /// `X-API-Key` and the `session` cookie (see [`credential_with_source`]).
    fn security_schemes(self) -> &'static [&'static str] {
        match self {
            Dialect::Admin => &["bearer"],
            Dialect::Org | Dialect::FastApi => &["bearer", "api_key", SESSION_SCHEME],
        }
    }
}

async fn not_found(req: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    match Dialect::of(req.uri().path()) {
        Dialect::Org => crate::org::not_found(req).await.into_response(),
        Dialect::Admin => crate::admin::not_found(req).await,
        Dialect::FastApi => crate::fastapi::not_found(req).await,
    }
}

/// Turns the framework's own bodiless errors (405, 413 from the body limit)
/// into the envelope of the path's dialect.
async fn map_framework_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let dialect = Dialect::of(req.uri().path());
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let status = res.status();
    if is_json
        || !matches!(
            status,
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::PAYLOAD_TOO_LARGE
        )
    {
        return res;
    }
    match dialect {
        Dialect::Org => crate::org::framework_error(status, &method),
        Dialect::Admin => crate::admin::framework_error(status, &method),
        Dialect::FastApi => crate::fastapi::framework_error(status, &method),
    }
}

fn all_routes() -> utoipa_axum::router::OpenApiRouter<App> {
    let mut routes = crate::org::routes()
        .merge(crate::admin::routes())
        .merge(crate::fastapi::routes());
    declare_security(routes.get_openapi_mut());
    routes
}

/// The name of the `session` cookie's security scheme.
pub const SESSION_SCHEME: &str = "session";

/// Declares on every operation the credentials its dialect accepts, as
/// alternatives. An operation that declares its own `security` keeps it: the
/// public ones (signing in, the invitation links) declare `security(())`, no
/// credential. So an operation added without a thought is documented as
/// needing a credential, never as open.
fn declare_security(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
    api.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "session",
                "The session token `POST /v1/auth/login` sets as a cookie.",
            ))),
        );
    for (path, item) in api.paths.paths.iter_mut() {
        let requirements: Vec<SecurityRequirement> = Dialect::of(path)
            .security_schemes()
            .iter()
            .map(|name| SecurityRequirement::new(*name, Vec::<String>::new()))
            .collect();
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            op.security.get_or_insert_with(|| requirements.clone());
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "Organizations, roles, departments and permission checks. \
        This document covers the three dialects: the organization API (`/v1/organizations/...`, Roster's native API), \
        the admin API (`/v1/organization/...`, `/v1/projects/...`, OpenAI's shapes) and the FastAPI-style API \
        (`/api/v1/...`, LlamaCloud's shapes)."),
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
    let (_, api) = all_routes().split_for_parts();
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
        // axum's captures, already percent-decoded, read in place: no map of
        // owned strings per request.
        let params = axum::extract::RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|e| crate::org::ApiError::validation("path", e.body_text()))?;
        let raw = params
            .iter()
            .find_map(|(name, value)| (name == "organization_id").then_some(value))
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

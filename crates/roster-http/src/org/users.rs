//! Users (global) and sessions: `POST /v1/users`, `GET /v1/users/{id}`,
//! `POST /v1/auth/login`, `POST /v1/auth/logout`.

use super::views::UserOut;
use super::*;
use crate::app::{App, Caller, Platform};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use roster_core::text::Email;
use roster_core::{Actor, Error, UserId};
use roster_store::users::NewUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_user))
        .routes(routes!(get_user))
        .routes(routes!(login))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateUser {
    email: String,
    full_name: String,
    username: Option<String>,
    /// Optional: lets the user sign in with `POST /v1/auth/login` (8+ characters).
    password: Option<String>,
}

/// Create a user (platform key only). 409 when the email is taken.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUser, responses((status = 201, body = UserOut)))]
async fn create_user(
    State(app): State<App>,
    Platform {
        caller,
        access: platform,
    }: Platform,
    OJson(b): OJson<CreateUser>,
) -> Result<impl IntoResponse, ApiError> {
    let email = Email::parse("email", &b.email).map_err(Error::from)?;
    if b.full_name.trim().is_empty() {
        return Err(ApiError::validation("full_name", "must not be empty"));
    }
    let input = NewUser {
        email,
        full_name: Some(b.full_name),
        username: b.username,
        password: b.password,
    };
    let w = app.store.create_user(&caller.ctx, &platform, input).await?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(UserOut::from(&w.value)),
    ))
}

/// Retrieve a user: the platform may read anyone, a user only themself.
#[utoipa::path(get, path = "/v1/users/{user_id}", tag = "users", params(("user_id" = String, Path)), responses((status = 200, body = UserOut)))]
async fn get_user(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    let nf = |r: &str| unknown(Error::UserNotFound(nil()), "user_id", r);
    let user = parse_id::<UserId>(&raw, "user_id", nf)?;
    let visible = match caller.actor {
        Actor::Platform => true,
        Actor::User { user: me } => me == user,
        Actor::OrgKey { .. } => false,
    };
    if !visible {
        return Err(nf(&raw));
    }
    Ok(Json((&app.store.get_user(user).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    email: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct LoginOut {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    user_id: String,
}

/// The `session` cookie: HttpOnly (no script reads it), SameSite=Lax (not
/// sent on cross-site subrequests), `Secure` when the request came over TLS.
fn session_cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("session={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Sign in with email and password. Returns a bearer token and also sets the
/// `session` cookie (HttpOnly, SameSite=Lax, Secure over https).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login, responses((status = 200, body = LoginOut)), security(()))]
async fn login(
    State(app): State<App>,
    Https(secure): Https,
    OJson(b): OJson<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let ctx = roster_store::Ctx {
        actor: Actor::Platform,
        trace_id: crate::current_trace_id(),
    };
    let w = app
        .store
        .login(&ctx, &b.email, &b.password)
        .await
        .map_err(|e| match e {
            Error::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                Kind::Authentication,
                "Invalid email, username, or password",
                "invalid credentials",
                serde_json::json!({}),
            ),
            e => e.into(),
        })?;
    let s = w.value;
    let cookie = session_cookie(&s.token, s.expires_in, secure);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(LoginOut {
            access_token: s.token,
            token_type: "Bearer",
            expires_in: s.expires_in,
            user_id: s.user_id.to_string(),
        }),
    ))
}

/// Revoke the presented session token and clear the cookie.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses((status = 204)))]
async fn logout(
    State(app): State<App>,
    Https(secure): Https,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    app.store.logout(&caller.ctx, &caller.credential).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie("", 0, secure))],
    ))
}

/// Whether the request came over TLS (see [`crate::app::came_over_https`]).
struct Https(bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Https(crate::app::came_over_https(parts)))
    }
}

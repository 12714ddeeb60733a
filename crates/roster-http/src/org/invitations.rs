//! Invitations: invite an email into an organization, look an invitation up,
//! cancel or resend it; and the public side, where the holder of the link's
//! `email_key` validates it, accepts it (an existing user, signed in) or
//! completes it (a new user: account, membership and session in one step).

use super::views::BulkOut;
use super::*;
use crate::app::{App, Authorized, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::text::Email;
use roster_core::{need, Actor, Error, Invitation, InvitationId, InvitationState, UserId};
use roster_store::invitations::{InvitationLookup, InvitationView};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(invite_user))
        .routes(routes!(get_invitation))
        .routes(routes!(cancel_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(resend_bulk))
        .routes(routes!(validate_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(complete_invitation))
}

const VALIDATE_PATH: &str = "/v1/invitations/validate/";

fn link(key: &str) -> String {
    format!("{VALIDATE_PATH}{key}")
}

/// The key is stored only as a hash, so a link read back later cannot carry
/// it: it shows where the key goes instead.
fn link_template() -> String {
    link("{email_key}")
}

fn state_str(i: &Invitation) -> &'static str {
    i.state.as_str()
}

fn user_str(i: &Invitation) -> String {
    i.user_id.map(|u| u.to_string()).unwrap_or_default()
}

/// INVITATION_NOT_FOUND echoing the id as given.
fn echo_invitation(e: Error, field: &str, raw: &str) -> ApiError {
    match e {
        e @ Error::InvitationNotFound => unknown(e, field, raw),
        e => e.into(),
    }
}

fn invitation_id(raw: &str) -> Result<InvitationId, ApiError> {
    parse_id(raw, "invitation_id", |r| {
        unknown(Error::InvitationNotFound, "invitation_id", r)
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct InviteBody {
    email: String,
    /// The role the invitee gets; the caller must hold everything it allows
    /// (`role_owner` only an Owner).
    role_id: String,
    /// Accepted for compatibility; Roster sends no email, the caller shares the link.
    send_invitation: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct InvitationOut {
    invitation_id: String,
    email: String,
    role_id: String,
    /// The existing user's id, or the id reserved for the user `complete` creates.
    user_id: String,
    /// `/v1/invitations/validate/{email_key}`: shown this once.
    invitation_link: String,
    /// The secret of the link, for `accept` and `complete`: shown this once.
    email_key: String,
    organization_id: String,
    status: String,
    /// Whether an email was sent: Roster sends none.
    invitation_sent: bool,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

/// Invite an email into the organization with a role. An email that already
/// has a user gets a Pending membership until it accepts.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/invite-user", tag = "invitations",
    params(("organization_id" = String, Path)), request_body = InviteBody,
    responses((status = 201, body = InvitationOut)))]
async fn invite_user(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::InviteUsers>,
    OJson(b): OJson<InviteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let _ = b.send_invitation;
    let email = Email::parse("email", &b.email).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_EMAIL_FORMAT",
            Kind::Client,
            "Please enter a valid email address.",
            "Email validation failed",
            json!({"field": "email", "value": b.email}),
        )
    })?;
    let role = super::members::role_id(&b.role_id, "role_id")?;
    let w = app.store.invite(&caller.ctx, &access, email, role).await?;
    let i = &w.value.invitation;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(InvitationOut {
            invitation_id: i.id.to_string(),
            email: i.email.clone(),
            role_id: i.role_id.to_string(),
            user_id: user_str(i),
            invitation_link: link(&w.value.key),
            email_key: w.value.key.clone(),
            organization_id: i.org_id.to_string(),
            status: state_str(i).to_owned(),
            invitation_sent: false,
            expires_at: i.expires_at,
            created_at: i.created_at,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct LookupQuery {
    email: Option<String>,
    /// `usr_…`
    user_id: Option<String>,
    /// `inv_…`
    invitation_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct InvitationDetails {
    invitation_id: String,
    email: String,
    user_id: String,
    organization_id: String,
    role_id: String,
    /// The validate path with `{email_key}` in place of the key, which is
    /// stored only hashed and shown only when the invitation is created.
    invitation_link: String,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    /// pending, accepted, expired or cancelled.
    status: String,
}

/// Look up the latest invitation of an email, a user or an id (give one; the
/// id wins over the user, the user over the email).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/invitation", tag = "invitations",
    params(("organization_id" = String, Path), LookupQuery), responses((status = 200, body = InvitationDetails)))]
async fn get_invitation(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::InviteUsers>,
    OQuery(q): OQuery<LookupQuery>,
) -> Result<Json<InvitationDetails>, ApiError> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (lookup, field, raw) = if let Some(raw) = given(&q.invitation_id) {
        (
            InvitationLookup::Id(invitation_id(&raw)?),
            "invitation_id",
            raw,
        )
    } else if let Some(raw) = given(&q.user_id) {
        let u = parse_id::<UserId>(&raw, "user_id", |r| {
            unknown(Error::InvitationNotFound, "user_id", r)
        })?;
        (InvitationLookup::User(u), "user_id", raw)
    } else if let Some(raw) = given(&q.email) {
        (InvitationLookup::Email(raw.clone()), "email", raw)
    } else {
        return Err(ApiError::validation(
            "email",
            "give one of email, user_id or invitation_id",
        ));
    };
    let i = app
        .store
        .get_invitation(&access, &lookup)
        .await
        .map_err(|e| echo_invitation(e, field, &raw))?;
    Ok(Json(InvitationDetails {
        invitation_id: i.id.to_string(),
        email: i.email.clone(),
        user_id: user_str(&i),
        organization_id: i.org_id.to_string(),
        role_id: i.role_id.to_string(),
        invitation_link: link_template(),
        expires_at: i.expires_at,
        created_at: i.created_at,
        status: state_str(&i).to_owned(),
    }))
}

/// Cancel a pending (or expired) invitation; a Pending membership it gave
/// an existing user is removed. Answered invitations: 422 INVITATION_NOT_PENDING.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/invitations/{invitation_id}", tag = "invitations",
    params(("organization_id" = String, Path), ("invitation_id" = String, Path)), responses((status = 204)))]
async fn cancel_invitation(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::InviteUsers>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let inv = invitation_id(&raw)?;
    let w = app
        .store
        .cancel_invitation(&caller.ctx, &access, inv)
        .await
        .map_err(|e| echo_invitation(e, "invitation_id", &raw))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

/// Renew a user's latest invitation for another full period (Roster sends no
/// email; the link stays the same).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/{user_id}/resend-invitation", tag = "invitations",
    params(("organization_id" = String, Path), ("user_id" = String, Path)), responses((status = 204)))]
async fn resend_invitation(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::InviteUsers>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let who = super::members::member_ref(&raw).map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            unknown(Error::InvitationNotFound, "user_id", &raw)
        } else {
            e
        }
    })?;
    let w = app
        .store
        .resend_invitation(&caller.ctx, &access, who)
        .await
        .map_err(|e| echo_invitation(e, "user_id", &raw))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ResendBulk {
    user_ids: Vec<String>,
}

/// Renew the invitations of many users; unknown users and answered
/// invitations are reported as failures.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/resend-invitation-bulk", tag = "invitations",
    params(("organization_id" = String, Path)), request_body = ResendBulk, responses((status = 200, body = BulkOut)))]
async fn resend_bulk(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::InviteUsers>,
    OJson(b): OJson<ResendBulk>,
) -> Result<impl IntoResponse, ApiError> {
    if b.user_ids.is_empty() || b.user_ids.len() > 1000 {
        return Err(ApiError::validation("user_ids", "must hold 1 to 1000 ids"));
    }
    let mut refs = Vec::with_capacity(b.user_ids.len());
    for raw in &b.user_ids {
        match super::members::member_ref(raw) {
            Ok(r) => refs.push((raw.clone(), Some(r))),
            Err(e) if e.status == StatusCode::NOT_FOUND => refs.push((raw.clone(), None)),
            Err(_) => {
                return Err(ApiError::validation(
                    "user_ids",
                    format!("`{raw}` is not a user or membership id"),
                ))
            }
        }
    }
    let w = app
        .store
        .resend_invitations_bulk(&caller.ctx, &access, &refs)
        .await?;
    Ok((revision_header(w.revision), Json(BulkOut::from(&w.value))))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ValidateOut {
    /// True only while the invitation is pending and not expired.
    valid: bool,
    invitation_id: String,
    email: String,
    organization_id: String,
    organization_name: String,
    role_id: String,
    role_name: String,
    expires_at: DateTime<Utc>,
    /// pending, accepted, expired or cancelled.
    status: String,
    /// Whether the email has a user: then sign in and accept, else complete.
    user_exists: bool,
}

/// Public: what an invitation key stands for. Answered, cancelled or expired
/// invitations are reported with `valid: false`; unknown keys are 404.
#[utoipa::path(get, path = "/v1/invitations/validate/{email_key}", tag = "invitations",
    params(("email_key" = String, Path)), responses((status = 200, body = ValidateOut)), security(()))]
async fn validate_invitation(
    State(app): State<App>,
    Path(key): Path<String>,
) -> Result<Json<ValidateOut>, ApiError> {
    let InvitationView {
        invitation: i,
        org_name,
        role_name,
        user_exists,
    } = app.store.validate_invitation(&key).await?;
    Ok(Json(ValidateOut {
        valid: i.state == InvitationState::Pending,
        invitation_id: i.id.to_string(),
        email: i.email.clone(),
        organization_id: i.org_id.to_string(),
        organization_name: org_name,
        role_id: i.role_id.to_string(),
        role_name,
        expires_at: i.expires_at,
        status: state_str(&i).to_owned(),
        user_exists,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct AcceptQuery {
    email_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AcceptOut {
    success: bool,
    message: String,
    invitation_id: String,
    organization_id: String,
    organization_name: String,
    user_id: String,
    role_id: String,
    membership_id: String,
    status: String,
}

/// Accept an invitation as the signed-in user it was sent to (matching
/// email): the membership becomes Active with the invited role.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "invitations",
    params(AcceptQuery), responses((status = 200, body = AcceptOut)))]
async fn accept_invitation(
    State(app): State<App>,
    caller: Caller,
    OQuery(q): OQuery<AcceptQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let Actor::User { user } = caller.actor else {
        return Err(Error::Forbidden {
            needed: "user_session".to_owned(),
        }
        .into());
    };
    let w = app
        .store
        .accept_invitation(&caller.ctx, user, &q.email_key)
        .await?;
    let a = &w.value;
    Ok((
        revision_header(w.revision),
        Json(AcceptOut {
            success: true,
            message: "Invitation accepted".to_owned(),
            invitation_id: a.invitation.id.to_string(),
            organization_id: a.invitation.org_id.to_string(),
            organization_name: a.org_name.clone(),
            user_id: user.to_string(),
            role_id: a.invitation.role_id.to_string(),
            membership_id: a.membership.to_string(),
            status: "active".to_owned(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CompleteBody {
    email_key: String,
    full_name: String,
    /// 8 to 1024 characters.
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CompleteOut {
    success: bool,
    user_id: String,
    email: String,
    organization_id: String,
    /// A bearer session token.
    token: String,
    token_type: &'static str,
    expires_in: i64,
    /// Roster issues no refresh tokens: always `{}`.
    #[schema(value_type = Object)]
    refresh_token: serde_json::Value,
    device_id: Option<String>,
    recommended_username: String,
}

/// Public: a new user answers an invitation. Creates the user (409 when the
/// email already has one: sign in and accept instead), makes them an Active
/// member with the invited role, and signs them in.
#[utoipa::path(post, path = "/v1/invitations/complete", tag = "invitations",
    request_body = CompleteBody, responses((status = 200, body = CompleteOut)), security(()))]
async fn complete_invitation(
    State(app): State<App>,
    OJson(b): OJson<CompleteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let w = app
        .store
        .complete_invitation(
            &crate::current_trace_id(),
            &b.email_key,
            &b.full_name,
            &b.password,
        )
        .await?;
    let c = w.value;
    Ok((
        revision_header(w.revision),
        Json(CompleteOut {
            success: true,
            user_id: c.user.id.to_string(),
            recommended_username: c.user.username.clone().unwrap_or_default(),
            email: c.user.email,
            organization_id: c.org_id.to_string(),
            token: c.token,
            token_type: "Bearer",
            expires_in: c.expires_in,
            refresh_token: json!({}),
            device_id: None,
        }),
    ))
}

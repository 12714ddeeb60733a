//! Users: global to the deployment, emails unique case-insensitively.

use crate::db::{conflict, db_err, now_micros};
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::PlatformAccess;
use roster_core::text::{bounded_opt, Email};
use roster_core::*;
use sqlx::any::AnyRow;

pub(crate) const USER_COLS: &str =
    "u.id, u.email, u.full_name, u.username, u.created_at, u.updated_at";

pub(crate) fn user_of(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: UserId(uuid_of(row, "id")?),
        email: str_of(row, "email")?,
        full_name: opt_str_of(row, "full_name")?,
        username: opt_str_of(row, "username")?,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Store {
    pub async fn create_user(
        &self,
        ctx: &Ctx,
        _: &PlatformAccess,
        input: NewUser,
    ) -> Result<Written<User>> {
        let full_name = bounded_opt("full_name", input.full_name.as_deref(), 255)?;
        let username = bounded_opt("username", input.username.as_deref(), 100)?;
        // Hashing is deliberately slow: do it before the transaction takes
        // the writer lock, on a blocking thread.
        let hash = match input.password {
            Some(pw) => Some(
                tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw))
                    .await
                    .map_err(Error::internal)??,
            ),
            None => None,
        };
        let mut tx = self.begin(ctx).await?;
        let user = insert_user(&mut tx, &input.email, full_name, username, hash).await?;
        tx.audit(
            None,
            "user.created",
            "user",
            user.id,
            None,
            Some(serde_json::json!({"email": user.email})),
        );
        tx.commit(self, user).await
    }

    pub async fn get_user(&self, user: UserId) -> Result<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"))
            .bind(id(user))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::UserNotFound(user))?;
        user_of(&row)
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users u WHERE u.email_key = $1"
        ))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(user_of).transpose()
    }
}

/// Inserts a user whose names are already validated and password hashed.
async fn insert_user(
    tx: &mut crate::db::Tx,
    email_in: &Email,
    full_name: Option<String>,
    username: Option<String>,
    hash: Option<String>,
) -> Result<User> {
    let now = now_micros();
    let uid = UserId::new();
    let email = email_in.as_str().to_owned();
    sqlx::query(
        "INSERT INTO users (id, email, email_key, full_name, username, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id(uid))
    .bind(&email)
    .bind(email_in.normalized())
    .bind(&full_name)
    .bind(&username)
    .bind(hash)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(|e| conflict(e, || Error::EmailTaken(email.clone())))?;
    Ok(User {
        id: uid,
        email,
        full_name,
        username,
        created_at: ts(now),
        updated_at: ts(now),
    })
}

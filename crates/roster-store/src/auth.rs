//! Credentials: password hashing (argon2), secret generation, and resolving a
//! presented credential to an [`Actor`]. Secrets are stored only as hashes.

use crate::db::{db_err, now_micros};
use crate::rows::*;
use crate::{Ctx, Store, Written};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::distributions::Alphanumeric;
use rand::Rng;
use roster_core::*;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::atomic::{AtomicI64, Ordering};

pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(Error::validation(
            "password",
            "must be 8 to 1024 characters",
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(std::io::Error::other(e.to_string())))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random secret: `prefix` + 40 alphanumeric characters.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", alphanumerics(40))
}

/// The documented length of an organization API key, `ak_` included.
pub const API_KEY_LEN: usize = 42;

/// A new organization API key: `ak_` + alphanumerics, [`API_KEY_LEN`] in all.
pub fn new_api_key() -> String {
    format!("ak_{}", alphanumerics(API_KEY_LEN - 3))
}

fn alphanumerics(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Secrets are long and random, so a plain SHA-256 is enough to store them
/// (unlike passwords, which need argon2's work factor).
pub fn hash_secret(secret: &str) -> String {
    // Runs on every request that carries a credential: `hex` writes the
    // digest directly, where `format!("{:x}")` goes through the formatter
    // byte by byte.
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Session lifetime.
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// A successful login.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user_id: UserId,
    pub expires_in: i64,
}

impl Store {
    /// Resolves a credential: the bootstrap key, an API key (`ak_`) or a session token (`rst_`).
    pub async fn authenticate(
        &self,
        credential: &str,
        bootstrap_hash: Option<&str>,
    ) -> Result<Actor> {
        let hash = hash_secret(credential);
        if bootstrap_hash.is_some_and(|b| constant_time_eq(b.as_bytes(), hash.as_bytes())) {
            return Ok(Actor::Platform);
        }
        let now = now_micros();
        if let Some((actor, key)) = self.credentials.get(&hash, now) {
            self.note_key_use(key, now);
            return Ok(actor);
        }
        // Read the generation before the database: an entry found here is
        // cached only if no credential changed meanwhile.
        let generation = self.credentials.generation();
        let (actor, expires_at, used_key) = if credential.starts_with("ak_") {
            let row = sqlx::query(
                "SELECT id, org_id, role_id, expires_at, is_active, is_paused FROM api_keys \
                 WHERE secret_hash = $1 AND deleted_at IS NULL",
            )
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::InvalidCredentials)?;
            // The holder of a refused key's secret learns why (the
            // organization API's distinct 401 codes); it still acts as no one.
            let expiry = row
                .try_get::<Option<i64>, _>("expires_at")
                .map_err(db_err)?;
            if !bool_of(&row, "is_active")? {
                return Err(Error::KeyRefused(KeyRefusal::Deactivated));
            }
            if expiry.is_some_and(|e| e <= now) {
                return Err(Error::KeyRefused(KeyRefusal::Expired));
            }
            if bool_of(&row, "is_paused")? {
                return Err(Error::KeyRefused(KeyRefusal::Paused));
            }
            let key = ApiKeyId(uuid_of(&row, "id")?);
            let actor = match opt_uuid_of(&row, "org_id")? {
                None => Actor::Platform,
                Some(org) => Actor::OrgKey {
                    key,
                    org: OrgId(org),
                    role: RoleId(uuid_of(&row, "role_id")?),
                },
            };
            (
                actor,
                row.try_get::<Option<i64>, _>("expires_at")
                    .map_err(db_err)?,
                Some(key),
            )
        } else {
            let row = sqlx::query(
                "SELECT user_id, expires_at FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(&hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::InvalidCredentials)?;
            (
                Actor::User {
                    user: UserId(uuid_of(&row, "user_id")?),
                },
                Some(i64_of(&row, "expires_at")?),
                None,
            )
        };
        self.credentials
            .insert(generation, hash, actor.clone(), expires_at, used_key);
        self.note_key_use(used_key, now);
        Ok(actor)
    }

    /// Keeps an API key's `last_used_at` current to [`KEY_USE_RESOLUTION`]:
    /// the first use of a key in each period is written, by a task of its
    /// own, so the request that used the key does not wait for a write.
    fn note_key_use(&self, key: Option<ApiKeyId>, now: i64) {
        let Some(key) = key else { return };
        if !self.credentials.use_due(key, now) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.record_key_use(key, now).await {
                tracing::warn!(error = %e, key = %key, "recording an API key's last use failed");
            }
        });
    }

    /// Writes `at` as `key`'s last use (never moving it back). Untracked:
    /// using a key changes nothing but this timestamp, so it is no audit
    /// event and takes no revision.
    async fn record_key_use(&self, key: ApiKeyId, at: i64) -> Result<()> {
        let ctx = Ctx {
            actor: Actor::Platform,
            trace_id: "api-key-use".into(),
        };
        let mut tx = self.begin(&ctx).await?;
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND deleted_at IS NULL \
             AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(id(key))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        tx.commit_untracked().await
    }

    /// Forgets every cached credential, so the next request of each caller is
    /// checked against the database again. Writes through Roster do this by
    /// themselves; call it after changing `api_keys` or `sessions` by hand.
    pub fn forget_cached_credentials(&self) {
        self.credentials.clear();
    }

    /// Checks an email and password and opens a session.
    pub async fn login(&self, ctx: &Ctx, email: &str, password: &str) -> Result<Written<Session>> {
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE email_key = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let (user, hash) = match row {
            Some(r) => (UserId(uuid_of(&r, "id")?), opt_str_of(&r, "password_hash")?),
            None => return Err(Error::InvalidCredentials),
        };
        let hash = hash.ok_or(Error::InvalidCredentials)?;
        // argon2 is deliberately slow: keep it off the async workers.
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(Error::internal)?;
        if !ok {
            return Err(Error::InvalidCredentials);
        }
        let token = new_secret("rst_");
        let now = now_micros();
        let ctx = Ctx {
            actor: Actor::User { user },
            trace_id: ctx.trace_id.clone(),
        };
        let mut tx = self.begin(&ctx).await?;
        insert_session(&mut tx, user, &token, now).await?;
        tx.audit(None, "session.created", "user", user, None, None);
        tx.commit(
            self,
            Session {
                token,
                user_id: user,
                expires_in: SESSION_SECONDS,
            },
        )
        .await
    }

    /// Revokes the session whose token is presented (other credentials: no-op).
    pub async fn logout(&self, ctx: &Ctx, token: &str) -> Result<Written<bool>> {
        let mut tx = self.begin(ctx).await?;
        tx.credentials_changed();
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(hash_secret(token))
        .execute(tx.conn())
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0;
        if let Actor::User { user } = ctx.actor {
            tx.audit(None, "session.revoked", "user", user, None, None);
        }
        tx.commit(self, done).await
    }
}

/// Compares without an early exit, so timing does not reveal a prefix match.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Opens a session for `user` whose secret is `token` (stored hashed).
pub(crate) async fn insert_session(
    tx: &mut crate::db::Tx,
    user: UserId,
    token: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id(SessionId::new()))
        .bind(id(user))
        .bind(hash_secret(token))
        .bind(now)
        .bind(now + SESSION_SECONDS * 1_000_000)
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Credentials resolved recently, so that a request does not query the
/// database to authenticate. Only successful lookups are kept, with their
/// expiry. Every write that revokes or changes a credential clears the cache
/// when it commits (and, through the change feed, on the other replicas); a
/// lookup that raced such a write is not cached (the generation changed).
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    inner: std::sync::RwLock<CacheInner>,
    /// API keys' last uses written (or being written) by this process. A
    /// request takes the read lock and compares (and claims) its key's
    /// last use atomically; the write lock is only for a key seen first.
    key_uses: std::sync::RwLock<std::collections::HashMap<ApiKeyId, AtomicI64>>,
}

#[derive(Debug, Default)]
struct CacheInner {
    generation: u64,
    /// By secret hash: the actor, the expiry and the API key it was.
    entries: std::collections::HashMap<String, (Actor, Option<i64>, Option<ApiKeyId>)>,
}

/// How precisely an API key's `last_used_at` follows its use: each process
/// writes it at most once per key in this many microseconds (one minute).
pub const KEY_USE_RESOLUTION: i64 = 60_000_000;

/// Entries kept at most; past that the cache starts over.
const CACHE_LIMIT: usize = 100_000;

impl CredentialCache {
    fn get(&self, hash: &str, now: i64) -> Option<(Actor, Option<ApiKeyId>)> {
        let inner = self.inner.read().ok()?;
        match inner.entries.get(hash) {
            Some((actor, expires, key)) if expires.is_none_or(|e| e > now) => {
                Some((actor.clone(), *key))
            }
            _ => None,
        }
    }

    /// Whether `key`'s use at `now` is to be written (its last written use is
    /// a period old or unknown here); if so, `now` becomes that use.
    fn use_due(&self, key: ApiKeyId, now: i64) -> bool {
        let claim = |at: &AtomicI64| {
            at.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                (now - last >= KEY_USE_RESOLUTION).then_some(now)
            })
            .is_ok()
        };
        if let Some(at) = self.key_uses.read().ok().as_ref().and_then(|w| w.get(&key)) {
            return claim(at);
        }
        let Ok(mut written) = self.key_uses.write() else {
            return false;
        };
        if let Some(at) = written.get(&key) {
            // Another request saw the key first, between the two locks.
            return claim(at);
        }
        if written.len() >= CACHE_LIMIT {
            written.clear();
        }
        written.insert(key, AtomicI64::new(now));
        true
    }

    fn generation(&self) -> u64 {
        self.inner.read().map(|i| i.generation).unwrap_or(u64::MAX)
    }

    fn insert(
        &self,
        generation: u64,
        hash: String,
        actor: Actor,
        expires: Option<i64>,
        key: Option<ApiKeyId>,
    ) {
        if let Ok(mut inner) = self.inner.write() {
            if inner.generation != generation {
                return;
            }
            if inner.entries.len() >= CACHE_LIMIT {
                inner.entries.clear();
            }
            inner.entries.insert(hash, (actor, expires, key));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut inner) = self.inner.write() {
            inner.generation += 1;
            inner.entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_use_is_written_once_per_period() {
        let cache = CredentialCache::default();
        let (a, b) = (ApiKeyId::new(), ApiKeyId::new());
        assert!(cache.use_due(a, 0), "the first use is written");
        assert!(!cache.use_due(a, KEY_USE_RESOLUTION - 1));
        assert!(cache.use_due(b, 1), "keys are apart");
        assert!(cache.use_due(a, KEY_USE_RESOLUTION));
        assert!(!cache.use_due(a, KEY_USE_RESOLUTION + 1));
    }
}

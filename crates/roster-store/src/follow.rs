//! Following the other replicas' writes. Every write appends its revision and
//! the organizations it touched to the `changes` table in its own
//! transaction; on PostgreSQL it also `NOTIFY`s. A replica listens, and polls
//! as a fallback, then reloads the organizations that changed since the last
//! revision it applied, in revision order, so it never skips one — also after
//! losing its connection or the database restarting.

use crate::db::{db_err, DbKind};
use crate::rows::*;
use crate::Store;
use roster_core::{OrgId, Result};
use std::collections::BTreeSet;
use std::time::Duration;

/// How often a replica polls when no notification arrives.
const POLL: Duration = Duration::from_millis(50);

/// Without a listener, try to get one again every this many polls (~2 s).
const LISTENER_RETRY_POLLS: u32 = 40;

impl Store {
    /// Applies every change committed after the index's revision. Returns the
    /// revision now applied.
    pub async fn catch_up(&self) -> Result<i64> {
        let mut applied = self.applied.lock().await;
        let from = *applied;
        let rows = sqlx::query(
            "SELECT revision, org_id FROM changes WHERE revision > $1 ORDER BY revision",
        )
        .bind(from)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        if rows.is_empty() {
            return Ok(from);
        }
        let mut to = from;
        let mut orgs = BTreeSet::new();
        let mut everything = false;
        let snap = self.index().load_full();
        // This process's own writes publish themselves; stop before the
        // first that has not yet (it catches up again once it has).
        let own = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first()
            .copied();
        for r in &rows {
            let rev = i64_of(r, "revision")?;
            if own.is_some_and(|first| rev >= first) {
                break;
            }
            to = to.max(rev);
            match str_of(r, "org_id")?.as_str() {
                "*" => everything = true,
                crate::db::CREDENTIALS_CHANGED => self.credentials.clear(),
                crate::db::REVISION_ONLY => {}
                o => {
                    if let Ok(u) = uuid::Uuid::parse_str(o) {
                        // This replica's own writes are published already.
                        if snap.org_revision(OrgId(u)).is_none_or(|have| have < rev) {
                            orgs.insert(OrgId(u));
                        }
                    }
                }
            }
        }
        if to == from {
            return Ok(from);
        }
        if everything {
            drop(applied);
            self.rebuild_index().await?;
            return Ok(self.revision());
        }
        let updates = self.rebuild_orgs(orgs).await?;
        self.index().publish(to, &updates);
        *applied = to;
        self.announce();
        Ok(to)
    }

    /// Follows other replicas' writes for as long as the process runs
    /// (PostgreSQL only: an SQLite database has one process).
    pub fn spawn_follower(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.kind != DbKind::Postgres {
            return None;
        }
        let store = self.clone();
        Some(tokio::spawn(async move { store.follow().await }))
    }

    async fn follow(self) {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(&self.url).await {
                Ok(mut l) => match l.listen("roster_changes").await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN for changes; polling");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect the change listener; polling");
                    None
                }
            };
            // Catch up after (re)connecting: changes may have happened meanwhile.
            self.catch_up_logged().await;
            let mut polls_without_listener = 0u32;
            loop {
                match listener.as_mut() {
                    Some(l) => match tokio::time::timeout(POLL, l.try_recv()).await {
                        Ok(Ok(Some(_))) | Err(_) => {}
                        // The connection dropped: reconnect, then catch up.
                        Ok(Ok(None)) | Ok(Err(_)) => break,
                    },
                    None => {
                        tokio::time::sleep(POLL).await;
                        polls_without_listener += 1;
                        if polls_without_listener >= LISTENER_RETRY_POLLS {
                            break;
                        }
                    }
                }
                self.catch_up_logged().await;
            }
        }
    }

    async fn catch_up_logged(&self) {
        if let Err(e) = self.catch_up().await {
            tracing::warn!(error = %e, "catching up with the change feed failed; will retry");
        }
    }
}

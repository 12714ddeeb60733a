//! Following the other replicas' writes. Every write appends its revision and
//! the organizations it touched to the `changes` table in its own
//! transaction; on PostgreSQL it also `NOTIFY`s. A replica listens, and polls
//! as a fallback, then applies what changed since the last revision it
//! applied (an organization's deltas from the feed, or a fresh read of it),
//! in revision order, so it never skips one — also after losing its
//! connection or the database restarting. Its own writes come the same way.

use crate::db::{db_err, DbKind};
use crate::rows::*;
use crate::Store;
use roster_core::index::{IndexDelta, OrgUpdate};
use roster_core::{OrgId, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// At most this many revisions are read from the feed in one query (a few in
/// unit tests, so that catching up over several ranges is exercised).
const FEED_BATCH: i64 = if cfg!(test) { 3 } else { 10_000 };

/// How often a replica polls when no notification arrives.
const POLL: Duration = Duration::from_millis(50);

/// Without a listener, try to get one again every this many polls (~2 s).
const LISTENER_RETRY_POLLS: u32 = 40;

impl Store {
    /// Applies every change committed after the index's revision. Returns the
    /// revision now applied.
    pub async fn catch_up(&self) -> Result<i64> {
        loop {
            if let (to, false) = self.catch_up_from_feed(None).await? {
                return Ok(to);
            }
        }
    }

    /// [`Store::catch_up`] for a write of this process at `revision`
    /// (committed): returns at once if the index holds it already.
    pub(crate) async fn catch_up_to(&self, revision: i64) -> Result<()> {
        while self.catch_up_from_feed(Some(revision)).await?.1 {}
        Ok(())
    }

    /// Reads the feed after the applied revision and applies it in revision
    /// order. An organization whose rows carry deltas follows them in memory
    /// on top of its index (each delta only if the index does not already
    /// reflect its revision); any other is re-read, together with the
    /// revision the read reflects (at least the last one in the feed read,
    /// so the read covers every delta of the batch). This process's own
    /// writes come through here too: the feed holds each write from its
    /// commit on, in the order the revision lock gave them. Returns the
    /// revision applied and whether more of the feed remains to be read
    /// (`wanted`, if given, not reached yet, or a full range read).
    async fn catch_up_from_feed(&self, wanted: Option<i64>) -> Result<(i64, bool)> {
        let mut applied = self.applied.lock().await;
        let from = *applied;
        if wanted.is_some_and(|w| w <= from) {
            return Ok((from, false));
        }
        // A range bounded on both sides, so the generic plan of the prepared
        // statement walks the primary key instead of scanning the whole feed
        // (its statistics lag behind its growth). Revisions have no gaps, so
        // a replica further behind reads several ranges (see the callers).
        let rows = sqlx::query(
            "SELECT revision, org_id, delta FROM changes \
             WHERE revision > $1 AND revision <= $2 ORDER BY revision",
        )
        .bind(from)
        .bind(from + FEED_BATCH)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut to = from;
        let mut reread = BTreeSet::new();
        let mut deltas: BTreeMap<OrgId, Vec<(i64, Vec<IndexDelta>)>> = BTreeMap::new();
        let mut everything = false;
        for r in &rows {
            let rev = i64_of(r, "revision")?;
            to = to.max(rev);
            match str_of(r, "org_id")?.as_str() {
                crate::db::EVERYTHING_CHANGED => everything = true,
                crate::db::CREDENTIALS_CHANGED => self.credentials.clear(),
                crate::db::REVISION_ONLY => {}
                o => {
                    let Ok(u) = uuid::Uuid::parse_str(o) else {
                        continue;
                    };
                    let org = OrgId(u);
                    let parsed = opt_str_of(r, "delta")?
                        .and_then(|d| serde_json::from_str::<Vec<IndexDelta>>(&d).ok());
                    match parsed {
                        Some(list) if !reread.contains(&org) => {
                            deltas.entry(org).or_default().push((rev, list))
                        }
                        _ => {
                            reread.insert(org);
                        }
                    }
                }
            }
        }
        if to == from {
            return Ok((from, false));
        }
        if everything {
            drop(applied);
            self.rebuild_index().await?;
            return Ok((self.revision(), false));
        }
        let snap = self.index().load_full();
        let mut updates: Vec<(i64, OrgUpdate)> = Vec::new();
        for (org, list) in deltas {
            if reread.contains(&org) {
                continue;
            }
            let (Some(mut at), Some(base)) = (snap.org_revision(org), snap.org(org)) else {
                reread.insert(org);
                continue;
            };
            // Every delta the index does not reflect yet, applied in one rebuild.
            let (mut pending, have) = (Vec::new(), at);
            for (rev, list) in list.into_iter().filter(|(rev, _)| *rev > have) {
                pending.extend(list);
                at = rev;
            }
            let ix = if pending.is_empty() {
                base.clone()
            } else {
                Arc::new(base.with_deltas(org, &pending))
            };
            #[cfg(debug_assertions)]
            self.verify_followed(org, at, &ix).await;
            updates.push((at, OrgUpdate::Replace(org, ix)));
        }
        updates.extend(self.rebuild_orgs(reread).await?);
        self.index().publish_each(to, &updates);
        *applied = to;
        self.announce();
        let more = to == from + FEED_BATCH || wanted.is_some_and(|w| to < w);
        Ok((to, more))
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
            let mut caught_up = std::time::Instant::now();
            let mut polls_without_listener = 0u32;
            loop {
                match listener.as_mut() {
                    Some(l) => match tokio::time::timeout(POLL, l.try_recv()).await {
                        // The payload is the write's revision: nothing to read
                        // when the index holds it already (this process's own
                        // writes, or a batch applied since), unless a poll is due.
                        Ok(Ok(Some(n)))
                            if n.payload()
                                .parse::<i64>()
                                .is_ok_and(|r| r <= self.revision())
                                && caught_up.elapsed() < POLL =>
                        {
                            continue
                        }
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
                caught_up = std::time::Instant::now();
            }
        }
    }

    async fn catch_up_logged(&self) {
        if let Err(e) = self.catch_up().await {
            tracing::warn!(error = %e, "catching up with the change feed failed; will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::{Ctx, Store};

    async fn write(store: &Store) -> i64 {
        let ctx = Ctx {
            actor: roster_core::Actor::Platform,
            trace_id: "feed".into(),
        };
        let tx = store.begin(&ctx).await.unwrap();
        tx.commit(store, ()).await.unwrap().revision
    }

    /// A replica further behind than one range of the feed catches up over
    /// several ranges, both when following and before acknowledging a write.
    #[tokio::test]
    async fn a_replica_far_behind_reads_the_feed_in_several_ranges() {
        crate::db::tests::on_postgres("feed_ranges", |url| async move {
            let a = Store::open(&url).await.unwrap();
            let b = Store::open(&url).await.unwrap();
            let start = b.revision();
            for _ in 0..10 {
                write(&a).await;
            }
            let last = a.revision();
            assert!(last >= start + 10);
            assert_eq!(b.catch_up().await.unwrap(), last);
            assert_eq!(b.revision(), last);
            for _ in 0..10 {
                write(&a).await;
            }
            // B's own write waits until B's index holds it: ten of A's first.
            let own = write(&b).await;
            assert_eq!(own, a.revision() + 1);
            assert_eq!(b.revision(), own);
        })
        .await;
    }
}

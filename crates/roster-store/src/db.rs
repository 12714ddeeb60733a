//! Connection, migrations, the write transaction, and constraint mapping.

use crate::{Ctx, Written};
use roster_core::index::{Index, IndexDelta, OrgIndex, OrgUpdate};
use roster_core::{Error, OrgId, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Which database a URL names. The only place where the two differ in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        }
    }

    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(DbKind::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(DbKind::Postgres)
        } else {
            Err(Error::validation(
                "database",
                "the URL must start with sqlite: or postgres:",
            ))
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The store: a connection pool and the permission index it keeps current.
/// Clones share one [`shared::Parts`]: a clone is one reference count, which
/// matters because the HTTP layer clones its state for every request.
#[derive(Clone)]
pub struct Store(Arc<shared::Parts>);

impl std::ops::Deref for Store {
    type Target = shared::Parts;

    fn deref(&self) -> &shared::Parts {
        &self.0
    }
}

mod shared {
    use super::*;

    /// What a [`Store`] and its clones share. Public only to name the target
    /// of `Store`'s `Deref`; nothing outside the crate can reach its fields.
    pub struct Parts {
        pub(crate) pool: AnyPool,
        pub(crate) kind: DbKind,
        pub(crate) index: Index,
        /// SQLite: the one writer connection and its commit group (see
        /// [`crate::group`]); `None` on PostgreSQL, where every write has its own
        /// transaction on a pooled connection.
        pub(crate) writer: Option<crate::group::WriterHandle>,
        pub(crate) url: String,
        /// The database file on SQLite (`None` in memory or on PostgreSQL).
        pub(crate) sqlite_file: Option<std::path::PathBuf>,
        /// Read-only SQLite connections for rebuilding organizations after writes.
        pub(crate) readers: std::sync::Mutex<Vec<rusqlite::Connection>>,
        /// The last change-feed revision applied without a gap, and the lock
        /// that makes catching up one task at a time.
        pub(crate) applied: tokio::sync::Mutex<i64>,
        /// SQLite: committed writes waiting to be applied to the index, by
        /// revision; they are applied strictly in revision order (see
        /// [`Store::publish_in_order`]). Locked after `applied`, never before.
        pub(crate) queue: std::sync::Mutex<BTreeMap<i64, Effect>>,
        pub(crate) credentials: crate::auth::CredentialCache,
        /// The index's revision, for callers waiting until it reaches theirs.
        pub(crate) revisions: tokio::sync::watch::Sender<i64>,
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("kind", &self.kind).finish()
    }
}

pub(crate) fn db_err(e: sqlx::Error) -> Error {
    // PostgreSQL stores no U+0000 in text (22021 for a text value, 22P05
    // for one inside JSONB): bad input, refused, whichever field held it.
    if let sqlx::Error::Database(d) = &e {
        if matches!(d.code().as_deref(), Some("22021" | "22P05")) {
            return Error::validation("text", "text must not contain the NUL character (U+0000)");
        }
    }
    Error::internal(e)
}

/// True when `e` is a unique-constraint violation (both databases report the kind).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Maps a unique violation to `conflict`, anything else to an internal error.
pub(crate) fn conflict(e: sqlx::Error, conflict: impl FnOnce() -> Error) -> Error {
    if is_unique_violation(&e) {
        conflict()
    } else {
        db_err(e)
    }
}

pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Store {
    /// Connects (creating an SQLite file if missing) and applies migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        store.rebuild_index().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let kind = DbKind::from_url(url)?;
        let (url, max) = match kind {
            DbKind::Sqlite => (sqlite_url(url), 8),
            DbKind::Postgres => (url.to_owned(), 16),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes every
                        // acknowledged commit durable; foreign keys are off by default.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(db_err)?;
        let writer = match kind {
            DbKind::Sqlite => Some(crate::group::WriterHandle::start(
                pool.acquire().await.map_err(db_err)?.detach(),
            )),
            DbKind::Postgres => None,
        };
        Ok(Store(Arc::new(shared::Parts {
            pool,
            kind,
            index: Index::new(),
            writer,
            url: url.clone(),
            sqlite_file: crate::fastload::sqlite_path(&url).filter(|_| kind == DbKind::Sqlite),
            readers: Default::default(),
            applied: tokio::sync::Mutex::new(0),
            queue: Default::default(),
            credentials: crate::auth::CredentialCache::default(),
            revisions: tokio::sync::watch::Sender::new(0),
        })))
    }

    /// The database URL the store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.kind {
            DbKind::Sqlite => &SQLITE_MIGRATIONS,
            DbKind::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies pending migrations; refuses a database migrated by a newer Roster.
    pub async fn migrate(&self) -> Result<()> {
        let known = self.migrator().iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await
            .ok()
            .and_then(|r: AnyRow| r.try_get::<Option<i64>, _>("v").ok().flatten());
        if let Some(v) = applied {
            if v > known {
                return Err(Error::validation(
                    "database",
                    format!("the database has migration {v}, newer than this Roster knows ({known}); upgrade Roster"),
                ));
            }
        }
        self.migrator()
            .run(&self.pool)
            .await
            .map_err(Error::internal)?;
        Ok(())
    }

    /// Rebuilds the whole permission index from the database.
    pub async fn rebuild_index(&self) -> Result<()> {
        let mut applied = self.applied.lock().await;
        let (revision, orgs) = if let Some(path) = self.sqlite_file.clone().filter(|p| p.exists()) {
            tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let (revision, data) = crate::fastload::read_all(&path)?;
                Ok::<_, Error>((revision, crate::load::build_all(data, started.elapsed())?))
            })
            .await
            .map_err(Error::internal)??
        } else {
            let mut tx = read_snapshot(&self.pool, self.kind).await?;
            let revision = current_revision(&mut tx).await?;
            let orgs = crate::load::all_orgs(&mut tx).await?;
            tx.commit().await.map_err(db_err)?;
            (revision, orgs)
        };
        self.index.install(revision, orgs);
        *applied = revision;
        // SQLite: writes committed after the read may be queued already.
        let drained = {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            self.drain(&mut applied, &mut queue)
        };
        self.announce();
        drained.map(|_| ())
    }

    /// Starts a write transaction on behalf of `ctx`.
    pub async fn begin(&self, ctx: &Ctx) -> Result<Tx> {
        let conn = match &self.writer {
            Some(writer) => TxConn::Sqlite(writer.begin(&ctx.trace_id).await?),
            None => TxConn::Postgres(self.pool.begin().await.map_err(db_err)?),
        };
        Ok(Tx {
            conn,
            ctx: ctx.clone(),
            touched: BTreeSet::new(),
            removed: BTreeSet::new(),
            deltas: BTreeMap::new(),
            events: Vec::new(),
            credentials_changed: false,
            everything_changed: false,
        })
    }

    /// The latest revision published in this process.
    pub fn revision(&self) -> i64 {
        self.index.load().revision
    }

    /// Tells waiters (see [`Store::snapshot_at_least`]) the index's revision.
    pub(crate) fn announce(&self) {
        let now = self.revision();
        self.revisions.send_if_modified(|seen| {
            let newer = now > *seen;
            if newer {
                *seen = now;
            }
            newer
        });
    }

    /// The current index snapshot once its revision is at least `revision`,
    /// waiting at most `wait` (woken by each revision published, no polling);
    /// `Err` with the revision reached when the wait runs out.
    pub async fn snapshot_at_least(
        &self,
        revision: i64,
        wait: Duration,
    ) -> std::result::Result<Arc<roster_core::index::Snapshot>, i64> {
        let mut seen = self.revisions.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let snap = self.index.load_full();
            if snap.revision >= revision {
                return Ok(snap);
            }
            match tokio::time::timeout_at(deadline, seen.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(self.revision()),
            }
        }
    }
}

/// A read-only transaction that sees one snapshot of the database (so a
/// revision read in it matches the rows read in it exactly).
async fn read_snapshot(pool: &AnyPool, kind: DbKind) -> Result<sqlx::Transaction<'static, Any>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    if kind == DbKind::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    Ok(tx)
}

/// `sqlite://roster.db` → create the file when missing.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

pub(crate) async fn current_revision(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    let row = sqlx::query("SELECT revision FROM meta WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    row.try_get::<i64, _>("revision").map_err(db_err)
}

/// The change-feed entry that tells replicas to reload every organization
/// (a bulk import).
pub(crate) const EVERYTHING_CHANGED: &str = "*";

/// The change-feed entry that tells replicas to forget cached credentials.
pub(crate) const CREDENTIALS_CHANGED: &str = "#credentials";

/// The change-feed entry of a write that touched no organization (a new
/// user, a login): it changes no index, but followers must still see its
/// revision, or `at_least_revision` on it would wait for the next write.
pub(crate) const REVISION_ONLY: &str = "#revision";

/// `INSERT INTO target VALUES (...), ...` with `$n` numbered in order of
/// appearance from `$first` for PostgreSQL and anonymous `?` for SQLite:
/// sqlx resolves each named SQLite parameter with
/// `sqlite3_bind_parameter_name`, a linear scan, which made binding a
/// 4,500-parameter statement quadratic (two thirds of an import's time).
/// A cell is `$` for a parameter, else SQL written as is.
pub(crate) fn values_sql(
    kind: DbKind,
    target: &str,
    cells: &[&str],
    rows: usize,
    tail: &str,
) -> String {
    values_sql_from(kind, target, cells, rows, tail, 1)
}

fn values_sql_from(
    kind: DbKind,
    target: &str,
    cells: &[&str],
    rows: usize,
    tail: &str,
    first: usize,
) -> String {
    let mut sql = String::with_capacity(32 + rows * cells.len() * 8);
    sql.push_str("INSERT INTO ");
    sql.push_str(target);
    sql.push_str(" VALUES ");
    let mut n = first - 1;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            if *c != "$" {
                sql.push_str(c);
            } else if kind == DbKind::Sqlite {
                sql.push('?');
            } else {
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// Audit events per `INSERT` on SQLite (ten bound values each: well within
/// its limit on bound parameters). PostgreSQL stages them all in one value.
const EVENTS_PER_STATEMENT: usize = 1000;

const AUDIT_TARGET: &str = "audit_events (id, revision, org_id, actor, action, target_type, target_id, before_json, after_json, trace_id, created_at)";

/// An audit row's cells, the revision given as `revision` (a parameter `$`,
/// or SQL), bound by [`bind_events`].
fn audit_cells(revision: &str) -> [&str; 11] {
    ["$", revision, "$", "$", "$", "$", "$", "$", "$", "$", "$"]
}

/// An audit event's columns but the revision: what both databases write
/// (bound by [`bind_events`] on SQLite, staged as JSON by [`stage_write`]
/// on PostgreSQL).
#[derive(serde::Serialize)]
struct AuditRow<'a> {
    id: String,
    org_id: Option<String>,
    actor: String,
    action: &'a str,
    target_type: &'a str,
    target_id: &'a str,
    before_json: Option<String>,
    after_json: Option<String>,
    trace_id: &'a str,
    created_at: i64,
}

impl PendingEvent {
    fn row<'a>(&'a self, ctx: &'a Ctx, now: i64) -> AuditRow<'a> {
        AuditRow {
            id: roster_core::EventId::new().uuid().to_string(),
            org_id: self.org.map(|o| o.uuid().to_string()),
            actor: ctx.actor.audit_name(),
            action: &self.action,
            target_type: self.target_type,
            target_id: &self.target_id,
            before_json: self.before.as_ref().map(|v| v.to_string()),
            after_json: self.after.as_ref().map(|v| v.to_string()),
            trace_id: &ctx.trace_id,
            created_at: now,
        }
    }
}

/// Binds events in [`audit_cells`] order (`revision`: when it is a parameter).
fn bind_events<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    events: &'q [PendingEvent],
    ctx: &'q Ctx,
    revision: Option<i64>,
    now: i64,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for e in events {
        let row = e.row(ctx, now);
        q = q.bind(row.id);
        if let Some(r) = revision {
            q = q.bind(r);
        }
        q = q
            .bind(row.org_id)
            .bind(row.actor)
            .bind(row.action)
            .bind(row.target_type)
            .bind(row.target_id)
            .bind(row.before_json)
            .bind(row.after_json)
            .bind(row.trace_id)
            .bind(row.created_at);
    }
    q
}

/// SQLite: takes the write's revision and records its audit events and
/// change-feed rows (`changed`: never empty). The commit group's writer is
/// serialized, so the revision is simply the next one.
async fn record_revision(
    conn: &mut sqlx::AnyConnection,
    ctx: &Ctx,
    events: &[PendingEvent],
    changed: &[FeedRow],
    now: i64,
) -> Result<i64> {
    const KIND: DbKind = DbKind::Sqlite;
    let mut chunks = events.chunks(EVENTS_PER_STATEMENT);
    // One call carrying several statements (each statement is a hand-off to
    // sqlx's SQLite worker thread, and the writer is held meanwhile);
    // anonymous parameters number on across statements.
    const REVISION: &str = "(SELECT revision FROM meta WHERE id = 1)";
    let first = chunks.next().unwrap_or_default();
    let mut sql = String::from("UPDATE meta SET revision = revision + 1 WHERE id = 1;\n");
    sql.push_str(&values_sql_from(
        KIND,
        "changes (revision, org_id, created_at, delta)",
        &[REVISION, "$", "$", "$"],
        changed.len(),
        "",
        1,
    ));
    sql.push_str(";\n");
    if !first.is_empty() {
        let cells = audit_cells(REVISION);
        sql.push_str(&values_sql(KIND, AUDIT_TARGET, &cells, first.len(), ";\n"));
    }
    sql.push_str("SELECT revision FROM meta WHERE id = 1");
    let mut q = sqlx::query(&sql);
    for row in changed {
        q = q
            .bind(row.org.as_str())
            .bind(now)
            .bind(row.delta.as_deref());
    }
    // `fetch_all`: the `Any` driver's `fetch_one` looks at the first
    // statement's result only.
    let rows = bind_events(q, first, ctx, None, now)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let row = rows
        .last()
        .ok_or_else(|| db_err(sqlx::Error::RowNotFound))?;
    let revision = row.try_get::<i64, _>("revision").map_err(db_err)?;
    for chunk in chunks {
        let sql = values_sql(KIND, AUDIT_TARGET, &audit_cells("$"), chunk.len(), "");
        bind_events(sqlx::query(&sql), chunk, ctx, Some(revision), now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(revision)
}

/// PostgreSQL: stages the write's change-feed rows (`changed`: never empty)
/// and audit events in one `pending_writes` row. The database takes the
/// revision when the transaction commits and writes them then, with it
/// (trigger `take_revision`, migration 0008), and wakes the other replicas
/// (`NOTIFY`). So no revision is held while this client works. Returns the
/// ticket the revision is read back by ([`revision_of_ticket`]).
async fn stage_write(
    conn: &mut sqlx::AnyConnection,
    ctx: &Ctx,
    events: &[PendingEvent],
    changed: &[FeedRow],
    now: i64,
) -> Result<i64> {
    let changes: Vec<serde_json::Value> = changed
        .iter()
        .map(|row| serde_json::json!({"org_id": row.org, "created_at": now, "delta": row.delta}))
        .collect();
    let audit: Vec<AuditRow> = events.iter().map(|e| e.row(ctx, now)).collect();
    let audit = serde_json::to_string(&audit).map_err(Error::internal)?;
    let row = sqlx::query(
        "INSERT INTO pending_writes (ticket, changes, audit) \
         VALUES (nextval('write_tickets'), CAST($1 AS JSONB), CAST($2 AS JSONB)) RETURNING ticket",
    )
    .bind(serde_json::Value::Array(changes).to_string())
    .bind(audit)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    row.try_get::<i64, _>("ticket").map_err(db_err)
}

/// PostgreSQL: the revision a committed write took, by its ticket. Tickets
/// are kept for the last 100,000 writes or more; past that (a writer held up
/// that long) the current revision stands in: it includes the write, so
/// waiting for it still sees the write.
async fn revision_of_ticket(pool: &AnyPool, ticket: i64) -> Result<i64> {
    let row = sqlx::query("SELECT revision FROM pending_writes WHERE ticket = $1")
        .bind(ticket)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    if let Some(revision) = row
        .map(|r| r.try_get::<Option<i64>, _>("revision"))
        .transpose()
        .map_err(db_err)?
        .flatten()
    {
        return Ok(revision);
    }
    tracing::warn!(
        ticket,
        "a committed write's ticket was gone; using the current revision"
    );
    let mut conn = pool.acquire().await.map_err(db_err)?;
    current_revision(&mut conn).await
}

pub(crate) struct PendingEvent {
    pub org: Option<OrgId>,
    pub action: String,
    pub target_type: &'static str,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// One write transaction. Dropping it without [`Tx::commit`] rolls back.
pub struct Tx {
    conn: TxConn,
    pub(crate) ctx: Ctx,
    touched: BTreeSet<OrgId>,
    removed: BTreeSet<OrgId>,
    /// Organizations whose every change in this write is described here, so
    /// the index can follow them without re-reading them (SQLite).
    deltas: BTreeMap<OrgId, Vec<IndexDelta>>,
    events: Vec<PendingEvent>,
    credentials_changed: bool,
    everything_changed: bool,
}

/// Where a write runs: its own PostgreSQL transaction, or a savepoint in
/// SQLite's current commit group.
enum TxConn {
    Postgres(sqlx::Transaction<'static, Any>),
    Sqlite(crate::group::Turn),
}

impl TxConn {
    /// Commits: the PostgreSQL transaction, or (SQLite) joins the commit
    /// group and waits for the group's commit, so it is durable on return.
    async fn commit(self) -> Result<()> {
        match self {
            TxConn::Postgres(tx) => tx.commit().await.map_err(db_err),
            TxConn::Sqlite(turn) => turn.release().await?.await,
        }
    }
}

impl Tx {
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.conn {
            TxConn::Postgres(tx) => tx,
            TxConn::Sqlite(turn) => turn.conn(),
        }
    }

    /// Records an audit event (written at commit) and marks the
    /// organization's index for rebuilding.
    pub(crate) fn audit(
        &mut self,
        org: Option<OrgId>,
        action: &str,
        target_type: &'static str,
        target_id: impl ToString,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        if let Some(o) = org {
            self.touched.insert(o);
        }
        self.events.push(PendingEvent {
            org,
            action: action.to_owned(),
            target_type,
            target_id: target_id.to_string(),
            before,
            after,
        });
    }

    /// Marks this write as revoking or changing a credential: cached
    /// credentials are forgotten when it commits, here and on other replicas.
    pub(crate) fn credentials_changed(&mut self) {
        self.credentials_changed = true;
    }

    /// Marks this write as changing more than it describes (a bulk import):
    /// other replicas reload every organization when it commits.
    pub(crate) fn everything_changed(&mut self) {
        self.everything_changed = true;
    }

    /// Describes a change of this write to `org`'s index rows. Only a use case
    /// that describes *every* change it makes to the organization's rows may
    /// call this (a helper that writes rows must not): an organization with
    /// deltas is not re-read after the write. Debug builds check each
    /// delta-followed organization against a fresh read.
    pub(crate) fn index_delta(&mut self, org: OrgId, delta: IndexDelta) {
        self.deltas.entry(org).or_default().push(delta);
    }

    /// Marks an organization as gone from the index.
    pub(crate) fn remove_org(&mut self, org: OrgId) {
        self.touched.remove(&org);
        self.removed.insert(org);
    }

    /// Bumps the revision, writes the audit events and the change feed,
    /// commits, then rebuilds the touched organizations' indexes from the
    /// committed state and publishes them. Returns only once the write is
    /// durable and visible to checks.
    ///
    /// Runs to the end in a task of its own even if the caller goes away
    /// (a client disconnecting): a commit half done would leave the writer
    /// in an unknown state, and a committed write must reach the index.
    pub(crate) async fn commit<T: Send + 'static>(
        self,
        store: &Store,
        value: T,
    ) -> Result<Written<T>> {
        let store = store.clone();
        let revision = tokio::spawn(async move { self.finish(&store).await })
            .await
            .map_err(Error::internal)??;
        Ok(Written { value, revision })
    }

    /// Commits a write of data that neither the index, the audit log nor the
    /// other replicas follow (an API key's last use): no revision, no audit
    /// event, no change-feed row. Durable once this returns.
    pub(crate) async fn commit_untracked(self) -> Result<()> {
        debug_assert!(
            self.events.is_empty()
                && self.touched.is_empty()
                && self.removed.is_empty()
                && !self.credentials_changed
                && !self.everything_changed,
            "an untracked write changes nothing that is tracked"
        );
        // Runs to the end whatever the caller does (see `commit`).
        tokio::spawn(self.conn.commit())
            .await
            .map_err(Error::internal)?
    }

    /// Ends a transaction that wrote nothing but answers with what it read.
    /// On SQLite that may include writes of the open commit group, not yet
    /// durable nor in the index: this waits until they are both (as a write
    /// would), and returns `value` at the revision it reflects.
    pub(crate) async fn finish_read<T: Send + 'static>(
        mut self,
        store: &Store,
        value: T,
    ) -> Result<Written<T>> {
        let revision = current_revision(self.conn()).await?;
        // Leaving the group runs to the end whatever the caller does (see `commit`).
        tokio::spawn(async move {
            match self.conn {
                // Rolled back on drop: nothing was written.
                TxConn::Postgres(_) => Ok(()),
                TxConn::Sqlite(turn) => turn.release().await?.await,
            }
        })
        .await
        .map_err(Error::internal)??;
        // Bounded: an index still behind after this answers anyway, as before.
        let _ = store
            .snapshot_at_least(revision, Duration::from_secs(2))
            .await;
        Ok(Written { value, revision })
    }

    async fn finish(mut self, store: &Store) -> Result<i64> {
        // Replicas (PostgreSQL) follow an organization's deltas from the
        // feed; SQLite has one process, which keeps them in memory.
        let touched = &self.touched;
        self.deltas.retain(|org, _| touched.contains(org));
        let delta_of = |org: &OrgId| {
            (store.kind == DbKind::Postgres)
                .then(|| self.deltas.get(org))
                .flatten()
                .and_then(|list| serde_json::to_string(list).ok())
        };
        let mut changed: Vec<FeedRow> = self
            .touched
            .iter()
            .chain(self.removed.iter())
            .map(|o| FeedRow {
                org: o.uuid().to_string(),
                delta: delta_of(o),
            })
            .collect();
        if self.credentials_changed {
            changed.push(FeedRow::marker(CREDENTIALS_CHANGED));
        }
        if self.everything_changed {
            changed.push(FeedRow::marker(EVERYTHING_CHANGED));
        }
        if changed.is_empty() {
            changed.push(FeedRow::marker(REVISION_ONLY));
        }
        let events = std::mem::take(&mut self.events);
        let ctx = self.ctx.clone();
        let now = now_micros();
        let revision = match store.kind {
            DbKind::Postgres => {
                let ticket = stage_write(self.conn(), &ctx, &events, &changed, now).await?;
                // The commit takes the revision (in the database).
                self.conn.commit().await?;
                revision_of_ticket(&store.pool, ticket).await?
            }
            DbKind::Sqlite => {
                let revision = record_revision(self.conn(), &ctx, &events, &changed, now).await?;
                // Other writers may run while the group is flushed.
                self.conn.commit().await?;
                revision
            }
        };
        if self.credentials_changed {
            store.credentials.clear();
        }
        let (touched, removed, deltas) = (self.touched, self.removed, self.deltas);
        if let Err(e) = store
            .publish_write(revision, touched, removed, deltas)
            .await
        {
            tracing::error!(error = %e, revision, "updating the index after a write failed; rebuilding it");
            store.rebuild_index().await?;
        }
        Ok(revision)
    }
}

/// At most this many pooled connections rebuild organizations for one caller.
const REBUILD_CONNECTIONS: usize = 4;

/// One change-feed row: an organization (or a marker) and, for an
/// organization a write described completely, its deltas as JSON.
pub(crate) struct FeedRow {
    org: String,
    delta: Option<String>,
}

impl FeedRow {
    fn marker(name: &str) -> Self {
        FeedRow {
            org: name.to_owned(),
            delta: None,
        }
    }
}

impl Store {
    /// Brings the index up to date with a committed write before the write is
    /// acknowledged, the deployment revision advancing without gaps: on
    /// PostgreSQL through the change feed, on SQLite through the in-order
    /// queue ([`Store::publish_in_order`]).
    async fn publish_write(
        &self,
        revision: i64,
        touched: BTreeSet<OrgId>,
        removed: BTreeSet<OrgId>,
        deltas: BTreeMap<OrgId, Vec<IndexDelta>>,
    ) -> Result<()> {
        if self.kind == DbKind::Postgres {
            // The feed holds this write (committed) and every one before it:
            // following it applies them all in order, this one included.
            return self.catch_up_to(revision).await;
        }
        self.publish_in_order(revision, touched, removed, deltas)
            .await
    }

    /// SQLite: the write's effect joins the queue and every write whose turn
    /// has come is applied, in revision order, then published in one step.
    /// Organizations the write described with deltas follow them in memory
    /// (on top of exactly the writes before it); the others were re-read
    /// beforehand, outside the lock, together with the revision the read
    /// reflects, so a delta of an earlier write never lands on top of a read
    /// that already holds it. Returns once the write is in the index.
    async fn publish_in_order(
        &self,
        revision: i64,
        touched: BTreeSet<OrgId>,
        removed: BTreeSet<OrgId>,
        deltas: BTreeMap<OrgId, Vec<IndexDelta>>,
    ) -> Result<()> {
        let reread: BTreeSet<OrgId> = touched
            .into_iter()
            .filter(|o| !deltas.contains_key(o))
            .collect();
        let effect = Effect {
            reread: self.rebuild_orgs(reread).await?,
            deltas: deltas.into_iter().collect(),
            removed: removed.into_iter().collect(),
        };
        let drained = {
            let mut applied = self.applied.lock().await;
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.insert(revision, effect);
            self.drain(&mut applied, &mut queue)
        };
        self.announce();
        #[cfg(debug_assertions)]
        for (org, at, ix) in drained.as_ref().into_iter().flatten() {
            self.verify_followed(*org, *at, ix).await;
        }
        drained?;
        // An earlier write of the same commit group applies this one when
        // it arrives (all of a group's writes learn of its commit at once).
        if self
            .snapshot_at_least(revision, Duration::from_secs(10))
            .await
            .is_err()
        {
            return Err(Error::internal(std::io::Error::other(format!(
                "revision {revision} was not applied within 10 s: an earlier write never reached the index"
            ))));
        }
        Ok(())
    }

    /// Applies the queued writes from `applied + 1` on, as long as there is
    /// no gap, and publishes the result. An organization's deltas of all the
    /// writes applied here are gathered and applied in one rebuild. Returns
    /// the organizations that followed deltas (the revision and the index).
    fn drain(
        &self,
        applied: &mut i64,
        queue: &mut BTreeMap<i64, Effect>,
    ) -> Result<Vec<(OrgId, i64, Arc<OrgIndex>)>> {
        /// An organization as this drain leaves it: the revision it reflects,
        /// its index (`None`: gone) and the deltas still to apply to that index.
        struct Follow {
            at: i64,
            ix: Option<Arc<OrgIndex>>,
            pending: Vec<IndexDelta>,
        }
        let follow = |at, ix| Follow {
            at,
            ix,
            pending: Vec::new(),
        };
        // Older entries are covered by a full rebuild that ran since.
        queue.retain(|r, _| *r > *applied);
        let snap = self.index.load_full();
        let mut work: BTreeMap<OrgId, Follow> = BTreeMap::new();
        let at_of = |work: &BTreeMap<OrgId, Follow>, org: OrgId| {
            work.get(&org)
                .map(|f| f.at)
                .or_else(|| snap.org_revision(org))
        };
        let start = *applied;
        let mut failed = None;
        while let Some(effect) = queue.remove(&(*applied + 1)) {
            let r = *applied + 1;
            for (read_at, u) in effect.reread {
                let (org, ix) = match u {
                    OrgUpdate::Replace(org, ix) => (org, Some(ix)),
                    OrgUpdate::Remove(org) => (org, None),
                };
                if at_of(&work, org).is_none_or(|at| at < read_at) {
                    work.insert(org, follow(read_at, ix));
                }
            }
            for (org, list) in effect.deltas {
                if let std::collections::btree_map::Entry::Vacant(e) = work.entry(org) {
                    if let (Some(at), Some(ix)) = (snap.org_revision(org), snap.org(org)) {
                        e.insert(follow(at, Some(ix.clone())));
                    }
                }
                match work.get_mut(&org) {
                    // A re-read since holds this write already.
                    Some(f) if f.at >= r => {}
                    Some(f) if f.ix.is_some() => {
                        f.pending.extend(list);
                        f.at = r;
                    }
                    // Not in the index (cannot be: the write found the
                    // organization); the caller rebuilds the whole index.
                    _ => failed = Some(org),
                }
            }
            for org in effect.removed {
                work.insert(org, follow(r, None));
            }
            *applied = r;
        }
        let mut followed = Vec::new();
        if *applied > start || !work.is_empty() {
            let mut updates: Vec<(i64, OrgUpdate)> = Vec::with_capacity(work.len());
            for (org, f) in work {
                updates.push(match f.ix {
                    Some(ix) if f.pending.is_empty() => (f.at, OrgUpdate::Replace(org, ix)),
                    Some(ix) => {
                        let ix = Arc::new(ix.with_deltas(org, &f.pending));
                        followed.push((org, f.at, ix.clone()));
                        (f.at, OrgUpdate::Replace(org, ix))
                    }
                    None => (f.at, OrgUpdate::Remove(org)),
                });
            }
            self.index.publish_each(*applied, &updates);
        }
        match failed {
            None => Ok(followed),
            Some(org) => Err(Error::internal(std::io::Error::other(format!(
                "organization {org} had deltas but was not in the index"
            )))),
        }
    }

    /// Debug builds: an organization that followed deltas must equal a fresh
    /// read of its rows, when the database is still at the same revision.
    #[cfg(debug_assertions)]
    pub(crate) async fn verify_followed(&self, org: OrgId, revision: i64, followed: &OrgIndex) {
        let Ok(mut fresh) = self.rebuild_orgs(BTreeSet::from([org])).await else {
            return;
        };
        if let Some((at, update)) = fresh.pop() {
            if at == revision {
                assert!(
                    matches!(&update, OrgUpdate::Replace(_, ix) if ix.same_rows(followed)),
                    "the index of {org} after the deltas up to revision {revision} differs from its rows in the database"
                );
            }
        }
    }
}

/// What a committed SQLite write does to the index (see [`Store::publish_in_order`]).
pub(crate) struct Effect {
    /// Organizations re-read after the commit, each with the revision its read reflects.
    reread: Vec<(i64, OrgUpdate)>,
    /// Organizations that follow the write's deltas.
    deltas: Vec<(OrgId, Vec<IndexDelta>)>,
    /// Organizations gone.
    removed: Vec<OrgId>,
}

fn update_of(org: OrgId, data: Option<roster_core::index::OrgData>) -> OrgUpdate {
    match data {
        Some(data) => OrgUpdate::Replace(org, Arc::new(OrgIndex::build(data))),
        None => OrgUpdate::Remove(org),
    }
}

impl Store {
    /// Fresh indexes of `orgs` from the committed state (`Remove` for an
    /// organization that is gone), each with the revision its read snapshot
    /// reflects (at least the latest committed when it was called). On an SQLite file the rows are read and the
    /// indexes built on a blocking thread through a cached read-only rusqlite
    /// connection (see `fastload`: fewer hand-offs than sqlx per row).
    pub(crate) async fn rebuild_orgs(
        &self,
        orgs: BTreeSet<OrgId>,
    ) -> Result<Vec<(i64, OrgUpdate)>> {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(path) = self.sqlite_file.clone() {
            let store = self.clone();
            return tokio::task::spawn_blocking(move || {
                let readers = &store.readers;
                let cached = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let mut conn = match cached {
                    Some(c) => c,
                    None => crate::fastload::open(&path)?,
                };
                let orgs: Vec<OrgId> = orgs.into_iter().collect();
                let read = crate::fastload::read_orgs_at(&mut conn, &orgs);
                readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
                let (at, rows) = read?;
                Ok(rows
                    .into_iter()
                    .map(|(org, data)| (at, update_of(org, data)))
                    .collect())
            })
            .await
            .map_err(Error::internal)?;
        }
        // Several organizations (a follower catching up on a busy feed) load
        // on a few connections at once, each its share in turn, in one read
        // snapshot per connection with the revision it reflects.
        let orgs: Vec<OrgId> = orgs.into_iter().collect();
        let share = orgs.len().div_ceil(REBUILD_CONNECTIONS);
        let mut tasks = tokio::task::JoinSet::new();
        for part in orgs.chunks(share) {
            let (pool, part, kind) = (self.pool.clone(), part.to_vec(), self.kind);
            tasks.spawn(async move {
                let mut tx = read_snapshot(&pool, kind).await?;
                let at = current_revision(&mut tx).await?;
                let mut updates = Vec::with_capacity(part.len());
                for org in part {
                    let data = crate::load::org_data(&mut tx, org).await?;
                    updates.push((at, update_of(org, data)));
                }
                tx.commit().await.map_err(db_err)?;
                Ok::<_, Error>(updates)
            });
        }
        let mut updates = Vec::with_capacity(orgs.len());
        while let Some(part) = tasks.join_next().await {
            updates.extend(part.map_err(Error::internal)??);
        }
        Ok(updates)
    }
}

impl Tx {
    /// [`Tx::lock_org`], reading `user`'s live membership in the same
    /// statement (one round trip less for a write that needs both).
    pub(crate) async fn lock_org_for_member(
        &mut self,
        kind: DbKind,
        org: OrgId,
        user: roster_core::UserId,
    ) -> Result<crate::members::LiveMember> {
        let lock = match kind {
            DbKind::Postgres => " FOR UPDATE OF o",
            DbKind::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT m.status FROM organizations o LEFT JOIN memberships m \
             ON m.org_id = o.id AND m.user_id = $2 AND m.deleted_at IS NULL WHERE o.id = $1{lock}"
        ))
        .bind(org.uuid().to_string())
        .bind(user.uuid().to_string())
        .fetch_optional(self.conn())
        .await
        .map_err(db_err)?;
        let status = match row {
            Some(r) => r.try_get::<Option<String>, _>("status").map_err(db_err)?,
            None => None,
        };
        Ok(crate::members::LiveMember { status })
    }

    /// Serializes writers of one organization for invariants that span rows
    /// (the last owner, the department forest). SQLite already has one writer.
    pub(crate) async fn lock_org(&mut self, kind: DbKind, org: OrgId) -> Result<()> {
        if kind == DbKind::Postgres {
            sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
                .bind(org.uuid().to_string())
                .fetch_optional(self.conn())
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A write with more audit events than one statement carries records
    /// them all at its revision, with its change-feed row, on `url`.
    async fn many_events_at_one_revision(url: &str) {
        let store = Store::open(url).await.unwrap();
        let ctx = platform("many");
        let n = EVENTS_PER_STATEMENT * 2 + 7;
        let mut tx = store.begin(&ctx).await.unwrap();
        for i in 0..n {
            tx.audit(
                None,
                "test.event",
                "test",
                i,
                None,
                Some(serde_json::json!({"i": i})),
            );
        }
        let revision = tx.commit(&store, ()).await.unwrap().revision;
        let count = |sql: &'static str| {
            let pool = store.pool.clone();
            async move {
                let row = sqlx::query(sql)
                    .bind(revision)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                row.try_get::<i64, _>("n").unwrap()
            }
        };
        let events = count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE revision = $1 AND trace_id = 'many'",
        )
        .await;
        assert_eq!(events, n as i64);
        let feed =
            count("SELECT COUNT(*) AS n FROM changes WHERE revision = $1 AND org_id = '#revision'")
                .await;
        assert_eq!(feed, 1);
        assert_eq!(store.revision(), revision);
    }

    #[tokio::test]
    async fn many_events_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        many_events_at_one_revision(&format!("sqlite://{}", dir.path().join("e.db").display()))
            .await;
    }

    #[tokio::test]
    async fn many_events_postgres() {
        on_postgres("many_events_postgres", |url| async move {
            many_events_at_one_revision(&url).await
        })
        .await;
    }

    fn platform(trace: &str) -> Ctx {
        Ctx {
            actor: roster_core::Actor::Platform,
            trace_id: trace.into(),
        }
    }

    /// PostgreSQL: stages `tx`'s audit events as its commit would, without
    /// committing.
    async fn stage(tx: &mut Tx) -> Result<i64> {
        let events = std::mem::take(&mut tx.events);
        let ctx = tx.ctx.clone();
        stage_write(
            tx.conn(),
            &ctx,
            &events,
            &[FeedRow::marker(REVISION_ONLY)],
            0,
        )
        .await
    }

    /// PostgreSQL refuses U+0000 in text, as a value and inside the staged
    /// JSON of a write: a validation error, not an internal one.
    #[tokio::test]
    async fn a_nul_character_is_bad_input_on_postgres() {
        on_postgres("nul_text", |url| async move {
            let store = Store::open(&url).await.unwrap();
            let e = sqlx::query("SELECT CAST($1 AS TEXT) AS t")
                .bind("a\0b")
                .fetch_one(&store.pool)
                .await
                .map(|_| ())
                .map_err(db_err)
                .unwrap_err();
            assert!(matches!(e, Error::Validation(_)), "{e:?}");
            let mut tx = store.begin(&platform("nul")).await.unwrap();
            tx.audit(None, "test.nul", "test", "a\0b", None, None);
            let e = stage(&mut tx).await.unwrap_err();
            assert!(matches!(e, Error::Validation(_)), "{e:?}");
        })
        .await;
    }

    /// On PostgreSQL the database takes each write's revision as it commits:
    /// concurrent writes get consecutive revisions, each with its own feed
    /// row and audit event, and a write rolled back after staging its rows
    /// takes none.
    #[tokio::test]
    async fn concurrent_writes_take_consecutive_revisions_as_they_commit() {
        on_postgres("commit_revisions", |url| async move {
            let store = Store::open(&url).await.unwrap();
            let start = store.revision();
            let mut staged = store.begin(&platform("rolled-back")).await.unwrap();
            staged.audit(None, "test.rolled_back", "test", 0, None, None);
            stage(&mut staged).await.unwrap();
            drop(staged);
            let writes = (0..40).map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let ctx = platform(&format!("write-{i}"));
                    let mut tx = store.begin(&ctx).await.unwrap();
                    tx.audit(None, "test.write", "test", i, None, None);
                    (i, tx.commit(&store, ()).await.unwrap().revision)
                })
            });
            let mut revisions = Vec::new();
            for w in writes {
                revisions.push(w.await.unwrap());
            }
            let mut sorted: Vec<i64> = revisions.iter().map(|(_, r)| *r).collect();
            sorted.sort();
            assert_eq!(sorted, ((start + 1)..=(start + 40)).collect::<Vec<_>>());
            for (i, revision) in revisions {
                let row = sqlx::query(
                    "SELECT (SELECT COUNT(*) FROM changes WHERE revision = $1) AS feed, \
                     (SELECT MAX(trace_id) FROM audit_events WHERE revision = $1) AS trace",
                )
                .bind(revision)
                .fetch_one(&store.pool)
                .await
                .unwrap();
                assert_eq!(row.try_get::<i64, _>("feed").unwrap(), 1);
                assert_eq!(
                    row.try_get::<String, _>("trace").unwrap(),
                    format!("write-{i}")
                );
            }
            let gone = sqlx::query(
                "SELECT COUNT(*) AS n FROM audit_events WHERE trace_id = 'rolled-back'",
            )
            .fetch_one(&store.pool)
            .await
            .unwrap();
            assert_eq!(gone.try_get::<i64, _>("n").unwrap(), 0);
        })
        .await;
    }

    /// Runs `test` on a throwaway PostgreSQL database (dropped afterwards);
    /// skips it, saying so, when no server is reachable and none is required.
    pub(crate) async fn on_postgres<F, Fut>(test: &str, f: F)
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        use sqlx::Connection;
        let admin = std::env::var("ROSTER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let required = std::env::var("ROSTER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let mut c = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if required => panic!("PostgreSQL required but unreachable at {admin}: {e}"),
            Err(e) => {
                eprintln!("SKIPPED {test}: PostgreSQL unreachable at {admin} ({e})");
                return;
            }
        };
        let name = format!("roster_unit_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        f(format!("{base}/{name}")).await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

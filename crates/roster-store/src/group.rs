//! SQLite group commit. SQLite has one writer, and a durable commit
//! (`synchronous = FULL`) costs one fsync, about a millisecond here: one
//! commit per write would cap Roster near a thousand writes a second. So
//! writes share commits instead. There is one writer connection; a write
//! takes its turn on it and runs inside a savepoint of the open transaction
//! (the "group"), which it releases into the group when it is done, or rolls
//! back alone when it fails. A flusher task commits the group once the
//! writers queued before it have had their turn, and only then are they
//! told their write is durable: nothing is acknowledged before its fsync,
//! and a failed commit fails every write of the group.
//!
//! A group that fails takes down the writes already released into it,
//! through no fault of theirs; each is told what happened to the group.
//! SQLite may roll back the whole transaction while a write runs
//! (`RAISE(ROLLBACK)` in a trigger, some I/O errors): the statement's error
//! goes to that write's caller alone, and the writer only sees afterwards
//! that the write's savepoint has gone. So the group-mates are told during
//! which write it happened, by trace id (the log carries that write's error
//! under it), not that a savepoint is missing.
//!
//! PostgreSQL needs none of this: concurrent transactions there already
//! share WAL flushes.

use crate::db::db_err;
use roster_core::{Error, Result};
use sqlx::AnyConnection;
use std::sync::{Arc, Weak};
use tokio::sync::{oneshot, Mutex, Notify, OwnedMutexGuard};

/// A write's outcome as the flusher reports it (errors as text, what the
/// group's writes are told: one failure is told to every write of its group).
type Outcome = std::result::Result<(), String>;

/// The writer connection and the state of its open group.
struct Writer {
    conn: AnyConnection,
    /// `BEGIN IMMEDIATE` ran and the group has not been committed yet.
    open: bool,
    /// The trace id of a write dropped inside its savepoint (an error, or its
    /// caller went away): the savepoint must be rolled back before anything
    /// else runs.
    abandoned: Option<String>,
    /// Writes released into the open group, waiting for its commit.
    waiting: Vec<oneshot::Sender<Outcome>>,
}

/// The store's handle on the writer; clones share it.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    writer: Arc<Mutex<Writer>>,
    flush: Arc<Notify>,
    /// Wakes the flusher when the last handle goes, so that it ends.
    _closer: Arc<Closer>,
}

struct Closer(Arc<Notify>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// One write's turn on the writer connection, inside its savepoint.
/// Dropping it without [`Turn::release`] rolls the write back.
pub(crate) struct Turn {
    writer: OwnedMutexGuard<Writer>,
    flush: Arc<Notify>,
    /// Released into the group (else dropping the turn rolls it back).
    released: bool,
    /// The write's trace id, to name it if the group fails during it.
    trace_id: String,
}

impl WriterHandle {
    /// Takes `conn` as the writer connection and starts its flusher.
    pub(crate) fn start(conn: AnyConnection) -> Self {
        let flush = Arc::new(Notify::new());
        let handle = WriterHandle {
            writer: Arc::new(Mutex::new(Writer {
                conn,
                open: false,
                abandoned: None,
                waiting: Vec::new(),
            })),
            _closer: Arc::new(Closer(flush.clone())),
            flush,
        };
        tokio::spawn(flusher(
            Arc::downgrade(&handle.writer),
            handle.flush.clone(),
        ));
        handle
    }

    /// Waits for the writer (first come, first served) and opens a savepoint
    /// for one write (`trace_id`), beginning a group if none is open.
    pub(crate) async fn begin(&self, trace_id: &str) -> Result<Turn> {
        let mut w = self.writer.clone().lock_owned().await;
        let flush = self.flush.clone();
        let trace_id = trace_id.to_owned();
        // Changing the connection's transaction state runs to the end in a
        // task of its own, whatever the caller does meanwhile (a turn nobody
        // receives is dropped, which rolls it back).
        tokio::spawn(async move {
            w.settle().await;
            if !w.open {
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut w.conn)
                    .await
                    .map_err(db_err)?;
                w.open = true;
            }
            if let Err(e) = sqlx::query("SAVEPOINT write").execute(&mut w.conn).await {
                w.fail_group(&format!(
                    "the commit group was rolled back: opening a savepoint for write {trace_id} failed: {e}"
                ))
                .await;
                return Err(db_err(e));
            }
            Ok(Turn {
                writer: w,
                flush,
                released: false,
                trace_id,
            })
        })
        .await
        .map_err(Error::internal)?
    }
}

impl Turn {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.writer.conn
    }

    /// Ends the write successfully: its changes join the open group and the
    /// writer passes to the next write. The returned future resolves once the
    /// group is durably committed (or fails with it). Not to be cancelled
    /// halfway (`Tx::commit` runs it in a task of its own).
    pub(crate) async fn release(
        mut self,
    ) -> Result<impl std::future::Future<Output = Result<()>> + Send> {
        if let Err(e) = sqlx::query("RELEASE write")
            .execute(&mut self.writer.conn)
            .await
        {
            // The write is neither surely rolled back nor surely in the
            // group: undo the whole group rather than guess.
            let why = format!(
                "the commit group was rolled back: releasing write {} into it failed: {e}",
                self.trace_id
            );
            self.writer.fail_group(&why).await;
            self.released = true;
            return Err(db_err(e));
        }
        let (tell, told) = oneshot::channel();
        self.writer.waiting.push(tell);
        self.released = true;
        drop(self);
        Ok(async move {
            match told.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) => Err(Error::internal(std::io::Error::other(why))),
                Err(_) => Err(Error::internal(std::io::Error::other(
                    "the commit group was abandoned",
                ))),
            }
        })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.released {
            // Rolled back by whoever takes the writer next: the flusher,
            // woken here, if no write is queued.
            self.writer.abandoned = Some(std::mem::take(&mut self.trace_id));
        }
        // The guard is released right after this; the flusher then commits
        // the group (or cleans up after an abandoned write).
        self.flush.notify_one();
    }
}

impl Writer {
    /// Rolls back an abandoned write's savepoint, keeping the rest of the group.
    async fn settle(&mut self) {
        let Some(trace_id) = self.abandoned.take() else {
            return;
        };
        for sql in ["ROLLBACK TO write", "RELEASE write"] {
            if let Err(e) = sqlx::query(sql).execute(&mut self.conn).await {
                let why = if savepoint_gone(&e) {
                    // SQLite already rolled back the whole transaction while
                    // the write ran, savepoint and all: the cause is that
                    // write's own error, which went to its caller (and to the
                    // log, under its trace id).
                    format!(
                        "the commit group was rolled back: the database rolled back the whole \
                         transaction during write {trace_id} (that write's error gives the cause)"
                    )
                } else {
                    format!(
                        "the commit group was rolled back: undoing the failed write {trace_id} \
                         alone failed: {e}"
                    )
                };
                self.fail_group(&why).await;
                return;
            }
        }
    }

    /// Commits the open group and tells its writes.
    async fn flush(&mut self) {
        self.settle().await;
        if !self.open {
            return;
        }
        match sqlx::query("COMMIT").execute(&mut self.conn).await {
            Ok(_) => {
                self.open = false;
                tracing::trace!(writes = self.waiting.len(), "committed a group");
                for w in self.waiting.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            Err(e) => self.fail_group(&format!("the commit failed: {e}")).await,
        }
    }

    /// Rolls the open group back and tells its writes they failed, and why.
    async fn fail_group(&mut self, why: &str) {
        tracing::error!(
            error = why,
            writes = self.waiting.len(),
            "an SQLite commit group failed; rolling it back"
        );
        // Fails harmlessly when SQLite already rolled back.
        let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
        self.open = false;
        for w in self.waiting.drain(..) {
            let _ = w.send(Err(why.to_owned()));
        }
    }
}

/// True when `e` says the savepoint is not there: SQLite rolled back the
/// whole transaction. SQLite reports it as a plain `SQLITE_ERROR`, so only
/// its message tells it apart.
fn savepoint_gone(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.message().starts_with("no such savepoint"))
}

/// Commits each group once the writes queued before the flusher have had
/// their turn (the writer's lock is first come, first served, so writes that
/// arrive during a commit form the next group). Ends once the store and
/// every turn on its writer are gone.
async fn flusher(writer: Weak<Mutex<Writer>>, flush: Arc<Notify>) {
    loop {
        flush.notified().await;
        let Some(writer) = writer.upgrade() else {
            return;
        };
        writer.lock().await.flush().await;
    }
}

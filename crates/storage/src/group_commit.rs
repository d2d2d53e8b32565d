//! Group commit for SQLite: writers that arrive together share one transaction and one commit.
//!
//! Strategy: SQLite has one writer at a time, and every commit appends each page it touched to the
//! WAL, two `pwrite` calls per page, plus the `BEGIN`/`COMMIT` round. Under concurrent writes that fixed
//! cost per transaction, not the work inside it, bounds throughput. So this process's writers share one
//! dedicated connection, taken in turn under a mutex (a turn is handed over at once, where SQLite's
//! busy handler would sleep 1, 2, 5, 10 ms between polls), and a writer that finds a transaction
//! already open joins it:
//!
//! - each writer that joins a transaction holding others' changes runs its work inside its own
//!   savepoint, so its failure (a uniqueness conflict, a 412) undoes only its own changes and is
//!   returned to it at once (the first writer of a transaction needs none: its failure ends the
//!   transaction, which holds nothing else);
//! - the writer that finds nobody queued behind it, or the [`MAX_BATCH`]th, commits for everyone;
//! - nobody is acknowledged before the commit that holds their changes: a writer whose savepoint was
//!   released waits for its batch's outcome, and if the commit fails, every writer of the batch gets
//!   the error (their changes are rolled back together);
//! - nothing waits on a timer: a lone writer commits at once, so a write without contention costs
//!   one transaction, as before.
//!
//! If the transaction itself cannot go on (a savepoint cannot be released or rolled back, or the work
//! panicked), the connection is dropped, which rolls the transaction back, the batch fails, and the
//! next writer opens a fresh connection. Writers in other processes (`token-admin`'s CLI) still meet
//! `busy_timeout`.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use diesel::Connection;
use diesel::connection::TransactionManager;

use crate::connection::{DbConnManager, DbConnection, begin_write};
use crate::error::StorageError;

/// The connection's transaction manager: a transaction at depth 0, savepoints inside it.
type Tm = <DbConnection as Connection>::TransactionManager;

/// Most writers in one transaction, so one commit never holds too many waiting writers' answers.
const MAX_BATCH: usize = 64;

/// The process's SQLite writer: one connection, one open batch at a time.
pub(crate) struct GroupCommit {
    manager: DbConnManager,
    state: Mutex<WriterState>,
    /// Writers waiting for `state`; a writer that sees none behind it commits.
    queued: AtomicUsize,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct WriterState {
    /// Opened on first use and after a failure dropped it.
    conn: Option<DbConnection>,
    /// The open transaction, if any.
    batch: Option<Batch>,
}

#[derive(Default)]
struct Batch {
    /// Writers whose changes the transaction holds.
    writers: usize,
    outcome: Arc<Outcome>,
}

/// How a batch ended: `Ok` once committed, `Err` with the reason it was rolled back.
#[derive(Default)]
struct Outcome {
    result: Mutex<Option<Result<(), String>>>,
    done: Condvar,
}

impl Outcome {
    fn settle(&self, result: Result<(), String>) {
        *lock(&self.result) = Some(result);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), String> {
        let mut result = lock(&self.result);
        loop {
            if let Some(settled) = result.as_ref() {
                return settled.clone();
            }
            result = self.done.wait(result).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one writer's turn left to do after releasing the mutex.
enum Turn<T> {
    /// Answered already (committed by this writer, or failed).
    Done(Result<T, StorageError>),
    /// Succeeded inside a batch that a later writer will commit.
    AwaitCommit(T, Arc<Outcome>),
}

impl GroupCommit {
    pub(crate) fn new(manager: DbConnManager) -> Self {
        Self {
            manager,
            state: Mutex::new(WriterState::default()),
            queued: AtomicUsize::new(0),
        }
    }

    /// Runs `f` in the shared transaction (in a savepoint unless it is the transaction's first writer);
    /// returns once the transaction holding its changes has committed, or with the error that undid them.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let turn = self.take_turn(&mut state, f);
        drop(state);
        match turn {
            Turn::Done(result) => result,
            Turn::AwaitCommit(value, outcome) => match outcome.wait() {
                Ok(()) => Ok(value),
                Err(reason) => Err(StorageError::Unavailable(
                    format!("the transaction holding this write was rolled back: {reason}").into(),
                )),
            },
        }
    }

    fn take_turn<T>(
        &self,
        state: &mut WriterState,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StorageError>,
    ) -> Turn<T> {
        let conn = match state.conn.take() {
            Some(conn) => conn,
            None => match self.manager.open() {
                Ok(conn) => conn,
                Err(err) => return Turn::Done(Err(err)),
            },
        };
        let conn = state.conn.insert(conn);
        // The first writer of a transaction needs no savepoint: if it fails, the transaction holds
        // nothing else and is rolled back whole. A lone writer so runs `BEGIN`, its work, `COMMIT`.
        let first = state.batch.is_none();
        let begun = if first {
            begin_write(conn)
        } else {
            Tm::begin_transaction(conn)
        };
        if let Err(err) = begun {
            let err = StorageError::from(err);
            abandon(state, &err);
            return Turn::Done(Err(err));
        }
        let outcome = state.batch.get_or_insert_with(Batch::default).outcome.clone();
        let ran = match catch_unwind(AssertUnwindSafe(|| f(&mut *conn))) {
            Ok(ran) => ran,
            Err(panic) => {
                abandon(state, &StorageError::Internal("a write panicked".into()));
                resume_unwind(panic);
            }
        };
        // Ends the writer's savepoint: released on success, rolled back on failure. The first writer has
        // none: its success stays in the transaction, its failure rolls the whole transaction back.
        let ended = match &ran {
            Ok(_) if first => Ok(()),
            Ok(_) => Tm::commit_transaction(conn),
            Err(_) => Tm::rollback_transaction(conn),
        };
        if let Err(err) = ended {
            tracing::error!(error = %err, "ending a write's savepoint failed");
            let err = StorageError::from(err);
            abandon(state, &err);
            return Turn::Done(ran.and(Err(err)));
        }
        if ran.is_err() && first {
            // The rollback ended the transaction, and nobody else's changes were in it.
            state.batch = None;
            return Turn::Done(ran);
        }
        let writers = state.batch.as_mut().map_or(0, |batch| {
            batch.writers += usize::from(ran.is_ok());
            batch.writers
        });
        if self.queued.load(Ordering::SeqCst) > 0 && writers < MAX_BATCH {
            // Someone is waiting for the mutex: they join this transaction, and one of them commits.
            return match ran {
                Ok(value) => Turn::AwaitCommit(value, outcome),
                Err(err) => Turn::Done(Err(err)),
            };
        }
        match commit(state) {
            Ok(()) => Turn::Done(ran),
            Err(err) => Turn::Done(ran.and(Err(err))),
        }
    }
}

/// Commits the open batch and tells its writers.
fn commit(state: &mut WriterState) -> Result<(), StorageError> {
    let (Some(conn), Some(batch)) = (state.conn.as_mut(), state.batch.take()) else {
        return Err(StorageError::Internal("no write batch to commit".into()));
    };
    match Tm::commit_transaction(conn) {
        Ok(()) => {
            tracing::trace!(writers = batch.writers, "group commit");
            batch.outcome.settle(Ok(()));
            Ok(())
        }
        Err(err) => {
            let err = StorageError::from(err);
            batch.outcome.settle(Err(err.to_string()));
            // diesel rolled back after the failed COMMIT, or marked the connection broken: start afresh.
            state.conn = None;
            Err(err)
        }
    }
}

/// Gives up the open transaction: dropping the connection rolls it back; its writers get `err`.
fn abandon(state: &mut WriterState, err: &StorageError) {
    state.conn = None;
    if let Some(batch) = state.batch.take() {
        batch.outcome.settle(Err(err.to_string()));
    }
}

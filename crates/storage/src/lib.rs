//! Persistence for tenants, tokens and SCIM resources on SQLite and PostgreSQL.
//!
//! Strategy: one code path for both backends through diesel's `MultiConnection` (`connection.rs`), one
//! portable hand-written `schema.rs`, per-backend migrations with identical folder names under
//! `migrations/{sqlite,postgres}` embedded at compile time. Every call is synchronous and takes the tenant
//! first; the HTTP layer runs it on a blocking thread. Every write is one transaction that also appends
//! the change-feed events of what it changed (`feed.rs`). Uniqueness (case-insensitive `userName`, group `displayName`) is enforced by unique
//! indexes on lowercase shadow columns computed in Rust, never by read-then-write. Filters, sorting and
//! paging run in SQL (`filter_sql/`).

pub mod admin_audit;
// The diesel-facing modules are public only for tests (drift test, raw checks); callers use `Storage`.
#[cfg(feature = "testing")]
pub mod connection;
#[cfg(not(feature = "testing"))]
mod connection;
pub mod error;
pub mod feed;
mod filter_sql;
mod group_commit;
mod location;
mod model;
mod nul_checks;
pub mod oauth_clients;
pub mod open;
mod planner_stats;
pub mod portal;
mod resources;
#[cfg(feature = "testing")]
pub mod schema;
#[cfg(not(feature = "testing"))]
mod schema;
mod shadow_columns;
mod sql;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

#[cfg(feature = "testing")]
pub use connection::DbConnection;
pub use connection::{Backend, ConnectionTuning, SqliteSynchronous};
pub use error::{Cause, StorageError};
pub use filter_sql::is_index_lookup;
pub use location::DatabaseLocation;
pub use model::{
    Expand, IssuedToken, ListPosition, NewTenant, NewToken, PageStart, PoolState, ResourcePage,
    ResourceQuery, StoredGroupRef, StoredMember, StoredResource, Tenant, TokenInfo, TokenRecord,
    TokenRequest, TokenScope, WriteContext,
};
pub use shadow_columns::MAX_INDEXED_BYTES;

#[cfg(not(feature = "testing"))]
use connection::DbConnection;
use connection::{DbConnManager, DbTarget};
use group_commit::GroupCommit;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrating, so replicas starting together do not race.
const MIGRATION_LOCK_KEY: i64 = 0x5C1A_0001;

/// How long a caller waits for a pooled connection before getting `Unavailable`.
const POOL_CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type Pool = r2d2::Pool<DbConnManager>;

#[derive(diesel::QueryableByName)]
struct ViolationCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
pub(crate) type PooledConn = r2d2::PooledConnection<DbConnManager>;

/// The storage handle: an r2d2 pool of SQLite or PostgreSQL connections. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pool: Pool,
    backend: Backend,
    /// SQLite only: this process's writers, one connection and one transaction per burst (see
    /// `group_commit.rs`).
    group_commit: Option<Arc<GroupCommit>>,
    feed_signal: Arc<feed::FeedSignal>,
    /// The configured PostgreSQL `statement_timeout` (ms, 0 none), restored after migrating.
    statement_timeout_ms: u64,
}

/// A pooled connection held for reads ([`Storage::reader`], [`Storage::quick_reader`]).
pub struct Reader {
    conn: PooledConn,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("backend", &self.backend)
            .field("pool", &self.pool_state())
            .finish()
    }
}

impl Storage {
    /// Connects to `url` (`postgres://`, `postgresql://`, `sqlite://path`, `sqlite:path`, `file:path` or a
    /// plain path to a `.db`, `.sqlite` or `.sqlite3` file; anything else is `Config`) with at most
    /// `pool_size` connections. Processes starting up use [`Storage::open`]. One connection is opened first so that a refused or misconfigured database is
    /// reported with its real cause (`Unavailable` / `Config`).
    pub fn connect(url: &str, pool_size: u32) -> Result<Storage, StorageError> {
        Self::connect_to(DbTarget::from_url(url)?, pool_size, ConnectionTuning::default())
    }

    /// [`Storage::connect`] with per-connection settings (`synchronous`, `statement_timeout`).
    pub fn connect_tuned(
        url: &str,
        pool_size: u32,
        tuning: ConnectionTuning,
    ) -> Result<Storage, StorageError> {
        Self::connect_to(DbTarget::from_url(url)?, pool_size, tuning)
    }

    pub(crate) fn connect_to(
        target: DbTarget,
        pool_size: u32,
        tuning: ConnectionTuning,
    ) -> Result<Storage, StorageError> {
        if pool_size == 0 {
            return Err(StorageError::Config(
                "database_pool_size must be at least 1".to_owned(),
            ));
        }
        target.check_pool_size(pool_size)?;
        let backend = target.backend();
        let manager = DbConnManager::new(target, tuning);
        manager.prepare()?;
        let group_commit = (backend == Backend::Sqlite).then(|| Arc::new(GroupCommit::new(manager.clone())));
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            // No background top-up of idle connections: r2d2 opens those on its own threads, and a libpq
            // connect (with OpenSSL) still running while the process exits crashes it in atexit handlers
            // (seen as SIGSEGV after `token-admin migrate`). Connections open on demand instead.
            .min_idle(Some(0))
            // A PostgreSQL connection can die with the server or the network: `conn` tests it on
            // checkout, `read` instead retries on another connection (see there). A SQLite connection is
            // a file handle that cannot die.
            .test_on_check_out(false)
            .connection_timeout(POOL_CHECKOUT_TIMEOUT)
            .build(manager)
            .map_err(StorageError::from_pool)?;
        Ok(Storage {
            pool,
            backend,
            group_commit,
            feed_signal: Arc::default(),
            statement_timeout_ms: tuning.statement_timeout_ms,
        })
    }

    /// A pooled connection; on PostgreSQL tested with a query first ([`Self::live_conn`]).
    pub(crate) fn conn(&self) -> Result<PooledConn, StorageError> {
        if self.backend == Backend::Sqlite {
            return self.unchecked_conn();
        }
        let (conn, ()) = self.live_conn(|mut conn| {
            let pinged = diesel::r2d2::R2D2Connection::ping(&mut *conn).map_err(StorageError::from);
            (conn, pinged)
        })?;
        Ok(conn)
    }

    /// A pooled connection on which `first` succeeded. If the server had closed the connection (a restart,
    /// an idle timeout: after a restart every pooled connection is dead), it is dropped from the pool and
    /// `first` runs again on another, up to the pool's size of times. `first` must change nothing when it
    /// fails that way: a test query, `BEGIN`, a read.
    fn live_conn<T>(
        &self,
        mut first: impl FnMut(PooledConn) -> (PooledConn, Result<T, StorageError>),
    ) -> Result<(PooledConn, T), StorageError> {
        let mut attempts = 0;
        loop {
            let (mut conn, result) = first(self.unchecked_conn()?);
            match result {
                Ok(value) => return Ok((conn, value)),
                Err(err) if err.is_connection_lost() && attempts < self.pool.max_size() => {
                    connection::discard(&mut conn);
                    attempts += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn unchecked_conn(&self) -> Result<PooledConn, StorageError> {
        self.pool.get().map_err(StorageError::from_pool)
    }

    /// Runs a read on a pooled connection without a test query first: on PostgreSQL that query would be
    /// a round trip of its own, as costly as a lookup. Instead, if the server closed the connection (a
    /// restart, an idle timeout), the connection is dropped from the pool and the read runs again on
    /// another, up to the pool's size of times. Reads change nothing, so running one again is safe.
    pub fn read<T>(&self, f: impl Fn(&mut Reader) -> Result<T, StorageError>) -> Result<T, StorageError> {
        let (_conn, value) = self.live_conn(|conn| {
            let mut reader = Reader { conn };
            let read = f(&mut reader);
            (reader.conn, read)
        })?;
        Ok(value)
    }

    /// A connection for reads, waiting for one if every connection is busy.
    pub fn reader(&self) -> Result<Reader, StorageError> {
        Ok(Reader { conn: self.conn()? })
    }

    /// On SQLite, a connection that is idle right now, for reading on the caller's thread; `None` on
    /// PostgreSQL (a read there is a network round trip) and when every connection is busy.
    ///
    /// A SQLite read is a few B-tree page lookups in memory-mapped or cached pages, tens of
    /// microseconds of CPU that never wait for a writer (WAL readers see their snapshot), so an async
    /// server can run it in place: sending it to a blocking thread and back costs two thread switches,
    /// more than the read itself. Never waits for a connection.
    pub fn quick_reader(&self) -> Option<Reader> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        self.pool.try_get().map(|conn| Reader { conn })
    }

    /// Runs `f` as one atomic write: all of its changes or none, returned once durable.
    ///
    /// PostgreSQL: one transaction on a pooled connection, taken without a test query (see below).
    /// SQLite: a savepoint in the transaction this process's concurrent writers share, committed
    /// for all of them by the last (see `group_commit.rs`).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        match &self.group_commit {
            Some(group) => group.write(f),
            None => {
                // No test query first: a connection the server closed fails at `BEGIN`, before the
                // write has done anything, and the write moves to another connection.
                let (mut conn, ()) = self.live_conn(|mut conn| {
                    let begun = connection::begin_write(&mut conn).map_err(StorageError::from);
                    (conn, begun)
                })?;
                connection::finish(&mut conn, f)
            }
        }
    }

    /// Applies every pending migration of this backend (under an advisory lock on PostgreSQL); returns how
    /// many were applied.
    pub fn run_migrations(&self) -> Result<usize, StorageError> {
        let mut conn = self.conn()?;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            StorageError::Internal(Cause::new("migration failed", e))
        };
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => {
                // Like vaultwarden: foreign keys off while migrating, so a future table rebuild
                // (SQLite's way to ALTER) does not cascade; then verify and switch them back on.
                c.batch_execute("PRAGMA foreign_keys = OFF")?;
                let result = c
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|applied| applied.len())
                    .map_err(failed);
                let violations = diesel::sql_query("SELECT COUNT(*) AS n FROM pragma_foreign_key_check")
                    .get_result::<ViolationCount>(c);
                c.batch_execute("PRAGMA foreign_keys = ON")?;
                let applied = result?;
                if violations?.n > 0 {
                    return Err(StorageError::Internal(
                        "migrations left rows violating foreign keys (PRAGMA foreign_key_check)".into(),
                    ));
                }
                applied
            }
            DbConnection::Postgres(c) => {
                // A migration may rebuild an index over every row: no statement time limit meanwhile.
                c.batch_execute(&connection::postgres_statement_timeout(0))?;
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|applied| applied.len())
                    .map_err(failed);
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                c.batch_execute(&connection::postgres_statement_timeout(self.statement_timeout_ms))?;
                result?
            }
        };
        Ok(applied)
    }

    /// How many migrations are not applied yet (readiness: 0 means ready).
    pub fn pending_migrations(&self) -> Result<usize, StorageError> {
        let mut conn = self.conn()?;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            StorageError::Internal(Cause::new("cannot list migrations", e))
        };
        let pending = match &mut *conn {
            DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map_err(failed)?.len(),
            DbConnection::Postgres(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map_err(failed)?.len(),
        };
        Ok(pending)
    }

    /// Reverts every applied migration (tests: up → down → up).
    #[cfg(feature = "testing")]
    pub fn revert_all_migrations(&self) -> Result<(), StorageError> {
        self.revert_migrations(true)
    }

    /// Reverts the newest applied migration (tests: a migration's backfill from data written before it).
    #[cfg(feature = "testing")]
    pub fn revert_last_migration(&self) -> Result<(), StorageError> {
        self.revert_migrations(false)
    }

    #[cfg(feature = "testing")]
    fn revert_migrations(&self, all: bool) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            StorageError::Internal(Cause::new("revert failed", e))
        };
        match &mut *conn {
            DbConnection::Sqlite(c) if all => c.revert_all_migrations(SQLITE_MIGRATIONS).map(drop),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(drop),
            DbConnection::Postgres(c) if all => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(drop),
            DbConnection::Postgres(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).map(drop),
        }
        .map_err(failed)
    }

    /// `SELECT 1` on a pooled connection (liveness of the database).
    pub fn ping(&self) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
            .execute(&mut *conn)
            .map_err(StorageError::from)?;
        Ok(())
    }

    /// The backend this storage talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Open and idle connections, for metrics.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
        }
    }
}

/// A caller's time as stored: UTC, microsecond precision (what PostgreSQL keeps).
pub(crate) fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

pub(crate) fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

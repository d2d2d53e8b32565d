//! Connections: one `DbConnection` enum over PostgreSQL and SQLite, an r2d2 manager that picks the
//! backend from the URL, per-connection SQLite setup, and the write-transaction helper.
//!
//! Strategy:
//! - `#[derive(diesel::MultiConnection)]` gives one connection type (and one `MultiBackend`) so every
//!   query is written once. What `MultiBackend` cannot express (`ON CONFLICT`, `FOR UPDATE`,
//!   `BEGIN IMMEDIATE`, JSON functions) is handled by matching the variant ([`Dialect`]).
//! - The backend is chosen by URL scheme ourselves ([`DbTarget::from_url`]), never by the derive's
//!   `establish`, which tries each backend in turn and hides the real cause of a refused PostgreSQL
//!   connection. Unknown schemes are a `Config` error naming the scheme. A value without a scheme is an
//!   SQLite file only when it reads as one (no `:`, a `.db`, `.sqlite` or `.sqlite3` name): otherwise
//!   `127.0.0.1:5432/scim` or a mistyped environment value would silently become a new empty file.
//! - SQLite: every new connection gets `foreign_keys = ON`, `busy_timeout = 5000`, `synchronous = FULL`
//!   (or `NORMAL`, [`SqliteSynchronous`]) and a case-sensitive `LIKE` (to match PostgreSQL); WAL is
//!   switched on once, when the pool is built
//!   (it is persistent in the file). Writes use `BEGIN IMMEDIATE` so two writers never deadlock on the
//!   read-to-write lock upgrade (SQLITE_BUSY); `busy_timeout` queues them instead.
//! - PostgreSQL: writes use a plain `BEGIN` (READ COMMITTED); read-modify-write paths lock the row with
//!   `SELECT ... FOR UPDATE` (see `resources/rows.rs`). Every connection gets `statement_timeout` when
//!   [`ConnectionTuning::statement_timeout_ms`] is set; a statement cancelled by it is
//!   [`StorageError::TimedOut`]. SQLite has no `statement_timeout`, and diesel exposes no progress handler
//!   (this workspace forbids `unsafe`), so every SQLite statement that scans documents carries
//!   `scim_time_limit(started)`, a function registered on each connection that fails once the limit has
//!   passed: the statement ends with that error, also [`StorageError::TimedOut`].

use std::fmt;
use std::path::{Path, PathBuf};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};

use crate::error::StorageError;

/// One database connection, PostgreSQL or SQLite.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(_) => f.write_str("DbConnection::Postgres"),
            Self::Sqlite(_) => f.write_str("DbConnection::Sqlite"),
        }
    }
}

/// Runs the same expression on whichever concrete connection `conn` wraps, for statements `MultiBackend`
/// cannot express (multi-row inserts, `ON CONFLICT` through the DSL), like vaultwarden's `db_run!`.
macro_rules! on_inner {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::DbConnection::Postgres($c) => $body,
            $crate::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_inner;

/// Which backend a [`crate::Storage`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`, as in the URL schemes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `database_url` may be, for the message refusing anything else.
const ACCEPTED_FORMS: &str = "accepted: postgres://user:password@host:5432/database (or postgresql://), \
     sqlite://path/to/file.db, sqlite:path, file:path, or a file path ending in .db, .sqlite or .sqlite3";

/// File names a scheme-less `database_url` may end in.
const SQLITE_EXTENSIONS: &[&str] = &["db", "sqlite", "sqlite3"];
/// The SQL dialect of a live connection, for the few statements written per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl DbConnection {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Self::Postgres(_) => Dialect::Postgres,
            Self::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

/// Where to connect, parsed from the configured URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DbTarget {
    /// A libpq connection URI, passed through unchanged.
    Postgres(String),
    /// `open` is what SQLite is given; `file` is the filesystem path (for creating its directory), if any.
    Sqlite { open: String, file: Option<PathBuf> },
}

impl DbTarget {
    /// `postgres://` / `postgresql://` → PostgreSQL; `sqlite://path`, `sqlite:path`, `file:path` or a plain
    /// path to a `.db`/`.sqlite`/`.sqlite3` file → SQLite; anything else → `Config` naming the value (the
    /// scheme only, when there is one: the rest may hold a password) and the accepted forms.
    pub(crate) fn from_url(url: &str) -> Result<Self, StorageError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StorageError::Config(format!(
                "database_url is empty; {ACCEPTED_FORMS}"
            )));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => Ok(Self::Postgres(url.to_owned())),
                "sqlite" => Self::sqlite_path(rest),
                other => Err(StorageError::Config(format!(
                    "database_url has the unsupported scheme {other:?}; {ACCEPTED_FORMS}"
                ))),
            };
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return Self::sqlite_path(rest);
        }
        if let Some(rest) = url.strip_prefix("file:") {
            // An SQLite URI filename: keep it as is (it may carry `?mode=...`), create the directory of its path.
            let path = rest.split(['?', '#']).next().unwrap_or_default();
            let file = (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path));
            return Ok(Self::Sqlite {
                open: url.to_owned(),
                file,
            });
        }
        if !reads_as_sqlite_file(url) {
            // `user:password@host/db` without its scheme: show the part after the password only.
            let shown = url
                .rsplit_once('@')
                .map_or_else(|| url.to_owned(), |(_, host)| format!("…@{host}"));
            return Err(StorageError::Config(format!(
                "database_url {shown:?} is neither a URL nor an SQLite file path; {ACCEPTED_FORMS}"
            )));
        }
        Self::sqlite_path(url)
    }

    fn sqlite_path(path: &str) -> Result<Self, StorageError> {
        if path.is_empty() {
            return Err(StorageError::Config(format!(
                "database_url names no SQLite file; {ACCEPTED_FORMS}"
            )));
        }
        let file = (path != ":memory:").then(|| PathBuf::from(path));
        Ok(Self::Sqlite {
            open: path.to_owned(),
            file,
        })
    }

    /// An in-memory SQLite database exists once per connection, so a pool of them would be several
    /// unrelated databases.
    pub(crate) fn check_pool_size(&self, pool_size: u32) -> Result<(), StorageError> {
        match self {
            Self::Sqlite { file: None, .. } if pool_size > 1 => Err(StorageError::Config(
                "database_url names an in-memory SQLite database, which is private to one connection: use a file, \
                 or database_pool_size = 1"
                    .to_owned(),
            )),
            Self::Sqlite { .. } | Self::Postgres(_) => Ok(()),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite { .. } => Backend::Sqlite,
        }
    }
}

/// A scheme-less value that is plainly a file: no `:` (which would make it `host:port/…` or an unknown
/// `scheme:`) and an SQLite file name.
fn reads_as_sqlite_file(value: &str) -> bool {
    !value.contains(':')
        && Path::new(value)
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| SQLITE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// SQL run on every new SQLite connection (before `synchronous`). `case_sensitive_like` makes `LIKE`
/// behave as on PostgreSQL; case-insensitive comparisons lower both sides explicitly.
const SQLITE_CONNECTION_SETUP: &str =
    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON;";

/// SQLite's `synchronous` pragma in WAL mode: when a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// The WAL is synced on every commit: an acknowledged write survives power loss. The default; the
    /// group commit (`group_commit.rs`) shares one sync among the writers of a burst.
    #[default]
    Full,
    /// The WAL is synced at checkpoints only: a power loss (not a process crash) can drop the last
    /// acknowledged commits. Faster for single writers.
    Normal,
}

impl SqliteSynchronous {
    /// The pragma value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Per-connection settings applied to every connection the pool (and the SQLite group committer) opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionTuning {
    pub sqlite_synchronous: SqliteSynchronous,
    /// The time limit of one statement in milliseconds; 0 means none. PostgreSQL: `statement_timeout`
    /// on every statement. SQLite: every statement that scans documents (see [`sqlite_time_limit`]).
    pub statement_timeout_ms: u64,
}

mod sqlite_functions {
    use diesel::expression::functions::declare_sql_function;
    use diesel::sql_types::{BigInt, Nullable, Text};

    #[declare_sql_function]
    extern "SQL" {
        /// Unicode lowercase (Rust `str::to_lowercase`), registered on every SQLite connection.
        fn scim_lower(text: Nullable<Text>) -> Nullable<Text>;
        /// TRUE while the statement that started at `started_ms` ([`super::monotonic_millis`]) is within
        /// the connection's time limit; past it, an error that ends the statement
        /// ([`super::TimeLimitCheck`]).
        fn scim_time_limit(started_ms: BigInt) -> Bool;
    }
}

/// The text of the error that ends an SQLite statement past its time limit, recognised by
/// `StorageError` as [`StorageError::TimedOut`].
pub(crate) const SQLITE_TIME_LIMIT_REACHED: &str = "scim statement time limit reached";

/// What `scim_time_limit` answers for one row. SQLite offers no progress handler through diesel (and
/// this workspace forbids `unsafe`), but a registered function that fails ends its statement at once:
/// the scan checks the clock on every row it examines, and stops with an error, never a partial answer.
#[derive(Debug)]
struct TimeLimitCheck {
    exceeded: bool,
}

impl diesel::serialize::ToSql<diesel::sql_types::Bool, diesel::sqlite::Sqlite> for TimeLimitCheck {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
    ) -> diesel::serialize::Result {
        if self.exceeded {
            return Err(SQLITE_TIME_LIMIT_REACHED.into());
        }
        <bool as diesel::serialize::ToSql<diesel::sql_types::Bool, diesel::sqlite::Sqlite>>::to_sql(
            &true, out,
        )
    }
}

/// The clock `scim_time_limit` compares against: milliseconds since this process first read it, from a
/// monotonic clock, so that a wall-clock step cannot end or prolong a statement.
pub(crate) fn monotonic_millis() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    i64::try_from(START.get_or_init(std::time::Instant::now).elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The SQLite condition that bounds a scanning statement by the connection's time limit: put first in a
/// `WHERE`, it is evaluated for every row the scan examines. The start time is bound, so the statement
/// text stays the same.
pub(crate) fn sqlite_time_limit() -> crate::sql::SqlFrag<diesel::sql_types::Bool> {
    crate::sql::SqlFrag::new()
        .sql("scim_time_limit(")
        .bind(crate::sql::BindValue::BigInt(monotonic_millis()))
        .sql(")")
}

#[derive(diesel::QueryableByName)]
struct CompileOption {
    #[diesel(sql_type = diesel::sql_types::Text)]
    compile_options: String,
}

/// Whether SQLite keeps one query plan per statement (the query planner stability guarantee). Without
/// it, rebinding a statement's `LIMIT`/`OFFSET` marks it for re-preparation, which undoes the
/// prepared-statement cache for every page query.
fn sqlite_has_stable_plans(conn: &mut SqliteConnection) -> Result<bool, StorageError> {
    use diesel::RunQueryDsl;
    let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options").load(conn)?;
    Ok(options.iter().any(|o| o.compile_options == "ENABLE_QPSG"))
}

/// The r2d2 manager: opens connections of the backend the URL names.
#[derive(Debug, Clone)]
pub struct DbConnManager {
    target: DbTarget,
    tuning: ConnectionTuning,
}

impl DbConnManager {
    pub(crate) fn new(target: DbTarget, tuning: ConnectionTuning) -> Self {
        Self { target, tuning }
    }

    /// Prepares the database once before the pool exists: creates the SQLite file's directory and
    /// switches the file to WAL. Connecting here also reports the real cause of a failure early.
    pub(crate) fn prepare(&self) -> Result<(), StorageError> {
        if let DbTarget::Sqlite { file: Some(path), .. } = &self.target
            && let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Config(format!(
                    "cannot create the SQLite directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut conn = self.open()?;
        if let DbConnection::Sqlite(sqlite) = &mut conn {
            sqlite
                .batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(StorageError::from)?;
            if !sqlite_has_stable_plans(sqlite)? {
                tracing::warn!(
                    "SQLite was built without SQLITE_ENABLE_QPSG (set in .cargo/config.toml): every paged \
                     query is compiled again on each request"
                );
            }
        }
        Ok(())
    }

    pub(crate) fn open(&self) -> Result<DbConnection, StorageError> {
        match &self.target {
            DbTarget::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(StorageError::from_connection)?;
                conn.batch_execute(&postgres_statement_timeout(self.tuning.statement_timeout_ms))
                    .map_err(StorageError::from)?;
                conn.batch_execute(POSTGRES_CONNECTION_SETUP)
                    .map_err(StorageError::from)?;
                Ok(DbConnection::Postgres(conn))
            }
            DbTarget::Sqlite { open, .. } => {
                let mut conn = SqliteConnection::establish(open).map_err(StorageError::from_connection)?;
                conn.batch_execute(SQLITE_CONNECTION_SETUP)
                    .map_err(StorageError::from)?;
                conn.batch_execute(&format!(
                    "PRAGMA synchronous = {};",
                    self.tuning.sqlite_synchronous.as_str()
                ))
                .map_err(StorageError::from)?;
                // SQLite's built-in lower() folds ASCII only; filters need the same Unicode folding as
                // the shadow columns (Rust's to_lowercase).
                sqlite_functions::scim_lower_utils::register_impl(&mut conn, |text: Option<String>| {
                    text.map(|t| t.to_lowercase())
                })
                .map_err(StorageError::from)?;
                let limit_ms = i64::try_from(self.tuning.statement_timeout_ms).unwrap_or(i64::MAX);
                sqlite_functions::scim_time_limit_utils::register_nondeterministic_impl(
                    &mut conn,
                    move |started_ms: i64| TimeLimitCheck {
                        exceeded: limit_ms > 0 && monotonic_millis().saturating_sub(started_ms) > limit_ms,
                    },
                )
                .map_err(StorageError::from)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Every PostgreSQL connection's setup: plans are made without the bound values (generic plans) and
/// reused. PostgreSQL would otherwise plan each execution again (a custom plan) whenever its estimate for
/// the generic plan comes out higher, as it does for any statement with a bound `LIMIT`: measured, that
/// planning cost 300 of the 500 µs of database CPU per `userName eq` lookup. No statement here needs the
/// values to be planned well: the lookups and writes search by equality on indexed columns or keys, whose
/// plans the statistics decide (see `planner_stats.rs`), and a filter on a JSON attribute reads every
/// document of the kind whatever its value.
const POSTGRES_CONNECTION_SETUP: &str = "SET plan_cache_mode = force_generic_plan";

/// `SET statement_timeout`: `ms` milliseconds, 0 for none.
pub(crate) fn postgres_statement_timeout(ms: u64) -> String {
    format!("SET statement_timeout = {ms}")
}

impl r2d2::ManageConnection for DbConnManager {
    type Connection = DbConnection;
    type Error = StorageError;

    fn connect(&self) -> Result<DbConnection, StorageError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), StorageError> {
        conn.ping().map_err(StorageError::from)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Marks a connection the server closed as broken, so the pool drops it instead of handing it out again.
pub(crate) fn discard(conn: &mut DbConnection) {
    match conn {
        DbConnection::Postgres(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
        }
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
        }
    }
}

/// Opens a write transaction: `BEGIN IMMEDIATE` on SQLite (take the write lock up front), `BEGIN` on
/// PostgreSQL. [`finish`] commits it on `Ok`, rolls it back on `Err`.
pub(crate) fn begin_write(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Commits on `Ok`, rolls back on `Err`; a failed rollback is logged and the original error returned (r2d2
/// then discards the connection as broken).
pub(crate) fn finish<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(StorageError::from)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::error!(error = %rollback, "rollback failed after {err}");
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_pick_the_backend() {
        assert_eq!(
            DbTarget::from_url("postgres://u@h/db").unwrap(),
            DbTarget::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            DbTarget::from_url("postgresql://h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DbTarget::from_url("sqlite://data/scim.db").unwrap(),
            DbTarget::Sqlite {
                open: "data/scim.db".into(),
                file: Some("data/scim.db".into())
            }
        );
        assert_eq!(
            DbTarget::from_url("file:data/x.db?mode=rwc").unwrap(),
            DbTarget::Sqlite {
                open: "file:data/x.db?mode=rwc".into(),
                file: Some("data/x.db".into())
            }
        );
        assert_eq!(
            DbTarget::from_url("/var/lib/scim/scim.db").unwrap().backend(),
            Backend::Sqlite
        );
        assert_eq!(
            DbTarget::from_url("sqlite:scim.db").unwrap(),
            DbTarget::Sqlite {
                open: "scim.db".into(),
                file: Some("scim.db".into())
            }
        );
        let memory = DbTarget::from_url("sqlite://:memory:").unwrap();
        assert!(memory.check_pool_size(1).is_ok());
        assert!(matches!(memory.check_pool_size(4), Err(StorageError::Config(_))));
    }

    #[test]
    fn bundled_sqlite_keeps_one_plan_per_statement() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        assert!(
            sqlite_has_stable_plans(&mut conn).unwrap(),
            "build with LIBSQLITE3_FLAGS=SQLITE_ENABLE_QPSG (.cargo/config.toml)"
        );
    }

    #[derive(diesel::QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }

    #[test]
    fn sqlite_connections_sync_every_commit_unless_set_to_normal() {
        use diesel::RunQueryDsl;
        let dir = tempfile::tempdir().unwrap();
        let target = DbTarget::from_url(dir.path().join("s.db").to_str().unwrap()).unwrap();
        for (setting, expected) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
            let manager = DbConnManager::new(
                target.clone(),
                ConnectionTuning {
                    sqlite_synchronous: setting,
                    statement_timeout_ms: 0,
                },
            );
            let DbConnection::Sqlite(mut conn) = manager.open().unwrap() else {
                panic!("not SQLite");
            };
            let row: Synchronous = diesel::sql_query("PRAGMA synchronous")
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(row.synchronous, expected, "{setting:?}");
        }
        assert_eq!(
            ConnectionTuning::default().sqlite_synchronous,
            SqliteSynchronous::Full
        );
    }

    #[test]
    fn plain_paths_to_sqlite_files_are_accepted() {
        for path in [
            "scim.db",
            "data/scim.sqlite",
            "/var/lib/scim/scim.SQLITE3",
            "./data/scim.db",
        ] {
            assert_eq!(
                DbTarget::from_url(path).unwrap().backend(),
                Backend::Sqlite,
                "{path}"
            );
        }
    }

    #[test]
    fn host_like_values_are_refused_naming_the_value_and_the_accepted_forms() {
        for value in [
            "127.0.0.1:5432/scim",
            "localhost/scim",
            "x",
            "db.internal:5432/scim.db",
        ] {
            let err = DbTarget::from_url(value).unwrap_err();
            let StorageError::Config(message) = &err else {
                panic!("{err:?}");
            };
            assert!(message.contains(&format!("{value:?}")), "{message}");
            assert!(
                message.contains("postgres://") && message.contains("sqlite://") && message.contains(".db"),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
        }
        let err = DbTarget::from_url("scim:hunter2@db.internal:5432/scim").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn unknown_scheme_is_a_config_error_naming_it() {
        let err = DbTarget::from_url("mysql://root@localhost/scim").unwrap_err();
        assert!(
            matches!(&err, StorageError::Config(m) if m.contains("\"mysql\"")),
            "{err:?}"
        );
        assert!(matches!(DbTarget::from_url("  "), Err(StorageError::Config(_))));
    }
}

//! Opening the database when a process starts, with the checks that keep a mistake from turning into a
//! silent surprise later: a missing SQLite file is not created unless the process is there to set one up
//! (a mistyped or relative path would otherwise become a new, empty database, and every tenant "not
//! found"), and a process that does not migrate refuses a schema older than itself instead of answering
//! every request with a 500.
//!
//! The error messages are written for whoever starts the process: each names the database and the setting
//! or command that fixes it.

use std::path::PathBuf;

use crate::Storage;
use crate::connection::DbTarget;
use crate::error::StorageError;
use crate::location::DatabaseLocation;

/// How a process opens its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    pub pool_size: u32,
    /// Create a missing SQLite file (and its directory). Without it, a missing file is [`OpenError::MissingFile`].
    pub create_missing: bool,
    /// Apply pending migrations. Without it, pending migrations are [`OpenError::MigrationsPending`].
    pub apply_migrations: bool,
    /// `synchronous` (SQLite) and `statement_timeout` (PostgreSQL) of every connection.
    pub tuning: crate::ConnectionTuning,
}

/// An opened database and what a start-up line says about it.
#[derive(Debug)]
pub struct Opened {
    pub storage: Storage,
    pub location: DatabaseLocation,
    /// Migrations applied while opening (0 when none were pending or when not applying).
    pub migrations_applied: usize,
    /// OAuth clients not revoked, across tenants: they will fail if the OAuth mode is off.
    pub active_oauth_clients: i64,
}

/// Why a process could not open its database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `database_url` (or the pool size) is unusable; the message names the value and the accepted forms.
    #[error(transparent)]
    Config(StorageError),
    /// The SQLite file does not exist and this process does not create databases. Nothing was created.
    #[error(
        "no SQLite database at {}, and nothing was created: set SCIM_DATABASE_URL (or database_url in the \
         --config file) to the existing database, or run `token-admin migrate` to create a new one there",
        .0.display()
    )]
    MissingFile(PathBuf),
    /// The schema is older than this binary and this process does not migrate.
    #[error(
        "{pending} migration(s) of this version are not applied to the {} database {location}, and this \
         process does not apply them (run_migrations = false): run `token-admin migrate` with the same \
         database settings first",
        location.backend()
    )]
    MigrationsPending {
        location: DatabaseLocation,
        pending: usize,
    },
    #[error("cannot open the {} database {location}", location.backend())]
    Connect {
        location: DatabaseLocation,
        #[source]
        source: StorageError,
    },
    #[error("cannot migrate the {} database {location}", location.backend())]
    Migrate {
        location: DatabaseLocation,
        #[source]
        source: StorageError,
    },
}

impl Storage {
    /// Opens `url` for a process start-up: refuses a missing SQLite file unless `create_missing`, then
    /// applies pending migrations or, without `apply_migrations`, refuses when any are pending; finally
    /// counts what the start-up line reports.
    pub fn open(url: &str, options: OpenOptions) -> Result<Opened, OpenError> {
        let target = DbTarget::from_url(url).map_err(OpenError::Config)?;
        let location = DatabaseLocation::of(&target);
        if !options.create_missing
            && let Some(path) = location.sqlite_file()
            && !path.exists()
        {
            return Err(OpenError::MissingFile(path.to_owned()));
        }
        let storage = match Storage::connect_to(target, options.pool_size, options.tuning) {
            Ok(storage) => storage,
            Err(source) => return Err(OpenError::Connect { location, source }),
        };
        let failed = |source| OpenError::Migrate {
            location: location.clone(),
            source,
        };
        let migrations_applied = if options.apply_migrations {
            storage.run_migrations().map_err(failed)?
        } else {
            match storage.pending_migrations().map_err(failed)? {
                0 => 0,
                pending => return Err(OpenError::MigrationsPending { location, pending }),
            }
        };
        let active_oauth_clients = match storage.count_active_oauth_clients() {
            Ok(count) => count,
            Err(source) => return Err(OpenError::Connect { location, source }),
        };
        Ok(Opened {
            storage,
            location,
            migrations_applied,
            active_oauth_clients,
        })
    }
}

//! `StorageError`: what a storage call can fail with, independent of the backend.
//!
//! Strategy: diesel errors are classified once, here, by *kind* (unique violation, foreign-key violation,
//! closed connection, pool timeout) so that SQLite and PostgreSQL produce the same variant. Call sites that
//! know better (the `userName` being written, the tenant a token belongs to) map the kind to a precise
//! message with `StorageError::from_diesel_with`. Messages of `NotFound`, `Uniqueness`,
//! `PreconditionFailed` and `InvalidReference` are safe to show to clients; `Internal` and `Unavailable`
//! carry the database's own text and belong in logs only (the HTTP layer maps them to a generic 5xx body).

use std::fmt;

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

/// Everything a storage call can fail with.
#[derive(thiserror::Error)]
pub enum StorageError {
    /// The database URL or pool settings are unusable (e.g. an unknown URL scheme). The message names the
    /// setting at fault itself.
    #[error("{0}")]
    Config(String),
    /// The tenant, token or resource does not exist (for this tenant).
    #[error("{0}")]
    NotFound(String),
    /// A unique constraint refused the write (case-insensitive `userName`, group `displayName`, token hash, tenant id).
    #[error("{0}")]
    Uniqueness(String),
    /// `expected_version` did not match the stored version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A group member id does not name a resource in the tenant (or names the group itself).
    #[error("{0}")]
    InvalidReference(String),
    /// Returned by a caller's closure (`modify_resource`), or a document value storage cannot hold
    /// (NUL characters, over-long indexed values): passed through unchanged.
    #[error(transparent)]
    Scim(#[from] scim_core::ScimError),
    /// The database cannot be reached right now: pool timeout, refused or closed connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, corrupt data or an unexpected database error. Not for clients.
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl fmt::Debug for StorageError {
    /// Prints the variant, the message and every `source()` below it (one per line), so a log line built
    /// with `{:?}` shows the whole cause chain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            Self::Config(_) => "Config",
            Self::NotFound(_) => "NotFound",
            Self::Uniqueness(_) => "Uniqueness",
            Self::PreconditionFailed(_) => "PreconditionFailed",
            Self::InvalidReference(_) => "InvalidReference",
            Self::Scim(_) => "Scim",
            Self::Unavailable(_) => "Unavailable",
            Self::Internal(_) => "Internal",
        };
        write!(f, "StorageError::{variant}: {self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl From<DieselError> for StorageError {
    fn from(err: DieselError) -> Self {
        Self::from_diesel_with(err, |kind, text| match kind {
            Violation::Unique => Self::Uniqueness(format!("a unique value already exists ({text})")),
            Violation::ForeignKey => {
                Self::InvalidReference(format!("a referenced row does not exist ({text})"))
            }
        })
    }
}

/// The constraint violations callers may want to word themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    Unique,
    ForeignKey,
}

/// PostgreSQL deadlock victims and SQLite writers that waited out `busy_timeout`.
fn is_transient(message: &str) -> bool {
    message.contains("deadlock detected") || message.contains("database is locked")
}

impl StorageError {
    /// Classifies a diesel error; constraint violations are handed to `on_violation` together with the
    /// database's message (which names the constraint or columns), everything else is mapped generically.
    pub(crate) fn from_diesel_with(
        err: DieselError,
        on_violation: impl FnOnce(Violation, &str) -> StorageError,
    ) -> StorageError {
        match err {
            DieselError::NotFound => Self::NotFound("not found".to_owned()),
            DieselError::DatabaseError(kind, info) => {
                let text = match info.constraint_name() {
                    Some(constraint) => format!("{} [{constraint}]", info.message()),
                    None => info.message().to_owned(),
                };
                match kind {
                    DatabaseErrorKind::UniqueViolation => on_violation(Violation::Unique, &text),
                    DatabaseErrorKind::ForeignKeyViolation => on_violation(Violation::ForeignKey, &text),
                    DatabaseErrorKind::ClosedConnection => Self::Unavailable(text),
                    DatabaseErrorKind::SerializationFailure => {
                        Self::Unavailable(format!("transaction conflict, retry: {text}"))
                    }
                    // diesel exposes no SQLSTATE: recognise the two transient failures by their text.
                    _ if is_transient(&text) => {
                        Self::Unavailable(format!("transient conflict, retry: {text}"))
                    }
                    _ => Self::Internal(format!("database error ({kind:?}): {text}")),
                }
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("connection left in a broken transaction state".to_owned())
            }
            other => Self::Internal(other.to_string()),
        }
    }

    /// Maps an error from establishing a connection.
    pub(crate) fn from_connection(err: ConnectionError) -> StorageError {
        match err {
            ConnectionError::InvalidConnectionUrl(msg) => {
                Self::Config(format!("database_url is invalid: {msg}"))
            }
            ConnectionError::BadConnection(msg) => {
                Self::Unavailable(format!("cannot connect: {}", msg.trim()))
            }
            ConnectionError::CouldntSetupConfiguration(e) => Self::from_diesel_with(e, |_, text| {
                Self::Internal(format!("connection setup failed: {text}"))
            }),
            other => Self::Unavailable(format!("cannot connect: {other}")),
        }
    }

    /// Maps a pool checkout failure (r2d2 reports the last connection error in its message).
    pub(crate) fn from_pool(err: r2d2::Error) -> StorageError {
        Self::Unavailable(format!("no database connection available: {err}"))
    }

    /// Corrupt or unexpected stored data.
    pub(crate) fn corrupt(what: impl fmt::Display) -> StorageError {
        Self::Internal(format!("stored data is corrupt: {what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::ScimError;

    #[test]
    fn debug_names_the_variant_and_prints_the_cause_chain() {
        let err = StorageError::Scim(ScimError::Mutability("userName is immutable".into()));
        assert_eq!(format!("{err:?}"), "StorageError::Scim: userName is immutable");
        let err = StorageError::Unavailable("cannot connect: Connection refused".into());
        assert_eq!(
            format!("{err:?}"),
            "StorageError::Unavailable: database unavailable: cannot connect: Connection refused"
        );
    }

    #[test]
    fn diesel_errors_map_by_kind() {
        assert!(matches!(
            StorageError::from(DieselError::NotFound),
            StorageError::NotFound(_)
        ));
        assert!(matches!(
            StorageError::from(DieselError::BrokenTransactionManager),
            StorageError::Unavailable(_)
        ));
        let refused = StorageError::from_connection(ConnectionError::BadConnection("refused\n".into()));
        assert!(matches!(refused, StorageError::Unavailable(m) if m.ends_with("refused")));
    }
}

//! `StorageError`: what a storage call can fail with, independent of the backend.
//!
//! Strategy: diesel errors are classified once, here, by *kind* (unique violation, foreign-key violation,
//! closed connection, pool timeout) so that SQLite and PostgreSQL produce the same variant. Call sites that
//! know better (the `userName` being written, the tenant a token belongs to) map the kind to a precise
//! message with `StorageError::from_diesel_with`. Messages of `NotFound`, `Uniqueness`,
//! `PreconditionFailed` and `InvalidReference` are safe to show to clients; `Internal` and `Unavailable`
//! carry the database's own text and belong in logs only (the HTTP layer maps them to a generic 5xx body).
//! Those two keep the typed error they came from, when there is one, as their `source()`, so a log line or
//! the CLI's `{:#}` prints the whole chain and the cause stays inspectable.

use std::error::Error;
use std::fmt;
use std::ops::Deref;

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

/// Everything a storage call can fail with.
pub enum StorageError {
    /// The database URL or pool settings are unusable (e.g. an unknown URL scheme). The message names the
    /// setting at fault itself.
    Config(String),
    /// The tenant, token or resource does not exist (for this tenant).
    NotFound(String),
    /// A unique constraint refused the write (case-insensitive `userName`, group `displayName`, token hash, tenant id).
    Uniqueness(String),
    /// `expected_version` did not match the stored version.
    PreconditionFailed(String),
    /// A group member id does not name a resource in the tenant (or names the group itself).
    InvalidReference(String),
    /// Returned by a caller's closure (`modify_resource`), or a document value storage cannot hold
    /// (NUL characters, over-long indexed values): passed through unchanged.
    Scim(scim_core::ScimError),
    /// The database cannot be reached right now: pool timeout, refused or closed connection.
    Unavailable(Cause),
    /// A statement ran past the configured time limit (PostgreSQL `statement_timeout`) and was cancelled:
    /// the request was too expensive for the database's current load. Worth retrying later.
    TimedOut(Cause),
    /// Anything else: a bug, corrupt data or an unexpected database error. Not for clients.
    Internal(Cause),
}

impl From<scim_core::ScimError> for StorageError {
    fn from(err: scim_core::ScimError) -> Self {
        Self::Scim(err)
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message)
            | Self::NotFound(message)
            | Self::Uniqueness(message)
            | Self::PreconditionFailed(message)
            | Self::InvalidReference(message) => f.write_str(message),
            Self::Scim(err) => fmt::Display::fmt(err, f),
            Self::Unavailable(cause) => write!(f, "database unavailable: {cause}"),
            Self::TimedOut(cause) => write!(f, "statement timed out: {cause}"),
            Self::Internal(cause) => write!(f, "internal storage error: {cause}"),
        }
    }
}

/// Written by hand rather than derived: the source of `Unavailable`/`Internal` is the typed error inside
/// their [`Cause`], not the `Cause` itself, whose text `Display` already shows.
impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Scim(err) => err.source(),
            Self::Unavailable(cause) | Self::TimedOut(cause) | Self::Internal(cause) => cause.source(),
            Self::Config(_)
            | Self::NotFound(_)
            | Self::Uniqueness(_)
            | Self::PreconditionFailed(_)
            | Self::InvalidReference(_) => None,
        }
    }
}

/// Why an `Unavailable` or `Internal` error happened: what failed, and the typed error behind it when there
/// is one. `Display` is what failed alone; the typed error is the `source()` of the [`StorageError`], so a
/// printed chain reads "what: cause" exactly once.
pub struct Cause {
    what: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl Cause {
    /// `what` failed because of `source`.
    pub(crate) fn new(what: impl Into<String>, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

/// A cause that is only a message (the database's text, or a condition of our own).
impl From<String> for Cause {
    fn from(what: String) -> Self {
        Self { what, source: None }
    }
}

impl From<&str> for Cause {
    fn from(what: &str) -> Self {
        what.to_owned().into()
    }
}

/// The message, for callers that match on its text.
impl Deref for Cause {
    type Target = str;

    fn deref(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        let mut source = self.source();
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A `Cause` on its own (when a caller keeps it without the `StorageError` around it) still chains.
impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
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
            Self::TimedOut(_) => "TimedOut",
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

/// How an error from a connection the server closed begins ([`StorageError::is_connection_lost`]).
const CONNECTION_LOST: &str = "the connection to the database was lost";
/// A statement PostgreSQL cancelled at `statement_timeout` (SQLSTATE 57014, recognised by its text since
/// diesel exposes no SQLSTATE).
fn is_statement_timeout(message: &str) -> bool {
    message.contains("canceling statement due to statement timeout")
        || message.contains(crate::connection::SQLITE_TIME_LIMIT_REACHED)
}

/// PostgreSQL deadlock victims and SQLite writers that waited out `busy_timeout`.
fn is_transient(message: &str) -> bool {
    message.contains("deadlock detected") || message.contains("database is locked")
}

impl StorageError {
    /// Whether the server closed the connection the failed statement ran on (a restart, an idle timeout):
    /// another connection may well succeed.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Self::Unavailable(cause) if cause.to_string().starts_with(CONNECTION_LOST))
    }

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
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                        Self::Unavailable(format!("{CONNECTION_LOST}: {text}").into())
                    }
                    DatabaseErrorKind::SerializationFailure => {
                        Self::Unavailable(format!("transaction conflict, retry: {text}").into())
                    }
                    _ if is_statement_timeout(&text) => {
                        Self::TimedOut(format!("statement time limit reached: {text}").into())
                    }
                    // diesel exposes no SQLSTATE: recognise the two transient failures by their text.
                    _ if is_transient(&text) => {
                        Self::Unavailable(format!("transient conflict, retry: {text}").into())
                    }
                    _ => Self::Internal(format!("database error ({kind:?}): {text}").into()),
                }
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("connection left in a broken transaction state".into())
            }
            other => Self::Internal(Cause::new("unexpected database error", other)),
        }
    }

    /// Maps an error from establishing a connection.
    pub(crate) fn from_connection(err: ConnectionError) -> StorageError {
        match err {
            ConnectionError::InvalidConnectionUrl(msg) => {
                Self::Config(format!("database_url is invalid: {msg}"))
            }
            ConnectionError::BadConnection(msg) => {
                Self::Unavailable(format!("cannot connect: {}", msg.trim()).into())
            }
            ConnectionError::CouldntSetupConfiguration(e) => Self::from_diesel_with(e, |_, text| {
                Self::Internal(format!("connection setup failed: {text}").into())
            }),
            other => Self::Unavailable(Cause::new("cannot connect", other)),
        }
    }

    /// Maps a pool checkout failure (r2d2 reports the last connection error in its message).
    pub(crate) fn from_pool(err: r2d2::Error) -> StorageError {
        Self::Unavailable(Cause::new("no database connection available", err))
    }

    /// The message followed by every cause below it ("a: b: c"), for one-line reports such as `/readyz`.
    pub fn full_message(&self) -> String {
        let mut text = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    /// Corrupt or unexpected stored data.
    pub(crate) fn corrupt(what: impl fmt::Display) -> StorageError {
        Self::Internal(format!("stored data is corrupt: {what}").into())
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
    fn typed_causes_are_kept_as_the_source_and_shown_once() {
        let io = std::io::Error::other("disk full");
        let err = StorageError::Internal(Cause::new("migration failed", io));
        assert_eq!(err.to_string(), "internal storage error: migration failed");
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("disk full")
        );
        assert_eq!(
            err.full_message(),
            "internal storage error: migration failed: disk full"
        );
        assert_eq!(
            format!("{err:?}"),
            "StorageError::Internal: internal storage error: migration failed\n  caused by: disk full"
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

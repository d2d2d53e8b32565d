//! Where a database URL points, in words safe for logs and error lines: the absolute path of an SQLite
//! file (a relative one depends on the working directory, the first thing to check when a command "cannot
//! find" a tenant), or the hosts, port and name of a PostgreSQL database. Never a user name, a password or
//! a URL parameter.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::connection::{Backend, DbTarget};

/// PostgreSQL's port when a URL names none.
const DEFAULT_POSTGRES_PORT: &str = "5432";

/// A database's place, printable without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An SQLite file, as an absolute path.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A PostgreSQL database: `host:port[,host:port…]/database`, or `None` when the URL cannot be split
    /// without risking to show part of a password.
    Postgres(Option<String>),
}

impl DatabaseLocation {
    pub fn backend(&self) -> Backend {
        match self {
            Self::SqliteFile(_) | Self::SqliteMemory => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite file, when the database is one.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Self::SqliteFile(path) => Some(path),
            Self::SqliteMemory | Self::Postgres(_) => None,
        }
    }

    /// Where `target` is.
    pub(crate) fn of(target: &DbTarget) -> Self {
        match target {
            DbTarget::Postgres(url) => Self::postgres(url),
            DbTarget::Sqlite { file: Some(path), .. } => Self::sqlite_file_at(path),
            DbTarget::Sqlite { file: None, .. } => Self::SqliteMemory,
        }
    }

    /// An SQLite database file, made absolute against the working directory.
    fn sqlite_file_at(path: &Path) -> Self {
        Self::SqliteFile(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
    }

    /// Reads the hosts and database of a libpq URI
    /// (`postgres://[user[:password]@][host[:port][,…]][/database][?param=value…]`).
    ///
    /// Split by hand: host lists (`h1:5432,h2:5432`) are valid libpq but no URL parser accepts them. The
    /// user part ends at the authority's last `@`; when there is none, an `@` further on may belong to a
    /// password holding a raw `/` or `?`, so nothing is shown.
    fn postgres(url: &str) -> Self {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let hosts = match authority.rsplit_once('@') {
            Some((_, hosts)) => hosts,
            None if tail.contains('@') => return Self::Postgres(None),
            None => authority,
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let param = |name: &str| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.into_owned())
        };
        let port = param("port").unwrap_or_else(|| DEFAULT_POSTGRES_PORT.to_owned());
        let hosts = if hosts.is_empty() {
            param("host").unwrap_or_else(|| "local socket".to_owned())
        } else {
            hosts.to_owned()
        };
        let hosts: Vec<String> = hosts
            .split(',')
            .map(|host| {
                // The port follows the last `:` outside an IPv6 literal's brackets.
                let after_literal = host.rsplit_once(']').map_or(host, |(_, after)| after);
                if after_literal.contains(':') {
                    host.to_owned()
                } else {
                    format!("{host}:{port}")
                }
            })
            .collect();
        let database = match path.trim_start_matches('/') {
            "" => param("dbname").unwrap_or_else(|| "(the user's default database)".to_owned()),
            name => name.to_owned(),
        };
        Self::Postgres(Some(format!("{}/{database}", hosts.join(","))))
    }
}

impl fmt::Display for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SqliteFile(path) => write!(f, "{}", path.display()),
            Self::SqliteMemory => f.write_str("in memory"),
            Self::Postgres(Some(address)) => f.write_str(address),
            Self::Postgres(None) => f.write_str("(address not shown: the URL does not split safely)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres(url: &str) -> String {
        DatabaseLocation::postgres(url).to_string()
    }

    #[test]
    fn postgres_shows_hosts_port_and_database_never_credentials_or_parameters() {
        assert_eq!(
            postgres("postgres://scim:hunter2@db.internal:6432/scim?sslmode=require&password=x"),
            "db.internal:6432/scim"
        );
        assert_eq!(postgres("postgresql://db.internal/scim"), "db.internal:5432/scim");
        assert_eq!(postgres("postgres://u@h1:5433,h2/scim"), "h1:5433,h2:5432/scim");
        assert_eq!(postgres("postgres://[::1]/scim"), "[::1]:5432/scim");
        assert_eq!(
            postgres("postgres:///scim?host=/var/run/postgresql&port=5433"),
            "/var/run/postgresql:5433/scim"
        );
        assert_eq!(postgres("postgres://u:p@db?dbname=scim"), "db:5432/scim");
    }

    #[test]
    fn postgres_url_whose_user_part_is_ambiguous_shows_nothing_of_it() {
        let shown = postgres("postgres://scim:pa/ss?wd@db/scim");
        assert!(!shown.contains("pa") && !shown.contains("wd"), "{shown}");
    }

    #[test]
    fn sqlite_files_are_shown_absolute() {
        let location = DatabaseLocation::sqlite_file_at(Path::new("data/scim.db"));
        let path = location.sqlite_file().unwrap();
        assert!(path.is_absolute(), "{}", path.display());
        assert!(path.ends_with("data/scim.db"));
        assert_eq!(location.backend(), Backend::Sqlite);
    }
}

//! What a process says when it starts: one line naming its version, database and addresses; and, when it
//! cannot start, one plain line saying why.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

/// The facts of a start-up line, logged once at `info` when the process is ready (a server has bound its
/// listener; a command has opened its database), so whoever reads the log sees at once which database and
/// addresses the process uses.
#[derive(Debug)]
pub struct StartupLine<'a> {
    /// The log message: what started, e.g. `scim-api listening`.
    pub message: &'a str,
    pub version: &'a str,
    /// `sqlite` or `postgres`.
    pub backend: &'a str,
    /// Where the data is, never with credentials: an absolute file path or `host:port/database`.
    pub database: &'a str,
    pub migrations_applied: usize,
    /// The public URL in use, or where URLs come from without one.
    pub public_url: &'a str,
    /// The bound address, for servers.
    pub listen: Option<SocketAddr>,
    /// Whether the OAuth client-credentials mode is on, for servers.
    pub oauth: Option<bool>,
}

impl StartupLine<'_> {
    pub fn log(&self) {
        tracing::info!(
            version = self.version,
            backend = self.backend,
            database = self.database,
            migrations_applied = self.migrations_applied,
            public_url = self.public_url,
            listen = self.listen.map(tracing::field::display),
            port = self.listen.map(|address| address.port()),
            oauth = self.oauth.map(|on| if on {
                "on"
            } else {
                "off (oauth_signing_secret unset)"
            }),
            "{}",
            self.message
        );
    }
}

/// Prints why the process cannot go on as one plain line on stderr (`error: ` and the whole cause chain
/// joined with `: `) and returns the failure exit code. Never the `Debug` rendering `main` returning `Err`
/// would print: with `RUST_BACKTRACE=1` it adds a stack trace, which tells nothing to someone fixing a
/// setting.
pub fn exit_with(error: &(dyn Error + 'static)) -> ExitCode {
    eprintln!("error: {}", one_line(error));
    ExitCode::FAILURE
}

/// The error and its sources on one line; line breaks inside a message (libpq writes hints on their own
/// lines) become spaces.
fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts
        .join(": ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorContext;

    #[test]
    fn failure_line_holds_the_whole_chain_on_one_line() {
        let cause = std::io::Error::other("connection refused\n\tIs the server running?\n");
        let err = ErrorContext::new("cannot open the database", cause);
        assert_eq!(
            one_line(&err),
            "cannot open the database: connection refused Is the server running?"
        );
    }
}

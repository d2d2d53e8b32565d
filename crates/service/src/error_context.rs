//! Errors that keep their cause: the pieces both services' error types use so a log line shows the whole
//! chain while a client sees only what it may.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

/// Any error, boxed, as error variants keep their cause.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// `what` failed because of `source`. `Display` is `what` alone, so a printed chain reads
/// "what: source" and the typed cause stays reachable through `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct ErrorContext {
    what: Cow<'static, str>,
    #[source]
    source: BoxError,
}

impl ErrorContext {
    pub fn new(what: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> Self {
        Self {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Writes every `source()` below `err`, one `caused by:` line each, for `Debug` impls that print the
/// whole chain.
pub fn fmt_sources(err: &dyn Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut source = err.source();
    while let Some(cause) = source {
        write!(f, "\n  caused by: {cause}")?;
        source = cause.source();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_displays_what_and_keeps_the_cause() {
        let io = std::io::Error::other("disk full");
        let err = ErrorContext::new("cannot write output", io);
        assert_eq!(err.to_string(), "cannot write output");
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("disk full")
        );
    }
}

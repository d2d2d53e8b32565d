//! Logging: `tracing-subscriber` with `RUST_LOG` honoured (default `info`), human-readable output on a
//! terminal and JSON lines otherwise. Logs go to stderr so stdout stays free for machine-readable output
//! (`token-admin tokens issue` prints its JSON there).
//!
//! Lines are written by a background thread (`tracing-appender`) through a buffer that is flushed
//! whenever no more lines are waiting: a request thread formats its line and moves on instead of making
//! one `write` system call per access-log line, and under load many lines go out in one call. Nothing is
//! dropped: when the queue is full, loggers wait, as they did for a synchronous stderr.

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::settings::LogFormat;

/// Bytes of log output gathered before one write to stderr.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Keeps the log writer thread alive; dropping it writes out every queued line. Hold it until exit.
#[derive(Debug)]
#[must_use = "logs are flushed when the guard is dropped: keep it until the process exits"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
}

/// Installs the global subscriber. Calling it again (as tests do) is harmless.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !terminal,
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(BufWriter::with_capacity(LOG_BUFFER_BYTES, std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(terminal)
        .with_span_events(FmtSpan::NONE);
    // `try_init` fails only when a subscriber is already installed, which is fine.
    let installed = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}

/// Installs a subscriber for tests: silent unless `TEST_LOG` is set. The writer thread lives as long
/// as the test process.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        std::mem::forget(init(LogFormat::Pretty));
    }
}

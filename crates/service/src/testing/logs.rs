//! Capturing what the services log, for tests.
//!
//! Servers log from their worker threads, so a thread-local subscriber misses them: [`CapturedLogs`]
//! installs the process-wide one, writing JSON lines (with the request span's fields) into memory. A test
//! binary that uses it must not install another subscriber. Tests running in parallel find their own lines
//! by request id ([`CapturedLogs::of_request`]): send `X-Request-Id` and look it up.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::Value;

/// Everything logged in this process since [`CapturedLogs::install`].
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Installs the capturing subscriber at `filter` (an `EnvFilter` directive such as `"debug"`) on the
    /// first call; later calls return the same capture whatever their filter.
    pub fn install(filter: &str) -> &'static CapturedLogs {
        static CAPTURED: OnceLock<CapturedLogs> = OnceLock::new();
        CAPTURED.get_or_init(|| {
            let captured = CapturedLogs::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(move || writer.clone())
                .json()
                .with_current_span(true)
                .init();
            captured
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// All captured output, as written.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The lines logged inside the request whose span carries `request_id`, parsed.
    pub fn of_request(&self, request_id: &str) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| {
                line.get("span")
                    .and_then(|span| span.get("request_id"))
                    .and_then(Value::as_str)
                    == Some(request_id)
            })
            .collect()
    }
}

//! Each tenant's recent SCIM requests, for the setup portal (`docs/portal.md`): method, path, status, and
//! for an error the `scimType` and `detail` we answered, so a customer's admin can see why Entra or Okta
//! reports a failure without opening a ticket.
//!
//! Strategy: off the request's path. The [`record`] middleware builds a small entry from what the
//! request already has (route match, status, the [`ErrorSummary`] that [`crate::error::ApiError`] leaves
//! in the response's extensions) and `try_send`s it into a bounded channel; when the channel is full the
//! entry is dropped and counted (`scim_request_log_dropped_total`), so a SCIM request is never slowed or
//! failed by it. [`run_writer`] drains the channel once a second, keeps each tenant's newest
//! [`KEEP_PER_TENANT`] entries of what it drained (the rest would be trimmed at once), and writes them in
//! one transaction that also trims every tenant to its newest [`KEEP_PER_TENANT`] rows. Never recorded: the
//! query string (a filter holds personal data), headers (the token) and bodies.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use prometheus_client::metrics::counter::Counter;
use scim_core::TenantId;
use service::{Metrics, RequestId};
use storage::Storage;
use storage::portal::NewRequestLogEntry;
use tokio::sync::mpsc;

/// Rows kept per tenant.
pub const KEEP_PER_TENANT: i64 = 200;
/// Entries waiting to be written; past this, new ones are dropped (and counted). With
/// [`FLUSH_INTERVAL`], about 40,000 requests/s are recorded without a drop (a few MiB at most).
const CHANNEL_CAPACITY: usize = 40_000;
/// How often the writer wakes up: each wake-up is one write transaction.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The SCIM error an answer carried, left in the response's extensions by `ApiError`.
#[derive(Debug, Clone)]
pub struct ErrorSummary {
    pub scim_type: Option<String>,
    pub detail: String,
}

/// The sending half, shared by the workers' middleware.
#[derive(Debug, Clone)]
pub struct RequestRecorder {
    sender: mpsc::Sender<NewRequestLogEntry>,
    dropped: Counter,
}

/// The receiving half, run by [`run_writer`].
#[derive(Debug)]
pub struct RequestLogWriter {
    receiver: mpsc::Receiver<NewRequestLogEntry>,
    storage: Storage,
}

/// A recorder and its writer; registers the drop counter.
pub fn channel(storage: Storage, metrics: &Metrics) -> (RequestRecorder, RequestLogWriter) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let dropped = Counter::default();
    metrics.register(
        "scim_request_log_dropped",
        "Requests left out of the portal's request log because its queue was full",
        dropped.clone(),
    );
    (
        RequestRecorder { sender, dropped },
        RequestLogWriter { receiver, storage },
    )
}

impl RequestRecorder {
    fn offer(&self, entry: NewRequestLogEntry) {
        if self.sender.try_send(entry).is_err() {
            self.dropped.inc();
        }
    }
}

/// Writes queued entries once a second; when `stop` fires (or the recorders are gone), writes what
/// is left and returns.
pub async fn run_writer(mut writer: RequestLogWriter, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut interval = tokio::time::interval(FLUSH_INTERVAL);
    loop {
        let stopping = tokio::select! {
            _ = interval.tick() => false,
            _ = &mut stop => true,
        };
        let mut batch = Vec::new();
        let closed = loop {
            match writer.receiver.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(mpsc::error::TryRecvError::Empty) => break false,
                Err(mpsc::error::TryRecvError::Disconnected) => break true,
            }
        };
        if !batch.is_empty() {
            flush(&writer.storage, newest_per_tenant(batch)).await;
        }
        if closed || stopping {
            return;
        }
    }
}

/// The batch without what the trim would delete at once: each tenant's newest [`KEEP_PER_TENANT`]
/// entries, in arrival order. A busy tenant then costs at most that many rows per flush.
fn newest_per_tenant(batch: Vec<NewRequestLogEntry>) -> Vec<NewRequestLogEntry> {
    let keep = usize::try_from(KEEP_PER_TENANT).unwrap_or(usize::MAX);
    let mut seen: HashMap<TenantId, usize> = HashMap::new();
    let mut kept: Vec<NewRequestLogEntry> = batch
        .into_iter()
        .rev()
        .filter(|entry| {
            let count = seen.entry(entry.tenant.clone()).or_insert(0);
            *count += 1;
            *count <= keep
        })
        .collect();
    kept.reverse();
    kept
}

async fn flush(storage: &Storage, batch: Vec<NewRequestLogEntry>) {
    let storage = storage.clone();
    let count = batch.len();
    let written = service::blocking(move || storage.record_scim_requests(&batch, KEEP_PER_TENANT)).await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = ?e, count, "could not record recent SCIM requests"),
        Err(e) => tracing::warn!(error = ?e, count, "request log task failed"),
    }
}

/// Whether a request looks like an IdP's Test Connection: a `GET` on the Users or Groups collection with
/// a filter or a count (Entra: `GET /Users?filter=userName eq "<random guid>"`).
fn is_probe(method: &Method, tail: &str, query: &str) -> bool {
    let collection = matches!(tail.trim_end_matches('/'), "Users" | "Groups");
    let asks = query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or_default();
        key.eq_ignore_ascii_case("filter") || key.eq_ignore_ascii_case("count")
    });
    method == Method::GET && collection && asks
}

/// Middleware: after the answer, offers an entry for requests under a tenant's URL. Register it outside
/// the error renderer (so it sees the final answer) and inside `observe` (for the request id).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let response = next.call(req).await?;
    let request = response.request();
    let Some(recorder) = request.app_data::<web::Data<RequestRecorder>>() else {
        return Ok(response);
    };
    let Some(tenant) = request
        .match_info()
        .get("tenant")
        .and_then(|t| TenantId::parse(t).ok())
    else {
        return Ok(response);
    };
    let path = request.path();
    let prefix = format!("/scim/v2/{tenant}/");
    let tail = path.strip_prefix(&prefix).unwrap_or_default();
    let status = response.status().as_u16();
    let summary = response.response().extensions().get::<ErrorSummary>().cloned();
    let (scim_type, detail) = match summary {
        Some(s) if status >= 400 => (s.scim_type, Some(s.detail)),
        _ => (None, None),
    };
    let entry = NewRequestLogEntry {
        probe: is_probe(request.method(), tail, request.query_string()),
        request_id: request.extensions().get::<RequestId>().map(|r| r.0.clone()),
        method: request.method().to_string(),
        path: path.to_owned(),
        tenant,
        occurred_at: request
            .app_data::<web::Data<crate::state::AppState>>()
            .map_or_else(chrono::Utc::now, |state| state.clock.now()),
        status,
        scim_type,
        detail,
    };
    recorder.offer(entry);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_each_tenants_newest_entries_in_order() {
        let entry = |tenant: &str, status: u16| NewRequestLogEntry {
            tenant: TenantId::parse(tenant).unwrap(),
            occurred_at: chrono::Utc::now(),
            request_id: None,
            method: "GET".to_owned(),
            path: String::new(),
            status,
            scim_type: None,
            detail: None,
            probe: false,
        };
        let mut batch: Vec<NewRequestLogEntry> = (0..300).map(|i| entry("busy", 200 + (i % 2))).collect();
        batch.insert(10, entry("quiet", 404));
        let kept = newest_per_tenant(batch.clone());
        assert_eq!(kept.len(), 201);
        assert_eq!(kept.first().unwrap().tenant.as_str(), "quiet", "order kept");
        let busy: Vec<&NewRequestLogEntry> = kept.iter().filter(|e| e.tenant.as_str() == "busy").collect();
        assert_eq!(busy.len(), 200);
        assert_eq!(*busy.last().unwrap(), batch.last().unwrap(), "the newest survive");
    }

    #[test]
    fn test_connection_probes_are_recognised() {
        let filter = "filter=userName%20eq%20%22x%22";
        assert!(is_probe(&Method::GET, "Users", filter));
        assert!(is_probe(&Method::GET, "Groups", "startIndex=1&count=1"));
        assert!(!is_probe(&Method::GET, "Users", ""));
        assert!(!is_probe(&Method::GET, "Users/abc", filter));
        assert!(!is_probe(&Method::POST, "Users", filter));
        assert!(!is_probe(&Method::GET, "Schemas", filter));
    }
}

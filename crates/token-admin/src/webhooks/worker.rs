//! The delivery worker of `token-admin serve` (setting `webhook_worker`).
//!
//! Strategy: a loop claims due deliveries from the outbox (`storage::webhooks`) only as many as it can
//! start at once (at most [`MAX_IN_FLIGHT`] requests in flight), so a claimed row never waits for a slot
//! while its lease runs out. Each delivery runs as its own task: one slow or failing endpoint does not
//! hold back the others, and deliveries are therefore not in order. The outcome is recorded with the
//! retry policy. Replicas share the work through the claims' leases; a killed worker's claims come back
//! when their lease expires, so every delivery is made at least once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use service::{Clock, Metrics};
use storage::Storage;
use storage::webhooks::{ClaimedDelivery, RetryPolicy};
use tokio::sync::Semaphore;

use super::sender::{Message, Sender};
use crate::change_feed::event_json;

/// Outbound requests at once, per process.
pub const MAX_IN_FLIGHT: usize = 8;
/// How often the outbox depth gauge is refreshed.
const DEPTH_INTERVAL: Duration = Duration::from_secs(5);

/// The webhook families of the registry.
#[derive(Debug, Clone)]
pub struct WebhookMetrics {
    pending: Gauge,
    attempts: Counter,
    failures: Counter,
    lag: Histogram,
}

impl WebhookMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            pending: Gauge::default(),
            attempts: Counter::default(),
            failures: Counter::default(),
            // 0.1 s to about 3.6 h: first attempts, and retries over the day.
            lag: Histogram::new(exponential_buckets(0.1, 2.0, 18)),
        };
        metrics.register(
            "webhook_outbox_pending",
            "Webhook deliveries waiting for a successful attempt or their last retry",
            this.pending.clone(),
        );
        metrics.register(
            "webhook_delivery_attempts",
            "Webhook delivery attempts",
            this.attempts.clone(),
        );
        metrics.register(
            "webhook_delivery_failures",
            "Webhook delivery attempts that failed (non-2xx, timeout, connection error, refused target)",
            this.failures.clone(),
        );
        metrics.register(
            "webhook_delivery_lag_seconds",
            "Time from an event to its successful delivery",
            this.lag.clone(),
        );
        this
    }
}

/// What the worker needs; [`run`] runs it until the task is aborted.
#[derive(Debug, Clone)]
pub struct Worker {
    pub storage: Storage,
    pub sender: Sender,
    pub clock: Clock,
    pub metrics: WebhookMetrics,
    pub public_base: String,
    pub policy: RetryPolicy,
    /// Pause when nothing is due.
    pub poll_interval: Duration,
    /// How long a claim is this worker's (see `WebhookOptions::lease`).
    pub lease: Duration,
}

/// Delivers forever (`token-admin serve` aborts the task when it stops; leases cover what was in flight).
pub async fn run(worker: Worker) {
    let worker = Arc::new(worker);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut depth_refreshed: Option<Instant> = None;
    loop {
        // Wait for a free slot before claiming anything.
        let Ok(first) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let free = slots.available_permits() + 1;
        let claimed = claim(&worker, free).await;
        let idle = claimed.len() < free;
        let mut permits =
            std::iter::once(first).chain(std::iter::from_fn(|| Arc::clone(&slots).try_acquire_owned().ok()));
        for delivery in claimed {
            // Only this loop takes slots, so the `free` it saw are still free.
            let Some(permit) = permits.next() else { break };
            let worker = Arc::clone(&worker);
            tokio::spawn(async move {
                deliver(&worker, delivery).await;
                drop(permit);
            });
        }
        drop(permits);
        if depth_refreshed.is_none_or(|at| at.elapsed() >= DEPTH_INTERVAL) {
            refresh_depth(&worker).await;
            depth_refreshed = Some(Instant::now());
        }
        if idle {
            tokio::time::sleep(worker.poll_interval).await;
        }
    }
}

async fn claim(worker: &Worker, limit: usize) -> Vec<ClaimedDelivery> {
    let (storage, now, lease) = (worker.storage.clone(), worker.clock.now(), worker.lease);
    let limit = i64::try_from(limit).unwrap_or(1);
    match service::blocking(move || storage.claim_deliveries(now, lease, limit)).await {
        Ok(Ok(claimed)) => claimed,
        Ok(Err(err)) => {
            tracing::warn!(error = %err.full_message(), "cannot claim webhook deliveries; will retry");
            Vec::new()
        }
        Err(err) => {
            tracing::warn!(error = %err, "webhook claim task failed; will retry");
            Vec::new()
        }
    }
}

async fn refresh_depth(worker: &Worker) {
    let storage = worker.storage.clone();
    if let Ok(Ok(pending)) = service::blocking(move || storage.pending_delivery_count()).await {
        worker.metrics.pending.set(pending);
    }
}

/// One attempt of one claimed delivery, recorded.
async fn deliver(worker: &Worker, delivery: ClaimedDelivery) {
    let body = event_json(&delivery.event, &worker.public_base).to_string();
    let attempt = worker
        .sender
        .send(
            Message {
                url: &delivery.url,
                id: &delivery.event.event_id,
                body: body.as_bytes(),
                secrets: &delivery.secrets,
            },
            worker.clock.now(),
        )
        .await;
    worker.metrics.attempts.inc();
    match &attempt.error {
        None => {
            let lag = worker.clock.now() - delivery.event.occurred_at;
            worker
                .metrics
                .lag
                .observe(lag.to_std().unwrap_or_default().as_secs_f64());
        }
        Some(error) => {
            worker.metrics.failures.inc();
            tracing::info!(
                webhook = %delivery.endpoint_id,
                event = %delivery.event.event_id,
                attempt = delivery.attempts + 1,
                error = %error,
                "webhook delivery attempt failed"
            );
        }
    }
    let (storage, policy, id) = (worker.storage.clone(), worker.policy.clone(), delivery.id);
    let jitter: f64 = rand::random();
    let recorded =
        service::blocking(move || storage.record_delivery_attempt(id, &attempt, &policy, jitter)).await;
    match recorded {
        Ok(Ok(recorded)) if recorded.endpoint_disabled => tracing::warn!(
            webhook = %delivery.endpoint_id,
            "webhook endpoint disabled: every attempt has failed for the whole retry window"
        ),
        Ok(Ok(_)) => {}
        // The lease expires and the delivery is made again: at least once.
        Ok(Err(err)) => {
            tracing::warn!(error = %err.full_message(), delivery = id, "cannot record a webhook attempt")
        }
        Err(err) => tracing::warn!(error = %err, delivery = id, "webhook recording task failed"),
    }
}

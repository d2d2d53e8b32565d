//! Webhook endpoints and their delivery outbox (docs/events.md, "Webhooks").
//!
//! Strategy: a transactional outbox. Whoever positions events in the feed (the sequencer, `feed.rs`, on
//! PostgreSQL; the write itself, `resources/events.rs`, on SQLite) calls [`enqueue_deliveries`] in that
//! transaction, so a delivery row exists for every positioned event and every enabled endpoint that
//! matched it then, and for no event that is not positioned: nothing is lost between the feed and the
//! webhooks, and no SCIM write ever waits for an HTTP request. Endpoint filters are rows of two child
//! tables, or a flag meaning "all", so one `INSERT ... SELECT` can match them on both backends.
//!
//! Workers claim due rows with a lease ([`Storage::claim_deliveries`]): on PostgreSQL the candidates are
//! locked `FOR UPDATE SKIP LOCKED`, so replicas claiming together take disjoint rows; on SQLite the one
//! writer serialises claims. A worker killed mid-delivery leaves a lease that expires, and the row is
//! claimable again, so delivery is at least once. [`Storage::record_delivery_attempt`] applies the
//! [`RetryPolicy`] and disables an endpoint that has failed for the whole retry window.
//!
//! `endpoints.rs` holds the endpoints and their filters, `deliveries.rs` the claims, attempts and
//! listings.

mod deliveries;
mod endpoints;

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::RunQueryDsl;
use diesel::sql_types::Bool;
use scim_core::TenantId;

use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::feed::FeedEvent;
use crate::from_db_time;
use crate::sql::{BindValue, SqlFrag};

/// Inserts the deliveries of the events at feed positions `first..=last`, just positioned in the
/// caller's transaction (the sequencer on PostgreSQL, the write itself on SQLite): one per event and
/// enabled endpoint whose tenant and type filters match. Due at once: `next_attempt_at` is when the
/// event occurred, which is never in the future. One fixed statement, prepared once per connection: on
/// SQLite it runs in every write, and costs next to nothing while there are no endpoints.
pub(crate) fn enqueue_deliveries(
    conn: &mut DbConnection,
    first: i64,
    last: i64,
) -> Result<usize, StorageError> {
    let inserted = SqlFrag::<Bool>::new()
        .cacheable()
        .sql(
            "INSERT INTO webhook_deliveries \
             (endpoint_id, event_row_id, state, attempts, next_attempt_at, created_at) \
             SELECT w.id, e.id, 'pending', 0, e.occurred_at, e.occurred_at \
             FROM events e JOIN webhook_endpoints w ON w.enabled \
             WHERE e.feed_position BETWEEN ",
        )
        .bind(BindValue::BigInt(first))
        .sql(" AND ")
        .bind(BindValue::BigInt(last))
        .sql(
            " AND (w.all_tenants OR EXISTS (SELECT 1 FROM webhook_endpoint_tenants t \
             WHERE t.endpoint_id = w.id AND t.tenant_id = e.tenant_id)) \
             AND (w.all_event_types OR EXISTS (SELECT 1 FROM webhook_endpoint_event_types y \
             WHERE y.endpoint_id = w.id AND y.event_type = e.event_type))",
        )
        .into_query()
        .execute(conn)?;
    Ok(inserted)
}

/// When failed attempts are retried, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the 1st, 2nd, ... failed attempt; the last one repeats.
    pub delays: Vec<Duration>,
    /// No attempt is made later than this after the event occurred (the delivery is then `failed`);
    /// an endpoint whose attempts have all failed for this long is disabled.
    pub window: Duration,
}

impl RetryPolicy {
    /// 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, then every 4 h, for `window_hours`.
    pub fn standard(window_hours: u32) -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            delays: vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
            ],
            window: Duration::from_secs(u64::from(window_hours) * 3600),
        }
    }

    /// When to try again after `failed_attempts` failures of a delivery whose event occurred at
    /// `occurred_at`; `None`: give up. `jitter` in `[0, 1)` spreads the delay over ±20 %, so deliveries
    /// that failed together (an endpoint down) do not all come back in the same second.
    pub fn next_attempt(
        &self,
        failed_attempts: i64,
        occurred_at: DateTime<Utc>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(failed_attempts.saturating_sub(1)).unwrap_or_default();
        let base = self.delays.get(index).or(self.delays.last())?;
        let delay = base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0));
        let next = now + chrono::Duration::from_std(delay).ok()?;
        let deadline = occurred_at + chrono::Duration::from_std(self.window).ok()?;
        (next <= deadline).then_some(next)
    }
}

/// An endpoint to create. `None` filters match every tenant / every event type.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookEndpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub tenants: Option<Vec<TenantId>>,
    pub event_types: Option<Vec<String>>,
    /// `whsec_...`, kept as is: signing needs it.
    pub secret: String,
}

/// A stored endpoint, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub tenants: Option<Vec<TenantId>>,
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a PATCH changes; `None` leaves a field alone. Enabling clears the disabled reason and the
/// failure streak.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub tenants: Option<Option<Vec<TenantId>>>,
    pub event_types: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StorageError> {
        match text {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(StorageError::corrupt(format!("delivery state {other:?}"))),
        }
    }
}

/// A delivery a worker has leased: what to send, where, signed with which secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub endpoint_id: String,
    pub url: String,
    /// The current secret, then the previous one while its rotation grace lasts.
    pub secrets: Vec<String>,
    /// Attempts made before this one.
    pub attempts: i64,
    pub event: FeedEvent,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Why the attempt failed (`None`: a 2xx answer, delivered).
    pub error: Option<String>,
    pub latency_ms: i64,
    pub at: DateTime<Utc>,
}

/// What [`Storage::record_delivery_attempt`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecorded {
    pub state: DeliveryState,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// This failure disabled the endpoint (it had failed for the whole retry window).
    pub endpoint_disabled: bool,
}

/// A delivery as the API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryInfo {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Pending deliveries only.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The secrets an attempt made at `now` is signed with: the current one, then the previous one while
/// its grace lasts.
fn signing_secrets(
    secret: String,
    previous: Option<String>,
    until: Option<NaiveDateTime>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut secrets = vec![secret];
    if let (Some(previous), Some(until)) = (previous, until) {
        if from_db_time(until) > now {
            secrets.push(previous);
        }
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn the_standard_schedule_starts_within_seconds_and_stops_at_the_window() {
        let policy = RetryPolicy::standard(24);
        let occurred = at(0);
        let mut now = occurred;
        let mut delays = Vec::new();
        let mut failed = 1;
        while let Some(next) = policy.next_attempt(failed, occurred, now, 0.5) {
            delays.push((next - now).num_seconds());
            now = next;
            failed += 1;
        }
        assert_eq!(delays[..8], [5, 30, 120, 600, 1800, 3600, 7200, 14400]);
        assert!(delays[8..].iter().all(|d| *d == 14400), "{delays:?}");
        // The 13th and last attempt comes 23 h 42 min after the event; a 14th would pass 24 h.
        assert_eq!(delays.len(), 12);
        assert_eq!((now - occurred).num_seconds(), 85_355);
    }

    #[test]
    fn jitter_spreads_delays_by_a_fifth_either_way() {
        let policy = RetryPolicy::standard(24);
        let delay =
            |jitter| (policy.next_attempt(2, at(0), at(0), jitter).unwrap() - at(0)).num_milliseconds();
        assert_eq!(delay(0.0), 24_000);
        assert_eq!(delay(0.5), 30_000);
        assert_eq!(delay(0.999_999), 35_999);
    }
}

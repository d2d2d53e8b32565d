//! Webhook endpoints and their delivery outbox (docs/events.md, "Webhooks").
//!
//! Strategy: a transactional outbox. The sequencer (`feed.rs`) calls [`enqueue_deliveries`] in the
//! transaction that stamps events, so a delivery row exists for every positioned event and every enabled
//! endpoint that matched it then, and for no event that is not positioned: nothing is lost between the
//! feed and the webhooks, and SCIM writes never touch this table. Endpoint filters are rows of two child
//! tables, or a flag meaning "all", so one `INSERT ... SELECT` can match them on both backends.
//!
//! Workers claim due rows with a lease ([`Storage::claim_deliveries`]): on PostgreSQL the candidates are
//! locked `FOR UPDATE SKIP LOCKED`, so replicas claiming together take disjoint rows; on SQLite the one
//! writer serialises claims. A worker killed mid-delivery leaves a lease that expires, and the row is
//! claimable again, so delivery is at least once. [`Storage::record_delivery_attempt`] applies the
//! [`RetryPolicy`] and disables an endpoint that has failed for the whole retry window.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use scim_core::TenantId;

use crate::connection::{DbConnection, Dialect};
use crate::error::StorageError;
use crate::feed::{EventRow, FeedEvent};
use crate::schema::{
    events, tenants, webhook_deliveries, webhook_endpoint_event_types, webhook_endpoint_tenants,
    webhook_endpoints,
};
use crate::sql::{BindValue, SqlFrag};
use crate::{Storage, from_db_time, to_db_time};

/// Inserts the deliveries of the events at feed positions `first..=last` (just stamped, in the
/// sequencer's transaction): one per event and enabled endpoint whose tenant and type filters match.
/// Due at once: `next_attempt_at` is when the event occurred, which is never in the future.
pub(crate) fn enqueue_deliveries(conn: &mut DbConnection, first: i64, last: i64) -> QueryResult<usize> {
    // Integers only, computed by the sequencer: nothing a client sent enters this SQL text.
    diesel::sql_query(format!(
        "INSERT INTO webhook_deliveries (endpoint_id, event_row_id, state, attempts, next_attempt_at, created_at) \
         SELECT w.id, e.id, 'pending', 0, e.occurred_at, e.occurred_at \
         FROM events e JOIN webhook_endpoints w ON w.enabled \
         WHERE e.feed_position BETWEEN {first} AND {last} \
         AND (w.all_tenants OR EXISTS (SELECT 1 FROM webhook_endpoint_tenants t \
              WHERE t.endpoint_id = w.id AND t.tenant_id = e.tenant_id)) \
         AND (w.all_event_types OR EXISTS (SELECT 1 FROM webhook_endpoint_event_types y \
              WHERE y.endpoint_id = w.id AND y.event_type = e.event_type))"
    ))
    .execute(conn)
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

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    id: String,
    url: String,
    description: Option<String>,
    all_tenants: bool,
    all_event_types: bool,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Inserts the filter rows of an endpoint, after checking that each tenant exists.
fn insert_filters(
    conn: &mut DbConnection,
    endpoint_id: &str,
    tenants: Option<&[TenantId]>,
    event_types: Option<&[String]>,
) -> Result<(), StorageError> {
    for tenant in tenants.unwrap_or_default() {
        let exists: i64 = tenants::table
            .filter(tenants::id.eq(tenant.as_str()))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StorageError::InvalidReference(format!(
                "unknown tenant {:?}",
                tenant.as_str()
            )));
        }
        diesel::insert_into(webhook_endpoint_tenants::table)
            .values((
                webhook_endpoint_tenants::endpoint_id.eq(endpoint_id),
                webhook_endpoint_tenants::tenant_id.eq(tenant.as_str()),
            ))
            .execute(conn)?;
    }
    for event_type in event_types.unwrap_or_default() {
        diesel::insert_into(webhook_endpoint_event_types::table)
            .values((
                webhook_endpoint_event_types::endpoint_id.eq(endpoint_id),
                webhook_endpoint_event_types::event_type.eq(event_type),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn dedup<T: Ord + Clone>(values: &[T]) -> Vec<T> {
    let mut values = values.to_vec();
    values.sort();
    values.dedup();
    values
}

/// Loads endpoints with their filters.
fn load_endpoints(conn: &mut DbConnection, id: Option<&str>) -> Result<Vec<WebhookEndpoint>, StorageError> {
    let mut query = webhook_endpoints::table
        .select(EndpointRow::as_select())
        .order(webhook_endpoints::created_at.asc())
        .then_order_by(webhook_endpoints::id.asc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(webhook_endpoints::id.eq(id.to_owned()));
    }
    let rows: Vec<EndpointRow> = query.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut tenant_rows: HashMap<String, Vec<TenantId>> = HashMap::new();
    for (endpoint, tenant) in webhook_endpoint_tenants::table
        .select((
            webhook_endpoint_tenants::endpoint_id,
            webhook_endpoint_tenants::tenant_id,
        ))
        .filter(webhook_endpoint_tenants::endpoint_id.eq_any(&ids))
        .order(webhook_endpoint_tenants::tenant_id.asc())
        .load::<(String, String)>(conn)?
    {
        let tenant = TenantId::parse(&tenant)
            .map_err(|_| StorageError::corrupt(format!("tenant of webhook {endpoint}")))?;
        tenant_rows.entry(endpoint).or_default().push(tenant);
    }
    let mut type_rows: HashMap<String, Vec<String>> = HashMap::new();
    for (endpoint, event_type) in webhook_endpoint_event_types::table
        .select((
            webhook_endpoint_event_types::endpoint_id,
            webhook_endpoint_event_types::event_type,
        ))
        .filter(webhook_endpoint_event_types::endpoint_id.eq_any(&ids))
        .order(webhook_endpoint_event_types::event_type.asc())
        .load::<(String, String)>(conn)?
    {
        type_rows.entry(endpoint).or_default().push(event_type);
    }
    Ok(rows
        .into_iter()
        .map(|row| WebhookEndpoint {
            tenants: (!row.all_tenants).then(|| tenant_rows.remove(&row.id).unwrap_or_default()),
            event_types: (!row.all_event_types).then(|| type_rows.remove(&row.id).unwrap_or_default()),
            id: row.id,
            url: row.url,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            created_at: from_db_time(row.created_at),
            updated_at: from_db_time(row.updated_at),
        })
        .collect())
}

fn load_endpoint(conn: &mut DbConnection, id: &str) -> Result<WebhookEndpoint, StorageError> {
    load_endpoints(conn, Some(id))?
        .pop()
        .ok_or_else(|| StorageError::NotFound(format!("webhook {id} not found")))
}

impl Storage {
    /// Creates an endpoint (enabled); an unknown tenant is `InvalidReference`.
    pub fn create_webhook(
        &self,
        new: &NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StorageError> {
        let now = to_db_time(now);
        self.write(|conn| {
            diesel::insert_into(webhook_endpoints::table)
                .values((
                    webhook_endpoints::id.eq(&new.id),
                    webhook_endpoints::url.eq(&new.url),
                    webhook_endpoints::description.eq(&new.description),
                    webhook_endpoints::all_tenants.eq(new.tenants.is_none()),
                    webhook_endpoints::all_event_types.eq(new.event_types.is_none()),
                    webhook_endpoints::enabled.eq(true),
                    webhook_endpoints::secret.eq(&new.secret),
                    webhook_endpoints::created_at.eq(now),
                    webhook_endpoints::updated_at.eq(now),
                ))
                .execute(conn)?;
            let tenants = new.tenants.as_deref().map(dedup);
            let types = new.event_types.as_deref().map(dedup);
            insert_filters(conn, &new.id, tenants.as_deref(), types.as_deref())?;
            load_endpoint(conn, &new.id)
        })
    }

    /// Every endpoint, oldest first.
    pub fn list_webhooks(&self) -> Result<Vec<WebhookEndpoint>, StorageError> {
        let mut conn = self.conn()?;
        load_endpoints(&mut conn, None)
    }

    pub fn get_webhook(&self, id: &str) -> Result<WebhookEndpoint, StorageError> {
        let mut conn = self.conn()?;
        load_endpoint(&mut conn, id)
    }

    /// Applies `changes`; events already queued keep their deliveries.
    pub fn update_webhook(
        &self,
        id: &str,
        changes: &WebhookChanges,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StorageError> {
        let now = to_db_time(now);
        self.write(|conn| {
            load_endpoint(conn, id)?;
            let target = webhook_endpoints::table.filter(webhook_endpoints::id.eq(id));
            diesel::update(target)
                .set(webhook_endpoints::updated_at.eq(now))
                .execute(conn)?;
            if let Some(url) = &changes.url {
                diesel::update(target)
                    .set(webhook_endpoints::url.eq(url))
                    .execute(conn)?;
            }
            if let Some(description) = &changes.description {
                diesel::update(target)
                    .set(webhook_endpoints::description.eq(description))
                    .execute(conn)?;
            }
            if let Some(enabled) = changes.enabled {
                diesel::update(target)
                    .set(webhook_endpoints::enabled.eq(enabled))
                    .execute(conn)?;
                if enabled {
                    diesel::update(target)
                        .set((
                            webhook_endpoints::disabled_reason.eq(None::<String>),
                            webhook_endpoints::failing_since.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?;
                } else {
                    diesel::update(target)
                        .set(webhook_endpoints::disabled_reason.eq("disabled by an operator"))
                        .execute(conn)?;
                }
            }
            if let Some(tenants) = &changes.tenants {
                diesel::delete(
                    webhook_endpoint_tenants::table.filter(webhook_endpoint_tenants::endpoint_id.eq(id)),
                )
                .execute(conn)?;
                diesel::update(target)
                    .set(webhook_endpoints::all_tenants.eq(tenants.is_none()))
                    .execute(conn)?;
                insert_filters(conn, id, tenants.as_deref().map(dedup).as_deref(), None)?;
            }
            if let Some(types) = &changes.event_types {
                diesel::delete(
                    webhook_endpoint_event_types::table
                        .filter(webhook_endpoint_event_types::endpoint_id.eq(id)),
                )
                .execute(conn)?;
                diesel::update(target)
                    .set(webhook_endpoints::all_event_types.eq(types.is_none()))
                    .execute(conn)?;
                insert_filters(conn, id, None, types.as_deref().map(dedup).as_deref())?;
            }
            load_endpoint(conn, id)
        })
    }

    /// Deletes an endpoint with its filters and deliveries.
    pub fn delete_webhook(&self, id: &str) -> Result<(), StorageError> {
        self.write(|conn| {
            let deleted = diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
                .execute(conn)?;
            if deleted == 0 {
                return Err(StorageError::NotFound(format!("webhook {id} not found")));
            }
            Ok(())
        })
    }

    /// Replaces the secret; with `grace_until`, the old one keeps signing (next to the new) until then.
    pub fn rotate_webhook_secret(
        &self,
        id: &str,
        new_secret: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StorageError> {
        self.write(|conn| {
            let old: String = webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(id))
                .select(webhook_endpoints::secret)
                .first(conn)
                .optional()?
                .ok_or_else(|| StorageError::NotFound(format!("webhook {id} not found")))?;
            diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
                .set((
                    webhook_endpoints::secret.eq(new_secret),
                    webhook_endpoints::previous_secret.eq(grace_until.map(|_| old)),
                    webhook_endpoints::previous_secret_until.eq(grace_until.map(to_db_time)),
                    webhook_endpoints::updated_at.eq(to_db_time(now)),
                ))
                .execute(conn)?;
            load_endpoint(conn, id)
        })
    }

    /// The secrets an attempt made at `now` is signed with: the current one, then the previous one
    /// while its grace lasts.
    pub fn webhook_signing_secrets(&self, id: &str, now: DateTime<Utc>) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn()?;
        let (secret, previous, until) = webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .select((
                webhook_endpoints::secret,
                webhook_endpoints::previous_secret,
                webhook_endpoints::previous_secret_until,
            ))
            .first::<(String, Option<String>, Option<NaiveDateTime>)>(&mut *conn)
            .optional()?
            .ok_or_else(|| StorageError::NotFound(format!("webhook {id} not found")))?;
        Ok(signing_secrets(secret, previous, until, now))
    }

    /// Leases up to `limit` due deliveries of enabled endpoints until `now + lease`, and returns them.
    pub fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let lease_until = now
            + chrono::Duration::from_std(lease)
                .map_err(|_| StorageError::Internal("lease out of range".into()))?;
        let (now, lease_until) = (to_db_time(now), to_db_time(lease_until));
        let rows = self.write(|conn| {
            let lock = match conn.dialect() {
                // Replicas claiming at once skip each other's candidates instead of waiting for them.
                Dialect::Postgres => " FOR UPDATE OF d SKIP LOCKED",
                Dialect::Sqlite => "",
            };
            let claimed: Vec<ClaimedId> = SqlFrag::<Bool>::new()
                .sql("UPDATE webhook_deliveries SET lease_until = ")
                .bind(BindValue::Timestamp(lease_until))
                .sql(
                    " WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                     JOIN webhook_endpoints w ON w.id = d.endpoint_id \
                     WHERE d.state = 'pending' AND w.enabled AND d.next_attempt_at <= ",
                )
                .bind(BindValue::Timestamp(now))
                .sql(" AND (d.lease_until IS NULL OR d.lease_until <= ")
                .bind(BindValue::Timestamp(now))
                .sql(&format!(
                    ") ORDER BY d.next_attempt_at LIMIT {limit}{lock}) RETURNING id"
                ))
                .into_query()
                .load(conn)?;
            let ids: Vec<i64> = claimed.into_iter().map(|row| row.id).collect();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            Ok(webhook_deliveries::table
                .inner_join(webhook_endpoints::table)
                .inner_join(events::table)
                .filter(webhook_deliveries::id.eq_any(&ids))
                .order(webhook_deliveries::next_attempt_at.asc())
                .select((
                    webhook_deliveries::id,
                    webhook_deliveries::attempts,
                    webhook_endpoints::id,
                    webhook_endpoints::url,
                    webhook_endpoints::secret,
                    webhook_endpoints::previous_secret,
                    webhook_endpoints::previous_secret_until,
                    EventRow::as_select(),
                ))
                .load::<(
                    i64,
                    i64,
                    String,
                    String,
                    String,
                    Option<String>,
                    Option<NaiveDateTime>,
                    EventRow,
                )>(conn)?)
        })?;
        let now = from_db_time(now);
        rows.into_iter()
            .map(
                |(id, attempts, endpoint_id, url, secret, previous, until, event)| {
                    Ok(ClaimedDelivery {
                        id,
                        endpoint_id,
                        url,
                        secrets: signing_secrets(secret, previous, until, now),
                        attempts,
                        event: event.into_event()?,
                    })
                },
            )
            .collect()
    }

    /// Records how an attempt of a claimed delivery ended: delivered; or retried later per `policy`
    /// (`jitter` in `[0, 1)`); or, past the window, failed. A failure also counts against the endpoint,
    /// which is disabled once every attempt to it has failed for `policy.window`.
    pub fn record_delivery_attempt(
        &self,
        id: i64,
        attempt: &Attempt,
        policy: &RetryPolicy,
        jitter: f64,
    ) -> Result<AttemptRecorded, StorageError> {
        let at = to_db_time(attempt.at);
        let error = attempt.error.as_deref().map(|e| e.replace('\0', ""));
        self.write(|conn| {
            let (endpoint_id, state, attempts, occurred_at): (String, String, i64, NaiveDateTime) =
                webhook_deliveries::table
                    .filter(webhook_deliveries::id.eq(id))
                    .select((
                        webhook_deliveries::endpoint_id,
                        webhook_deliveries::state,
                        webhook_deliveries::attempts,
                        webhook_deliveries::created_at,
                    ))
                    .first(conn)
                    .optional()?
                    .ok_or_else(|| StorageError::NotFound(format!("delivery {id} not found")))?;
            if DeliveryState::parse(&state)? != DeliveryState::Pending {
                // Another worker finished it after this one's lease expired: keep the first outcome.
                return Ok(AttemptRecorded {
                    state: DeliveryState::parse(&state)?,
                    next_attempt_at: None,
                    endpoint_disabled: false,
                });
            }
            let attempts = attempts + 1;
            let (state, next) = if error.is_none() {
                (DeliveryState::Succeeded, None)
            } else {
                match policy.next_attempt(attempts, from_db_time(occurred_at), attempt.at, jitter) {
                    Some(next) => (DeliveryState::Pending, Some(next)),
                    None => (DeliveryState::Failed, None),
                }
            };
            let target = webhook_deliveries::table.filter(webhook_deliveries::id.eq(id));
            diesel::update(target)
                .set((
                    webhook_deliveries::state.eq(state.as_str()),
                    webhook_deliveries::attempts.eq(attempts),
                    webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                    webhook_deliveries::last_attempt_at.eq(at),
                    webhook_deliveries::last_status.eq(attempt.status.map(i64::from)),
                    webhook_deliveries::last_latency_ms.eq(attempt.latency_ms),
                    webhook_deliveries::last_error.eq(&error),
                ))
                .execute(conn)?;
            if let Some(next) = next {
                diesel::update(target)
                    .set(webhook_deliveries::next_attempt_at.eq(to_db_time(next)))
                    .execute(conn)?;
            }
            let endpoint_disabled = match &error {
                None => {
                    diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&endpoint_id)))
                        .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
                        .execute(conn)?;
                    false
                }
                Some(error) => endpoint_failed(conn, &endpoint_id, at, policy.window, error)?,
            };
            Ok(AttemptRecorded {
                state,
                next_attempt_at: next,
                endpoint_disabled,
            })
        })
    }

    /// The newest `limit` deliveries of an endpoint, newest first.
    pub fn list_deliveries(&self, endpoint_id: &str, limit: i64) -> Result<Vec<DeliveryInfo>, StorageError> {
        let mut conn = self.conn()?;
        load_endpoint(&mut conn, endpoint_id)?;
        type Row = (
            i64,
            String,
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<NaiveDateTime>,
            NaiveDateTime,
        );
        let rows: Vec<Row> = webhook_deliveries::table
            .inner_join(events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .order(webhook_deliveries::id.desc())
            .limit(limit)
            .select((
                webhook_deliveries::id,
                events::event_id,
                events::event_type,
                webhook_deliveries::state,
                webhook_deliveries::attempts,
                webhook_deliveries::last_status,
                webhook_deliveries::last_latency_ms,
                webhook_deliveries::last_error,
                webhook_deliveries::last_attempt_at,
                webhook_deliveries::next_attempt_at,
            ))
            .load(&mut *conn)?;
        rows.into_iter()
            .map(
                |(id, event_id, event_type, state, attempts, status, latency, error, last, next)| {
                    let state = DeliveryState::parse(&state)?;
                    Ok(DeliveryInfo {
                        id,
                        event_id,
                        event_type,
                        state,
                        attempts,
                        last_status: status,
                        last_latency_ms: latency,
                        last_error: error,
                        last_attempt_at: last.map(from_db_time),
                        next_attempt_at: (state == DeliveryState::Pending).then(|| from_db_time(next)),
                    })
                },
            )
            .collect()
    }

    /// Deliveries not yet succeeded or failed (the outbox depth).
    pub fn pending_delivery_count(&self) -> Result<i64, StorageError> {
        let mut conn = self.conn()?;
        Ok(webhook_deliveries::table
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
            .count()
            .get_result(&mut *conn)?)
    }
}

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

/// Counts a failed attempt against its endpoint; disables the endpoint when its failures have lasted
/// `window` with no success in between. Returns whether it was disabled now.
fn endpoint_failed(
    conn: &mut DbConnection,
    endpoint_id: &str,
    at: NaiveDateTime,
    window: Duration,
    error: &str,
) -> Result<bool, StorageError> {
    let target = webhook_endpoints::table.filter(webhook_endpoints::id.eq(endpoint_id));
    let (enabled, failing_since): (bool, Option<NaiveDateTime>) = target
        .select((webhook_endpoints::enabled, webhook_endpoints::failing_since))
        .first(conn)?;
    let Some(since) = failing_since else {
        diesel::update(target)
            .set(webhook_endpoints::failing_since.eq(at))
            .execute(conn)?;
        return Ok(false);
    };
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    if !enabled || at.signed_duration_since(since) < window {
        return Ok(false);
    }
    let reason = format!(
        "every delivery attempt since {} has failed, for longer than the retry window; last error: {error}",
        from_db_time(since).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    diesel::update(target)
        .set((
            webhook_endpoints::enabled.eq(false),
            webhook_endpoints::disabled_reason.eq(reason),
            webhook_endpoints::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(true)
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

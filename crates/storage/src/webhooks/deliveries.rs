//! Deliveries: leased claims, recording attempts with the retry policy (and disabling endpoints that
//! keep failing), listings and the outbox depth.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::endpoints::load_endpoint;
use super::{
    Attempt, AttemptRecorded, ClaimedDelivery, DeliveryInfo, DeliveryState, RetryPolicy, signing_secrets,
};
use crate::connection::{DbConnection, Dialect};
use crate::error::StorageError;
use crate::feed::EventRow;
use crate::schema::{events, webhook_deliveries, webhook_endpoints};
use crate::sql::{BindValue, SqlFrag};
use crate::{Storage, from_db_time, to_db_time};

#[derive(Debug, QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

impl Storage {
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

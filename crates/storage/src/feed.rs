//! The change feed: every resource change of every tenant, in one order, readable by cursor.
//!
//! Strategy: a write inserts its events unpositioned, in its own transaction (`resources/events.rs`).
//! The sequencer then stamps pending events, oldest insertion first, with the next global
//! `feed_position` and the next per-tenant `tenant_sequence`, in one transaction that only one sequencer
//! at a time may run (PostgreSQL: a transaction-scoped advisory lock; SQLite: the one writer). So:
//!
//! - positions are handed out in the order events became visible, never to an event still in flight: a
//!   reader that keeps `feed_position > cursor` cannot skip an event whose transaction committed late,
//!   which ids taken from a sequence before commit would allow on PostgreSQL;
//! - a write that saw another's effect (it locked the same row, or found its membership) inserted its
//!   events after that write committed, so it is positioned after it;
//! - writers never wait for one another on a counter: on PostgreSQL two writes to one tenant commit in
//!   parallel, and the sequencer pays one short transaction per batch, not per write.
//!
//! On SQLite, which has one writer at a time, insertion order is commit order: a write inserts each event
//! already numbered (its INSERT reads the next position and sequence) and a trigger
//! (`events_advance_counters`) advances the counters, inside the writing transaction. That spares the
//! sequencer a transaction per write and diesel two statements; the sequencer finds nothing to do. Each process that writes runs a sequencer thread ([`Storage::start_feed_sequencer`]) that a write
//! wakes after commit, and that also sweeps every second for events a crashed process left pending.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use scim_core::TenantId;
use serde_json::{Value, json};

use crate::connection::{DbConnection, Dialect};
use crate::error::StorageError;
use crate::schema::{event_feed, event_sequences, events};
use crate::{Storage, from_db_time, to_db_time};

/// Events stamped per sequencer transaction.
const SEQUENCE_BATCH: i64 = 1_000;
/// Events deleted per retention transaction, so SQLite's write lock is never held for long.
const PRUNE_BATCH: i64 = 500;
/// How often the sequencer looks for events that no wake-up announced.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How long a woken sequencer lets more writes commit before it numbers them: under load one batch
/// then numbers the events of many writes, so its transaction (with the lock only one sequencer holds)
/// costs a fraction of a write rather than one per write. Events appear in the feed this much later.
/// 50 ms measured better than 10 ms for 8 concurrent writers on PostgreSQL (docs/performance.md).
const COALESCE_WINDOW: Duration = Duration::from_millis(50);
/// Key of the PostgreSQL advisory lock that makes one sequencer run at a time.
const SEQUENCER_LOCK_KEY: i64 = 0x5C1A_0002;

/// One change, as the feed shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub event_id: String,
    pub tenant: TenantId,
    /// Per tenant: 1, 2, 3, ... in feed order, no gaps.
    pub sequence: i64,
    /// Across tenants: increasing in feed order (gaps where a tenant was deleted).
    pub position: i64,
    pub event_type: String,
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Created/updated: the resource with `id` and `meta` but without `meta.location` (the caller knows
    /// the public URL). Deleted: id, name and externalId. Member events: group, member and its type.
    pub data: Value,
}

/// Which events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Position of the last event already seen; `None` starts at the oldest retained event.
    pub after: Option<i64>,
    pub limit: i64,
    pub tenant: Option<TenantId>,
    /// Event types to return; empty: all.
    pub types: Vec<String>,
}

/// A page of events, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<FeedEvent>,
    /// Where the next read continues: the last event's position, or the query's own when it found none.
    pub next_after: i64,
    pub has_more: bool,
}

/// The answer to an events read.
#[derive(Debug, Clone, PartialEq)]
pub enum EventsRead {
    Page(EventPage),
    /// The cursor points before events that retention has deleted: the consumer must resynchronise.
    Expired {
        pruned_through: i64,
    },
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    event_id: String,
    tenant_id: String,
    feed_position: Option<i64>,
    tenant_sequence: Option<i64>,
    event_type: String,
    resource_type: String,
    resource_id: String,
    version: Option<i64>,
    occurred_at: NaiveDateTime,
    resource_created_at: Option<NaiveDateTime>,
    request_id: Option<String>,
    member_id: Option<String>,
    member_type: Option<String>,
    data: Option<String>,
}

#[derive(Debug, QueryableByName)]
struct PendingRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    tenant_id: String,
}

fn rfc3339(t: NaiveDateTime) -> String {
    from_db_time(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<FeedEvent, StorageError> {
        let (Some(position), Some(sequence)) = (self.feed_position, self.tenant_sequence) else {
            return Err(StorageError::corrupt(format!(
                "event {} read before it was sequenced",
                self.event_id
            )));
        };
        let data = match (&self.member_id, &self.member_type, &self.data) {
            (Some(member_id), Some(member_type), _) => json!({
                "groupId": self.resource_id,
                "memberId": member_id,
                "memberType": member_type,
            }),
            (_, _, Some(text)) => {
                let mut data: Value = serde_json::from_str(text)
                    .map_err(|e| StorageError::corrupt(format!("data of event {}: {e}", self.event_id)))?;
                if let (Some(created), Some(object)) = (self.resource_created_at, data.as_object_mut()) {
                    // A created/updated event stores the document; show it as SCIM GET would.
                    object.insert("id".to_owned(), json!(self.resource_id));
                    object.insert(
                        "meta".to_owned(),
                        json!({
                            "resourceType": self.resource_type,
                            "created": rfc3339(created),
                            "lastModified": rfc3339(self.occurred_at),
                            "version": scim_core::weak_etag(self.version.unwrap_or_default()),
                        }),
                    );
                }
                data
            }
            // Events from before the feed existed carry only the resource id.
            _ => json!({ "id": self.resource_id }),
        };
        let tenant = TenantId::parse(&self.tenant_id)
            .map_err(|_| StorageError::corrupt(format!("tenant of event {}", self.event_id)))?;
        Ok(FeedEvent {
            event_id: self.event_id,
            tenant,
            sequence,
            position,
            event_type: self.event_type,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            request_id: self.request_id,
            occurred_at: from_db_time(self.occurred_at),
            data,
        })
    }
}

/// Wakes the sequencer thread of this process after a write committed events.
#[derive(Debug, Default)]
pub(crate) struct FeedSignal {
    pending: Mutex<bool>,
    wake: Condvar,
}

impl FeedSignal {
    pub(crate) fn nudge(&self) {
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_one();
    }

    /// Waits for a nudge or `timeout`, whichever first, and clears the flag; after a nudge, waits
    /// [`COALESCE_WINDOW`] more.
    fn wait(&self, timeout: Duration) {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut pending, waited) = self
            .wake
            .wait_timeout_while(pending, timeout, |pending| !*pending)
            .unwrap_or_else(PoisonError::into_inner);
        *pending = false;
        drop(pending);
        if !waited.timed_out() {
            #[expect(
                clippy::disallowed_methods,
                reason = "a deliberate delay that batches writes, not a wait for an event"
            )]
            std::thread::sleep(COALESCE_WINDOW);
        }
    }
}

/// The running sequencer thread; when dropped it positions what is pending, then stops.
#[derive(Debug)]
pub struct FeedSequencer {
    stop: Arc<AtomicBool>,
    signal: Arc<FeedSignal>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FeedSequencer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.signal.nudge();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Storage {
    /// Called after a write committed events: the sequencer positions them at once (on PostgreSQL; on
    /// SQLite the write numbered them).
    pub(crate) fn feed_written(&self) {
        if self.backend == crate::Backend::Postgres {
            self.feed_signal.nudge();
        }
    }

    /// Starts this process's sequencer thread (see the module doc); fails only if no thread can be made.
    pub fn start_feed_sequencer(&self) -> std::io::Result<FeedSequencer> {
        let stop = Arc::new(AtomicBool::new(false));
        let storage = self.clone();
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("feed-sequencer".to_owned())
            .spawn(move || {
                loop {
                    loop {
                        match storage.sequence_events() {
                            Ok(n) if n == SEQUENCE_BATCH as usize => continue,
                            Ok(_) => break,
                            Err(err) => {
                                tracing::warn!(error = %err.full_message(), "cannot sequence change-feed events; will retry");
                                break;
                            }
                        }
                    }
                    // Stopping drains first, so what the last requests wrote is positioned.
                    if thread_stop.load(Ordering::Relaxed) {
                        break;
                    }
                    storage.feed_signal.wait(SWEEP_INTERVAL);
                }
            })?;
        Ok(FeedSequencer {
            stop,
            signal: Arc::clone(&self.feed_signal),
            thread: Some(thread),
        })
    }

    /// Positions up to one batch of pending events; returns how many.
    pub fn sequence_events(&self) -> Result<usize, StorageError> {
        // A plain read first: most sweeps find nothing, and need not take the write lock to see it.
        let nothing_pending = events::table
            .select(events::id)
            .filter(events::feed_position.is_null())
            .first::<i64>(&mut *self.conn()?)
            .optional()?
            .is_none();
        if nothing_pending {
            return Ok(0);
        }
        self.write(|conn| {
            if conn.dialect() == Dialect::Postgres {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK_KEY})")).execute(conn)?;
            }
            let pending: Vec<PendingRow> = diesel::sql_query(format!(
                "SELECT id, tenant_id FROM events WHERE feed_position IS NULL ORDER BY id LIMIT {SEQUENCE_BATCH}"
            ))
            .load(conn)?;
            if pending.is_empty() {
                return Ok(0);
            }
            let mut per_tenant: HashMap<&str, i64> = HashMap::new();
            for row in &pending {
                *per_tenant.entry(row.tenant_id.as_str()).or_default() += 1;
            }
            // The next sequence of each tenant; a tenant deleted meanwhile took its events with it.
            let mut next_sequence: HashMap<&str, i64> = HashMap::new();
            for (tenant, count) in &per_tenant {
                if let Some(first) = advance_tenant_sequence(conn, tenant, *count)? {
                    next_sequence.insert(tenant, first);
                }
            }
            let mut position = advance_position(conn, pending.len() as i64)? - 1;
            let mut values = String::new();
            for row in &pending {
                position += 1;
                let Some(sequence) = next_sequence.get_mut(row.tenant_id.as_str()) else {
                    continue;
                };
                // Integers only, all computed here: nothing a client sent enters this SQL text.
                let _ = write!(values, "{}({}, {}, {})", if values.is_empty() { "" } else { ", " }, row.id, position, sequence);
                *sequence += 1;
            }
            if !values.is_empty() {
                diesel::sql_query(format!(
                    "WITH v (id, position, sequence) AS (VALUES {values}) \
                     UPDATE events SET feed_position = v.position, tenant_sequence = v.sequence \
                     FROM v WHERE events.id = v.id"
                ))
                .execute(conn)?;
                // The webhook outbox, in this transaction: positioned events and their deliveries
                // become visible together (webhooks). `position` is now the last one handed out.
                crate::webhooks::enqueue_deliveries(conn, position + 1 - pending.len() as i64, position)?;
            }
            Ok(pending.len())
        })
    }

    /// The position of the newest sequenced event: a cursor from here sees only what happens next.
    pub fn feed_head(&self) -> Result<i64, StorageError> {
        let mut conn = self.conn()?;
        Ok(event_feed::table
            .select(event_feed::last_position)
            .first(&mut *conn)?)
    }

    /// Reads events after a cursor, oldest first (see [`EventQuery`]).
    pub fn read_events(&self, query: &EventQuery) -> Result<EventsRead, StorageError> {
        let mut conn = self.conn()?;
        let pruned_through: i64 = event_feed::table
            .select(event_feed::pruned_through)
            .first(&mut *conn)?;
        let after = match query.after {
            Some(after) if after < pruned_through => return Ok(EventsRead::Expired { pruned_through }),
            Some(after) => after,
            None => pruned_through,
        };
        let mut select = events::table
            .select(EventRow::as_select())
            .filter(events::feed_position.gt(after))
            .order(events::feed_position.asc())
            .limit(query.limit + 1)
            .into_boxed();
        if let Some(tenant) = &query.tenant {
            select = select.filter(events::tenant_id.eq(tenant.as_str()));
        }
        if !query.types.is_empty() {
            select = select.filter(events::event_type.eq_any(&query.types));
        }
        let mut rows: Vec<EventRow> = select.load(&mut *conn)?;
        let has_more = rows.len() as i64 > query.limit;
        rows.truncate(query.limit as usize);
        let events = rows
            .into_iter()
            .map(EventRow::into_event)
            .collect::<Result<Vec<_>, _>>()?;
        let next_after = events.last().map_or(after, |event| event.position);
        Ok(EventsRead::Page(EventPage {
            events,
            next_after,
            has_more,
        }))
    }

    /// Deletes up to one batch of sequenced events older than `cutoff`; returns how many.
    pub fn prune_events(&self, cutoff: DateTime<Utc>) -> Result<usize, StorageError> {
        let cutoff = to_db_time(cutoff);
        let pruned = self.write(|conn| {
            let oldest: Vec<i64> = events::table
                .select(events::id)
                .filter(events::feed_position.is_not_null())
                .filter(events::occurred_at.lt(cutoff))
                .order(events::feed_position.asc())
                .limit(PRUNE_BATCH)
                .load(conn)?;
            if oldest.is_empty() {
                return Ok(0);
            }
            let through: Option<i64> = diesel::delete(events::table.filter(events::id.eq_any(&oldest)))
                .returning(events::feed_position)
                .get_results::<Option<i64>>(conn)?
                .into_iter()
                .flatten()
                .max();
            if let Some(through) = through {
                diesel::update(event_feed::table.filter(event_feed::pruned_through.lt(through)))
                    .set(event_feed::pruned_through.eq(through))
                    .execute(conn)?;
            }
            Ok(oldest.len())
        })?;
        Ok(pruned)
    }
}

/// Takes `count` sequence numbers of `tenant` and returns the first; `None` if the tenant is gone (its
/// counter row, made with the tenant, went with it).
pub(crate) fn advance_tenant_sequence(
    conn: &mut DbConnection,
    tenant: &str,
    count: i64,
) -> Result<Option<i64>, StorageError> {
    let last: Option<i64> = diesel::update(event_sequences::table.find(tenant))
        .set(event_sequences::last_sequence.eq(event_sequences::last_sequence + count))
        .returning(event_sequences::last_sequence)
        .get_result(conn)
        .optional()?;
    Ok(last.map(|last| last - count + 1))
}

/// Takes `count` feed positions and returns the first.
pub(crate) fn advance_position(conn: &mut DbConnection, count: i64) -> Result<i64, StorageError> {
    let last: i64 = diesel::update(event_feed::table)
        .set(event_feed::last_position.eq(event_feed::last_position + count))
        .returning(event_feed::last_position)
        .get_result(conn)?;
    Ok(last - count + 1)
}

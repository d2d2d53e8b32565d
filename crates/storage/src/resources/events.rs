//! The change-feed events a resource write appends, in the write's own transaction.
//!
//! Each write records what it changed: `{user,group}.{created,updated,deleted}` for the resource, one
//! `group.member_added` / `group.member_removed` per net membership change. Events are inserted without
//! a feed position or tenant sequence; on PostgreSQL `feed.rs` stamps those after commit, so the feed's
//! order is the order in which writes became visible; on SQLite, whose one writer makes insertion order
//! commit order, they are inserted numbered (a trigger advances the counters). What a created/updated event's `data` shows is the stored
//! document (the feed adds `id` and `meta` when it is read); a deleted event keeps the names a consumer
//! needs to find what it removes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use scim_core::ResourceKind;
use serde_json::{Map, Value, json};

use super::members::{MemberChange, MemberDeltas};
use super::rows::ResourceRow;
use crate::connection::{DbConnection, on_inner};
use crate::error::StorageError;
use crate::schema::{event_feed, event_sequences, events};
use crate::{WriteContext, to_db_time};

/// Events per multi-row `INSERT`: 14 binds each, well below both backends' bind limits.
const INSERT_CHUNK: usize = 1_000;

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResourceChange {
    Created,
    Updated,
    Deleted,
}

fn event_type(kind: ResourceKind, change: ResourceChange) -> &'static str {
    match (kind, change) {
        (ResourceKind::User, ResourceChange::Created) => "user.created",
        (ResourceKind::User, ResourceChange::Updated) => "user.updated",
        (ResourceKind::User, ResourceChange::Deleted) => "user.deleted",
        (ResourceKind::Group, ResourceChange::Created) => "group.created",
        (ResourceKind::Group, ResourceChange::Updated) => "group.updated",
        (ResourceKind::Group, ResourceChange::Deleted) => "group.deleted",
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
struct NewEventRow<'a> {
    event_id: String,
    tenant_id: &'a str,
    event_type: &'static str,
    resource_type: &'static str,
    resource_id: &'a str,
    version: Option<i64>,
    occurred_at: NaiveDateTime,
    resource_created_at: Option<NaiveDateTime>,
    request_id: Option<&'a str>,
    actor_token_id: Option<&'a str>,
    member_id: Option<&'a str>,
    member_type: Option<&'a str>,
    data: Option<String>,
}

/// The events of one write, appended together.
pub(super) struct WriteEvents<'a> {
    ctx: &'a WriteContext,
    rows: Vec<NewEventRow<'a>>,
}

impl<'a> WriteEvents<'a> {
    pub(super) fn new(ctx: &'a WriteContext) -> WriteEvents<'a> {
        WriteEvents {
            ctx,
            rows: Vec::new(),
        }
    }

    fn row(
        &self,
        event_type: &'static str,
        kind: ResourceKind,
        id: &'a str,
        version: i64,
    ) -> NewEventRow<'a> {
        NewEventRow {
            // UUID v7: unique, and sortable by creation time for whoever stores them.
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: self.ctx.tenant.as_str(),
            event_type,
            resource_type: kind.as_str(),
            resource_id: id,
            version: Some(version),
            occurred_at: to_db_time(self.ctx.now),
            resource_created_at: None,
            request_id: self.ctx.request_id.as_deref(),
            actor_token_id: self.ctx.actor_token_id.as_deref(),
            member_id: None,
            member_type: None,
            data: None,
        }
    }

    /// A created or updated resource: `row` as written, its document as `data`.
    pub(super) fn upserted(&mut self, change: ResourceChange, kind: ResourceKind, row: &'a ResourceRow) {
        let mut event = self.row(event_type(kind, change), kind, &row.id, row.version);
        event.resource_created_at = Some(row.created_at);
        event.data = Some(row.document.clone());
        self.rows.push(event);
    }

    /// A deleted resource: `data` keeps its id, name and externalId as they were.
    pub(super) fn deleted(&mut self, kind: ResourceKind, row: &'a ResourceRow) {
        let mut event = self.row(
            event_type(kind, ResourceChange::Deleted),
            kind,
            &row.id,
            row.version,
        );
        let mut data = Map::new();
        data.insert("id".to_owned(), json!(row.id));
        let name = match kind {
            ResourceKind::User => ("userName", &row.shadow.user_name),
            ResourceKind::Group => ("displayName", &row.shadow.display_name),
        };
        for (key, value) in [name, ("externalId", &row.shadow.external_id)] {
            if let Some(value) = value {
                data.insert(key.to_owned(), json!(value));
            }
        }
        event.data = Some(Value::Object(data).to_string());
        self.rows.push(event);
    }

    /// One event per net membership change of group `group_id`, now at `version`.
    pub(super) fn members(&mut self, group_id: &'a str, version: i64, deltas: &'a MemberDeltas) {
        for (member_id, member_type, change) in deltas.iter() {
            self.membership(change, group_id, version, member_id, member_type);
        }
    }

    /// One membership change of group `group_id`, now at `version`.
    pub(super) fn membership(
        &mut self,
        change: MemberChange,
        group_id: &'a str,
        version: i64,
        member_id: &'a str,
        member_type: &'a str,
    ) {
        let event_type = match change {
            MemberChange::Added => "group.member_added",
            MemberChange::Removed => "group.member_removed",
        };
        let mut event = self.row(event_type, ResourceKind::Group, group_id, version);
        event.member_id = Some(member_id);
        event.member_type = Some(member_type);
        self.rows.push(event);
    }

    /// Inserts the events; nothing for a write that changed nothing. On SQLite they are inserted numbered
    /// and a trigger advances the counters (see `feed.rs`); on PostgreSQL the sequencer numbers them after
    /// commit.
    pub(super) fn append(self, conn: &mut DbConnection) -> Result<(), StorageError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        if let DbConnection::Sqlite(sqlite) = conn {
            // One row at a time: each reads the counters the trigger advanced after the one before. On
            // the concrete connection, diesel finds the prepared statement by its type; through
            // MultiBackend it would first build the statement's text on every call.
            for row in &self.rows {
                let next_position = event_feed::table
                    .select(event_feed::last_position + 1)
                    .single_value();
                let next_sequence = event_sequences::table
                    .filter(event_sequences::tenant_id.eq(row.tenant_id))
                    .select(event_sequences::last_sequence + 1)
                    .single_value();
                diesel::insert_into(events::table)
                    .values((
                        row,
                        events::feed_position.eq(next_position),
                        events::tenant_sequence.eq(next_sequence),
                    ))
                    .execute(sqlite)?;
            }
            // The last of them is at the feed's last position (this transaction is the one writer);
            // queued for webhooks in the same transaction.
            let count = self.rows.len() as i64;
            let last: i64 = event_feed::table
                .select(event_feed::last_position)
                .first(sqlite)?;
            crate::webhooks::enqueue_deliveries(conn, last - count + 1, last)?;
            return Ok(());
        }
        if let [row] = self.rows.as_slice() {
            // The common case, one event: a statement diesel prepares once per connection (multi-row
            // inserts, whose text varies with the row count, are prepared on every call).
            diesel::insert_into(events::table).values(row).execute(conn)?;
            return Ok(());
        }
        for chunk in self.rows.chunks(INSERT_CHUNK) {
            // Multi-row inserts do not go through MultiBackend: run them on the inner connection.
            on_inner!(conn, |c| diesel::insert_into(events::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    }
}

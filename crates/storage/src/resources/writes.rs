//! Resource writes: create, modify (PATCH, and PUT through a closure) and delete, each one atomic
//! write (`Storage::write`) that appends the change-feed events of what it changed (`events.rs`). Seeding many rows for tests and benchmarks is
//! in `testing.rs`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, ScimError};
use serde_json::{Map, Value};

use super::emails::{insert_emails, replace_emails};
use super::events::{ResourceChange, WriteEvents};
use super::members::{
    IN_CHUNK, MemberChange, MemberDeltas, add_members, apply_member_ops, expand_members,
    members_only_for_groups,
};
use super::rows::{
    ResourceRow, RowLock, check_version, doc_text, lock_resource, map_write_error, prepare_doc, row_to_stored,
};
use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::schema::{group_members, resources};
use crate::shadow_columns::{ShadowColumns, email_keys};
use crate::{Storage, StoredResource, WriteContext, from_db_time, to_db_time};

impl Storage {
    /// Creates a resource with a new UUID v4 id at version 1; a Group's `members` are inserted in the same
    /// transaction. Returns members (Groups, when given) and groups (Users: none yet) expanded.
    pub fn create_resource(
        &self,
        ctx: &WriteContext,
        kind: ResourceKind,
        doc: Value,
        members: Option<&[MemberRef]>,
    ) -> Result<StoredResource, StorageError> {
        members_only_for_groups(kind, members)?;
        let doc = prepare_doc(doc)?;
        let shadow = ShadowColumns::extract(kind, &doc)?;
        let emails = email_keys(kind, &doc)?;
        let now = to_db_time(ctx.now);
        let row = ResourceRow::new(&ctx.tenant, kind, &doc, &shadow, now)?;
        let stored = self.write(|conn| {
            diesel::insert_into(resources::table)
                .values(&row)
                .execute(conn)
                .map_err(map_write_error(kind, &shadow, &ctx.tenant))?;
            insert_emails(conn, &ctx.tenant, &row.id, &emails)?;
            let mut stored = row_to_stored(row.clone())?;
            let mut deltas = MemberDeltas::default();
            if let Some(members) = members.filter(|_| kind == ResourceKind::Group) {
                add_members(conn, &ctx.tenant, &row.id, members, &mut deltas)?;
                expand_members(conn, &ctx.tenant, std::slice::from_mut(&mut stored))?;
            }
            if kind == ResourceKind::User {
                stored.groups = Some(Vec::new());
            }
            touch_users(conn, ctx, deltas.user_ids(), now)?;
            let mut events = WriteEvents::new(ctx);
            events.upserted(ResourceChange::Created, kind, &row);
            events.members(&row.id, row.version, &deltas);
            events.append(conn)?;
            Ok(stored)
        })?;
        self.feed_written();
        Ok(stored)
    }

    /// PATCH in one transaction: lock the row, check the version, let `modify` change the document and
    /// return member deltas, write what changed, bump the version only if anything changed. The returned
    /// resource has `members: None` and `groups: None`.
    pub fn modify_resource<F>(
        &self,
        ctx: &WriteContext,
        kind: ResourceKind,
        id: &ResourceId,
        expected_version: Option<i64>,
        modify: F,
    ) -> Result<StoredResource, StorageError>
    where
        F: FnOnce(&mut Value) -> Result<Vec<MemberOp>, ScimError>,
    {
        let now = to_db_time(ctx.now);
        let stored = self.write(|conn| {
            let current = lock_resource(conn, &ctx.tenant, kind, id, RowLock::Update)?;
            check_version(kind, id.as_str(), current.version, expected_version)?;
            let before: Value = serde_json::from_str(&current.document)
                .map_err(|e| StorageError::corrupt(format!("document of {id}: {e}")))?;
            let mut doc = before.clone();
            let ops = modify(&mut doc)?;
            let doc = prepare_doc(doc)?;
            let doc_changed = Value::Object(doc.clone()) != before;
            let deltas = apply_member_ops(conn, &ctx.tenant, kind, id.as_str(), &ops)?;
            if !doc_changed && deltas.is_empty() {
                return row_to_stored(current);
            }
            let version = current.version + 1;
            let target = resources::table
                .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
                .filter(resources::id.eq(id.as_str()));
            let mut events = WriteEvents::new(ctx);
            let updated;
            if doc_changed {
                updated = write_document(conn, ctx, kind, &current, &before, &doc, now)?;
                events.upserted(ResourceChange::Updated, kind, &updated);
            } else {
                diesel::update(target)
                    .set((resources::version.eq(version), resources::last_modified.eq(now)))
                    .execute(conn)?;
            }
            touch_users(conn, ctx, deltas.user_ids(), now)?;
            events.members(id.as_str(), version, &deltas);
            events.append(conn)?;
            Ok(StoredResource {
                id: id.clone(),
                kind,
                version,
                created: from_db_time(current.created_at),
                last_modified: from_db_time(now),
                doc: Value::Object(doc),
                members: None,
                groups: None,
            })
        })?;
        self.feed_written();
        Ok(stored)
    }

    /// A deactivating DELETE (tenant policy `deleteMode: deactivate`): in one transaction the user gets
    /// `active: false` and leaves every group, as a deleted user would; each group's version moves. The
    /// feed gets `user.updated` and one `group.member_removed` per group. `NotFound`, `PreconditionFailed`.
    pub fn deactivate_user(
        &self,
        ctx: &WriteContext,
        id: &ResourceId,
        expected_version: Option<i64>,
    ) -> Result<(), StorageError> {
        let kind = ResourceKind::User;
        let now = to_db_time(ctx.now);
        self.write(|conn| {
            let current = lock_resource(conn, &ctx.tenant, kind, id, RowLock::Update)?;
            check_version(kind, id.as_str(), current.version, expected_version)?;
            let before: Value = serde_json::from_str(&current.document)
                .map_err(|e| StorageError::corrupt(format!("document of {id}: {e}")))?;
            let mut doc = before.clone();
            if let Some(object) = doc.as_object_mut() {
                object.insert("active".to_owned(), Value::Bool(false));
            }
            let doc = prepare_doc(doc)?;
            let left = leave_all_groups(conn, ctx, id.as_str(), now)?;
            let updated = if Value::Object(doc.clone()) == before {
                // Already inactive: its `groups` may still have changed.
                if !left.is_empty() {
                    touch_users(conn, ctx, [id.as_str()], now)?;
                }
                None
            } else {
                Some(write_document(conn, ctx, kind, &current, &before, &doc, now)?)
            };
            let mut events = WriteEvents::new(ctx);
            if let Some(updated) = &updated {
                events.upserted(ResourceChange::Updated, kind, updated);
            }
            for (group_id, version) in &left {
                events.membership(
                    MemberChange::Removed,
                    group_id,
                    *version,
                    id.as_str(),
                    kind.as_str(),
                );
            }
            events.append(conn)
        })?;
        self.feed_written();
        Ok(())
    }

    /// Hard delete; memberships in both directions go with it (FK cascade) without member events: the
    /// feed's contract is that a `*.deleted` removes every membership naming the resource. The groups it
    /// was in (their `members`) and, for a group, its member users (their `groups`) get a new version.
    /// `NotFound`, `PreconditionFailed`.
    pub fn delete_resource(
        &self,
        ctx: &WriteContext,
        kind: ResourceKind,
        id: &ResourceId,
        expected_version: Option<i64>,
    ) -> Result<(), StorageError> {
        self.write(|conn| {
            let current = lock_resource(conn, &ctx.tenant, kind, id, RowLock::Delete)?;
            check_version(kind, id.as_str(), current.version, expected_version)?;
            touch_related(conn, ctx, id.as_str(), to_db_time(ctx.now))?;
            diesel::delete(
                resources::table
                    .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
                    .filter(resources::id.eq(id.as_str())),
            )
            .execute(conn)?;
            let mut events = WriteEvents::new(ctx);
            events.deleted(kind, &current);
            events.append(conn)
        })?;
        self.feed_written();
        Ok(())
    }
}

/// Writes `doc` as the resource's new document (replacing `before`) at the next version, with its emails
/// if they changed; returns the row as written.
fn write_document(
    conn: &mut DbConnection,
    ctx: &WriteContext,
    kind: ResourceKind,
    current: &ResourceRow,
    before: &Value,
    doc: &Map<String, Value>,
    now: NaiveDateTime,
) -> Result<ResourceRow, StorageError> {
    let emails_before = match before {
        Value::Object(before) => email_keys(kind, before)?,
        _ => Vec::new(),
    };
    let emails = email_keys(kind, doc)?;
    let updated = ResourceRow {
        version: current.version + 1,
        last_modified: now,
        document: doc_text(doc)?,
        shadow: ShadowColumns::extract(kind, doc)?,
        ..current.clone()
    };
    diesel::update(
        resources::table
            .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
            .filter(resources::id.eq(&current.id)),
    )
    .set((
        &updated.shadow,
        resources::document.eq(&updated.document),
        resources::version.eq(updated.version),
        resources::last_modified.eq(now),
    ))
    .execute(conn)
    .map_err(map_write_error(kind, &updated.shadow, &ctx.tenant))?;
    replace_emails(conn, &ctx.tenant, &current.id, &emails_before, &emails)?;
    Ok(updated)
}

/// Removes user `user_id` from every group and moves each group's version; returns `(group id, new
/// version)` of each.
fn leave_all_groups(
    conn: &mut DbConnection,
    ctx: &WriteContext,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<(String, i64)>, StorageError> {
    let groups: Vec<String> = diesel::delete(
        group_members::table
            .filter(group_members::tenant_id.eq(ctx.tenant.as_str()))
            .filter(group_members::member_id.eq(user_id)),
    )
    .returning(group_members::group_id)
    .get_results(conn)?;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    // One statement for every group the user left (ids come from the delete above, at most the user's
    // own groups).
    Ok(diesel::update(
        resources::table
            .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
            .filter(resources::id.eq_any(&groups)),
    )
    .set(next_version(now))
    .returning((resources::id, resources::version))
    .get_results(conn)?)
}

/// The changes of a resource whose representation changed but not its document (its `members` or
/// `groups` did): a new version and `lastModified`, hence a new ETag.
type NextVersion = (
    diesel::dsl::Eq<resources::version, diesel::dsl::Add<resources::version, i64>>,
    diesel::dsl::Eq<resources::last_modified, NaiveDateTime>,
);

fn next_version(now: NaiveDateTime) -> NextVersion {
    (
        resources::version.eq(resources::version + 1),
        resources::last_modified.eq(now),
    )
}

/// Gives each listed user a new version and `lastModified`: its `groups` changed, so its representation
/// (and ETag) did. One statement per [`IN_CHUNK`] users; none without users.
fn touch_users<'a>(
    conn: &mut DbConnection,
    ctx: &WriteContext,
    user_ids: impl IntoIterator<Item = &'a str>,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let user_ids: Vec<&str> = user_ids.into_iter().collect();
    for chunk in user_ids.chunks(IN_CHUNK) {
        diesel::update(
            resources::table
                .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
                .filter(resources::resource_type.eq(ResourceKind::User.as_str()))
                .filter(resources::id.eq_any(chunk)),
        )
        .set(next_version(now))
        .execute(conn)?;
    }
    Ok(())
}

/// Before resource `id` is deleted: a new version for the groups it is a member of and for the users that
/// are its members, whose `members` / `groups` lose it.
fn touch_related(
    conn: &mut DbConnection,
    ctx: &WriteContext,
    id: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let tenant = ctx.tenant.as_str();
    let groups_of = group_members::table
        .filter(group_members::tenant_id.eq(tenant))
        .filter(group_members::member_id.eq(id))
        .select(group_members::group_id);
    let user_members = group_members::table
        .filter(group_members::tenant_id.eq(tenant))
        .filter(group_members::group_id.eq(id))
        .filter(group_members::member_type.eq(ResourceKind::User.as_str()))
        .select(group_members::member_id);
    diesel::update(
        resources::table.filter(resources::tenant_id.eq(tenant)).filter(
            resources::id
                .eq_any(groups_of)
                .or(resources::id.eq_any(user_members)),
        ),
    )
    .set(next_version(now))
    .execute(conn)?;
    Ok(())
}

//! Resource writes: create, modify (PATCH, and PUT through a closure) and delete, each one atomic
//! write (`Storage::write`) that appends one `events` row. Seeding many rows for tests and benchmarks is
//! in `testing.rs`.

use diesel::prelude::*;
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, ScimError};
use serde_json::Value;

use super::members::{add_members, apply_member_ops, expand_resources, members_only_for_groups};
use super::rows::{
    ResourceRow, RowLock, check_version, doc_text, insert_event, lock_resource, map_write_error, prepare_doc,
    row_to_stored,
};
use crate::error::StorageError;
use crate::schema::resources;
use crate::shadow_columns::ShadowColumns;
use crate::{Expand, Storage, StoredResource, WriteContext, from_db_time, to_db_time};

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
        let now = to_db_time(ctx.now);
        let row = ResourceRow::new(&ctx.tenant, kind, &doc, &shadow, now)?;
        let stored = self.write(|conn| {
            diesel::insert_into(resources::table)
                .values(&row)
                .execute(conn)
                .map_err(map_write_error(kind, &shadow, &ctx.tenant))?;
            let mut stored = row_to_stored(row.clone())?;
            if let Some(members) = members.filter(|_| kind == ResourceKind::Group) {
                add_members(conn, &ctx.tenant, &row.id, members)?;
                expand_resources(
                    conn,
                    &ctx.tenant,
                    std::slice::from_mut(&mut stored),
                    Expand {
                        members: true,
                        groups: false,
                    },
                )?;
            }
            if kind == ResourceKind::User {
                stored.groups = Some(Vec::new());
            }
            insert_event(conn, ctx, "create", kind, &row.id, 1)?;
            Ok(stored)
        })?;
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
        self.write(|conn| {
            let current = lock_resource(conn, &ctx.tenant, kind, id, RowLock::Update)?;
            check_version(kind, id.as_str(), current.version, expected_version)?;
            let before: Value = serde_json::from_str(&current.document)
                .map_err(|e| StorageError::corrupt(format!("document of {id}: {e}")))?;
            let mut doc = before.clone();
            let ops = modify(&mut doc)?;
            let doc = prepare_doc(doc)?;
            let doc_changed = Value::Object(doc.clone()) != before;
            let members_changed = apply_member_ops(conn, &ctx.tenant, kind, id.as_str(), &ops)?;
            if !doc_changed && !members_changed {
                return row_to_stored(current);
            }
            let version = current.version + 1;
            let target = resources::table
                .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
                .filter(resources::id.eq(id.as_str()));
            if doc_changed {
                let shadow = ShadowColumns::extract(kind, &doc)?;
                diesel::update(target)
                    .set((
                        &shadow,
                        resources::document.eq(doc_text(&doc)?),
                        resources::version.eq(version),
                        resources::last_modified.eq(now),
                    ))
                    .execute(conn)
                    .map_err(map_write_error(kind, &shadow, &ctx.tenant))?;
            } else {
                diesel::update(target)
                    .set((resources::version.eq(version), resources::last_modified.eq(now)))
                    .execute(conn)?;
            }
            insert_event(conn, ctx, "patch", kind, id.as_str(), version)?;
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
        })
    }

    /// Hard delete; memberships in both directions go with it (FK cascade). `NotFound`, `PreconditionFailed`.
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
            diesel::delete(
                resources::table
                    .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
                    .filter(resources::id.eq(id.as_str())),
            )
            .execute(conn)?;
            insert_event(conn, ctx, "delete", kind, id.as_str(), current.version)?;
            Ok(())
        })
    }
}

//! SCIM resources (Users and Groups), group memberships and the event log.
//!
//! Strategy:
//! - The document is stored as JSON text (without `id`, `meta`, `members`, `groups`); the attributes IdPs
//!   match on are copied into indexed shadow columns on every write ([`ShadowColumns::extract`]): lowercase
//!   `userName` (unique per tenant for Users), lowercase group `displayName` (unique per tenant, only
//!   filled for Groups: `group_name_lower`), lowercase `displayName`, `externalId`, `active` and the
//!   lowercase work email.
//! - Memberships live in `group_members`, never in the document, so a 100,000-member group is changed with
//!   targeted statements: an add is `INSERT ... SELECT` from `resources` (which both checks that the member
//!   exists in the tenant and takes its real type) with `ON CONFLICT DO NOTHING` (idempotent); a remove is a
//!   `DELETE ... IN (...)`. The member list is never loaded to change it.
//! - Every write is one transaction: `BEGIN IMMEDIATE` on SQLite; on PostgreSQL a row lock taken by the
//!   first read (`FOR NO KEY UPDATE` for replace/patch, `FOR UPDATE` for delete). `expected_version` is
//!   checked inside it. Each write appends one `events` row.
//! - Values storage cannot hold identically on both backends are refused up front with
//!   `Scim(InvalidValue)`: NUL characters (PostgreSQL text and jsonb reject them) and indexed values over
//!   [`MAX_INDEXED_BYTES`](crate::MAX_INDEXED_BYTES) (PostgreSQL b-tree entries are limited to about 2.7 kB).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, ScimError, TenantId};
use serde_json::{Map, Value};

use crate::connection::{DbConnection, Dialect, read_transaction};
use crate::error::{StorageError, Violation};
use crate::nul_checks::reject_nul;
use crate::schema::{events, group_members, resources};
use crate::shadow_columns::ShadowColumns;
use crate::sql::SqlFrag;
use crate::tenants::tenant_not_found;
use crate::{
    Expand, Reader, ResourcePage, ResourceQuery, Storage, StoredGroupRef, StoredMember, StoredResource,
    WriteContext, from_db_time, to_db_time,
};

/// Ids per `IN (...)` list, well below SQLite's bind limit.
const IN_CHUNK: usize = 500;

/// Document keys storage owns or computes; removed from a document before it is stored.
const SERVER_KEYS: [&str; 4] = ["id", "meta", "members", "groups"];

/// Every column of `resources`, for inserts and the locking read.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName, Insertable)]
#[diesel(table_name = resources)]
pub(crate) struct ResourceRow {
    pub tenant_id: String,
    pub id: String,
    pub resource_type: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub last_modified: NaiveDateTime,
    pub document: String,
    pub user_name: Option<String>,
    pub user_name_lower: Option<String>,
    pub display_name: Option<String>,
    pub display_name_lower: Option<String>,
    pub group_name_lower: Option<String>,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    pub work_email_lower: Option<String>,
}

/// What reads need to build a [`StoredResource`].
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = resources)]
pub(crate) struct ResourceHead {
    pub id: String,
    pub resource_type: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub last_modified: NaiveDateTime,
    pub document: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
struct NewEventRow<'a> {
    tenant_id: &'a str,
    occurred_at: NaiveDateTime,
    actor_token_id: Option<&'a str>,
    request_id: Option<&'a str>,
    operation: &'a str,
    resource_type: &'a str,
    resource_id: &'a str,
    version: i64,
}

#[derive(Debug, QueryableByName)]
struct GroupMemberRow {
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    member_type: String,
}

#[derive(Debug, QueryableByName)]
struct GroupJoinRow {
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    display_name: Option<String>,
}

#[derive(Debug, QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Checks and normalises a caller's document: an object, no NUL, server-owned keys removed.
fn prepare_doc(doc: Value) -> Result<Map<String, Value>, StorageError> {
    let Value::Object(mut map) = doc else {
        return Err(ScimError::InvalidSyntax("a resource must be a JSON object".to_owned()).into());
    };
    for key in SERVER_KEYS {
        map.remove(key);
    }
    let map_value = Value::Object(map);
    reject_nul(&map_value, "attribute values")?;
    match map_value {
        Value::Object(map) => Ok(map),
        _ => Err(StorageError::Internal("document changed shape".to_owned())),
    }
}

fn doc_text(doc: &Map<String, Value>) -> Result<String, StorageError> {
    serde_json::to_string(doc).map_err(|e| StorageError::Internal(format!("cannot serialize document: {e}")))
}

pub(crate) fn kind_from_db(text: &str) -> Result<ResourceKind, StorageError> {
    match text {
        "User" => Ok(ResourceKind::User),
        "Group" => Ok(ResourceKind::Group),
        other => Err(StorageError::corrupt(format!("resource type {other:?}"))),
    }
}

fn not_found(kind: ResourceKind, id: &str) -> StorageError {
    StorageError::NotFound(format!("{} {id} not found", kind.as_str()))
}

/// Words a unique violation on `resources` after the attribute it concerns.
fn uniqueness_error(kind: ResourceKind, shadow: &ShadowColumns, text: &str) -> StorageError {
    if text.contains("user_name") {
        StorageError::Uniqueness(format!(
            "userName {:?} already exists",
            shadow.user_name.as_deref().unwrap_or_default()
        ))
    } else if text.contains("group_name") {
        StorageError::Uniqueness(format!(
            "{} displayName {:?} already exists",
            kind.as_str(),
            shadow.display_name.as_deref().unwrap_or_default()
        ))
    } else {
        StorageError::Uniqueness(format!("the {} already exists", kind.as_str()))
    }
}

fn map_write_error(
    kind: ResourceKind,
    shadow: &ShadowColumns,
    tenant: &TenantId,
) -> impl FnOnce(diesel::result::Error) -> StorageError {
    move |e| {
        StorageError::from_diesel_with(e, |violation, text| match violation {
            Violation::Unique => uniqueness_error(kind, shadow, text),
            Violation::ForeignKey => tenant_not_found(tenant),
        })
    }
}

fn check_version(
    kind: ResourceKind,
    id: &str,
    current: i64,
    expected: Option<i64>,
) -> Result<(), StorageError> {
    match expected {
        Some(expected) if expected != current => Err(StorageError::PreconditionFailed(format!(
            "{} {id} is at version {current}, not {expected}",
            kind.as_str()
        ))),
        _ => Ok(()),
    }
}

fn head_to_stored(head: ResourceHead) -> Result<StoredResource, StorageError> {
    let doc: Value = serde_json::from_str(&head.document)
        .map_err(|e| StorageError::corrupt(format!("document of {}: {e}", head.id)))?;
    Ok(StoredResource {
        kind: kind_from_db(&head.resource_type)?,
        id: ResourceId::new(head.id),
        version: head.version,
        created: from_db_time(head.created_at),
        last_modified: from_db_time(head.last_modified),
        doc,
        members: None,
        groups: None,
    })
}

fn row_to_stored(row: ResourceRow) -> Result<StoredResource, StorageError> {
    head_to_stored(ResourceHead {
        id: row.id,
        resource_type: row.resource_type,
        version: row.version,
        created_at: row.created_at,
        last_modified: row.last_modified,
        document: row.document,
    })
}

/// How a write locks the row it read (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowLock {
    /// Replace/patch: `FOR NO KEY UPDATE`, which does not block the `FOR KEY SHARE` locks that foreign-key
    /// checks of concurrent member inserts take on this row (so two groups adding each other cannot
    /// deadlock).
    Update,
    /// Delete: `FOR UPDATE`.
    Delete,
}

/// Reads the resource and, on PostgreSQL, locks its row until the transaction ends.
fn lock_resource(
    conn: &mut DbConnection,
    tenant: &TenantId,
    kind: ResourceKind,
    id: &ResourceId,
    lock: RowLock,
) -> Result<ResourceRow, StorageError> {
    let mut query = SqlFrag::<Text>::new()
        .sql("SELECT * FROM resources WHERE tenant_id = ")
        .text(tenant.as_str())
        .sql(" AND resource_type = ")
        .text(kind.as_str())
        .sql(" AND id = ")
        .text(id.as_str());
    if conn.dialect() == Dialect::Postgres {
        query = query.sql(match lock {
            RowLock::Update => " FOR NO KEY UPDATE",
            RowLock::Delete => " FOR UPDATE",
        });
    }
    let rows: Vec<ResourceRow> = query.cacheable().into_query().load(conn)?;
    rows.into_iter()
        .next()
        .ok_or_else(|| not_found(kind, id.as_str()))
}

fn insert_event(
    conn: &mut DbConnection,
    ctx: &WriteContext,
    operation: &str,
    kind: ResourceKind,
    id: &str,
    version: i64,
) -> Result<(), StorageError> {
    diesel::insert_into(events::table)
        .values(NewEventRow {
            tenant_id: ctx.tenant.as_str(),
            occurred_at: to_db_time(ctx.now),
            actor_token_id: ctx.actor_token_id.as_deref(),
            request_id: ctx.request_id.as_deref(),
            operation,
            resource_type: kind.as_str(),
            resource_id: id,
            version,
        })
        .execute(conn)?;
    Ok(())
}

/// Adds members one targeted statement each; returns whether any row was inserted.
fn add_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    members: &[MemberRef],
) -> Result<bool, StorageError> {
    let mut changed = false;
    for member in members {
        let member_id = member.value.as_str();
        if member_id == group_id {
            return Err(StorageError::InvalidReference(format!(
                "group {group_id} cannot be a member of itself"
            )));
        }
        // The member's real type comes from its row; a member_type sent by the client is not trusted.
        let inserted = SqlFrag::<Text>::new()
            .sql(
                "INSERT INTO group_members (tenant_id, group_id, member_id, member_type) \
                 SELECT r.tenant_id, ",
            )
            .text(group_id)
            .sql(", r.id, r.resource_type FROM resources r WHERE r.tenant_id = ")
            .text(tenant.as_str())
            .sql(" AND r.id = ")
            .text(member_id)
            .sql(" ON CONFLICT DO NOTHING")
            .cacheable()
            .into_query()
            .execute(conn)
            .map_err(|e| {
                StorageError::from_diesel_with(e, |_, _| {
                    StorageError::InvalidReference(format!("member {member_id} does not exist"))
                })
            })?;
        if inserted > 0 {
            changed = true;
            continue;
        }
        // Nothing inserted: already a member (fine) or no such resource in the tenant.
        let exists: Vec<CountRow> = SqlFrag::<Text>::new()
            .sql("SELECT COUNT(*) AS n FROM resources WHERE tenant_id = ")
            .text(tenant.as_str())
            .sql(" AND id = ")
            .text(member_id)
            .cacheable()
            .into_query()
            .load(conn)?;
        if exists.first().is_none_or(|c| c.n == 0) {
            return Err(StorageError::InvalidReference(format!(
                "member {member_id} does not exist in tenant {tenant}"
            )));
        }
    }
    Ok(changed)
}

fn remove_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    ids: &[ResourceId],
) -> Result<bool, StorageError> {
    let mut removed = 0;
    for chunk in ids.chunks(IN_CHUNK) {
        removed += diesel::delete(
            group_members::table
                .filter(group_members::tenant_id.eq(tenant.as_str()))
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq_any(chunk.iter().map(ResourceId::as_str))),
        )
        .execute(conn)?;
    }
    Ok(removed > 0)
}

fn remove_all_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<bool, StorageError> {
    let removed = diesel::delete(
        group_members::table
            .filter(group_members::tenant_id.eq(tenant.as_str()))
            .filter(group_members::group_id.eq(group_id)),
    )
    .execute(conn)?;
    Ok(removed > 0)
}

fn apply_member_ops(
    conn: &mut DbConnection,
    tenant: &TenantId,
    kind: ResourceKind,
    group_id: &str,
    ops: &[MemberOp],
) -> Result<bool, StorageError> {
    if ops.is_empty() {
        return Ok(false);
    }
    if kind != ResourceKind::Group {
        return Err(ScimError::InvalidPath("members is only defined for Groups".to_owned()).into());
    }
    let mut changed = false;
    for op in ops {
        changed |= match op {
            MemberOp::Add(members) => add_members(conn, tenant, group_id, members)?,
            MemberOp::Remove(ids) => remove_members(conn, tenant, group_id, ids)?,
            MemberOp::RemoveAll => remove_all_members(conn, tenant, group_id)?,
            MemberOp::ReplaceAll(members) => {
                let removed = remove_all_members(conn, tenant, group_id)?;
                let added = add_members(conn, tenant, group_id, members)?;
                removed | added
            }
        };
    }
    Ok(changed)
}

fn members_only_for_groups(kind: ResourceKind, members: Option<&[MemberRef]>) -> Result<(), StorageError> {
    if kind == ResourceKind::User && members.is_some_and(|m| !m.is_empty()) {
        return Err(ScimError::InvalidValue("members is only defined for Groups".to_owned()).into());
    }
    Ok(())
}

/// Members of each group in `group_ids` (ordered by member id). Read from `group_members` alone: the
/// member's `display` is not returned (it is optional in RFC 7643 §4.2), so no join per member is needed.
fn load_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_ids: &[&str],
) -> Result<HashMap<String, Vec<StoredMember>>, StorageError> {
    let mut out: HashMap<String, Vec<StoredMember>> = HashMap::new();
    for chunk in group_ids.chunks(IN_CHUNK) {
        let rows: Vec<GroupMemberRow> = SqlFrag::<Text>::new()
            .sql("SELECT gm.group_id, gm.member_id, gm.member_type FROM group_members gm WHERE gm.tenant_id = ")
            .text(tenant.as_str())
            .sql(" AND gm.group_id IN ")
            .text_list(chunk)
            .sql(" ORDER BY gm.group_id, gm.member_id")
            .cacheable()
            .into_query()
            .load(conn)?;
        for row in rows {
            out.entry(row.group_id).or_default().push(StoredMember {
                value: ResourceId::new(row.member_id),
                member_type: row.member_type,
            });
        }
    }
    Ok(out)
}

/// Direct groups of each user in `user_ids` (ordered by group id).
fn load_groups(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<StoredGroupRef>>, StorageError> {
    let mut out: HashMap<String, Vec<StoredGroupRef>> = HashMap::new();
    for chunk in user_ids.chunks(IN_CHUNK) {
        let rows: Vec<GroupJoinRow> = SqlFrag::<Text>::new()
            .sql(
                "SELECT gm.member_id, gm.group_id, r.display_name \
                 FROM group_members gm JOIN resources r ON r.tenant_id = gm.tenant_id AND r.id = gm.group_id \
                 WHERE gm.tenant_id = ",
            )
            .text(tenant.as_str())
            .sql(" AND gm.member_id IN ")
            .text_list(chunk)
            .sql(" ORDER BY gm.member_id, gm.group_id")
            .cacheable()
            .into_query()
            .load(conn)?;
        for row in rows {
            out.entry(row.member_id).or_default().push(StoredGroupRef {
                value: ResourceId::new(row.group_id),
                display: row.display_name,
            });
        }
    }
    Ok(out)
}

/// Fills `members` / `groups` of the given resources as `expand` asks.
fn expand_resources(
    conn: &mut DbConnection,
    tenant: &TenantId,
    list: &mut [StoredResource],
    expand: Expand,
) -> Result<(), StorageError> {
    if expand.members {
        let ids: Vec<&str> = list
            .iter()
            .filter(|r| r.kind == ResourceKind::Group)
            .map(|r| r.id.as_str())
            .collect();
        if !ids.is_empty() {
            let mut members = load_members(conn, tenant, &ids)?;
            for r in list.iter_mut().filter(|r| r.kind == ResourceKind::Group) {
                r.members = Some(members.remove(r.id.as_str()).unwrap_or_default());
            }
        }
    }
    if expand.groups {
        let ids: Vec<&str> = list
            .iter()
            .filter(|r| r.kind == ResourceKind::User)
            .map(|r| r.id.as_str())
            .collect();
        if !ids.is_empty() {
            let mut groups = load_groups(conn, tenant, &ids)?;
            for r in list.iter_mut().filter(|r| r.kind == ResourceKind::User) {
                r.groups = Some(groups.remove(r.id.as_str()).unwrap_or_default());
            }
        }
    }
    Ok(())
}

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
        let row = ResourceRow {
            tenant_id: ctx.tenant.as_str().to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            resource_type: kind.as_str().to_owned(),
            version: 1,
            created_at: now,
            last_modified: now,
            document: doc_text(&doc)?,
            user_name: shadow.user_name.clone(),
            user_name_lower: shadow.user_name_lower.clone(),
            display_name: shadow.display_name.clone(),
            display_name_lower: shadow.display_name_lower.clone(),
            group_name_lower: shadow.group_name_lower.clone(),
            external_id: shadow.external_id.clone(),
            active: shadow.active,
            work_email_lower: shadow.work_email_lower.clone(),
        };
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

    /// The resource (of this kind, in this tenant), with members/groups as `expand` asks; `NotFound`.
    pub fn get_resource(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &ResourceId,
        expand: Expand,
    ) -> Result<StoredResource, StorageError> {
        self.reader()?.get_resource(tenant, kind, id, expand)
    }

    /// Replaces the document (PUT); with `members: Some`, replaces the whole member list. Bumps the version.
    /// Returns members (when given) or groups (Users) expanded.
    pub fn replace_resource(
        &self,
        ctx: &WriteContext,
        kind: ResourceKind,
        id: &ResourceId,
        expected_version: Option<i64>,
        doc: Value,
        members: Option<&[MemberRef]>,
    ) -> Result<StoredResource, StorageError> {
        members_only_for_groups(kind, members)?;
        let doc = prepare_doc(doc)?;
        let shadow = ShadowColumns::extract(kind, &doc)?;
        let text = doc_text(&doc)?;
        let now = to_db_time(ctx.now);
        self.write(|conn| {
            let current = lock_resource(conn, &ctx.tenant, kind, id, RowLock::Update)?;
            check_version(kind, id.as_str(), current.version, expected_version)?;
            let version = current.version + 1;
            diesel::update(
                resources::table
                    .filter(resources::tenant_id.eq(ctx.tenant.as_str()))
                    .filter(resources::id.eq(id.as_str())),
            )
            .set((
                &shadow,
                resources::document.eq(&text),
                resources::version.eq(version),
                resources::last_modified.eq(now),
            ))
            .execute(conn)
            .map_err(map_write_error(kind, &shadow, &ctx.tenant))?;
            if let Some(members) = members.filter(|_| kind == ResourceKind::Group) {
                remove_all_members(conn, &ctx.tenant, id.as_str())?;
                add_members(conn, &ctx.tenant, id.as_str(), members)?;
            }
            insert_event(conn, ctx, "replace", kind, id.as_str(), version)?;
            let mut stored = StoredResource {
                id: id.clone(),
                kind,
                version,
                created: from_db_time(current.created_at),
                last_modified: from_db_time(now),
                doc: Value::Object(doc.clone()),
                members: None,
                groups: None,
            };
            let expand = Expand {
                members: members.is_some(),
                groups: true,
            };
            expand_resources(conn, &ctx.tenant, std::slice::from_mut(&mut stored), expand)?;
            Ok(stored)
        })
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

    /// A filtered, sorted page and the total count, both computed in SQL from one snapshot.
    pub fn query_resources(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ResourceQuery,
    ) -> Result<ResourcePage, StorageError> {
        self.reader()?.query_resources(tenant, kind, query)
    }
}

/// Reads, on a connection the caller checked out ([`Storage::reader`], [`Storage::quick_reader`]).
impl Reader {
    /// The resource (of this kind, in this tenant), with members/groups as `expand` asks; `NotFound`.
    pub fn get_resource(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &ResourceId,
        expand: Expand,
    ) -> Result<StoredResource, StorageError> {
        let conn = &mut *self.conn;
        let body = |conn: &mut DbConnection| {
            let head = resources::table
                .filter(resources::tenant_id.eq(tenant.as_str()))
                .filter(resources::resource_type.eq(kind.as_str()))
                .filter(resources::id.eq(id.as_str()))
                .select(ResourceHead::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| not_found(kind, id.as_str()))?;
            let mut stored = head_to_stored(head)?;
            expand_resources(conn, tenant, std::slice::from_mut(&mut stored), expand)?;
            Ok(stored)
        };
        let needs_snapshot =
            (expand.members && kind == ResourceKind::Group) || (expand.groups && kind == ResourceKind::User);
        if needs_snapshot {
            read_transaction(conn, body)
        } else {
            body(conn)
        }
    }

    /// A filtered, sorted page and the total count, both computed in SQL from one snapshot.
    pub fn query_resources(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ResourceQuery,
    ) -> Result<ResourcePage, StorageError> {
        read_transaction(&mut self.conn, |conn| {
            let dialect = conn.dialect();
            let condition = query
                .filter
                .as_ref()
                .map(|f| crate::filter_sql::compile(dialect, kind, f))
                .transpose()?;
            let base = || {
                resources::table
                    .filter(resources::tenant_id.eq(tenant.as_str()))
                    .filter(resources::resource_type.eq(kind.as_str()))
                    .into_boxed()
            };
            let count_matches = |conn: &mut DbConnection| {
                let mut count_query = base();
                if let Some(c) = condition.clone() {
                    count_query = count_query.filter(c);
                }
                count_query.count().get_result::<i64>(conn)
            };
            if query.count == 0 {
                let total = count_matches(conn)?;
                return Ok(ResourcePage {
                    total_results: u64::try_from(total).unwrap_or_default(),
                    resources: Vec::new(),
                });
            }
            let mut page = base().select(ResourceHead::as_select());
            if let Some(c) = condition.clone() {
                page = page.filter(c);
            }
            page = match &query.sort_by {
                Some(path) => page
                    .order(crate::filter_sql::sort_key(
                        dialect,
                        kind,
                        path,
                        query.descending,
                    )?)
                    .then_order_by(resources::created_at.asc())
                    .then_order_by(resources::id.asc()),
                None => page
                    .order(resources::created_at.asc())
                    .then_order_by(resources::id.asc()),
            };
            let limit = i64::try_from(query.count).unwrap_or(i64::MAX);
            let offset = i64::try_from(query.start_index.saturating_sub(1)).unwrap_or(i64::MAX);
            let heads = page.limit(limit).offset(offset).load(conn)?;
            // A first page that is not full holds every match: its length is the total, and the COUNT
            // query is skipped. This is the common case of IdP lookups (`userName eq ...`).
            let page_len = u64::try_from(heads.len()).unwrap_or(u64::MAX);
            let total_results = if offset == 0 && page_len < query.count {
                page_len
            } else {
                u64::try_from(count_matches(conn)?).unwrap_or_default()
            };
            let mut list = heads
                .into_iter()
                .map(head_to_stored)
                .collect::<Result<Vec<_>, _>>()?;
            expand_resources(conn, tenant, &mut list, query.expand)?;
            Ok(ResourcePage {
                total_results,
                resources: list,
            })
        })
    }
}

/// Bulk helpers for tests and benchmarks only: seed many rows quickly in one transaction.
#[cfg(feature = "testing")]
impl Storage {
    /// Inserts `count` users named `{prefix}{n}` in one transaction with multi-row inserts; returns their ids.
    pub fn bulk_insert_users(
        &self,
        ctx: &WriteContext,
        prefix: &str,
        count: usize,
    ) -> Result<Vec<ResourceId>, StorageError> {
        let now = to_db_time(ctx.now);
        let mut rows = Vec::with_capacity(count);
        for n in 0..count {
            let user_name = format!("{prefix}{n}");
            let doc = serde_json::json!({
                "schemas": [scim_core::schema::USER_SCHEMA],
                "userName": user_name,
                "displayName": format!("User {n}"),
                "active": true,
                "emails": [{"type": "work", "value": format!("{user_name}@example.com"), "primary": true}],
            });
            let doc = prepare_doc(doc)?;
            let shadow = ShadowColumns::extract(ResourceKind::User, &doc)?;
            rows.push(ResourceRow {
                tenant_id: ctx.tenant.as_str().to_owned(),
                id: uuid::Uuid::new_v4().to_string(),
                resource_type: "User".to_owned(),
                version: 1,
                created_at: now,
                last_modified: now,
                document: doc_text(&doc)?,
                user_name: shadow.user_name,
                user_name_lower: shadow.user_name_lower,
                display_name: shadow.display_name,
                display_name_lower: shadow.display_name_lower,
                group_name_lower: shadow.group_name_lower,
                external_id: shadow.external_id,
                active: shadow.active,
                work_email_lower: shadow.work_email_lower,
            });
        }
        self.write(|conn| {
            for chunk in rows.chunks(1000) {
                // Multi-row inserts do not go through MultiBackend: run them on the inner connection.
                crate::connection::on_inner!(conn, |c| diesel::insert_into(resources::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(())
        })?;
        Ok(rows.into_iter().map(|r| ResourceId::new(r.id)).collect())
    }

    /// Adds existing users of the tenant to a group in one transaction with multi-row inserts.
    pub fn bulk_add_members(
        &self,
        tenant: &TenantId,
        group: &ResourceId,
        user_ids: &[ResourceId],
    ) -> Result<(), StorageError> {
        #[derive(Insertable)]
        #[diesel(table_name = group_members)]
        struct MemberRow<'a> {
            tenant_id: &'a str,
            group_id: &'a str,
            member_id: &'a str,
            member_type: &'a str,
        }
        let rows: Vec<MemberRow<'_>> = user_ids
            .iter()
            .map(|id| MemberRow {
                tenant_id: tenant.as_str(),
                group_id: group.as_str(),
                member_id: id.as_str(),
                member_type: "User",
            })
            .collect();
        self.write(|conn| {
            for chunk in rows.chunks(5000) {
                crate::connection::on_inner!(conn, |c| diesel::insert_into(group_members::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_refused_anywhere_in_a_document() {
        assert!(prepare_doc(json!({"userName": "a\u{0}b"})).is_err());
        assert!(prepare_doc(json!({"x": [{"k\u{0}": 1}]})).is_err());
        let doc = prepare_doc(json!({"userName": "a", "id": "x", "meta": {}, "members": []})).unwrap();
        assert_eq!(Value::Object(doc), json!({"userName": "a"}));
    }
}

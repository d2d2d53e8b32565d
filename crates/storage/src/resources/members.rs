//! Group memberships: the targeted statements that change them and the batched reads that expand them.
//!
//! Memberships live in `group_members`, never in the document, so a 100,000-member group is changed
//! without loading its member list: an add is `INSERT ... SELECT` from `resources` (which both checks that
//! the member exists in the tenant and takes its real type) with `ON CONFLICT DO NOTHING` (idempotent); a
//! remove is a `DELETE ... IN (...)`. Reads that expand `members` or `groups` load them for a whole page
//! at once, in `IN` lists of at most [`IN_CHUNK`] ids.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{Nullable, Text};
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, ScimError, TenantId};

use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::schema::group_members;
use crate::sql::{RawQuery, SqlFrag};
use crate::{Expand, StoredGroupRef, StoredMember, StoredResource};

/// Ids per `IN (...)` list, well below SQLite's bind limit.
const IN_CHUNK: usize = 500;

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

/// Adds members one targeted statement each; returns whether any row was inserted.
pub(super) fn add_members(
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

pub(super) fn remove_all_members(
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

pub(super) fn apply_member_ops(
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

pub(super) fn members_only_for_groups(
    kind: ResourceKind,
    members: Option<&[MemberRef]>,
) -> Result<(), StorageError> {
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
    let sql = InListSql {
        select_where_tenant: "SELECT gm.group_id, gm.member_id, gm.member_type FROM group_members gm \
             WHERE gm.tenant_id = ",
        and_id_in: " AND gm.group_id IN ",
        order_by: " ORDER BY gm.group_id, gm.member_id",
    };
    load_in_chunks(conn, tenant, group_ids, &sql, |row: GroupMemberRow| {
        let member = StoredMember {
            value: ResourceId::new(row.member_id),
            member_type: row.member_type,
        };
        (row.group_id, member)
    })
}

/// Direct groups of each user in `user_ids` (ordered by group id).
fn load_groups(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<StoredGroupRef>>, StorageError> {
    let sql = InListSql {
        select_where_tenant: "SELECT gm.member_id, gm.group_id, r.display_name \
             FROM group_members gm JOIN resources r ON r.tenant_id = gm.tenant_id AND r.id = gm.group_id \
             WHERE gm.tenant_id = ",
        and_id_in: " AND gm.member_id IN ",
        order_by: " ORDER BY gm.member_id, gm.group_id",
    };
    load_in_chunks(conn, tenant, user_ids, &sql, |row: GroupJoinRow| {
        let group = StoredGroupRef {
            value: ResourceId::new(row.group_id),
            display: row.display_name,
        };
        (row.member_id, group)
    })
}

/// The constant text of a lookup by a list of ids: `select_where_tenant`, the tenant (bound), `and_id_in`,
/// the `IN` list (bound), `order_by`.
struct InListSql {
    select_where_tenant: &'static str,
    and_id_in: &'static str,
    order_by: &'static str,
}

/// Runs `sql` for `ids`, [`IN_CHUNK`] ids per statement, and groups the rows by the id each belongs to
/// (the key `entry` returns), in the order the statements return them. The statements are cached:
/// their text is constant apart from the `IN` list, which [`SqlFrag::text_list`] pads to a power-of-two
/// length. No ids, no statement.
fn load_in_chunks<Row, Item>(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[&str],
    sql: &InListSql,
    entry: impl Fn(Row) -> (String, Item),
) -> Result<HashMap<String, Vec<Item>>, StorageError>
where
    RawQuery: LoadQuery<'static, DbConnection, Row>,
{
    let mut out: HashMap<String, Vec<Item>> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let rows: Vec<Row> = SqlFrag::<Text>::new()
            .sql(sql.select_where_tenant)
            .text(tenant.as_str())
            .sql(sql.and_id_in)
            .text_list(chunk)
            .sql(sql.order_by)
            .cacheable()
            .into_query()
            .load(conn)?;
        for row in rows {
            let (id, item) = entry(row);
            out.entry(id).or_default().push(item);
        }
    }
    Ok(out)
}

/// Fills `members` / `groups` of the given resources as `expand` asks.
pub(super) fn expand_resources(
    conn: &mut DbConnection,
    tenant: &TenantId,
    list: &mut [StoredResource],
    expand: Expand,
) -> Result<(), StorageError> {
    if expand.members {
        let mut members = load_members(conn, tenant, &ids_of_kind(list, ResourceKind::Group))?;
        for r in list.iter_mut().filter(|r| r.kind == ResourceKind::Group) {
            r.members = Some(members.remove(r.id.as_str()).unwrap_or_default());
        }
    }
    if expand.groups {
        let mut groups = load_groups(conn, tenant, &ids_of_kind(list, ResourceKind::User))?;
        for r in list.iter_mut().filter(|r| r.kind == ResourceKind::User) {
            r.groups = Some(groups.remove(r.id.as_str()).unwrap_or_default());
        }
    }
    Ok(())
}

fn ids_of_kind(list: &[StoredResource], kind: ResourceKind) -> Vec<&str> {
    list.iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.id.as_str())
        .collect()
}

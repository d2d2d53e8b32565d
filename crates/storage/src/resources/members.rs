//! Group memberships: the targeted statements that change them and the batched reads that expand them.
//!
//! Memberships live in `group_members`, never in the document, so a 100,000-member group is changed
//! without loading its member list: an add is `INSERT ... SELECT` from `resources` (which both checks that
//! the member exists in the tenant and takes its real type) with `ON CONFLICT DO NOTHING` (idempotent); a
//! remove is a `DELETE ... IN (...)`. Reads that expand `members` or `groups` load them for a whole page
//! at once, in `IN` lists of at most [`IN_CHUNK`] ids.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, ScimError, TenantId};

use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::schema::group_members;
use crate::sql::SqlFrag;
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
pub(super) fn expand_resources(
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

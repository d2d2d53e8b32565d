//! Group memberships: the targeted statements that change them and the batched reads that expand them.
//!
//! Memberships live in `group_members`, never in the document, so a 100,000-member group is changed
//! without loading its member list: an add is `INSERT ... SELECT` from `resources` (which both checks that
//! the member exists in the tenant and takes its real type) with `ON CONFLICT DO NOTHING` (idempotent); a
//! remove is a `DELETE ... IN (...)`. Both return the rows they actually changed (`RETURNING`), which
//! [`MemberDeltas`] nets into the change feed's member events. Reads that expand `members` or `groups` load them for a whole page
//! at once, in `IN` lists of at most [`IN_CHUNK`] ids.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{Nullable, Text};
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, ScimError, TenantId};

use crate::connection::{DbConnection, Dialect};
use crate::error::StorageError;
use crate::schema::group_members;
use crate::sql::{RawQuery, SqlFrag};
use crate::{StoredGroupRef, StoredMember, StoredResource};

/// Ids per `IN (...)` list, well below SQLite's bind limit.
pub(super) const IN_CHUNK: usize = 500;

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
/// A membership row's member (also what `INSERT ... RETURNING` gives back).
struct ChangedMemberRow {
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    member_type: String,
}

/// Whether a membership was added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberChange {
    Added,
    Removed,
}

/// The net membership changes of one write, by member id: a member removed and added again by the same
/// write (a PUT that keeps it) is no change at all.
#[derive(Debug, Default)]
pub(crate) struct MemberDeltas {
    net: BTreeMap<String, (MemberChange, String)>,
}

impl MemberDeltas {
    fn record(&mut self, change: MemberChange, member_id: String, member_type: String) {
        match self.net.entry(member_id) {
            Entry::Occupied(entry) if entry.get().0 != change => {
                entry.remove();
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(entry) => {
                entry.insert((change, member_type));
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.net.is_empty()
    }

    /// The users whose membership changed (their `groups` did).
    pub(crate) fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.net
            .iter()
            .filter(|(_, (_, kind))| kind == ResourceKind::User.as_str())
            .map(|(id, _)| id.as_str())
    }

    /// `(member id, member type, change)` in member id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, MemberChange)> {
        self.net
            .iter()
            .map(|(id, (change, kind))| (id.as_str(), kind.as_str(), *change))
    }
}

#[derive(Debug, QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Adds members one targeted statement each, recording the memberships actually inserted.
pub(super) fn add_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    members: &[MemberRef],
    deltas: &mut MemberDeltas,
) -> Result<(), StorageError> {
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
            .sql(" ON CONFLICT DO NOTHING RETURNING member_id, member_type")
            .cacheable()
            .into_query()
            .load::<ChangedMemberRow>(conn)
            .map_err(|e| {
                StorageError::from_diesel_with(e, |_, _| {
                    StorageError::InvalidReference(format!("member {member_id} does not exist"))
                })
            })?;
        if let Some(row) = inserted.into_iter().next() {
            deltas.record(MemberChange::Added, row.member_id, row.member_type);
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
    Ok(())
}

/// Removes the listed members (`None`: every member), recording the memberships actually deleted.
fn remove_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    ids: Option<&[ResourceId]>,
    deltas: &mut MemberDeltas,
) -> Result<(), StorageError> {
    let of_group = group_members::table
        .filter(group_members::tenant_id.eq(tenant.as_str()))
        .filter(group_members::group_id.eq(group_id));
    let returning = (group_members::member_id, group_members::member_type);
    let removed: Vec<(String, String)> = match ids {
        None => diesel::delete(of_group).returning(returning).get_results(conn)?,
        Some(ids) => {
            let mut removed = Vec::new();
            for chunk in ids.chunks(IN_CHUNK) {
                removed.extend(
                    diesel::delete(
                        of_group
                            .filter(group_members::member_id.eq_any(chunk.iter().map(ResourceId::as_str))),
                    )
                    .returning(returning)
                    .get_results::<(String, String)>(conn)?,
                );
            }
            removed
        }
    };
    for (member_id, member_type) in removed {
        deltas.record(MemberChange::Removed, member_id, member_type);
    }
    Ok(())
}

/// Applies a write's member operations in order and returns their net changes.
pub(super) fn apply_member_ops(
    conn: &mut DbConnection,
    tenant: &TenantId,
    kind: ResourceKind,
    group_id: &str,
    ops: &[MemberOp],
) -> Result<MemberDeltas, StorageError> {
    let mut deltas = MemberDeltas::default();
    if ops.is_empty() {
        return Ok(deltas);
    }
    if kind != ResourceKind::Group {
        return Err(ScimError::InvalidPath("members is only defined for Groups".to_owned()).into());
    }
    for op in ops {
        match op {
            MemberOp::Add(members) => add_members(conn, tenant, group_id, members, &mut deltas)?,
            MemberOp::Remove(ids) => remove_members(conn, tenant, group_id, Some(ids), &mut deltas)?,
            MemberOp::RemoveAll => remove_members(conn, tenant, group_id, None, &mut deltas)?,
            MemberOp::ReplaceAll(members) => {
                remove_members(conn, tenant, group_id, None, &mut deltas)?;
                add_members(conn, tenant, group_id, members, &mut deltas)?;
            }
        }
    }
    Ok(deltas)
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

/// Up to `limit` members of group `group_id` after member id `after` (`""` for the first page), in member
/// id order: one range of the primary key, so a 100,000-member group is read in pages of bounded size.
pub(super) fn member_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<StoredMember>, StorageError> {
    let rows: Vec<ChangedMemberRow> = SqlFrag::<Text>::new()
        .sql("SELECT member_id, member_type FROM group_members WHERE tenant_id = ")
        .text(tenant.as_str())
        .sql(" AND group_id = ")
        .text(group_id)
        .sql(" AND member_id > ")
        .text(after)
        .sql(" ORDER BY member_id LIMIT ")
        .bind(crate::sql::BindValue::BigInt(
            i64::try_from(limit).unwrap_or(i64::MAX),
        ))
        .cacheable()
        .into_query()
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| StoredMember {
            value: ResourceId::new(row.member_id),
            member_type: row.member_type,
        })
        .collect())
}

/// A user's direct groups as one column of the statement that reads the user: a JSON array of
/// `[group id, display name]` pairs (SQLite `[]`, PostgreSQL NULL for none), read from the reverse index
/// of `group_members` for each row returned. So a user lookup with its `groups` is one statement and one
/// round trip, with no snapshot needed to make two reads agree. `NULL` when the groups are not wanted.
/// Constant text, so the statement's preparation is cached.
pub(super) fn groups_column(dialect: Dialect, wanted: bool) -> SqlFrag<Nullable<Text>> {
    SqlFrag::new().sql(groups_column_sql(dialect, wanted)).cacheable()
}

fn groups_column_sql(dialect: Dialect, wanted: bool) -> &'static str {
    match (wanted, dialect) {
        (false, _) => "NULL",
        (true, Dialect::Sqlite) => {
            "(SELECT json_group_array(json_array(gm.group_id, g.display_name))              FROM group_members gm JOIN resources g ON g.tenant_id = gm.tenant_id AND g.id = gm.group_id              WHERE gm.tenant_id = resources.tenant_id AND gm.member_id = resources.id)"
        }
        (true, Dialect::Postgres) => {
            "(SELECT json_agg(json_build_array(gm.group_id, g.display_name))::text              FROM group_members gm JOIN resources g ON g.tenant_id = gm.tenant_id AND g.id = gm.group_id              WHERE gm.tenant_id = resources.tenant_id AND gm.member_id = resources.id)"
        }
    }
}

/// The groups [`groups_column`] read, in group id order.
pub(super) fn parse_groups(column: Option<&str>) -> Result<Vec<StoredGroupRef>, StorageError> {
    let Some(text) = column else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(String, Option<String>)> = serde_json::from_str(text)
        .map_err(|e| StorageError::corrupt(format!("groups column {text:?}: {e}")))?;
    let mut groups: Vec<StoredGroupRef> = pairs
        .into_iter()
        .map(|(id, display)| StoredGroupRef {
            value: ResourceId::new(id),
            display,
        })
        .collect();
    groups.sort_by(|a, b| a.value.as_str().cmp(b.value.as_str()));
    Ok(groups)
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

/// Fills `members` of the given groups (a user's `groups` are a column of the query that reads it,
/// [`groups_column`]).
pub(super) fn expand_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    list: &mut [StoredResource],
) -> Result<(), StorageError> {
    let mut members = load_members(conn, tenant, &ids_of_kind(list, ResourceKind::Group))?;
    for r in list.iter_mut().filter(|r| r.kind == ResourceKind::Group) {
        r.members = Some(members.remove(r.id.as_str()).unwrap_or_default());
    }
    Ok(())
}

fn ids_of_kind(list: &[StoredResource], kind: ResourceKind) -> Vec<&str> {
    list.iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.id.as_str())
        .collect()
}

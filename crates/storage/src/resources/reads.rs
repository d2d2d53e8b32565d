//! Resource reads: one resource by id, or a filtered, sorted page, with `members` / `groups` expanded as
//! asked. Filters and sort keys are compiled to SQL by `filter_sql`.
//!
//! An IdP's lookup (`GET /Users/{id}`, `userName eq ...`) is one statement, so one round trip on
//! PostgreSQL: a user's `groups` are a column of it (`members::groups_column`), and no transaction is
//! opened around it. A group's members are read separately, a page at a time (`member_page`).
//!
//! Pages start at an offset (`startIndex`) or after a position (keyset, for RFC 9865 cursors). A keyset
//! page is `created_at >= c AND (created_at > c OR id > i)` in `(created_at, id)` order: the first
//! conjunct is a range bound on the `(tenant_id, resource_type, created_at, id)` index on both backends
//! (a row-value or a bare `OR` comparison is not reliably turned into one), the second drops the few
//! rows at `c` up to `i`. So every page is one index range scan, and a full walk reads each row once.

use diesel::prelude::*;
use scim_core::{ResourceId, ResourceKind, TenantId};

use super::members::{expand_members, groups_column, member_page, parse_groups};
use super::rows::{ResourceHead, head_to_stored, not_found};
use crate::connection::{DbConnection, Dialect, sqlite_time_limit};
use crate::error::StorageError;
use crate::schema::resources;
use crate::{
    Expand, ListPosition, PageStart, Reader, ResourcePage, ResourceQuery, Storage, StoredMember,
    StoredResource, to_db_time,
};

impl Storage {
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

    /// A filtered, sorted page and the total count, computed in SQL.
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
        let with_groups = expand.groups && kind == ResourceKind::User;
        let (head, groups) = resources::table
            .filter(resources::tenant_id.eq(tenant.as_str()))
            .filter(resources::resource_type.eq(kind.as_str()))
            .filter(resources::id.eq(id.as_str()))
            .select((
                ResourceHead::as_select(),
                groups_column(conn.dialect(), with_groups),
            ))
            .first::<(ResourceHead, Option<String>)>(conn)
            .optional()?
            .ok_or_else(|| not_found(kind, id.as_str()))?;
        let mut stored = head_to_stored(head)?;
        if with_groups {
            stored.groups = Some(parse_groups(groups.as_deref())?);
        }
        if expand.members && kind == ResourceKind::Group {
            // Whole member lists are for storage's own callers (a created group, tests); responses
            // stream them with `member_page`.
            expand_members(conn, tenant, std::slice::from_mut(&mut stored))?;
        }
        Ok(stored)
    }

    /// Up to `limit` members of a group after member id `after` (`""` to start), in member id order: how
    /// responses stream a group's members without holding them all. An unknown group has none.
    pub fn member_page(
        &mut self,
        tenant: &TenantId,
        group: &ResourceId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<StoredMember>, StorageError> {
        member_page(&mut self.conn, tenant, group.as_str(), after, limit)
    }

    /// A filtered, sorted page and the total count, computed in SQL: one statement, with users' `groups`
    /// as a column of it, unless the count needs its own (a full first page, or a page after the first;
    /// a second statement may then count a change committed in between).
    pub fn query_resources(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ResourceQuery,
    ) -> Result<ResourcePage, StorageError> {
        let (offset, after) = match &query.start {
            PageStart::Index(start) => (start.saturating_sub(1), None),
            PageStart::After(position) => (0, Some(position.as_ref())),
        };
        if after.is_some() && query.sort_by.is_some() {
            // A keyset over an arbitrary sort expression (JSON values, NULLs first or last) is not an index
            // range; refusing beats a silently quadratic or wrongly ordered walk.
            return Err(scim_core::ScimError::InvalidValue(
                "sortBy cannot be combined with cursor pagination: cursor listings are in creation order; \
                 use startIndex to page a sorted listing"
                    .to_owned(),
            )
            .into());
        }
        {
            let conn = &mut *self.conn;
            let dialect = conn.dialect();
            let condition = query
                .filter
                .as_ref()
                .map(|f| crate::filter_sql::compile(dialect, kind, tenant.as_str(), f))
                .transpose()?;
            // A filter no index serves, or a sort, reads every document of the kind: on SQLite such a
            // statement carries the time limit, first so that it is checked before each row's filter.
            let scans = query.sort_by.is_some()
                || query
                    .filter
                    .as_ref()
                    .is_some_and(|f| !crate::is_index_lookup(kind, f));
            let condition = if dialect == Dialect::Sqlite && scans {
                let limit = sqlite_time_limit();
                Some(match condition {
                    Some(c) => limit.sql(" AND ").frag(c),
                    None => limit,
                })
            } else {
                condition
            };
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
                    total_results: Some(u64::try_from(total).unwrap_or_default()),
                    resources: Vec::new(),
                    next: None,
                });
            }
            let with_groups = query.expand.groups && kind == ResourceKind::User;
            let mut page = base().select((ResourceHead::as_select(), groups_column(dialect, with_groups)));
            if let Some(c) = condition.clone() {
                page = page.filter(c);
            }
            if let Some(Some(position)) = after {
                let created = to_db_time(position.created);
                page = page.filter(resources::created_at.ge(created)).filter(
                    resources::created_at
                        .gt(created)
                        .or(resources::id.gt(position.id.as_str())),
                );
            }
            page = match &query.sort_by {
                Some(path) => page
                    .order(crate::filter_sql::sort_key(
                        dialect,
                        kind,
                        tenant.as_str(),
                        path,
                        query.descending,
                    )?)
                    .then_order_by(resources::created_at.asc())
                    .then_order_by(resources::id.asc()),
                None => page
                    .order(resources::created_at.asc())
                    .then_order_by(resources::id.asc()),
            };
            let page_size = i64::try_from(query.count).unwrap_or(i64::MAX);
            // A keyset page reads one row more than it returns: whether that row exists says whether a
            // next page does, so the last page never points at an empty one.
            let limit = if after.is_some() {
                page_size.saturating_add(1)
            } else {
                page_size
            };
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            let mut heads: Vec<(ResourceHead, Option<String>)> =
                page.limit(limit).offset(offset).load(conn)?;
            let more = after.is_some() && heads.len() > usize::try_from(page_size).unwrap_or(usize::MAX);
            if more {
                heads.pop();
            }
            // A first page that is not full holds every match: its length is the total, and the COUNT
            // query is skipped. This is the common case of IdP lookups (`userName eq ...`). A resumed
            // keyset walk is not counted at all (see `ResourcePage::total_results`).
            let page_len = u64::try_from(heads.len()).unwrap_or(u64::MAX);
            let total_results = if matches!(after, Some(Some(_))) {
                None
            } else if offset == 0 && page_len < query.count {
                Some(page_len)
            } else {
                Some(u64::try_from(count_matches(conn)?).unwrap_or_default())
            };
            let mut list = heads
                .into_iter()
                .map(|(head, groups)| {
                    let mut stored = head_to_stored(head)?;
                    if with_groups {
                        stored.groups = Some(parse_groups(groups.as_deref())?);
                    }
                    Ok(stored)
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            let next = more.then(|| list.last()).flatten().map(|last| ListPosition {
                created: last.created,
                id: last.id.clone(),
            });
            if query.expand.members {
                expand_members(conn, tenant, &mut list)?;
            }
            Ok(ResourcePage {
                total_results,
                resources: list,
                next,
            })
        }
    }
}

//! The setup portal's records: one-time setup links, the sessions they open, and each tenant's recent
//! SCIM requests.
//!
//! Strategy: links and sessions are found by the SHA-256 of their secret ([`HashedToken`]), so the table
//! holds nothing that opens a session, and every replica of `token-admin` sees the same sessions.
//! Redeeming a link is one conditional `UPDATE` (unused, unexpired) followed by the session's insert in
//! the same transaction: two browsers racing on one link cannot both win. A session is valid while it is
//! younger than its absolute `expires_at` and was seen within the idle limit; each use moves
//! `last_seen_at`. The request log is written in batches by scim-api (never on a request's path) and
//! trimmed to the newest rows of each tenant in the same transaction; rows of tenants that do not exist
//! are dropped, so an unauthenticated caller naming made-up tenants cannot grow the table.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use credentials::HashedToken;
use diesel::prelude::*;
use scim_core::{ResourceKind, TenantId};

use crate::connection::{DbConnection, on_inner};
use crate::error::{StorageError, Violation};
use crate::schema::{portal_links, portal_sessions, resources, scim_request_log, tenants};
use crate::tenants::{parse_tenant_id, tenant_not_found};
use crate::{Storage, from_db_time, to_db_time};

/// Whose a setup link or portal session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalScope {
    /// One tenant's admin: that tenant's page only.
    Tenant(TenantId),
    /// The vendor's staff: every tenant.
    Operator,
}

impl PortalScope {
    fn columns(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Tenant(tenant) => ("tenant", Some(tenant.as_str())),
            Self::Operator => ("operator", None),
        }
    }

    fn from_columns(scope: &str, tenant: Option<&str>) -> Result<Self, StorageError> {
        match (scope, tenant) {
            ("tenant", Some(slug)) => Ok(Self::Tenant(parse_tenant_id(slug)?)),
            ("operator", None) => Ok(Self::Operator),
            _ => Err(StorageError::corrupt(format!("portal scope {scope:?}"))),
        }
    }
}

/// A setup link to store.
#[derive(Debug, Clone)]
pub struct NewPortalLink {
    pub code_hash: HashedToken,
    pub scope: PortalScope,
    /// Who made it: an operator's subject or `cli:<user>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A session to open when a link is redeemed.
#[derive(Debug, Clone)]
pub struct NewPortalSession {
    pub id_hash: HashedToken,
    pub created_at: DateTime<Utc>,
    /// The absolute end of the session.
    pub expires_at: DateTime<Utc>,
}

/// One SCIM request as scim-api answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequestLogEntry {
    pub tenant: TenantId,
    pub occurred_at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub method: String,
    /// The path without its query string.
    pub path: String,
    pub status: u16,
    /// For an error answer: the `scimType` and `detail` we sent.
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    /// A filtered or counted `GET` on `/Users` or `/Groups` (an IdP's Test Connection).
    pub probe: bool,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub probe: bool,
}

/// What the portal says about a tenant's connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionStatus {
    /// The newest recorded request, whatever its answer.
    pub last_request_at: Option<DateTime<Utc>>,
    /// The newest Test-Connection-style request that succeeded or was refused for its credential, and
    /// its status.
    pub last_probe: Option<(DateTime<Utc>, u16)>,
    /// The newest request answered with a 4xx or 5xx.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Answers with a 4xx or 5xx among the recorded (newest) requests.
    pub recent_errors: i64,
    pub users: i64,
    pub groups: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = scim_request_log)]
struct NewRequestLogRow<'a> {
    tenant_id: &'a str,
    occurred_at: NaiveDateTime,
    request_id: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    status: i64,
    scim_type: Option<&'a str>,
    detail: Option<&'a str>,
    probe: bool,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = scim_request_log)]
struct RequestLogRow {
    id: i64,
    occurred_at: NaiveDateTime,
    request_id: Option<String>,
    method: String,
    path: String,
    status: i64,
    scim_type: Option<String>,
    detail: Option<String>,
    probe: bool,
}

impl RequestLogRow {
    fn into_entry(self) -> RequestLogEntry {
        RequestLogEntry {
            id: self.id,
            occurred_at: from_db_time(self.occurred_at),
            request_id: self.request_id,
            method: self.method,
            path: self.path,
            status: u16::try_from(self.status).unwrap_or(0),
            scim_type: self.scim_type,
            detail: self.detail,
            probe: self.probe,
        }
    }
}

/// Longest stored path and detail, in characters (longer ones are cut).
const MAX_LOGGED_CHARS: usize = 1000;

fn truncated(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| *c != '\0')
        .take(MAX_LOGGED_CHARS)
        .collect();
    clean
}

impl Storage {
    /// Stores a setup link. `NotFound` if its tenant does not exist.
    pub fn create_portal_link(&self, link: &NewPortalLink) -> Result<(), StorageError> {
        crate::nul_checks::reject_nul_str(&link.created_by, "created_by")?;
        let (scope, tenant_id) = link.scope.columns();
        self.write(|conn| {
            diesel::insert_into(portal_links::table)
                .values((
                    portal_links::code_hash.eq(link.code_hash.as_hex()),
                    portal_links::scope.eq(scope),
                    portal_links::tenant_id.eq(tenant_id),
                    portal_links::created_by.eq(&link.created_by),
                    portal_links::created_at.eq(to_db_time(link.created_at)),
                    portal_links::expires_at.eq(to_db_time(link.expires_at)),
                ))
                .execute(conn)
                .map_err(|e| {
                    StorageError::from_diesel_with(e, |violation, _| match (violation, &link.scope) {
                        (Violation::ForeignKey, PortalScope::Tenant(tenant)) => tenant_not_found(tenant),
                        _ => StorageError::Uniqueness("the link already exists".to_owned()),
                    })
                })?;
            Ok(())
        })
    }

    /// Redeems a setup link: if it exists, is unused and has not expired at `now`, marks it used and opens
    /// `session` with the link's scope, in one transaction. `None` otherwise (the caller cannot tell
    /// which, and neither can the visitor).
    pub fn redeem_portal_link(
        &self,
        code_hash: &HashedToken,
        session: &NewPortalSession,
        now: DateTime<Utc>,
    ) -> Result<Option<PortalScope>, StorageError> {
        let now = to_db_time(now);
        self.write(|conn| {
            let claimed = diesel::update(
                portal_links::table
                    .filter(portal_links::code_hash.eq(code_hash.as_hex()))
                    .filter(portal_links::used_at.is_null())
                    .filter(portal_links::expires_at.gt(now)),
            )
            .set(portal_links::used_at.eq(now))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(None);
            }
            let (scope, tenant): (String, Option<String>) = portal_links::table
                .filter(portal_links::code_hash.eq(code_hash.as_hex()))
                .select((portal_links::scope, portal_links::tenant_id))
                .first(conn)?;
            let parsed = PortalScope::from_columns(&scope, tenant.as_deref())?;
            diesel::insert_into(portal_sessions::table)
                .values((
                    portal_sessions::id_hash.eq(session.id_hash.as_hex()),
                    portal_sessions::scope.eq(&scope),
                    portal_sessions::tenant_id.eq(tenant.as_deref()),
                    portal_sessions::created_at.eq(to_db_time(session.created_at)),
                    portal_sessions::last_seen_at.eq(to_db_time(session.created_at)),
                    portal_sessions::expires_at.eq(to_db_time(session.expires_at)),
                ))
                .execute(conn)?;
            Ok(Some(parsed))
        })
    }

    /// The session with this hash if it is valid at `now` (before its absolute end, seen within `idle`),
    /// marking it seen now. `None` for an unknown, expired or idle session.
    pub fn touch_portal_session(
        &self,
        id_hash: &HashedToken,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<Option<PortalScope>, StorageError> {
        let idle_since = to_db_time(now - idle);
        let now = to_db_time(now);
        self.write(|conn| {
            let live = portal_sessions::table
                .filter(portal_sessions::id_hash.eq(id_hash.as_hex()))
                .filter(portal_sessions::expires_at.gt(now))
                .filter(portal_sessions::last_seen_at.gt(idle_since));
            let touched = diesel::update(live)
                .set(portal_sessions::last_seen_at.eq(now))
                .execute(conn)?;
            if touched == 0 {
                return Ok(None);
            }
            let (scope, tenant): (String, Option<String>) = portal_sessions::table
                .filter(portal_sessions::id_hash.eq(id_hash.as_hex()))
                .select((portal_sessions::scope, portal_sessions::tenant_id))
                .first(conn)?;
            PortalScope::from_columns(&scope, tenant.as_deref()).map(Some)
        })
    }

    /// Ends a session (sign-out).
    pub fn delete_portal_session(&self, id_hash: &HashedToken) -> Result<(), StorageError> {
        self.write(|conn| {
            diesel::delete(portal_sessions::table.filter(portal_sessions::id_hash.eq(id_hash.as_hex())))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Deletes links and sessions whose absolute end is before `now`, and sessions idle since before
    /// `idle_since`. Returns how many rows went.
    pub fn prune_portal(&self, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<usize, StorageError> {
        let (now, idle_since) = (to_db_time(now), to_db_time(idle_since));
        self.write(|conn| {
            let links =
                diesel::delete(portal_links::table.filter(portal_links::expires_at.le(now))).execute(conn)?;
            let sessions = diesel::delete(
                portal_sessions::table.filter(
                    portal_sessions::expires_at
                        .le(now)
                        .or(portal_sessions::last_seen_at.le(idle_since)),
                ),
            )
            .execute(conn)?;
            Ok(links + sessions)
        })
    }

    /// Appends requests to their tenants' logs, then trims each of those tenants to its newest
    /// `keep_per_tenant` rows; one transaction. Requests of tenants that do not exist are dropped.
    /// Returns how many were stored.
    pub fn record_scim_requests(
        &self,
        entries: &[NewRequestLogEntry],
        keep_per_tenant: i64,
    ) -> Result<usize, StorageError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let named: BTreeSet<&str> = entries.iter().map(|e| e.tenant.as_str()).collect();
        let paths: Vec<String> = entries.iter().map(|e| truncated(&e.path)).collect();
        let details: Vec<Option<String>> = entries
            .iter()
            .map(|e| e.detail.as_deref().map(truncated))
            .collect();
        let scim_types: Vec<Option<String>> = entries
            .iter()
            .map(|e| e.scim_type.as_deref().map(truncated))
            .collect();
        let request_ids: Vec<Option<String>> = entries
            .iter()
            .map(|e| e.request_id.as_deref().map(truncated))
            .collect();
        self.write(|conn| {
            let existing: BTreeSet<String> = tenants::table
                .filter(tenants::id.eq_any(named.iter().copied()))
                .select(tenants::id)
                .load::<String>(conn)?
                .into_iter()
                .collect();
            let rows: Vec<NewRequestLogRow<'_>> = entries
                .iter()
                .zip(&paths)
                .zip(&details)
                .zip(&scim_types)
                .zip(&request_ids)
                .filter(|((((e, _), _), _), _)| existing.contains(e.tenant.as_str()))
                .map(
                    |((((e, path), detail), scim_type), request_id)| NewRequestLogRow {
                        tenant_id: e.tenant.as_str(),
                        occurred_at: to_db_time(e.occurred_at),
                        request_id: request_id.as_deref(),
                        method: &e.method,
                        path,
                        status: i64::from(e.status),
                        scim_type: scim_type.as_deref(),
                        detail: detail.as_deref(),
                        probe: e.probe,
                    },
                )
                .collect();
            for chunk in rows.chunks(100) {
                // Multi-row inserts do not go through MultiBackend: run them on the inner connection.
                on_inner!(conn, |c| diesel::insert_into(scim_request_log::table)
                    .values(chunk)
                    .execute(c))?;
            }
            for tenant in &existing {
                trim_request_log(conn, tenant, keep_per_tenant)?;
            }
            Ok(rows.len())
        })
    }

    /// The tenant's newest `limit` recorded requests, newest first.
    pub fn recent_scim_requests(
        &self,
        tenant: &TenantId,
        limit: i64,
    ) -> Result<Vec<RequestLogEntry>, StorageError> {
        let mut conn = self.conn()?;
        Ok(scim_request_log::table
            .filter(scim_request_log::tenant_id.eq(tenant.as_str()))
            .order(scim_request_log::id.desc())
            .limit(limit)
            .select(RequestLogRow::as_select())
            .load(&mut *conn)?
            .into_iter()
            .map(RequestLogRow::into_entry)
            .collect())
    }

    /// What the portal shows about the tenant's connection: from the request log and two counts.
    pub fn connection_status(&self, tenant: &TenantId) -> Result<ConnectionStatus, StorageError> {
        let mut conn = self.conn()?;
        let log = scim_request_log::table.filter(scim_request_log::tenant_id.eq(tenant.as_str()));
        let last_request_at = log
            .select(scim_request_log::occurred_at)
            .order(scim_request_log::id.desc())
            .first::<NaiveDateTime>(&mut *conn)
            .optional()?;
        // A probe refused for its filter says nothing about the connection; one refused for its token does.
        let last_probe = log
            .filter(scim_request_log::probe.eq(true))
            .filter(
                scim_request_log::status
                    .lt(300)
                    .or(scim_request_log::status.eq_any([401_i64, 403])),
            )
            .select((scim_request_log::occurred_at, scim_request_log::status))
            .order(scim_request_log::id.desc())
            .first::<(NaiveDateTime, i64)>(&mut *conn)
            .optional()?;
        let last_error_at = log
            .filter(scim_request_log::status.ge(400))
            .select(scim_request_log::occurred_at)
            .order(scim_request_log::id.desc())
            .first::<NaiveDateTime>(&mut *conn)
            .optional()?;
        let recent_errors: i64 = log
            .filter(scim_request_log::status.ge(400))
            .count()
            .get_result(&mut *conn)?;
        let count = |conn: &mut DbConnection, kind: ResourceKind| -> Result<i64, StorageError> {
            Ok(resources::table
                .filter(resources::tenant_id.eq(tenant.as_str()))
                .filter(resources::resource_type.eq(kind.as_str()))
                .count()
                .get_result(conn)?)
        };
        Ok(ConnectionStatus {
            last_request_at: last_request_at.map(from_db_time),
            last_probe: last_probe.map(|(at, status)| (from_db_time(at), u16::try_from(status).unwrap_or(0))),
            last_error_at: last_error_at.map(from_db_time),
            recent_errors,
            users: count(&mut conn, ResourceKind::User)?,
            groups: count(&mut conn, ResourceKind::Group)?,
        })
    }
}

/// Deletes all but the tenant's newest `keep` log rows.
fn trim_request_log(conn: &mut DbConnection, tenant: &str, keep: i64) -> Result<(), StorageError> {
    let oldest_kept: Option<i64> = scim_request_log::table
        .filter(scim_request_log::tenant_id.eq(tenant))
        .order(scim_request_log::id.desc())
        .offset(keep.saturating_sub(1).max(0))
        .select(scim_request_log::id)
        .first(conn)
        .optional()?;
    if let Some(oldest_kept) = oldest_kept {
        diesel::delete(
            scim_request_log::table
                .filter(scim_request_log::tenant_id.eq(tenant))
                .filter(scim_request_log::id.lt(oldest_kept)),
        )
        .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewTenant;

    fn tenant(db: &Storage, slug: &str) -> TenantId {
        let id = TenantId::parse(slug).unwrap();
        db.create_tenant(&NewTenant {
            id: id.clone(),
            display_name: slug.to_owned(),
            policy: serde_json::json!({}),
        })
        .unwrap();
        id
    }

    fn entry(tenant: &TenantId, status: u16, probe: bool) -> NewRequestLogEntry {
        NewRequestLogEntry {
            tenant: tenant.clone(),
            occurred_at: Utc::now(),
            request_id: Some("r1".to_owned()),
            method: "GET".to_owned(),
            path: format!("/scim/v2/{tenant}/Users"),
            status,
            scim_type: (status >= 400).then(|| "invalidFilter".to_owned()),
            detail: (status >= 400).then(|| "bad filter".to_owned()),
            probe,
        }
    }

    crate::backend_tests!(a_link_opens_one_session_once, |db| {
        let acme = tenant(&db, "acme");
        let now = Utc::now();
        let code = HashedToken::of("code-1");
        db.create_portal_link(&NewPortalLink {
            code_hash: code.clone(),
            scope: PortalScope::Tenant(acme.clone()),
            created_by: "alice".to_owned(),
            created_at: now,
            expires_at: now + Duration::hours(1),
        })
        .unwrap();
        let session = |secret: &str| NewPortalSession {
            id_hash: HashedToken::of(secret),
            created_at: now,
            expires_at: now + Duration::hours(8),
        };
        assert_eq!(
            db.redeem_portal_link(&code, &session("s1"), now).unwrap(),
            Some(PortalScope::Tenant(acme.clone()))
        );
        assert_eq!(db.redeem_portal_link(&code, &session("s2"), now).unwrap(), None);
        let idle = Duration::minutes(30);
        assert_eq!(
            db.touch_portal_session(&HashedToken::of("s1"), now, idle)
                .unwrap(),
            Some(PortalScope::Tenant(acme.clone()))
        );
        assert_eq!(
            db.touch_portal_session(&HashedToken::of("s2"), now, idle)
                .unwrap(),
            None
        );
        // Idle too long.
        assert_eq!(
            db.touch_portal_session(&HashedToken::of("s1"), now + Duration::minutes(31), idle)
                .unwrap(),
            None
        );
        // An expired link opens nothing; an operator link needs no tenant.
        let old = HashedToken::of("code-2");
        db.create_portal_link(&NewPortalLink {
            code_hash: old.clone(),
            scope: PortalScope::Operator,
            created_by: "alice".to_owned(),
            created_at: now,
            expires_at: now + Duration::minutes(1),
        })
        .unwrap();
        assert_eq!(
            db.redeem_portal_link(&old, &session("s3"), now + Duration::minutes(2))
                .unwrap(),
            None
        );
        assert!(matches!(
            db.create_portal_link(&NewPortalLink {
                code_hash: HashedToken::of("code-3"),
                scope: PortalScope::Tenant(TenantId::parse("ghost").unwrap()),
                created_by: "alice".to_owned(),
                created_at: now,
                expires_at: now + Duration::minutes(1),
            }),
            Err(StorageError::NotFound(_))
        ));
        assert_eq!(db.prune_portal(now + Duration::days(1), now).unwrap(), 3);
    });

    crate::backend_tests!(the_request_log_is_bounded_per_tenant, |db| {
        let acme = tenant(&db, "acme");
        let other = tenant(&db, "other");
        let ghost = TenantId::parse("ghost").unwrap();
        let mut batch: Vec<NewRequestLogEntry> = (0..7).map(|_| entry(&acme, 201, false)).collect();
        batch.push(entry(&acme, 200, true));
        batch.push(entry(&acme, 400, false));
        batch.push(entry(&other, 200, false));
        batch.push(entry(&ghost, 401, false));
        assert_eq!(db.record_scim_requests(&batch, 5).unwrap(), 10);
        let recent = db.recent_scim_requests(&acme, 100).unwrap();
        assert_eq!(recent.len(), 5);
        assert_eq!(recent[0].status, 400);
        assert_eq!(recent[0].detail.as_deref(), Some("bad filter"));
        assert!(recent[1].probe);
        assert_eq!(db.recent_scim_requests(&other, 100).unwrap().len(), 1);
        let status = db.connection_status(&acme).unwrap();
        assert_eq!(status.last_probe.map(|p| p.1), Some(200));
        assert!(status.last_error_at.is_some() && status.last_request_at.is_some());
        assert_eq!(status.recent_errors, 1);
        assert_eq!((status.users, status.groups), (0, 0));
        db.delete_tenant(&acme).unwrap();
        assert!(db.recent_scim_requests(&acme, 100).unwrap().is_empty());
    });
}

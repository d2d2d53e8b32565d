//! The admin audit log: who (operator subject) did what (action) to which tenant, when, with a small
//! JSON detail. Written by `token-admin` for every admin action.
//!
//! Strategy: an append-only table apart from `events` (which is the SCIM change feed and is deleted with
//! its tenant): audit rows keep the tenant slug as plain text with no foreign key, so the record of a
//! tenant's deletion outlives the tenant. Time is the caller's parameter.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use scim_core::TenantId;

use crate::error::StorageError;
use crate::schema::admin_audit;
use crate::{Storage, from_db_time, to_db_time};

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAdminAuditEntry {
    /// The operator's JWT `sub`, or `cli:<user>` for offline commands.
    pub operator: String,
    /// A dotted verb such as `token.issue`.
    pub action: String,
    pub tenant_id: Option<TenantId>,
    /// Non-secret details (token id, flags).
    pub detail: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminAuditEntry {
    pub id: i64,
    pub operator: String,
    pub action: String,
    /// The slug as recorded; the tenant may no longer exist.
    pub tenant_id: Option<String>,
    pub detail: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = admin_audit)]
struct NewAdminAuditRow<'a> {
    operator: &'a str,
    action: &'a str,
    tenant_id: Option<&'a str>,
    detail: String,
    occurred_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = admin_audit)]
struct AdminAuditRow {
    id: i64,
    operator: String,
    action: String,
    tenant_id: Option<String>,
    detail: String,
    occurred_at: NaiveDateTime,
}

impl Storage {
    /// Appends an entry.
    pub fn record_admin_action(&self, entry: &NewAdminAuditEntry) -> Result<(), StorageError> {
        crate::nul_checks::reject_nul_str(&entry.operator, "operator")?;
        crate::nul_checks::reject_nul_str(&entry.action, "action")?;
        crate::nul_checks::reject_nul(&entry.detail, "detail")?;
        let row = NewAdminAuditRow {
            operator: &entry.operator,
            action: &entry.action,
            tenant_id: entry.tenant_id.as_ref().map(TenantId::as_str),
            detail: entry.detail.to_string(),
            occurred_at: to_db_time(entry.occurred_at),
        };
        self.write(|conn| {
            diesel::insert_into(admin_audit::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
    }

    /// The newest `limit` entries, newest first; only `tenant`'s when given.
    pub fn list_admin_audit(
        &self,
        tenant: Option<&TenantId>,
        limit: i64,
    ) -> Result<Vec<AdminAuditEntry>, StorageError> {
        let mut conn = self.conn()?;
        let mut query = admin_audit::table.select(AdminAuditRow::as_select()).into_boxed();
        if let Some(tenant) = tenant {
            query = query.filter(admin_audit::tenant_id.eq(tenant.as_str()));
        }
        query
            .order(admin_audit::id.desc())
            .limit(limit)
            .load(&mut *conn)?
            .into_iter()
            .map(|row| {
                Ok(AdminAuditEntry {
                    detail: serde_json::from_str(&row.detail)
                        .map_err(|e| StorageError::corrupt(format!("audit entry {}: {e}", row.id)))?,
                    id: row.id,
                    operator: row.operator,
                    action: row.action,
                    tenant_id: row.tenant_id,
                    occurred_at: from_db_time(row.occurred_at),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewTenant;

    crate::backend_tests!(audit_entries_survive_their_tenant, |db| {
        let acme = TenantId::parse("acme").unwrap();
        db.create_tenant(&NewTenant {
            id: acme.clone(),
            display_name: "Acme".to_owned(),
            policy: serde_json::json!({}),
        })
        .unwrap();
        let now = Utc::now();
        for action in ["tenant.create", "token.issue", "tenant.delete"] {
            db.record_admin_action(&NewAdminAuditEntry {
                operator: "alice".to_owned(),
                action: action.to_owned(),
                tenant_id: Some(acme.clone()),
                detail: serde_json::json!({"tokenId": "t1"}),
                occurred_at: now,
            })
            .unwrap();
        }
        db.delete_tenant(&acme).unwrap();
        let entries = db.list_admin_audit(Some(&acme), 10).unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["tenant.delete", "token.issue", "tenant.create"]);
        assert_eq!(entries[0].operator, "alice");
        assert_eq!(entries[0].detail["tokenId"], "t1");
        assert_eq!(db.list_admin_audit(None, 1).unwrap().len(), 1);
    });
}

//! The admin audit log, written by the HTTP handlers and the offline CLI alike.

use chrono::{DateTime, Utc};
use scim_core::TenantId;
use storage::Storage;
use storage::admin_audit::NewAdminAuditEntry;

/// Records an admin action. The action has already happened, so a failure to record it is logged as an
/// error rather than turned into a failed response (which would invite a retry that repeats the action).
pub fn audit(
    storage: &Storage,
    operator: &str,
    action: &str,
    tenant: Option<&TenantId>,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) {
    let entry = NewAdminAuditEntry {
        operator: operator.to_owned(),
        action: action.to_owned(),
        tenant_id: tenant.cloned(),
        detail,
        occurred_at: now,
    };
    match storage.record_admin_action(&entry) {
        Ok(()) => tracing::info!(
            operator,
            action,
            tenant = tenant.map_or("", TenantId::as_str),
            "admin action"
        ),
        Err(e) => {
            tracing::error!(operator, action, error = ?e, "could not record admin action in the audit log")
        }
    }
}

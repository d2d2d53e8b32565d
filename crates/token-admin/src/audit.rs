//! The admin audit log, written by the HTTP handlers and the offline CLI alike, and who the CLI's operator
//! is.

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

/// The audit subject of offline commands: `cli:<user>` from `$USER`, else `$LOGNAME`. In containers,
/// where neither is set, `cli:uid:<uid>@<host name>`: the host name is the pod or container, which says
/// more than the (shared) uid.
pub fn cli_operator() -> String {
    cli_operator_from(|name| std::env::var(name).ok(), process_uid(), host_name())
}

fn cli_operator_from(var: impl Fn(&str) -> Option<String>, uid: Option<u32>, host: Option<String>) -> String {
    let named = |name| var(name).filter(|value| !value.trim().is_empty());
    if let Some(user) = named("USER").or_else(|| named("LOGNAME")) {
        return format!("cli:{user}");
    }
    let user = uid.map_or_else(|| "unknown".to_owned(), |uid| format!("uid:{uid}"));
    match host.or_else(|| named("HOSTNAME")) {
        Some(host) => format!("cli:{user}@{host}"),
        None => format!("cli:{user}"),
    }
}

/// The real uid, from `/proc/self/status` (`Uid:` real, effective, saved, filesystem): no libc call, which
/// would need `unsafe`.
fn process_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn cli_operator_is_the_user_else_the_login_name_else_uid_and_host() {
        let host = || Some("scim-api-7d9f".to_owned());
        assert_eq!(
            cli_operator_from(env(&[("USER", "alice"), ("LOGNAME", "bob")]), Some(1000), host()),
            "cli:alice"
        );
        assert_eq!(
            cli_operator_from(env(&[("USER", ""), ("LOGNAME", "bob")]), Some(1000), host()),
            "cli:bob"
        );
        assert_eq!(
            cli_operator_from(env(&[]), Some(10001), host()),
            "cli:uid:10001@scim-api-7d9f"
        );
        assert_eq!(
            cli_operator_from(env(&[("HOSTNAME", "box")]), Some(10001), None),
            "cli:uid:10001@box"
        );
        assert_eq!(cli_operator_from(env(&[]), None, None), "cli:unknown");
    }

    #[test]
    fn this_process_has_a_uid() {
        assert!(process_uid().is_some());
    }
}

//! `scim-api --bootstrap-tenant <slug>`: the first-run path that makes the README's one run command enough.
//! It creates the tenant when missing and issues a new Secret Token, printing what an admin pastes into
//! Entra. Day-to-day token management (rotation, revocation) belongs to `token-admin`.

use credentials::IssuedApiToken;
use scim_core::TenantId;
use serde_json::json;
use service::Settings;
use storage::{NewTenant, Storage, StorageError, TokenRequest};

/// Creates the tenant if needed and issues it a token: what an admin pastes into the IdP, the Tenant URL
/// and the Secret Token (shown once).
pub async fn issue_first_token(
    storage: &Storage,
    settings: &Settings,
    slug: &str,
) -> anyhow::Result<IssuedApiToken> {
    let tenant = TenantId::parse(slug)?;
    let base = settings.public_base().map_or_else(
        || format!("http://{}", local_address(&settings.listen)),
        str::to_owned,
    );
    let storage = storage.clone();
    let issued = tokio::task::spawn_blocking(move || -> anyhow::Result<IssuedApiToken> {
        match storage.get_tenant(&tenant) {
            Ok(_) => {}
            Err(StorageError::NotFound(_)) => {
                storage.create_tenant(&NewTenant {
                    id: tenant.clone(),
                    display_name: tenant.to_string(),
                    policy: json!({}),
                })?;
            }
            Err(other) => return Err(other.into()),
        }
        let request = TokenRequest {
            label: Some("bootstrap".to_owned()),
            ..TokenRequest::default()
        };
        let issued = storage.issue_token(&tenant, &request)?;
        Ok(issued.with_base_url(service::tenant_base_url(&base, &tenant)))
    })
    .await??;
    Ok(issued)
}

/// The listen address as a client on this machine reaches it: a wildcard bind (`0.0.0.0`, `[::]`) is
/// reached through loopback.
fn local_address(listen: &str) -> String {
    match listen.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]" | "::", port)) => format!("127.0.0.1:{port}"),
        _ => listen.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_address;

    #[test]
    fn wildcard_listen_addresses_print_as_loopback() {
        assert_eq!(local_address("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("[::]:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("127.0.0.1:9000"), "127.0.0.1:9000");
    }
}

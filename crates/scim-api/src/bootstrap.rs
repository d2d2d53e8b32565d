//! `scim-api --bootstrap-tenant <slug>`: the first-run path that makes the README's one run command enough.
//! It creates the tenant when missing and issues a new Secret Token, printing what an admin pastes into
//! Entra. Day-to-day token management (rotation, revocation) belongs to `token-admin`.

use credentials::IssuedApiToken;
use scim_core::TenantId;
use serde_json::json;
use storage::{NewTenant, Storage, StorageError, TokenRequest};

/// Creates the tenant if needed and issues it a token: what an admin pastes into the IdP, the Tenant URL
/// under `origin` (see `Settings::tenant_url_origin`) and the Secret Token (shown once).
pub async fn issue_first_token(
    storage: &Storage,
    origin: &str,
    slug: &str,
) -> anyhow::Result<IssuedApiToken> {
    let tenant = TenantId::parse(slug)?;
    let base = service::tenant_base_url(origin, &tenant);
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
        Ok(issued.with_base_url(base))
    })
    .await??;
    Ok(issued)
}

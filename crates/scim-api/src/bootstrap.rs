//! `scim-api --bootstrap-tenant <slug>`: the first-run path that makes the README's one run command enough.
//! It creates the tenant when missing and issues a new Secret Token, printing what an admin pastes into
//! Entra. Day-to-day token management (rotation, revocation) belongs to `token-admin`.

use credentials::PlainToken;
use scim_core::TenantId;
use serde_json::json;
use service::Settings;
use storage::{NewTenant, NewToken, Storage, StorageError};

/// What an admin pastes into the IdP: the Tenant URL and the Secret Token (shown once).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub id: String,
    pub base_url: String,
    pub api_token: String,
    pub expires_at: Option<String>,
}

/// Creates the tenant if needed and issues it a token.
pub async fn issue_first_token(
    storage: &Storage,
    settings: &Settings,
    slug: &str,
) -> anyhow::Result<IssuedToken> {
    let tenant = TenantId::parse(slug)?;
    let base = settings.public_base().map_or_else(
        || format!("http://{}", local_address(&settings.listen)),
        str::to_owned,
    );
    let storage = storage.clone();
    let issued = tokio::task::spawn_blocking(move || -> anyhow::Result<IssuedToken> {
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
        let token = PlainToken::generate_api_token();
        let info = storage.insert_token(
            &tenant,
            &NewToken {
                id: uuid::Uuid::new_v4().to_string(),
                token_hash: token.hash(),
                prefix: token.display_prefix(),
                label: Some("bootstrap".to_owned()),
                expires_at: None,
            },
        )?;
        Ok(IssuedToken {
            id: info.id,
            base_url: format!("{base}/scim/v2/{tenant}"),
            api_token: token.expose_secret().to_owned(),
            expires_at: None,
        })
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

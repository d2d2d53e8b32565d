//! Setup links: made by the admin API (`POST /admin/v1/tenants/{slug}/portal-links`,
//! `POST /admin/v1/portal-links`) and the CLI (`token-admin portal-link`), opened once by a browser.
//!
//! A link is `<portal public base>/portal/start?code=<32 random bytes, base64url>`; only the code's
//! SHA-256 is stored. Opening it trades the code for a session ([`super::session`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use credentials::HashedToken;
use rand::RngCore as _;
use serde::Serialize;
use storage::Storage;
use storage::portal::{NewPortalLink, PortalScope};

use crate::error::AdminError;

/// Longest link lifetime: seven days.
pub const MAX_LINK_LIFETIME: Duration = Duration::days(7);

/// A new random secret (link code or session id): 256 bits, base64url.
pub fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A link as handed to its creator (the only time the code leaves the server).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// `tenant` or `operator`.
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Stores a new link for `scope` valid for `expires_in` and returns its URL. `NotFound` if the tenant
/// does not exist.
pub fn create_link(
    storage: &Storage,
    portal_base: &str,
    scope: PortalScope,
    created_by: &str,
    expires_in: Duration,
    now: DateTime<Utc>,
) -> Result<PortalLink, AdminError> {
    if expires_in <= Duration::zero() || expires_in > MAX_LINK_LIFETIME {
        return Err(AdminError::BadRequest(
            "expiresIn must be between 1 second and 7 days".to_owned(),
        ));
    }
    let code = random_secret();
    let expires_at = now + expires_in;
    storage.create_portal_link(&NewPortalLink {
        code_hash: HashedToken::of(&code),
        scope: scope.clone(),
        created_by: created_by.to_owned(),
        created_at: now,
        expires_at,
    })?;
    let (scope_name, tenant) = match &scope {
        PortalScope::Tenant(tenant) => ("tenant", Some(tenant.to_string())),
        PortalScope::Operator => ("operator", None),
    };
    tracing::info!(scope = scope_name, tenant = tenant.as_deref().unwrap_or(""), %expires_at, "portal link created");
    Ok(PortalLink {
        url: format!("{}/portal/start?code={code}", portal_base.trim_end_matches('/')),
        expires_at,
        scope: scope_name,
        tenant,
    })
}

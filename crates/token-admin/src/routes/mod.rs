//! HTTP routes of the admin service.
//!
//! | route | who |
//! |---|---|
//! | `/admin/v1/tenants[/{slug}]` | operators (JWT) |
//! | `/admin/v1/tenants/{slug}/tokens[/{id}]` | operators |
//! | `/admin/v1/tenants/{slug}/oauth-clients[/{clientId}]` | operators |
//! | `PUT /identity/api/identityprovider/scim` | operators (LUSID `AddScim`) |
//! | `POST /oauth2/token` | OAuth clients (RFC 6749 §4.4), only when `oauth_signing_secret` is set |
//! | `/healthz`, `/readyz`, `/metrics` | anyone who can reach the port |
//!
//! Strategy: handlers are thin. Each takes an [`crate::auth::Operator`] (authentication happens in the
//! extractor), checks it against the path's tenant, runs storage work through `service::blocking`, records
//! the action in the audit log and answers JSON. Shared logic lives in [`crate::scim_tokens`] and [`crate::audit`].

pub mod lusid;
pub mod oauth_clients;
pub mod oauth_token;
pub mod tenants;
pub mod tokens;

use actix_web::web;
use credentials::AccessTokenIssuer;
use scim_core::TenantId;
use service::Clock;
use storage::Storage;

use crate::auth::Operator;
use crate::error::AdminError;

/// Shared state of every handler.
#[derive(Debug)]
pub struct AppState {
    pub storage: Storage,
    /// Public base URL of the SCIM API, without a trailing slash.
    pub public_base: String,
    pub clock: Clock,
    /// Present when the OAuth client-credentials mode is enabled.
    pub access_tokens: Option<AccessTokenIssuer>,
}

impl AppState {
    /// Runs storage work on the blocking pool.
    pub async fn run<R, F>(&self, f: F) -> Result<R, AdminError>
    where
        F: FnOnce(&Storage) -> Result<R, AdminError> + Send + 'static,
        R: Send + 'static,
    {
        let storage = self.storage.clone();
        service::blocking(move || f(&storage)).await?
    }

    /// Records an operator's action in the audit log.
    pub async fn audit(
        &self,
        operator: &Operator,
        action: &'static str,
        tenant: &TenantId,
        detail: serde_json::Value,
    ) {
        let (subject, tenant, now) = (operator.subject.clone(), tenant.clone(), self.clock.now());
        let storage = self.storage.clone();
        let recorded = service::blocking(move || {
            crate::audit::audit(&storage, &subject, action, Some(&tenant), detail, now)
        })
        .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, action, "audit task failed");
        }
    }
}

/// Parses a JSON body whose fields are all optional: an empty body is the default, anything else must
/// parse strictly (unknown keys are a 400).
pub fn optional_json_body<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Parses a tenant slug and checks that the operator may act on that tenant: every handler that names a
/// tenant goes through here, so none can forget the authorisation.
pub fn authorized_tenant(operator: &Operator, slug: &str) -> Result<TenantId, AdminError> {
    let tenant = TenantId::parse(slug).map_err(|e| AdminError::BadRequest(e.detail().to_owned()))?;
    operator.authorize(&tenant)?;
    Ok(tenant)
}

/// Registers every admin route.
pub fn configure(cfg: &mut web::ServiceConfig, oauth_enabled: bool) {
    cfg.service(
        web::scope("/admin/v1/tenants")
            .route("", web::post().to(tenants::create_tenant))
            .route("", web::get().to(tenants::list_tenants))
            .route("/{slug}", web::get().to(tenants::get_tenant))
            .route("/{slug}", web::patch().to(tenants::patch_tenant))
            .route("/{slug}", web::delete().to(tenants::delete_tenant))
            .route("/{slug}/tokens", web::post().to(tokens::issue_token))
            .route("/{slug}/tokens", web::get().to(tokens::list_tokens))
            .route("/{slug}/tokens/{id}", web::delete().to(tokens::revoke_token))
            .route(
                "/{slug}/oauth-clients",
                web::post().to(oauth_clients::create_oauth_client),
            )
            .route(
                "/{slug}/oauth-clients",
                web::get().to(oauth_clients::list_oauth_clients),
            )
            .route(
                "/{slug}/oauth-clients/{client_id}",
                web::delete().to(oauth_clients::revoke_oauth_client),
            ),
    )
    .route(
        "/identity/api/identityprovider/scim",
        web::put().to(lusid::add_scim),
    );
    if oauth_enabled {
        cfg.route("/oauth2/token", web::post().to(oauth_token::issue_access_token));
    }
}

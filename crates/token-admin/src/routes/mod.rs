//! HTTP routes of the admin service.
//!
//! | route | who |
//! |---|---|
//! | `/admin/v1/tenants[/{slug}]` | operators (JWT) |
//! | `/admin/v1/tenants/{slug}/tokens[/{id}]` | operators |
//! | `/admin/v1/tenants/{slug}/oauth-clients[/{clientId}]` | operators |
//! | `POST /admin/v1/tenants/{slug}/portal-links`, `POST /admin/v1/portal-links` | operators (setup-portal links; the second, for every tenant, admins only) |
//! | `GET /admin/v1/events`, `GET /admin/v1/tenants/{slug}/events` | operators (the change feed) |
//! | `/admin/v1/webhooks[/{id}[/rotate-secret, /test, /deliveries]]` | operators (signed webhooks) |
//! | `PUT /identity/api/identityprovider/scim` | operators (LUSID `AddScim`) |
//! | `POST /oauth2/token` | OAuth clients (RFC 6749 §4.4); without `oauth_signing_secret` it refuses every request |
//! | `/healthz`, `/readyz`, `/metrics` | anyone who can reach the port |
//!
//! Each path lists its methods once ([`ResourceRoutes`]): any other method is a 405 with `Allow`. JSON
//! bodies are read whatever their `Content-Type` (none, `application/json`, or the form type `curl -d`
//! sends), the same way on every route.
//!
//! Strategy: handlers are thin. Each takes an [`crate::auth::Operator`] (authentication happens in the
//! extractor), checks it against the path's tenant, runs storage work through `service::blocking`, records
//! the action in the audit log and answers JSON. Shared logic lives in [`crate::scim_tokens`] and [`crate::audit`].

pub mod events;
pub mod lusid;
pub mod oauth_clients;
pub mod oauth_token;
pub mod portal_links;
pub mod tenants;
pub mod tokens;
pub mod webhooks;

use actix_web::http::Method;
use actix_web::web;
use credentials::AccessTokenIssuer;
use scim_core::TenantId;
use service::{Clock, ResourceRoutes};
use storage::Storage;

use crate::auth::Operator;
use crate::error::AdminError;

/// Shared state of every handler.
#[derive(Debug)]
pub struct AppState {
    pub storage: Storage,
    /// The setup portal's settings (setup links are built on its public base).
    pub portal: crate::portal::PortalConfig,
    /// Public base URL of the SCIM API, without a trailing slash.
    pub public_base: String,
    pub clock: Clock,
    /// Present when the OAuth client-credentials mode is enabled.
    pub access_tokens: Option<AccessTokenIssuer>,
    /// Sends webhook test events (the worker has its own handle on the same client).
    pub webhook_sender: crate::webhooks::sender::Sender,
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

    /// Records an operator's action on a tenant in the audit log.
    pub async fn audit(
        &self,
        operator: &Operator,
        action: &'static str,
        tenant: &TenantId,
        detail: serde_json::Value,
    ) {
        self.audit_on(operator, action, Some(tenant.clone()), detail)
            .await;
    }

    /// Records an operator's action in the audit log; `None`: an action on no single tenant.
    pub async fn audit_on(
        &self,
        operator: &Operator,
        action: &'static str,
        tenant: Option<TenantId>,
        detail: serde_json::Value,
    ) {
        let (subject, now) = (operator.subject.clone(), self.clock.now());
        let storage = self.storage.clone();
        let recorded = service::blocking(move || {
            crate::audit::audit(&storage, &subject, action, tenant.as_ref(), detail, now)
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
    if is_blank(body) {
        return Ok(T::default());
    }
    json_body(body)
}

/// Parses a required JSON body strictly (unknown keys are a 400).
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    if is_blank(body) {
        return Err(AdminError::BadRequest("a JSON body is required".to_owned()));
    }
    serde_json::from_slice(body).map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Parses a tenant slug and checks that the operator may act on that tenant: every handler that names a
/// tenant goes through here, so none can forget the authorisation.
pub fn authorized_tenant(operator: &Operator, slug: &str) -> Result<TenantId, AdminError> {
    let tenant = TenantId::parse(slug).map_err(|e| AdminError::BadRequest(e.detail().to_owned()))?;
    operator.authorize(&tenant)?;
    Ok(tenant)
}

/// Registers every admin route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1/tenants")
            .service(
                ResourceRoutes::new("")
                    .route(Method::POST, tenants::create_tenant)
                    .route(Method::GET, tenants::list_tenants)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}")
                    .route(Method::GET, tenants::get_tenant)
                    .route(Method::PATCH, tenants::patch_tenant)
                    .route(Method::DELETE, tenants::delete_tenant)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}/tokens")
                    .route(Method::POST, tokens::issue_token)
                    .route(Method::GET, tokens::list_tokens)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}/tokens/{id}")
                    .route(Method::DELETE, tokens::revoke_token)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}/oauth-clients")
                    .route(Method::POST, oauth_clients::create_oauth_client)
                    .route(Method::GET, oauth_clients::list_oauth_clients)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}/oauth-clients/{client_id}")
                    .route(Method::DELETE, oauth_clients::revoke_oauth_client)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}/portal-links")
                    .route(Method::POST, portal_links::create_tenant_link)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{slug}/events")
                    .route(Method::GET, events::list_tenant_events)
                    .finish::<()>(),
            ),
    )
    .service(
        ResourceRoutes::new("/admin/v1/portal-links")
            .route(Method::POST, portal_links::create_operator_link)
            .finish::<()>(),
    )
    .service(
        ResourceRoutes::new("/admin/v1/events")
            .route(Method::GET, events::list_events)
            .finish::<()>(),
    )
    .service(
        web::scope("/admin/v1/webhooks")
            .service(
                ResourceRoutes::new("")
                    .route(Method::POST, webhooks::create_webhook)
                    .route(Method::GET, webhooks::list_webhooks)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{id}")
                    .route(Method::GET, webhooks::get_webhook)
                    .route(Method::PATCH, webhooks::patch_webhook)
                    .route(Method::DELETE, webhooks::delete_webhook)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{id}/rotate-secret")
                    .route(Method::POST, webhooks::rotate_secret)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{id}/test")
                    .route(Method::POST, webhooks::test_webhook)
                    .finish::<()>(),
            )
            .service(
                ResourceRoutes::new("/{id}/deliveries")
                    .route(Method::GET, webhooks::list_deliveries)
                    .finish::<()>(),
            ),
    )
    .service(
        ResourceRoutes::new("/identity/api/identityprovider/scim")
            .route(Method::PUT, lusid::add_scim)
            .finish::<()>(),
    )
    .service(
        ResourceRoutes::new("/oauth2/token")
            .route(Method::POST, oauth_token::issue_access_token)
            .finish::<()>(),
    );
}

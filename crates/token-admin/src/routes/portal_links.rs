//! Setup-portal links: `POST /admin/v1/tenants/{slug}/portal-links` (for the tenant's own admin) and
//! `POST /admin/v1/portal-links` (operator scope: every tenant; admins only). Body `{"expiresIn"?}`
//! (seconds or a duration such as `"1h"`; default `portal_link_expiry_minutes`, at most 7 days); answer
//! 201 `{"url","expiresAt","scope","tenant"?}`. The URL holds a one-time code: it is returned here only
//! and stored hashed.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use storage::portal::PortalScope;

use super::tokens::ExpiresIn;
use super::{AppState, authorized_tenant, optional_json_body};
use crate::auth::Operator;
use crate::error::AdminError;
use crate::portal::links::{self, PortalLink};

/// The request body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortalLinkRequest {
    pub expires_in: Option<ExpiresIn>,
}

async fn create(
    state: &AppState,
    operator: &Operator,
    scope: PortalScope,
    body: &[u8],
) -> Result<PortalLink, AdminError> {
    let body: PortalLinkRequest = optional_json_body(body)?;
    let expires_in = match &body.expires_in {
        Some(e) => e.to_duration()?,
        None => state.portal.link_default,
    };
    let (now, base, subject) = (
        state.clock.now(),
        state.portal.base.clone(),
        operator.subject.clone(),
    );
    state
        .run(move |s| links::create_link(s, &base, scope, &subject, expires_in, now))
        .await
}

pub async fn create_tenant_link(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let tenant = authorized_tenant(&operator, &path)?;
    let link = create(&state, &operator, PortalScope::Tenant(tenant.clone()), &body).await?;
    let detail = json!({"scope": "tenant", "expiresAt": link.expires_at});
    state
        .audit(&operator, "portal_link.create", &tenant, detail)
        .await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(link))
}

pub async fn create_operator_link(
    state: web::Data<AppState>,
    operator: Operator,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    if !operator.is_admin {
        return Err(AdminError::Forbidden(
            "an operator-scope portal link shows every tenant: only admins may create one".to_owned(),
        ));
    }
    let link = create(&state, &operator, PortalScope::Operator, &body).await?;
    let detail = json!({"scope": "operator", "expiresAt": link.expires_at});
    state
        .audit_on(&operator, "portal_link.create", None, detail)
        .await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(link))
}

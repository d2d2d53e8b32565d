//! `/admin/v1/tenants`: create, list, read, update (display name, policy) and delete tenants.
//!
//! A tenant-scoped operator sees and manages only its own tenant (listing returns just that one); the
//! admin role manages all. Policies are validated on every write by compiling them with
//! `scim_core::policy::TenantPolicy` (the same code `scim-api` enforces them with) and stored in their
//! canonical form, defaults filled in.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use scim_core::TenantId;
use scim_core::policy::TenantPolicy;
use serde::{Deserialize, Serialize};
use serde_json::json;
use service::ErrorContext;
use storage::{NewTenant, Tenant};

use super::{AppState, authorized_tenant, json_body};
use crate::auth::Operator;
use crate::error::AdminError;

/// `POST /admin/v1/tenants` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// The slug: `[a-z0-9][a-z0-9_-]{0,62}`.
    pub id: String,
    pub display_name: Option<String>,
    pub policy: Option<serde_json::Value>,
}

/// `PATCH /admin/v1/tenants/{slug}` body: only the fields present change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchTenantRequest {
    pub display_name: Option<String>,
    pub policy: Option<serde_json::Value>,
}

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    pub id: TenantId,
    pub display_name: String,
    pub base_url: String,
    pub policy: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantView {
    pub fn new(tenant: Tenant, public_base: &str) -> Self {
        Self {
            base_url: service::tenant_base_url(public_base, &tenant.id),
            id: tenant.id,
            display_name: tenant.display_name,
            policy: tenant.policy,
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }
}

const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// A display name must be non-blank and of reasonable length.
pub fn check_display_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(AdminError::BadRequest(format!(
            "displayName must be 1 to {MAX_DISPLAY_NAME_CHARS} characters and not blank"
        )));
    }
    Ok(())
}

/// Validates a policy document and returns its canonical JSON (unknown keys and undefined attributes are
/// a 400 naming them).
pub fn parse_policy(value: &serde_json::Value) -> Result<serde_json::Value, AdminError> {
    let compiled = TenantPolicy::from_json(value)
        .map_err(|e| AdminError::BadRequest(format!("invalid policy: {}", e.detail())))?;
    serde_json::to_value(&compiled.policy)
        .map_err(|e| AdminError::Internal(Box::new(ErrorContext::new("cannot serialise a policy", e))))
}

/// The policy of a tenant created without one.
pub fn default_policy() -> serde_json::Value {
    serde_json::to_value(TenantPolicy::default()).unwrap_or_else(|_| json!({}))
}

pub async fn create_tenant(
    state: web::Data<AppState>,
    operator: Operator,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let body: CreateTenantRequest = json_body(&body)?;
    let id = authorized_tenant(&operator, &body.id)?;
    let display_name = body.display_name.unwrap_or_else(|| id.to_string());
    check_display_name(&display_name)?;
    let policy = parse_policy(&body.policy.unwrap_or_else(|| json!({})))?;
    let new = NewTenant {
        id: id.clone(),
        display_name,
        policy,
    };
    let tenant = state.run(move |s| Ok(s.create_tenant(&new)?)).await?;
    state
        .audit(
            &operator,
            "tenant.create",
            &id,
            json!({"displayName": tenant.display_name}),
        )
        .await;
    Ok(HttpResponse::Created().json(TenantView::new(tenant, &state.public_base)))
}

pub async fn list_tenants(
    state: web::Data<AppState>,
    operator: Operator,
) -> Result<HttpResponse, AdminError> {
    let tenants = state.run(|s| Ok(s.list_tenants()?)).await?;
    let visible: Vec<TenantView> = tenants
        .into_iter()
        .filter(|t| operator.authorize(&t.id).is_ok())
        .map(|t| TenantView::new(t, &state.public_base))
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

pub async fn get_tenant(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = authorized_tenant(&operator, &path)?;
    let tenant = state.run(move |s| Ok(s.get_tenant(&id)?)).await?;
    Ok(HttpResponse::Ok().json(TenantView::new(tenant, &state.public_base)))
}

pub async fn patch_tenant(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let id = authorized_tenant(&operator, &path)?;
    let body: PatchTenantRequest = json_body(&body)?;
    if let Some(name) = &body.display_name {
        check_display_name(name)?;
    }
    let policy = body.policy.as_ref().map(parse_policy).transpose()?;
    let changed = json!({"displayName": body.display_name.is_some(), "policy": policy.is_some()});
    let target = id.clone();
    let tenant = state
        .run(move |s| Ok(s.update_tenant(&target, body.display_name.as_deref(), policy.as_ref())?))
        .await?;
    state.audit(&operator, "tenant.update", &id, changed).await;
    Ok(HttpResponse::Ok().json(TenantView::new(tenant, &state.public_base)))
}

pub async fn delete_tenant(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = authorized_tenant(&operator, &path)?;
    let target = id.clone();
    state.run(move |s| Ok(s.delete_tenant(&target)?)).await?;
    state.audit(&operator, "tenant.delete", &id, json!({})).await;
    Ok(HttpResponse::NoContent().finish())
}

//! LUSID-compatible `PUT /identity/api/identityprovider/scim` (the `AddScim` call in LUSID's Entra guide).
//!
//! It enables SCIM for the *caller's* tenant, taken from the operator JWT's tenant claim: the tenant is
//! created with a default policy if it does not exist, every earlier provisioning (`write`) token is
//! revoked at once (read-only tokens are not the IdP's and stay), and the
//! answer is `{"baseUrl": ..., "apiToken": ...}`, the two values pasted into Entra as Tenant URL and
//! Secret Token. Calling it again therefore regenerates the token, as LUSID's does.

use actix_web::{HttpResponse, web};
use chrono::Duration;
use serde::Serialize;
use serde_json::json;
use storage::{NewTenant, StorageError, TokenScope};

use super::AppState;
use crate::auth::Operator;
use crate::error::AdminError;
use crate::scim_tokens::{self, IssueOptions};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AddScimResponse {
    base_url: String,
    #[serde(serialize_with = "credentials::expose_once")]
    api_token: credentials::PlainToken,
}

pub async fn add_scim(state: web::Data<AppState>, operator: Operator) -> Result<HttpResponse, AdminError> {
    let tenant = operator.tenant.clone().ok_or_else(|| {
        AdminError::BadRequest(
            "AddScim acts on the caller's tenant, but the token has no tenant claim".to_owned(),
        )
    })?;
    let (now, public_base, target) = (state.clock.now(), state.public_base.clone(), tenant.clone());
    let (issued, created) = state
        .run(move |s| {
            let created = match s.get_tenant(&target) {
                Ok(_) => false,
                Err(StorageError::NotFound(_)) => {
                    let new = NewTenant {
                        id: target.clone(),
                        display_name: target.to_string(),
                        policy: super::tenants::default_policy(),
                    };
                    match s.create_tenant(&new) {
                        // Another request created it meanwhile: same outcome.
                        Ok(_) | Err(StorageError::Uniqueness(_)) => true,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            let options = IssueOptions {
                label: Some("AddScim".to_owned()),
                expires_in: None,
                scope: TokenScope::Write,
                rotate: true,
                grace: Duration::zero(),
            };
            Ok((
                scim_tokens::issue_token(s, &target, &options, &public_base, now)?,
                created,
            ))
        })
        .await?;
    state
        .audit(
            &operator,
            "scim.enable",
            &tenant,
            json!({"tokenId": issued.id, "tenantCreated": created}),
        )
        .await;
    let body = AddScimResponse {
        base_url: issued.base_url,
        api_token: issued.api_token,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

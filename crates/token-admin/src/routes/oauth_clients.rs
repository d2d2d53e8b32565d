//! `/admin/v1/tenants/{slug}/oauth-clients`: register (secret returned once), list and revoke OAuth 2.0
//! clients for the client-credentials grant.
//!
//! A client belongs to one tenant; the access tokens it obtains at `/oauth2/token` speak for that tenant
//! only. Revoking a client makes the token endpoint refuse it at once, and `scim-api` rejects the access
//! tokens it already holds as soon as its revocation cache (seconds) sees `revoked_at`
//! (`Storage::find_oauth_client`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use credentials::PlainToken;
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::oauth_clients::{NewOAuthClient, OAuthClientInfo};

use super::{AppState, authorized_tenant, optional_json_body};
use crate::auth::Operator;
use crate::error::AdminError;

const MAX_LABEL_CHARS: usize = 200;

/// `POST` body; may be empty.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClientRequest {
    pub label: Option<String>,
}

/// The registration answer: the only time the secret is shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedClient {
    client_id: String,
    #[serde(serialize_with = "credentials::expose_once")]
    client_secret: PlainToken,
    tenant: String,
    label: Option<String>,
    created_at: DateTime<Utc>,
}

/// A client in listings: never the secret or its hash.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientView {
    client_id: String,
    secret_prefix: String,
    label: Option<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<OAuthClientInfo> for ClientView {
    fn from(info: OAuthClientInfo) -> Self {
        Self {
            client_id: info.client_id,
            secret_prefix: info.secret_prefix,
            label: info.label,
            created_at: info.created_at,
            revoked_at: info.revoked_at,
        }
    }
}

pub async fn create_oauth_client(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let tenant = authorized_tenant(&operator, &path)?;
    if state.access_tokens.is_none() {
        // Its tokens could never be obtained: `/oauth2/token` refuses every request.
        return Err(AdminError::Conflict(
            "OAuth client credentials are off on this server: set oauth_signing_secret \
             (SCIM_OAUTH_SIGNING_SECRET, the same value for token-admin and scim-api) and restart both \
             before registering OAuth clients"
                .to_owned(),
        ));
    }
    let body: CreateClientRequest = optional_json_body(&body)?;
    if body
        .label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(AdminError::BadRequest(format!(
            "label is longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    let secret = PlainToken::generate_client_secret();
    let new = NewOAuthClient {
        client_id: format!("scimclient_{}", uuid::Uuid::new_v4().simple()),
        secret_hash: secret.hash(),
        secret_prefix: secret.display_prefix(),
        label: body.label,
    };
    let (now, target) = (state.clock.now(), tenant.clone());
    let info = state
        .run(move |s| Ok(s.insert_oauth_client(&target, &new, now)?))
        .await?;
    state
        .audit(
            &operator,
            "oauth_client.create",
            &tenant,
            json!({"clientId": info.client_id}),
        )
        .await;
    let created = CreatedClient {
        client_id: info.client_id,
        client_secret: secret,
        tenant: tenant.to_string(),
        label: info.label,
        created_at: info.created_at,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

pub async fn list_oauth_clients(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let tenant = authorized_tenant(&operator, &path)?;
    let clients = state
        .run(move |s| {
            s.get_tenant(&tenant)?;
            Ok(s.list_oauth_clients(&tenant)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(clients.into_iter().map(ClientView::from).collect::<Vec<_>>()))
}

pub async fn revoke_oauth_client(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, client_id) = path.into_inner();
    let tenant = authorized_tenant(&operator, &slug)?;
    let (now, target, id) = (state.clock.now(), tenant.clone(), client_id.clone());
    state
        .run(move |s| Ok(s.revoke_oauth_client(&target, &id, now)?))
        .await?;
    state
        .audit(
            &operator,
            "oauth_client.revoke",
            &tenant,
            json!({"clientId": client_id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

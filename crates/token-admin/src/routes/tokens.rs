//! `/admin/v1/tenants/{slug}/tokens`: issue (returned once), list (metadata only) and revoke SCIM bearer
//! tokens.

use actix_web::{HttpResponse, web};
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;

use super::{AppState, authorized_tenant, optional_json_body};
use crate::auth::Operator;
use crate::error::AdminError;
use crate::scim_tokens::{self, IssueOptions, TokenView};

/// `expiresIn`: seconds, or a duration string such as `"90d"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ExpiresIn {
    Seconds(i64),
    Text(String),
}

impl ExpiresIn {
    pub fn to_duration(&self) -> Result<Duration, AdminError> {
        match self {
            Self::Seconds(s) => Duration::try_seconds(*s)
                .ok_or_else(|| AdminError::BadRequest("expiresIn is out of range".to_owned())),
            Self::Text(t) => scim_tokens::parse_duration(t).map_err(AdminError::BadRequest),
        }
    }
}

/// `POST /admin/v1/tenants/{slug}/tokens` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueTokenRequest {
    pub label: Option<String>,
    pub expires_in: Option<ExpiresIn>,
    /// `write` (the default) or `read`.
    pub scope: Option<String>,
    #[serde(default)]
    pub rotate: bool,
    /// With `rotate`: seconds the previous tokens keep working.
    #[serde(default)]
    pub grace_seconds: u32,
}

pub async fn issue_token(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let tenant = authorized_tenant(&operator, &path)?;
    let body: IssueTokenRequest = optional_json_body(&body)?;
    let options = IssueOptions {
        label: body.label,
        expires_in: body.expires_in.as_ref().map(ExpiresIn::to_duration).transpose()?,
        scope: body
            .scope
            .as_deref()
            .map(scim_tokens::parse_scope)
            .transpose()
            .map_err(AdminError::BadRequest)?
            .unwrap_or_default(),
        rotate: body.rotate,
        grace: Duration::seconds(i64::from(body.grace_seconds)),
    };
    let (rotate, scope) = (options.rotate, options.scope);
    let (now, public_base, target) = (state.clock.now(), state.public_base.clone(), tenant.clone());
    let issued = state
        .run(move |s| scim_tokens::issue_token(s, &target, &options, &public_base, now))
        .await?;
    let detail = json!({
        "tokenId": issued.id,
        "scope": scope.as_str(),
        "rotate": rotate,
        "graceSeconds": body.grace_seconds,
    });
    state.audit(&operator, "token.issue", &tenant, detail).await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(issued))
}

pub async fn list_tokens(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let tenant = authorized_tenant(&operator, &path)?;
    let now = state.clock.now();
    let tokens = state
        .run(move |s| {
            s.get_tenant(&tenant)?;
            Ok(s.list_tokens(&tenant)?)
        })
        .await?;
    let views: Vec<TokenView> = tokens.into_iter().map(|t| TokenView::new(t, now)).collect();
    Ok(HttpResponse::Ok().json(views))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, token_id) = path.into_inner();
    let tenant = authorized_tenant(&operator, &slug)?;
    let (now, target, id) = (state.clock.now(), tenant.clone(), token_id.clone());
    state.run(move |s| Ok(s.revoke_token(&target, &id, now)?)).await?;
    state
        .audit(&operator, "token.revoke", &tenant, json!({"tokenId": token_id}))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

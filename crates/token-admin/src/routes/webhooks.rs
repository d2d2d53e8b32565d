//! `/admin/v1/webhooks`: endpoints that receive the change feed as signed HTTP POSTs (docs/events.md,
//! "Webhooks"): create (the secret is shown once), list, read, change, delete, rotate the secret, send a
//! test event, list recent deliveries.
//!
//! An admin operator sees every endpoint. A tenant-scoped operator sees, creates and changes only
//! endpoints whose tenants are exactly its own tenant; any other endpoint is a 404 to it, as if absent.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use scim_core::TenantId;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use storage::webhooks::{DeliveryInfo, NewWebhookEndpoint, WebhookChanges, WebhookEndpoint};

use super::{AppState, json_body, optional_json_body};
use crate::auth::Operator;
use crate::change_feed::EVENT_TYPES;
use crate::error::AdminError;
use crate::webhooks::sender::Message;
use crate::webhooks::signing::generate_secret;

const MAX_URL_CHARS: usize = 2_000;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest rotation grace: a week is ample to roll a secret out to receivers.
const MAX_GRACE_SECONDS: u64 = 7 * 24 * 3600;
const DEFAULT_DELIVERIES: i64 = 50;
const MAX_DELIVERIES: i64 = 500;

/// `POST /admin/v1/webhooks` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    tenants: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
    description: Option<String>,
}

/// `PATCH` body: absent fields stay; `null` tenants or eventTypes mean all, `null` description clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchWebhook {
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    tenants: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    enabled: Option<bool>,
}

/// `POST .../rotate-secret` body; may be empty.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing next to the new one; 0 or absent: not at all.
    grace_seconds: Option<u64>,
}

/// `GET .../deliveries` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesParams {
    limit: Option<i64>,
}

/// A present field, `null` included, is `Some`; an absent one stays `None` through `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An endpoint as the API shows it: never its secret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookView {
    id: String,
    url: String,
    /// `null`: every tenant.
    tenants: Option<Vec<String>>,
    /// `null`: every event type.
    event_types: Option<Vec<String>>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            tenants: endpoint
                .tenants
                .map(|tenants| tenants.iter().map(|t| t.as_str().to_owned()).collect()),
            event_types: endpoint.event_types,
            description: endpoint.description,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// The creation and rotation answers: the only times the secret is shown.
#[derive(Debug, Serialize)]
struct WithSecret {
    #[serde(flatten)]
    webhook: WebhookView,
    secret: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryView {
    event_id: String,
    event_type: String,
    state: &'static str,
    attempts: i64,
    last_status: Option<i64>,
    latency_ms: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
}

impl From<DeliveryInfo> for DeliveryView {
    fn from(info: DeliveryInfo) -> Self {
        Self {
            event_id: info.event_id,
            event_type: info.event_type,
            state: info.state.as_str(),
            attempts: info.attempts,
            last_status: info.last_status,
            latency_ms: info.last_latency_ms,
            last_error: info.last_error,
            last_attempt_at: info.last_attempt_at,
            next_attempt_at: info.next_attempt_at,
        }
    }
}

fn check_url(url: &str) -> Result<(), AdminError> {
    let bad = |why: &str| Err(AdminError::BadRequest(format!("url {url:?} {why}")));
    if url.chars().count() > MAX_URL_CHARS {
        return bad(&format!("is longer than {MAX_URL_CHARS} characters"));
    }
    let Ok(parsed) = Url::parse(url) else {
        return bad("is not an absolute URL");
    };
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return bad("must be an http or https URL with a host");
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<(), AdminError> {
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(AdminError::BadRequest(format!(
            "description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(())
}

/// The tenant filter an operator may set: a tenant-scoped operator only its own tenant (the default
/// when it names none), an admin any non-empty list or `None` (every tenant).
fn tenant_filter(
    operator: &Operator,
    slugs: Option<Vec<String>>,
    defaulted: bool,
) -> Result<Option<Vec<TenantId>>, AdminError> {
    let tenants = match slugs {
        None if defaulted && !operator.is_admin => operator.tenant.clone().map(|t| vec![t]),
        None => None,
        Some(slugs) if slugs.is_empty() => {
            return Err(AdminError::BadRequest(
                "tenants must name at least one tenant; omit it (or send null) for every tenant".to_owned(),
            ));
        }
        Some(slugs) => Some(
            slugs
                .iter()
                .map(|slug| TenantId::parse(slug).map_err(|e| AdminError::BadRequest(e.detail().to_owned())))
                .collect::<Result<BTreeSet<_>, _>>()?
                .into_iter()
                .collect::<Vec<_>>(),
        ),
    };
    if !operator.is_admin && (tenants.is_none() || tenants != operator.tenant.clone().map(|t| vec![t])) {
        return Err(AdminError::Forbidden(
            "a tenant-scoped operator may only manage webhooks of exactly its own tenant".to_owned(),
        ));
    }
    Ok(tenants)
}

fn type_filter(types: Option<Vec<String>>) -> Result<Option<Vec<String>>, AdminError> {
    let Some(types) = types else {
        return Ok(None);
    };
    if types.is_empty() {
        return Err(AdminError::BadRequest(
            "eventTypes must name at least one type; omit it (or send null) for every type".to_owned(),
        ));
    }
    for name in &types {
        if !EVENT_TYPES.contains(&name.as_str()) {
            return Err(AdminError::BadRequest(format!(
                "unknown event type {name:?}; the types are {}",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    Ok(Some(types))
}

/// Whether the operator may see the endpoint.
fn visible(operator: &Operator, endpoint: &WebhookEndpoint) -> bool {
    operator.is_admin
        || (operator.tenant.is_some() && endpoint.tenants == operator.tenant.clone().map(|t| vec![t]))
}

/// The endpoint, or 404 when it does not exist or the operator may not see it.
async fn visible_endpoint(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<WebhookEndpoint, AdminError> {
    let target = id.to_owned();
    let endpoint = state.run(move |s| Ok(s.get_webhook(&target)?)).await?;
    if !visible(operator, &endpoint) {
        return Err(AdminError::NotFound(format!("webhook {id} not found")));
    }
    Ok(endpoint)
}

/// The audit log's tenant of an endpoint: its one tenant, if it has exactly one.
fn audit_tenant(endpoint: &WebhookEndpoint) -> Option<TenantId> {
    match endpoint.tenants.as_deref() {
        Some([tenant]) => Some(tenant.clone()),
        _ => None,
    }
}

fn no_store(status: actix_web::http::StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// `POST /admin/v1/webhooks`
pub async fn create_webhook(
    state: web::Data<AppState>,
    operator: Operator,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let body: CreateWebhook = json_body(&body)?;
    check_url(&body.url)?;
    check_description(body.description.as_deref())?;
    let new = NewWebhookEndpoint {
        id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
        url: body.url,
        description: body.description,
        tenants: tenant_filter(&operator, body.tenants, true)?,
        event_types: type_filter(body.event_types)?,
        secret: generate_secret(),
    };
    let secret = new.secret.clone();
    let now = state.clock.now();
    let endpoint = state.run(move |s| Ok(s.create_webhook(&new, now)?)).await?;
    state
        .audit_on(
            &operator,
            "webhook.create",
            audit_tenant(&endpoint),
            json!({"webhookId": endpoint.id, "url": endpoint.url}),
        )
        .await;
    Ok(no_store(
        actix_web::http::StatusCode::CREATED,
        &WithSecret {
            webhook: endpoint.into(),
            secret,
        },
    ))
}

/// `GET /admin/v1/webhooks`
pub async fn list_webhooks(
    state: web::Data<AppState>,
    operator: Operator,
) -> Result<HttpResponse, AdminError> {
    let endpoints = state.run(|s| Ok(s.list_webhooks()?)).await?;
    let views: Vec<WebhookView> = endpoints
        .into_iter()
        .filter(|endpoint| visible(&operator, endpoint))
        .map(WebhookView::from)
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// `GET /admin/v1/webhooks/{id}`
pub async fn get_webhook(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let endpoint = visible_endpoint(&state, &operator, &path).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(endpoint)))
}

/// `PATCH /admin/v1/webhooks/{id}`
pub async fn patch_webhook(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let body: PatchWebhook = json_body(&body)?;
    visible_endpoint(&state, &operator, &path).await?;
    if let Some(url) = &body.url {
        check_url(url)?;
    }
    check_description(body.description.clone().flatten().as_deref())?;
    let changes = WebhookChanges {
        url: body.url,
        description: body.description,
        tenants: body
            .tenants
            .map(|tenants| tenant_filter(&operator, tenants, false))
            .transpose()?,
        event_types: body.event_types.map(type_filter).transpose()?,
        enabled: body.enabled,
    };
    let detail = json!({
        "webhookId": path.as_str(),
        "changed": {
            "url": changes.url.is_some(),
            "description": changes.description.is_some(),
            "tenants": changes.tenants.is_some(),
            "eventTypes": changes.event_types.is_some(),
            "enabled": changes.enabled,
        },
    });
    let (id, now) = (path.into_inner(), state.clock.now());
    let endpoint = state
        .run(move |s| Ok(s.update_webhook(&id, &changes, now)?))
        .await?;
    state
        .audit_on(&operator, "webhook.update", audit_tenant(&endpoint), detail)
        .await;
    Ok(HttpResponse::Ok().json(WebhookView::from(endpoint)))
}

/// `DELETE /admin/v1/webhooks/{id}`: the endpoint and its pending deliveries.
pub async fn delete_webhook(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let endpoint = visible_endpoint(&state, &operator, &path).await?;
    let id = path.into_inner();
    let target = id.clone();
    state.run(move |s| Ok(s.delete_webhook(&target)?)).await?;
    state
        .audit_on(
            &operator,
            "webhook.delete",
            audit_tenant(&endpoint),
            json!({"webhookId": id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/v1/webhooks/{id}/rotate-secret`
pub async fn rotate_secret(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let body: RotateSecret = optional_json_body(&body)?;
    let grace = body.grace_seconds.unwrap_or(0);
    if grace > MAX_GRACE_SECONDS {
        return Err(AdminError::BadRequest(format!(
            "graceSeconds must be at most {MAX_GRACE_SECONDS} (7 days), not {grace}"
        )));
    }
    visible_endpoint(&state, &operator, &path).await?;
    let now = state.clock.now();
    let grace_until = (grace > 0).then(|| now + chrono::Duration::seconds(i64::try_from(grace).unwrap_or(0)));
    let secret = generate_secret();
    let (id, new_secret) = (path.into_inner(), secret.clone());
    let endpoint = state
        .run(move |s| Ok(s.rotate_webhook_secret(&id, &new_secret, grace_until, now)?))
        .await?;
    state
        .audit_on(
            &operator,
            "webhook.rotate_secret",
            audit_tenant(&endpoint),
            json!({"webhookId": endpoint.id, "graceSeconds": grace}),
        )
        .await;
    Ok(no_store(
        actix_web::http::StatusCode::OK,
        &WithSecret {
            webhook: endpoint.into(),
            secret,
        },
    ))
}

/// `POST /admin/v1/webhooks/{id}/test`: one synthetic, signed `webhook.test` event, sent now (also to a
/// disabled endpoint, to check it before enabling it again); answers how the attempt went.
pub async fn test_webhook(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let endpoint = visible_endpoint(&state, &operator, &path).await?;
    let now = state.clock.now();
    let (id, at) = (endpoint.id.clone(), now);
    let secrets = state
        .run(move |s| Ok(s.webhook_signing_secrets(&id, at)?))
        .await?;
    let event_id = uuid::Uuid::now_v7().to_string();
    let body = json!({
        "id": event_id,
        "type": "webhook.test",
        "tenant": audit_tenant(&endpoint).map(|t| t.as_str().to_owned()),
        "sequence": Value::Null,
        "occurredAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "resourceType": Value::Null,
        "resourceId": Value::Null,
        "requestId": Value::Null,
        "data": {"webhookId": endpoint.id},
    })
    .to_string();
    let attempt = state
        .webhook_sender
        .send(
            Message {
                url: &endpoint.url,
                id: &event_id,
                body: body.as_bytes(),
                secrets: &secrets,
            },
            now,
        )
        .await;
    Ok(HttpResponse::Ok().json(json!({
        "eventId": event_id,
        "delivered": attempt.error.is_none(),
        "status": attempt.status,
        "latencyMs": attempt.latency_ms,
        "error": attempt.error,
    })))
}

/// `GET /admin/v1/webhooks/{id}/deliveries?limit=`: the newest deliveries first.
pub async fn list_deliveries(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    params: web::Query<DeliveriesParams>,
) -> Result<HttpResponse, AdminError> {
    let limit = params.limit.unwrap_or(DEFAULT_DELIVERIES);
    if !(1..=MAX_DELIVERIES).contains(&limit) {
        return Err(AdminError::BadRequest(format!(
            "limit must be between 1 and {MAX_DELIVERIES}, not {limit}"
        )));
    }
    visible_endpoint(&state, &operator, &path).await?;
    let id = path.into_inner();
    let deliveries = state.run(move |s| Ok(s.list_deliveries(&id, limit)?)).await?;
    Ok(HttpResponse::Ok().json(deliveries.into_iter().map(DeliveryView::from).collect::<Vec<_>>()))
}

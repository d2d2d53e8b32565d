//! `GET /admin/v1/events` and `GET /admin/v1/tenants/{slug}/events`: the change feed by cursor
//! (docs/events.md). A tenant-scoped operator sees only its tenant's events.

use actix_web::{HttpResponse, web};
use scim_core::TenantId;
use serde::Deserialize;
use serde_json::{Value, json};
use storage::feed::{EventQuery, EventsRead};

use super::{AppState, authorized_tenant};
use crate::auth::Operator;
use crate::change_feed::{EVENT_TYPES, decode_cursor, encode_cursor, event_json};
use crate::error::AdminError;

/// Events per page when `limit` is absent.
const DEFAULT_LIMIT: i64 = 100;
/// Largest page.
const MAX_LIMIT: i64 = 1_000;

/// Query parameters of both routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// A `nextCursor`, or `latest` for the current end of the feed.
    after: Option<String>,
    limit: Option<i64>,
    tenant: Option<String>,
    /// Comma-separated event types.
    types: Option<String>,
}

/// `GET /admin/v1/events`
pub async fn list_events(
    state: web::Data<AppState>,
    operator: Operator,
    params: web::Query<EventsParams>,
) -> Result<HttpResponse, AdminError> {
    let params = params.into_inner();
    let tenant = match (&params.tenant, operator.is_admin) {
        (Some(slug), _) => Some(authorized_tenant(&operator, slug)?),
        (None, true) => None,
        // A tenant-scoped operator's feed is its own tenant's.
        (None, false) => match &operator.tenant {
            Some(tenant) => Some(tenant.clone()),
            None => {
                return Err(AdminError::Forbidden(
                    "this operator has no tenant: pass ?tenant=<slug>".to_owned(),
                ));
            }
        },
    };
    read_page(&state, tenant, params).await
}

/// `GET /admin/v1/tenants/{slug}/events`
pub async fn list_tenant_events(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    params: web::Query<EventsParams>,
) -> Result<HttpResponse, AdminError> {
    let tenant = authorized_tenant(&operator, &path)?;
    let params = params.into_inner();
    if params
        .tenant
        .as_deref()
        .is_some_and(|slug| slug != tenant.as_str())
    {
        return Err(AdminError::BadRequest(
            "the tenant parameter names another tenant than the path".to_owned(),
        ));
    }
    let target = tenant.clone();
    state.run(move |s| Ok(s.get_tenant(&target).map(|_| ())?)).await?;
    read_page(&state, Some(tenant), params).await
}

async fn read_page(
    state: &AppState,
    tenant: Option<TenantId>,
    params: EventsParams,
) -> Result<HttpResponse, AdminError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {limit}"
        )));
    }
    let types = parse_types(params.types.as_deref())?;
    let after = match params.after.as_deref() {
        None => None,
        Some("latest") => Some(state.run(|s| Ok(s.feed_head()?)).await?),
        Some(cursor) => Some(decode_cursor(cursor)?),
    };
    let query = EventQuery {
        after,
        limit,
        tenant,
        types,
    };
    let read = state.run(move |s| Ok(s.read_events(&query)?)).await?;
    let page = match read {
        EventsRead::Page(page) => page,
        EventsRead::Expired { .. } => {
            return Err(AdminError::CursorExpired(
                "the cursor points before events that retention (events_retention_days) has deleted: \
                 resynchronise by reading the tenant's users and groups through the SCIM API (a read \
                 token), after taking a new cursor with ?after=latest, then continue from that cursor"
                    .to_owned(),
            ));
        }
    };
    let data: Vec<Value> = page
        .events
        .iter()
        .map(|event| event_json(event, &state.public_base))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "data": data,
        "nextCursor": encode_cursor(page.next_after),
        "hasMore": page.has_more,
    })))
}

fn parse_types(types: Option<&str>) -> Result<Vec<String>, AdminError> {
    let Some(types) = types else {
        return Ok(Vec::new());
    };
    types
        .split(',')
        .map(str::trim)
        .map(|name| {
            if EVENT_TYPES.contains(&name) {
                Ok(name.to_owned())
            } else {
                Err(AdminError::BadRequest(format!(
                    "unknown event type {name:?}; the types are {}",
                    EVENT_TYPES.join(", ")
                )))
            }
        })
        .collect()
}

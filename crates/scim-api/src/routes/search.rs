//! `POST /.search` at the tenant root (RFC 7644 §3.4.3): one result set over Users then Groups.
//! A filter attribute that one resource type does not have simply matches nothing of that type.

use actix_web::{HttpRequest, HttpResponse, web};
use scim_core::ResourceKind;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, SCIM_JSON};
use crate::operations::{self, Ctx, ListRequest};
use crate::render;
use crate::request::{self, QueryParams};
use crate::state::AppState;

pub async fn search_all(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = request::json_body(&req, payload, &state.config).await?;
    let list = ListRequest::parse(&QueryParams::from_search_body(&body)?, &state)?;
    let ctx = Ctx { state, caller };

    let mut resources_out: Vec<Value> = Vec::new();
    let mut total = 0u64;
    let mut first_error: Option<ApiError> = None;
    let mut answered = false;
    // Position of the page start within the combined sequence still to skip.
    let mut skip = list.start_index.saturating_sub(1);
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let remaining = list.count.saturating_sub(resources_out.len() as u64);
        let typed = ListRequest {
            start_index: skip + 1,
            count: remaining,
            ..list.clone()
        };
        match operations::query(&ctx, kind, &typed).await {
            Ok(page) => {
                answered = true;
                total += page.total_results;
                skip = skip.saturating_sub(page.total_results);
                resources_out.extend(
                    page.resources
                        .iter()
                        .map(|r| render::present(&ctx, r, &list.projection)),
                );
            }
            Err(ApiError::Scim(scim_core::ScimError::InvalidFilter(detail))) => {
                first_error.get_or_insert(ApiError::Scim(scim_core::ScimError::InvalidFilter(detail)));
            }
            Err(other) => return Err(other),
        }
    }
    if !answered && let Some(error) = first_error {
        return Err(error);
    }
    let body = render::list_response(total, list.start_index, resources_out);
    Ok(HttpResponse::Ok().content_type(SCIM_JSON).json(body))
}

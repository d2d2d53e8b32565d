//! `POST /.search` at the tenant root (RFC 7644 §3.4.3): one result set over Users then Groups.
//! A filter attribute that one resource type does not have simply matches nothing of that type.
//!
//! Index pages skip across the two types by their totals. Cursor pages (RFC 9865) continue in the type
//! their cursor names: a page that fills up inside a type points at the next resource of that type, one
//! that fills up exactly as the Users end points at the start of the Groups. Only the first page of a
//! cursor walk carries `totalResults`, as for a single type.

use actix_web::{HttpRequest, HttpResponse, web};
use scim_core::ResourceKind;
use serde_json::Value;

use crate::auth::Caller;
use crate::cursor::Cursor;
use crate::error::{ApiError, ApiResult, SCIM_JSON};
use crate::operations::{self, Ctx, ListRequest};
use crate::render::{self, ListPage};
use crate::request::{self, Page, QueryParams};
use crate::state::AppState;
use crate::streamed::{self, MemberFields, MemberHoles};

/// The order the combined result set lists the types in.
const KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

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
    // The result set holds Users and Groups alike.
    let fields = MemberFields::of(&ctx, None, &list.projection);
    let mut holes = MemberHoles::default();
    let mut total = Some(0u64);
    let mut next_cursor = None;
    let mut first_error: Option<ApiError> = None;
    let mut answered = false;
    // Index pages: position of the page start within the combined sequence still to skip.
    let mut skip = match list.page {
        Page::Index(start_index) => start_index.saturating_sub(1),
        Page::Cursor(_) => 0,
    };
    // Cursor pages: the walk resumes in the cursor's type; the types before it are done.
    let resume = match &list.page {
        Page::Cursor(Some(cursor)) => Some(cursor),
        Page::Index(_) | Page::Cursor(None) => None,
    };
    let first = resume.map_or(0, |c| KINDS.iter().position(|k| *k == c.kind).unwrap_or(0));
    for kind in KINDS.into_iter().skip(first) {
        let remaining = list.count.saturating_sub(resources_out.len() as u64);
        let (page, count) = match &list.page {
            Page::Index(_) => (Page::Index(skip + 1), remaining),
            Page::Cursor(_) => {
                let full = next_cursor.is_some() || (remaining == 0 && list.count > 0);
                if full && next_cursor.is_none() {
                    // Full exactly as the previous type ended: the next page starts this one.
                    next_cursor = Some(Cursor { kind, after: None });
                }
                match (full, resume) {
                    // The first page of a walk still counts the types it did not reach.
                    (true, None) => (Page::Cursor(None), 0),
                    (true, Some(_)) => break,
                    (false, _) => (
                        Page::Cursor(Some(Cursor {
                            kind,
                            after: resume.filter(|c| c.kind == kind).and_then(|c| c.after.clone()),
                        })),
                        remaining,
                    ),
                }
            }
        };
        let typed = ListRequest {
            page,
            count,
            ..list.clone()
        };
        match operations::query(&ctx, kind, &typed).await {
            Ok(page) => {
                answered = true;
                total = total.zip(page.total_results).map(|(sum, more)| sum + more);
                skip = skip.saturating_sub(page.total_results.unwrap_or_default());
                resources_out.extend(
                    page.resources
                        .iter()
                        .map(|r| render::present_streamed(&ctx, r, &list.projection, fields, &mut holes)),
                );
                if let Some(after) = page.next {
                    next_cursor = Some(Cursor {
                        kind,
                        after: Some(after),
                    });
                }
            }
            Err(ApiError::Scim(scim_core::ScimError::InvalidFilter(detail))) => {
                first_error.get_or_insert(ApiError::Scim(scim_core::ScimError::InvalidFilter(detail)));
            }
            Err(other) => return Err(other),
        }
    }
    // A resumed walk was started by a page that answered, so its filter fits some type: a type that
    // refuses it here (Groups for `userName sw ...`) just has no matches.
    if !answered
        && resume.is_none()
        && let Some(error) = first_error
    {
        return Err(error);
    }
    if resume.is_some() {
        // A resumed walk's Group part may have been counted from its start, but the Users were not.
        total = None;
    }
    let body = render::list_response(ListPage {
        total,
        start_index: list.page.start_index(),
        next_cursor: next_cursor.as_ref().map(Cursor::encode),
        resources: resources_out,
    });
    let mut builder = HttpResponse::Ok();
    builder.content_type(SCIM_JSON);
    Ok(streamed::respond(builder, &ctx, fields, &body, holes))
}

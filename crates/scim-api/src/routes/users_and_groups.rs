//! Handlers for `/Users` and `/Groups`. The resource type comes from the scope's app data, so one set of
//! thin handlers serves both; the work happens in [`crate::operations`], the JSON in [`crate::render`].

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use scim_core::projection::Projection;
use scim_core::{ResourceId, ResourceKind};
use serde_json::Value;
use service::ResourceRoutes;

use crate::auth::{Caller, Provisioner};
use crate::cursor::Cursor;
use crate::error::{ApiResult, SCIM_JSON};
use crate::operations::{self, Ctx, ListRequest};
use crate::render::{self, ListPage};
use crate::request::{self, QueryParams, etag, if_match, if_none_match_hits};
use crate::state::AppState;
use crate::streamed::{self, MemberFields, MemberHoles};

/// Registers the resource endpoints of one type under the current scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        ResourceRoutes::new("")
            .route(Method::GET, list_resources)
            .route(Method::POST, create_resource)
            .finish::<Caller>(),
    )
    .service(
        ResourceRoutes::new("/.search")
            .route(Method::POST, search_resources)
            .finish::<Caller>(),
    )
    .service(
        ResourceRoutes::new("/{id}")
            .route(Method::GET, get_resource)
            .route(Method::PUT, replace_resource)
            .route(Method::PATCH, patch_resource)
            .route(Method::DELETE, delete_resource)
            .finish::<Caller>(),
    );
}

/// A resource response with its ETag and SCIM media type.
fn resource_response(status: actix_web::http::StatusCode, version: i64, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_JSON)
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// A resource response (ETag, SCIM media type) whose group members are streamed.
fn streamed_resource_response(
    ctx: &Ctx,
    status: actix_web::http::StatusCode,
    stored: &storage::StoredResource,
    projection: &Projection,
) -> HttpResponse {
    let fields = MemberFields::of(ctx, Some(stored.kind), projection);
    let mut holes = MemberHoles::default();
    let body = render::present_streamed(ctx, stored, projection, fields, &mut holes);
    let mut builder = HttpResponse::build(status);
    builder
        .content_type(SCIM_JSON)
        .insert_header((header::ETAG, etag(stored.version)));
    streamed::respond(builder, ctx, fields, &body, holes)
}

/// The id in the path. Ids never contain NUL (we mint UUIDs, and bodies with NUL are refused), and
/// PostgreSQL rejects it in a query parameter, so such an id is simply not found.
fn resource_id(id: String) -> ApiResult<ResourceId> {
    if id.contains('\0') {
        return Err(scim_core::ScimError::NotFound("no resource has an id containing NUL".to_owned()).into());
    }
    Ok(ResourceId::new(id))
}

fn projection(req: &HttpRequest) -> ApiResult<Projection> {
    let params = QueryParams::from_request(req)?;
    Ok(Projection::parse(
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    )?)
}

async fn list_resources(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
) -> ApiResult<HttpResponse> {
    let list = ListRequest::parse(&QueryParams::from_request(&req)?, &state)?;
    respond_list(Ctx { state, caller }, **kind, &list).await
}

async fn search_resources(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = request::json_body(&req, payload, &state.config).await?;
    let list = ListRequest::parse(&QueryParams::from_search_body(&body)?, &state)?;
    respond_list(Ctx { state, caller }, **kind, &list).await
}

async fn respond_list(ctx: Ctx, kind: ResourceKind, list: &ListRequest) -> ApiResult<HttpResponse> {
    let page = operations::query(&ctx, kind, list).await?;
    let fields = MemberFields::of(&ctx, Some(kind), &list.projection);
    let mut holes = MemberHoles::default();
    let resources = page
        .resources
        .iter()
        .map(|r| render::present_streamed(&ctx, r, &list.projection, fields, &mut holes))
        .collect();
    let body = render::list_response(ListPage {
        total: page.total_results,
        start_index: list.page.start_index(),
        next_cursor: page.next.map(|after| {
            Cursor {
                kind,
                after: Some(after),
            }
            .encode()
        }),
        resources,
    });
    let mut builder = HttpResponse::Ok();
    builder.content_type(SCIM_JSON);
    Ok(streamed::respond(builder, &ctx, fields, &body, holes))
}

async fn create_resource(
    req: HttpRequest,
    Provisioner(caller): Provisioner,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = request::json_body(&req, payload, &state.config).await?;
    let projection = projection(&req)?;
    let ctx = Ctx { state, caller };
    let stored = operations::create(&ctx, **kind, &body).await?;
    let location = render::location(&ctx, stored.kind, &stored.id);
    let rendered = render::present(&ctx, &stored, &projection);
    let mut response = resource_response(actix_web::http::StatusCode::CREATED, stored.version, &rendered);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn get_resource(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
    id: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let projection = projection(&req)?;
    let ctx = Ctx { state, caller };
    let expand = operations::expand_for(&ctx, **kind, &projection);
    let stored = operations::get(&ctx, **kind, resource_id(id.into_inner().1)?, expand).await?;
    if if_none_match_hits(&req, stored.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(stored.version)))
            .finish());
    }
    Ok(streamed_resource_response(
        &ctx,
        actix_web::http::StatusCode::OK,
        &stored,
        &projection,
    ))
}

/// What PUT and PATCH read before they write.
struct WriteRequest {
    body: Value,
    projection: Projection,
    expected_version: Option<i64>,
    id: ResourceId,
}

impl WriteRequest {
    async fn read(
        req: &HttpRequest,
        state: &AppState,
        id: web::Path<(String, String)>,
        payload: web::Payload,
    ) -> ApiResult<Self> {
        Ok(Self {
            body: request::json_body(req, payload, &state.config).await?,
            projection: projection(req)?,
            expected_version: if_match(req)?,
            id: resource_id(id.into_inner().1)?,
        })
    }
}

async fn replace_resource(
    req: HttpRequest,
    Provisioner(caller): Provisioner,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
    id: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let write = WriteRequest::read(&req, &state, id, payload).await?;
    let ctx = Ctx { state, caller };
    let stored = operations::replace(&ctx, **kind, write.id, write.expected_version, write.body).await?;
    respond_after_write(&ctx, stored, &write.projection).await
}

async fn patch_resource(
    req: HttpRequest,
    Provisioner(caller): Provisioner,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
    id: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let write = WriteRequest::read(&req, &state, id, payload).await?;
    let ctx = Ctx { state, caller };
    let kind = **kind;
    let stored = operations::patch(&ctx, kind, write.id, write.expected_version, &write.body).await?;
    if kind == ResourceKind::Group {
        // Entra expects 204 for group PATCH; answering with the member list would cost O(members).
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, etag(stored.version)))
            .finish());
    }
    respond_after_write(&ctx, stored, &write.projection).await
}

/// 200 with the resource, loading linked lists only if the projection asks for them.
async fn respond_after_write(
    ctx: &Ctx,
    stored: storage::StoredResource,
    projection: &Projection,
) -> ApiResult<HttpResponse> {
    let expand = operations::expand_for(ctx, stored.kind, projection);
    let stored = if expand.groups {
        operations::get(ctx, stored.kind, stored.id.clone(), expand).await?
    } else {
        stored
    };
    Ok(streamed_resource_response(
        ctx,
        actix_web::http::StatusCode::OK,
        &stored,
        projection,
    ))
}

async fn delete_resource(
    req: HttpRequest,
    Provisioner(caller): Provisioner,
    state: web::Data<AppState>,
    kind: web::Data<ResourceKind>,
    id: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let ctx = Ctx { state, caller };
    operations::delete(&ctx, **kind, resource_id(id.into_inner().1)?, expected).await?;
    Ok(HttpResponse::NoContent().finish())
}

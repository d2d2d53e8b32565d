//! Discovery (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and `Schemas`, generated from the
//! tenant's schema registry (including its custom extensions) and this server's limits.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use scim_core::discovery;
use serde_json::{Value, json};
use service::ResourceRoutes;

use crate::auth::Caller;
use crate::error::{ApiResult, SCIM_JSON};
use crate::render::{ListPage, list_response};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        ResourceRoutes::new("/ServiceProviderConfig")
            .route(Method::GET, get_service_provider_config)
            .finish::<Caller>(),
    )
    .service(
        ResourceRoutes::new("/ResourceTypes")
            .route(Method::GET, list_resource_types)
            .finish::<Caller>(),
    )
    .service(
        ResourceRoutes::new("/ResourceTypes/{name}")
            .route(Method::GET, get_resource_type)
            .finish::<Caller>(),
    )
    .service(
        ResourceRoutes::new("/Schemas")
            .route(Method::GET, list_schemas)
            .finish::<Caller>(),
    )
    .service(
        ResourceRoutes::new("/Schemas/{id}")
            .route(Method::GET, get_schema)
            .finish::<Caller>(),
    );
}

/// Advertised as `cursorTimeout`, the least time a cursor stays valid. Cursors hold no server state and
/// never expire (see [`crate::cursor`]); a day is the promise clients may plan with.
const CURSOR_TIMEOUT_SECS: u64 = 86_400;

fn scim_ok(body: &Value) -> HttpResponse {
    HttpResponse::Ok().content_type(SCIM_JSON).json(body)
}

async fn get_service_provider_config(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let config = &state.config;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": config.bulk_max_operations,
            "maxPayloadSize": config.bulk_max_payload_bytes,
        },
        "filter": {"supported": true, "maxResults": config.page_size_max},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        // RFC 9865 §4. Index stays the default: IdPs page with startIndex and expect it.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": config.page_size_default,
            "maxPageSize": config.page_size_max,
            "cursorTimeout": CURSOR_TIMEOUT_SECS,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a tenant's Secret Token (or an OAuth 2.0 client-credentials access token) in the Authorization header.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", caller.base_url),
        },
    });
    Ok(scim_ok(&body))
}

async fn list_resource_types(caller: Caller) -> ApiResult<HttpResponse> {
    let types = discovery::resource_type_resources(&caller.policy.registry, &caller.base_url);
    Ok(scim_ok(&list_response(ListPage::all(types))))
}

async fn get_resource_type(caller: Caller, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    let name = path.into_inner().1;
    discovery::resource_type_resource(&caller.policy.registry, &name, &caller.base_url)
        .map(|body| scim_ok(&body))
        .ok_or_else(|| scim_core::ScimError::NotFound(format!("resource type {name} not found")).into())
}

async fn list_schemas(caller: Caller) -> ApiResult<HttpResponse> {
    let schemas = discovery::schema_resources(&caller.policy.registry, &caller.base_url);
    Ok(scim_ok(&list_response(ListPage::all(schemas))))
}

async fn get_schema(caller: Caller, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    let urn = path.into_inner().1;
    discovery::schema_resource(&caller.policy.registry, &urn, &caller.base_url)
        .map(|body| scim_ok(&body))
        .ok_or_else(|| scim_core::ScimError::NotFound(format!("schema {urn} not found")).into())
}

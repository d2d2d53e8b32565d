//! The URL space: `/scim/v2/{tenant}/...` for SCIM, plus `/healthz`, `/readyz` and `/metrics` outside it.
//! Unknown paths and unsupported methods answer with SCIM Error bodies too.

mod bulk;
mod discovery;
mod search;
mod users_and_groups;

use actix_web::{HttpResponse, web};
use scim_core::{ResourceKind, ScimError};

use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{tenant}")
            .service(
                web::scope("/Users")
                    .app_data(web::Data::new(ResourceKind::User))
                    .configure(users_and_groups::configure),
            )
            .service(
                web::scope("/Groups")
                    .app_data(web::Data::new(ResourceKind::Group))
                    .configure(users_and_groups::configure),
            )
            .service(
                web::resource("/.search")
                    .route(web::post().to(search::search_all))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Bulk")
                    .route(web::post().to(bulk::post_bulk))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(web::resource("/Me").to(me))
            .configure(discovery::configure),
    );
}

/// Authenticates first (every answer under a tenant's URL needs its token), then 405.
pub async fn method_not_allowed(_caller: crate::auth::Caller) -> ApiResult<HttpResponse> {
    Err(ApiError::MethodNotAllowed)
}

/// RFC 7644 §3.11: tokens here authenticate a client (the IdP), not a user, so there is no "me".
/// Authenticated like every tenant endpoint.
async fn me(_caller: crate::auth::Caller) -> ApiResult<HttpResponse> {
    Err(ApiError::NotImplemented(
        "/Me is not supported: tokens identify a provisioning client, not a user",
    ))
}

pub async fn not_found() -> ApiResult<HttpResponse> {
    Err(ScimError::NotFound("no such endpoint".to_owned()).into())
}

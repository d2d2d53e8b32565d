//! The URL space: `/scim/v2/{tenant}/...` for SCIM, plus `/healthz`, `/readyz` and `/metrics` outside it.
//! Unknown paths and unsupported methods answer with SCIM Error bodies too. Each resource lists its methods
//! once ([`ResourceRoutes`]); any other method is a 405 with `Allow`, after authentication under a
//! tenant's URL (every answer there needs that tenant's token).

mod bulk;
pub mod canonical_path;
mod discovery;
mod search;
mod users_and_groups;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use scim_core::{ResourceKind, ScimError};
use service::ResourceRoutes;

use crate::auth::Caller;
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
                ResourceRoutes::new("/.search")
                    .route(Method::POST, search::search_all)
                    .finish::<Caller>(),
            )
            .service(
                ResourceRoutes::new("/Bulk")
                    .route(Method::POST, bulk::post_bulk)
                    .finish::<Caller>(),
            )
            .service(web::resource("/Me").to(me))
            .configure(discovery::configure),
    );
}

/// RFC 7644 §3.11: tokens here authenticate a client (the IdP), not a user, so there is no "me".
/// Authenticated like every tenant endpoint.
async fn me(_caller: Caller) -> ApiResult<HttpResponse> {
    Err(ApiError::NotImplemented(
        "/Me is not supported: tokens identify a provisioning client, not a user",
    ))
}

pub async fn not_found() -> ApiResult<HttpResponse> {
    Err(ScimError::NotFound("no such endpoint".to_owned()).into())
}

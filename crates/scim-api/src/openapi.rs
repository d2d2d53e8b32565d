//! `GET /openapi.json`: the hand-maintained OpenAPI 3 description of this service (`openapi.json` beside
//! `Cargo.toml`), served as is. It lives outside the tenant space and needs no token, like `/healthz`.
//! A test in `tests/api/isolation.rs` checks that it parses and lists exactly the routes the server answers.

use actix_web::HttpResponse;

/// Where the document is served.
pub const PATH: &str = "/openapi.json";

/// The document, embedded at build time.
pub const DOCUMENT: &str = include_str!("../openapi.json");

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(DOCUMENT)
}

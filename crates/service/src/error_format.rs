//! Errors actix-web raises before a handler runs, in the service's own error format.
//!
//! An extractor that cannot read the path, query or body, a body over the payload limit, or a method the
//! resource does not serve ([`crate::routing::MethodNotAllowed`]) become `actix_web::Error`s that render
//! as plain text. [`render_framework_errors`] re-renders every error response the service did not render
//! itself, keeping its status and `Allow` header, so a client sees one error format whatever refused it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// How a service writes its error answers.
pub trait ErrorFormat: 'static {
    /// The service rendered this error itself: its answer is already in the format.
    fn is_own(error: &Error) -> bool;

    /// The service's answer to a framework rejection with this status; `detail` is the framework's
    /// message. Server errors must keep `detail` out of the answer.
    fn framework_error(status: StatusCode, detail: String) -> HttpResponse;
}

/// Middleware: re-renders framework errors with `F`. Register it inside the request-logging middleware
/// (`App::wrap` it first), so the access log sees the final answer.
pub async fn render_framework_errors<F: ErrorFormat>(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let response = next.call(req).await?;
    let Some(error) = response.response().error().filter(|e| !F::is_own(e)) else {
        return Ok(response.map_into_left_body());
    };
    let mut rendered = F::framework_error(error.as_response_error().status_code(), error.to_string());
    if let Some(allow) = response.headers().get(header::ALLOW) {
        rendered.headers_mut().insert(header::ALLOW, allow.clone());
    }
    Ok(response.into_response(rendered).map_into_right_body())
}

//! Errors actix-web raises before a handler runs, in the service's own error format.
//!
//! An extractor that cannot read the path, query or body, a body over the payload limit, or a method the
//! resource does not serve ([`crate::routing::MethodNotAllowed`]) become `actix_web::Error`s that render
//! as plain text. [`render_framework_errors`] re-renders every error response the service did not render
//! itself, keeping its status and `Allow` header, so a client sees one error format whatever refused it.
//! It also answers requests whose target no repair could make a valid URI
//! ([`crate::request_target::UNREPAIRABLE_TARGET`]) or that holds raw spaces
//! ([`crate::request_target::SPACED_TARGET`]) with a 400 in that format, where actix would have sent a
//! bare 400.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::request_target::{SPACED_TARGET, UNREPAIRABLE_TARGET};

/// The answer's detail for a request target that is no valid URI even with its unsafe bytes encoded.
const UNREPAIRABLE_DETAIL: &str =
    "the request target is not a valid URI (over 64 KiB, or a malformed absolute URI), even percent-encoded";

/// How a service writes its error answers.
pub trait ErrorFormat: 'static {
    /// The service rendered this error itself: its answer is already in the format.
    fn is_own(error: &Error) -> bool;

    /// The service's answer to a framework rejection with this status; `detail` is the framework's
    /// message. Server errors must keep `detail` out of the answer.
    fn framework_error(status: StatusCode, detail: String) -> HttpResponse;
}

/// The answer's detail for a request target with raw spaces (RFC 9112 §3.2: refused, not corrected).
const SPACED_DETAIL: &str = "the request target contains raw spaces: percent-encode them as %20 \
     (for example ?filter=userName%20eq%20%22bjensen%22)";

/// Middleware: re-renders framework errors with `F`, and answers [`UNREPAIRABLE_TARGET`] and
/// [`SPACED_TARGET`] with a 400 in `F` before any route sees them. Register it inside the request-logging middleware
/// (`App::wrap` it first), so the access log sees the final answer.
pub async fn render_framework_errors<F: ErrorFormat>(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let refused_target = match req.path() {
        UNREPAIRABLE_TARGET => Some(UNREPAIRABLE_DETAIL),
        SPACED_TARGET => Some(SPACED_DETAIL),
        _ => None,
    };
    if let Some(detail) = refused_target {
        let rendered = F::framework_error(StatusCode::BAD_REQUEST, detail.to_owned());
        return Ok(req.into_response(rendered).map_into_right_body());
    }
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

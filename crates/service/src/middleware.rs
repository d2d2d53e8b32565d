//! One middleware for request ids, request logging and metrics, so every request is counted and logged
//! exactly once with the same id.
//!
//! The id comes from `X-Request-Id` when the caller (usually the reverse proxy) sent a sane one, otherwise a
//! new UUID. It is stored in the request extensions as [`RequestId`], set on the request span (so every
//! log line of the request carries it) and echoed in the response. Only method, route pattern, path,
//! status and latency are logged: never headers (Authorization), never query strings (filters hold
//! personal data).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use crate::metrics::Metrics;

/// The request id header, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, available to handlers through the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Marks a 5xx response that is the expected answer, not a failure of the request (`/readyz` reporting
/// that the service is not ready): its access-log line is `request completed` at INFO, not an ERROR.
#[derive(Debug, Clone, Copy)]
pub struct AnswerNotFailure;

/// Accepts a caller's id only if it is short and plain, so it cannot inject into logs or headers.
fn sanitized_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    plain.then(|| value.to_owned())
}

/// Request id + span + access log + metrics. Register with `App::wrap(from_fn(observe))` and
/// `app_data(web::Data<Metrics>)`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let id = sanitized_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let route = req.match_pattern();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        path = tracing::field::Empty,
        tenant = tracing::field::Empty,
    );
    // Every answer's line names the path (never the query, which holds filters with personal data).
    span.record("path", req.path());
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    let outcome = next.call(req).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut response = outcome?;
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, seconds);
    }
    let failed = status >= 500
        && response
            .response()
            .extensions()
            .get::<AnswerNotFailure>()
            .is_none();
    span.in_scope(|| {
        if failed {
            tracing::error!(status, latency_ms = seconds * 1000.0, "request failed");
        } else {
            tracing::info!(status, latency_ms = seconds * 1000.0, "request completed");
        }
    });
    Ok(response)
}

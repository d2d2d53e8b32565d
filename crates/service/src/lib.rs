//! HTTP plumbing shared by `scim-api` and `token-admin`: the HTTP server (with the connection adapter that
//! repairs request targets), settings, telemetry, the request-id/log/metrics middleware, health endpoints,
//! the clock, running blocking work with the request's span, graceful shutdown, and what a process says
//! when it starts.
//! Nothing SCIM-specific lives here.

pub mod clock;
pub mod error_context;
pub mod error_format;
pub mod health;
pub mod http_server;
pub mod metrics;
pub mod middleware;
pub mod public_url;
pub mod request_target;
pub mod routing;
pub mod settings;
pub mod startup;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

use actix_web::dev::ServerHandle;
use actix_web::{HttpResponse, web};

pub use clock::Clock;
pub use error_context::{BoxError, ErrorContext};
pub use health::Health;
pub use metrics::Metrics;
pub use middleware::RequestId;
pub use routing::ResourceRoutes;
pub use settings::{Settings, SqliteSynchronousSetting};

/// Runs blocking work (diesel) on actix's blocking pool inside the caller's tracing span.
/// A panic in `f` comes back as `Err(BlockingError)`, never as a crashed worker.
pub async fn blocking<F, R>(f: F) -> Result<R, actix_web::error::BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(f)).await
}

/// The SCIM Tenant URL of `tenant` under `origin` (scheme, host, optional path prefix):
/// `<origin>/scim/v2/<tenant>`. scim-api serves it; token-admin and `--bootstrap-tenant` hand it out.
pub fn tenant_base_url(origin: &str, tenant: impl std::fmt::Display) -> String {
    format!("{}/scim/v2/{tenant}", origin.trim_end_matches('/'))
}

/// `/metrics` handler. prometheus-client writes the OpenMetrics text format (it ends with `# EOF`), so
/// that is the media type: a scraper that trusted `text/plain; version=0.0.4` would parse it as the
/// older Prometheus format.
pub async fn metrics_endpoint(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(metrics::OPENMETRICS_CONTENT_TYPE)
        .body(metrics.render())
}

/// Waits for SIGTERM or Ctrl-C, then marks the service as draining (`/readyz` answers 503), keeps serving
/// for `drain` so load balancers that poll readiness can stop routing here, and stops the server
/// gracefully: no new connections, in-flight requests finish within the configured shutdown timeout.
pub async fn shutdown_on_signal(handle: ServerHandle, health: Health, drain: std::time::Duration) {
    wait_for_signal().await;
    tracing::info!(
        drain_seconds = drain.as_secs(),
        "shutdown signal received; draining"
    );
    health.start_draining();
    tokio::time::sleep(drain).await;
    handle.stop(true).await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ignored = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ignored = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::tenant_base_url;

    #[test]
    fn base_url_has_no_double_slash() {
        assert_eq!(
            tenant_base_url("https://scim.example/", "acme"),
            "https://scim.example/scim/v2/acme"
        );
    }
}

//! Prometheus metrics with `prometheus-client`: request counts and latency histograms by method, route
//! pattern (never the raw path, which would explode cardinality with ids) and status. Services register
//! their own families (per-tenant operations, pool gauges) in the same registry.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type of [`Metrics::render`]'s output (OpenMetrics 1.0 text).
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the HTTP request metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// The registry plus the HTTP families every service records.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register("http_requests", "HTTP requests served", http_requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_duration.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            http_requests,
            http_duration,
        }
    }

    /// Registers another metric (called at start-up).
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// Records one finished request. A method outside HTTP's registered set is counted as `other`, so
    /// junk methods cannot create series without bound.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        const KNOWN: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
        ];
        let method = if KNOWN.contains(&method) { method } else { "other" };
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&labels).observe(seconds);
    }

    /// The OpenMetrics text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _infallible = encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.observe("GET", "/scim/v2/{tenant}/Users", 200, 0.002);
        let text = metrics.render();
        assert!(
            text.contains(
                "http_requests_total{method=\"GET\",route=\"/scim/v2/{tenant}/Users\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let metrics = Metrics::new();
        for junk in ["FOO", "BAR", "get"] {
            metrics.observe(junk, "unmatched", 405, 0.001);
        }
        let text = metrics.render();
        assert!(
            text.contains("http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 3"),
            "{text}"
        );
        assert!(!text.contains("FOO") && !text.contains("BAR"), "{text}");
    }
}

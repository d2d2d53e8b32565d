//! Liveness and readiness. `/healthz` answers while the process runs; `/readyz` answers 200 only when the
//! service's own check passes (database reachable, migrations applied) and the process is not draining.
//!
//! Probes come every few seconds, so readiness is logged when it changes (not ready, with the reason;
//! ready again), not on every probe; a failing probe's 503 is its answer, not a failed request
//! ([`AnswerNotFailure`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::middleware::AnswerNotFailure;
use crate::routing::ResourceRoutes;

/// A readiness check, run on the blocking pool (it may touch the database).
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Shared state of the health endpoints.
#[derive(Clone)]
pub struct Health {
    draining: Arc<AtomicBool>,
    check: ReadinessCheck,
    /// The outcome of the previous readiness check (`None` before the first one), so that only changes
    /// are logged.
    last_outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("draining", &self.is_draining())
            .finish_non_exhaustive()
    }
}

impl Health {
    pub fn new(check: ReadinessCheck) -> Self {
        Self {
            draining: Arc::new(AtomicBool::new(false)),
            check,
            last_outcome: Arc::new(Mutex::new(None)),
        }
    }

    /// Marks the process as shutting down: readiness fails from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Adds `/healthz` and `/readyz` to an app.
    pub fn configure(cfg: &mut web::ServiceConfig) {
        cfg.service(
            ResourceRoutes::new("/healthz")
                .route(Method::GET, healthz)
                .finish::<()>(),
        )
        .service(
            ResourceRoutes::new("/readyz")
                .route(Method::GET, readyz)
                .finish::<()>(),
        );
    }

    /// Logs `outcome` if it differs from the previous check's: not ready (with the reason, or a new
    /// reason), or ready.
    fn log_if_changed(&self, outcome: &Result<(), String>) {
        let mut last = self.last_outcome.lock().unwrap_or_else(PoisonError::into_inner);
        if last.as_ref() == Some(outcome) {
            return;
        }
        match outcome {
            Ok(()) => tracing::info!("ready"),
            Err(reason) => tracing::warn!(%reason, "not ready"),
        }
        *last = Some(outcome.clone());
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(health: web::Data<Health>) -> HttpResponse {
    if health.is_draining() {
        return not_ready(json!({"status": "draining"}));
    }
    let check = health.check.clone();
    let outcome = web::block(move || check())
        .await
        .unwrap_or_else(|_| Err("the readiness check panicked".to_owned()));
    health.log_if_changed(&outcome);
    match outcome {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(reason) => not_ready(json!({"status": "unavailable", "reason": reason})),
    }
}

/// A 503 that answers the probe: the request itself did not fail.
fn not_ready(body: serde_json::Value) -> HttpResponse {
    let mut response = HttpResponse::ServiceUnavailable().json(body);
    response.extensions_mut().insert(AnswerNotFailure);
    response
}

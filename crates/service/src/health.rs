//! Liveness and readiness. `/healthz` answers while the process runs; `/readyz` answers 200 only when the
//! service's own check passes (database reachable, migrations applied) and the process is not draining.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};
use serde_json::json;

/// A readiness check, run on the blocking pool (it may touch the database).
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Shared state of the health endpoints.
#[derive(Clone)]
pub struct Health {
    draining: Arc<AtomicBool>,
    check: ReadinessCheck,
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
        cfg.route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz));
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(health: web::Data<Health>) -> HttpResponse {
    if health.is_draining() {
        return HttpResponse::ServiceUnavailable().json(json!({"status": "draining"}));
    }
    let check = health.check.clone();
    match web::block(move || check()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "not ready");
            HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "reason": reason}))
        }
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable"})),
    }
}

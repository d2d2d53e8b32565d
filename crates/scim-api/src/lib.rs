#![doc = include_str!("../README.md")]

pub mod auth;
pub mod bootstrap;
pub mod cursor;
pub mod error;
pub mod openapi;
pub mod operations;
pub mod render;
pub mod request;
pub mod request_log;
pub mod routes;
pub mod state;
pub mod streamed;
pub mod urls;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use service::error_format::render_framework_errors;
use service::http_server::ServerOptions;
use service::{Clock, Health, Metrics, ResourceRoutes, Settings};
use storage::Storage;
use storage::feed::FeedSequencer;
use storage::open::{OpenOptions, Opened};

use crate::error::ApiError;
use crate::state::{ApiMetrics, AppState};

/// How often pending token last-used times are written.
const TOKEN_USE_FLUSH_INTERVAL: Duration = Duration::from_secs(15);

/// A built, bound, not yet running SCIM service.
pub struct Application {
    port: u16,
    server: Server,
    health: Health,
    state: web::Data<AppState>,
    /// Writes the portal's request log, fed by the `request_log::record` middleware.
    request_log: request_log::RequestLogWriter,
    /// Positions the change-feed events this process's writes commit.
    sequencer: FeedSequencer,
    /// How long to keep serving with readiness failing after SIGTERM.
    drain: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the database (applying migrations unless disabled) and binds the listener.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let opened = open_storage(settings).await?;
        Self::build_with(settings, opened.storage, Clock::system())
    }

    /// Like [`Application::build`] with an existing storage handle and clock (tests).
    pub fn build_with(settings: &Settings, storage: Storage, clock: Clock) -> anyhow::Result<Self> {
        Self::build_on(bind(&settings.listen)?, settings, storage, clock)
    }

    /// Builds the service on a listener bound beforehand (see [`bind`]).
    pub fn build_on(
        listener: TcpListener,
        settings: &Settings,
        storage: Storage,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let api_metrics = ApiMetrics::register(&metrics, settings.metrics_per_tenant);
        let address = listener.local_addr()?;
        let state = web::Data::new(AppState::new(
            storage.clone(),
            settings,
            address,
            api_metrics,
            clock,
        )?);
        let sequencer = storage
            .start_feed_sequencer()
            .context("cannot start the change-feed sequencer thread")?;
        let readiness_storage = storage;
        let health = Health::new(std::sync::Arc::new(move || {
            readiness_storage.ping().map_err(|e| e.full_message())?;
            match readiness_storage
                .pending_migrations()
                .map_err(|e| e.full_message())?
            {
                0 => Ok(()),
                n => Err(format!("{n} database migrations pending")),
            }
        }));
        let (recorder, request_log) = request_log::channel(state.storage.clone(), &metrics);
        // Off (`portal_request_log = false`): no recorder, so the middleware records nothing and the writer
        // stops at once.
        let recorder = settings.portal_request_log.then(|| web::Data::new(recorder));
        let app_state = state.clone();
        let app_health = web::Data::new(health.clone());
        let app_metrics = web::Data::new(metrics);
        let options = ServerOptions {
            workers: None,
            max_blocking_threads: Some(blocking_threads_per_worker(settings.database_pool_size)),
            shutdown_timeout_seconds: settings.shutdown_timeout_seconds,
        };
        let server = service::http_server::serve(listener, options, move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(app_health.clone())
                .app_data(app_metrics.clone())
                .configure(|cfg| {
                    if let Some(recorder) = recorder.clone() {
                        cfg.app_data(recorder);
                    }
                })
                .wrap(from_fn(routes::canonical_path::canonical_path))
                .wrap(from_fn(render_framework_errors::<ApiError>))
                .wrap(from_fn(request_log::record))
                .wrap(from_fn(service::middleware::observe))
                .configure(Health::configure)
                .service(
                    ResourceRoutes::new("/metrics")
                        .route(Method::GET, metrics_endpoint)
                        .finish::<()>(),
                )
                .service(
                    ResourceRoutes::new(openapi::PATH)
                        .route(Method::GET, openapi::serve)
                        .finish::<()>(),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })?;
        Ok(Self {
            port: address.port(),
            server,
            health,
            state,
            request_log,
            sequencer,
            drain: Duration::from_secs(settings.shutdown_drain_seconds),
        })
    }

    /// The bound port (useful with `listen = 127.0.0.1:0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (tests that run it on their own thread stop it when they end).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/Ctrl-C, then drains gracefully and writes pending token last-used times.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(service::shutdown_on_signal(
            handle,
            self.health.clone(),
            self.drain,
        ));
        let flusher = self.state.clone();
        let flush_task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(TOKEN_USE_FLUSH_INTERVAL);
            loop {
                interval.tick().await;
                let state = flusher.clone();
                let _ignored = service::blocking(move || {
                    state.flush_token_uses();
                    state.prune_limiters();
                })
                .await;
            }
        });
        let poller = self.state.clone();
        let revocation_task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(state::REVOCATION_POLL_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let state = poller.clone();
                let _ignored = service::blocking(move || state.poll_revocations()).await;
            }
        });
        // SQLite's statistics are installed by the migrations; only PostgreSQL's need refreshing.
        let statistics_task = (self.state.storage.backend() == storage::Backend::Postgres)
            .then(|| tokio::spawn(refresh_planner_statistics(self.state.storage.clone())));
        let (stop_log, log_stopped) = tokio::sync::oneshot::channel();
        let log_task = tokio::spawn(request_log::run_writer(self.request_log, log_stopped));
        let result = self.server.await;
        flush_task.abort();
        revocation_task.abort();
        if let Some(task) = statistics_task {
            task.abort();
        }
        let _ignored = stop_log.send(());
        let _ignored = log_task.await;
        let state = self.state.clone();
        let sequencer = self.sequencer;
        let _ignored = service::blocking(move || {
            state.flush_token_uses();
            // Stops after positioning what the last requests wrote.
            drop(sequencer);
        })
        .await;
        result
    }
}

/// How often PostgreSQL's planner statistics are checked (`Storage::refresh_planner_statistics`): a
/// tenant's first sync must not run for a minute on plans made for an empty table.
const PLANNER_STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// Every [`PLANNER_STATISTICS_INTERVAL`], `Storage::refresh_planner_statistics` on the blocking pool.
async fn refresh_planner_statistics(storage: Storage) {
    let mut interval = tokio::time::interval(PLANNER_STATISTICS_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let storage = storage.clone();
        match service::blocking(move || storage.refresh_planner_statistics()).await {
            Ok(Ok(tables)) if !tables.is_empty() => {
                tracing::info!(?tables, "refreshed the planner statistics");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e.full_message(), "cannot refresh the planner statistics");
            }
            Err(e) => tracing::warn!(error = %e, "cannot refresh the planner statistics"),
        }
    }
}

/// Blocking threads per actix worker: as many as the database pool has connections. A storage call
/// holds its blocking thread while it waits for a connection (or, on SQLite, for its turn to write), so
/// threads beyond that only park, each with its own stack (actix's default is 512 shared by the
/// workers).
fn blocking_threads_per_worker(database_pool_size: u32) -> usize {
    usize::try_from(database_pool_size).unwrap_or(usize::MAX).max(2)
}

/// Binds the SCIM listener. Done before anything is handed out (`--bootstrap-tenant`'s token), so a busy
/// port stops start-up first. The error names the setting to change.
pub fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen} (the listen setting, SCIM_LISTEN)"))
}

/// Opens the database on the blocking pool (diesel is synchronous). With `run_migrations`, a missing
/// SQLite file is created and pending migrations are applied; without, either stops start-up.
pub async fn open_storage(settings: &Settings) -> anyhow::Result<Opened> {
    let url = settings.database_url.expose_secret().to_owned();
    let options = OpenOptions {
        pool_size: settings.database_pool_size,
        create_missing: settings.run_migrations,
        apply_migrations: settings.run_migrations,
        tuning: storage::ConnectionTuning {
            sqlite_synchronous: match settings.sqlite_synchronous {
                service::SqliteSynchronousSetting::Full => storage::SqliteSynchronous::Full,
                service::SqliteSynchronousSetting::Normal => storage::SqliteSynchronous::Normal,
            },
            statement_timeout_ms: settings.database_statement_timeout_ms,
        },
    };
    Ok(tokio::task::spawn_blocking(move || Storage::open(&url, options)).await??)
}

/// `/metrics`: pool gauges are sampled at scrape time.
async fn metrics_endpoint(metrics: web::Data<Metrics>, state: web::Data<AppState>) -> HttpResponse {
    let pool = state.storage.pool_state();
    state.metrics.pool_connections.set(i64::from(pool.connections));
    state.metrics.pool_idle.set(i64::from(pool.idle));
    service::metrics_endpoint(metrics).await
}

//! Building and running the admin HTTP server.
//!
//! Strategy (z2p's `Application`): [`Application::build`] does everything that can fail (settings checks,
//! database connection and migrations, binding the socket) and returns a server that is not yet running,
//! with the port it actually bound, so tests listen on `127.0.0.1:0` and read the port back. Once bound it
//! logs the start-up line (`token-admin listening`: version, database, public URL, address, OAuth mode).
//! [`Application::run_until_stopped`] serves until SIGTERM/Ctrl-C, then drains (readiness fails, in-flight
//! requests finish within `shutdown_timeout_seconds`). It also runs the change feed's sequencer and
//! retention and, unless `webhook_worker` is off, the webhook delivery worker.

use std::net::{SocketAddr, TcpListener};

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use credentials::{AccessTokenError, AccessTokenIssuer};
use secrecy::ExposeSecret as _;
use service::error_format::render_framework_errors;
use service::http_server::ServerOptions;
use service::startup::StartupLine;
use service::{Clock, Health, Metrics, ResourceRoutes, Settings};
use storage::Storage;
use storage::feed::FeedSequencer;
use storage::open::{OpenError, OpenOptions, Opened};
use storage::webhooks::RetryPolicy;

use crate::auth::{AuthConfigError, OperatorAuthenticator};
use crate::error::AdminError;
use crate::jwks::JwksPolicy;
use crate::routes::{self, AppState};
use crate::webhooks::WebhookOptions;
use crate::webhooks::sender::Sender;
use crate::webhooks::worker::{WebhookMetrics, Worker};

/// Largest accepted request body (policies with extension schemas are the largest).
const MAX_BODY_BYTES: usize = 256 * 1024;
/// The admin API sees little traffic; two workers keep it responsive without many threads.
const WORKERS: usize = 2;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    OperatorAuth(#[from] AuthConfigError),
    #[error("oauth_signing_secret")]
    SigningSecret(#[source] AccessTokenError),
    #[error("cannot build the webhook HTTP client")]
    WebhookClient(#[source] reqwest::Error),
    #[error("start-up task failed")]
    StartupTask(#[source] tokio::task::JoinError),
    /// The message names the database and what to do.
    #[error(transparent)]
    Database(#[from] OpenError),
    /// Names the setting to change.
    #[error("cannot listen on {address} (the portal_listen setting, SCIM_PORTAL_LISTEN)")]
    PortalListen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// Names the setting to change.
    #[error("cannot listen on {address} (the admin_listen setting, SCIM_ADMIN_LISTEN)")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Knobs that are not settings: the clock, the JWKS refresh policy and webhook timings (tests shorten
/// them).
#[derive(Debug, Clone)]
pub struct Options {
    pub clock: Clock,
    pub jwks: JwksPolicy,
    pub webhooks: WebhookOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Clock::system(),
            jwks: JwksPolicy::default(),
            webhooks: WebhookOptions::default(),
        }
    }
}

/// Opens the database of `serve`: with `run_migrations`, a missing SQLite file is created and pending
/// migrations are applied; without, either stops start-up.
fn open_storage(settings: &Settings) -> Result<Opened, OpenError> {
    Storage::open(
        settings.database_url.expose_secret(),
        OpenOptions {
            pool_size: settings.database_pool_size,
            create_missing: settings.run_migrations,
            apply_migrations: settings.run_migrations,
            tuning: storage::ConnectionTuning {
                sqlite_synchronous: match settings.sqlite_synchronous {
                    service::SqliteSynchronousSetting::Full => storage::SqliteSynchronous::Full,
                    service::SqliteSynchronousSetting::Normal => storage::SqliteSynchronous::Normal,
                },
                statement_timeout_ms: 0,
            },
        },
    )
}

/// The access-token issuer, when the OAuth client-credentials mode is configured.
pub fn access_token_issuer(settings: &Settings) -> Result<Option<AccessTokenIssuer>, StartupError> {
    let Some(secret) = &settings.oauth_signing_secret else {
        return Ok(None);
    };
    let ttl = i64::try_from(settings.oauth_token_ttl_seconds)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| StartupError::Config("oauth_token_ttl_seconds is out of range".to_owned()))?;
    AccessTokenIssuer::new(secret, ttl)
        .map(Some)
        .map_err(StartupError::SigningSecret)
}

/// `token-admin listening`, the one start-up line of `serve`.
fn log_start_up(opened: &Opened, public_url: &str, address: SocketAddr, oauth_enabled: bool) {
    StartupLine {
        message: "token-admin listening",
        version: env!("CARGO_PKG_VERSION"),
        backend: opened.location.backend().as_str(),
        database: &opened.location.to_string(),
        migrations_applied: opened.migrations_applied,
        public_url,
        listen: Some(address),
        oauth: Some(oauth_enabled),
    }
    .log();
}

/// The portal on its own listener: `/portal/` and the health endpoints, nothing of the admin API.
fn serve_portal(
    address: &str,
    options: ServerOptions,
    portal: web::Data<crate::portal::PortalState>,
    metrics: web::Data<Metrics>,
    health: web::Data<Health>,
) -> Result<(u16, actix_web::dev::Server), StartupError> {
    let failed = |source| StartupError::PortalListen {
        address: address.to_owned(),
        source,
    };
    let listener = TcpListener::bind(address).map_err(failed)?;
    let port = listener.local_addr().map_err(failed)?.port();
    let server = service::http_server::serve(listener, options, move || {
        App::new()
            .wrap(from_fn(service::middleware::observe))
            .app_data(metrics.clone())
            .app_data(health.clone())
            .configure(Health::configure)
            .configure(crate::portal::configure(portal.clone()))
            .default_service(web::to(crate::portal::pages::not_found))
    })
    .map_err(failed)?;
    tracing::info!(listen = %address, port, "portal listening");
    Ok((port, server))
}

/// A bound, not yet running admin server.
pub struct Application {
    port: u16,
    storage: Storage,
    health: Health,
    server: actix_web::dev::Server,
    /// The portal's own listener (`portal_listen`), when configured.
    portal: Option<(u16, actix_web::dev::Server)>,
    /// Positions pending change-feed events (written by any process) and serves retention.
    sequencer: FeedSequencer,
    /// The webhook delivery worker, unless `webhook_worker` is off.
    webhook_worker: Option<Worker>,
    clock: Clock,
    retention_days: u32,
    /// Portal sessions idle this long are pruned.
    portal_idle: chrono::Duration,
    /// How long to keep serving with readiness failing after SIGTERM.
    drain: std::time::Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the service from settings with the system clock.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Options::default()).await
    }

    /// Builds the service with explicit [`Options`].
    pub async fn build_with(settings: Settings, options: Options) -> Result<Self, StartupError> {
        let authenticator = OperatorAuthenticator::from_settings(&settings, options.jwks)?;
        let access_tokens = access_token_issuer(&settings)?;
        let oauth_enabled = access_tokens.is_some();
        let opened = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || open_storage(&settings))
                .await
                .map_err(StartupError::StartupTask)??
        };
        let storage = opened.storage.clone();
        let listen_failed = |source| StartupError::Listen {
            address: settings.admin_listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.admin_listen).map_err(listen_failed)?;
        let address = listener.local_addr().map_err(listen_failed)?;
        let port = address.port();
        if !oauth_enabled && opened.active_oauth_clients > 0 {
            tracing::warn!(
                clients = opened.active_oauth_clients,
                "OAuth clients exist but oauth_signing_secret is unset: /oauth2/token is not served, so they \
                 cannot get access tokens; set the same oauth_signing_secret as scim-api"
            );
        }
        let public_base = settings.tenant_url_origin(None);
        let sequencer = storage.start_feed_sequencer().map_err(|e| {
            StartupError::Config(format!("cannot start the change-feed sequencer thread: {e}"))
        })?;

        let readiness_storage = storage.clone();
        let health = Health::new(std::sync::Arc::new(move || {
            readiness_storage
                .ping()
                .map_err(|e| format!("database: {}", e.full_message()))?;
            match readiness_storage.pending_migrations() {
                Ok(0) => Ok(()),
                Ok(n) => Err(format!("{n} database migrations pending")),
                Err(e) => Err(format!("database: {}", e.full_message())),
            }
        }));
        let sender = Sender::new(settings.webhook_allow_private_targets, options.webhooks.timeout)
            .map_err(StartupError::WebhookClient)?;
        let metrics = Metrics::new();
        let webhook_worker = settings.webhook_worker.then(|| Worker {
            storage: storage.clone(),
            sender: sender.clone(),
            clock: options.clock.clone(),
            metrics: WebhookMetrics::register(&metrics),
            public_base: public_base.as_str().to_owned(),
            policy: options
                .webhooks
                .retry
                .clone()
                .unwrap_or_else(|| RetryPolicy::standard(settings.webhook_retry_hours)),
            poll_interval: options.webhooks.poll_interval,
            lease: options.webhooks.lease,
        });
        let portal_config = crate::portal::PortalConfig::from_settings(&settings, public_base.as_str())
            .map_err(StartupError::Config)?;
        let trusted_proxies = settings
            .trusted_proxy_nets()
            .map_err(|e| StartupError::Config(e.to_string()))?;
        let portal_state = web::Data::from(
            crate::portal::PortalState::new(
                storage.clone(),
                options.clock.clone(),
                portal_config.clone(),
                trusted_proxies,
            )
            .map_err(StartupError::Config)?,
        );
        let state = web::Data::new(AppState {
            storage: storage.clone(),
            portal: portal_config,
            public_base: public_base.as_str().to_owned(),
            clock: options.clock.clone(),
            access_tokens,
            webhook_sender: sender,
        });
        let authenticator = web::Data::new(authenticator);
        let metrics = web::Data::new(metrics);
        let health_data = web::Data::new(health.clone());
        let server_options = ServerOptions {
            workers: Some(WORKERS),
            max_blocking_threads: None,
            shutdown_timeout_seconds: settings.shutdown_timeout_seconds,
        };
        // With `portal_listen`, the portal has a listener of its own and the admin listener does not serve
        // it; otherwise it is under `/portal/` on the admin listener.
        let portal = match &settings.portal_listen {
            Some(address) => Some(serve_portal(
                address,
                server_options,
                portal_state.clone(),
                metrics.clone(),
                health_data.clone(),
            )?),
            None => None,
        };
        let portal_on_admin = portal.is_none().then(|| portal_state.clone());
        let server = service::http_server::serve(listener, server_options, move || {
            App::new()
                .wrap(from_fn(render_framework_errors::<AdminError>))
                .wrap(from_fn(service::middleware::observe))
                .app_data(state.clone())
                .app_data(authenticator.clone())
                .app_data(metrics.clone())
                .app_data(health_data.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(Health::configure)
                .service(
                    ResourceRoutes::new("/metrics")
                        .route(Method::GET, service::metrics_endpoint)
                        .finish::<()>(),
                )
                .configure(routes::configure)
                .configure(|cfg| {
                    if let Some(portal) = portal_on_admin.clone() {
                        crate::portal::configure(portal)(cfg);
                    }
                })
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(AdminError::NotFound("no such route".to_owned()))
                }))
        })
        .map_err(listen_failed)?;
        log_start_up(&opened, &public_base.to_string(), address, oauth_enabled);
        Ok(Self {
            port,
            storage,
            health,
            server,
            portal,
            sequencer,
            webhook_worker,
            clock: options.clock,
            retention_days: settings.events_retention_days,
            portal_idle: chrono::Duration::minutes(i64::from(settings.portal_session_idle_minutes)),
            drain: std::time::Duration::from_secs(settings.shutdown_drain_seconds),
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the portal's own listener, when `portal_listen` is set.
    pub fn portal_port(&self) -> Option<u16> {
        self.portal.as_ref().map(|(port, _)| *port)
    }

    /// A handle to stop the server (tests stop it when they end); the portal's listener stops with it.
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The storage the service uses (tests inspect the database through it).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Serves until a shutdown signal, then drains.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(service::shutdown_on_signal(handle, self.health, self.drain));
        let portal_pruning = tokio::spawn(crate::portal::run_pruning(
            self.storage.clone(),
            self.clock.clone(),
            self.portal_idle,
        ));
        let retention = tokio::spawn(crate::change_feed::run_retention(
            self.storage.clone(),
            self.clock,
            self.retention_days,
        ));
        let webhooks = self
            .webhook_worker
            .map(|worker| tokio::spawn(crate::webhooks::worker::run(worker)));
        let portal = self.portal.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        if let Some((handle, task)) = portal {
            handle.stop(true).await;
            let _ignored = task.await;
        }
        retention.abort();
        portal_pruning.abort();
        // Deliveries in flight are made again once their lease expires.
        if let Some(webhooks) = webhooks {
            webhooks.abort();
        }
        let sequencer = self.sequencer;
        let _ignored = service::blocking(move || drop(sequencer)).await;
        result
    }
}

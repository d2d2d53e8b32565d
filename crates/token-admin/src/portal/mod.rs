//! The setup portal (`docs/portal.md`): the page a customer's IT admin opens from a setup link to get the
//! Tenant URL and a Secret Token, see whether their identity provider has connected, and read what we
//! answered to its recent requests; and the operator view of every tenant for the vendor's staff.
//!
//! | route | what |
//! |---|---|
//! | `GET /portal/start?code=…` | trades a one-time setup link for a session cookie (rate limited) |
//! | `GET /portal/` | a tenant session: its page; an operator session: the tenant list |
//! | `GET /portal/t/{slug}` | a tenant's page |
//! | `POST /portal/t/{slug}/tokens` | generate / regenerate the Secret Token (rotation) |
//! | `POST /portal/t/{slug}/tokens/{id}/revoke` | revoke a token |
//! | `POST /portal/logout` | end the session |
//! | `GET /portal/assets/{file}` | the stylesheet and script, embedded, named by content hash |
//!
//! Strategy: server-rendered HTML (askama templates compiled into the binary), plain form posts, and
//! one small script for copy buttons and confirmations; nothing loads from elsewhere. Every answer
//! carries a strict `Content-Security-Policy` (no inline script, framing only by
//! `portal_frame_ancestors`). Every handler resolves the session first and checks the tenant in the URL
//! against it ([`session::PortalSession::may_access`]); a tenant it may not see is a 404, like one that
//! does not exist. Every POST checks the form's CSRF token before anything else. Tokens are issued through
//! [`crate::scim_tokens::issue_token`] with `rotate`, the same single transaction as the admin API's
//! rotation; the new token is rendered into the answer of the POST (never stored, never in a URL) with
//! `Cache-Control: no-store`. Portal actions are written to the admin audit log as operator
//! `portal:<tenant>` or `portal:operator`.

pub mod links;
pub mod pages;
pub mod session;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpRequest, web};
use chrono::Duration;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use service::{Clock, Settings};
use storage::Storage;

/// Setup-link exchanges allowed per client address: a burst of this many, refilled one per
/// [`EXCHANGE_REFILL_SECONDS`].
const EXCHANGE_BURST: u32 = 10;
const EXCHANGE_REFILL_SECONDS: u64 = 6;

/// What the portal needs from the settings, read once.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Public base of the portal, without `/portal` (setup links are built on it).
    pub base: String,
    /// Public origin of scim-api, for Tenant URLs.
    pub scim_base: String,
    /// `Secure` cookies: the portal's public URL is https.
    pub secure_cookie: bool,
    /// Origins allowed to frame the portal.
    pub frame_ancestors: Vec<String>,
    pub idle: Duration,
    pub max_age: Duration,
    pub link_default: Duration,
}

impl PortalConfig {
    pub fn from_settings(settings: &Settings, scim_base: &str) -> Result<Self, String> {
        let base = settings.portal_base();
        Ok(Self {
            secure_cookie: base.starts_with("https://"),
            base,
            scim_base: scim_base.trim_end_matches('/').to_owned(),
            frame_ancestors: settings.portal_frame_origins().map_err(|e| e.to_string())?,
            idle: Duration::minutes(i64::from(settings.portal_session_idle_minutes)),
            max_age: Duration::hours(i64::from(settings.portal_session_max_hours)),
            link_default: Duration::minutes(i64::from(settings.portal_link_expiry_minutes)),
        })
    }

    /// The `Content-Security-Policy` of every portal answer.
    fn content_security_policy(&self) -> String {
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        )
    }
}

/// Shared state of the portal's handlers.
pub struct PortalState {
    pub storage: Storage,
    pub clock: Clock,
    pub config: PortalConfig,
    /// Setup-link exchanges per client address.
    exchange_limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<ipnet::IpNet>,
    csp: HeaderValue,
}

impl std::fmt::Debug for PortalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PortalState {
    pub fn new(
        storage: Storage,
        clock: Clock,
        config: PortalConfig,
        trusted_proxies: Vec<ipnet::IpNet>,
    ) -> Result<Arc<Self>, String> {
        let quota = Quota::with_period(std::time::Duration::from_secs(EXCHANGE_REFILL_SECONDS))
            .ok_or("portal rate limit period")?
            .allow_burst(NonZeroU32::new(EXCHANGE_BURST).ok_or("portal rate limit burst")?);
        let csp = HeaderValue::from_str(&config.content_security_policy())
            .map_err(|_| "portal_frame_ancestors makes an invalid header".to_owned())?;
        Ok(Arc::new(Self {
            storage,
            clock,
            config,
            exchange_limiter: RateLimiter::keyed(quota),
            trusted_proxies,
            csp,
        }))
    }

    /// The client's address for rate limiting: the peer, or the last `X-Forwarded-For` hop it added when
    /// the peer is a trusted proxy.
    fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.iter().any(|net| net.contains(&peer)) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all(HeaderName::from_static("x-forwarded-for"))
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .next_back();
        Some(forwarded.unwrap_or(peer))
    }

    /// `false` when this client has exchanged too many links lately.
    fn allow_exchange(&self, req: &HttpRequest) -> bool {
        self.client_ip(req)
            .is_none_or(|ip| self.exchange_limiter.check_key(&ip).is_ok())
    }
}

/// How often expired links and ended sessions are deleted.
const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes expired setup links and ended sessions every [`PRUNE_INTERVAL`] (`token-admin serve`; replicas
/// may all run it, the deletes are idempotent).
pub async fn run_pruning(storage: Storage, clock: Clock, idle: Duration) {
    let mut interval = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        interval.tick().await;
        let (storage, now) = (storage.clone(), clock.now());
        match service::blocking(move || storage.prune_portal(now, now - idle)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => tracing::info!(deleted, "pruned expired portal links and sessions"),
            Ok(Err(e)) => tracing::warn!(error = ?e, "could not prune portal links and sessions"),
            Err(e) => tracing::warn!(error = ?e, "portal pruning task failed"),
        }
    }
}

/// Security headers on every portal answer.
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let state = req.app_data::<web::Data<PortalState>>().cloned();
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    if let Some(state) = state {
        headers.insert(header::CONTENT_SECURITY_POLICY, state.csp.clone());
        if state.config.frame_ancestors.is_empty() {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Registers the portal under `/portal` with its state.
pub fn configure(state: web::Data<PortalState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("/portal")
                .app_data(state)
                .wrap(from_fn(security_headers))
                .route("", web::get().to(pages::home_redirect))
                .route("/", web::get().to(pages::home))
                .route("/start", web::get().to(pages::start))
                .route("/logout", web::post().to(pages::logout))
                .route("/assets/{file}", web::get().to(pages::asset))
                .route("/t/{slug}", web::get().to(pages::tenant_page))
                .route("/t/{slug}/tokens", web::post().to(pages::generate_token))
                .route(
                    "/t/{slug}/tokens/{id}/revoke",
                    web::post().to(pages::revoke_token),
                )
                .default_service(web::to(pages::not_found)),
        );
    }
}

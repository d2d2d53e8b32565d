//! Shared application state: storage, limits, and the short-lived caches that keep the hot path free of
//! repeated database reads. Every cache here is safe to be stale for a few seconds across replicas, and
//! none holds anything another replica would need: token lookups (revocation still takes effect within
//! [`CACHE_TTL`]), tenant policies, and token last-used times waiting to be written in one batch.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use credentials::HashedToken;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use scim_core::TenantId;
use scim_core::policy::CompiledPolicy;
use service::public_url::TenantUrlOrigin;
use service::{Clock, Metrics, Settings};
use storage::{Storage, TokenRecord};

/// How long a cached token or tenant policy is trusted before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Upper bound on cached entries; past it the cache is emptied (cheap, and bounds memory under abuse).
const CACHE_MAX_ENTRIES: usize = 100_000;

/// Limits and knobs read from [`Settings`] once at start-up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `public_url`, or the listener's address: the URL origin when a request names no usable host.
    pub origin: TenantUrlOrigin,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub page_size_default: u64,
    pub page_size_max: u64,
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
}

impl ApiConfig {
    /// `listening_on` is the address the service has bound.
    pub fn from_settings(settings: &Settings, listening_on: SocketAddr) -> anyhow::Result<Self> {
        Ok(Self {
            origin: settings.tenant_url_origin(Some(listening_on)),
            trusted_proxies: settings.trusted_proxy_nets()?,
            page_size_default: settings.page_size_default,
            page_size_max: settings.page_size_max,
            max_body_bytes: settings.max_body_bytes,
            max_json_depth: settings.max_json_depth,
            bulk_max_operations: settings.bulk_max_operations,
            bulk_max_payload_bytes: settings.bulk_max_payload_bytes,
        })
    }
}

/// A small map whose entries expire after [`CACHE_TTL`].
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(v, _)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn remove(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// Labels of the per-tenant operation counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OperationLabels {
    pub tenant: String,
    pub resource_type: String,
    pub operation: String,
}

/// Metrics specific to the SCIM service.
#[derive(Debug, Clone, Default)]
pub struct ApiMetrics {
    pub operations: Family<OperationLabels, Counter>,
    pub pool_connections: Gauge,
    pub pool_idle: Gauge,
}

impl ApiMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let api = Self::default();
        metrics.register(
            "scim_operations",
            "SCIM operations by tenant, resource type and operation",
            api.operations.clone(),
        );
        metrics.register(
            "db_pool_connections",
            "Open database connections",
            api.pool_connections.clone(),
        );
        metrics.register(
            "db_pool_idle_connections",
            "Idle database connections",
            api.pool_idle.clone(),
        );
        api
    }

    pub fn count(&self, tenant: &TenantId, resource_type: &str, operation: &str) {
        self.operations
            .get_or_create(&OperationLabels {
                tenant: tenant.as_str().to_owned(),
                resource_type: resource_type.to_owned(),
                operation: operation.to_owned(),
            })
            .inc();
    }
}

/// What scim-api needs to know about an OAuth client: whose it is and whether it was revoked.
#[derive(Debug, Clone)]
pub struct OAuthClientState {
    pub tenant: TenantId,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Everything handlers share.
pub struct AppState {
    pub storage: Storage,
    pub config: ApiConfig,
    pub clock: Clock,
    /// Token hash → its record, or `None` for a hash no token has.
    pub tokens: TtlCache<HashedToken, Option<TokenRecord>>,
    pub policies: TtlCache<TenantId, Arc<CompiledPolicy>>,
    /// Client id → its state, or `None` for an unknown client.
    pub oauth_clients: TtlCache<String, Option<OAuthClientState>>,
    /// Verifies OAuth client-credentials access tokens; `None` when `oauth_signing_secret` is unset.
    pub access_tokens: Option<credentials::AccessTokenVerifier>,
    /// Token id → last time it was used; flushed to storage in batches.
    pub token_uses: Mutex<HashMap<String, DateTime<Utc>>>,
    pub rate_limiter: Option<DefaultKeyedRateLimiter<TenantId>>,
    pub metrics: ApiMetrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        storage: Storage,
        settings: &Settings,
        listening_on: SocketAddr,
        metrics: ApiMetrics,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let rate_limiter = NonZeroU32::new(settings.rate_limit_per_second).map(|per_second| {
            let burst = NonZeroU32::new(settings.rate_limit_burst).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        let access_tokens = settings
            .oauth_signing_secret
            .as_ref()
            .map(credentials::AccessTokenVerifier::new)
            .transpose()
            .map_err(|e| anyhow::anyhow!("oauth_signing_secret: {e}"))?;
        Ok(Self {
            storage,
            config: ApiConfig::from_settings(settings, listening_on)?,
            clock,
            tokens: TtlCache::default(),
            policies: TtlCache::default(),
            oauth_clients: TtlCache::default(),
            access_tokens,
            token_uses: Mutex::new(HashMap::new()),
            rate_limiter,
            metrics,
        })
    }

    /// Notes that a token was used; written later by [`AppState::flush_token_uses`].
    pub fn note_token_use(&self, token_id: &str) {
        let now = self.clock.now();
        self.token_uses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token_id.to_owned(), now);
    }

    /// Writes the pending last-used times in one batch (blocking; call from the blocking pool).
    pub fn flush_token_uses(&self) {
        let pending: Vec<(String, DateTime<Utc>)> = self
            .token_uses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        if pending.is_empty() {
            return;
        }
        if let Err(e) = self.storage.record_token_use(&pending) {
            tracing::warn!(error = ?e, count = pending.len(), "could not record token last-used times");
        }
    }
}

//! Shared application state: storage, limits, and the short-lived caches that keep the hot path free of
//! repeated database reads. Every cache here is safe to be stale for a few seconds across replicas, and
//! none holds anything another replica would need: token lookups (a revocation anywhere bumps a
//! generation that every process polls every [`REVOCATION_POLL_INTERVAL`], clearing these caches; the
//! TTL is the fallback), tenant policies, and token last-used times waiting to be written in one batch.
//! Every cache and keyed map here is bounded.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How often the revocation generation is read (see [`AppState::poll_revocations`]).
pub const REVOCATION_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a cached token or tenant policy is trusted before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Upper bound on the entries of each cache (the least useful are evicted past it), so a flood of
/// invented tokens cannot grow memory.
const CACHE_MAX_ENTRIES: usize = 100_000;
/// Client addresses remembered as over the unauthenticated limit.
const BLOCKED_PEERS_MAX: usize = 10_000;

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
    /// How long a request waits for one of its tenant's slots.
    pub tenant_queue_timeout: Duration,
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
            tenant_queue_timeout: Duration::from_millis(settings.tenant_queue_timeout_ms),
        })
    }
}

/// A bounded cache (quick_cache: a fixed number of entries, least-useful evicted first) whose entries
/// expire after [`CACHE_TTL`] and can all be dropped at once ([`TtlCache::clear`], when a revocation is
/// seen). Concurrent misses of one key share one load (single flight): a burst of requests with a new
/// token costs one database read.
pub struct TtlCache<K, V> {
    entries: quick_cache::sync::Cache<K, Entry<V>>,
    /// Bumped by [`TtlCache::clear`]; an entry loaded under an older epoch is stale, so a load that
    /// raced with a clear never brings back what the clear dropped.
    epoch: AtomicU64,
}

#[derive(Clone)]
struct Entry<V> {
    value: V,
    loaded: Instant,
    epoch: u64,
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache").finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self::with_capacity(CACHE_MAX_ENTRIES)
    }
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            epoch: AtomicU64::new(0),
        }
    }

    fn fresh(&self, entry: &Entry<V>) -> bool {
        entry.epoch == self.epoch.load(Ordering::Acquire) && entry.loaded.elapsed() < CACHE_TTL
    }

    /// The cached value, if there is a fresh one.
    pub fn get(&self, key: &K) -> Option<V> {
        self.entries
            .get(key)
            .filter(|entry| self.fresh(entry))
            .map(|entry| entry.value)
    }

    /// The cached value for `key`, or the result of `load` (cached when `Ok`). Concurrent callers
    /// missing the same key wait for the first one's load instead of running their own.
    pub async fn get_or_load<E>(&self, key: &K, load: impl Future<Output = Result<V, E>>) -> Result<V, E> {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        // A stale entry would be returned as is by the single-flight lookup: drop it first.
        self.entries.remove_if(key, |entry| !self.fresh(entry));
        let epoch = self.epoch.load(Ordering::Acquire);
        let entry = self
            .entries
            .get_or_insert_async(key, async {
                load.await.map(|value| Entry {
                    value,
                    loaded: Instant::now(),
                    epoch,
                })
            })
            .await?;
        Ok(entry.value)
    }

    pub fn insert(&self, key: K, value: V) {
        let epoch = self.epoch.load(Ordering::Acquire);
        self.entries.insert(
            key,
            Entry {
                value,
                loaded: Instant::now(),
                epoch,
            },
        );
    }

    pub fn remove(&self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops every entry, including any being loaded right now.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
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
    /// Per-tenant series, registered only with `metrics_per_tenant` (a public `/metrics` would otherwise
    /// name every tenant).
    pub operations: Option<Family<OperationLabels, Counter>>,
    pub pool_connections: Gauge,
    pub pool_idle: Gauge,
}

impl ApiMetrics {
    pub fn register(metrics: &Metrics, per_tenant: bool) -> Self {
        let api = Self {
            operations: per_tenant.then(Family::default),
            ..Self::default()
        };
        if let Some(operations) = &api.operations {
            metrics.register(
                "scim_operations",
                "SCIM operations by tenant, resource type and operation",
                operations.clone(),
            );
        }
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
        let Some(operations) = &self.operations else {
            return;
        };
        operations
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
    /// Refused (401) requests per client address; `None` when `unauthenticated_rate_limit_per_second` is 0.
    pub unauthenticated_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Client addresses over the unauthenticated limit, with when they may try again: their requests
    /// with a token not in the cache get 429 without a database lookup.
    pub blocked_peers: TtlCache<IpAddr, Instant>,
    /// Each tenant's slots (the bulkhead): at most `tenant_max_concurrent_requests` requests at once.
    pub tenant_slots: TenantSlots,
    /// Each tenant's scan slots: at most `tenant_max_concurrent_scans` reads that may scan it at once.
    pub tenant_scan_slots: TenantSlots,
    /// The last revocation generation seen (see [`AppState::poll_revocations`]).
    pub revocation_generation: Mutex<Option<i64>>,
    pub metrics: ApiMetrics,
}

/// A semaphore per tenant, created on first use: at most `limit` permits of one tenant held at once.
#[derive(Debug)]
pub struct TenantSlots {
    limit: u32,
    per_tenant: Mutex<HashMap<TenantId, Arc<tokio::sync::Semaphore>>>,
}

impl TenantSlots {
    pub fn new(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            per_tenant: Mutex::new(HashMap::new()),
        }
    }

    /// How many permits one tenant may hold.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// One of the tenant's permits, or `None` when none came free within `wait`.
    pub async fn acquire(
        &self,
        tenant: &TenantId,
        wait: Duration,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let semaphore = self
            .per_tenant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant.clone())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    usize::try_from(self.limit).unwrap_or(usize::MAX),
                ))
            })
            .clone();
        // The semaphore is never closed, so an error can only be the timeout.
        tokio::time::timeout(wait, semaphore.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }
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
        let unauthenticated_limiter =
            NonZeroU32::new(settings.unauthenticated_rate_limit_per_second).map(|per_second| {
                let burst = NonZeroU32::new(settings.unauthenticated_rate_limit_burst).unwrap_or(per_second);
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
            unauthenticated_limiter,
            blocked_peers: TtlCache::with_capacity(BLOCKED_PEERS_MAX),
            tenant_slots: TenantSlots::new(settings.tenant_concurrency()),
            tenant_scan_slots: TenantSlots::new(settings.tenant_scan_concurrency()),
            revocation_generation: Mutex::new(None),
            metrics,
        })
    }

    /// Counts `extra` more requests against the tenant's rate limit (a Bulk request's operations beyond
    /// the first, which authentication counted). Past the limit: 429 with `Retry-After`. More than the
    /// burst is charged as one full burst, so a Bulk request as large as `bulk_max_operations` is never
    /// refused outright.
    pub fn charge_operations(&self, tenant: &TenantId, extra: usize) -> Result<(), crate::error::ApiError> {
        let Some(limiter) = &self.rate_limiter else {
            return Ok(());
        };
        let Some(extra) = NonZeroU32::new(u32::try_from(extra).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        let outcome = match limiter.check_key_n(tenant, extra) {
            Ok(outcome) => outcome,
            Err(governor::InsufficientCapacity(burst)) => match NonZeroU32::new(burst) {
                Some(burst) => limiter.check_key_n(tenant, burst).unwrap_or(Ok(())),
                None => Ok(()),
            },
        };
        outcome.map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            crate::error::ApiError::RateLimited {
                retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }
        })
    }

    /// Reads the revocation generation (blocking; call from the blocking pool) and, when it moved since
    /// the last poll, drops every cached token and OAuth client, so a revocation committed by any
    /// process is refused here from the next request on.
    pub fn poll_revocations(&self) {
        let current = match self.storage.revocation_generation() {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(error = ?e, "cannot read the revocation generation");
                return;
            }
        };
        let mut seen = self
            .revocation_generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.is_some_and(|seen| seen != current) {
            self.tokens.clear();
            self.oauth_clients.clear();
            self.policies.clear();
            tracing::debug!(generation = current, "revocation seen: credential caches cleared");
        }
        *seen = Some(current);
    }

    /// Forgets rate-limiter state of keys idle long enough to be back at a full burst, so the keyed
    /// maps stay as small as the set of recently active tenants and addresses.
    pub fn prune_limiters(&self) {
        if let Some(limiter) = &self.rate_limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.unauthenticated_limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
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

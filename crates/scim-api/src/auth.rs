//! Bearer-token authentication and per-tenant rate limiting, as an extractor: a handler that takes a
//! [`Caller`] only runs for a request whose token belongs to the tenant in its path.
//!
//! The token is hashed ([`HashedToken`]) and looked up by hash, through a cache that trusts an entry for a few
//! seconds. Unknown, revoked, expired and other-tenant tokens all get the same 401, so the answer never
//! tells whether a tenant exists; the log line says which it was ([`Refusal`]), with the tenant of the
//! path. Last-used times are collected in memory and written in batches.
//!
//! A token's scope travels with the caller: write handlers take a [`Provisioner`], which refuses read-only
//! tokens with 403 before the body is read.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use credentials::{HashedToken, PlainToken};
use scim_core::TenantId;
use scim_core::policy::{CompiledPolicy, TenantPolicy};
use service::{ErrorContext, RequestId};
use storage::TokenScope;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, OAuthClientState, TtlCache};
use crate::urls;

/// An authenticated request: the tenant, the token that proved it, and the tenant's policy.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub token_id: String,
    /// What the credential may do; OAuth access tokens are always `Write`.
    pub scope: TokenScope,
    pub request_id: Option<String>,
    pub policy: Arc<CompiledPolicy>,
    /// `<public base>/scim/v2/<tenant>`, for `meta.location` and `$ref`.
    pub base_url: String,
    /// One of the tenant's slots (the bulkhead), held until the handler is done with the caller.
    pub slot: Arc<tokio::sync::OwnedSemaphorePermit>,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

impl Caller {
    /// `Ok` when the credential may create, replace, modify or delete; a read-only token gets 403.
    pub fn require_write(&self) -> ApiResult<()> {
        match self.scope {
            TokenScope::Write => Ok(()),
            TokenScope::Read => {
                tracing::info!(tenant = %self.tenant, token_id = %self.token_id, "write refused: read-only token");
                Err(ApiError::ReadOnlyToken)
            }
        }
    }
}

/// A caller allowed to write: what every write handler takes, so that a read-only token is refused
/// (403) before its body is read or validated.
#[derive(Debug, Clone)]
pub struct Provisioner(pub Caller);

impl FromRequest for Provisioner {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req).await?;
            caller.require_write()?;
            Ok(Self(caller))
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn authenticate(req: &HttpRequest) -> ApiResult<Caller> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    // A malformed tenant segment cannot name a real tenant: same 401 as any other mismatch.
    let path_tenant = req
        .match_info()
        .get("tenant")
        .and_then(|t| TenantId::parse(t).ok());
    if let Some(tenant) = &path_tenant {
        // The tenant the client asked for, so a refused request's lines can be found by tenant too.
        tracing::Span::current().record("tenant", tenant.as_str());
    }
    let peer = urls::client_ip(req, &state.config);
    let credential = match check_credential(&state, req, path_tenant.as_ref(), peer).await? {
        Ok(credential) => credential,
        Err(refusal) => {
            refusal.log(path_tenant.as_ref());
            if let Refusal::PeerOverLimit { retry_after_secs } = refusal {
                return Err(ApiError::RateLimited { retry_after_secs });
            }
            return match peer.and_then(|peer| charge_refusal(&state, peer)) {
                Some(retry_after_secs) => Err(ApiError::RateLimited { retry_after_secs }),
                None => Err(ApiError::Unauthorized),
            };
        }
    };
    let path_tenant = credential.tenant.clone();

    if let Some(limiter) = &state.rate_limiter
        && let Err(not_until) = limiter.check_key(&path_tenant)
    {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        return Err(ApiError::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        });
    }
    if let Some(token_id) = &credential.secret_token_id {
        state.note_token_use(token_id);
    }
    let slot = tenant_slot(&state, &path_tenant).await?;

    let policy = tenant_policy(&state, &path_tenant).await?;
    let base_url = urls::tenant_base_url(req, &state.config, &path_tenant);
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    Ok(Caller {
        tenant: path_tenant,
        token_id: credential.actor,
        scope: credential.scope,
        request_id,
        policy,
        base_url,
        slot: Arc::new(slot),
    })
}

/// Waits (at most `tenant_queue_timeout_ms`) for one of the tenant's slots: a tenant sending more
/// requests at once than its share of the database gets 503 with `Retry-After` for the excess, while
/// the other tenants still find connections free.
async fn tenant_slot(
    state: &web::Data<AppState>,
    tenant: &TenantId,
) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    wait_for_slot(state, &state.tenant_slots, tenant, "requests", |limit| {
        format!(
            "This tenant already has {limit} requests in progress on this server, the most one tenant may \
             have at once. Retry after the Retry-After delay, and send fewer requests at once (or cheaper \
             ones: filters on indexed attributes, smaller Bulk requests)."
        )
    })
    .await
}

/// Waits (at most `tenant_queue_timeout_ms`) for one of the tenant's scan slots, taken by reads that may
/// read every document of the tenant (filters no index serves, sorts): past the limit, 503 with
/// `Retry-After` and advice, while the tenant's index lookups and writes go on.
pub(crate) async fn tenant_scan_slot(
    state: &web::Data<AppState>,
    tenant: &TenantId,
) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    wait_for_slot(state, &state.tenant_scan_slots, tenant, "scans", |limit| {
        format!(
            "This tenant already has {limit} queries in progress on this server that read every resource \
             (filters on attributes without an index, sortBy), the most one tenant may have at once. Retry \
             after the Retry-After delay, or filter with eq on userName, externalId, displayName, id or an \
             email, which are served from indexes."
        )
    })
    .await
}

/// One of `slots` for `tenant`, or, after `tenant_queue_timeout_ms`, 503 with `Retry-After: 1` and
/// `detail(limit)`.
async fn wait_for_slot(
    state: &web::Data<AppState>,
    slots: &crate::state::TenantSlots,
    tenant: &TenantId,
    kind: &'static str,
    detail: fn(u32) -> String,
) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    slots
        .acquire(tenant, state.config.tenant_queue_timeout)
        .await
        .ok_or_else(|| {
            tracing::info!(
                tenant = %tenant,
                slots = slots.limit(),
                kind,
                "request refused: every slot of this kind is in use for the tenant"
            );
            ApiError::Overloaded {
                retry_after_secs: 1,
                detail: detail(slots.limit()),
            }
        })
}

/// Counts a refused request against its client address. `Some(retry after)` when the address is over
/// `unauthenticated_rate_limit_per_second`: it is then remembered, so that its next requests with a
/// token not already cached are refused (429) without a database lookup.
fn charge_refusal(state: &web::Data<AppState>, peer: IpAddr) -> Option<u64> {
    let limiter = state.unauthenticated_limiter.as_ref()?;
    let not_until = limiter.check_key(&peer).err()?;
    let wait = not_until.wait_time_from(governor::clock::Clock::now(
        &governor::clock::DefaultClock::default(),
    ));
    state.blocked_peers.insert(peer, Instant::now() + wait);
    tracing::info!(%peer, "client address over the limit of refused requests");
    Some(retry_after_secs(wait))
}

/// Whole seconds, rounded up, at least one.
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// `Some(seconds)` while `peer` is over the limit of refused requests.
fn peer_blocked(state: &web::Data<AppState>, peer: Option<IpAddr>) -> Option<u64> {
    let until = state.blocked_peers.get(&peer?)?;
    let wait = until.checked_duration_since(Instant::now())?;
    Some(retry_after_secs(wait))
}

/// The request's bearer credential, if it is valid for `path_tenant`. The outer error is a server-side
/// failure (the database is unreachable: 503); the inner one says why the credential was refused.
async fn check_credential(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    path_tenant: Option<&TenantId>,
    peer: Option<IpAddr>,
) -> ApiResult<Result<Credential, Refusal>> {
    let Some(path_tenant) = path_tenant else {
        return Ok(Err(Refusal::MalformedTenant));
    };
    let Some(token) = bearer_token(req) else {
        return Ok(Err(Refusal::MissingBearer));
    };
    let checked = match (&state.access_tokens, looks_like_jwt(token)) {
        (Some(verifier), true) => oauth_credential(state, verifier, token).await?,
        (None, true) => Err(Refusal::OAuthDisabled),
        // Not the shape of a Secret Token: refused without a database lookup.
        (_, false) if !PlainToken::is_api_token_format(token) => Err(Refusal::MalformedToken),
        (_, false) => secret_token_credential(state, token, peer).await?,
    };
    Ok(checked.and_then(|credential| {
        if credential.tenant == *path_tenant {
            Ok(credential)
        } else {
            Err(Refusal::OtherTenant {
                token_tenant: credential.tenant,
                actor: credential.actor,
            })
        }
    }))
}

/// Who a valid bearer credential speaks for.
struct Credential {
    tenant: TenantId,
    /// Recorded as the actor of writes: the token id, or `oauth:<client id>`.
    actor: String,
    scope: TokenScope,
    /// Set for Secret Tokens, whose last-used time is kept.
    secret_token_id: Option<String>,
}

/// Why a bearer credential was refused. The client gets the same 401 for all of these (nothing may tell
/// a revoked token from another tenant's); the reason goes to the log only, so support can answer "why
/// does Test Connection fail" from the tenant's log lines. Never holds the token or its hash.
#[derive(Debug)]
enum Refusal {
    /// The tenant segment of the path is not a tenant slug.
    MalformedTenant,
    /// No `Authorization: Bearer <value>` header.
    MissingBearer,
    /// A value shaped like neither a Secret Token nor an access token (not looked up).
    MalformedToken,
    /// The client address is over the limit of refused requests, and the token is not in the cache:
    /// refused (429) without a lookup.
    PeerOverLimit {
        retry_after_secs: u64,
    },
    /// A well-formed Secret Token that was never issued (or whose tenant was deleted).
    UnknownToken {
        prefix: String,
    },
    RevokedToken {
        token_id: String,
    },
    ExpiredToken {
        token_id: String,
    },
    /// A valid credential of another tenant than the one in the path.
    OtherTenant {
        token_tenant: TenantId,
        actor: String,
    },
    /// An access token, but this server has no `oauth_signing_secret`.
    OAuthDisabled,
    /// An access token that fails verification (expired, bad signature, wrong claims).
    AccessToken(credentials::AccessTokenError),
    /// A verified access token whose client no longer exists.
    OAuthClientUnknown {
        client_id: String,
    },
    OAuthClientRevoked {
        client_id: String,
    },
    /// A verified access token whose tenant claim is not its client's tenant.
    OAuthClientOfOtherTenant {
        client_id: String,
    },
}

impl Refusal {
    /// The `reason` field of the log line: stable, for searching.
    fn reason(&self) -> &'static str {
        match self {
            Self::MalformedTenant => "malformed_tenant",
            Self::MissingBearer => "missing_bearer",
            Self::MalformedToken => "malformed_token",
            Self::PeerOverLimit { .. } => "client_over_limit",
            Self::UnknownToken { .. } => "unknown_token",
            Self::RevokedToken { .. } => "revoked",
            Self::ExpiredToken { .. } => "expired",
            Self::OtherTenant { .. } => "other_tenant",
            Self::OAuthDisabled => "oauth_disabled",
            Self::AccessToken(credentials::AccessTokenError::Expired) => "access_token_expired",
            Self::AccessToken(e) if e.is_bad_signature() => "access_token_bad_signature",
            Self::AccessToken(_) => "access_token_invalid",
            Self::OAuthClientUnknown { .. } => "oauth_client_unknown",
            Self::OAuthClientRevoked { .. } => "oauth_client_revoked",
            Self::OAuthClientOfOtherTenant { .. } => "oauth_client_of_other_tenant",
        }
    }

    /// One line: the tenant of the path, the reason, and what identifies the credential without
    /// revealing it (token id, display prefix, client id).
    fn log(&self, path_tenant: Option<&TenantId>) {
        let tenant = path_tenant.map(TenantId::as_str);
        let reason = self.reason();
        match self {
            Self::UnknownToken { prefix } => {
                tracing::info!(tenant, reason, token_prefix = %prefix, "bearer token refused");
            }
            Self::RevokedToken { token_id } | Self::ExpiredToken { token_id } => {
                tracing::info!(tenant, reason, token_id = %token_id, "bearer token refused");
            }
            Self::OtherTenant { token_tenant, actor } => tracing::info!(
                tenant,
                reason,
                token_tenant = %token_tenant,
                credential = %actor,
                "bearer token refused"
            ),
            Self::AccessToken(e) => {
                tracing::info!(tenant, reason, cause = ?e, "bearer token refused");
            }
            Self::OAuthClientUnknown { client_id }
            | Self::OAuthClientRevoked { client_id }
            | Self::OAuthClientOfOtherTenant { client_id } => {
                tracing::info!(tenant, reason, client_id = %client_id, "bearer token refused");
            }
            Self::MalformedTenant
            | Self::MissingBearer
            | Self::MalformedToken
            | Self::PeerOverLimit { .. }
            | Self::OAuthDisabled => {
                tracing::info!(tenant, reason, "bearer token refused");
            }
        }
    }
}

/// A Secret Token: found by its hash (computed once, also the cache key); revoked or expired tokens are
/// refused.
async fn secret_token_credential(
    state: &web::Data<AppState>,
    token: &str,
    peer: Option<IpAddr>,
) -> ApiResult<Result<Credential, Refusal>> {
    let hash = HashedToken::of(token);
    // A client address over the limit of refused requests gets no database lookup: only tokens already
    // cached are served (an IdP sharing the address with an attacker keeps working while its token is
    // cached, and otherwise retries after the delay).
    if state.tokens.get(&hash).is_none()
        && let Some(retry_after_secs) = peer_blocked(state, peer)
    {
        return Ok(Err(Refusal::PeerOverLimit { retry_after_secs }));
    }
    // Unknown tokens are cached too (as `None`): an IdP still configured with a deleted tenant's token
    // retries for days, and each retry would otherwise cost a database read. A new token cannot be hit by
    // a stale miss, since nobody can present it before it is issued.
    let cached = cached_or_load(&state.tokens, hash.clone(), state, move |storage| {
        Ok(storage.find_token(&hash)?)
    })
    .await?;
    let Some(record) = cached else {
        return Ok(Err(Refusal::UnknownToken {
            prefix: PlainToken::display_prefix_of(token),
        }));
    };
    let now = state.clock.now();
    if record.revoked_at.is_some_and(|at| at <= now) {
        return Ok(Err(Refusal::RevokedToken { token_id: record.id }));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(Refusal::ExpiredToken { token_id: record.id }));
    }
    Ok(Ok(Credential {
        tenant: record.tenant,
        actor: record.id.clone(),
        scope: record.scope,
        secret_token_id: Some(record.id),
    }))
}

/// `header.payload.signature` in base64url: Secret Tokens never contain a dot.
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// An OAuth 2.0 client-credentials access token issued by token-admin: verified without a database read,
/// then its client is checked (through the short cache) so that revoking the client stops its tokens.
async fn oauth_credential(
    state: &web::Data<AppState>,
    verifier: &credentials::AccessTokenVerifier,
    token: &str,
) -> ApiResult<Result<Credential, Refusal>> {
    let verified = match verifier.verify(token) {
        Ok(verified) => verified,
        Err(e) => return Ok(Err(Refusal::AccessToken(e))),
    };
    let client_id = verified.client_id.clone();
    let lookup_id = client_id.clone();
    let client = cached_or_load(&state.oauth_clients, client_id.clone(), state, move |storage| {
        Ok(storage
            .find_oauth_client(&lookup_id)?
            .map(|client| OAuthClientState {
                tenant: client.tenant,
                revoked_at: client.revoked_at,
            }))
    })
    .await?;
    let Some(client) = client else {
        return Ok(Err(Refusal::OAuthClientUnknown { client_id }));
    };
    if client.revoked_at.is_some_and(|at| at <= state.clock.now()) {
        return Ok(Err(Refusal::OAuthClientRevoked { client_id }));
    }
    // The client's own tenant, which the signed tenant claim must repeat.
    if client.tenant.as_str() != verified.tenant {
        return Ok(Err(Refusal::OAuthClientOfOtherTenant { client_id }));
    }
    Ok(Ok(Credential {
        tenant: client.tenant,
        actor: format!("oauth:{client_id}"),
        // OAuth clients stand in for the IdP's provisioning token.
        scope: TokenScope::Write,
        secret_token_id: None,
    }))
}

/// The tenant's compiled policy (schema registry with its extensions, limits), cached briefly.
async fn tenant_policy(state: &web::Data<AppState>, tenant: &TenantId) -> ApiResult<Arc<CompiledPolicy>> {
    let lookup = tenant.clone();
    cached_or_load(&state.policies, tenant.clone(), state, move |storage| {
        let record = storage.get_tenant(&lookup)?;
        // A policy that no longer compiles (it was validated when written) is a server-side fault.
        let policy = TenantPolicy::from_json(&record.policy).map_err(|e| {
            let what = format!("tenant {lookup} has an invalid policy");
            ApiError::Internal(Box::new(ErrorContext::new(what, e)))
        })?;
        Ok(Arc::new(policy))
    })
    .await
}

/// The cached value for `key`, or `load` run on the blocking pool and cached for [`crate::state::CACHE_TTL`];
/// concurrent misses of one key share one load.
async fn cached_or_load<K, V>(
    cache: &TtlCache<K, V>,
    key: K,
    state: &web::Data<AppState>,
    load: impl FnOnce(&storage::Storage) -> ApiResult<V> + Send + 'static,
) -> ApiResult<V>
where
    K: Eq + std::hash::Hash + Clone,
    V: Clone + Send + 'static,
{
    let storage = state.storage.clone();
    cache
        .get_or_load(
            &key,
            async move { service::blocking(move || load(&storage)).await? },
        )
        .await
}

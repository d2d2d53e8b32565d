//! Bearer-token authentication and per-tenant rate limiting, as an extractor: a handler that takes a
//! [`Caller`] only runs for a request whose token belongs to the tenant in its path.
//!
//! The token is hashed ([`HashedToken`]) and looked up by hash, through a cache that trusts an entry for a few
//! seconds. Unknown, revoked, expired and other-tenant tokens all get the same 401, so the answer never
//! tells whether a tenant exists. Last-used times are collected in memory and written in batches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use credentials::HashedToken;
use scim_core::TenantId;
use scim_core::policy::{CompiledPolicy, TenantPolicy};
use service::{ErrorContext, RequestId};

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, OAuthClientState, TtlCache};
use crate::urls;

/// An authenticated request: the tenant, the token that proved it, and the tenant's policy.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub token_id: String,
    pub request_id: Option<String>,
    pub policy: Arc<CompiledPolicy>,
    /// `<public base>/scim/v2/<tenant>`, for `meta.location` and `$ref`.
    pub base_url: String,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
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
        .and_then(|t| TenantId::parse(t).ok())
        .ok_or(ApiError::Unauthorized)?;
    let token = bearer_token(req).ok_or(ApiError::Unauthorized)?;
    let credential = match &state.access_tokens {
        Some(verifier) if looks_like_jwt(token) => oauth_credential(&state, verifier, token).await?,
        _ => secret_token_credential(&state, token).await?,
    };
    if credential.tenant != path_tenant {
        return Err(ApiError::Unauthorized);
    }
    tracing::Span::current().record("tenant", path_tenant.as_str());

    if let Some(limiter) = &state.rate_limiter
        && let Err(not_until) = limiter.check_key(&path_tenant)
    {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Err(ApiError::RateLimited {
            retry_after_secs: retry_after_secs.max(1),
        });
    }
    if let Some(token_id) = &credential.secret_token_id {
        state.note_token_use(token_id);
    }

    let policy = tenant_policy(&state, &path_tenant).await?;
    let base_url = urls::tenant_base_url(req, &state.config, &path_tenant);
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    Ok(Caller {
        tenant: path_tenant,
        token_id: credential.actor,
        request_id,
        policy,
        base_url,
    })
}

/// Who a valid bearer credential speaks for.
struct Credential {
    tenant: TenantId,
    /// Recorded as the actor of writes: the token id, or `oauth:<client id>`.
    actor: String,
    /// Set for Secret Tokens, whose last-used time is kept.
    secret_token_id: Option<String>,
}

/// A Secret Token: found by its hash (computed once, also the cache key); revoked or expired tokens are
/// refused.
async fn secret_token_credential(state: &web::Data<AppState>, token: &str) -> ApiResult<Credential> {
    let hash = HashedToken::of(token);
    // Unknown tokens are cached too (as `None`): an IdP still configured with a deleted tenant's token
    // retries for days, and each retry would otherwise cost a database read. A new token cannot be hit by
    // a stale miss, since nobody can present it before it is issued.
    let cached = cached_or_load(&state.tokens, hash.clone(), state, move |storage| {
        Ok(storage.find_token(&hash)?)
    })
    .await?;
    let record = cached.ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now();
    let revoked = record.revoked_at.is_some_and(|at| at <= now);
    let expired = record.expires_at.is_some_and(|at| at <= now);
    if revoked || expired {
        return Err(ApiError::Unauthorized);
    }
    Ok(Credential {
        tenant: record.tenant,
        actor: record.id.clone(),
        secret_token_id: Some(record.id),
    })
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
) -> ApiResult<Credential> {
    let verified = verifier.verify(token).map_err(|_| ApiError::Unauthorized)?;
    let tenant = TenantId::parse(&verified.tenant).map_err(|_| ApiError::Unauthorized)?;
    let client_id = verified.client_id.clone();
    let client = cached_or_load(&state.oauth_clients, client_id.clone(), state, move |storage| {
        Ok(storage
            .find_oauth_client(&client_id)?
            .map(|client| OAuthClientState {
                tenant: client.tenant,
                revoked_at: client.revoked_at,
            }))
    })
    .await?
    .ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now();
    if client.revoked_at.is_some_and(|at| at <= now) || client.tenant != tenant {
        return Err(ApiError::Unauthorized);
    }
    Ok(Credential {
        tenant,
        actor: format!("oauth:{}", verified.client_id),
        secret_token_id: None,
    })
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

/// The cached value for `key`, or `load` run on the blocking pool and cached for [`crate::state::CACHE_TTL`].
async fn cached_or_load<K, V>(
    cache: &TtlCache<K, V>,
    key: K,
    state: &web::Data<AppState>,
    load: impl FnOnce(&storage::Storage) -> ApiResult<V> + Send + 'static,
) -> ApiResult<V>
where
    K: Eq + std::hash::Hash,
    V: Clone + Send + 'static,
{
    if let Some(value) = cache.get(&key) {
        return Ok(value);
    }
    let storage = state.storage.clone();
    let value = service::blocking(move || load(&storage)).await??;
    cache.insert(key, value.clone());
    Ok(value)
}

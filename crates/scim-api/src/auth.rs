//! Bearer-token authentication and per-tenant rate limiting, as an extractor: a handler that takes a
//! [`Caller`] only runs for a request whose token belongs to the tenant in its path.
//!
//! The token is hashed (SHA-256) and looked up by hash, through a cache that trusts an entry for a few
//! seconds. Unknown, revoked, expired and other-tenant tokens all get the same 401, so the answer never
//! tells whether a tenant exists. Last-used times are collected in memory and written in batches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use scim_core::TenantId;
use scim_core::policy::{CompiledPolicy, TenantPolicy};
use service::RequestId;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
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
        .ok_or_else(|| ApiError::Internal("application state missing".to_owned()))?;
    // A malformed tenant segment cannot name a real tenant: same 401 as any other mismatch.
    let path_tenant = req
        .match_info()
        .get("tenant")
        .and_then(|t| TenantId::parse(t).ok())
        .ok_or(ApiError::Unauthorized)?;
    let token = bearer_token(req).ok_or(ApiError::Unauthorized)?;
    let hash = hex::encode(Sha256::digest(token.as_bytes()));

    let record = match state.tokens.get(&hash) {
        Some(record) => record,
        None => {
            let storage = state.storage.clone();
            let lookup_hash = hash.clone();
            let found = service::blocking(move || storage.find_token(&lookup_hash)).await??;
            let record = found.ok_or(ApiError::Unauthorized)?;
            state.tokens.insert(hash, record.clone());
            record
        }
    };
    let now = (state.clock)();
    let revoked = record.revoked_at.is_some_and(|at| at <= now);
    let expired = record.expires_at.is_some_and(|at| at <= now);
    if revoked || expired || record.tenant != path_tenant {
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
    state.note_token_use(&record.id);

    let policy = tenant_policy(&state, &path_tenant).await?;
    let base_url = urls::tenant_base_url(req, &state.config, &path_tenant);
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    Ok(Caller {
        tenant: path_tenant,
        token_id: record.id,
        request_id,
        policy,
        base_url,
    })
}

/// The tenant's compiled policy (schema registry with its extensions, limits), cached briefly.
async fn tenant_policy(state: &web::Data<AppState>, tenant: &TenantId) -> ApiResult<Arc<CompiledPolicy>> {
    if let Some(policy) = state.policies.get(tenant) {
        return Ok(policy);
    }
    let storage = state.storage.clone();
    let lookup = tenant.clone();
    let record = service::blocking(move || storage.get_tenant(&lookup)).await??;
    // A policy that no longer compiles (it was validated when written) is a server-side fault.
    let policy = TenantPolicy::from_json(&record.policy)
        .map_err(|e| ApiError::Internal(format!("tenant {tenant} has an invalid policy: {e}")))?;
    let policy = Arc::new(policy);
    state.policies.insert(tenant.clone(), policy.clone());
    Ok(policy)
}

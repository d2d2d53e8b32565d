//! A cached JSON Web Key Set (RFC 7517) for verifying operator JWTs signed by an external IdP.
//!
//! Strategy: keys are fetched with reqwest (connect timeout 3 s, whole request 5 s, body at most 1 MiB) on
//! first use, and again when the cache is older than `max_age` or a token names a `kid` the cache does not
//! know (the IdP rotated its keys). Fetches are rate-limited: at most one per `min_refresh_interval`, so a
//! stream of tokens with made-up `kid`s cannot turn this service into a load generator against the IdP. The
//! state sits behind one async mutex; a refresh holds it, so concurrent requests wait for the same fetch
//! instead of starting their own. A failed refresh keeps the keys already known.
//!
//! Each key is bound to exactly one algorithm when it is loaded: the JWK's own `alg` if present, else RS256
//! for an RSA key and ES256 for a P-256 key. A token must use the algorithm of the key its `kid` names, which
//! closes algorithm confusion (an HS256 token "signed" with an RSA public key is never checked as HMAC).
//! Keys for other algorithms, keys marked `use: enc` and keys without a `kid` are skipped.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::error::AdminError;
use crate::token_refusal::TokenRefusal;

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// When to refetch.
#[derive(Debug, Clone, Copy)]
pub struct JwksPolicy {
    /// At most one fetch per this interval, whatever the reason.
    pub min_refresh_interval: Duration,
    /// Keys older than this are refetched on the next request.
    pub max_age: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            min_refresh_interval: Duration::from_secs(10),
            max_age: Duration::from_secs(15 * 60),
        }
    }
}

struct CachedKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, CachedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// The operator-JWT key set of one JWKS URL.
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    policy: JwksPolicy,
    state: tokio::sync::Mutex<State>,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

impl JwksCache {
    /// A cache for `url`; nothing is fetched until the first token arrives.
    pub fn new(url: String, policy: JwksPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            url,
            client,
            policy,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The key named `kid`, provided it is bound to `algorithm`.
    pub async fn key(&self, kid: &str, algorithm: Algorithm) -> Result<DecodingKey, AdminError> {
        let mut state = self.state.lock().await;
        let stale = state
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.policy.max_age);
        if stale || !state.keys.contains_key(kid) {
            self.refresh(&mut state).await?;
        }
        let cached = state
            .keys
            .get(kid)
            .ok_or_else(|| TokenRefusal::UnknownSigningKey.refuse())?;
        if cached.algorithm != algorithm {
            return Err(TokenRefusal::KeyAlgorithmMismatch.refuse());
        }
        Ok(cached.key.clone())
    }

    /// Refetches unless rate-limited. Fails only when no keys at all are known afterwards.
    async fn refresh(&self, state: &mut State) -> Result<(), AdminError> {
        let allowed = state
            .last_attempt
            .is_none_or(|at| at.elapsed() >= self.policy.min_refresh_interval);
        if allowed {
            state.last_attempt = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(url = %self.url, keys = keys.len(), "fetched operator JWKS");
                    state.keys = keys;
                    state.fetched_at = Some(Instant::now());
                }
                Err(reason) => tracing::warn!(url = %self.url, %reason, "operator JWKS refresh failed"),
            }
        }
        if state.keys.is_empty() {
            return Err(AdminError::Unavailable(
                format!("no operator signing keys available from {}", self.url).into(),
            ));
        }
        Ok(())
    }

    async fn fetch(&self) -> Result<HashMap<String, CachedKey>, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err("JWKS document too large".to_owned());
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("JWKS document too large".to_owned());
        }
        let set: RawJwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWK set: {e}"))?;
        Ok(set.keys.into_iter().filter_map(load_key).collect())
    }
}

/// Turns one JWK into `(kid, key)`, or `None` (logged) when it is not a usable signing key.
fn load_key(value: serde_json::Value) -> Option<(String, CachedKey)> {
    let jwk: Jwk = match serde_json::from_value(value) {
        Ok(jwk) => jwk,
        Err(e) => {
            tracing::warn!(error = %e, "skipping unreadable JWK");
            return None;
        }
    };
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_)) | (None, AlgorithmParameters::RSA(_)) => {
            Algorithm::RS256
        }
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(p))
        | (None, AlgorithmParameters::EllipticCurve(p))
            if p.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => {
            tracing::warn!(%kid, "skipping JWK: only RS256 and ES256 (P-256) signing keys are accepted");
            return None;
        }
    };
    match DecodingKey::from_jwk(&jwk) {
        Ok(key) => Some((kid, CachedKey { algorithm, key })),
        Err(e) => {
            tracing::warn!(%kid, error = %e, "skipping unusable JWK");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        let oct = serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0", "alg": "HS256"});
        assert!(load_key(oct).is_none());
        let enc = serde_json::json!({
            "kty": "EC", "kid": "e", "use": "enc", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        });
        assert!(load_key(enc).is_none());
        let no_kid = serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        });
        assert!(load_key(no_kid).is_none());
    }

    #[test]
    fn ec_p256_key_is_bound_to_es256() {
        // The P-256 example key of RFC 7517 appendix A.1.
        let ec = serde_json::json!({
            "kty": "EC", "kid": "1", "use": "sig", "crv": "P-256",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
        });
        let (kid, key) = load_key(ec).unwrap();
        assert_eq!(kid, "1");
        assert_eq!(key.algorithm, Algorithm::ES256);
    }
}

//! Operator authentication: `Authorization: Bearer <JWT>` on every admin route.
//!
//! Strategy: one of two key sources, chosen by configuration and never both: an HS256 shared secret
//! (`SCIM_ADMIN_JWT_HS256_SECRET`, small setups) or a JWKS URL (`SCIM_ADMIN_JWT_JWKS_URL`, RS256/ES256 keys of
//! an existing IdP, see [`crate::jwks`]). The allowed algorithm list is fixed per source *before* the token
//! is looked at: `[HS256]`, or exactly the algorithm bound to the JWKS key named by `kid`. `alg: none` is not
//! even parseable as a jsonwebtoken `Algorithm`. Issuer, audience, subject and expiry are required and
//! pinned, and `nbf` is honoured when present (30 s leeway).
//!
//! Authorisation comes from two claims: the role claim (`SCIM_ADMIN_JWT_ROLE_CLAIM`, a string or an array of
//! strings) containing `SCIM_ADMIN_JWT_ADMIN_ROLE` grants every tenant; otherwise the tenant claim
//! (`SCIM_ADMIN_JWT_TENANT_CLAIM`) scopes the operator to that one tenant. A token with neither is
//! refused (403). Handlers take an [`Operator`] (an actix extractor) and call [`Operator::authorize`].
//!
//! Every refusal is logged with its reason ([`TokenRefusal`]): which claim is missing or invalid, an
//! expired token, a wrong issuer or audience, an algorithm not allowed, a bad signature.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use scim_core::TenantId;
use secrecy::ExposeSecret as _;
use service::Settings;

use crate::error::AdminError;
use crate::jwks::{JwksCache, JwksPolicy};
use crate::token_refusal::{TokenRefusal, classify};

/// Allowed clock skew for `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// Shortest accepted HS256 operator secret (RFC 7518 §3.2).
const MIN_HS256_SECRET_BYTES: usize = 32;

/// Why the operator-auth settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// Ambiguous, incomplete or too weak settings; the message names the key.
    #[error("operator authentication: {0}")]
    Settings(String),
    #[error("operator authentication: cannot build the JWKS HTTP client")]
    JwksClient(#[source] reqwest::Error),
}

enum KeySource {
    Hs256(DecodingKey),
    Jwks(JwksCache),
}

/// Verifies operator JWTs; built once at start-up from the settings.
pub struct OperatorAuthenticator {
    keys: KeySource,
    issuer: String,
    audience: String,
    tenant_claim: String,
    role_claim: String,
    admin_role: String,
}

impl fmt::Debug for OperatorAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.keys {
            KeySource::Hs256(_) => "hs256",
            KeySource::Jwks(_) => "jwks",
        };
        f.debug_struct("OperatorAuthenticator")
            .field("source", &source)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// An authenticated operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The JWT `sub`, recorded in the audit log.
    pub subject: String,
    /// The tenant claim, when present and a valid slug.
    pub tenant: Option<TenantId>,
    /// The role claim holds the admin role: every tenant is in scope.
    pub is_admin: bool,
}

impl Operator {
    /// The operator is allowed to act on `tenant`.
    pub fn authorize(&self, tenant: &TenantId) -> Result<(), AdminError> {
        if self.is_admin || self.tenant.as_ref() == Some(tenant) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!(
                "operator is not allowed to manage tenant {tenant}"
            )))
        }
    }
}

impl OperatorAuthenticator {
    /// Builds the authenticator, refusing ambiguous or incomplete settings.
    pub fn from_settings(settings: &Settings, jwks_policy: JwksPolicy) -> Result<Self, AuthConfigError> {
        let keys = match (&settings.admin_jwt_hs256_secret, &settings.admin_jwt_jwks_url) {
            (Some(_), Some(_)) => {
                return Err(AuthConfigError::Settings(
                    "set either admin_jwt_hs256_secret or admin_jwt_jwks_url, not both".to_owned(),
                ));
            }
            (None, None) => {
                return Err(AuthConfigError::Settings(
                    "set admin_jwt_hs256_secret or admin_jwt_jwks_url; the admin API has no anonymous mode"
                        .to_owned(),
                ));
            }
            (Some(secret), None) => {
                let bytes = secret.expose_secret().as_bytes();
                if bytes.len() < MIN_HS256_SECRET_BYTES {
                    return Err(AuthConfigError::Settings(format!(
                        "admin_jwt_hs256_secret must be at least {MIN_HS256_SECRET_BYTES} bytes"
                    )));
                }
                KeySource::Hs256(DecodingKey::from_secret(bytes))
            }
            (None, Some(url)) => KeySource::Jwks(
                JwksCache::new(url.clone(), jwks_policy).map_err(AuthConfigError::JwksClient)?,
            ),
        };
        let required = |value: &Option<String>, key: &str| {
            value.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
                AuthConfigError::Settings(format!("{key} is required (operator tokens are pinned to it)"))
            })
        };
        Ok(Self {
            keys,
            issuer: required(&settings.admin_jwt_issuer, "admin_jwt_issuer")?,
            audience: required(&settings.admin_jwt_audience, "admin_jwt_audience")?,
            tenant_claim: settings.admin_jwt_tenant_claim.clone(),
            role_claim: settings.admin_jwt_role_claim.clone(),
            admin_role: settings.admin_jwt_admin_role.clone(),
        })
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        // Off by default in jsonwebtoken: a token whose `nbf` is still ahead is refused, not accepted.
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        validation
    }

    /// Verifies a bearer JWT and derives the operator's scope from its claims.
    pub async fn authenticate(&self, token: &str) -> Result<Operator, AdminError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenRefusal::MalformedHeader.refuse())?;
        let (key, algorithm) = match &self.keys {
            KeySource::Hs256(key) => {
                if header.alg != Algorithm::HS256 {
                    return Err(TokenRefusal::AlgorithmNotAllowed(header.alg).refuse());
                }
                (key.clone(), Algorithm::HS256)
            }
            KeySource::Jwks(jwks) => {
                if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
                    return Err(TokenRefusal::AlgorithmNotAllowed(header.alg).refuse());
                }
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| TokenRefusal::MissingKid.refuse())?;
                (jwks.key(kid, header.alg).await?, header.alg)
            }
        };
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &self.validation(algorithm),
        )
        .map_err(|e| classify(&e, token, &key, algorithm).refuse())?;
        self.operator_from_claims(&data.claims)
    }

    fn operator_from_claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Operator, AdminError> {
        let subject = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TokenRefusal::InvalidClaim("sub".to_owned()).refuse())?
            .to_owned();
        let is_admin = match claims.get(&self.role_claim) {
            Some(serde_json::Value::String(role)) => *role == self.admin_role,
            Some(serde_json::Value::Array(roles)) => {
                roles.iter().any(|r| r.as_str() == Some(&self.admin_role))
            }
            _ => false,
        };
        let tenant = claims
            .get(&self.tenant_claim)
            .and_then(serde_json::Value::as_str)
            .map(TenantId::parse)
            .transpose()
            .map_err(|_| {
                tracing::info!(operator = %subject, reason = "invalid_tenant_claim", "operator refused");
                AdminError::Forbidden("the token's tenant claim is not a valid tenant slug".to_owned())
            })?;
        if !is_admin && tenant.is_none() {
            tracing::info!(operator = %subject, reason = "no_scope", "operator refused");
            return Err(AdminError::Forbidden(format!(
                "the token carries neither the admin role nor a {:?} claim",
                self.tenant_claim
            )));
        }
        Ok(Operator {
            subject,
            tenant,
            is_admin,
        })
    }
}

/// The bearer value of the `Authorization` header (scheme compared case-insensitively, RFC 7235 §2.1).
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequest for Operator {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let authenticator = req.app_data::<web::Data<OperatorAuthenticator>>().cloned();
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let authenticator = authenticator
                .ok_or_else(|| AdminError::Internal("operator authenticator not configured".into()))?;
            let token = token.ok_or_else(|| TokenRefusal::MissingBearer.refuse())?;
            let operator = authenticator.authenticate(&token).await?;
            tracing::debug!(operator = %operator.subject, admin = operator.is_admin, "operator authenticated");
            Ok(operator)
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use secrecy::SecretString;

    use super::*;

    const SECRET: &str = "operator-secret-of-at-least-32-bytes!";

    fn settings() -> Settings {
        Settings {
            admin_jwt_hs256_secret: Some(SecretString::from(SECRET)),
            admin_jwt_issuer: Some("https://idp.example".to_owned()),
            admin_jwt_audience: Some("token-admin".to_owned()),
            ..Settings::default()
        }
    }

    fn authenticator() -> OperatorAuthenticator {
        OperatorAuthenticator::from_settings(&settings(), JwksPolicy::default()).unwrap()
    }

    fn token(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn claims(extra: serde_json::Value) -> serde_json::Value {
        let mut base = serde_json::json!({
            "iss": "https://idp.example", "aud": "token-admin", "sub": "alice",
            "exp": chrono::Utc::now().timestamp() + 300
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    }

    #[tokio::test]
    async fn tenant_claim_scopes_the_operator() {
        let op = authenticator()
            .authenticate(&token(claims(serde_json::json!({"tenant": "acme"}))))
            .await
            .unwrap();
        assert_eq!(op.subject, "alice");
        assert!(!op.is_admin);
        op.authorize(&TenantId::parse("acme").unwrap()).unwrap();
        assert!(matches!(
            op.authorize(&TenantId::parse("other").unwrap()),
            Err(AdminError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn admin_role_in_string_or_array_grants_all_tenants() {
        for role in [
            serde_json::json!("scim-admin"),
            serde_json::json!(["reader", "scim-admin"]),
        ] {
            let op = authenticator()
                .authenticate(&token(claims(serde_json::json!({"role": role}))))
                .await
                .unwrap();
            assert!(op.is_admin);
            op.authorize(&TenantId::parse("anything").unwrap()).unwrap();
        }
    }

    #[tokio::test]
    async fn token_without_scope_is_forbidden() {
        let err = authenticator()
            .authenticate(&token(claims(serde_json::json!({}))))
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Forbidden(_)), "{err:?}");
    }

    #[tokio::test]
    async fn missing_subject_or_exp_is_rejected() {
        let mut c = claims(serde_json::json!({"tenant": "acme"}));
        c.as_object_mut().unwrap().remove("sub");
        assert!(matches!(
            authenticator().authenticate(&token(c)).await,
            Err(AdminError::Unauthorized(_))
        ));
        let mut c = claims(serde_json::json!({"tenant": "acme"}));
        c.as_object_mut().unwrap().remove("exp");
        assert!(matches!(
            authenticator().authenticate(&token(c)).await,
            Err(AdminError::Unauthorized(_))
        ));
    }

    #[tokio::test]
    async fn not_before_in_the_future_is_refused_beyond_the_leeway() {
        let now = chrono::Utc::now().timestamp();
        let err = authenticator()
            .authenticate(&token(claims(
                serde_json::json!({"tenant": "acme", "nbf": now + 120}),
            )))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdminError::Unauthorized(detail) if detail == "invalid operator token: not valid yet (nbf)"),
            "{err:?}"
        );
        for nbf in [now - 60, now + 10] {
            authenticator()
                .authenticate(&token(claims(serde_json::json!({"tenant": "acme", "nbf": nbf}))))
                .await
                .unwrap();
        }
    }

    #[test]
    fn ambiguous_or_incomplete_settings_are_refused() {
        let both = Settings {
            admin_jwt_jwks_url: Some("http://idp/jwks".to_owned()),
            ..settings()
        };
        assert!(OperatorAuthenticator::from_settings(&both, JwksPolicy::default()).is_err());
        let neither = Settings {
            admin_jwt_hs256_secret: None,
            ..settings()
        };
        assert!(OperatorAuthenticator::from_settings(&neither, JwksPolicy::default()).is_err());
        let short = Settings {
            admin_jwt_hs256_secret: Some(SecretString::from("short")),
            ..settings()
        };
        assert!(OperatorAuthenticator::from_settings(&short, JwksPolicy::default()).is_err());
        let no_aud = Settings {
            admin_jwt_audience: None,
            ..settings()
        };
        assert!(OperatorAuthenticator::from_settings(&no_aud, JwksPolicy::default()).is_err());
    }
}

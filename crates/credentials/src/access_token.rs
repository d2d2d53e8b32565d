//! OAuth 2.0 access tokens for the client-credentials grant (RFC 6749 §4.4), as HS256 JWTs (RFC 7519).
//!
//! Strategy: `token-admin` issues, `scim-api` verifies, both holding the same shared secret
//! (`SCIM_OAUTH_SIGNING_SECRET`, at least 32 bytes). A token is short-lived (one hour by default) and carries
//! `{iss, aud: "scim-api", sub: <client_id>, tenant, jti, iat, exp}`. Verification pins everything an
//! attacker could otherwise choose: the algorithm list is exactly `[HS256]` (so `alg: none` and
//! RS/HS confusion fail before any key is used), and issuer, audience, subject and expiry are required and
//! checked. Verification needs no database; revocation is honoured by the caller, which looks the returned
//! `client_id` up (with a cache of a few seconds) and refuses a revoked client, and may track `jti`.
//!
//! Time is a parameter of [`AccessTokenIssuer::issue`]; verification reads the system clock through
//! jsonwebtoken, with a 30-second leeway for clock skew between replicas.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

/// `aud` of every access token: only the SCIM API accepts them.
pub const ACCESS_TOKEN_AUDIENCE: &str = "scim-api";
/// `iss` of every access token.
pub const ACCESS_TOKEN_ISSUER: &str = "scim-token-admin";
/// Default lifetime of an access token.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::hours(1);
/// Shortest accepted signing secret, in bytes (RFC 7518 §3.2: a key of at least the hash output size).
pub const MIN_SIGNING_SECRET_BYTES: usize = 32;
/// Allowed clock skew when checking `exp`, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// Why an access token could not be issued or was rejected.
#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the OAuth signing secret must be at least {MIN_SIGNING_SECRET_BYTES} bytes")]
    SecretTooShort,
    #[error("access token lifetime must be positive")]
    InvalidTtl,
    #[error("access token has expired")]
    Expired,
    #[error("access token is invalid")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    #[error("could not sign access token")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

impl AccessTokenError {
    /// The token's signature does not match: forged, or signed with another secret (a replica whose
    /// `oauth_signing_secret` differs from token-admin's).
    pub fn is_bad_signature(&self) -> bool {
        matches!(self, Self::Invalid(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    tenant: String,
    jti: String,
    iat: i64,
    exp: i64,
}

/// A freshly signed access token, for the token endpoint's response.
#[derive(Debug)]
pub struct IssuedAccessToken {
    /// The compact JWT; hand it to the client once.
    pub token: SecretString,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
    /// Seconds until expiry, for `expires_in` (RFC 6749 §5.1).
    pub expires_in: i64,
}

/// What a valid access token asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccessToken {
    pub tenant: String,
    pub client_id: String,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

fn check_secret(secret: &SecretString) -> Result<&[u8], AccessTokenError> {
    let bytes = secret.expose_secret().as_bytes();
    if bytes.len() < MIN_SIGNING_SECRET_BYTES {
        return Err(AccessTokenError::SecretTooShort);
    }
    Ok(bytes)
}

/// Signs access tokens (token-admin side).
pub struct AccessTokenIssuer {
    key: EncodingKey,
    ttl: Duration,
}

impl AccessTokenIssuer {
    /// An issuer with the shared secret and a token lifetime.
    pub fn new(secret: &SecretString, ttl: Duration) -> Result<Self, AccessTokenError> {
        if ttl <= Duration::zero() {
            return Err(AccessTokenError::InvalidTtl);
        }
        Ok(Self {
            key: EncodingKey::from_secret(check_secret(secret)?),
            ttl,
        })
    }

    /// Signs a token for `client_id` acting on `tenant`, valid from `now` for the configured lifetime.
    pub fn issue(
        &self,
        tenant: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, AccessTokenError> {
        let expires_at = now + self.ttl;
        let mut jti_bytes = [0_u8; 16];
        rand::rng().fill_bytes(&mut jti_bytes);
        let jti = hex::encode(jti_bytes);
        let claims = Claims {
            iss: ACCESS_TOKEN_ISSUER.to_owned(),
            aud: ACCESS_TOKEN_AUDIENCE.to_owned(),
            sub: client_id.to_owned(),
            tenant: tenant.to_owned(),
            jti: jti.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(AccessTokenError::Signing)?;
        Ok(IssuedAccessToken {
            token: SecretString::from(token),
            jti,
            expires_at,
            expires_in: self.ttl.num_seconds(),
        })
    }
}

impl fmt::Debug for AccessTokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenIssuer")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Checks access tokens (scim-api side, and token-admin's tests).
pub struct AccessTokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl AccessTokenVerifier {
    /// A verifier with the shared secret.
    pub fn new(secret: &SecretString) -> Result<Self, AccessTokenError> {
        let key = DecodingKey::from_secret(check_secret(secret)?);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ACCESS_TOKEN_ISSUER]);
        validation.set_audience(&[ACCESS_TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(Self { key, validation })
    }

    /// Verifies signature, algorithm, issuer, audience and expiry; returns who the token speaks for.
    pub fn verify(&self, token: &str) -> Result<VerifiedAccessToken, AccessTokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AccessTokenError::Expired,
            _ => AccessTokenError::Invalid(e),
        })?;
        let claims = data.claims;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(AccessTokenError::Invalid(
            jsonwebtoken::errors::ErrorKind::InvalidToken.into(),
        ))?;
        Ok(VerifiedAccessToken {
            tenant: claims.tenant,
            client_id: claims.sub,
            jti: claims.jti,
            expires_at,
        })
    }
}

impl fmt::Debug for AccessTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenVerifier").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

    fn pair() -> (AccessTokenIssuer, AccessTokenVerifier) {
        (
            AccessTokenIssuer::new(&secret(SECRET), DEFAULT_ACCESS_TOKEN_TTL).unwrap(),
            AccessTokenVerifier::new(&secret(SECRET)).unwrap(),
        )
    }

    /// Builds a token from raw JSON parts with a given signature segment.
    fn raw_token(header: &serde_json::Value, claims: &serde_json::Value, signature: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature
        )
    }

    fn valid_claims() -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({
            "iss": ACCESS_TOKEN_ISSUER, "aud": ACCESS_TOKEN_AUDIENCE, "sub": "client-1",
            "tenant": "acme", "jti": "j1", "iat": now, "exp": now + 600
        })
    }

    fn sign(claims: &serde_json::Value, key: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn issued_token_verifies_to_tenant_client_and_jti() {
        let (issuer, verifier) = pair();
        let now = Utc::now();
        let issued = issuer.issue("acme", "client-1", now).unwrap();
        assert_eq!(issued.expires_in, 3600);
        let verified = verifier.verify(issued.token.expose_secret()).unwrap();
        assert_eq!(verified.tenant, "acme");
        assert_eq!(verified.client_id, "client-1");
        assert_eq!(verified.jti, issued.jti);
        assert_eq!(
            verified.expires_at.timestamp(),
            (now + DEFAULT_ACCESS_TOKEN_TTL).timestamp()
        );
    }

    #[test]
    fn only_a_mismatched_signature_counts_as_a_bad_signature() {
        let (_, verifier) = pair();
        let forged = sign(&valid_claims(), "another-secret-of-at-least-32-bytes!!");
        assert!(verifier.verify(&forged).unwrap_err().is_bad_signature());
        let mut wrong_audience = valid_claims();
        wrong_audience["aud"] = "token-admin".into();
        let refused = verifier.verify(&sign(&wrong_audience, SECRET)).unwrap_err();
        assert!(!refused.is_bad_signature(), "{refused:?}");
        let mut expired = valid_claims();
        expired["exp"] = (Utc::now().timestamp() - 3600).into();
        let refused = verifier.verify(&sign(&expired, SECRET)).unwrap_err();
        assert!(!refused.is_bad_signature(), "{refused:?}");
    }

    #[test]
    fn forged_signature_is_rejected() {
        let (_, verifier) = pair();
        let forged = sign(&valid_claims(), "another-secret-of-at-least-32-bytes!!");
        assert!(matches!(
            verifier.verify(&forged),
            Err(AccessTokenError::Invalid(_))
        ));

        // Tampering with the payload of a genuine token breaks its signature.
        let genuine = sign(&valid_claims(), SECRET);
        let signature = genuine.rsplit('.').next().unwrap();
        let mut claims = valid_claims();
        claims["tenant"] = "other".into();
        let tampered = raw_token(
            &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
            &claims,
            signature,
        );
        assert!(matches!(
            verifier.verify(&tampered),
            Err(AccessTokenError::Invalid(_))
        ));
    }

    #[test]
    fn expired_token_is_rejected() {
        let (issuer, verifier) = pair();
        let issued = issuer
            .issue("acme", "client-1", Utc::now() - Duration::hours(2))
            .unwrap();
        assert!(matches!(
            verifier.verify(issued.token.expose_secret()),
            Err(AccessTokenError::Expired)
        ));
    }

    #[test]
    fn wrong_audience_or_issuer_is_rejected() {
        let (_, verifier) = pair();
        let mut claims = valid_claims();
        claims["aud"] = "token-admin".into();
        assert!(matches!(
            verifier.verify(&sign(&claims, SECRET)),
            Err(AccessTokenError::Invalid(_))
        ));
        let mut claims = valid_claims();
        claims["iss"] = "someone-else".into();
        assert!(matches!(
            verifier.verify(&sign(&claims, SECRET)),
            Err(AccessTokenError::Invalid(_))
        ));
    }

    #[test]
    fn missing_exp_is_rejected() {
        let (_, verifier) = pair();
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove("exp");
        assert!(matches!(
            verifier.verify(&sign(&claims, SECRET)),
            Err(AccessTokenError::Invalid(_))
        ));
    }

    #[test]
    fn alg_none_is_rejected() {
        let (_, verifier) = pair();
        let unsigned = raw_token(
            &serde_json::json!({"alg": "none", "typ": "JWT"}),
            &valid_claims(),
            "",
        );
        assert!(matches!(
            verifier.verify(&unsigned),
            Err(AccessTokenError::Invalid(_))
        ));
    }

    #[test]
    fn other_algorithms_are_rejected_even_with_the_right_key() {
        let (_, verifier) = pair();
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            verifier.verify(&hs512),
            Err(AccessTokenError::Invalid(_))
        ));
    }

    #[test]
    fn short_secrets_and_bad_ttls_are_refused() {
        assert!(matches!(
            AccessTokenVerifier::new(&secret("short")),
            Err(AccessTokenError::SecretTooShort)
        ));
        assert!(matches!(
            AccessTokenIssuer::new(&secret(SECRET), Duration::zero()),
            Err(AccessTokenError::InvalidTtl)
        ));
    }

    #[test]
    fn debug_does_not_print_keys() {
        let (issuer, verifier) = pair();
        let printed = format!("{issuer:?} {verifier:?}");
        assert!(!printed.contains(SECRET));
    }
}

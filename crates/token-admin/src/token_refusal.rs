//! Why an operator token was refused: one [`TokenRefusal`] per check that can fail, logged with its reason
//! and answered with a detail that says the same (a bad signature only ever says "signature rejected").
//! Shared by the claim checks in [`crate::auth`] and the key lookup in [`crate::jwks`].

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::error::AdminError;

/// Why an operator token was refused with 401. [`TokenRefusal::refuse`] logs it (`reason`, and `claim`
/// for claim problems) and answers with a detail that says the same, except that every signature failure
/// is only "signature rejected". Claim problems are found only after the signature has been verified,
/// so naming them tells nothing to someone without a signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    MissingBearer,
    /// The header is not a JWT header, or names an algorithm jsonwebtoken does not know (`none`).
    MalformedHeader,
    /// The claims are not a JSON object.
    MalformedClaims,
    AlgorithmNotAllowed(Algorithm),
    MissingKid,
    /// No key of the JWKS has the token's `kid`.
    UnknownSigningKey,
    /// The JWKS key named by `kid` is bound to another algorithm than the token's.
    KeyAlgorithmMismatch,
    BadSignature,
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    MissingClaim(String),
    /// Present but unusable: `exp` that is not a number, an empty `sub`.
    InvalidClaim(String),
    WrongIssuer,
    WrongAudience,
}

impl TokenRefusal {
    /// The `reason` field of the log line.
    fn reason(&self) -> &'static str {
        match self {
            Self::MissingBearer => "missing_bearer",
            Self::MalformedHeader | Self::MalformedClaims => "malformed",
            Self::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Self::MissingKid => "missing_kid",
            Self::UnknownSigningKey => "unknown_signing_key",
            Self::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
        }
    }

    /// The answer's detail.
    fn detail(&self) -> String {
        let what = match self {
            Self::MissingBearer => return "missing Authorization: Bearer token".to_owned(),
            Self::MalformedHeader => "malformed or unsupported header".to_owned(),
            Self::MalformedClaims => "the claims are not a JSON object".to_owned(),
            Self::AlgorithmNotAllowed(alg) => format!("algorithm {alg:?} not allowed"),
            Self::MissingKid => "no kid in header".to_owned(),
            Self::UnknownSigningKey => "unknown signing key".to_owned(),
            Self::KeyAlgorithmMismatch => "token algorithm does not match its signing key".to_owned(),
            Self::BadSignature => "signature rejected".to_owned(),
            Self::Expired => "expired".to_owned(),
            Self::NotYetValid => "not valid yet (nbf)".to_owned(),
            Self::MissingClaim(claim) => format!("missing claim {claim}"),
            Self::InvalidClaim(claim) => format!("claim {claim} is not valid"),
            Self::WrongIssuer => "wrong issuer".to_owned(),
            Self::WrongAudience => "wrong audience".to_owned(),
        };
        format!("invalid operator token: {what}")
    }

    /// Logs the refusal and turns it into the 401 answer.
    pub fn refuse(self) -> AdminError {
        let detail = self.detail();
        let reason = self.reason();
        match &self {
            Self::MissingClaim(claim) | Self::InvalidClaim(claim) => {
                tracing::info!(reason, claim = %claim, %detail, "operator token refused");
            }
            _ => tracing::info!(reason, %detail, "operator token refused"),
        }
        AdminError::Unauthorized(detail)
    }
}

/// The refusal behind a failed `jsonwebtoken::decode` of `token`.
pub fn classify(
    error: &jsonwebtoken::errors::Error,
    token: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
) -> TokenRefusal {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => TokenRefusal::BadSignature,
        ErrorKind::InvalidAlgorithm => TokenRefusal::AlgorithmNotAllowed(algorithm),
        ErrorKind::ExpiredSignature => TokenRefusal::Expired,
        ErrorKind::ImmatureSignature => TokenRefusal::NotYetValid,
        ErrorKind::InvalidIssuer => TokenRefusal::WrongIssuer,
        ErrorKind::InvalidAudience => TokenRefusal::WrongAudience,
        // jsonwebtoken reports a required claim of the wrong type (`"exp": "tomorrow"`) as missing.
        ErrorKind::MissingRequiredClaim(claim) if has_claim(token, key, algorithm, claim) => {
            TokenRefusal::InvalidClaim(claim.clone())
        }
        ErrorKind::MissingRequiredClaim(claim) => TokenRefusal::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => TokenRefusal::InvalidClaim(claim.clone()),
        ErrorKind::Json(_) => TokenRefusal::MalformedClaims,
        _ => TokenRefusal::MalformedHeader,
    }
}

/// Whether the token carries `claim` at all, checking only its signature. Claims are validated after the
/// signature, so this runs only for tokens signed with our key.
fn has_claim(token: &str, key: &DecodingKey, algorithm: Algorithm, claim: &str) -> bool {
    let mut signature_only = Validation::new(algorithm);
    signature_only.required_spec_claims.clear();
    signature_only.validate_exp = false;
    signature_only.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &signature_only)
        .is_ok_and(|data| data.claims.contains_key(claim))
}

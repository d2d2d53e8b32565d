//! Opaque bearer secrets: SCIM API tokens and OAuth client secrets.
//!
//! Strategy: a secret is 32 bytes from the thread-local CSPRNG (`rand::rng()`, ChaCha seeded from the OS),
//! base64url-encoded without padding (43 characters) behind a fixed prefix (`scim_` for API tokens, `scimcs_`
//! for client secrets), so a leaked one is recognisable to secret scanners and to people. The plaintext lives
//! in a [`PlainToken`] (a [`SecretString`]) only long enough to be shown once; the database holds the
//! [`HashedToken`], a SHA-256 in lowercase hex. A fast hash is right here: with 256 bits of entropy there is no
//! dictionary to try, and a lookup by hash needs a deterministic function.
//! Neither type prints its secret through `Debug`; `HashedToken` prints only its type name, so a hash cannot
//! leak into logs either.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Prefix of every SCIM API bearer token.
pub const API_TOKEN_PREFIX: &str = "scim_";
/// Prefix of every OAuth client secret.
pub const CLIENT_SECRET_PREFIX: &str = "scimcs_";
/// Random bytes per secret: 256 bits.
const RANDOM_BYTES: usize = 32;
/// Characters of the plaintext kept for listings (the prefix plus a few random characters).
const DISPLAY_PREFIX_CHARS: usize = 10;

/// A freshly generated secret, shown to its owner once and never stored.
pub struct PlainToken(SecretString);

impl PlainToken {
    /// A new SCIM API bearer token, `scim_` followed by 43 base64url characters.
    pub fn generate_api_token() -> Self {
        Self::generate(API_TOKEN_PREFIX)
    }

    /// A new OAuth client secret, `scimcs_` followed by 43 base64url characters.
    pub fn generate_client_secret() -> Self {
        Self::generate(CLIENT_SECRET_PREFIX)
    }

    fn generate(prefix: &str) -> Self {
        let mut bytes = [0_u8; RANDOM_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let mut text = String::with_capacity(prefix.len() + 43);
        text.push_str(prefix);
        URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
        Self(SecretString::from(text))
    }

    /// The hash to store and to look the token up by.
    pub fn hash(&self) -> HashedToken {
        HashedToken::of(self.0.expose_secret())
    }

    /// The first characters, safe to list so an operator can tell tokens apart.
    pub fn display_prefix(&self) -> String {
        Self::display_prefix_of(self.0.expose_secret())
    }

    /// The same prefix of a presented value, e.g. to log which token a client sent, so that it can be
    /// compared with the listed prefixes. Only for values of the token format
    /// ([`Self::is_api_token_format`]): of anything else (a password pasted by mistake) it may reveal too
    /// much.
    pub fn display_prefix_of(presented: &str) -> String {
        presented.chars().take(DISPLAY_PREFIX_CHARS).collect()
    }

    /// The plaintext. Call it only where the secret is handed to its owner, once.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether a presented bearer value has the shape of an API token (as opposed to, say, a JWT access
    /// token), so a verifier can choose between a hash lookup and signature verification.
    pub fn is_api_token_format(presented: &str) -> bool {
        presented.strip_prefix(API_TOKEN_PREFIX).is_some_and(|rest| {
            rest.len() >= 43
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken([REDACTED])")
    }
}

/// The one place a [`PlainToken`] is written out: serialising the answer that hands it to its owner.
pub fn expose_once<S: Serializer>(token: &PlainToken, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(token.expose_secret())
}

/// A newly issued SCIM API token as its owner receives it, once: the Tenant URL and the Secret Token to
/// paste into the identity provider. Serialises to `{"id", "baseUrl", "apiToken", "expiresAt"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedApiToken {
    pub id: String,
    pub base_url: String,
    #[serde(serialize_with = "expose_once")]
    pub api_token: PlainToken,
    pub expires_at: Option<DateTime<Utc>>,
}

/// SHA-256 of a secret, lowercase hex: the only form that is persisted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HashedToken(String);

impl HashedToken {
    /// Hashes a presented secret (e.g. the value of `Authorization: Bearer …`).
    pub fn of(plain: &str) -> Self {
        Self(hex::encode(Sha256::digest(plain.as_bytes())))
    }

    /// Wraps a hash read back from the database.
    pub fn from_stored(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    /// The lowercase hex form, as stored.
    pub fn as_hex(&self) -> &str {
        &self.0
    }

    /// Whether `plain` hashes to this value, compared in constant time so response timing says nothing about
    /// how many leading characters matched.
    pub fn matches(&self, plain: &str) -> bool {
        let candidate = Self::of(plain);
        let (a, b) = (self.0.as_bytes(), candidate.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for HashedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashedToken")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_tokens_have_prefix_and_256_bits() {
        let token = PlainToken::generate_api_token();
        let text = token.expose_secret();
        let body = text.strip_prefix("scim_").unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert!(PlainToken::is_api_token_format(text));
        assert_eq!(token.display_prefix().len(), 10);
        assert!(text.starts_with(&token.display_prefix()));
    }

    #[test]
    fn client_secrets_have_their_own_prefix() {
        let secret = PlainToken::generate_client_secret();
        assert!(secret.expose_secret().starts_with("scimcs_"));
        assert!(!PlainToken::is_api_token_format(secret.expose_secret()));
    }

    #[test]
    fn tokens_differ() {
        let a = PlainToken::generate_api_token();
        let b = PlainToken::generate_api_token();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn debug_never_shows_secret_or_hash() {
        let token = PlainToken::generate_api_token();
        let hash = token.hash();
        let printed = format!("{token:?} {hash:?}");
        assert_eq!(printed, "PlainToken([REDACTED]) HashedToken");
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            HashedToken::of("abc").as_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = PlainToken::generate_api_token();
        assert_eq!(token.hash(), HashedToken::of(token.expose_secret()));
    }

    #[test]
    fn matches_accepts_only_the_same_secret() {
        let token = PlainToken::generate_api_token();
        let stored = HashedToken::from_stored(token.hash().as_hex().to_owned());
        assert!(stored.matches(token.expose_secret()));
        assert!(!stored.matches("scim_wrong"));
        assert!(!HashedToken::from_stored("short").matches(token.expose_secret()));
    }

    #[test]
    fn issued_token_serialises_the_secret_but_debug_does_not() {
        let token = IssuedApiToken {
            id: "t1".to_owned(),
            base_url: "http://x/scim/v2/acme".to_owned(),
            api_token: PlainToken::generate_api_token(),
            expires_at: None,
        };
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(json["apiToken"], token.api_token.expose_secret());
        assert_eq!(json["baseUrl"], "http://x/scim/v2/acme");
        assert!(json["expiresAt"].is_null());
        assert!(!format!("{token:?}").contains(token.api_token.expose_secret()));
    }

    #[test]
    fn api_token_format_rejects_jwts_and_short_values() {
        assert!(!PlainToken::is_api_token_format("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert!(!PlainToken::is_api_token_format("scim_short"));
        assert!(!PlainToken::is_api_token_format(&format!(
            "scim_{}",
            "a".repeat(42) + "!"
        )));
    }
}

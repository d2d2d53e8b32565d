//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): what a receiver's stock verifier
//! (the `standardwebhooks` packages) checks.
//!
//! A secret is `whsec_` + the standard base64 of 32 random bytes; the HMAC key is those bytes. A
//! signature is `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")) over the
//! exact bytes sent. During a rotation's grace period the header lists one signature per secret,
//! space-separated, and a receiver accepts the request when any of them verifies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;

/// The prefix of every secret, so secret scanners and verifiers recognise it.
pub const SECRET_PREFIX: &str = "whsec_";
/// Key bytes of a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A stored secret that is not `whsec_` + base64: never written by this service, so a corrupt row.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint's stored signing secret is not a whsec_ secret")]
pub struct UnreadableSecret;

/// A new random secret.
pub fn generate_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header value: one `v1,` signature per secret, in the order given.
pub fn signature_header(
    secrets: &[String],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, UnreadableSecret> {
    let signatures = secrets
        .iter()
        .map(|secret| {
            let key = secret
                .strip_prefix(SECRET_PREFIX)
                .and_then(|encoded| STANDARD.decode(encoded).ok())
                .ok_or(UnreadableSecret)?;
            // HMAC takes keys of any length, so this cannot fail.
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| UnreadableSecret)?;
            mac.update(message_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_is_whsec_and_32_random_bytes() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        let key = STANDARD.decode(a.strip_prefix(SECRET_PREFIX).unwrap()).unwrap();
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn signs_the_specification_example() {
        // The example of the Standard Webhooks reference libraries' tests: this secret, id, timestamp
        // and body give this signature with any conforming implementation.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = br#"{"test": 2432232314}"#;
        let header =
            signature_header(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body).unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn several_secrets_give_space_separated_signatures_and_foreign_secrets_are_refused() {
        let secrets = [generate_secret(), generate_secret()];
        let header = signature_header(&secrets, "id", 1, b"{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature_header(&secrets[..1], "id", 1, b"{}").unwrap());
        assert!(signature_header(&["secret".to_owned()], "id", 1, b"{}").is_err());
    }
}

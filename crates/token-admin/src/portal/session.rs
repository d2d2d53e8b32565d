//! Portal sessions and CSRF tokens.
//!
//! The session cookie holds a random secret; the database holds its SHA-256 only, so every replica
//! recognises it and a database dump opens nothing. The cookie is `HttpOnly`, `SameSite=Strict`,
//! `Path=/portal/`, and `Secure` when the portal's public URL is https; it has no `Max-Age` (the browser
//! forgets it on exit) and the server ends it after `portal_session_idle_minutes` without a request or
//! `portal_session_max_hours` after the link was opened.
//!
//! CSRF: every form carries `csrf`, the SHA-256 of a fixed label and the session secret. Only a holder
//! of the cookie can compute it, a cross-site page can read neither, and nothing extra is stored. A POST
//! whose `csrf` does not match is refused (403) before it does anything.

use actix_web::HttpRequest;
use actix_web::http::header;
use credentials::HashedToken;
use sha2::{Digest as _, Sha256};
use storage::portal::PortalScope;

/// The session cookie's name.
pub const COOKIE: &str = "scim_portal";

/// An authenticated portal visitor.
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub scope: PortalScope,
    /// The form token of this session.
    pub csrf: String,
    /// Identifies the session row (sign-out).
    pub id_hash: HashedToken,
}

impl PortalSession {
    /// Whether this session may see and act on `tenant`.
    pub fn may_access(&self, tenant: &scim_core::TenantId) -> bool {
        match &self.scope {
            PortalScope::Operator => true,
            PortalScope::Tenant(own) => own == tenant,
        }
    }

    pub fn is_operator(&self) -> bool {
        self.scope == PortalScope::Operator
    }
}

/// The CSRF token of the session whose secret is `secret`.
pub fn csrf_token(secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"scim-portal-csrf\0");
    hasher.update(secret.as_bytes());
    format!("{:x}", hasher.finalize())
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session secret from the request's cookie, if any.
pub fn cookie_secret(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(secret: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={secret}; Path=/portal/; HttpOnly; SameSite=Strict{secure}")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/portal/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; scim_portal=abc; b=2"))
            .to_http_request();
        assert_eq!(cookie_secret(&req).as_deref(), Some("abc"));
        let none = TestRequest::default()
            .insert_header((header::COOKIE, "scim_portalx=abc"))
            .to_http_request();
        assert_eq!(cookie_secret(&none), None);
    }

    #[test]
    fn csrf_tokens_are_per_session_and_compared_whole() {
        let (a, b) = (csrf_token("s1"), csrf_token("s2"));
        assert_ne!(a, b);
        assert!(same_token(&a, &csrf_token("s1")));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a, ""));
    }

    #[test]
    fn cookies_are_strict_and_http_only() {
        let cookie = set_cookie("x", true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/portal/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!set_cookie("x", false).contains("Secure"));
    }
}

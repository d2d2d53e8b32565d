//! Public URLs for `meta.location`, `$ref` and `Location`.
//!
//! In order of preference: the configured `public_url`; `X-Forwarded-Proto`/`-Host`/`-Prefix` when, and
//! only when, the direct peer is a configured trusted proxy; otherwise the request's own `Host`, and
//! without a usable one the listener's address, as the start-up line prints it. actix's `ConnectionInfo`
//! is deliberately not used: it believes forwarded headers from anyone. The listener speaks plain HTTP
//! (TLS ends at the proxy), so only a trusted proxy can make a URL https.

use std::net::IpAddr;

use actix_web::HttpRequest;
use scim_core::TenantId;
use service::public_url::TenantUrlOrigin;

use crate::state::ApiConfig;

/// `<base>/scim/v2/<tenant>` with no trailing slash.
pub fn tenant_base_url(req: &HttpRequest, config: &ApiConfig, tenant: &TenantId) -> String {
    service::tenant_base_url(&public_origin(req, config), tenant)
}

/// Scheme, host and path prefix under which clients reach this service.
pub fn public_origin(req: &HttpRequest, config: &ApiConfig) -> String {
    let listen_origin = match &config.origin {
        TenantUrlOrigin::Configured(url) => return url.clone(),
        TenantUrlOrigin::Listen(origin) => origin,
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let peer_trusted = req
        .peer_addr()
        .is_some_and(|peer| config.trusted_proxies.iter().any(|net| net.contains(&peer.ip())));
    if peer_trusted && let Some(host) = header("x-forwarded-host").filter(|h| is_host(h)) {
        let proto = match header("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let prefix = header("x-forwarded-prefix")
            .filter(|p| is_prefix(p))
            .unwrap_or("")
            .trim_end_matches('/');
        return format!("{proto}://{host}{prefix}");
    }
    header("host")
        .filter(|h| is_host(h))
        .map_or_else(|| listen_origin.clone(), |host| format!("http://{host}"))
}

/// The address of the client: the direct peer, or, when the peer is a trusted proxy, the nearest address
/// in `X-Forwarded-For` that is not one (the proxies append, so the rightmost untrusted entry is the one
/// a client cannot forge). `None` without a peer address (a test request).
pub fn client_ip(req: &HttpRequest, config: &ApiConfig) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted(&ip) => {}
            Ok(ip) => return Some(ip),
            // Unparseable: nothing further left can be trusted either.
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

/// A plausible `host[:port]`: no spaces, slashes or other URL syntax that could redirect links.
fn is_host(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// A path prefix such as `/idp`: starts with `/`, plain path characters only.
fn is_prefix(value: &str) -> bool {
    value.starts_with('/')
        && value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '~'))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn config(public_url: Option<&str>, trusted: &[&str]) -> ApiConfig {
        ApiConfig {
            origin: TenantUrlOrigin::new(public_url, "0.0.0.0:8080", None),
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            page_size_default: 100,
            page_size_max: 1000,
            max_body_bytes: 1024,
            max_json_depth: 64,
            bulk_max_operations: 10,
            bulk_max_payload_bytes: 1024,
            tenant_queue_timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_forwards_it() {
        let trusted = config(None, &["10.0.0.0/8"]);
        let request = |peer: &str, xff: Option<&str>| {
            let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
            if let Some(xff) = xff {
                req = req.insert_header(("x-forwarded-for", xff));
            }
            req.to_http_request()
        };
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(&request("192.0.2.9:1", Some("203.0.113.5")), &trusted),
            ip("192.0.2.9")
        );
        // Through a trusted proxy: the rightmost untrusted entry, not a value the client prepended.
        assert_eq!(
            client_ip(
                &request("10.1.1.1:1", Some("1.2.3.4, 203.0.113.5, 10.2.2.2")),
                &trusted
            ),
            ip("203.0.113.5")
        );
        assert_eq!(client_ip(&request("10.1.1.1:1", None), &trusted), ip("10.1.1.1"));
        assert_eq!(
            client_ip(&request("10.1.1.1:1", Some("junk")), &trusted),
            ip("10.1.1.1")
        );
    }

    fn forwarded(peer: &str) -> HttpRequest {
        TestRequest::default()
            .peer_addr(peer.parse().unwrap())
            .insert_header(("host", "internal:8080"))
            .insert_header(("x-forwarded-host", "scim.example.com"))
            .insert_header(("x-forwarded-proto", "https"))
            .insert_header(("x-forwarded-prefix", "/idp/"))
            .to_http_request()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted = config(None, &["10.0.0.0/8"]);
        assert_eq!(
            public_origin(&forwarded("10.1.2.3:5000"), &trusted),
            "https://scim.example.com/idp"
        );
        assert_eq!(
            public_origin(&forwarded("192.0.2.9:5000"), &trusted),
            "http://internal:8080"
        );
    }

    #[test]
    fn configured_public_url_wins() {
        let cfg = config(Some("https://public.example"), &["10.0.0.0/8"]);
        assert_eq!(
            public_origin(&forwarded("10.1.2.3:5000"), &cfg),
            "https://public.example"
        );
    }

    #[test]
    fn without_a_usable_host_the_listener_address_is_the_origin() {
        for host in [None, Some("bad/host")] {
            let mut req = TestRequest::default();
            if let Some(host) = host {
                req = req.insert_header(("host", host));
            }
            assert_eq!(
                public_origin(&req.to_http_request(), &config(None, &[])),
                "http://127.0.0.1:8080"
            );
        }
    }

    #[test]
    fn spoofed_host_with_url_syntax_is_ignored() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:1".parse().unwrap())
            .insert_header(("x-forwarded-host", "evil.example/phish?"))
            .insert_header(("host", "ok.example"))
            .to_http_request();
        assert_eq!(
            public_origin(&req, &config(None, &["10.0.0.0/8"])),
            "http://ok.example"
        );
    }
}

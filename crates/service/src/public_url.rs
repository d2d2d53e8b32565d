//! `public_url`, the address identity providers use to reach scim-api: checked and normalised once when
//! settings load, and the `listen` fallback for printed Tenant URLs when it is unset.
//!
//! Every Tenant URL is `<public_url>/scim/v2/<tenant>`, so:
//! - a trailing `/` is dropped, and so is a trailing `/scim/v2` (with a warning), which would otherwise
//!   be printed twice;
//! - a query string or fragment would land in the middle of every Tenant URL, and an IdP cannot call a
//!   scheme other than http(s): both are refused;
//! - plain http to a host other than loopback is accepted, since it may be a lab, but warned about: the IdP
//!   would send its bearer token unencrypted, and Microsoft Entra ID accepts only https Tenant URLs.
//!   TLS ends at the reverse proxy; `public_url` is the proxy's https address.

use std::fmt;
use std::net::SocketAddr;

use url::{Host, Url};

/// The path every Tenant URL adds after `public_url`.
const SCIM_PATH: &str = "/scim/v2";

/// A usable `public_url` and what the operator should hear about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPublicUrl {
    /// Scheme, host, optional port and path prefix, without a trailing `/`.
    pub url: String,
    pub warnings: Vec<String>,
}

/// Checks and normalises a configured `public_url`; the error names the key, the value and what is
/// accepted.
pub fn normalize(raw: &str) -> Result<NormalizedPublicUrl, String> {
    let expected = "expected http(s)://host[:port][/path prefix], e.g. https://scim.example.com";
    let mut url =
        Url::parse(raw.trim()).map_err(|e| format!("public_url {raw:?} is not a URL ({e}): {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "public_url {raw:?} must start with http:// or https://: {expected}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "public_url {raw:?} must not have a query string or fragment: {expected}"
        ));
    }
    let mut warnings = Vec::new();
    let plain_http_elsewhere = url.scheme() == "http" && !is_loopback(&url);
    let path = url.path().trim_end_matches('/').to_owned();
    let prefix = match path.strip_suffix(SCIM_PATH) {
        Some(prefix) => {
            warnings.push(format!(
                "public_url {raw:?} ends in {SCIM_PATH}, which every Tenant URL adds itself: using it \
                 without that suffix"
            ));
            prefix.to_owned()
        }
        None => path,
    };
    url.set_path(&prefix);
    let url = url.as_str().trim_end_matches('/').to_owned();
    if plain_http_elsewhere {
        warnings.push(format!(
            "public_url {url} is plain http on a host other than loopback: the identity provider would send \
             its token unencrypted, and Microsoft Entra ID accepts only https Tenant URLs; end TLS at a \
             reverse proxy and set public_url to its https:// address"
        ));
    }
    Ok(NormalizedPublicUrl { url, warnings })
}

/// Whether the URL's host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The origin of printed Tenant URLs (`baseUrl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantUrlOrigin {
    /// `public_url`, normalised.
    Configured(String),
    /// `public_url` is unset: `http://` and the `listen` address as a client on this machine reaches it.
    Listen(String),
}

impl TenantUrlOrigin {
    /// Derives the origin from the settings' values (`public_url` without a trailing `/`); `listening_on`
    /// is the bound address when this process has bound it (it differs from `listen` for port 0).
    pub fn new(public_url: Option<&str>, listen: &str, listening_on: Option<SocketAddr>) -> Self {
        match public_url {
            Some(url) => Self::Configured(url.to_owned()),
            None => {
                let listen = listening_on.map_or_else(|| listen.to_owned(), |addr| addr.to_string());
                Self::Listen(format!("http://{}", local_address(&listen)))
            }
        }
    }

    /// The origin itself, to which `/scim/v2/<tenant>` is appended.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Configured(url) | Self::Listen(url) => url,
        }
    }
}

impl fmt::Display for TenantUrlOrigin {
    /// The origin, and where it comes from when `public_url` is unset (for start-up lines).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Configured(url) => f.write_str(url),
            Self::Listen(url) => write!(f, "{url} (public_url unset: from listen)"),
        }
    }
}

/// A listen address as a client on this machine reaches it: a wildcard bind (`0.0.0.0`, `[::]`) through
/// loopback.
fn local_address(listen: &str) -> String {
    match listen.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]" | "::", port)) => format!("127.0.0.1:{port}"),
        _ => listen.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(raw: &str) -> NormalizedPublicUrl {
        normalize(raw).unwrap()
    }

    #[test]
    fn wildcard_listen_addresses_print_as_loopback() {
        assert_eq!(local_address("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("[::]:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("127.0.0.1:9000"), "127.0.0.1:9000");
    }

    #[test]
    fn without_public_url_the_origin_is_the_bound_address_else_listen() {
        let bound: SocketAddr = "0.0.0.0:41234".parse().unwrap();
        let origin = TenantUrlOrigin::new(None, "0.0.0.0:0", Some(bound));
        assert_eq!(origin.as_str(), "http://127.0.0.1:41234");
        assert_eq!(
            origin.to_string(),
            "http://127.0.0.1:41234 (public_url unset: from listen)"
        );
        assert_eq!(
            TenantUrlOrigin::new(None, "127.0.0.1:9000", None).as_str(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            TenantUrlOrigin::new(Some("https://scim.example.com"), "127.0.0.1:9000", Some(bound)),
            TenantUrlOrigin::Configured("https://scim.example.com".to_owned())
        );
    }

    #[test]
    fn trailing_slash_is_dropped_without_a_warning() {
        assert_eq!(
            normalized("https://scim.example.com/"),
            NormalizedPublicUrl {
                url: "https://scim.example.com".to_owned(),
                warnings: vec![]
            }
        );
        assert_eq!(
            normalized("https://example.com/idp/").url,
            "https://example.com/idp"
        );
    }

    #[test]
    fn trailing_scim_v2_is_dropped_with_a_warning() {
        for raw in [
            "https://example.com/idp/scim/v2",
            "https://example.com/idp/scim/v2/",
        ] {
            let n = normalized(raw);
            assert_eq!(n.url, "https://example.com/idp", "{raw}");
            assert_eq!(n.warnings.len(), 1, "{raw}");
            assert!(n.warnings[0].contains("/scim/v2"), "{:?}", n.warnings);
        }
        assert_eq!(
            normalized("https://scim.example.com/scim/v2").url,
            "https://scim.example.com"
        );
    }

    #[test]
    fn query_string_or_fragment_is_refused_naming_the_key_and_value() {
        for raw in [
            "https://scim.example.com/?tenant=a",
            "https://scim.example.com/#x",
        ] {
            let err = normalize(raw).unwrap_err();
            assert!(err.contains("public_url") && err.contains(raw), "{err}");
            assert!(err.contains("query string or fragment"), "{err}");
        }
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused_naming_the_accepted_form() {
        for raw in [
            "ftp://scim.example.com",
            "scim.example.com",
            "https//scim.example.com",
        ] {
            let err = normalize(raw).unwrap_err();
            assert!(err.contains("public_url") && err.contains(raw), "{err}");
            assert!(err.contains("https://scim.example.com"), "{err}");
        }
    }

    #[test]
    fn plain_http_is_warned_about_except_on_loopback() {
        let n = normalized("http://scim.example.com");
        assert_eq!(n.url, "http://scim.example.com");
        assert_eq!(n.warnings.len(), 1);
        assert!(
            n.warnings[0].contains("Entra") && n.warnings[0].contains("https"),
            "{:?}",
            n.warnings
        );
        for loopback in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(normalized(loopback).warnings, Vec::<String>::new(), "{loopback}");
        }
        assert!(normalized("https://scim.example.com").warnings.is_empty());
    }
}

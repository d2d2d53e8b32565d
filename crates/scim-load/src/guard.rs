//! The loopback guard: a load tool must not hammer someone else's server by accident.
//!
//! Strategy: every base URL (from `--base-url`, a targets file or a token command) is parsed and
//! its host checked before any request is sent. Without `--allow-remote` only loopback hosts pass:
//! `localhost` (and its subdomains, which resolve to loopback per RFC 6761 §6.3), any
//! `127.0.0.0/8` address, `::1`, and IPv4-mapped loopback (`::ffff:127.x.y.z`). Hostnames are not
//! resolved: a DNS name that happens to point at 127.0.0.1 is still refused, which errs on the safe
//! side. Only `http` and `https` are accepted.

use std::net::IpAddr;

use anyhow::{Context, bail};
use reqwest::Url;

/// The host of a URL, as far as the guard cares.
#[derive(Debug, PartialEq, Eq)]
enum Host {
    Domain(String),
    Ip(IpAddr),
}

/// Extracts the host, unwrapping the brackets of an IPv6 literal.
fn host_of(url: &Url) -> Option<Host> {
    let raw = url.host_str()?;
    let unbracketed = raw
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(raw);
    match unbracketed.parse::<IpAddr>() {
        Ok(ip) => Some(Host::Ip(ip)),
        Err(_) => Some(Host::Domain(unbracketed.to_ascii_lowercase())),
    }
}

/// Whether a host is loopback without resolving it.
fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ip(IpAddr::V4(v4)) => v4.is_loopback(),
        Host::Ip(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Checks a base URL and returns it parsed; refuses non-loopback hosts unless `allow_remote`.
pub fn check_base_url(raw: &str, allow_remote: bool) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("invalid base URL {raw:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("base URL {raw:?} must use http or https");
    }
    let Some(host) = host_of(&url) else {
        bail!("base URL {raw:?} has no host");
    };
    if !allow_remote && !is_loopback(&host) {
        bail!(
            "refusing non-loopback host in {raw:?}: scim-load only targets 127.0.0.0/8, ::1 or \
             localhost unless --allow-remote is given"
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_pass_without_allow_remote() {
        for url in [
            "http://127.0.0.1:8080/scim/v2/t1",
            "http://127.1.2.3/scim",
            "http://localhost:8000/t1",
            "http://LOCALHOST./x",
            "http://api.localhost/x",
            "http://[::1]:8080/scim/v2/t1",
            "http://[::ffff:127.0.0.1]:8080/",
            "https://127.0.0.1/scim/v2/t1?aadOptscim062020",
        ] {
            assert!(check_base_url(url, false).is_ok(), "{url} should pass");
        }
    }

    #[test]
    fn remote_hosts_are_refused_without_allow_remote() {
        for url in [
            "http://10.0.0.1:8080/scim",
            "http://192.168.1.10/scim",
            "http://0.0.0.0:8080/scim",
            "http://[::]:8080/scim",
            "http://[2001:db8::1]/scim",
            "https://scim.example.com/scim/v2/t1",
            "http://localhost.example.com/scim",
            "http://127.0.0.1.nip.io/scim",
        ] {
            let err = check_base_url(url, false).unwrap_err().to_string();
            assert!(err.contains("--allow-remote"), "{url}: {err}");
        }
    }

    #[test]
    fn allow_remote_lets_any_http_host_through() {
        assert!(check_base_url("https://scim.example.com/scim/v2/t1", true).is_ok());
        assert!(check_base_url("http://10.0.0.1:8080/scim", true).is_ok());
    }

    #[test]
    fn non_http_schemes_and_garbage_are_refused() {
        assert!(check_base_url("ftp://127.0.0.1/scim", true).is_err());
        assert!(check_base_url("file:///etc/passwd", true).is_err());
        assert!(check_base_url("not a url", true).is_err());
        assert!(check_base_url("127.0.0.1:8080", false).is_err());
    }
}

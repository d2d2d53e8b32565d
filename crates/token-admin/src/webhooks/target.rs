//! Which addresses a webhook may be sent to (server-side request forgery guard, docs/security.md).
//!
//! Strategy: the check sits where the connection's address is decided, not before it. The HTTP client
//! resolves names only through [`GuardedResolver`], which refuses a name when any of its addresses is
//! loopback, private, link-local, unspecified, multicast or otherwise not public, and hands the client
//! exactly the addresses it checked: a DNS answer that changes between a check and the connection (DNS
//! rebinding) cannot slip through, since there is no second lookup. IP literals in URLs never reach a
//! resolver, so [`check_url`] checks them. `webhook_allow_private_targets` turns the guard off (tests,
//! or receivers on a private network).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a target is refused; its message names the setting that allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedTarget {
    pub host: String,
    pub address: IpAddr,
    pub kind: &'static str,
}

impl fmt::Display for RefusedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host == self.address.to_string() {
            write!(f, "refused target {}: a {} address", self.address, self.kind)?;
        } else {
            write!(
                f,
                "refused target {}: it resolves to {}, a {} address",
                self.host, self.address, self.kind
            )?;
        }
        f.write_str(" (set webhook_allow_private_targets to allow private targets)")
    }
}

impl std::error::Error for RefusedTarget {}

/// The kind of a non-public address, `None` for a public one.
pub fn non_public_kind(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        // 169.254.0.0/16, which holds cloud metadata services (169.254.169.254).
        Some("link-local")
    } else if a == 100 && (b & 0xc0) == 64 {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if (first & 0xffc0) == 0xfe80 || (first & 0xffc0) == 0xfec0 {
        Some("link-local")
    } else if (first & 0xfe00) == 0xfc00 {
        Some("private (unique local)")
    } else if let Some(v4) = embedded_v4(ip) {
        // ::ffff:10.0.0.1 and friends reach the IPv4 address they embed.
        v4_kind(v4)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`)
/// or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    match ip.segments() {
        [0, 0, 0, 0, 0, 0 | 0xffff, high, low] | [0x64, 0xff9b, 0, 0, 0, 0, high, low] => {
            Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)))
        }
        _ => None,
    }
}

/// Refuses a URL whose host is a non-public IP literal (names are checked when resolved).
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), RefusedTarget> {
    let address = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) | None => return Ok(()),
    };
    match non_public_kind(address) {
        Some(kind) if !allow_private => Err(RefusedTarget {
            host: address.to_string(),
            address,
            kind,
        }),
        _ => Ok(()),
    }
}

/// The HTTP client's resolver: the system's, refusing names with a non-public address.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // The port is the client's to set; lookup_host needs one.
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                for socket in &addresses {
                    if let Some(kind) = non_public_kind(socket.ip()) {
                        return Err(Box::new(RefusedTarget {
                            host,
                            address: socket.ip(),
                            kind,
                        })
                            as Box<dyn std::error::Error + Send + Sync>);
                    }
                }
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        let refused = [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::192.168.0.1",
        ];
        for address in refused {
            let ip: IpAddr = address.parse().unwrap();
            assert!(non_public_kind(ip).is_some(), "{address} passed");
        }
        for address in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::1.1.1.1",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(non_public_kind(ip), None, "{address} refused");
        }
    }

    #[test]
    fn ip_literal_urls_are_checked_and_the_setting_allows_them() {
        let url = Url::parse("http://[::ffff:127.0.0.1]:8080/hook").unwrap();
        let err = check_url(&url, false).unwrap_err();
        assert_eq!(err.kind, "loopback");
        assert!(err.to_string().contains("webhook_allow_private_targets"), "{err}");
        assert!(check_url(&url, true).is_ok());
        assert!(check_url(&Url::parse("https://hooks.example/x").unwrap(), false).is_ok());
    }
}

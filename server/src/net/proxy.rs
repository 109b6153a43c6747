//! Who is calling, behind a reverse proxy or not.
//!
//! `Forwarded` and `X-Forwarded-For` / `X-Forwarded-Proto` are whatever the
//! sender wrote, so they are read only when the TCP peer is a configured
//! proxy (`--trusted-proxy`); from anyone else they are ignored and the
//! client is the peer. Behind a chain of trusted proxies the client is the
//! nearest hop that is not one of them.

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{Extensions, HeaderMap, Request};
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Addresses and networks whose forwarded headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `--trusted-proxy`'s value: an address (`10.0.0.5`, `::1`) or a network
/// (`10.0.0.0/8`).
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("`{s}` is not an IP address or network (examples: 10.0.0.5, 10.0.0.0/8, ::1)")
        })
}

/// The caller as this server sees it, resolved once per request by the
/// transport and kept in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address: the peer, or what a trusted proxy reported.
    pub addr: IpAddr,
    /// Whether the client reached us over HTTPS: this server's own TLS, or a
    /// trusted proxy's word.
    pub https: bool,
    /// The TCP peer (the proxy, when there is one).
    pub peer: SocketAddr,
}

impl ClientInfo {
    pub fn resolve(
        peer: SocketAddr,
        tls: bool,
        headers: &HeaderMap,
        trusted: &TrustedProxies,
    ) -> ClientInfo {
        let mut client = ClientInfo {
            addr: peer.ip().to_canonical(),
            https: tls,
            peer,
        };
        if !trusted.contains(peer.ip()) {
            return client;
        }
        let forwarded = forwarded_hops(headers);
        let hops = if forwarded.is_empty() {
            x_forwarded_hops(headers)
        } else {
            forwarded
        };
        // Nearest first: each hop is what the proxy before it saw.
        for hop in hops.iter().rev() {
            if let Some(https) = hop.https {
                client.https = https;
            }
            match hop.addr {
                Some(addr) => {
                    client.addr = addr;
                    if !trusted.contains(addr) {
                        break;
                    }
                }
                // `unknown` or an obfuscated name: the last known hop stands.
                None => break,
            }
        }
        client
    }

    /// Set by the transport on every request it serves.
    pub fn from_extensions(extensions: &Extensions) -> Option<ClientInfo> {
        extensions.get::<ClientInfo>().copied().or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| ClientInfo {
                    addr: peer.ip().to_canonical(),
                    https: false,
                    peer: *peer,
                })
        })
    }

    /// For a request that did not come through the transport (a router
    /// driven directly in a test): unspecified address, plain HTTP.
    fn unknown() -> ClientInfo {
        ClientInfo {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            https: false,
            peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientInfo::from_extensions(&parts.extensions).unwrap_or_else(ClientInfo::unknown))
    }
}

/// The client's address, for audit entries and rate limits.
pub fn client_addr<B>(req: &Request<B>) -> IpAddr {
    ClientInfo::from_extensions(req.extensions())
        .unwrap_or_else(ClientInfo::unknown)
        .addr
}

/// Whether the client used HTTPS, for the cookie's `Secure` flag.
pub fn is_https<B>(req: &Request<B>) -> bool {
    ClientInfo::from_extensions(req.extensions()).is_some_and(|c| c.https)
}

struct Hop {
    addr: Option<IpAddr>,
    https: Option<bool>,
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(http::header::FORWARDED) {
        let Ok(value) = value.to_str() else { continue };
        for element in split_outside_quotes(value, ',') {
            let mut hop = Hop {
                addr: None,
                https: None,
            };
            for pair in split_outside_quotes(element, ';') {
                let Some((key, val)) = pair.split_once('=') else {
                    continue;
                };
                let val = val.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.addr = parse_node(val),
                    "proto" => hop.https = parse_proto(val),
                    _ => {}
                }
            }
            hops.push(hop);
        }
    }
    hops
}

/// `X-Forwarded-For: client, proxy1` with `X-Forwarded-Proto`: one value per
/// hop when the lists line up, otherwise the last value is the nearest
/// proxy's.
fn x_forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let list = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let fors = list("x-forwarded-for");
    let protos = list("x-forwarded-proto");
    let mut hops: Vec<Hop> = fors
        .iter()
        .map(|v| Hop {
            addr: parse_node(v),
            https: None,
        })
        .collect();
    if protos.len() == hops.len() {
        for (hop, proto) in hops.iter_mut().zip(&protos) {
            hop.https = parse_proto(proto);
        }
    } else if let Some(proto) = protos.last() {
        match hops.last_mut() {
            Some(hop) => hop.https = parse_proto(proto),
            // A scheme and no address: the proxy's word on the scheme only.
            None => hops.push(Hop {
                addr: None,
                https: parse_proto(proto),
            }),
        }
    }
    hops
}

/// `192.0.2.60`, `192.0.2.60:8080`, `[2001:db8::1]`, `[2001:db8::1]:4711`,
/// `2001:db8::1`; `unknown` and obfuscated names are `None`.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse::<IpAddr>().ok();
    }
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

fn parse_proto(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "https" => Some(true),
        "http" => Some(false),
        _ => None,
    }
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(s[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(s[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter()
                .map(|n| parse_trusted_proxy(n).unwrap())
                .collect(),
        )
    }

    fn resolve(peer: &str, pairs: &[(&str, &str)], nets: &[&str]) -> (String, bool) {
        let c = ClientInfo::resolve(
            peer.parse().unwrap(),
            false,
            &headers(pairs),
            &trusted(nets),
        );
        (c.addr.to_string(), c.https)
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let spoof = [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=198.51.100.1;proto=https"),
        ];
        assert_eq!(
            resolve("192.0.2.7:5000", &spoof, &[]),
            ("192.0.2.7".into(), false)
        );
        assert_eq!(
            resolve("192.0.2.7:5000", &spoof, &["10.0.0.0/8"]),
            ("192.0.2.7".into(), false)
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_yields_the_nearest_untrusted_hop() {
        // The client wrote the first entry itself: only hops added by our
        // proxies count.
        let h = [
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2"),
            ("x-forwarded-proto", "https"),
        ];
        assert_eq!(
            resolve("10.0.0.1:80", &h, &["10.0.0.0/8"]),
            ("203.0.113.9".into(), true)
        );
        assert_eq!(
            resolve("[::ffff:10.0.0.1]:80", &h, &["10.0.0.1"]),
            ("10.0.0.2".into(), true)
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_and_reads_ipv6_and_ports() {
        let h = [
            (
                "forwarded",
                r#"for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1"#,
            ),
            ("x-forwarded-for", "203.0.113.9"),
        ];
        assert_eq!(
            resolve("127.0.0.1:1", &h, &["127.0.0.1"]),
            ("2001:db8:cafe::17".into(), true)
        );
        let h = [("forwarded", "for=unknown;proto=https")];
        assert_eq!(
            resolve("127.0.0.1:1", &h, &["127.0.0.0/8"]),
            ("127.0.0.1".into(), true)
        );
        let h = [("forwarded", "for=192.0.2.43:8080, for=127.0.0.5")];
        assert_eq!(
            resolve("127.0.0.1:1", &h, &["127.0.0.0/8"]),
            ("192.0.2.43".into(), false)
        );
    }

    #[test]
    fn a_proxy_address_must_be_an_ip_or_network() {
        assert!(parse_trusted_proxy("10.0.0.0/8").is_ok());
        assert!(parse_trusted_proxy("::1").is_ok());
        let e = parse_trusted_proxy("proxy.local").unwrap_err();
        assert!(e.contains("`proxy.local`"), "{e}");
    }
}

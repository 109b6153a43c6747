//! Refuses requests for a name that is not ours, and changes that come from
//! another site. Runs before anything reads credentials.
//!
//! - `Host` must be one of [`Origins::hosts`]: a page on `evil.example`
//!   whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends
//!   `Host: evil.example` and gets 421.
//! - A request with an unsafe method (anything but GET, HEAD, OPTIONS) is
//!   refused with 403 when `Sec-Fetch-Site` says `cross-site` or
//!   `same-site`, or when `Origin` is present and not one of ours (`null`
//!   included). Browsers send at least one of them on every cross-site
//!   POST, form posts included, so a page elsewhere cannot drive the
//!   console with the operator's cookie. Clients that send neither (curl,
//!   the CLI) are not browsers and carry no ambient cookie of ours.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

/// The names this server answers to.
#[derive(Debug, Clone)]
pub struct Origins {
    /// `Host` header values accepted (`127.0.0.1:3000`, `switchyard.example.com`).
    hosts: BTreeSet<String>,
    /// `Origin` values accepted (`http://127.0.0.1:3000`).
    origins: BTreeSet<String>,
}

impl Origins {
    /// The listening address (its loopback names when it is loopback or
    /// unspecified) and every `--public-url`.
    pub fn new(bound: SocketAddr, public_urls: &[url::Url], tls: bool) -> Self {
        let mut hosts = BTreeSet::new();
        let mut origins = BTreeSet::new();
        let scheme = if tls { "https" } else { "http" };
        let port = bound.port();
        let mut names = vec![bound.ip().to_string()];
        if bound.ip().is_loopback() || bound.ip().is_unspecified() {
            names.extend(["127.0.0.1", "localhost", "[::1]"].map(str::to_owned));
        }
        for name in names {
            let name = if name.contains(':') && !name.starts_with('[') {
                format!("[{name}]")
            } else {
                name
            };
            let authority = format!("{name}:{port}");
            origins.insert(format!("{scheme}://{authority}"));
            hosts.insert(authority);
            if (tls && port == 443) || (!tls && port == 80) {
                origins.insert(format!("{scheme}://{name}"));
                hosts.insert(name);
            }
        }
        for url in public_urls {
            let Some(host) = url.host_str() else { continue };
            let origin = url.origin().ascii_serialization();
            let authority = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            };
            hosts.insert(authority);
            origins.insert(origin);
        }
        Origins { hosts, origins }
    }

    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.contains(&host.to_ascii_lowercase())
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.contains(&origin.to_ascii_lowercase())
    }
}

/// Why a request was refused, for the response and the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    UnknownHost(String),
    CrossSite(String),
}

pub fn check(origins: &Origins, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !origins.allows_host(host) {
        return Err(Refusal::UnknownHost(host.chars().take(100).collect()));
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(Refusal::CrossSite(format!("Sec-Fetch-Site: {site}")));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !origins.allows_origin(origin) {
            return Err(Refusal::CrossSite(format!(
                "Origin: {}",
                origin.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

pub async fn guard(State(origins): State<Arc<Origins>>, req: Request, next: Next) -> Response {
    match check(&origins, req.method(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            tracing::warn!(?refusal, method = %req.method(), path = req.uri().path(), "refused request");
            let (status, message) = match refusal {
                Refusal::UnknownHost(host) => (
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "this server does not answer to Host `{}`; add its public URL with --public-url",
                        host.escape_debug()
                    ),
                ),
                Refusal::CrossSite(what) => (
                    StatusCode::FORBIDDEN,
                    format!(
                        "cross-site request refused ({}): changes must come from this server's own pages",
                        what.escape_debug()
                    ),
                ),
            };
            let body = app::error::AppError {
                code: if status == StatusCode::FORBIDDEN {
                    "forbidden".into()
                } else {
                    "misdirected".into()
                },
                message,
                details: Vec::new(),
                current_hash: None,
            };
            (status, axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn refuses_foreign_hosts_and_cross_site_changes() {
        let o = Origins::new("127.0.0.1:3000".parse().unwrap(), &[], false);
        let ok = headers(&[("host", "127.0.0.1:3000")]);
        assert!(check(&o, &Method::POST, &ok).is_ok());
        assert!(check(&o, &Method::GET, &headers(&[("host", "localhost:3000")])).is_ok());
        assert!(matches!(
            check(&o, &Method::GET, &headers(&[("host", "evil.example:3000")])),
            Err(Refusal::UnknownHost(_))
        ));
        for bad in [
            vec![
                ("host", "127.0.0.1:3000"),
                ("origin", "http://evil.example"),
            ],
            vec![("host", "127.0.0.1:3000"), ("origin", "null")],
            vec![("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")],
            vec![("host", "127.0.0.1:3000"), ("sec-fetch-site", "same-site")],
            vec![
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3001"),
            ],
        ] {
            assert!(
                matches!(
                    check(&o, &Method::POST, &headers(&bad)),
                    Err(Refusal::CrossSite(_))
                ),
                "{bad:?}"
            );
        }
        let same = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check(&o, &Method::PUT, &same).is_ok());
    }

    #[test]
    fn public_urls_add_their_names() {
        let public = vec![url::Url::parse("https://switchyard.example.com").unwrap()];
        let o = Origins::new("0.0.0.0:3000".parse().unwrap(), &public, false);
        assert!(o.allows_host("switchyard.example.com"));
        assert!(o.allows_origin("https://switchyard.example.com"));
        assert!(!o.allows_origin("http://switchyard.example.com"));
    }
}

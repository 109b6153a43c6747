//! Security headers on every response.
//!
//! Pages get a Content-Security-Policy with a fresh nonce per request: the
//! middleware puts a [`Nonce`] in the request's extensions and
//! [`provide_csp_nonce`] hands it to Leptos, whose `HydrationScripts` and
//! resource scripts carry it. Everything else the console loads (the JS
//! module, the wasm, the stylesheet) comes from `'self'`; the wasm needs
//! `'wasm-unsafe-eval'`. API and server-function answers are data, never
//! documents: they get a policy that allows nothing, and `no-store`.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::header::{self, HeaderName, HeaderValue};
use http::HeaderMap;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

use super::ClientInfo;

/// Data routes: never rendered as a document, never cached.
fn is_data(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path.starts_with("/console/fn/")
}

pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

pub const DATA_POLICY: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The middleware (`axum::middleware::from_fn(security_headers)`). A header
/// a handler set itself is left alone.
pub async fn security_headers(mut req: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    req.extensions_mut().insert(nonce.clone());
    let data = is_data(req.uri().path());
    let https = ClientInfo::from_extensions(req.extensions()).is_some_and(|c| c.https);
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let policy = if data {
        DATA_POLICY.to_owned()
    } else {
        page_policy(&nonce)
    };
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        set_default(headers, header::CONTENT_SECURITY_POLICY, policy);
    }
    let fixed: [(HeaderName, &str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: a server function posted as a plain form (no
        // JavaScript) redirects back to its page by the `Referer` header.
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        set_default(headers, name, HeaderValue::from_static(value));
    }
    if data {
        set_default(
            headers,
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
    if https {
        // Only when the client really used HTTPS: on plain HTTP it is
        // ignored, and behind a proxy the proxy vouched for the scheme.
        set_default(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

fn set_default(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    headers.entry(name).or_insert(value);
}

/// For the Leptos context closure: render this request's inline scripts
/// with the nonce its CSP header names. leptos_axum provides a random nonce
/// of its own first; this replaces it.
pub fn provide_csp_nonce() {
    if let Some(nonce) = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned())
    {
        provide_context(nonce);
    }
}

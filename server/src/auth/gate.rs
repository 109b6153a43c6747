//! Nothing private without a caller: the API and server functions answer
//! 401, pages send the browser to the login page and back afterwards.
//! Public: health checks, the login page and its endpoints, the console's
//! static assets, and the OpenAPI document.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::{unauthenticated, Identity};

/// Paths anyone may fetch.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/login" | "/auth/login" | "/api/v1/openapi.json" | "/favicon.ico"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/auth/oidc/")
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/console/fn/") || path.starts_with("/auth/")
}

pub async fn gate(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let known = req
        .extensions()
        .get::<Identity>()
        .is_some_and(|i| i.actor.is_some());
    if known || is_public(path) {
        return next.run(req).await;
    }
    if is_api(path) || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return unauthenticated().into_response();
    }
    let next_url = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let target = format!("/login?next={}", urlencode(&next_url));
    (StatusCode::SEE_OTHER, Redirect::to(&target)).into_response()
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Where to go after login: only a path on this server (`/runs?x=1`),
/// never `//evil.example` or `https://…`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control())
                && n.len() <= 2_000 =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/runs?agent=qa")), "/runs?agent=qa");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "/a\nb",
            "x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}

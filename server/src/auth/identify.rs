//! Turns credentials into an [`Actor`]: `Authorization: Bearer sy_…` (API
//! tokens: the CLI, scripts) or the session cookie (the console). Unknown,
//! expired or revoked credentials leave the request anonymous; the gate
//! then refuses it.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

use super::{Identity, SESSION_COOKIE};
use crate::error::ApiError;
use crate::AppState;

pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Static assets and health checks need no caller: without this, every
    // wasm, CSS and probe request cost the session's database reads.
    if needs_no_caller(req.uri().path()) {
        return next.run(req).await;
    }
    let address = client_address(&req);
    let identity = match resolve(&state, req.headers()).await {
        Ok(identity) => identity,
        // The store is down: say so rather than pretend the caller is unknown.
        Err(e) => return ApiError::Engine(e).into_response(),
    };
    let identity = Identity {
        actor: identity.actor.map(|a| a.with_address(address.clone())),
        session: identity.session,
    };
    // The console's server functions read the actor itself (the app crate
    // does not know this module's types).
    if let Some(actor) = &identity.actor {
        req.extensions_mut().insert(actor.clone());
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

fn needs_no_caller(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/healthz" | "/readyz" | "/favicon.ico")
}

async fn resolve(state: &AppState, headers: &HeaderMap) -> engine::Result<Identity> {
    if let Some(token) = bearer(headers) {
        return Ok(Identity {
            actor: state.services.identify_token(token).await?,
            session: None,
        });
    }
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        return Ok(Identity {
            actor: state.services.identify_session(&secret).await?,
            session: Some(secret),
        });
    }
    Ok(Identity {
        actor: None,
        session: None,
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// One cookie's value from every `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The peer's address, for the audit log.
pub fn client_address(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

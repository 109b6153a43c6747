//! REST API under `/api/v1`. One module per resource, each with a `router()`.
//! Handlers are adapters: parse, call one engine method, map the result.

mod agents;
mod config;
mod doctor;
mod jobs;
pub mod openapi;
mod providers;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().nest(
        "/api/v1",
        Router::new()
            .merge(agents::router())
            .merge(config::router())
            .merge(providers::router())
            .merge(jobs::router())
            .merge(doctor::router())
            .merge(openapi::router()),
    )
}

/// Who made a change through the API. Until tokens exist (DESIGN §10), API
/// changes are attributed to `api`.
const API_AUTHOR: &str = "api";

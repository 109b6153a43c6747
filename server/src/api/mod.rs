//! REST API under `/api/v1`. One module per resource, each with a `router()`.
//! Handlers are adapters: parse, call one engine method, map the result.

mod accounts;
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
            .merge(accounts::router())
            .merge(agents::router())
            .merge(config::router())
            .merge(providers::router())
            .merge(jobs::router())
            .merge(doctor::router())
            .merge(openapi::router()),
    )
}

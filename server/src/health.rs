//! `/healthz`: the process answers. `/readyz`: it can also reach its database
//! and read its newest config revision, so a load balancer only sends
//! traffic to replicas that can serve it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    match state.services.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database or the current config cannot be read; see the server log\n"
                    .into(),
            )
        }
    }
}

//! `/api/v1/doctor`: the checks behind `switchyard doctor`.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use engine::doctor::DoctorReport;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/doctor", post(run))
}

/// Starts each Codex-harness agent's app-server through the handshake, asks
/// each provider for its models, and lists the chains' reachability
/// warnings. Failed checks are a 200 with `ok: false`. A POST because it
/// starts processes and calls providers.
#[utoipa::path(post, path = "/api/v1/doctor", tag = "doctor",
    responses((status = 200, body = DoctorReport)))]
pub(super) async fn run(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<DoctorReport>> {
    Ok(Json(state.services.doctor(&actor).await?))
}

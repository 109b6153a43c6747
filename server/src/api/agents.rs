//! `/api/v1/agents`: effective agent settings and harness changes.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use engine::config::FleetView;
use engine::config::{AgentView, EffectiveAgent, HarnessPatch};

use super::API_AUTHOR;
use crate::error::ApiResult;
use crate::AppState;
use app::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list))
        .route("/agents/{id}", get(get_one))
        .route("/agents/{id}/harness", patch(update_harness))
}

/// Every agent's effective settings, with the revision they come from.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    responses((status = 200, body = FleetView)))]
pub(super) async fn list(State(state): State<AppState>) -> ApiResult<Json<FleetView>> {
    Ok(Json(state.fleet.view().await?))
}

/// One agent: effective settings with their sources, and its chain's reachability.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "agent id")),
    responses((status = 200, body = AgentView), (status = 404, body = AppError)))]
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(state.fleet.agent(&id).await?))
}

/// `{"runtime"?: "pi"|"codex"|"auto"|"inherit", "fallback"?: "pi"|"codex"|"none"|"inherit"}`.
/// Stores a new config revision; answers the agent's new effective settings.
#[utoipa::path(patch, path = "/api/v1/agents/{id}/harness", tag = "agents",
    params(("id" = String, Path, description = "agent id")),
    request_body = HarnessPatch,
    responses((status = 200, body = EffectiveAgent), (status = 400, body = AppError),
              (status = 404, body = AppError), (status = 422, body = AppError)))]
pub(super) async fn update_harness(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<HarnessPatch>, JsonRejection>,
) -> ApiResult<Json<EffectiveAgent>> {
    let Json(patch) = body?;
    Ok(Json(
        state.fleet.set_harness(&id, &patch, API_AUTHOR).await?,
    ))
}

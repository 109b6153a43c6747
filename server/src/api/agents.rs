//! `/api/v1/agents`: effective agent settings and harness changes.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use engine::config::FleetView;
use engine::config::{AgentView, EffectiveAgent, HarnessPatch};
use engine::drill::{DrillOptions, DrillReport};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::AppState;
use app::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list))
        .route("/agents/{id}", get(get_one))
        .route("/agents/{id}/harness", patch(update_harness))
        .route("/agents/{id}/drill", get(drill_options).post(drill))
}

/// Every agent's effective settings, with the revision they come from.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    responses((status = 200, body = FleetView)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<FleetView>> {
    Ok(Json(state.services.fleet_view(&actor).await?))
}

/// One agent: effective settings with their sources, and its chain's reachability.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "agent id")),
    responses((status = 200, body = AgentView), (status = 404, body = AppError)))]
pub(super) async fn get_one(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(state.services.agent(&actor, &id).await?))
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
    Caller(actor): Caller,
    Path(id): Path<String>,
    body: Result<Json<HarnessPatch>, JsonRejection>,
) -> ApiResult<Json<EffectiveAgent>> {
    let Json(patch) = body?;
    Ok(Json(state.services.set_harness(&actor, &id, &patch).await?))
}

/// A drill: which candidate of the agent's chain, and which failure class
/// (DESIGN §3) to inject there.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct DrillBody {
    /// `provider/model`, one of the agent's chain.
    candidate: String,
    /// A failure class, e.g. `harness_crashed`, `rate_limit`.
    inject: String,
}

/// What can be drilled for this agent: its effective settings and, per
/// candidate, every failure class with how a drill produces it there or why
/// it cannot be injected there.
#[utoipa::path(get, path = "/api/v1/agents/{id}/drill", tag = "agents",
    params(("id" = String, Path, description = "agent id")),
    responses((status = 200, body = DrillOptions), (status = 404, body = AppError)))]
pub(super) async fn drill_options(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DrillOptions>> {
    Ok(Json(state.services.drill_options(&actor, &id).await?))
}

/// Runs the agent's real plan through the real router and Codex harness
/// against `sim`, in a store of its own, with `inject` failing at
/// `candidate` and every other candidate answering ok. Answers the decision
/// trail, the outcome (the run's error text exactly as a real run records
/// it), the time to the first fallback and the agent's settings. Touches no
/// production health, decision or run. 422 names the field that cannot be
/// drilled and why.
#[utoipa::path(post, path = "/api/v1/agents/{id}/drill", tag = "agents",
    params(("id" = String, Path, description = "agent id")),
    request_body = DrillBody,
    responses((status = 200, body = DrillReport), (status = 400, body = AppError),
              (status = 404, body = AppError), (status = 422, body = AppError)))]
pub(super) async fn drill(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    body: Result<Json<DrillBody>, JsonRejection>,
) -> ApiResult<Json<DrillReport>> {
    let Json(body) = body?;
    Ok(Json(
        state
            .services
            .run_drill(&actor, &id, &body.candidate, &body.inject)
            .await?,
    ))
}

//! `/api/v1/providers` and `/api/v1/decisions`: provider and harness health,
//! test calls, the harness handshake check, and the router's decisions
//! (stored, and live over SSE).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::health::{DecisionRow, HarnessCheck, ProvidersView, TestCallReport};
use futures_util::stream::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use app::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(list))
        .route("/providers/{id}/test", post(test_call))
        .route("/harnesses/{id}/check", post(check_harness))
        .route("/decisions", get(decisions))
        .route(
            "/decisions/stream",
            get(stream).layer(axum::middleware::from_fn(crate::net::limit_streams)),
        )
}

/// Every provider's health, cooldowns, circuit and last hour's calls by
/// failure class, with the newest routing decisions.
#[utoipa::path(get, path = "/api/v1/providers", tag = "providers",
    responses((status = 200, body = ProvidersView)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<ProvidersView>> {
    Ok(Json(state.services.providers_view(&actor).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TestCall {
    /// The model, without the provider prefix (`deepseek/deepseek-v3.2`).
    /// Defaults to the provider's first model.
    pub model: Option<String>,
}

/// Calls one model with a short prompt, bypassing its cooldown, and reports
/// the outcome and the decisions it produced. A failure of the model is a
/// 200 with `ok: false`; a model that is not configured is a 422.
#[utoipa::path(post, path = "/api/v1/providers/{id}/test", tag = "providers",
    params(("id" = String, Path, description = "provider id")),
    request_body = TestCall,
    responses((status = 200, body = TestCallReport), (status = 404, body = AppError), (status = 422, body = AppError)))]
pub(super) async fn test_call(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    body: Result<Json<TestCall>, JsonRejection>,
) -> ApiResult<Json<TestCallReport>> {
    let Json(body) = body?;
    Ok(Json(
        state
            .services
            .test_call(&actor, &id, body.model.as_deref())
            .await?,
    ))
}

/// Starts the harness (`codex`: the Codex app-server) for every agent that
/// runs candidates in it, through the handshake, and stops it; the report
/// per agent. Needs the operator role (it spawns processes) and is audited
/// (`harness.check`). A failed handshake is a 200 with `ok: false`.
#[utoipa::path(post, path = "/api/v1/harnesses/{id}/check", tag = "providers",
    params(("id" = String, Path, description = "harness id: `codex`")),
    responses((status = 200, body = [HarnessCheck]), (status = 403, body = AppError), (status = 404, body = AppError)))]
pub(super) async fn check_harness(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<HarnessCheck>>> {
    Ok(Json(state.services.check_harness(&actor, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct DecisionQuery {
    /// Only this run's decisions, oldest first.
    pub run_id: Option<String>,
    /// Only this provider's decisions, newest first.
    pub provider: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Routing decisions: one run's in order, or the newest.
#[utoipa::path(get, path = "/api/v1/decisions", tag = "providers",
    params(DecisionQuery),
    responses((status = 200, body = [DecisionRow]), (status = 400, body = AppError)))]
pub(super) async fn decisions(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<DecisionQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<DecisionRow>>> {
    let Query(q) = query.map_err(|e| ApiError::BadParam {
        path: "query",
        message: e.body_text(),
    })?;
    let rows = state
        .services
        .decisions(
            &actor,
            q.run_id.as_deref(),
            q.provider.as_deref(),
            q.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(rows))
}

/// Decisions as they are made, as server-sent events (`event: decision`,
/// data: a decision as JSON). A slow reader that falls behind gets an
/// `event: lagged` with the number of decisions it missed.
#[utoipa::path(get, path = "/api/v1/decisions/stream", tag = "providers",
    responses((status = 200, description = "text/event-stream of decisions")))]
pub(super) async fn stream(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let receiver = state.services.subscribe_decisions(&actor)?;
    let events = BroadcastStream::new(receiver).map(|item| {
        Ok(match item {
            Ok(decision) => Event::default()
                .event("decision")
                .json_data(&decision)
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

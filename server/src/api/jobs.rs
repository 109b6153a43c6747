//! `/api/v1/jobs` and `/api/v1/runs`: schedules and their state, force-run,
//! enable/disable, run history (filtered, keyset-paginated), run detail and
//! cancel. Each handler is one call into the scheduler or the fleet.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::runs::{Enqueued, JobView, RunDetail, RunPage, RunStatus};
use engine::store::RunFilter;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use app::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(list))
        .route("/jobs/{id}/run", post(run_now))
        .route("/jobs/{id}/enable", post(enable))
        .route("/jobs/{id}/disable", post(disable))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/cancel", post(cancel))
}

/// Every job: schedule in words, next five fires, state (running since,
/// queued, consecutive errors, last error).
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", responses((status = 200, body = [JobView])))]
pub(super) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<JobView>>> {
    Ok(Json(state.services.jobs(&actor).await?))
}

/// Queues a run now and answers at once with its id (`manual:<jobId>:<n>`).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/run", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 202, body = Enqueued), (status = 404, body = AppError)))]
pub(super) async fn run_now(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Enqueued>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.services.run_now(&actor, &id).await?),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobEnabled {
    pub job_id: String,
    pub enabled: bool,
}

/// Enables a job (a new config revision).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/enable", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobEnabled), (status = 404, body = AppError)))]
pub(super) async fn enable(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<JobEnabled>> {
    state.services.set_job_enabled(&actor, &id, true).await?;
    Ok(Json(JobEnabled {
        job_id: id,
        enabled: true,
    }))
}

/// Disables a job (a new config revision). Runs already queued still run.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/disable", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobEnabled), (status = 404, body = AppError)))]
pub(super) async fn disable(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<JobEnabled>> {
    state.services.set_job_enabled(&actor, &id, false).await?;
    Ok(Json(JobEnabled {
        job_id: id,
        enabled: false,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct RunQuery {
    pub agent: Option<String>,
    /// Job id (`--id` in `switchyard cron runs`).
    pub job: Option<String>,
    /// queued, running, ok, error, timeout, cancelled or skipped.
    pub status: Option<String>,
    /// A failure class, `abandoned`, …
    pub class: Option<String>,
    pub fallback_used: Option<bool>,
    /// The `next` of the previous page.
    pub before: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// Runs, newest first, filtered; pages continue with `before=<next>`.
#[utoipa::path(get, path = "/api/v1/runs", tag = "jobs", params(RunQuery),
    responses((status = 200, body = RunPage), (status = 400, body = AppError)))]
pub(super) async fn runs(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<RunQuery>, QueryRejection>,
) -> ApiResult<Json<RunPage>> {
    let Query(q) = query.map_err(|e| ApiError::BadParam {
        path: "query",
        message: e.body_text(),
    })?;
    let filter = RunFilter::parse(
        q.agent,
        q.job,
        q.status.as_deref(),
        q.class,
        q.fallback_used,
        q.before.as_deref(),
        q.limit,
    )?;
    Ok(Json(state.services.runs(&actor, filter).await?))
}

/// One run with its attempt timeline (the router's decisions) and transcript.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, body = RunDetail), (status = 404, body = AppError)))]
pub(super) async fn run(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    Ok(Json(state.services.run_detail(&actor, &id).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    pub run_id: String,
    /// `cancelled` for a queued run; `running` while a running one stops.
    pub status: RunStatus,
}

/// Cancels a run. A queued run is cancelled at once; a running one stops
/// its engine and its tools' process groups, wherever it runs.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, body = Cancelled), (status = 404, body = AppError), (status = 422, body = AppError)))]
pub(super) async fn cancel(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Cancelled>> {
    let status = state.services.cancel_run(&actor, &id).await?;
    Ok(Json(Cancelled { run_id: id, status }))
}

//! `/api/v1/config`: the operator config as versioned data (DESIGN §6).
//! Revision hashes are entity tags: `GET` answers `ETag`, writes carry
//! `If-Match`, and a stale one gets 409 with the current hash.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::config::RevisionId;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{etag_value, ApiError, ApiResult};
use crate::AppState;
use app::error::AppError;
use engine::config::{diff::Diff, validate::Report, RevisionInfo};
use engine::fleet::{Committed, ConfigDocument, ImportOutcome};
use engine::openclaw::Export;
use engine::service::ExportFormat;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/config", get(current).put(replace))
        .route("/config/validate", post(validate))
        .route("/config/revisions", get(revisions))
        .route("/config/revisions/{id}", get(revision))
        .route("/config/diff", get(diff))
        .route("/config/rollback/{id}", post(rollback))
        .route("/config/import", post(import))
        .route("/config/export", get(export))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ImportBody {
    /// Only `openclaw` so far.
    from: String,
    /// The text of `openclaw.json` (JSON5).
    openclaw: String,
    #[serde(default)]
    jobs: Option<String>,
    #[serde(default)]
    jobs_state: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Imports an OpenClaw config. With `dryRun`, answers the report and the
/// diff without storing anything.
#[utoipa::path(post, path = "/api/v1/config/import", tag = "config",
    request_body = ImportBody,
    responses((status = 200, body = ImportOutcome), (status = 422, body = AppError)))]
pub(super) async fn import(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Result<Json<ImportBody>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(body) = body?;
    if body.from != "openclaw" {
        return Err(ApiError::BadParam {
            path: "from",
            message: format!("unknown source `{}`; supported: openclaw", body.from),
        });
    }
    let outcome = state
        .services
        .import_openclaw(
            &actor,
            &body.openclaw,
            body.jobs.as_deref(),
            body.jobs_state.as_deref(),
            body.dry_run,
        )
        .await?;
    Ok(Json(outcome).into_response())
}

#[derive(Deserialize)]
pub(super) struct ExportQuery {
    format: Option<String>,
    shape: Option<String>,
}

/// The current config as Switchyard JSON (default) or as OpenClaw files
/// (`?format=openclaw&shape=older|newer`) with the export's warnings.
#[utoipa::path(get, path = "/api/v1/config/export", tag = "config",
    params(("format" = Option<String>, Query, description = "`switchyard` (default) or `openclaw`"),
           ("shape" = Option<String>, Query, description = "`older` (default) or `newer`")),
    responses((status = 200, body = Export, description = "for `format=openclaw`; otherwise the config"), (status = 400, body = AppError)))]
pub(super) async fn export(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = match q.format.as_deref().unwrap_or("switchyard") {
        "switchyard" => ExportFormat::Switchyard,
        "openclaw" => {
            let shape = match q.shape.as_deref().unwrap_or("older") {
                "older" => engine::openclaw::Shape::Older,
                "newer" => engine::openclaw::Shape::Newer,
                other => {
                    return Err(ApiError::BadParam {
                        path: "shape",
                        message: format!(
                            "unknown shape `{}`; use older or newer",
                            other.escape_debug()
                        ),
                    })
                }
            };
            ExportFormat::OpenClaw(shape)
        }
        other => {
            return Err(ApiError::BadParam {
                path: "format",
                message: format!(
                    "unknown format `{}`; use switchyard or openclaw",
                    other.escape_debug()
                ),
            })
        }
    };
    Ok(Json(state.services.export(&actor, format).await?).into_response())
}

/// The hash in `If-Match: "<hash>"` (quotes optional).
fn if_match(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::IF_MATCH)?.to_str().ok()?;
    Some(
        value
            .trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned(),
    )
}

fn with_etag(hash: Option<&str>, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Some(Ok(etag)) = hash.map(etag_value) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The current config with its revision; `ETag` is the revision hash.
#[utoipa::path(get, path = "/api/v1/config", tag = "config",
    responses((status = 200, body = ConfigDocument)))]
pub(super) async fn current(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Response> {
    let doc = state.services.config_document(&actor).await?;
    let hash = doc.revision.as_ref().map(|r| r.hash.clone());
    Ok(with_etag(hash.as_deref(), Json(doc)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PutBody {
    #[schema(value_type = Object)]
    config: Value,
    #[serde(default)]
    message: Option<String>,
}

/// Replaces the whole config. `If-Match` is required: a write must say which
/// revision it was based on, or two operators silently overwrite each other.
#[utoipa::path(put, path = "/api/v1/config", tag = "config",
    request_body = PutBody,
    params(("If-Match" = String, Header, description = "hash of the revision the edit is based on")),
    responses((status = 200, body = Committed), (status = 409, body = AppError, description = "stale base; `currentHash` names the head"),
              (status = 422, body = AppError), (status = 428, body = AppError)))]
pub(super) async fn replace(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    body: Result<Json<PutBody>, JsonRejection>,
) -> ApiResult<Response> {
    let base = if_match(&headers).ok_or(ApiError::PreconditionRequired(
        "send If-Match with the hash of the revision you edited (GET /api/v1/config answers it as ETag; \"\" on an empty database)",
    ))?;
    let Json(body) = body?;
    let message = body.message.as_deref().unwrap_or("config replaced via API");
    let committed = state
        .services
        .put_config(&actor, &base, &body.config, message)
        .await?;
    let hash = committed.revision.hash.clone();
    Ok(with_etag(Some(&hash), (StatusCode::OK, Json(committed))))
}

#[utoipa::path(post, path = "/api/v1/config/validate", tag = "config",
    request_body(content = Object, description = "a config"),
    responses((status = 200, body = Report), (status = 422, body = AppError)))]
pub(super) async fn validate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(body) = body?;
    Ok(Json(state.services.validate_config(&actor, &body)?).into_response())
}

#[derive(Deserialize)]
pub(super) struct Limit {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/config/revisions", tag = "config",
    params(("limit" = Option<i64>, Query, description = "at most this many, newest first (default 50)")),
    responses((status = 200, body = Vec<RevisionInfo>)))]
pub(super) async fn revisions(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<Limit>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(state.services.revisions(&actor, limit).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/config/revisions/{id}", tag = "config",
    params(("id" = i64, Path)),
    responses((status = 200, body = Object, description = "`{revision, config}`"), (status = 404, body = AppError)))]
pub(super) async fn revision(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let r = state.services.revision(&actor, RevisionId(id)).await?;
    Ok(Json(serde_json::json!({"revision": r.info, "config": r.body})).into_response())
}

#[derive(Deserialize)]
pub(super) struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/config/diff", tag = "config",
    params(("from" = i64, Query), ("to" = i64, Query)),
    responses((status = 200, body = Diff), (status = 400, body = AppError), (status = 404, body = AppError)))]
pub(super) async fn diff(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Response> {
    let missing = |path| ApiError::BadParam {
        path,
        message: "required: a revision id".into(),
    };
    let from = q.from.ok_or_else(|| missing("from"))?;
    let to = q.to.ok_or_else(|| missing("to"))?;
    Ok(Json(
        state
            .services
            .diff(&actor, RevisionId(from), RevisionId(to))
            .await?,
    )
    .into_response())
}

/// Makes an earlier revision current again (as a new revision). `If-Match`
/// is optional here: rolling back is an explicit choice of content.
#[utoipa::path(post, path = "/api/v1/config/rollback/{id}", tag = "config",
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Committed), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub(super) async fn rollback(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let base = if_match(&headers);
    let committed = state
        .services
        .rollback(&actor, RevisionId(id), base.as_deref())
        .await?;
    let hash = committed.revision.hash.clone();
    Ok(with_etag(Some(&hash), Json(committed)))
}

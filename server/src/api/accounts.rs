//! `/api/v1/users`, `/api/v1/tokens`, `/api/v1/audit`: admins manage who
//! may call, and read what was done.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use engine::identity::Role;
use engine::identity::{NewToken, TokenInfo, TokenRequest, UserInfo};
use engine::store::{AuditEvent, AuditFilter};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use app::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(users).post(add_user))
        .route("/users/{name}", patch(update_user))
        .route("/tokens", get(tokens).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/audit", get(audit))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "accounts",
    responses((status = 200, body = [UserInfo]), (status = 403, body = AppError)))]
pub(super) async fn users(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<UserInfo>>> {
    Ok(Json(state.services.users(&actor).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUser {
    name: String,
    role: Role,
    /// 12 to 1,024 characters.
    password: String,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = UserInfo), (status = 403, body = AppError), (status = 422, body = AppError)))]
pub(super) async fn add_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Result<Json<NewUser>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<UserInfo>)> {
    let Json(body) = body?;
    let user = state
        .services
        .add_user(&actor, &body.name, body.role, &body.password)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UserChange {
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// Role, disabled flag or password; any change ends the user's sessions.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "accounts", request_body = UserChange,
    params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = AppError), (status = 404, body = AppError)))]
pub(super) async fn update_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    body: Result<Json<UserChange>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(body) = body?;
    if body.role.is_some() || body.disabled.is_some() {
        state
            .services
            .update_user(&actor, &name, body.role, body.disabled)
            .await?;
    }
    if let Some(password) = &body.password {
        state.services.set_password(&actor, &name, password).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts",
    responses((status = 200, body = [TokenInfo]), (status = 403, body = AppError)))]
pub(super) async fn tokens(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(state.services.tokens(&actor).await?))
}

/// A new token; its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = TokenRequest,
    responses((status = 201, body = NewToken), (status = 403, body = AppError), (status = 422, body = AppError)))]
pub(super) async fn create_token(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let Json(body) = body?;
    let token = state.services.create_token(&actor, &body).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "accounts",
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = AppError), (status = 404, body = AppError)))]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.revoke_token(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(super) struct AuditQuery {
    /// `user:alice`, `token:ci`, …
    actor: Option<String>,
    /// An action or its prefix: `config`, `config.put`, `login`.
    action: Option<String>,
    /// `ok`, `forbidden`, `unauthenticated`, `invalid`, …
    result: Option<String>,
    /// Events older than this id (the next page).
    before: Option<i64>,
    /// At most this many (default 100, at most 500).
    limit: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "accounts", params(AuditQuery),
    responses((status = 200, body = [AuditEvent]), (status = 403, body = AppError)))]
pub(super) async fn audit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let Query(q) = query.map_err(|e| ApiError::BadParam {
        path: "query",
        message: e.body_text(),
    })?;
    let empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let filter = AuditFilter {
        actor: empty(q.actor),
        action: empty(q.action),
        result: empty(q.result),
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(state.services.audit_events(&actor, &filter).await?))
}

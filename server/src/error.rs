//! The one place where errors become HTTP responses. Body shape, shared with
//! the console: `{"code": "...", "message": "...", "details": [{path, message}]}`.
//! Internal errors are logged with their cause and answered with a generic
//! message: they may name files, hosts or SQL.

use app::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::{ErrorKind, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// The request body could not be read as the expected JSON.
    #[error("{0}")]
    BadJson(String),
    /// A write that must name its base revision did not (`If-Match`).
    #[error("{0}")]
    PreconditionRequired(&'static str),
    /// A query parameter or path segment is malformed.
    #[error("{path}: {message}")]
    BadParam { path: &'static str, message: String },
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::BadJson(rejection.body_text())
    }
}

fn status_of(kind: ErrorKind) -> StatusCode {
    StatusCode::from_u16(app::error::status_of(kind)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadJson(message) => (
                StatusCode::BAD_REQUEST,
                AppError {
                    code: "invalid".into(),
                    message: format!("request body: {message}"),
                    details: vec![Problem::new("(body)", message)],
                    current_hash: None,
                },
            ),
            ApiError::PreconditionRequired(message) => (
                StatusCode::PRECONDITION_REQUIRED,
                AppError {
                    code: "precondition_required".into(),
                    message: message.into(),
                    details: Vec::new(),
                    current_hash: None,
                },
            ),
            ApiError::BadParam { path, message } => (
                StatusCode::BAD_REQUEST,
                AppError {
                    code: "invalid".into(),
                    message: format!("{path}: {message}"),
                    details: vec![Problem::new(path, message)],
                    current_hash: None,
                },
            ),
            ApiError::Engine(e) => {
                let status = status_of(e.kind());
                if status.is_server_error() {
                    tracing::error!(error = %e, "request failed");
                }
                (status, AppError::from(e))
            }
        };
        let etag = body.current_hash.as_deref().map(etag_value);
        let mut response = (status, Json(body)).into_response();
        if let Some(Ok(etag)) = etag {
            response
                .headers_mut()
                .insert(axum::http::header::ETAG, etag);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `"<hash>"`: revision hashes are the config's entity tags.
pub fn etag_value(
    hash: &str,
) -> Result<axum::http::HeaderValue, axum::http::header::InvalidHeaderValue> {
    axum::http::HeaderValue::from_str(&format!("\"{hash}\""))
}

//! The console's error type: the same `{code, message, details}` the REST API
//! returns, so the UI can match on `code` and show each problem at its path.

use engine::{ErrorKind, Problem};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[serde(rename_all = "camelCase")]
pub struct AppError {
    /// `not_found`, `conflict`, `invalid`, `unavailable`, `internal` or
    /// `transport` (the request did not reach the engine).
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: Vec<Problem>,
    /// On a `conflict`: the hash of the revision that is current now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_hash: Option<String>,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError {
            code: "transport".into(),
            message: value.to_string(),
            details: Vec::new(),
            current_hash: None,
        }
    }
}

pub fn code_of(kind: ErrorKind) -> &'static str {
    kind.code()
}

/// The HTTP status of an error kind: the REST API and the console's server
/// functions answer the same one.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::Invalid => 422,
        ErrorKind::Unavailable => 503,
        ErrorKind::Internal => 500,
        ErrorKind::Unauthenticated => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::TooMany => 429,
    }
}

#[cfg(feature = "ssr")]
impl From<engine::Error> for AppError {
    fn from(e: engine::Error) -> Self {
        let kind = e.kind();
        // Inside a server function the response carries the error's own
        // status (a refused write is a 403, not a 500).
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(status_of(kind)) {
                response.set_status(status);
            }
        }
        let message = if kind == ErrorKind::Internal {
            // Internals are logged, never shown: they may name paths or hosts.
            tracing::error!(error = %e, "console request failed");
            "internal error; see the server log".to_owned()
        } else {
            e.to_string()
        };
        let current_hash = match &e {
            engine::Error::Conflict { current_hash } => Some(current_hash.clone()),
            _ => None,
        };
        AppError {
            code: code_of(kind).into(),
            message,
            details: e.problems().to_vec(),
            current_hash,
        }
    }
}

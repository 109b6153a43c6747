//! Errors the sim answers with: a [`Trouble`] says what went wrong whatever
//! the wire, and each wire renders it as a [`Fault`] — the status, headers
//! and body its real servers send. This module renders OpenAI's (Chat
//! Completions and Responses share them); `ollama` and `anthropic` render
//! their own.

use hyper::StatusCode;
use serde_json::{json, Value};

/// What went wrong, before any wire gives it a shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Trouble {
    /// With the seconds a `Retry-After` (and the wire's reset headers) say.
    RateLimit(Option<u64>),
    Auth,
    AuthPermanent,
    UsageLimit,
    Billing,
    ServerError,
    Overloaded,
    ContextOverflow,
    ContentPolicy,
    Format,
    ModelNotFound,
    /// A request the sim cannot make sense of: bad JSON, a missing field or
    /// header, a script that does not parse.
    InvalidRequest(String),
}

/// An HTTP error response.
#[derive(Debug, Clone)]
pub(super) struct Fault {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Fault {
    pub fn new(status: StatusCode, body: Value) -> Fault {
        Fault {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Fault {
        self.headers.push((name, value));
        self
    }

    /// No endpoint at this path (OpenAI's wording; the sim's other wires
    /// share the server).
    pub fn no_route(method: &str, path: &str) -> Fault {
        Fault::new(
            StatusCode::NOT_FOUND,
            openai_error(
                &format!("Invalid URL ({method} {path})"),
                "invalid_request_error",
                None,
                None,
            ),
        )
    }
}

/// OpenAI's error envelope.
fn openai_error(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

/// `trouble` as OpenAI (and, for billing, OpenRouter) sends it.
pub(super) fn openai(trouble: &Trouble, model: &str) -> Fault {
    use StatusCode as S;
    let invalid = "invalid_request_error";
    match trouble {
        Trouble::RateLimit(seconds) => {
            let retry = seconds.map_or(String::new(), |s| format!(" Please try again in {s}s."));
            let message = format!(
                "Rate limit reached for requests per min (RPM) on {model}: Limit 3, Used 3, Requested 1.{retry}"
            );
            let fault = Fault::new(
                S::TOO_MANY_REQUESTS,
                openai_error(&message, "requests", None, Some("rate_limit_exceeded")),
            );
            match seconds {
                Some(s) => fault
                    .with_header("retry-after", s.to_string())
                    .with_header("x-ratelimit-reset-requests", format!("{s}s")),
                None => fault,
            }
        }
        Trouble::Auth => Fault::new(
            S::UNAUTHORIZED,
            openai_error(
                "Incorrect API key provided: sk-sim***. You can find your API key at https://platform.openai.com/account/api-keys.",
                invalid,
                None,
                Some("invalid_api_key"),
            ),
        ),
        Trouble::AuthPermanent => Fault::new(
            S::UNAUTHORIZED,
            openai_error(
                "This API key belongs to an account that has been deactivated.",
                invalid,
                None,
                Some("account_deactivated"),
            ),
        ),
        Trouble::UsageLimit => Fault::new(
            S::TOO_MANY_REQUESTS,
            openai_error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                None,
                Some("insufficient_quota"),
            ),
        ),
        // OpenRouter's shape: a numeric code and no type.
        Trouble::Billing => Fault::new(
            S::PAYMENT_REQUIRED,
            json!({"error": {
                "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
                "code": 402
            }}),
        ),
        Trouble::ServerError => Fault::new(
            S::INTERNAL_SERVER_ERROR,
            openai_error(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
        ),
        Trouble::Overloaded => Fault::new(
            S::SERVICE_UNAVAILABLE,
            json!({"error": {
                "message": "The engine is currently overloaded, please try again later",
                "type": "server_error",
                "code": "overloaded"
            }}),
        ),
        Trouble::ContextOverflow => Fault::new(
            S::BAD_REQUEST,
            openai_error(
                "This model's maximum context length is 8192 tokens. However, your messages resulted in 9120 tokens. Please reduce the length of the messages.",
                invalid,
                Some("messages"),
                Some("context_length_exceeded"),
            ),
        ),
        Trouble::ContentPolicy => Fault::new(
            S::BAD_REQUEST,
            openai_error(
                "Your request was rejected as a result of our safety system.",
                invalid,
                None,
                Some("content_policy_violation"),
            ),
        ),
        Trouble::Format => Fault::new(
            S::BAD_REQUEST,
            openai_error(
                "Invalid value for 'messages[0].role': expected one of system, user, assistant, tool.",
                invalid,
                Some("messages"),
                None,
            ),
        ),
        Trouble::ModelNotFound => Fault::new(
            S::NOT_FOUND,
            openai_error(
                &format!("The model `{model}` does not exist or you do not have access to it."),
                invalid,
                None,
                Some("model_not_found"),
            ),
        ),
        Trouble::InvalidRequest(message) => Fault::new(
            S::BAD_REQUEST,
            json!({"error": {"message": message, "type": invalid}}),
        ),
    }
}

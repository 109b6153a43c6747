//! What a Codex turn's signals mean in Switchyard's failure classes
//! (DESIGN §3, §4). `codexErrorInfo` is serde's externally tagged enum: a
//! unit variant is a string (`"usageLimitExceeded"`), one with data an
//! object (`{"httpConnectionFailed": {"httpStatusCode": 401}}`).

use serde_json::Value;

use crate::failure::{hint_in_text, FailureClass};
use crate::provider::Failure;

/// The variant name and its HTTP status, if any.
pub(crate) fn error_info(info: &Value) -> (String, Option<u16>) {
    match info {
        Value::String(name) => (name.clone(), None),
        Value::Object(map) => match map.iter().next() {
            Some((name, data)) => (
                name.clone(),
                data.get("httpStatusCode")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok()),
            ),
            None => ("other".into(), None),
        },
        _ => ("other".into(), None),
    }
}

/// The class of an HTTP status Codex reports for the provider.
fn status_class(status: u16) -> FailureClass {
    match status {
        401 | 403 => FailureClass::Auth,
        402 => FailureClass::Billing,
        408 => FailureClass::Timeout,
        429 => FailureClass::RateLimit,
        503 | 529 => FailureClass::Overloaded,
        400 | 404 | 422 => FailureClass::Format,
        _ => FailureClass::ServerError,
    }
}

/// A `willRetry: true` error worth acting on at once: Codex would retry a
/// 401/403/429 for seconds (or sleep a whole `Retry-After`), so Switchyard
/// interrupts on the first signal instead.
pub(crate) fn retry_signal(info: &Value) -> Option<FailureClass> {
    match error_info(info).1 {
        Some(401 | 403) => Some(FailureClass::Auth),
        Some(429) => Some(FailureClass::RateLimit),
        _ => None,
    }
}

/// The class of a failed turn (`turn/completed {status: "failed"}` or a
/// final `error` notification).
pub(crate) fn turn_failure(message: &str, info: &Value, partial: Option<String>) -> Failure {
    let (name, status) = error_info(info);
    let class = match name.as_str() {
        "usageLimitExceeded" => FailureClass::UsageLimit,
        "contextWindowExceeded" => FailureClass::ContextOverflow,
        "serverOverloaded" => FailureClass::Overloaded,
        "internalServerError" => FailureClass::ServerError,
        "rateLimitExceeded" => FailureClass::RateLimit,
        "unauthorized" => FailureClass::Auth,
        "badRequest" => FailureClass::Format,
        "sandboxError" => FailureClass::ToolError,
        "responseTooManyFailedAttempts"
        | "httpConnectionFailed"
        | "responseStreamConnectionFailed" => {
            status.map_or(FailureClass::ServerError, status_class)
        }
        "responseStreamDisconnected" if partial.is_some() => FailureClass::StreamInterrupted,
        "responseStreamDisconnected" => status.map_or(FailureClass::ServerError, status_class),
        // `other`: a stream closed early or Codex's own idle timeout.
        _ if partial.is_some() => FailureClass::StreamInterrupted,
        _ if message.to_lowercase().contains("timeout")
            || message.to_lowercase().contains("timed out") =>
        {
            FailureClass::Timeout
        }
        _ => FailureClass::ServerError,
    };
    let mut failure = Failure::new(
        class,
        format!(
            "codex: {message} ({name}{})",
            status.map_or_else(String::new, |s| format!(" {s}"))
        ),
    );
    // The usage-limit reset is only in the text ("try again in 2h 5m").
    failure.retry_after_ms = reset_in_text(message);
    failure.partial = partial;
    failure
}

/// `try again in 2h 5m`, `retrying after 3600s`, `Retry-After: 30` in a
/// message or Codex's stderr.
pub(crate) fn reset_in_text(text: &str) -> Option<i64> {
    hint_in_text(text)
}

/// A JSON-RPC error on `thread/start`: Codex refused the thread's config
/// (the process keeps running), so only this candidate is affected.
pub(crate) fn thread_rejected(message: &str) -> Failure {
    let lower = message.to_lowercase();
    let class = if lower.contains("model provider")
        || lower.contains("wire_api")
        || lower.contains("load configuration")
    {
        FailureClass::ProviderNotFound
    } else if lower.contains("model")
        && (lower.contains("not found") || lower.contains("does not exist"))
    {
        FailureClass::ModelNotFound
    } else {
        FailureClass::ProtocolError
    };
    Failure::new(class, format!("codex refused thread/start: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codex_error_info_maps_to_classes() {
        let cases = [
            (json!("usageLimitExceeded"), FailureClass::UsageLimit),
            (
                json!({"responseTooManyFailedAttempts": {"httpStatusCode": 429}}),
                FailureClass::RateLimit,
            ),
            (
                json!({"responseTooManyFailedAttempts": {"httpStatusCode": 500}}),
                FailureClass::ServerError,
            ),
            (
                json!({"httpConnectionFailed": {"httpStatusCode": 401}}),
                FailureClass::Auth,
            ),
            (json!("internalServerError"), FailureClass::ServerError),
            (json!("serverOverloaded"), FailureClass::Overloaded),
            (
                json!("contextWindowExceeded"),
                FailureClass::ContextOverflow,
            ),
            (json!("rateLimitExceeded"), FailureClass::RateLimit),
            (json!("other"), FailureClass::ServerError),
        ];
        for (info, class) in cases {
            assert_eq!(turn_failure("m", &info, None).class, class, "{info}");
        }
        assert_eq!(
            turn_failure("stream closed", &json!("other"), Some("par".into())).class,
            FailureClass::StreamInterrupted
        );
        assert_eq!(
            turn_failure("idle timeout waiting for SSE", &json!("other"), None).class,
            FailureClass::Timeout
        );
    }

    #[test]
    fn first_retry_signal_classifies_auth_and_rate_limit_only() {
        assert_eq!(
            retry_signal(&json!({"responseStreamDisconnected": {"httpStatusCode": 429}})),
            Some(FailureClass::RateLimit)
        );
        assert_eq!(
            retry_signal(&json!({"responseStreamDisconnected": {"httpStatusCode": 401}})),
            Some(FailureClass::Auth)
        );
        assert_eq!(
            retry_signal(&json!({"responseStreamDisconnected": {"httpStatusCode": 500}})),
            None
        );
        assert_eq!(
            retry_signal(&json!({"responseStreamDisconnected": {"httpStatusCode": null}})),
            None
        );
    }

    #[test]
    fn reset_times_are_read_from_text() {
        assert_eq!(
            reset_in_text("You've hit your usage limit. Try again in 2h 5m."),
            Some(7_500_000)
        );
        assert_eq!(
            reset_in_text("WARN rate limited; retrying after 3600s"),
            Some(3_600_000)
        );
        assert_eq!(reset_in_text("nothing here"), None);
    }

    #[test]
    fn thread_rejections_are_config_layer() {
        let f =
            thread_rejected("failed to load configuration: Model provider `openrouter` not found");
        assert_eq!(f.class, FailureClass::ProviderNotFound);
    }
}

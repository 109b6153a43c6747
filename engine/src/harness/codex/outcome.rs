//! What a Codex turn's signals mean in Switchyard's failure classes
//! (DESIGN §3, §4). `codexErrorInfo` is serde's externally tagged enum: a
//! unit variant is a string (`"usageLimitExceeded"`), one with data an
//! object (`{"httpConnectionFailed": {"httpStatusCode": 401}}`).

use serde_json::Value;

use crate::failure::{hint_in_text, parse_duration_text, FailureClass};
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
        401 => FailureClass::Auth,
        403 => FailureClass::AuthPermanent,
        402 => FailureClass::Billing,
        404 => FailureClass::ModelNotFound,
        408 => FailureClass::Timeout,
        429 => FailureClass::RateLimit,
        503 | 529 => FailureClass::Overloaded,
        400 | 422 => FailureClass::Format,
        _ => FailureClass::ServerError,
    }
}

/// The class of a `willRetry: true` error, at which the client interrupts.
/// The status is often null (5xx, broken streams, an in-stream rate limit),
/// so the texts decide then; a host that refuses connections shows only as
/// "Reconnecting... waiting for network" and would be retried forever.
pub(crate) fn retry_signal(
    info: &Value,
    message: &str,
    details: &str,
    partial: bool,
) -> FailureClass {
    if let Some(status) = error_info(info).1 {
        return status_class(status);
    }
    let text = format!("{message} {details}").to_lowercase();
    if text.contains("rate limit") || text.contains("rate_limit") {
        FailureClass::RateLimit
    } else if text.contains("usage limit") || text.contains("quota") {
        FailureClass::UsageLimit
    } else if partial {
        FailureClass::StreamInterrupted
    } else if text.contains("timeout") || text.contains("timed out") {
        FailureClass::Timeout
    } else {
        // "waiting for network", "stream disconnected before completion"
        // before any output, a 5xx: the provider failed before answering.
        FailureClass::ServerError
    }
}

/// The class of a failed turn (`turn/completed {status: "failed"}`).
pub(crate) fn turn_failure(message: &str, info: &Value, partial: Option<String>) -> Failure {
    let (name, status) = error_info(info);
    let lower = message.to_lowercase();
    let class = match name.as_str() {
        "usageLimitExceeded" if lower.contains("quota") || lower.contains("billing") => {
            FailureClass::Billing
        }
        "usageLimitExceeded" => FailureClass::UsageLimit,
        "contextWindowExceeded" => FailureClass::ContextOverflow,
        "serverOverloaded" => FailureClass::Overloaded,
        "internalServerError" => FailureClass::ServerError,
        "rateLimitExceeded" => FailureClass::RateLimit,
        "modelNotFound" => FailureClass::ModelNotFound,
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
        // `other`: a missing env_key variable, a stream closed early, Codex's
        // own idle timeout, a 400 with the body as the message.
        _ if lower.contains("missing environment variable") => FailureClass::AuthMissing,
        _ if partial.is_some() => FailureClass::StreamInterrupted,
        _ if lower.contains("timeout") || lower.contains("timed out") => FailureClass::Timeout,
        _ if lower.contains("400 bad request") || lower.contains("invalid_request_error") => {
            FailureClass::Format
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
    hint_in_text(text).or_else(|| retry_log_delay(text))
}

/// Codex's retry log line (`RUST_LOG=codex_core::responses_retry=warn`):
/// `… (1/1 in 3599.99s)`. The last one counts.
fn retry_log_delay(text: &str) -> Option<i64> {
    text.lines().rev().find_map(|line| {
        line.split('(').skip(1).find_map(|part| {
            let inside = part.split(')').next()?;
            let (count, delay) = inside.split_once(" in ")?;
            let (done, of) = count.split_once('/')?;
            (done.trim().parse::<u32>().is_ok() && of.trim().parse::<u32>().is_ok())
                .then(|| parse_duration_text(delay.trim()))
                .flatten()
        })
    })
}

/// A JSON-RPC error on `thread/start`: Codex refused the thread's config
/// (the process keeps running), so only this candidate is affected.
pub(crate) fn thread_rejected(message: &str) -> Failure {
    let lower = message.to_lowercase();
    let class = if lower.contains("wire_api") {
        // The provider speaks a wire Codex no longer accepts (`chat`).
        FailureClass::HarnessMismatch
    } else if lower.contains("model provider") || lower.contains("load configuration") {
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
            (json!("modelNotFound"), FailureClass::ModelNotFound),
            (
                json!({"httpConnectionFailed": {"httpStatusCode": 503}}),
                FailureClass::Overloaded,
            ),
            (
                json!({"httpConnectionFailed": {"httpStatusCode": 403}}),
                FailureClass::AuthPermanent,
            ),
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
    fn retry_signals_are_classified_even_without_a_status() {
        let sig = |info: Value, msg: &str, more: &str, partial: bool| {
            retry_signal(&info, msg, more, partial)
        };
        let disconnected = |s: Value| json!({"responseStreamDisconnected": {"httpStatusCode": s}});
        assert_eq!(
            sig(disconnected(json!(429)), "Reconnecting... 1/1", "", false),
            FailureClass::RateLimit
        );
        assert_eq!(
            sig(disconnected(json!(401)), "", "", false),
            FailureClass::Auth
        );
        assert_eq!(
            sig(disconnected(json!(403)), "", "", false),
            FailureClass::AuthPermanent
        );
        assert_eq!(
            sig(disconnected(json!(500)), "", "", false),
            FailureClass::ServerError
        );
        assert_eq!(
            sig(
                disconnected(Value::Null),
                "Reconnecting... 1/1",
                "rate limit exceeded: slow down",
                false
            ),
            FailureClass::RateLimit
        );
        assert_eq!(
            sig(
                json!("other"),
                "Reconnecting... waiting for network",
                "Connection failed: error sending request",
                false
            ),
            FailureClass::ServerError
        );
        assert_eq!(
            sig(disconnected(Value::Null), "stream disconnected", "", true),
            FailureClass::StreamInterrupted
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
        let log = "2026-11-25T10:00:00Z WARN codex_core::responses_retry: stream disconnected - retrying sampling request (1/1 in 3599.99s)... turn_id=t retries=1 sampling_error=exceeded retry limit, last status: 429 Too Many Requests";
        assert_eq!(reset_in_text(log), Some(3_599_990));
    }

    #[test]
    fn thread_rejections_are_config_layer() {
        let f =
            thread_rejected("failed to load configuration: Model provider `openrouter` not found");
        assert_eq!(f.class, FailureClass::ProviderNotFound);
    }
}

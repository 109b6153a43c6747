//! From what a provider sent back to one [`FailureClass`]. The inputs are the
//! HTTP status, the headers and the error body in any of the shapes seen in
//! the wild (OpenAI, OpenRouter, Ollama, Anthropic-style), or an error event
//! inside a 200 stream. Text matching is a fallback after status and codes:
//! providers disagree on codes but their messages are stable enough.

use http::HeaderMap;
use serde_json::Value;

use super::{retry_hint, FailureClass};

/// A classified HTTP failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    pub class: FailureClass,
    /// How long the server asked us to wait, if it said.
    pub retry_after_ms: Option<i64>,
    /// `HTTP 429: <provider's message>`, short enough for a log line.
    pub detail: String,
}

const DETAIL_MAX: usize = 300;

/// Classifies a non-2xx response.
pub fn classify_http(status: u16, headers: &HeaderMap, body: &str, now_ms: i64) -> HttpFailure {
    let parsed = ErrorBody::parse(body);
    HttpFailure {
        class: class_for(Some(status), &parsed),
        retry_after_ms: retry_hint(headers, body, now_ms),
        detail: shorten(&format!("HTTP {status}: {}", parsed.message)),
    }
}

/// Classifies an error object that arrived inside a 200 stream: OpenRouter's
/// `{"error":{"code":502,"message":…}}` chunk, or a Responses API
/// `response.failed` / `error` event.
pub fn classify_stream_error(event: &Value, now_ms: i64) -> HttpFailure {
    let error = event
        .get("error")
        .or_else(|| event.pointer("/response/error"))
        .unwrap_or(event);
    let parsed = ErrorBody::from_value(error);
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c));
    let class = match status {
        Some(_) => class_for(status, &parsed),
        // A string code or none: words decide, and an unexplained stream
        // error is the provider's fault.
        None => by_text(&parsed.haystack).unwrap_or(FailureClass::ServerError),
    };
    HttpFailure {
        class,
        retry_after_ms: super::hint::retry_hint(&HeaderMap::new(), &parsed.message, now_ms),
        detail: shorten(&format!("error in stream: {}", parsed.message)),
    }
}

/// Classifies an error body alone (used by the Codex harness for messages
/// that carry no status).
pub fn classify_body_error(status: Option<u16>, body: &str) -> FailureClass {
    class_for(status, &ErrorBody::parse(body))
}

struct ErrorBody {
    message: String,
    /// Lower-cased message, code and type, for matching.
    haystack: String,
}

impl ErrorBody {
    fn parse(body: &str) -> Self {
        match serde_json::from_str::<Value>(body) {
            Ok(value) => {
                let error = value.get("error").unwrap_or(&value);
                Self::from_value(error)
            }
            Err(_) => Self::from_parts(body.trim(), ""),
        }
    }

    fn from_value(error: &Value) -> Self {
        if let Some(text) = error.as_str() {
            return Self::from_parts(text, "");
        }
        let field = |name: &str| match error.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut message = field("message");
        // OpenRouter passes the upstream provider's own words in metadata.raw.
        let raw = error
            .pointer("/metadata/raw")
            .map(|raw| raw.as_str().map_or_else(|| raw.to_string(), str::to_owned))
            .unwrap_or_default();
        if message.is_empty() {
            message = error.to_string();
        }
        let extra = format!("{} {} {}", field("code"), field("type"), raw);
        Self::from_parts(&message, &extra)
    }

    fn from_parts(message: &str, extra: &str) -> Self {
        ErrorBody {
            message: message.to_owned(),
            haystack: format!("{message} {extra}").to_ascii_lowercase(),
        }
    }
}

fn class_for(status: Option<u16>, body: &ErrorBody) -> FailureClass {
    use FailureClass::*;
    let text = &body.haystack;
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let Some(status) = status else {
        return by_text(text).unwrap_or(ServerError);
    };
    match status {
        400 | 413 | 422 => by_text(text)
            .filter(|c| {
                matches!(
                    c,
                    ContextOverflow | ContentPolicy | ModelNotFound | UsageLimit | Billing
                )
            })
            .unwrap_or(if status == 413 {
                ContextOverflow
            } else {
                Format
            }),
        401 => {
            if has(PERMANENT) {
                AuthPermanent
            } else {
                Auth
            }
        }
        402 => {
            if has(USAGE) {
                UsageLimit
            } else {
                Billing
            }
        }
        403 => by_text(text)
            .filter(|c| matches!(c, ContentPolicy | ModelNotFound | UsageLimit | Billing))
            .unwrap_or(AuthPermanent),
        404 => ModelNotFound,
        408 => Timeout,
        429 => by_text(text)
            .filter(|c| matches!(c, UsageLimit | Billing | Overloaded))
            .unwrap_or(RateLimit),
        503 | 529 => Overloaded,
        504 | 524 => Timeout,
        500..=599 => by_text(text)
            .filter(|c| matches!(c, Overloaded | ContextOverflow))
            .unwrap_or(ServerError),
        _ => Format,
    }
}

const CONTEXT: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "context length",
    "prompt is too long",
    "too many tokens",
    "input length",
    "reduce the length",
];
const CONTENT: &[&str] = &[
    "content_policy",
    "content_filter",
    "content management policy",
    "flagged",
    "moderation",
    "safety system",
];
const USAGE: &[&str] = &[
    "insufficient_quota",
    "exceeded your current quota",
    "usage limit",
    "usage_limit",
    "quota exceeded",
    "weekly limit",
];
const BILLING: &[&str] = &[
    "billing",
    "insufficient credits",
    "payment required",
    "credit balance",
];
const MODEL: &[&str] = &[
    "model_not_found",
    "does not exist",
    "is not a valid model",
    "no endpoints found",
    "unknown model",
    "does not have access to model",
    "not found, try pulling",
];
const PERMANENT: &[&str] = &["deactivated", "revoked", "banned", "suspended"];
const AUTH: &[&str] = &[
    "invalid_api_key",
    "incorrect api key",
    "invalid api key",
    "no auth credentials",
    "unauthorized",
    "authentication",
];
const OVERLOADED: &[&str] = &["overloaded", "at capacity", "server is busy"];
const RATE: &[&str] = &["rate limit", "rate_limit", "too many requests"];

/// Classes recognisable from words alone, most specific first.
fn by_text(text: &str) -> Option<FailureClass> {
    use FailureClass::*;
    let table: [(&[&str], FailureClass); 9] = [
        (CONTEXT, ContextOverflow),
        (CONTENT, ContentPolicy),
        (USAGE, UsageLimit),
        (BILLING, Billing),
        (MODEL, ModelNotFound),
        (PERMANENT, AuthPermanent),
        (AUTH, Auth),
        (OVERLOADED, Overloaded),
        (RATE, RateLimit),
    ];
    table
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| text.contains(n)))
        .map(|(_, class)| *class)
}

fn shorten(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    if text.len() <= DETAIL_MAX {
        return text;
    }
    let mut end = DETAIL_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;
    use FailureClass::*;

    const NOW: i64 = 1_780_000_000_000;

    /// Real-shaped error responses, one row per case: provider, status,
    /// headers, body, expected class, expected retry hint.
    #[test]
    fn http_errors_as_providers_send_them() {
        /// name, status, headers, body, class, retry hint
        type Row<'a> = (
            &'a str,
            u16,
            &'a [(&'a str, &'a str)],
            &'a str,
            FailureClass,
            Option<i64>,
        );
        let rows: &[Row] = &[
            (
                "openai 429 rpm",
                429,
                &[("retry-after", "20"), ("x-ratelimit-reset-requests", "20s")],
                r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
                RateLimit,
                Some(20_000),
            ),
            (
                "openai 429 quota",
                429,
                &[],
                r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
                UsageLimit,
                None,
            ),
            (
                "openai 401",
                401,
                &[],
                r#"{"error":{"message":"Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                Auth,
                None,
            ),
            (
                "openai 401 deactivated",
                401,
                &[],
                r#"{"error":{"message":"Your account has been deactivated.","type":"invalid_request_error","code":"account_deactivated"}}"#,
                AuthPermanent,
                None,
            ),
            (
                "openai 400 context",
                400,
                &[],
                r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
                ContextOverflow,
                None,
            ),
            (
                "openai 400 content",
                400,
                &[],
                r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"content_policy_violation"}}"#,
                ContentPolicy,
                None,
            ),
            (
                "openai 400 format",
                400,
                &[],
                r#"{"error":{"message":"Invalid value for 'messages[1].role': 'robot'.","type":"invalid_request_error","param":"messages[1].role","code":"invalid_value"}}"#,
                Format,
                None,
            ),
            (
                "openai 404 model",
                404,
                &[],
                r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
                ModelNotFound,
                None,
            ),
            (
                "openai 500",
                500,
                &[],
                r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#,
                ServerError,
                None,
            ),
            (
                "openai 503",
                503,
                &[],
                r#"{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","code":"overloaded"}}"#,
                Overloaded,
                None,
            ),
            (
                "openrouter 402",
                402,
                &[],
                r#"{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/settings/credits","code":402}}"#,
                Billing,
                None,
            ),
            (
                "openrouter 429 upstream",
                429,
                &[("x-ratelimit-reset", "1780000060000")],
                r#"{"error":{"message":"Provider returned error","code":429,"metadata":{"raw":"deepseek/deepseek-v3.2 is temporarily rate-limited upstream. Please retry shortly.","provider_name":"DeepInfra"}}}"#,
                RateLimit,
                Some(60_000),
            ),
            (
                "openrouter 403 moderation",
                403,
                &[],
                r#"{"error":{"message":"Input was flagged by moderation","code":403,"metadata":{"reasons":["violence"],"flagged_input":"..."}}}"#,
                ContentPolicy,
                None,
            ),
            (
                "openrouter 400 bad model",
                400,
                &[],
                r#"{"error":{"message":"deepseek/deepseek-v9 is not a valid model ID","code":400}}"#,
                ModelNotFound,
                None,
            ),
            (
                "openrouter 502",
                502,
                &[],
                r#"{"error":{"message":"Provider returned error","code":502,"metadata":{"raw":"upstream connect error","provider_name":"Together"}}}"#,
                ServerError,
                None,
            ),
            (
                "ollama 404",
                404,
                &[],
                r#"{"error":"model \"glm-5.1\" not found, try pulling it first"}"#,
                ModelNotFound,
                None,
            ),
            (
                "ollama 429 weekly",
                429,
                &[],
                r#"{"error":"you have reached your weekly usage limit, upgrade for higher limits"}"#,
                UsageLimit,
                None,
            ),
            (
                "ollama 401",
                401,
                &[],
                r#"{"error":"unauthorized"}"#,
                Auth,
                None,
            ),
            (
                "ollama 500 text",
                500,
                &[],
                "Internal Server Error",
                ServerError,
                None,
            ),
            (
                "anthropic-style 529",
                529,
                &[],
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                Overloaded,
                None,
            ),
            (
                "gateway 504",
                504,
                &[],
                "<html>Gateway Timeout</html>",
                Timeout,
                None,
            ),
            ("cloudflare 524", 524, &[], "", Timeout, None),
            (
                "413",
                413,
                &[],
                "Request Entity Too Large",
                ContextOverflow,
                None,
            ),
            (
                "403 region",
                403,
                &[],
                r#"{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported","type":"request_forbidden"}}"#,
                AuthPermanent,
                None,
            ),
        ];
        for (name, status, hdrs, body, class, hint) in rows {
            let mut map = HeaderMap::new();
            for (k, v) in *hdrs {
                map.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            let got = classify_http(*status, &map, body, NOW);
            assert_eq!(got.class, *class, "{name}: {}", got.detail);
            assert_eq!(got.retry_after_ms, *hint, "{name}");
            assert!(
                got.detail.starts_with(&format!("HTTP {status}: ")),
                "{name}"
            );
            assert!(got.detail.len() <= DETAIL_MAX + 4, "{name}");
        }
    }

    #[test]
    fn errors_inside_a_200_stream() {
        let rows = [
            (
                json!({"error":{"message":"Provider returned error","code":502}}),
                ServerError,
            ),
            (
                json!({"error":{"message":"Rate limit exceeded","code":429}}),
                RateLimit,
            ),
            (
                json!({"type":"response.failed","response":{"status":"failed","error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 2s."}}}),
                RateLimit,
            ),
            (
                json!({"type":"response.failed","response":{"status":"failed","error":{"code":"context_length_exceeded","message":"Your input exceeds the context window of this model."}}}),
                ContextOverflow,
            ),
            (
                json!({"type":"error","code":"server_error","message":"An error occurred while processing your request."}),
                ServerError,
            ),
            (
                json!({"type":"response.failed","response":{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}}),
                UsageLimit,
            ),
        ];
        for (event, class) in rows {
            assert_eq!(classify_stream_error(&event, NOW).class, class, "{event}");
        }
        let hinted = classify_stream_error(&rows_hint(), NOW);
        assert_eq!(hinted.retry_after_ms, Some(2_000));
    }

    fn rows_hint() -> Value {
        json!({"type":"response.failed","response":{"error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 2s."}}})
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let body = json!({"error":{"message":"é".repeat(400)}}).to_string();
        let got = classify_http(500, &HeaderMap::new(), &body, NOW);
        assert!(got.detail.ends_with('…'));
        assert!(got.detail.len() < 320);
    }
}

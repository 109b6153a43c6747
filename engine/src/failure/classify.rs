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
/// `{"error":{"code":502,"message":…}}` chunk, a Responses API
/// `response.failed` / `error` event, Ollama's `{"error":"…"}` NDJSON line,
/// or Anthropic's `event: error` (its `error.type` standing for the status
/// the same error has outside a stream).
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
        .filter(|c| (400..600).contains(c))
        .or_else(|| {
            error
                .get("type")
                .and_then(Value::as_str)
                .and_then(anthropic_status)
        });
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

/// The status Anthropic documents for each `error.type`
/// (<https://docs.claude.com/en/api/errors>).
fn anthropic_status(error_type: &str) -> Option<u16> {
    Some(match error_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "overloaded_error" => 529,
        _ => return None,
    })
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
        // Anthropic's spend limit says which in `details.error_code`.
        let detail_code = error
            .pointer("/details/error_code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let extra = format!("{} {} {raw} {detail_code}", field("code"), field("type"));
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
    "content filtering",
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
    "spend_limit",
    "spend limit",
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
            // Anthropic: the types and statuses of
            // https://docs.claude.com/en/api/errors; messages as users
            // reported them (cited per row).
            (
                "anthropic 529",
                529,
                &[],
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}"#,
                Overloaded,
                None,
            ),
            (
                // cline/cline#42
                "anthropic 429 tokens per minute",
                429,
                &[
                    ("retry-after", "13"),
                    ("anthropic-ratelimit-tokens-remaining", "0"),
                    ("anthropic-ratelimit-tokens-reset", "2026-05-28T20:27:00Z"),
                ],
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."}}"#,
                RateLimit,
                // NOW is 2026-05-28T20:26:40Z: the reset (20 s) outlasts
                // retry-after (13 s), and the longest wins.
                Some(20_000),
            ),
            (
                // learn.microsoft.com, "Anthropic 529 overloaded_error":
                // the spend limit is a 429 rate_limit_error with
                // details.error_code enforced_spend_limit_reached.
                "anthropic 429 spend limit",
                429,
                &[],
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your specified API usage limits.","details":{"error_code":"enforced_spend_limit_reached"}}}"#,
                UsageLimit,
                None,
            ),
            (
                "anthropic 401",
                401,
                &[],
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
                Auth,
                None,
            ),
            (
                "anthropic 403",
                403,
                &[],
                r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#,
                AuthPermanent,
                None,
            ),
            (
                // errornotes.dev, "Claude API prompt is too long"
                "anthropic 400 prompt too long",
                400,
                &[],
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215432 tokens > 200000 maximum"}}"#,
                ContextOverflow,
                None,
            ),
            (
                // ChatGPTNextWeb/NextChat#4964: a bad max_tokens is the
                // request's fault, not a window to grow.
                "anthropic 400 max_tokens",
                400,
                &[],
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 10000 > 4096, which is the maximum allowed number of output tokens for claude-3-5-sonnet-20240620"}}"#,
                Format,
                None,
            ),
            (
                "anthropic 400 credit balance",
                400,
                &[],
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#,
                Billing,
                None,
            ),
            (
                "anthropic 400 content filtering",
                400,
                &[],
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"Output blocked by content filtering policy"}}"#,
                ContentPolicy,
                None,
            ),
            (
                "anthropic 404",
                404,
                &[],
                r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-sonnet-9"}}"#,
                ModelNotFound,
                None,
            ),
            (
                "anthropic 500",
                500,
                &[],
                r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
                ServerError,
                None,
            ),
            (
                // Sent by Cloudflare before the API (docs above).
                "anthropic 413",
                413,
                &[],
                r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#,
                ContextOverflow,
                None,
            ),
            // Ollama: `{"error": "<text>"}` with the statuses of
            // https://docs.ollama.com/api/errors; texts as reported.
            (
                // continuedev/continue#11444
                "ollama 429 session",
                429,
                &[],
                r#"{"error":"you (ae2055838) have reached your session usage limit, upgrade for higher limits: https://ollama.com/upgrade"}"#,
                UsageLimit,
                None,
            ),
            (
                // continuedev/continue#9233
                "ollama 429 hourly",
                429,
                &[],
                r#"{"error":"you've reached your hourly usage limit, please wait or upgrade to continue"}"#,
                UsageLimit,
                None,
            ),
            (
                "ollama 429 rate",
                429,
                &[("retry-after", "4")],
                r#"{"error":"too many requests"}"#,
                RateLimit,
                Some(4_000),
            ),
            (
                // ollama/ollama#13399
                "ollama 503",
                503,
                &[],
                r#"{"error":"Service Temporarily Unavailable"}"#,
                Overloaded,
                None,
            ),
            (
                "ollama 502 cloud unreachable",
                502,
                &[],
                r#"{"error":"an error was encountered while running the model"}"#,
                ServerError,
                None,
            ),
            (
                // Ollama's refusal with truncate off (embed and chat).
                "ollama 400 context",
                400,
                &[],
                r#"{"error":"the input length exceeds the context length"}"#,
                ContextOverflow,
                None,
            ),
            (
                // ITSpecialist111/ai_automation_suggester#37: older
                // servers answered an overflow with a 500.
                "ollama 500 context",
                500,
                &[],
                r#"{"error":"input exceeds context length"}"#,
                ContextOverflow,
                None,
            ),
            (
                "ollama 401 signin",
                401,
                &[],
                r#"{"error":"unauthorized","signin_url":"https://ollama.com/connect?name=host&key=abc"}"#,
                Auth,
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
            // Anthropic's `event: error`: the type stands for the status.
            (
                json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
                Overloaded,
            ),
            (
                json!({"type":"error","error":{"type":"api_error","message":"Internal server error"}}),
                ServerError,
            ),
            (
                json!({"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}),
                RateLimit,
            ),
            // Ollama's mid-stream line (docs.ollama.com/api/errors).
            (
                json!({"error":"an error was encountered while running the model"}),
                ServerError,
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

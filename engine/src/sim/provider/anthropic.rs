//! `POST /v1/messages`, Anthropic's Messages API: a `message` object with
//! content blocks, or the SSE events of
//! <https://docs.claude.com/en/docs/build-with-claude/streaming>
//! (`message_start`, `content_block_start` / `_delta` / `_stop`, `ping`,
//! `message_delta`, `message_stop`, and `error`), and errors as
//! `{"type":"error","error":{"type":…,"message":…},"request_id":…}` with
//! the statuses of <https://docs.claude.com/en/api/errors>.

use super::api::{Api, Call, Event};
use super::behaviour::Answer;
use super::body::named_event;
use super::fault::{Fault, Trouble};
use bytes::Bytes;
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) struct Anthropic;

fn stop_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Text(_) => "end_turn",
        Answer::ToolCall { .. } => "tool_use",
    }
}

fn message(call: &Call, content: Vec<Value>, stop: Option<&str>, output_tokens: u64) -> Value {
    json!({
        "id": call.id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {"input_tokens": call.prompt_tokens, "output_tokens": output_tokens},
    })
}

/// The answer's one content block, whole (`input` filled) or as it starts
/// a stream (empty); none for an empty answer.
fn block(call: &Call, answer: &Answer, whole: bool) -> Option<Value> {
    match answer {
        Answer::Text(text) if text.is_empty() => None,
        Answer::Text(text) => {
            Some(json!({"type": "text", "text": if whole { text.as_str() } else { "" }}))
        }
        Answer::ToolCall { name, arguments } => Some(json!({
            "type": "tool_use",
            "id": call.id("toolu_"),
            "name": name,
            "input": if whole { serde_json::from_str(arguments).unwrap_or_else(|_| json!({})) } else { json!({}) },
        })),
    }
}

fn event(kind: &str, mut body: Value) -> Bytes {
    body["type"] = json!(kind);
    named_event(kind, &body)
}

/// The error envelope.
fn error(call_seq: Option<usize>, kind: &str, message: &str) -> Value {
    let request_id = format!("req_sim{:06}", call_seq.unwrap_or(0));
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})
}

impl Api for Anthropic {
    fn stream(&self, call: &Call, answer: &Answer) -> Vec<Event> {
        let control = |kind: &str, body: Value| Event::control(event(kind, body));
        let mut events = vec![control(
            "message_start",
            json!({"message": message(call, Vec::new(), None, 1)}),
        )];
        if let Some(start) = block(call, answer, false) {
            events.push(control(
                "content_block_start",
                json!({"index": 0, "content_block": start}),
            ));
            events.push(control("ping", json!({})));
            for piece in answer.pieces() {
                let delta = match answer {
                    Answer::Text(_) => json!({"type": "text_delta", "text": piece}),
                    Answer::ToolCall { .. } => {
                        json!({"type": "input_json_delta", "partial_json": piece})
                    }
                };
                let body = json!({"index": 0, "delta": delta});
                events.push(Event::content(event("content_block_delta", body)));
            }
            events.push(control("content_block_stop", json!({"index": 0})));
        }
        events.push(control(
            "message_delta",
            json!({
                "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
                "usage": {"output_tokens": answer.completion_tokens()},
            }),
        ));
        events.push(control("message_stop", json!({})));
        events
    }

    /// The overload that interrupts a stream after its 200.
    fn stream_error(&self, call: &Call, _sent: usize) -> Bytes {
        named_event(
            "error",
            &error(Some(call.seq), "overloaded_error", "Overloaded"),
        )
    }

    fn object(&self, call: &Call, answer: &Answer) -> Value {
        let content = block(call, answer, true).into_iter().collect();
        message(
            call,
            content,
            Some(stop_reason(answer)),
            answer.completion_tokens(),
        )
    }

    /// Not streaming, nothing was sent yet: the failure is the status.
    fn interrupted(&self, call: &Call) -> Fault {
        self.fault(&Trouble::Overloaded, &call.model)
    }

    fn fault(&self, trouble: &Trouble, model: &str) -> Fault {
        fault(trouble, model)
    }

    fn check(&self, headers: &HeaderMap, body: &Value) -> Result<(), Trouble> {
        if !headers.contains_key("anthropic-version") {
            return Err(Trouble::InvalidRequest(
                "anthropic-version: header is required".into(),
            ));
        }
        if !body.get("max_tokens").is_some_and(Value::is_u64) {
            return Err(Trouble::InvalidRequest("max_tokens: Field required".into()));
        }
        Ok(())
    }
}

fn rfc3339_in(seconds: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let at = chrono::DateTime::from_timestamp(i64::try_from(now + seconds).unwrap_or(0), 0)
        .unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `trouble` as Anthropic sends it.
pub(super) fn fault(trouble: &Trouble, model: &str) -> Fault {
    use StatusCode as S;
    let invalid = "invalid_request_error";
    let (status, kind, message) = match trouble {
        Trouble::RateLimit(seconds) => {
            let fault = Fault::new(
                S::TOO_MANY_REQUESTS,
                // cline/cline#42 (requests instead of tokens)
                error(None, "rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."),
            )
            .with_header("anthropic-ratelimit-requests-limit", "50".into())
            .with_header("anthropic-ratelimit-requests-remaining", "0".into());
            return match seconds {
                Some(s) => fault
                    .with_header("retry-after", s.to_string())
                    .with_header("anthropic-ratelimit-requests-reset", rfc3339_in(*s)),
                None => fault,
            };
        }
        Trouble::Auth => (S::UNAUTHORIZED, "authentication_error", "invalid x-api-key".to_owned()),
        Trouble::AuthPermanent => (
            S::FORBIDDEN,
            "permission_error",
            "Your API key does not have permission to use the specified resource.".to_owned(),
        ),
        Trouble::UsageLimit => {
            let mut body = error(
                None,
                "rate_limit_error",
                "You have reached your specified API usage limits. You will regain access on the first of next month at 00:00 UTC.",
            );
            body["error"]["details"] = json!({"error_code": "enforced_spend_limit_reached"});
            return Fault::new(S::TOO_MANY_REQUESTS, body);
        }
        Trouble::Billing => (
            S::BAD_REQUEST,
            invalid,
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.".to_owned(),
        ),
        Trouble::ServerError => (S::INTERNAL_SERVER_ERROR, "api_error", "Internal server error".to_owned()),
        Trouble::Overloaded => (overloaded(), "overloaded_error", "Overloaded".to_owned()),
        Trouble::ContextOverflow => (
            S::BAD_REQUEST,
            invalid,
            "prompt is too long: 215432 tokens > 200000 maximum".to_owned(),
        ),
        Trouble::ContentPolicy => (
            S::BAD_REQUEST,
            invalid,
            "Output blocked by content filtering policy".to_owned(),
        ),
        Trouble::Format => (
            S::BAD_REQUEST,
            invalid,
            "messages.0.role: Input should be 'user' or 'assistant'".to_owned(),
        ),
        Trouble::ModelNotFound => (S::NOT_FOUND, "not_found_error", format!("model: {model}")),
        Trouble::InvalidRequest(message) => (S::BAD_REQUEST, invalid, message.clone()),
    };
    Fault::new(status, error(None, kind, &message))
}

/// Anthropic's own 529.
fn overloaded() -> StatusCode {
    StatusCode::from_u16(529).expect("529 is a valid status")
}

/// `GET /v1/models`, Anthropic's shape.
pub(super) fn models(models: &[String]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "2026-01-01T00:00:00Z"}))
        .collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": models.first(),
        "last_id": models.last(),
    })
}

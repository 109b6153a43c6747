//! `POST /api/chat`, Ollama's native API (<https://docs.ollama.com/api/chat>):
//! NDJSON lines of `message` deltas ending in a `done: true` line with the
//! token counts, tool calls whole with object arguments, and errors as
//! `{"error": "<text>"}` (<https://docs.ollama.com/api/errors>), also as a
//! line of a stream that had started.

use super::api::{Api, Call, Event};
use super::behaviour::Answer;
use super::body::{self, json_line};
use super::fault::{Fault, Trouble};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

pub(super) struct Ollama;

/// What Ollama sends when the model fails while generating.
const RUN_FAILED: &str = "an error was encountered while running the model";

/// A fixed nanosecond figure for the duration fields: the sim does not
/// time itself, and clients only display them.
const NANOS: u64 = 1_000_000;

fn created_at(call: &Call) -> String {
    let at = chrono::DateTime::from_timestamp(i64::try_from(call.created).unwrap_or(0), 0)
        .unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn line(call: &Call, message: Value) -> Value {
    json!({
        "model": call.model,
        "created_at": created_at(call),
        "message": message,
        "done": false,
    })
}

/// The answer's `message`: its text, or its tool call with object
/// arguments.
fn message(answer: &Answer, text: &str) -> Value {
    match answer {
        Answer::Text(_) => json!({"role": "assistant", "content": text}),
        Answer::ToolCall { name, arguments } => json!({
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {
                "name": name,
                "arguments": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
            }}],
        }),
    }
}

/// The closing fields: why it stopped and what it cost.
fn done(call: &Call, answer: &Answer, message: Value) -> Value {
    let mut last = line(call, message);
    let fields = json!({
        "done": true,
        "done_reason": "stop",
        "total_duration": 3 * NANOS,
        "load_duration": NANOS,
        "prompt_eval_count": call.prompt_tokens,
        "prompt_eval_duration": NANOS,
        "eval_count": answer.completion_tokens(),
        "eval_duration": NANOS,
    });
    if let (Value::Object(last), Value::Object(fields)) = (&mut last, fields) {
        last.extend(fields);
    }
    last
}

fn error(text: &str) -> Value {
    json!({ "error": text })
}

impl Api for Ollama {
    fn stream(&self, call: &Call, answer: &Answer) -> Vec<Event> {
        let mut events = Vec::new();
        match answer {
            Answer::Text(_) => {
                for piece in answer.pieces() {
                    let chunk = line(call, message(answer, piece));
                    events.push(Event::content(json_line(&chunk)));
                }
            }
            // A tool call arrives whole, in one line.
            Answer::ToolCall { .. } => {
                let chunk = line(call, message(answer, ""));
                events.push(Event::content(json_line(&chunk)));
            }
        }
        let last = done(call, answer, json!({"role": "assistant", "content": ""}));
        events.push(Event::control(json_line(&last)));
        events
    }

    fn stream_error(&self, _call: &Call, _sent: usize) -> Bytes {
        json_line(&error(RUN_FAILED))
    }

    fn object(&self, call: &Call, answer: &Answer) -> Value {
        let text = match answer {
            Answer::Text(text) => text.as_str(),
            Answer::ToolCall { .. } => "",
        };
        done(call, answer, message(answer, text))
    }

    /// Not streaming, nothing was sent yet: the failure is the status.
    fn interrupted(&self, _call: &Call) -> Fault {
        Fault::new(StatusCode::INTERNAL_SERVER_ERROR, error(RUN_FAILED))
    }

    fn fault(&self, trouble: &Trouble, model: &str) -> Fault {
        fault(trouble, model)
    }

    fn content_type(&self) -> &'static str {
        body::NDJSON
    }

    fn streams_by_default(&self) -> bool {
        true
    }
}

/// `trouble` as Ollama (local or ollama.com) sends it. Ollama documents no
/// content-policy, permanent-auth or billing bodies; for those the sim
/// sends the documented shape with a status the classifier knows.
pub(super) fn fault(trouble: &Trouble, model: &str) -> Fault {
    use StatusCode as S;
    let (status, text) = match trouble {
        Trouble::RateLimit(seconds) => {
            let fault = Fault::new(S::TOO_MANY_REQUESTS, error("too many requests"));
            return match seconds {
                Some(s) => fault.with_header("retry-after", s.to_string()),
                None => fault,
            };
        }
        Trouble::Auth => (S::UNAUTHORIZED, "unauthorized".to_owned()),
        Trouble::AuthPermanent => (S::FORBIDDEN, "access to this account has been revoked".to_owned()),
        // NousResearch/hermes-agent#68832
        Trouble::UsageLimit => (
            S::TOO_MANY_REQUESTS,
            "you (sim) have reached your weekly usage limit, upgrade for higher limits: https://ollama.com/upgrade".to_owned(),
        ),
        Trouble::Billing => (S::PAYMENT_REQUIRED, "payment required".to_owned()),
        Trouble::ServerError => (
            S::INTERNAL_SERVER_ERROR,
            "the model failed to generate a response".to_owned(),
        ),
        // Ollama's answer when its request queue is full.
        Trouble::Overloaded => (
            S::SERVICE_UNAVAILABLE,
            "server busy, please try again.  maximum pending requests exceeded".to_owned(),
        ),
        Trouble::ContextOverflow => (
            S::BAD_REQUEST,
            "the input length exceeds the context length".to_owned(),
        ),
        Trouble::ContentPolicy => (
            S::BAD_REQUEST,
            "the request was flagged by moderation".to_owned(),
        ),
        Trouble::Format => (
            S::BAD_REQUEST,
            "json: cannot unmarshal number into Go struct field Message.messages.role of type string".to_owned(),
        ),
        Trouble::ModelNotFound => (
            S::NOT_FOUND,
            format!("model \"{model}\" not found, try pulling it first"),
        ),
        Trouble::InvalidRequest(message) => (S::BAD_REQUEST, message.clone()),
    };
    Fault::new(status, error(&text))
}

/// `GET /api/tags`: the models, by name.
pub(super) fn tags(models: &[String]) -> Value {
    let models: Vec<Value> = models
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "model": name,
                "modified_at": "2026-01-01T00:00:00Z",
                "size": 0,
                "digest": "sim",
                "details": {"format": "gguf", "family": "sim"},
            })
        })
        .collect();
    json!({ "models": models })
}

//! `POST /v1/chat/completions`, in the shapes OpenAI sends.

use super::api::{Api, Call, Event};
use super::behaviour::Answer;
use super::body::data_event;
use super::fault::Fault;
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

pub(super) struct Chat;

impl Chat {
    fn chunk(call: &Call, delta: Value, finish_reason: Option<&str>) -> Value {
        let mut chunk = Chat::envelope(call);
        chunk["choices"] = json!([{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish_reason,
        }]);
        chunk
    }

    fn envelope(call: &Call) -> Value {
        let mut chunk = json!({
            "id": call.id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": call.created,
            "model": call.model,
            "system_fingerprint": null,
        });
        // With include_usage every chunk carries `usage`, null until the last.
        if call.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    /// The first delta: the role, and for a tool call its id and name.
    fn opening_delta(call: &Call, answer: &Answer) -> Value {
        match answer {
            Answer::Text(_) => json!({"role": "assistant", "content": ""}),
            Answer::ToolCall { name, .. } => json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "index": 0,
                    "id": call.id("call_"),
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }],
            }),
        }
    }

    fn piece_delta(answer: &Answer, piece: &str) -> Value {
        match answer {
            Answer::Text(_) => json!({"content": piece}),
            Answer::ToolCall { .. } => json!({
                "tool_calls": [{"index": 0, "function": {"arguments": piece}}],
            }),
        }
    }
}

fn finish_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Text(_) => "stop",
        Answer::ToolCall { .. } => "tool_calls",
    }
}

fn usage(call: &Call, answer: &Answer) -> Value {
    let completion = answer.completion_tokens();
    json!({
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": call.prompt_tokens + completion,
    })
}

impl Api for Chat {
    fn stream(&self, call: &Call, answer: &Answer) -> Vec<Event> {
        let opening = Chat::chunk(call, Chat::opening_delta(call, answer), None);
        let mut events = vec![Event::control(data_event(&opening))];
        for piece in answer.pieces() {
            let chunk = Chat::chunk(call, Chat::piece_delta(answer, piece), None);
            events.push(Event::content(data_event(&chunk)));
        }
        let last = Chat::chunk(call, json!({}), Some(finish_reason(answer)));
        events.push(Event::control(data_event(&last)));
        if call.include_usage {
            let mut chunk = Chat::envelope(call);
            chunk["choices"] = json!([]);
            chunk["usage"] = usage(call, answer);
            events.push(Event::control(data_event(&chunk)));
        }
        events.push(Event::control(Bytes::from_static(b"data: [DONE]\n\n")));
        events
    }

    /// OpenRouter's mid-stream error: an `error` object in a data line.
    fn stream_error(&self, _call: &Call, _sent: usize) -> Bytes {
        data_event(&openrouter_error())
    }

    fn object(&self, call: &Call, answer: &Answer) -> Value {
        let message = match answer {
            Answer::Text(text) => json!({"role": "assistant", "content": text, "refusal": null}),
            Answer::ToolCall { name, arguments } => json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "id": call.id("call_"),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }],
            }),
        };
        json!({
            "id": call.id("chatcmpl-"),
            "object": "chat.completion",
            "created": call.created,
            "model": call.model,
            "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason(answer),
            }],
            "usage": usage(call, answer),
        })
    }

    fn interrupted(&self, _call: &Call) -> Fault {
        Fault::new(StatusCode::OK, openrouter_error())
    }
}

/// OpenRouter's report of an upstream failure after generation started.
fn openrouter_error() -> Value {
    json!({"error": {"message": "Provider returned error", "code": 502}})
}

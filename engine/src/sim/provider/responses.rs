//! `POST /v1/responses`, OpenAI's Responses API: named SSE events with a
//! running `sequence_number`, output items for messages and function calls.

use super::api::{Api, Call, Event};
use super::behaviour::Answer;
use super::body::named_event;
use super::fault::Fault;
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

pub(super) struct Responses;

/// The `response` object, in any status.
fn response(call: &Call, status: &str, output: Vec<Value>, usage: Value) -> Value {
    json!({
        "id": call.id("resp_"),
        "object": "response",
        "created_at": call.created,
        "status": status,
        "model": call.model,
        "output": output,
        "usage": usage,
        "error": null,
    })
}

fn usage(call: &Call, answer: &Answer) -> Value {
    let output = answer.completion_tokens();
    json!({
        "input_tokens": call.prompt_tokens,
        "output_tokens": output,
        "total_tokens": call.prompt_tokens + output,
    })
}

/// The answer's one output item; none for an empty answer.
fn item(call: &Call, answer: &Answer, done: bool) -> Option<Value> {
    let status = if done { "completed" } else { "in_progress" };
    match answer {
        Answer::Text(text) if text.is_empty() => None,
        Answer::Text(text) => Some(json!({
            "id": call.id("msg_"),
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": if done { vec![output_text(text)] } else { Vec::new() },
        })),
        Answer::ToolCall { name, arguments } => Some(json!({
            "id": call.id("fc_"),
            "type": "function_call",
            "status": status,
            "call_id": call.id("call_"),
            "name": name,
            "arguments": if done { arguments.as_str() } else { "" },
        })),
    }
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

/// Numbers events as they are added.
#[derive(Default)]
struct Events(Vec<Event>);

impl Events {
    fn push(&mut self, kind: &str, mut body: Value, content: bool) {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(self.0.len());
        let data = named_event(kind, &body);
        self.0.push(Event { data, content });
    }
}

impl Responses {
    fn text_events(events: &mut Events, call: &Call, answer: &Answer, text: &str) {
        let at = json!({"item_id": call.id("msg_"), "output_index": 0, "content_index": 0});
        let with = |extra: Value| merge(at.clone(), extra);
        events.push(
            "response.content_part.added",
            with(json!({"part": output_text("")})),
            false,
        );
        for piece in answer.pieces() {
            events.push(
                "response.output_text.delta",
                with(json!({"delta": piece})),
                true,
            );
        }
        events.push(
            "response.output_text.done",
            with(json!({"text": text})),
            false,
        );
        events.push(
            "response.content_part.done",
            with(json!({"part": output_text(text)})),
            false,
        );
    }

    fn call_events(events: &mut Events, call: &Call, answer: &Answer, arguments: &str) {
        let at = json!({"item_id": call.id("fc_"), "output_index": 0});
        for piece in answer.pieces() {
            let delta = merge(at.clone(), json!({"delta": piece}));
            events.push("response.function_call_arguments.delta", delta, true);
        }
        let done = merge(at, json!({"arguments": arguments}));
        events.push("response.function_call_arguments.done", done, false);
    }
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    base
}

impl Api for Responses {
    fn stream(&self, call: &Call, answer: &Answer) -> Vec<Event> {
        let mut events = Events::default();
        let started = json!({"response": response(call, "in_progress", Vec::new(), Value::Null)});
        events.push("response.created", started.clone(), false);
        events.push("response.in_progress", started, false);
        let output: Vec<Value> = item(call, answer, true).into_iter().collect();
        if let Some(item) = item(call, answer, false) {
            events.push(
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
                false,
            );
            match answer {
                Answer::Text(text) => Responses::text_events(&mut events, call, answer, text),
                Answer::ToolCall { arguments, .. } => {
                    Responses::call_events(&mut events, call, answer, arguments)
                }
            }
            events.push(
                "response.output_item.done",
                json!({"output_index": 0, "item": output[0]}),
                false,
            );
        }
        let completed = response(call, "completed", output, usage(call, answer));
        events.push("response.completed", json!({"response": completed}), false);
        events.0
    }

    fn stream_error(&self, call: &Call, sent: usize) -> Bytes {
        let mut body = json!({"response": failed(call)});
        body["type"] = json!("response.failed");
        body["sequence_number"] = json!(sent);
        named_event("response.failed", &body)
    }

    fn object(&self, call: &Call, answer: &Answer) -> Value {
        let output = item(call, answer, true).into_iter().collect();
        response(call, "completed", output, usage(call, answer))
    }

    fn interrupted(&self, call: &Call) -> Fault {
        Fault::new(StatusCode::OK, failed(call))
    }
}

/// The `response` object of a generation that failed.
fn failed(call: &Call) -> Value {
    let mut failed = response(call, "failed", Vec::new(), Value::Null);
    failed["error"] = json!({
        "code": "server_error",
        "message": "The model failed to generate a response: the upstream provider returned an error.",
    });
    failed
}

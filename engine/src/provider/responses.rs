//! OpenAI Responses API (`/responses`), streaming. The wire the Codex
//! app-server speaks to its providers too.

use serde_json::{json, Value};

use super::chat::conclude;
use super::sse::SseEvent;
use super::{ChatRequest, Completion, Failure, Flow, Role, StreamState, ToolCall, Usage};
use crate::failure::{classify_stream_error, FailureClass};

pub(super) fn body(model: &str, request: &ChatRequest) -> Value {
    let mut instructions = Vec::new();
    let mut input = Vec::new();
    for m in &request.messages {
        match m.role {
            Role::System => instructions.push(m.content.clone()),
            Role::User => input.push(json!({"role": "user", "content": m.content})),
            Role::Assistant => {
                if !m.content.is_empty() {
                    input.push(json!({"role": "assistant", "content": m.content}));
                }
                for c in &m.tool_calls {
                    input.push(json!({"type": "function_call", "call_id": c.id,
                                      "name": c.name, "arguments": c.arguments}));
                }
            }
            Role::Tool => input.push(json!({"type": "function_call_output",
                "call_id": m.tool_call_id.clone().unwrap_or_default(), "output": m.content})),
        }
    }
    let mut body =
        json!({ "model": model, "input": input, "stream": request.stream, "store": false });
    if !instructions.is_empty() {
        body["instructions"] = json!(instructions.join("\n\n"));
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}))
            .collect();
    }
    if let Some(max) = request.max_tokens {
        body["max_output_tokens"] = json!(max);
    }
    body
}

fn usage(v: &Value) -> Usage {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A whole `response` object (non-streaming, or the one in
/// `response.completed`).
pub(super) fn parse_full(response: &Value) -> Result<Completion, Failure> {
    let mut completion = Completion {
        usage: response.get("usage").map(usage).unwrap_or_default(),
        finish_reason: Some(str_of(response, "status")),
        ..Completion::default()
    };
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    completion
                        .text
                        .push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
                }
            }
            Some("function_call") => completion.tool_calls.push(ToolCall {
                id: str_of(item, "call_id"),
                name: str_of(item, "name"),
                arguments: str_of(item, "arguments"),
            }),
            _ => {}
        }
    }
    conclude(completion)
}

#[derive(Default)]
pub(super) struct Stream {
    text: String,
    calls: Vec<ToolCall>,
    /// Output item id → index in `calls`.
    call_items: Vec<String>,
    finished: Option<Completion>,
}

impl StreamState for Stream {
    fn feed(&mut self, event: &SseEvent, now_ms: i64) -> Result<Flow, Failure> {
        let v: Value = super::stream_json(&event.data)?;
        match event.kind(&v) {
            "response.output_text.delta" => self.text.push_str(&str_of(&v, "delta")),
            "response.output_item.added" => {
                let item = &v["item"];
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    self.call_items.push(str_of(item, "id"));
                    self.calls.push(ToolCall {
                        id: str_of(item, "call_id"),
                        name: str_of(item, "name"),
                        arguments: String::new(),
                    });
                }
            }
            "response.function_call_arguments.delta" => {
                if let Some(call) = self.call_for(&str_of(&v, "item_id")) {
                    call.arguments.push_str(&str_of(&v, "delta"));
                }
            }
            "response.function_call_arguments.done" => {
                if let Some(call) = self.call_for(&str_of(&v, "item_id")) {
                    call.arguments = str_of(&v, "arguments");
                }
            }
            "response.completed" => {
                let response = &v["response"];
                let mut done = Completion {
                    text: std::mem::take(&mut self.text),
                    tool_calls: std::mem::take(&mut self.calls),
                    usage: response.get("usage").map(usage).unwrap_or_default(),
                    finish_reason: Some("completed".into()),
                };
                // Some servers only fill the final object; prefer it when
                // the deltas were not sent.
                if done.text.is_empty() && done.tool_calls.is_empty() {
                    if let Ok(full) = parse_full(response) {
                        done = Completion {
                            usage: done.usage,
                            ..full
                        };
                    }
                }
                self.text = done.text.clone();
                self.calls = done.tool_calls.clone();
                self.finished = Some(done);
                return Ok(Flow::Done);
            }
            "response.incomplete" => {
                let reason = v
                    .pointer("/response/incomplete_details/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                if reason == "content_filter" {
                    return Err(Failure::new(
                        FailureClass::ContentPolicy,
                        "response incomplete: content_filter",
                    ));
                }
                // max_output_tokens: what was produced is the answer.
                return Ok(Flow::Done);
            }
            "response.failed" | "error" => {
                return Err(classify_stream_error(&v, now_ms).into());
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn partial(&self) -> Option<String> {
        (!self.text.is_empty() || !self.calls.is_empty()).then(|| self.text.clone())
    }

    fn finish(self: Box<Self>) -> Result<Completion, Failure> {
        let this = *self;
        let completion = this.finished.unwrap_or(Completion {
            text: this.text,
            tool_calls: this.calls,
            usage: Usage::default(),
            finish_reason: Some("incomplete".into()),
        });
        conclude(completion)
    }
}

impl Stream {
    fn call_for(&mut self, item_id: &str) -> Option<&mut ToolCall> {
        let index = self.call_items.iter().position(|id| id == item_id)?;
        self.calls.get_mut(index)
    }
}

//! OpenAI-compatible `/chat/completions` (OpenAI, Ollama, OpenRouter, vLLM,
//! LM Studio, the `sim` provider).

use serde_json::{json, Value};

use super::sse::SseEvent;
use super::{ChatRequest, Completion, Failure, Flow, Role, StreamState, ToolCall, Usage};
use crate::failure::{classify_stream_error, FailureClass};

pub(super) fn body(model: &str, request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({ "model": model, "messages": messages, "stream": request.stream });
    if request.stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    if !request.tools.is_empty() {
        body["tools"] = function_tools(request);
    }
    if let Some(max) = request.max_tokens {
        body["max_tokens"] = json!(max);
    }
    body
}

/// Tools as `{"type": "function", "function": {…}}`, the shape Chat
/// Completions and Ollama's native API share.
pub(super) fn function_tools(request: &ChatRequest) -> Value {
    request
        .tools
        .iter()
        .map(|t| {
            json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}})
        })
        .collect()
}

fn message(m: &super::Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = json!({ "role": role, "content": m.content });
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

fn usage(v: &Value) -> Usage {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("prompt_tokens"),
        output_tokens: n("completion_tokens"),
    }
}

/// Ends a successful response: nothing at all is `empty_response`, a
/// content-filter stop is `content_policy`.
pub(super) fn conclude(completion: Completion) -> Result<Completion, Failure> {
    if completion.finish_reason.as_deref() == Some("content_filter") {
        return Err(Failure::new(
            FailureClass::ContentPolicy,
            "the provider stopped the answer (finish_reason content_filter)",
        ));
    }
    if completion.text.trim().is_empty() && completion.tool_calls.is_empty() {
        return Err(Failure::new(
            FailureClass::EmptyResponse,
            "the model returned no text and no tool call",
        ));
    }
    Ok(completion)
}

pub(super) fn parse_full(value: &Value) -> Result<Completion, Failure> {
    let choice = value
        .pointer("/choices/0")
        .ok_or_else(|| Failure::new(FailureClass::EmptyResponse, "the response has no choices"))?;
    let msg = choice.get("message").cloned().unwrap_or(Value::Null);
    let tool_calls = msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| ToolCall {
                    id: str_at(c, "/id"),
                    name: str_at(c, "/function/name"),
                    arguments: str_at(c, "/function/arguments"),
                })
                .collect()
        })
        .unwrap_or_default();
    conclude(Completion {
        text: str_at(&msg, "/content"),
        tool_calls,
        usage: value.get("usage").map(usage).unwrap_or_default(),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Accumulates `chat.completion.chunk` events.
#[derive(Default)]
pub(super) struct Stream {
    completion: Completion,
}

impl StreamState for Stream {
    fn feed(&mut self, event: &SseEvent, now_ms: i64) -> Result<Flow, Failure> {
        if event.data.trim() == "[DONE]" {
            return Ok(Flow::Done);
        }
        let chunk: Value = super::stream_json(&event.data)?;
        // OpenRouter reports upstream failures as an error chunk inside a
        // 200 stream: the status said success, the stream says otherwise.
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            return Err(classify_stream_error(&chunk, now_ms).into());
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.completion.usage = usage(u);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(Flow::Continue);
        };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
            self.completion.text.push_str(text);
        }
        for call in choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while self.completion.tool_calls.len() <= index {
                self.completion.tool_calls.push(ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
            }
            let slot = &mut self.completion.tool_calls[index];
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                slot.id = id.to_owned();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                slot.name.push_str(name);
            }
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                slot.arguments.push_str(args);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.completion.finish_reason = Some(reason.to_owned());
        }
        Ok(Flow::Continue)
    }

    fn partial(&self) -> Option<String> {
        self.completion.partial()
    }

    fn finish(self: Box<Self>) -> Result<Completion, Failure> {
        // `[DONE]` without a finish reason happens (some servers omit it);
        // the text is complete, so it is accepted.
        conclude(self.completion)
    }
}

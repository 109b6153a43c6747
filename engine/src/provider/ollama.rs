//! Ollama's native API (`POST /api/chat`, OpenClaw's `api: "ollama"`): tool
//! calls carry their arguments as JSON objects and arrive whole, a tool
//! result names its tool, the answer length is `options.num_predict`, and a
//! stream is NDJSON ending in a `done: true` line, or in an `{"error": …}`
//! line once the 200 was sent (<https://docs.ollama.com/api/errors>).

use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::chat::{conclude, function_tools};
use super::sse::SseEvent;
use super::{ChatRequest, Completion, Failure, Flow, Role, StreamState, ToolCall, Usage};
use crate::failure::classify_stream_error;

/// The server's root: `https://ollama.com`, also when written with the
/// `/api` prefix or an OpenAI-compatible `/v1` (Ollama serves that too, but
/// its native API is not under it).
fn root(base_url: &str) -> &str {
    let base = base_url.trim_end_matches('/');
    base.strip_suffix("/api")
        .or_else(|| base.strip_suffix("/v1"))
        .unwrap_or(base)
}

pub(super) fn chat_url(base_url: &str) -> String {
    format!("{}/api/chat", root(base_url))
}

pub(super) fn models_url(base_url: &str) -> String {
    format!("{}/api/tags", root(base_url))
}

pub(super) fn body(model: &str, request: &ChatRequest) -> Value {
    // A tool result names its tool; ours carry the call's id, so the name
    // comes from the assistant turn that made the call.
    let mut tool_names: HashMap<&str, &str> = HashMap::new();
    let mut messages = Vec::new();
    for m in &request.messages {
        let message = match m.role {
            Role::System => json!({"role": "system", "content": m.content}),
            Role::User => json!({"role": "user", "content": m.content}),
            Role::Assistant => {
                tool_names = m
                    .tool_calls
                    .iter()
                    .map(|c| (c.id.as_str(), c.name.as_str()))
                    .collect();
                let mut v = json!({"role": "assistant", "content": m.content});
                if !m.tool_calls.is_empty() {
                    v["tool_calls"] = m
                        .tool_calls
                        .iter()
                        .map(|c| json!({"function": {"name": c.name, "arguments": arguments_object(&c.arguments)}}))
                        .collect();
                }
                v
            }
            Role::Tool => {
                let mut v = json!({"role": "tool", "content": m.content});
                let name = m.tool_call_id.as_deref().and_then(|id| tool_names.get(id));
                if let Some(name) = name {
                    v["tool_name"] = json!(name);
                }
                v
            }
        };
        messages.push(message);
    }
    let mut body = json!({"model": model, "messages": messages, "stream": request.stream});
    if !request.tools.is_empty() {
        body["tools"] = function_tools(request);
    }
    if let Some(max) = request.max_tokens {
        body["options"] = json!({"num_predict": max});
    }
    body
}

/// Arguments as the object Ollama wants; text that is not a JSON object
/// (a model's broken output, kept in our transcript) becomes `{}`.
fn arguments_object(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => Value::Object(Map::new()),
    }
}

fn usage(v: &Value) -> Usage {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("prompt_eval_count"),
        output_tokens: n("eval_count"),
    }
}

/// Tool calls of one `message`; Ollama gives no id before 0.12, so one is
/// made from the call's position in the answer.
fn tool_calls(message: &Value, first_index: usize) -> Vec<ToolCall> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let arguments = match c.pointer("/function/arguments") {
                Some(Value::String(text)) => text.clone(),
                Some(v) if !v.is_null() => v.to_string(),
                _ => "{}".to_owned(),
            };
            ToolCall {
                id: c
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map_or_else(|| format!("call_{}", first_index + i), str::to_owned),
                name: c
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                arguments,
            }
        })
        .collect()
}

fn text(message: &Value) -> &str {
    message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn done_reason(v: &Value) -> Option<String> {
    v.get("done_reason")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub(super) fn parse_full(value: &Value) -> Result<Completion, Failure> {
    let message = value.get("message").cloned().unwrap_or(Value::Null);
    conclude(Completion {
        text: text(&message).to_owned(),
        tool_calls: tool_calls(&message, 0),
        usage: usage(value),
        finish_reason: done_reason(value),
    })
}

/// Accumulates NDJSON lines.
#[derive(Default)]
pub(super) struct Stream {
    completion: Completion,
}

impl StreamState for Stream {
    fn feed(&mut self, event: &SseEvent, now_ms: i64) -> Result<Flow, Failure> {
        let line: Value = super::stream_json(&event.data)?;
        if line.get("error").is_some_and(|e| !e.is_null()) {
            return Err(classify_stream_error(&line, now_ms).into());
        }
        if let Some(message) = line.get("message") {
            self.completion.text.push_str(text(message));
            let calls = tool_calls(message, self.completion.tool_calls.len());
            self.completion.tool_calls.extend(calls);
        }
        if line.get("done").and_then(Value::as_bool) == Some(true) {
            self.completion.usage = usage(&line);
            self.completion.finish_reason = done_reason(&line);
            return Ok(Flow::Done);
        }
        Ok(Flow::Continue)
    }

    fn partial(&self) -> Option<String> {
        self.completion.partial()
    }

    fn finish(self: Box<Self>) -> Result<Completion, Failure> {
        conclude(self.completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, ToolSpec};

    #[test]
    fn urls_from_the_root_the_api_prefix_or_v1() {
        for base in [
            "https://ollama.com",
            "https://ollama.com/",
            "https://ollama.com/api",
            "https://ollama.com/v1/",
        ] {
            assert_eq!(chat_url(base), "https://ollama.com/api/chat", "{base}");
            assert_eq!(models_url(base), "https://ollama.com/api/tags", "{base}");
        }
    }

    /// The request shape of <https://docs.ollama.com/api/chat>: arguments
    /// as objects, tool results with `tool_name`, `options.num_predict`.
    #[test]
    fn a_tool_round_trip_in_ollamas_shape() {
        let call = ToolCall {
            id: "call_0".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"a.txt"}"#.into(),
        };
        let request = ChatRequest {
            messages: vec![
                Message::system("be brief"),
                Message::user("read a.txt"),
                Message::assistant(&Completion {
                    tool_calls: vec![call],
                    ..Completion::default()
                }),
                Message::tool_result("call_0", "hello"),
            ],
            tools: vec![ToolSpec {
                name: "read_file".into(),
                description: "read".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: Some(64),
            stream: true,
        };
        let body = body("glm-5.1", &request);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"],
            json!({"name": "read_file", "arguments": {"path": "a.txt"}})
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "content": "hello", "tool_name": "read_file"})
        );
        assert_eq!(body["tools"][0]["function"]["name"], "read_file");
        assert_eq!(body["options"]["num_predict"], 64);
        assert_eq!(body["stream"], true);
    }
}

//! Anthropic's Messages API (`POST /v1/messages`, OpenClaw's
//! `api: "anthropic-messages"`): the system prompt apart from the turns,
//! content blocks (`text`, `tool_use` with an object `input`,
//! `tool_result` inside a user turn), `max_tokens` always sent, the key in
//! `x-api-key` with `anthropic-version`, and named SSE events
//! (<https://docs.claude.com/en/docs/build-with-claude/streaming>).

use serde_json::{json, Map, Value};

use super::chat::conclude;
use super::sse::SseEvent;
use super::{ChatRequest, Completion, Failure, Flow, Role, StreamState, ToolCall, Usage};
use crate::failure::{classify_stream_error, FailureClass};

/// The API version every request names.
pub(super) const VERSION: &str = "2023-06-01";

/// `max_tokens` when the caller set none (the API requires one): what every
/// Claude model accepts, the oldest included.
pub(super) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// `https://api.anthropic.com`, also when written with `/v1`.
fn root(base_url: &str) -> &str {
    let base = base_url.trim_end_matches('/');
    base.strip_suffix("/v1").unwrap_or(base)
}

pub(super) fn messages_url(base_url: &str) -> String {
    format!("{}/v1/messages", root(base_url))
}

/// The largest page Anthropic serves, so one request lists every model.
pub(super) fn models_url(base_url: &str) -> String {
    format!("{}/v1/models?limit=1000", root(base_url))
}

pub(super) fn body(model: &str, request: &ChatRequest) -> Value {
    let mut system = Vec::new();
    // Turns alternate; consecutive blocks of one role (tool results, then
    // the user's next words) share a turn.
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    let mut add = |role: &'static str, block: Value| match turns.last_mut() {
        Some((last, blocks)) if *last == role => blocks.push(block),
        _ => turns.push((role, vec![block])),
    };
    for m in &request.messages {
        match m.role {
            Role::System => system.push(m.content.clone()),
            Role::User => {
                if !m.content.is_empty() {
                    add("user", json!({"type": "text", "text": m.content}));
                }
            }
            Role::Assistant => {
                if !m.content.is_empty() {
                    add("assistant", json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    add(
                        "assistant",
                        json!({"type": "tool_use", "id": c.id, "name": c.name,
                               "input": input_object(&c.arguments)}),
                    );
                }
            }
            Role::Tool => add(
                "user",
                json!({"type": "tool_result",
                       "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                       "content": m.content}),
            ),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": request.stream,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

fn input_object(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => Value::Object(Map::new()),
    }
}

/// Input tokens include the prompt cache's reads and writes.
fn usage_into(usage: &mut Usage, v: &Value) {
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    let input: Option<u64> = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|k| n(k))
    .reduce(u64::saturating_add);
    if let Some(input) = input {
        usage.input_tokens = input;
    }
    if let Some(output) = n("output_tokens") {
        usage.output_tokens = output;
    }
}

/// A refusal is the model declining: `content_policy`, like OpenAI's
/// `content_filter`.
fn concluded(completion: Completion) -> Result<Completion, Failure> {
    if completion.finish_reason.as_deref() == Some("refusal") {
        return Err(Failure::new(
            FailureClass::ContentPolicy,
            "the model refused (stop_reason refusal)",
        ));
    }
    conclude(completion)
}

pub(super) fn parse_full(value: &Value) -> Result<Completion, Failure> {
    let mut completion = Completion {
        finish_reason: value
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Completion::default()
    };
    if let Some(u) = value.get("usage") {
        usage_into(&mut completion.usage, u);
    }
    for block in value
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => completion.text.push_str(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            Some("tool_use") => completion.tool_calls.push(ToolCall {
                id: str_of(block, "id"),
                name: str_of(block, "name"),
                arguments: block
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            }),
            _ => {}
        }
    }
    concluded(completion)
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// One content block as it streams in.
enum Block {
    Text,
    Tool(ToolCall),
    /// `thinking` and the like: nothing we keep.
    Other,
}

#[derive(Default)]
pub(super) struct Stream {
    text: String,
    blocks: Vec<Block>,
    usage: Usage,
    stop_reason: Option<String>,
}

impl Stream {
    fn block(&mut self, v: &Value) -> Option<&mut Block> {
        let index = usize::try_from(v.get("index")?.as_u64()?).ok()?;
        self.blocks.get_mut(index)
    }

    fn calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Tool(call) => Some(call),
            _ => None,
        })
    }
}

impl StreamState for Stream {
    fn feed(&mut self, event: &SseEvent, now_ms: i64) -> Result<Flow, Failure> {
        let v: Value = super::stream_json(&event.data)?;
        match event.kind(&v) {
            "message_start" => {
                if let Some(u) = v.pointer("/message/usage") {
                    usage_into(&mut self.usage, u);
                }
            }
            "content_block_start" => {
                let block = &v["content_block"];
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let new = match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        self.text.push_str(
                            block
                                .get("text")
                                .and_then(Value::as_str)
                                .unwrap_or_default(),
                        );
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool(ToolCall {
                        id: str_of(block, "id"),
                        name: str_of(block, "name"),
                        arguments: String::new(),
                    }),
                    _ => Block::Other,
                };
                // Blocks arrive in index order; a gap is filled so that
                // later deltas still find theirs.
                while self.blocks.len() < index {
                    self.blocks.push(Block::Other);
                }
                self.blocks.truncate(index);
                self.blocks.push(new);
            }
            "content_block_delta" => {
                let delta = &v["delta"];
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => self.text.push_str(&str_of(delta, "text")),
                    Some("input_json_delta") => {
                        let piece = str_of(delta, "partial_json");
                        if let Some(Block::Tool(call)) = self.block(&v) {
                            call.arguments.push_str(&piece);
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_owned());
                }
                if let Some(u) = v.get("usage") {
                    usage_into(&mut self.usage, u);
                }
            }
            "message_stop" => return Ok(Flow::Done),
            "error" => {
                return Err(classify_stream_error(&v, now_ms).into());
            }
            // ping, content_block_stop, and event types yet to come.
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn partial(&self) -> Option<String> {
        (!self.text.is_empty() || self.calls().next().is_some()).then(|| self.text.clone())
    }

    fn finish(self: Box<Self>) -> Result<Completion, Failure> {
        let tool_calls = self
            .calls()
            .cloned()
            .map(|mut call| {
                // A tool without parameters streams no JSON at all.
                if call.arguments.trim().is_empty() {
                    call.arguments = "{}".to_owned();
                }
                call
            })
            .collect();
        concluded(Completion {
            text: self.text,
            tool_calls,
            usage: self.usage,
            finish_reason: self.stop_reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, ToolSpec};

    #[test]
    fn urls_from_the_root_or_v1() {
        for base in [
            "https://api.anthropic.com",
            "https://api.anthropic.com/",
            "https://api.anthropic.com/v1",
        ] {
            assert_eq!(messages_url(base), "https://api.anthropic.com/v1/messages");
            assert_eq!(
                models_url(base),
                "https://api.anthropic.com/v1/models?limit=1000"
            );
        }
    }

    /// The request shape of <https://docs.claude.com/en/api/messages>:
    /// `system` apart, tool_use / tool_result blocks, results of one turn
    /// in one user message, `max_tokens` always present.
    #[test]
    fn a_tool_round_trip_in_anthropics_shape() {
        let calls = vec![
            ToolCall {
                id: "toolu_1".into(),
                name: "read_file".into(),
                arguments: r#"{"path":"a.txt"}"#.into(),
            },
            ToolCall {
                id: "toolu_2".into(),
                name: "list_dir".into(),
                arguments: "not json".into(),
            },
        ];
        let request = ChatRequest {
            messages: vec![
                Message::system("be brief"),
                Message::user("look"),
                Message::assistant(&Completion {
                    text: "Looking.".into(),
                    tool_calls: calls,
                    ..Completion::default()
                }),
                Message::tool_result("toolu_1", "hello"),
                Message::tool_result("toolu_2", "a.txt"),
                Message::user("and?"),
            ],
            tools: vec![ToolSpec {
                name: "read_file".into(),
                description: "read".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: None,
            stream: false,
        };
        let body = body("claude-sonnet-4-5", &request);
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert_eq!(messages[1]["role"], "assistant");
        assert_eq!(
            messages[1]["content"][1],
            json!({"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.txt"}})
        );
        assert_eq!(messages[1]["content"][2]["input"], json!({}));
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(
            messages[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "hello"})
        );
        assert_eq!(
            messages[2]["content"][2],
            json!({"type": "text", "text": "and?"})
        );
        assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
    }
}

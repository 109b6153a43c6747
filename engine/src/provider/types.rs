//! What a model call is, independent of the wire protocol: the conversation
//! in, a completion (text and tool calls) or a classified failure out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::failure::{FailureClass, HttpFailure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON text exactly as the model produced it (it may be invalid).
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `Role::Tool`: the call this is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn system(text: impl Into<String>) -> Self {
        Self::plain(Role::System, text)
    }

    pub fn user(text: impl Into<String>) -> Self {
        Self::plain(Role::User, text)
    }

    pub fn assistant(completion: &Completion) -> Self {
        Message {
            role: Role::Assistant,
            content: completion.text.clone(),
            tool_calls: completion.tool_calls.clone(),
            tool_call_id: None,
        }
    }

    pub fn tool_result(call_id: &str, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(call_id.to_owned()),
            ..Self::plain(Role::Tool, content)
        }
    }

    fn plain(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: text.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A rough token count (4 characters a token), good enough to keep a
    /// prompt inside a window with a margin; no tokenizer per model needed.
    pub fn estimated_tokens(&self) -> u64 {
        let chars = self.content.len()
            + self
                .tool_calls
                .iter()
                .map(|c| c.name.len() + c.arguments.len())
                .sum::<usize>();
        (chars as u64).div_ceil(4) + 4
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: Value,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u32>,
    /// Stream the response (SSE). Streaming gives first-byte and idle
    /// timeouts a meaning; non-streaming is for providers that lack it.
    pub stream: bool,
}

impl ChatRequest {
    pub fn estimated_tokens(&self) -> u64 {
        self.messages.iter().map(Message::estimated_tokens).sum()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        // Counts come from the provider: a bogus one must not overflow.
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub finish_reason: Option<String>,
}

impl Completion {
    /// The text so far, once any text or tool call was produced (DESIGN §3:
    /// a failure after output is `stream_interrupted`, keeping it).
    pub(crate) fn partial(&self) -> Option<String> {
        (!self.text.is_empty() || !self.tool_calls.is_empty()).then(|| self.text.clone())
    }
}

/// A failed attempt, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: FailureClass,
    pub retry_after_ms: Option<i64>,
    /// What happened, for the operator. Never holds a secret.
    pub detail: String,
    /// Text streamed before the failure; kept in the transcript.
    pub partial: Option<String>,
}

impl Failure {
    pub fn new(class: FailureClass, detail: impl Into<String>) -> Self {
        Failure {
            class,
            retry_after_ms: None,
            detail: detail.into(),
            partial: None,
        }
    }
}

impl From<HttpFailure> for Failure {
    fn from(f: HttpFailure) -> Self {
        Failure {
            class: f.class,
            retry_after_ms: f.retry_after_ms,
            detail: f.detail,
            partial: None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class, self.detail)
    }
}

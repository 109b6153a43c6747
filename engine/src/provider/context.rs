//! Fitting a conversation into a candidate's context window (DESIGN §4).
//! The system prompt and the job's message always stay; the oldest exchanges
//! go first, an assistant tool call together with its results (a model sees
//! a dangling result as a malformed conversation); a note says what was cut.

use std::borrow::Cow;

use super::{ChatRequest, Message, Role};

/// Share of the window kept free for the answer when the request sets no
/// `max_tokens`.
const ANSWER_SHARE: u64 = 8;

pub fn fit_to_window(request: &ChatRequest, window: Option<u64>) -> Cow<'_, ChatRequest> {
    let Some(window) = window else {
        return Cow::Borrowed(request);
    };
    let reserve = request.max_tokens.map_or(window / ANSWER_SHARE, u64::from);
    let budget = window.saturating_sub(reserve);
    if request.estimated_tokens() <= budget {
        return Cow::Borrowed(request);
    }
    // Head: system messages and the first user message. Tail: exchanges.
    let head_len = request
        .messages
        .iter()
        .position(|m| m.role == Role::User)
        .map_or(0, |i| i + 1);
    let (head, tail) = request.messages.split_at(head_len);
    let exchanges = group_exchanges(tail);
    let head_tokens: u64 = head.iter().map(Message::estimated_tokens).sum();
    let mut kept: Vec<&[Message]> = Vec::new();
    let mut used = head_tokens + NOTE_TOKENS;
    for exchange in exchanges.iter().rev() {
        let cost: u64 = exchange.iter().map(Message::estimated_tokens).sum();
        if used + cost > budget {
            break;
        }
        used += cost;
        kept.push(exchange);
    }
    kept.reverse();
    let dropped: usize = exchanges.len() - kept.len();
    let dropped_messages: usize = exchanges[..dropped].iter().map(|e| e.len()).sum();
    let mut messages = head.to_vec();
    if dropped_messages > 0 {
        messages.push(Message::user(format!(
            "[{dropped_messages} earlier messages were removed to fit this model's context window of {window} tokens]"
        )));
    }
    messages.extend(kept.into_iter().flatten().cloned());
    Cow::Owned(ChatRequest {
        messages,
        ..request.clone()
    })
}

const NOTE_TOKENS: u64 = 24;

/// Splits messages into exchanges: an assistant message and the tool
/// results answering it stay together.
fn group_exchanges(messages: &[Message]) -> Vec<&[Message]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=messages.len() {
        let boundary = i == messages.len() || messages[i].role != Role::Tool;
        if boundary {
            groups.push(&messages[start..i]);
            start = i;
        }
    }
    groups.into_iter().filter(|g| !g.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Completion, ToolCall};

    fn conversation(turns: usize) -> ChatRequest {
        let mut messages = vec![
            Message::system("you are a builder"),
            Message::user("build it"),
        ];
        for n in 0..turns {
            let call = ToolCall {
                id: format!("c{n}"),
                name: "exec".into(),
                arguments: "{\"command\":\"make\"}".into(),
            };
            messages.push(Message::assistant(&Completion {
                tool_calls: vec![call],
                ..Completion::default()
            }));
            messages.push(Message::tool_result(&format!("c{n}"), "x".repeat(400)));
        }
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn small_requests_and_unknown_windows_are_untouched() {
        let r = conversation(3);
        assert!(matches!(fit_to_window(&r, None), Cow::Borrowed(_)));
        assert!(matches!(
            fit_to_window(&r, Some(1_000_000)),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn oldest_exchanges_go_first_and_pairs_stay_whole() {
        let r = conversation(40);
        let window = 2_000;
        let fitted = fit_to_window(&r, Some(window));
        assert!(fitted.estimated_tokens() <= window - window / ANSWER_SHARE);
        let m = &fitted.messages;
        assert_eq!(m[0].content, "you are a builder");
        assert_eq!(m[1].content, "build it");
        assert!(
            m[2].content.contains("earlier messages were removed"),
            "{}",
            m[2].content
        );
        // The first kept message after the note opens an exchange, and every
        // tool result follows the call it answers.
        assert_eq!(m[3].role, Role::Assistant);
        for pair in m[3..].chunks(2) {
            assert_eq!(
                pair[1].tool_call_id.as_deref(),
                Some(pair[0].tool_calls[0].id.as_str())
            );
        }
        assert_eq!(
            m.last().unwrap().tool_call_id.as_deref(),
            Some("c39"),
            "the newest stays"
        );
    }
}

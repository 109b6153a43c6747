//! What a script step does on the wire, whichever API was called: an answer
//! and how it is delivered, an error (which each wire renders as its real
//! servers send it), or nothing at all.

use super::fault::Trouble;
use super::script::Step;
use serde_json::Value;
use std::time::Duration;

pub(super) enum Behaviour {
    Answer(Answer, Delivery),
    Fault(Trouble),
    Hang,
}

/// The assistant's output for one request.
pub(super) enum Answer {
    Text(String),
    ToolCall { name: String, arguments: String },
}

/// How an answer reaches the client.
#[derive(Debug, Clone, Copy)]
pub(super) enum Delivery {
    Whole,
    /// One content chunk per interval.
    Paced(Duration),
    /// This many content chunks, then the connection drops.
    BreakAfter(usize),
    /// This many content chunks, then an in-stream error.
    ErrorAfter(usize),
}

impl Behaviour {
    pub fn of(step: &Step, model: &str) -> Behaviour {
        let answer = |answer| Behaviour::Answer(answer, Delivery::Whole);
        match step {
            Step::Ok => answer(Answer::Text(ok_text(model))),
            Step::Reply(text) => answer(Answer::Text(text.clone())),
            Step::Empty => answer(Answer::Text(String::new())),
            Step::Tool { name, arguments } => answer(Answer::ToolCall {
                name: name.clone(),
                arguments: Value::Object(arguments.clone()).to_string(),
            }),
            Step::Slow(rate) => Behaviour::Answer(
                Answer::Text(ok_text(model)),
                // A rate near zero means "never": clamp instead of overflowing.
                Delivery::Paced(Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX)),
            ),
            Step::StreamBreakAfter(n) => {
                Behaviour::Answer(longer_than(model, *n), Delivery::BreakAfter(*n))
            }
            Step::StreamErrorAfter(n) => {
                Behaviour::Answer(longer_than(model, *n), Delivery::ErrorAfter(*n))
            }
            Step::Hang => Behaviour::Hang,
            Step::RateLimit(seconds) => Behaviour::Fault(Trouble::RateLimit(*seconds)),
            Step::Auth => Behaviour::Fault(Trouble::Auth),
            Step::AuthPermanent => Behaviour::Fault(Trouble::AuthPermanent),
            Step::UsageLimit => Behaviour::Fault(Trouble::UsageLimit),
            Step::Billing => Behaviour::Fault(Trouble::Billing),
            Step::ServerError => Behaviour::Fault(Trouble::ServerError),
            Step::Overloaded => Behaviour::Fault(Trouble::Overloaded),
            Step::ContextOverflow => Behaviour::Fault(Trouble::ContextOverflow),
            Step::ContentPolicy => Behaviour::Fault(Trouble::ContentPolicy),
            Step::Format => Behaviour::Fault(Trouble::Format),
            Step::ModelNotFound => Behaviour::Fault(Trouble::ModelNotFound),
        }
    }
}

fn ok_text(model: &str) -> String {
    format!("sim {model} ok")
}

/// A text of more than `n` chunks, so a stream cut after `n` is cut mid-answer.
fn longer_than(model: &str, n: usize) -> Answer {
    let text = ok_text(model);
    let copies = n / chunks(&text).len() + 1;
    Answer::Text(vec![text; copies].join(" "))
}

/// Word chunks, each with the whitespace after it, so they concatenate back
/// to the text.
pub(super) fn chunks(text: &str) -> Vec<&str> {
    text.split_inclusive(char::is_whitespace).collect()
}

/// Splits a tool call's arguments into a few pieces, as providers stream them.
fn argument_pieces(arguments: &str) -> Vec<&str> {
    const PIECES: usize = 3;
    let size = arguments.len().div_ceil(PIECES).max(1);
    let mut pieces = Vec::new();
    let mut rest = arguments;
    while !rest.is_empty() {
        let mut cut = size.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

impl Answer {
    /// The pieces a stream sends, one content event each.
    pub fn pieces(&self) -> Vec<&str> {
        match self {
            Answer::Text(text) => chunks(text),
            Answer::ToolCall { arguments, .. } => argument_pieces(arguments),
        }
    }

    /// A token is a chunk of text, or about four characters of arguments.
    pub fn completion_tokens(&self) -> u64 {
        match self {
            Answer::Text(text) => chunks(text).len() as u64,
            Answer::ToolCall { arguments, .. } => arguments.len().div_ceil(4) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_concatenate_back_to_the_text() {
        let text = "sim  m ok\nnext";
        assert_eq!(chunks(text), ["sim ", " ", "m ", "ok\n", "next"]);
        assert_eq!(chunks(text).concat(), text);
        assert!(chunks("").is_empty());
    }

    #[test]
    fn argument_pieces_respect_char_boundaries() {
        let arguments = r#"{"content":"héllo wörld"}"#;
        let pieces = argument_pieces(arguments);
        assert!((2..=3).contains(&pieces.len()), "{pieces:?}");
        assert_eq!(pieces.concat(), arguments);
        assert_eq!(argument_pieces("{}"), ["{", "}"]);
    }

    #[test]
    fn cut_streams_have_more_chunks_than_the_cut() {
        for n in [0, 2, 3, 7] {
            let Behaviour::Answer(answer, _) = Behaviour::of(&Step::StreamBreakAfter(n), "m")
            else {
                panic!("not an answer");
            };
            assert!(answer.pieces().len() > n);
        }
    }
}

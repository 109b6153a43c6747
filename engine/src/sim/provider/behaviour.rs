//! What a script step does on the wire, whichever API was called: an answer
//! and how it is delivered, an HTTP error exactly as the real providers send
//! it, or nothing at all.

use super::script::Step;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub(super) enum Behaviour {
    Answer(Answer, Delivery),
    Fault(Fault),
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

/// An HTTP error response.
#[derive(Debug, Clone)]
pub(super) struct Fault {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
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
            Step::RateLimit(seconds) => Behaviour::Fault(Fault::rate_limit(model, *seconds)),
            Step::Auth => Behaviour::Fault(Fault::auth()),
            Step::AuthPermanent => Behaviour::Fault(Fault::auth_permanent()),
            Step::UsageLimit => Behaviour::Fault(Fault::usage_limit()),
            Step::Billing => Behaviour::Fault(Fault::billing()),
            Step::ServerError => Behaviour::Fault(Fault::server_error()),
            Step::Overloaded => Behaviour::Fault(Fault::overloaded()),
            Step::ContextOverflow => Behaviour::Fault(Fault::context_overflow()),
            Step::ContentPolicy => Behaviour::Fault(Fault::content_policy()),
            Step::Format => Behaviour::Fault(Fault::format()),
            Step::ModelNotFound => Behaviour::Fault(Fault::model_not_found(model)),
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

/// OpenAI's error envelope.
fn openai_error(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

impl Fault {
    fn new(status: StatusCode, body: Value) -> Fault {
        Fault {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn rate_limit(model: &str, seconds: Option<u64>) -> Fault {
        let retry = seconds.map_or(String::new(), |s| format!(" Please try again in {s}s."));
        let message = format!(
            "Rate limit reached for requests per min (RPM) on {model}: Limit 3, Used 3, Requested 1.{retry}"
        );
        let mut fault = Fault::new(
            StatusCode::TOO_MANY_REQUESTS,
            openai_error(&message, "requests", None, Some("rate_limit_exceeded")),
        );
        if let Some(seconds) = seconds {
            fault.headers = vec![
                ("retry-after", seconds.to_string()),
                ("x-ratelimit-reset-requests", format!("{seconds}s")),
            ];
        }
        fault
    }

    pub fn auth() -> Fault {
        Fault::new(
            StatusCode::UNAUTHORIZED,
            openai_error(
                "Incorrect API key provided: sk-sim***. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ),
        )
    }

    pub fn auth_permanent() -> Fault {
        Fault::new(
            StatusCode::UNAUTHORIZED,
            openai_error(
                "This API key belongs to an account that has been deactivated.",
                "invalid_request_error",
                None,
                Some("account_deactivated"),
            ),
        )
    }

    pub fn usage_limit() -> Fault {
        Fault::new(
            StatusCode::TOO_MANY_REQUESTS,
            openai_error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                None,
                Some("insufficient_quota"),
            ),
        )
    }

    /// OpenRouter's shape: a numeric code and no type.
    pub fn billing() -> Fault {
        Fault::new(
            StatusCode::PAYMENT_REQUIRED,
            json!({"error": {
                "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
                "code": 402
            }}),
        )
    }

    pub fn server_error() -> Fault {
        Fault::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            openai_error(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
        )
    }

    pub fn overloaded() -> Fault {
        Fault::new(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {
                "message": "The engine is currently overloaded, please try again later",
                "type": "server_error",
                "code": "overloaded"
            }}),
        )
    }

    pub fn context_overflow() -> Fault {
        Fault::new(
            StatusCode::BAD_REQUEST,
            openai_error(
                "This model's maximum context length is 8192 tokens. However, your messages resulted in 9120 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
        )
    }

    pub fn content_policy() -> Fault {
        Fault::new(
            StatusCode::BAD_REQUEST,
            openai_error(
                "Your request was rejected as a result of our safety system.",
                "invalid_request_error",
                None,
                Some("content_policy_violation"),
            ),
        )
    }

    pub fn format() -> Fault {
        Fault::new(
            StatusCode::BAD_REQUEST,
            openai_error(
                "Invalid value for 'messages[0].role': expected one of system, user, assistant, tool.",
                "invalid_request_error",
                Some("messages"),
                None,
            ),
        )
    }

    pub fn model_not_found(model: &str) -> Fault {
        Fault::new(
            StatusCode::NOT_FOUND,
            openai_error(
                &format!("The model `{model}` does not exist or you do not have access to it."),
                "invalid_request_error",
                None,
                Some("model_not_found"),
            ),
        )
    }

    /// A request the sim cannot make sense of: bad JSON, a missing field, a
    /// script that does not parse.
    pub fn invalid_request(message: &str) -> Fault {
        Fault::new(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": message, "type": "invalid_request_error"}}),
        )
    }

    pub fn not_found(method: &str, path: &str) -> Fault {
        Fault::new(
            StatusCode::NOT_FOUND,
            openai_error(
                &format!("Invalid URL ({method} {path})"),
                "invalid_request_error",
                None,
                None,
            ),
        )
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

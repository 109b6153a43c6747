//! The script language of `sim` models: what each successive request to one
//! model gets.
//!
//! ```text
//! script := step ("," step)*            commas at bracket depth 0 separate steps
//! step   := behaviour ("*" count)?      count >= 1; the last step repeats forever
//! ```
//!
//! Behaviours: `ok`, `reply(<text>)`, `tool(<name>, <json object>)`,
//! `rate_limit` / `rate_limit(<seconds>)`, `auth`, `auth_permanent`,
//! `usage_limit`, `billing`, `server_error`, `overloaded`, `hang`,
//! `slow(<tokens/s>)`, `stream_break_after(<n>)`, `stream_error_after(<n>)`,
//! `context_overflow`, `content_policy`, `format`, `model_not_found`, `empty`.
//! Brackets and double quotes inside arguments must balance, which is what
//! lets a reply or a tool's JSON contain commas.

use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// One scripted behaviour, answering one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Success with the deterministic text `sim <model> ok`.
    Ok,
    /// Success with exactly this text.
    Reply(String),
    /// Success whose answer is one call of the function `name`.
    Tool {
        name: String,
        arguments: Map<String, Value>,
    },
    /// HTTP 429 `rate_limit_exceeded`; with `Retry-After` when seconds are given.
    RateLimit(Option<u64>),
    /// HTTP 401 `invalid_api_key`.
    Auth,
    /// HTTP 401 for a deactivated account.
    AuthPermanent,
    /// HTTP 429 `insufficient_quota`.
    UsageLimit,
    /// HTTP 402, OpenRouter's "Insufficient credits".
    Billing,
    /// HTTP 500.
    ServerError,
    /// HTTP 503 `overloaded`.
    Overloaded,
    /// The request is accepted and never answered.
    Hang,
    /// Success, produced at this many tokens (word chunks) per second.
    Slow(f64),
    /// A 200 stream that is cut off after this many content chunks.
    StreamBreakAfter(usize),
    /// A 200 stream that reports an in-stream error after this many content chunks.
    StreamErrorAfter(usize),
    /// HTTP 400 `context_length_exceeded`.
    ContextOverflow,
    /// HTTP 400 `content_policy_violation`.
    ContentPolicy,
    /// HTTP 400 for a malformed request.
    Format,
    /// HTTP 404 `model_not_found`.
    ModelNotFound,
    /// Success with no text and no tool call.
    Empty,
}

/// A model's behaviour over successive requests. Never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
struct Part {
    step: Step,
    times: u32,
}

impl Script {
    /// The step that answers the request with this 0-based number: the script
    /// in order, then its last step forever.
    pub fn step(&self, request: usize) -> &Step {
        let mut left = request;
        for part in &self.parts {
            match left.checked_sub(part.times as usize) {
                Some(rest) => left = rest,
                None => return &part.step,
            }
        }
        &self.parts[self.parts.len() - 1].step
    }
}

impl From<Step> for Script {
    fn from(step: Step) -> Self {
        Script {
            parts: vec![Part { step, times: 1 }],
        }
    }
}

/// The steps the parser knows, for error messages.
const KNOWN: &str = "ok, reply(<text>), tool(<name>, <json object>), rate_limit, \
    rate_limit(<seconds>), auth, auth_permanent, usage_limit, billing, server_error, overloaded, \
    hang, slow(<tokens/s>), stream_break_after(<n>), stream_error_after(<n>), context_overflow, \
    content_policy, format, model_not_found, empty";

/// Why a script did not parse; positions count steps from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("empty script: expected at least one step, e.g. \"ok\" or \"server_error*2, ok\"")]
    NoSteps,
    #[error("empty step at position {position}")]
    EmptyStep { position: usize },
    #[error("unbalanced brackets or quotes in step \"{step}\" at position {position}")]
    Unbalanced { position: usize, step: String },
    #[error("unknown step \"{step}\" at position {position}; known: {known}", known = KNOWN)]
    UnknownStep { position: usize, step: String },
    #[error("step \"{step}\" at position {position} needs an argument: {usage}")]
    MissingArgument {
        position: usize,
        step: String,
        usage: &'static str,
    },
    #[error("step \"{step}\" at position {position} takes no argument")]
    UnexpectedArgument { position: usize, step: String },
    #[error("bad argument in step \"{step}\" at position {position}: {reason}")]
    BadArgument {
        position: usize,
        step: String,
        reason: String,
    },
    #[error("bad repeat count in step \"{step}\" at position {position}: {reason}")]
    BadRepeat {
        position: usize,
        step: String,
        reason: String,
    },
    #[error(
        "step \"{step}\" at position {position} is malformed: expected a name, \
         optionally followed by (arguments)"
    )]
    Malformed { position: usize, step: String },
}

impl FromStr for Script {
    type Err = ScriptError;

    fn from_str(text: &str) -> Result<Self, ScriptError> {
        if text.trim().is_empty() {
            return Err(ScriptError::NoSteps);
        }
        let parts = split_top_level(text)?
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let at = StepText {
                    position: i + 1,
                    text: piece.trim(),
                };
                at.parse_part()
            })
            .collect::<Result<_, _>>()?;
        Ok(Script { parts })
    }
}

/// Splits at commas outside brackets and double-quoted strings, so replies and
/// JSON arguments may contain commas.
fn split_top_level(text: &str) -> Result<Vec<&str>, ScriptError> {
    let mut pieces = Vec::new();
    let mut open: Vec<char> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    let unbalanced = |start: usize, position: usize| ScriptError::Unbalanced {
        position,
        step: text[start..].trim().to_owned(),
    };
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => open.push(')'),
            '[' => open.push(']'),
            '{' => open.push('}'),
            ')' | ']' | '}' if open.pop() != Some(c) => {
                return Err(unbalanced(start, pieces.len() + 1))
            }
            ',' if open.is_empty() => {
                pieces.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_string || !open.is_empty() {
        return Err(unbalanced(start, pieces.len() + 1));
    }
    pieces.push(&text[start..]);
    Ok(pieces)
}

/// One step's text and where it stands, for parsing and error messages.
struct StepText<'a> {
    position: usize,
    text: &'a str,
}

impl StepText<'_> {
    fn parse_part(&self) -> Result<Part, ScriptError> {
        if self.text.is_empty() {
            return Err(ScriptError::EmptyStep {
                position: self.position,
            });
        }
        let (behaviour, times) = self.split_repeat()?;
        Ok(Part {
            step: self.parse_step(behaviour)?,
            times,
        })
    }

    /// `step*N` → (`step`, N). A `*` followed by a bracket or quote belongs to
    /// an argument, not to a repeat.
    fn split_repeat(&self) -> Result<(&str, u32), ScriptError> {
        let Some((behaviour, count)) = self.text.rsplit_once('*') else {
            return Ok((self.text, 1));
        };
        if count.contains([')', ']', '}', '"']) {
            return Ok((self.text, 1));
        }
        match count.trim().parse::<u32>() {
            Ok(0) => Err(self.bad_repeat("the count must be at least 1")),
            Ok(times) => Ok((behaviour.trim_end(), times)),
            Err(_) => Err(self.bad_repeat(&format!(
                "expected a whole number after '*', got \"{}\"",
                count.trim()
            ))),
        }
    }

    fn parse_step(&self, behaviour: &str) -> Result<Step, ScriptError> {
        let (name, argument) = match behaviour.split_once('(') {
            None => (behaviour, None),
            Some((name, rest)) => match rest.strip_suffix(')') {
                Some(argument) => (name.trim_end(), Some(argument)),
                None => return Err(self.malformed()),
            },
        };
        let step = match name {
            "ok" => self.no_argument(argument, Step::Ok)?,
            "auth" => self.no_argument(argument, Step::Auth)?,
            "auth_permanent" => self.no_argument(argument, Step::AuthPermanent)?,
            "usage_limit" => self.no_argument(argument, Step::UsageLimit)?,
            "billing" => self.no_argument(argument, Step::Billing)?,
            "server_error" => self.no_argument(argument, Step::ServerError)?,
            "overloaded" => self.no_argument(argument, Step::Overloaded)?,
            "hang" => self.no_argument(argument, Step::Hang)?,
            "context_overflow" => self.no_argument(argument, Step::ContextOverflow)?,
            "content_policy" => self.no_argument(argument, Step::ContentPolicy)?,
            "format" => self.no_argument(argument, Step::Format)?,
            "model_not_found" => self.no_argument(argument, Step::ModelNotFound)?,
            "empty" => self.no_argument(argument, Step::Empty)?,
            "reply" => Step::Reply(self.required(argument, "reply(<text>)")?.to_owned()),
            "tool" => self.tool(self.required(argument, "tool(<name>, <json object>)")?)?,
            "rate_limit" => Step::RateLimit(match argument.map(str::trim) {
                None | Some("") => None,
                Some(seconds) => Some(self.number(seconds, "whole seconds, e.g. rate_limit(30)")?),
            }),
            "slow" => Step::Slow(self.rate(self.required(argument, "slow(<tokens/s>)")?)?),
            "stream_break_after" => Step::StreamBreakAfter(self.number(
                self.required(argument, "stream_break_after(<n>)")?,
                "a number of chunks, e.g. stream_break_after(3)",
            )?),
            "stream_error_after" => Step::StreamErrorAfter(self.number(
                self.required(argument, "stream_error_after(<n>)")?,
                "a number of chunks, e.g. stream_error_after(3)",
            )?),
            _ if name.is_empty() || name.contains(char::is_whitespace) => {
                return Err(self.malformed())
            }
            _ => {
                return Err(ScriptError::UnknownStep {
                    position: self.position,
                    step: self.text.to_owned(),
                })
            }
        };
        Ok(step)
    }

    /// Steps without an argument still accept empty parentheses: `ok()`.
    fn no_argument(&self, argument: Option<&str>, step: Step) -> Result<Step, ScriptError> {
        match argument {
            Some(a) if !a.trim().is_empty() => Err(ScriptError::UnexpectedArgument {
                position: self.position,
                step: self.text.to_owned(),
            }),
            _ => Ok(step),
        }
    }

    fn required<'a>(
        &self,
        argument: Option<&'a str>,
        usage: &'static str,
    ) -> Result<&'a str, ScriptError> {
        argument.ok_or_else(|| ScriptError::MissingArgument {
            position: self.position,
            step: self.text.to_owned(),
            usage,
        })
    }

    fn number<T: FromStr>(&self, text: &str, expected: &str) -> Result<T, ScriptError> {
        text.trim()
            .parse()
            .map_err(|_| self.bad_argument(format!("expected {expected}, got \"{}\"", text.trim())))
    }

    fn rate(&self, text: &str) -> Result<f64, ScriptError> {
        let expected = "tokens per second > 0, e.g. slow(20)";
        let rate: f64 = self.number(text, expected)?;
        if rate.is_finite() && rate > 0.0 {
            Ok(rate)
        } else {
            Err(self.bad_argument(format!("expected {expected}, got \"{}\"", text.trim())))
        }
    }

    /// `name, {json}`; the arguments may be left out for a function without
    /// parameters: `tool(list_files)`.
    fn tool(&self, argument: &str) -> Result<Step, ScriptError> {
        let (name, json) = argument.split_once(',').unwrap_or((argument, ""));
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(self.bad_argument(format!(
                "a function name is 1-64 letters, digits, '_' or '-', got \"{name}\""
            )));
        }
        let arguments = match json.trim() {
            "" => Map::new(),
            json => match serde_json::from_str(json) {
                Ok(Value::Object(arguments)) => arguments,
                Ok(_) => {
                    return Err(self.bad_argument("the arguments must be a JSON object".into()))
                }
                Err(e) => return Err(self.bad_argument(format!("invalid JSON arguments: {e}"))),
            },
        };
        Ok(Step::Tool {
            name: name.to_owned(),
            arguments,
        })
    }

    fn bad_argument(&self, reason: String) -> ScriptError {
        ScriptError::BadArgument {
            position: self.position,
            step: self.text.to_owned(),
            reason,
        }
    }

    fn bad_repeat(&self, reason: &str) -> ScriptError {
        ScriptError::BadRepeat {
            position: self.position,
            step: self.text.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn malformed(&self) -> ScriptError {
        ScriptError::Malformed {
            position: self.position,
            step: self.text.to_owned(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Ok => f.write_str("ok"),
            Step::Reply(text) => write!(f, "reply({text})"),
            Step::Tool { name, arguments } => {
                let json = serde_json::to_string(arguments).map_err(|_| fmt::Error)?;
                write!(f, "tool({name}, {json})")
            }
            Step::RateLimit(None) => f.write_str("rate_limit"),
            Step::RateLimit(Some(seconds)) => write!(f, "rate_limit({seconds})"),
            Step::Auth => f.write_str("auth"),
            Step::AuthPermanent => f.write_str("auth_permanent"),
            Step::UsageLimit => f.write_str("usage_limit"),
            Step::Billing => f.write_str("billing"),
            Step::ServerError => f.write_str("server_error"),
            Step::Overloaded => f.write_str("overloaded"),
            Step::Hang => f.write_str("hang"),
            Step::Slow(rate) => write!(f, "slow({rate})"),
            Step::StreamBreakAfter(n) => write!(f, "stream_break_after({n})"),
            Step::StreamErrorAfter(n) => write!(f, "stream_error_after({n})"),
            Step::ContextOverflow => f.write_str("context_overflow"),
            Step::ContentPolicy => f.write_str("content_policy"),
            Step::Format => f.write_str("format"),
            Step::ModelNotFound => f.write_str("model_not_found"),
            Step::Empty => f.write_str("empty"),
        }
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", part.step)?;
            if part.times > 1 {
                write!(f, "*{}", part.times)?;
            }
        }
        Ok(())
    }
}

/// Scripts travel as their text, so a config file or an API body can carry one.
impl serde::Serialize for Script {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Script {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Script {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn error(text: &str) -> String {
        match text.parse::<Script>() {
            Ok(script) => panic!("{text:?} should not parse, got {script}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_step_round_trips() {
        for text in [
            "ok",
            "reply(hello, (dear) world)",
            r#"tool(write_file, {"content":"hi, there (x)","path":"a.txt"})"#,
            "tool(list_files, {})",
            "rate_limit",
            "rate_limit(30)",
            "auth",
            "usage_limit",
            "billing",
            "server_error",
            "overloaded",
            "hang",
            "slow(20)",
            "slow(0.5)",
            "stream_break_after(3)",
            "stream_error_after(0)",
            "context_overflow",
            "content_policy",
            "format",
            "model_not_found",
            "auth_permanent",
            "empty",
            "server_error*2, ok",
            "rate_limit(5)*3, reply(a*b), ok*2",
        ] {
            assert_eq!(parse(text).to_string(), text);
        }
    }

    #[test]
    fn spacing_and_shorthands_normalise() {
        assert_eq!(
            parse(" server_error * 2 ,ok ").to_string(),
            "server_error*2, ok"
        );
        assert_eq!(parse("ok*1").to_string(), "ok");
        assert_eq!(parse("ok()").to_string(), "ok");
        assert_eq!(parse("rate_limit()").to_string(), "rate_limit");
        assert_eq!(
            parse("tool(list_files)").to_string(),
            "tool(list_files, {})"
        );
        assert_eq!(
            parse("reply( spaced )").step(0),
            &Step::Reply(" spaced ".into())
        );
    }

    #[test]
    fn the_last_step_repeats_forever() {
        let script = parse("server_error*2, rate_limit, ok");
        let steps: Vec<String> = (0..6).map(|i| script.step(i).to_string()).collect();
        assert_eq!(
            steps,
            [
                "server_error",
                "server_error",
                "rate_limit",
                "ok",
                "ok",
                "ok"
            ]
        );
        assert_eq!(parse("hang*3").step(1000), &Step::Hang);
    }

    #[test]
    fn tool_arguments_are_a_json_object() {
        let Step::Tool { name, arguments } =
            parse(r#"tool(write_file, {"path":"a.txt","content":"hi"})"#)
                .step(0)
                .clone()
        else {
            panic!("not a tool step");
        };
        assert_eq!(name, "write_file");
        assert_eq!(arguments["path"], "a.txt");
        assert_eq!(arguments["content"], "hi");
    }

    #[test]
    fn errors_name_the_step_and_the_problem() {
        let unknown = error("ok, rate_limt");
        assert!(
            unknown
                .starts_with("unknown step \"rate_limt\" at position 2; known: ok, reply(<text>)"),
            "{unknown}"
        );
        assert_eq!(
            error("slow"),
            "step \"slow\" at position 1 needs an argument: slow(<tokens/s>)"
        );
        assert_eq!(
            error("ok, slow(0)"),
            "bad argument in step \"slow(0)\" at position 2: expected tokens per second > 0, e.g. slow(20), got \"0\""
        );
        assert_eq!(
            error("rate_limit(soon)"),
            "bad argument in step \"rate_limit(soon)\" at position 1: expected whole seconds, e.g. rate_limit(30), got \"soon\""
        );
        assert_eq!(
            error("ok(3)"),
            "step \"ok(3)\" at position 1 takes no argument"
        );
        assert_eq!(
            error("ok*0"),
            "bad repeat count in step \"ok*0\" at position 1: the count must be at least 1"
        );
        assert_eq!(
            error("ok*many"),
            "bad repeat count in step \"ok*many\" at position 1: expected a whole number after '*', got \"many\""
        );
        assert_eq!(error("ok,,ok"), "empty step at position 2");
        assert_eq!(
            error("ok, reply(oops"),
            "unbalanced brackets or quotes in step \"reply(oops\" at position 2"
        );
        assert_eq!(
            error("reply(a]"),
            "unbalanced brackets or quotes in step \"reply(a]\" at position 1"
        );
        assert_eq!(
            error("ok(3)x"),
            "step \"ok(3)x\" at position 1 is malformed: expected a name, optionally followed by (arguments)"
        );
        assert!(error("  ").starts_with("empty script"));
        assert!(error("tool(write file, {})").contains("a function name is"));
        assert!(error("tool(f, [1])").ends_with("the arguments must be a JSON object"));
        assert!(error(r#"tool(f, {"a":})"#).contains("invalid JSON arguments"));
    }

    #[test]
    fn scripts_serialise_as_their_text() {
        let script = parse("server_error*2, ok");
        let json = serde_json::to_value(&script).unwrap();
        assert_eq!(json, "server_error*2, ok");
        assert_eq!(serde_json::from_value::<Script>(json).unwrap(), script);
        let bad = serde_json::from_value::<Script>("nope".into()).unwrap_err();
        assert!(bad.to_string().contains("unknown step \"nope\""));
    }

    fn any_step() -> impl Strategy<Value = Step> {
        let text = "[a-z ,.!?()]{0,12}".prop_filter("brackets balance", |t| {
            split_top_level(t).is_ok() && !t.contains('*')
        });
        prop_oneof![
            Just(Step::Ok),
            text.prop_map(Step::Reply),
            ("[a-z_]{1,10}", "[a-z]{1,5}", "[ -~]{0,10}").prop_map(|(name, key, value)| {
                let mut arguments = Map::new();
                arguments.insert(key, Value::String(value));
                Step::Tool { name, arguments }
            }),
            proptest::option::of(0u64..100_000).prop_map(Step::RateLimit),
            Just(Step::Auth),
            Just(Step::UsageLimit),
            Just(Step::Billing),
            Just(Step::ServerError),
            Just(Step::Overloaded),
            Just(Step::Hang),
            (1u32..10_000).prop_map(|r| Step::Slow(f64::from(r) / 8.0)),
            (0usize..1000).prop_map(Step::StreamBreakAfter),
            (0usize..1000).prop_map(Step::StreamErrorAfter),
            Just(Step::ContextOverflow),
            Just(Step::ContentPolicy),
            Just(Step::Format),
            Just(Step::ModelNotFound),
            Just(Step::AuthPermanent),
            Just(Step::Empty),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(parts in prop::collection::vec((any_step(), 1u32..5), 1..6)) {
            let script = Script {
                parts: parts.into_iter().map(|(step, times)| Part { step, times }).collect(),
            };
            prop_assert_eq!(parse(&script.to_string()), script);
        }
    }
}

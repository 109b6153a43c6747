//! The behaviour language of the `sim` Codex app-server.
//!
//! ```text
//! script  := process | rules
//! process := "crash" | "crash_once" | "hang_handshake"
//! rules   := rule (";" rule)*
//! rule    := (model "=")? turn          a rule without a model covers the rest
//! turn    := "ok" | "reply(" text ")" | "rate_limit" | "rate_limit(" seconds ")"
//!          | "usage_limit" | "billing" | "auth" | "auth_permanent" | "auth_missing"
//!          | "server_error" | "overloaded"
//!          | "context_overflow" | "bad_request" | "sandbox_error" | "empty"
//!          | "fail" | "stream_break_after(" n ")" | "stall" | "hang" | "crash"
//!          | "unknown_provider" | "model_not_found" | "protocol_error"
//! ```
//!
//! Process behaviours act before the handshake: `crash` exits 1 at start the
//! way the real binary does when its provider is unknown; `crash_once` does
//! so only the first time for a given `CODEX_HOME` (a restart then works);
//! `hang_handshake` reads requests and never answers. Turn behaviours answer
//! one `turn/start` for a model: `stall` is a provider that never answers
//! (the process still honours `turn/interrupt`), `hang` a process that stops
//! answering anything, `crash` a process that dies mid-turn,
//! `protocol_error` a process that refuses `turn/start` with a JSON-RPC
//! error.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    Ok,
    Reply(String),
    /// Codex announces a 429 retry, then sleeps this long before giving up.
    RateLimit(Option<u64>),
    UsageLimit,
    /// The provider answered 402 (`httpConnectionFailed {httpStatusCode: 402}`).
    Billing,
    Auth,
    /// Like `auth`, with HTTP 403.
    AuthPermanent,
    /// The provider's `env_key` names an unset variable (no request made).
    AuthMissing,
    ServerError,
    Overloaded,
    ContextOverflow,
    /// `turn/completed` failed with `codexErrorInfo: badRequest`.
    BadRequest,
    /// `turn/completed` failed with `codexErrorInfo: sandboxError`.
    SandboxError,
    /// `turn/completed` without any agent message.
    Empty,
    /// `turn/completed` failed with `codexErrorInfo: other`.
    Fail,
    /// This many deltas, then the stream breaks and Codex gives up.
    StreamBreakAfter(usize),
    Stall,
    Hang,
    Crash,
    /// `thread/start` for this model is refused the way the real binary
    /// refuses a provider it does not know (a config-layer failure).
    UnknownProvider,
    /// The turn fails with `codexErrorInfo: modelNotFound` (a 404).
    ModelNotFound,
    /// `turn/start` gets a JSON-RPC error instead of a turn.
    ProtocolError,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    Crash,
    CrashOnce,
    HangHandshake,
    Turns {
        /// Per model, in the order written.
        rules: Vec<(String, Turn)>,
        /// For models without a rule.
        rest: Turn,
    },
}

impl Behaviour {
    /// What a `turn/start` on `model` gets.
    pub fn turn(&self, model: &str) -> Turn {
        match self {
            Behaviour::Turns { rules, rest } => rules
                .iter()
                .find(|(m, _)| m == model)
                .map_or_else(|| rest.clone(), |(_, t)| t.clone()),
            _ => Turn::Ok,
        }
    }
}

impl FromStr for Behaviour {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "crash" => return Ok(Behaviour::Crash),
            "crash_once" => return Ok(Behaviour::CrashOnce),
            "hang_handshake" => return Ok(Behaviour::HangHandshake),
            "" => return Err("the behaviour script is empty".into()),
            _ => {}
        }
        let mut rules = Vec::new();
        let mut rest = None;
        for rule in text.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            // `reply(a=b)` has an `=` inside brackets: only one before any
            // bracket names a model.
            let model_end = rule
                .find('=')
                .filter(|&eq| rule.find('(').is_none_or(|open| eq < open));
            match model_end {
                Some(eq) => {
                    let model = rule[..eq].trim();
                    if model.is_empty() {
                        return Err(format!("`{rule}`: the model before `=` is empty"));
                    }
                    rules.push((model.to_owned(), rule[eq + 1..].parse::<Turn>()?));
                }
                None if rest.is_some() => {
                    return Err(format!("`{rule}`: only one rule may leave out the model"))
                }
                None => rest = Some(rule.parse::<Turn>()?),
            }
        }
        Ok(Behaviour::Turns {
            rules,
            rest: rest.unwrap_or(Turn::Ok),
        })
    }
}

impl FromStr for Turn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, arg) = match text.find('(') {
            Some(open) if text.ends_with(')') => (
                text[..open].trim(),
                Some(text[open + 1..text.len() - 1].trim()),
            ),
            Some(_) => return Err(format!("`{text}`: missing `)`")),
            None => (text, None),
        };
        let number = |what: &str| -> Result<u64, String> {
            arg.and_then(|a| a.parse().ok())
                .ok_or_else(|| format!("`{text}`: {what} must be a whole number"))
        };
        let turn = match (name, arg) {
            ("ok", None) => Turn::Ok,
            ("reply", Some(t)) => Turn::Reply(t.to_owned()),
            ("rate_limit", None) => Turn::RateLimit(None),
            ("rate_limit", Some(_)) => Turn::RateLimit(Some(number("seconds")?)),
            ("usage_limit", None) => Turn::UsageLimit,
            ("billing", None) => Turn::Billing,
            ("auth", None) => Turn::Auth,
            ("auth_permanent", None) => Turn::AuthPermanent,
            ("auth_missing", None) => Turn::AuthMissing,
            ("server_error", None) => Turn::ServerError,
            ("overloaded", None) => Turn::Overloaded,
            ("context_overflow", None) => Turn::ContextOverflow,
            ("bad_request", None) => Turn::BadRequest,
            ("sandbox_error", None) => Turn::SandboxError,
            ("empty", None) => Turn::Empty,
            ("fail", None) => Turn::Fail,
            ("stream_break_after", Some(_)) => Turn::StreamBreakAfter(number("n")? as usize),
            ("stall", None) => Turn::Stall,
            ("hang", None) => Turn::Hang,
            ("crash", None) => Turn::Crash,
            ("unknown_provider", None) => Turn::UnknownProvider,
            ("model_not_found", None) => Turn::ModelNotFound,
            ("protocol_error", None) => Turn::ProtocolError,
            _ => {
                return Err(format!(
                    "unknown behaviour `{text}`; known: ok, reply(text), rate_limit(s), usage_limit, billing, auth, auth_permanent, auth_missing, server_error, overloaded, context_overflow, bad_request, sandbox_error, empty, fail, stream_break_after(n), stall, hang, crash, unknown_provider, model_not_found, protocol_error (per model), or crash, crash_once, hang_handshake (the whole process)"
                ))
            }
        };
        Ok(turn)
    }
}

impl fmt::Display for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Turn::Ok => f.write_str("ok"),
            Turn::Reply(t) => write!(f, "reply({t})"),
            Turn::RateLimit(None) => f.write_str("rate_limit"),
            Turn::RateLimit(Some(s)) => write!(f, "rate_limit({s})"),
            Turn::UsageLimit => f.write_str("usage_limit"),
            Turn::Billing => f.write_str("billing"),
            Turn::Auth => f.write_str("auth"),
            Turn::AuthPermanent => f.write_str("auth_permanent"),
            Turn::AuthMissing => f.write_str("auth_missing"),
            Turn::ServerError => f.write_str("server_error"),
            Turn::Overloaded => f.write_str("overloaded"),
            Turn::ContextOverflow => f.write_str("context_overflow"),
            Turn::BadRequest => f.write_str("bad_request"),
            Turn::SandboxError => f.write_str("sandbox_error"),
            Turn::Empty => f.write_str("empty"),
            Turn::Fail => f.write_str("fail"),
            Turn::StreamBreakAfter(n) => write!(f, "stream_break_after({n})"),
            Turn::Stall => f.write_str("stall"),
            Turn::Hang => f.write_str("hang"),
            Turn::Crash => f.write_str("crash"),
            Turn::UnknownProvider => f.write_str("unknown_provider"),
            Turn::ModelNotFound => f.write_str("model_not_found"),
            Turn::ProtocolError => f.write_str("protocol_error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_and_per_model_behaviours_parse() {
        assert_eq!("crash".parse::<Behaviour>(), Ok(Behaviour::Crash));
        let b: Behaviour = "gpt-5.3-codex-spark=rate_limit(30); gpt-5.4=auth; reply(a=b)"
            .parse()
            .unwrap();
        assert_eq!(b.turn("gpt-5.3-codex-spark"), Turn::RateLimit(Some(30)));
        assert_eq!(b.turn("gpt-5.4"), Turn::Auth);
        assert_eq!(b.turn("other"), Turn::Reply("a=b".into()));
        assert_eq!("ok".parse::<Behaviour>().unwrap().turn("x"), Turn::Ok);
    }

    #[test]
    fn every_turn_round_trips_through_its_text() {
        let turns = [
            Turn::Ok,
            Turn::Reply("hi".into()),
            Turn::RateLimit(None),
            Turn::RateLimit(Some(60)),
            Turn::UsageLimit,
            Turn::Billing,
            Turn::Auth,
            Turn::AuthPermanent,
            Turn::AuthMissing,
            Turn::ServerError,
            Turn::Overloaded,
            Turn::ContextOverflow,
            Turn::BadRequest,
            Turn::SandboxError,
            Turn::Empty,
            Turn::Fail,
            Turn::StreamBreakAfter(2),
            Turn::Stall,
            Turn::Hang,
            Turn::Crash,
            Turn::UnknownProvider,
            Turn::ModelNotFound,
            Turn::ProtocolError,
        ];
        for turn in turns {
            assert_eq!(turn.to_string().parse::<Turn>(), Ok(turn.clone()), "{turn}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let e = "spark=oops".parse::<Behaviour>().unwrap_err();
        assert!(e.starts_with("unknown behaviour `oops`"), "{e}");
        let e = "ok; fail".parse::<Behaviour>().unwrap_err();
        assert!(e.contains("only one rule may leave out the model"), "{e}");
        let e = "stream_break_after(x)".parse::<Behaviour>().unwrap_err();
        assert!(e.contains("must be a whole number"), "{e}");
    }
}

//! Bounds on config input (docs/SECURITY.md, "Input limits"). One place for
//! every limit, so the console, the REST API, the CLI and the OpenClaw
//! import refuse the same things with the same words.
//!
//! Nesting is bounded before anything recursive touches the input: the JSON5
//! parser, serde and `Drop` all recurse, and a stack overflow aborts the
//! whole process rather than failing one request.

use serde_json::Value;

use crate::{Error, Problem};

/// Deepest nesting of arrays and objects a config may have (the top-level
/// object counts as 1). Real configs stay under 10; serde_json reads stored
/// revisions back with a limit of 128, so anything accepted here is
/// readable, with room to spare for the envelopes it is stored in.
pub const MAX_DEPTH: usize = 64;

/// Largest config text accepted (JSON or JSON5). The HTTP body cap is
/// smaller; this bounds files given to the CLI.
pub const MAX_TEXT_BYTES: usize = 16 << 20;

/// Identifiers (job, lane, alert channel and rule ids; model names).
pub const MAX_ID_LEN: usize = 128;
/// Display names (agents, jobs).
pub const MAX_NAME_LEN: usize = 200;
/// Paths (workspaces, `harnesses.codex.home`) and URLs.
pub const MAX_PATH_LEN: usize = 4096;

/// `limits.wallTimeSeconds`, `cron.jobs[].timeoutSeconds`: 7 days.
pub const MAX_SECONDS: u64 = 7 * 24 * 3600;
/// Every timeout in milliseconds (provider, Codex harness): 1 day.
pub const MAX_TIMEOUT_MS: u64 = 24 * 3600 * 1000;
/// `limits.maxTurns`.
pub const MAX_TURNS: u64 = 10_000;
/// `limits.maxTokens`, `contextWindow`: 10M tokens.
pub const MAX_TOKENS: u64 = 10_000_000;
/// `providers.<id>.concurrency`.
pub const MAX_CONCURRENCY: u64 = 10_000;
/// `schedule.everyMs`: at most a year between fires.
pub const MAX_EVERY_MS: u64 = 366 * 24 * 3600 * 1000;
/// `schedule.atMs`, `schedule.anchorMs`: 1970-01-01 … 9999-12-31 (UTC).
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// `alerts.rules[].threshold` (a count, seconds or a percentage).
pub const MAX_THRESHOLD: u64 = 1_000_000;

/// Refuses text nested deeper than [`MAX_DEPTH`], or larger than
/// [`MAX_TEXT_BYTES`], without recursing. Understands JSON5 strings (either
/// quote, backslash escapes) and comments, so brackets inside them do not
/// count. Anything else malformed is left to the parser to report.
pub fn check_text(text: &str) -> Result<(), Problem> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(Problem::new(
            "(text)",
            format!(
                "the text is {} bytes; at most {MAX_TEXT_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    #[derive(PartialEq)]
    enum State {
        Code,
        Str(char),
        Escape(char),
        LineComment,
        BlockComment,
    }
    let (mut line, mut column) = (1usize, 0usize);
    let mut depth = 0usize;
    let mut state = State::Code;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        state = match state {
            State::Code => match c {
                '"' | '\'' => State::Str(c),
                '/' if chars.peek() == Some(&'/') => State::LineComment,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    column += 1;
                    State::BlockComment
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Problem::new(
                            "(text)",
                            format!("line {line}, column {column}: nested deeper than {MAX_DEPTH} levels of arrays and objects, the most a config may have"),
                        ));
                    }
                    State::Code
                }
                ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    State::Code
                }
                _ => State::Code,
            },
            State::Str(quote) => match c {
                '\\' => State::Escape(quote),
                c if c == quote => State::Code,
                _ => State::Str(quote),
            },
            State::Escape(quote) => State::Str(quote),
            State::LineComment if c == '\n' || c == '\r' => State::Code,
            State::LineComment => State::LineComment,
            State::BlockComment if c == '*' && chars.peek() == Some(&'/') => {
                chars.next();
                column += 1;
                State::Code
            }
            State::BlockComment => State::BlockComment,
        };
    }
    Ok(())
}

/// Refuses a value nested deeper than [`MAX_DEPTH`], naming the path of the
/// first container past the limit. Iterative: the value may have been built
/// by something with no limit of its own.
pub fn check_depth(value: &Value) -> Result<(), Problem> {
    // (value, its depth, its index in `parents`): the path is only built
    // for the one container that is too deep.
    let mut parents: Vec<(Option<usize>, Segment)> = Vec::new();
    let mut stack: Vec<(&Value, usize, Option<usize>)> = vec![(value, 1, None)];
    while let Some((value, depth, at)) = stack.pop() {
        let children: Box<dyn Iterator<Item = (Segment, &Value)>> = match value {
            Value::Object(map) => Box::new(map.iter().map(|(k, v)| (Segment::Key(k), v))),
            Value::Array(list) => {
                Box::new(list.iter().enumerate().map(|(i, v)| (Segment::Index(i), v)))
            }
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return Err(Problem::new(
                path_of(&parents, at),
                format!("nested deeper than {MAX_DEPTH} levels of arrays and objects, the most a config may have"),
            ));
        }
        for (segment, child) in children {
            if child.is_object() || child.is_array() {
                parents.push((at, segment));
                stack.push((child, depth + 1, Some(parents.len() - 1)));
            }
        }
    }
    Ok(())
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_of(parents: &[(Option<usize>, Segment)], mut at: Option<usize>) -> String {
    let mut segments = Vec::new();
    while let Some(i) = at {
        let (parent, segment) = &parents[i];
        segments.push(segment);
        at = *parent;
    }
    let mut path = String::new();
    for segment in segments.into_iter().rev() {
        match segment {
            Segment::Key(k) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&show(k));
            }
            Segment::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        path
    }
}

/// Proves that `value`, stored as a revision, can be read back: serialized
/// and parsed again the way the store reads revisions (serde_json, with its
/// recursion limit), it must come back equal and still be a config. A write
/// is acknowledged only after this holds, so no stored revision can make
/// later reads fail.
pub fn ensure_round_trips(value: &Value) -> Result<(), Error> {
    check_depth(value).map_err(|p| Error::Invalid(vec![p]))?;
    let unreadable = |why: String| {
        Error::invalid(
            "(root)",
            format!("this config could be stored but not read back ({why}); nothing was stored"),
        )
    };
    let text = serde_json::to_string(value).map_err(|e| unreadable(e.to_string()))?;
    let back: Value = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    if back != *value {
        return Err(unreadable("it reads back as a different value".into()));
    }
    super::Config::from_json(&back)?;
    Ok(())
}

/// `s` as it may appear in a message or a log line: control characters
/// escaped (no forged lines, no terminal escapes) and cut at 80 characters.
pub fn show(s: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Control characters (newlines, ESC, DEL, C1) and the Unicode controls that
/// reorder how text is displayed.
fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Ids of jobs, lanes, alert channels and rules: they end up in run ids,
/// log lines and URLs, so they stay plain: 1–128 of `A-Z a-z 0-9 . _ : -`,
/// starting with a letter or digit (OpenClaw's UUIDs fit).
pub fn check_ident(s: &str) -> Result<(), String> {
    let ok = (1..=MAX_ID_LEN).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid id: use 1-{MAX_ID_LEN} letters, digits, `.`, `_`, `:` or `-`, starting with a letter or digit",
            show(s)
        ))
    }
}

/// Model names as providers spell them (`deepseek/deepseek-v3.2`,
/// `llama3:8b`): any printable characters but no whitespace, 1–128 long.
pub fn check_model_name(s: &str) -> Result<(), String> {
    if (1..=MAX_ID_LEN).contains(&s.chars().count())
        && !s.chars().any(|c| c.is_whitespace() || is_unsafe_char(c))
    {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid model name: 1-{MAX_ID_LEN} characters, no spaces or control characters",
            show(s)
        ))
    }
}

/// Free text shown on one line (names, chat ids, paths): no control
/// characters, at most `max` characters.
pub fn check_line(s: &str, max: usize) -> Result<(), String> {
    if s.chars().any(is_unsafe_char) {
        Err("must not contain control characters (newlines, terminal escapes)".into())
    } else if s.chars().count() > max {
        Err(format!("is longer than {max} characters"))
    } else {
        Ok(())
    }
}

/// Refuses an integer outside `min..=max`, with the unit operators think in.
pub fn check_range(value: u64, min: u64, max: u64, unit: &str) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("must be between {min} and {max}{unit}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_depth_ignores_brackets_in_strings_and_comments() {
        let deep = "[".repeat(MAX_DEPTH);
        let text =
            format!("{{a: '{deep}', \"b\": \"\\\"{deep}\", // {deep}\n /* {deep} */ c: [[1]]}}");
        check_text(&text).unwrap();
        let p = check_text(&format!("{{\n  x: {}", "[".repeat(MAX_DEPTH))).unwrap_err();
        assert_eq!(p.path, "(text)");
        assert_eq!(
            p.message,
            "line 2, column 69: nested deeper than 64 levels of arrays and objects, the most a config may have"
        );
    }

    #[test]
    fn value_depth_names_the_path_where_it_got_too_deep() {
        let mut v = json!(1);
        for _ in 0..MAX_DEPTH {
            v = json!([v]);
        }
        check_depth(&json!({ "x": v.clone() })).unwrap_err();
        check_depth(&v).unwrap();
        let p = check_depth(&json!({"agents": {"entries": {"qa": {"x\ny": v}}}})).unwrap_err();
        assert!(
            p.path.starts_with("agents.entries.qa.x\\ny[0][0]"),
            "{}",
            p.path
        );
        assert!(p.message.contains("deeper than 64"), "{}", p.message);
    }

    #[test]
    fn shown_input_cannot_forge_lines_or_colours() {
        assert_eq!(show("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(show(&"x".repeat(100)).chars().count(), 81);
        assert!(check_ident("04b2376f-d1ce-4d69-8c4e-cd56517b94f5").is_ok());
        assert!(check_ident("manual:x.y_z").is_ok());
        let e = check_ident("evil\n\x1b[31mjob").unwrap_err();
        assert!(!e.contains('\n') && !e.contains('\x1b'), "{e}");
        assert!(check_model_name("deepseek/deepseek-v3.2").is_ok());
        assert!(check_model_name("llama3:8b").is_ok());
        assert!(check_model_name("a b").is_err());
        assert!(check_line("Adrian (CEO)", MAX_NAME_LEN).is_ok());
        assert!(check_line("a\u{202E}b", MAX_NAME_LEN).is_err());
    }
}

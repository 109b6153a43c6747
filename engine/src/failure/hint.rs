//! How long a server asks us to stay away. Providers say it in different
//! places: `Retry-After` (seconds or an HTTP date), `retry-after-ms`, OpenAI's
//! `x-ratelimit-reset-requests` / `-tokens` (`"6m0s"`, `"20ms"`), OpenRouter's
//! `X-RateLimit-Reset` (epoch milliseconds), Anthropic's
//! `anthropic-ratelimit-*-reset` (RFC 3339 instants), and sometimes only the
//! message text ("Please try again in 20s", "try again in 2h30m").

use http::HeaderMap;

/// The longest wait any hint asks for, in milliseconds from `now_ms`. The
/// longest wins: backing off for the request budget but not the token budget
/// would just earn another 429.
pub fn retry_hint(headers: &HeaderMap, body: &str, now_ms: i64) -> Option<i64> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut hints = Vec::new();
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        hints.push(ms as i64);
    }
    if let Some(v) = header("retry-after") {
        hints.extend(retry_after(v, now_ms));
    }
    for name in ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"] {
        hints.extend(header(name).and_then(parse_duration_text));
    }
    if let Some(v) = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok()) {
        hints.push(epoch_to_wait(v, now_ms));
    }
    hints.extend(anthropic_resets(headers, now_ms));
    if hints.is_empty() {
        hints.extend(hint_in_text(body));
    }
    hints.into_iter().map(|ms| ms.max(0)).max()
}

/// Anthropic sends a reset instant for each limit on every response
/// (<https://docs.claude.com/en/api/rate-limits#response-headers>); only an
/// exhausted limit's reset says how long to wait (a full bucket's reset is
/// when it refills, which is no reason to stay away). A reset without its
/// `-remaining` counts.
fn anthropic_resets(headers: &HeaderMap, now_ms: i64) -> Vec<i64> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    ["requests", "tokens", "input-tokens", "output-tokens"]
        .iter()
        .filter(|limit| {
            header(&format!("anthropic-ratelimit-{limit}-remaining"))
                .is_none_or(|left| left.trim() == "0")
        })
        .filter_map(|limit| header(&format!("anthropic-ratelimit-{limit}-reset")))
        .filter_map(|at| chrono::DateTime::parse_from_rfc3339(at.trim()).ok())
        .map(|at| at.timestamp_millis() - now_ms)
        .collect()
}

fn retry_after(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Some((seconds * 1000.0) as i64);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(at.timestamp_millis() - now_ms)
}

/// A reset given as an epoch: seconds or milliseconds, told apart by size.
fn epoch_to_wait(epoch: i64, now_ms: i64) -> i64 {
    let at_ms = if epoch < 100_000_000_000 {
        epoch * 1000
    } else {
        epoch
    };
    at_ms - now_ms
}

/// Parses Go-style durations as OpenAI sends them: `1s`, `6m0s`, `20ms`,
/// `1h2m3.5s`, and a bare number of seconds.
pub fn parse_duration_text(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Some((seconds * 1000.0) as i64);
    }
    let mut total = 0.0;
    let mut rest = text;
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        let factor = match unit {
            "ms" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
            "d" | "day" | "days" => 86_400_000.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_len..];
        any = true;
    }
    any.then_some(total as i64)
}

/// "Please try again in 20s." / "try again in 2h30m" / "retry in 1.5 seconds"
/// / Codex's "retrying after 3600s".
pub fn hint_in_text(body: &str) -> Option<i64> {
    let lower = body.to_ascii_lowercase();
    for marker in [
        "try again in ",
        "retry in ",
        "retry after ",
        "retrying after ",
        "retry-after: ",
        "resets in ",
    ] {
        let Some(at) = lower.find(marker) else {
            continue;
        };
        // Accept "20s", "2h30m", "1.5 seconds", "3 hours": take words while
        // they still read as one duration; a sentence end stops it.
        let mut phrase = String::new();
        let mut best = None;
        for raw in lower[at + marker.len()..].split_whitespace() {
            let word = raw.trim_end_matches(['.', ',', ';', ')', '"', '\'']);
            phrase.push_str(word);
            match parse_duration_text(&phrase) {
                Some(ms) => best = Some(ms),
                // "1.5" alone parses; "1.5 seconds" needs the next word.
                None if best.is_none() && word.parse::<f64>().is_ok() => {}
                None => break,
            }
            if word.len() != raw.len() {
                break;
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const NOW: i64 = 1_780_000_000_000;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn durations_as_providers_write_them() {
        for (text, ms) in [
            ("1s", 1000),
            ("6m0s", 360_000),
            ("20ms", 20),
            ("1h2m3.5s", 3_723_500),
            ("30", 30_000),
            ("1.5seconds", 1500),
            ("3hours", 10_800_000),
        ] {
            assert_eq!(parse_duration_text(text), Some(ms), "{text}");
        }
        assert_eq!(parse_duration_text("soon"), None);
        assert_eq!(parse_duration_text(""), None);
    }

    #[test]
    fn hints_from_every_place_providers_put_them() {
        let none = HeaderMap::new();
        assert_eq!(
            retry_hint(&headers(&[("retry-after", "30")]), "", NOW),
            Some(30_000)
        );
        assert_eq!(
            retry_hint(&headers(&[("retry-after-ms", "250")]), "", NOW),
            Some(250)
        );
        let date = chrono::DateTime::from_timestamp_millis(NOW + 120_000)
            .unwrap()
            .to_rfc2822();
        assert_eq!(
            retry_hint(&headers(&[("retry-after", &date)]), "", NOW),
            Some(120_000)
        );
        assert_eq!(
            retry_hint(
                &headers(&[
                    ("x-ratelimit-reset-requests", "1s"),
                    ("x-ratelimit-reset-tokens", "6m0s")
                ]),
                "",
                NOW
            ),
            Some(360_000),
            "the longest reset wins"
        );
        let reset = (NOW + 5_000).to_string();
        assert_eq!(
            retry_hint(&headers(&[("x-ratelimit-reset", &reset)]), "", NOW),
            Some(5_000)
        );
        assert_eq!(
            retry_hint(
                &none,
                "Rate limit reached for gpt-4o. Please try again in 20s. Visit ...",
                NOW
            ),
            Some(20_000)
        );
        assert_eq!(
            retry_hint(
                &none,
                "You've hit your usage limit. Upgrade to Pro or try again in 2h30m.",
                NOW
            ),
            Some(9_000_000)
        );
        assert_eq!(retry_hint(&none, "Internal error", NOW), None);
        // Anthropic: the exhausted limit's reset, not the full one's.
        assert_eq!(
            retry_hint(
                &headers(&[
                    ("anthropic-ratelimit-requests-remaining", "0"),
                    ("anthropic-ratelimit-requests-reset", "2026-05-28T20:26:55Z"),
                    ("anthropic-ratelimit-tokens-remaining", "39000"),
                    ("anthropic-ratelimit-tokens-reset", "2026-05-28T20:27:40Z"),
                ]),
                "",
                NOW
            ),
            Some(15_000)
        );
        assert_eq!(
            retry_hint(
                &headers(&[
                    ("retry-after", "3"),
                    (
                        "anthropic-ratelimit-output-tokens-reset",
                        "2026-05-28T20:26:41.500Z"
                    ),
                ]),
                "",
                NOW
            ),
            Some(3_000),
            "retry-after outlasts a reset 1.5 s away"
        );
        assert_eq!(
            retry_hint(&headers(&[("retry-after", "-5")]), "", NOW),
            Some(0),
            "a hint in the past means now"
        );
    }
}

//! Secrets are references to environment variables, resolved at call time and
//! never stored, returned or logged (DESIGN §6).

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    /// Name of the environment variable holding the secret.
    pub env: String,
}

impl<'de> Deserialize<'de> for SecretRef {
    /// Accepts only `{"env": "NAME"}`. Anything else is refused with a message
    /// that never repeats the input: a literal key pasted here must not end up
    /// in an error response or a log line.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let env = value
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("env"))
            .and_then(|v| v.as_str())
            .filter(|name| is_env_name(name));
        match env {
            Some(name) => Ok(SecretRef {
                env: name.to_owned(),
            }),
            None => Err(serde::de::Error::custom(
                "must be an environment reference like {\"env\": \"OPENROUTER_API_KEY\"}; literal secrets are not accepted (the value is not shown)",
            )),
        }
    }
}

pub(crate) fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SecretRef {
    /// `{"env": NAME}` with a well-formed name, the one shape a secret may
    /// take anywhere in a config.
    pub fn is_ref(value: &serde_json::Value) -> bool {
        value
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("env"))
            .and_then(|v| v.as_str())
            .is_some_and(is_env_name)
    }
}

/// Whether a key names something secret (`botToken`, `apiKey`, `x-api-key`,
/// `Authorization`, `client_secret`, `password`, `Cookie`, …), judged by its
/// words so that `maxTokens` or `tokenizer` are not.
pub fn is_secret_key(key: &str) -> bool {
    let words = words(key);
    let Some(last) = words.last().map(String::as_str) else {
        return false;
    };
    let before = words.len().checked_sub(2).map(|i| words[i].as_str());
    // Tokenizer settings (`eos_token: "</s>"`) name tokens, not secrets.
    const TOKENIZER: [&str; 10] = [
        "eos", "bos", "pad", "unk", "sep", "cls", "mask", "stop", "start", "end",
    ];
    match last {
        "token" => !before.is_some_and(|b| TOKENIZER.contains(&b)),
        "secret" | "password" | "passwd" | "passphrase" | "cookie" | "authorization"
        | "credential" | "credentials" | "apikey" | "privatekey" => true,
        "key" => matches!(
            before,
            Some("api" | "private" | "secret" | "access" | "signing" | "auth" | "encryption")
        ),
        "tokens" | "secrets" | "passwords" | "cookies" => words.len() == 1,
        _ => false,
    }
}

/// `botToken` → `bot token`; `X-Api-Key` → `x api key`; `APIKey` → `api key`.
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in key.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = c.is_uppercase()
                && prev.is_some_and(|p| {
                    p.is_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
                });
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.extend(c.to_lowercase());
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// Paths of literal values under secret-looking keys anywhere in `value`
/// (unknown keys included): strings, or lists holding strings. Such a value
/// must be an `{"env": NAME}` reference instead. Never returns the values.
pub fn literal_secrets(value: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    walk_secrets(value, String::new(), &mut found);
    found
}

fn walk_secrets(value: &serde_json::Value, path: String, found: &mut Vec<String>) {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            super::limits::show(key)
        } else {
            format!("{path}.{}", super::limits::show(key))
        }
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let at = join(key);
                if is_secret_key(key) && is_literal(child) {
                    found.push(at);
                } else {
                    walk_secrets(child, at, found);
                }
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                walk_secrets(child, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// What may not stand under a secret-looking key: text (empty aside), or a
/// list with text in it. Numbers and flags (`maxTokens: 5`) are no secrets;
/// objects are walked into, and `{"env": NAME}` is the reference itself.
fn is_literal(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(list) => list.iter().any(|v| v.is_string()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_told_by_their_words() {
        for key in [
            "botToken",
            "token",
            "apiKey",
            "api_key",
            "X-Api-Key",
            "APIKey",
            "Authorization",
            "proxy-authorization",
            "client_secret",
            "password",
            "Cookie",
            "secretAccessKey",
            "privateKey",
            "credentials",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "maxTokens",
            "tokenizer",
            "eos_token",
            "secretRef",
            "passwordFile",
            "key",
            "monkey",
            "accessKeyId",
            "author",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn literal_secrets_are_found_at_any_depth_and_never_returned() {
        let config = json!({
            "channels": {"telegram": {"botToken": "123:abc", "chatId": "1"}},
            "gateway": {"auth": {"mode": "token", "token": "s3cret"}},
            "providers": {"p": {"apiKey": {"env": "P_KEY"}, "headers": {"Authorization": "Bearer x"}}},
            "agents": {"defaults": {"limits": {"maxTokens": 5}, "x": {"tokens": ["a"]}}},
            "ok": {"password": {"env": "PW"}, "apiKey": ""}
        });
        let found = literal_secrets(&config);
        assert_eq!(
            found,
            [
                "agents.defaults.x.tokens",
                "channels.telegram.botToken",
                "gateway.auth.token",
                "providers.p.headers.Authorization",
            ]
        );
    }
}

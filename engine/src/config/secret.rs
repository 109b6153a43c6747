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

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

//! Identifiers as newtypes, validated once at the edge.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                check_id(&s, $what)?;
                Ok(Self(s))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = String;
            fn try_from(s: &str) -> Result<Self, String> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <String as utoipa::PartialSchema>::schema()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An agent's id, e.g. `release-engineer`.
    AgentId,
    "agent id"
);
id_type!(
    /// A provider's id, e.g. `ollama-cloud`: the first segment of a model reference.
    ProviderId,
    "provider id"
);

/// Ids appear in URLs, log lines and JSON paths, so they stay plain:
/// letters, digits, `-`, `_` and `.`, 1–64 characters, starting alphanumeric.
fn check_id(s: &str, what: &str) -> Result<(), String> {
    let ok_len = (1..=64).contains(&s.len());
    let ok_start = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok_len && ok_start && ok_chars {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} `{}`: use 1-64 letters, digits, `-`, `_` or `.`, starting with a letter or digit",
            super::limits::show(s)
        ))
    }
}

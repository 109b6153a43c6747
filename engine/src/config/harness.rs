//! `embeddedHarness`: who executes a candidate (`runtime`) and what happens when
//! the Codex harness cannot serve one (`fallback`). Semantics: DESIGN §2.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::Problem;

/// A closed set of string values with operator-facing names.
pub trait Choice: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    /// The allowed values as operators type them: `pi, codex, none`.
    fn allowed() -> String {
        Self::ALL
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! choice_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl Choice for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == s)
                    .ok_or_else(|| format!("unknown value `{s}`; allowed values: {}", Self::allowed()))
            }
        }
    };
}

choice_enum! {
    /// Who executes a candidate.
    Runtime {
        /// Switchyard's native agent loop, for every candidate.
        Pi = "pi",
        /// The Codex app-server harness; other candidates per `fallback`.
        Codex = "codex",
        /// Codex harness for codex-family candidates, native engine for the rest.
        Auto = "auto",
    }
}

choice_enum! {
    /// What happens when the Codex harness cannot serve a candidate.
    HarnessFallback {
        /// Hand the candidate to the native engine (the default).
        Pi = "pi",
        /// Codex only: skip candidates it cannot serve; one supervised restart on a crash.
        Codex = "codex",
        /// Skip candidates the harness cannot serve; a process failure fails the run.
        None = "none",
    }
}

choice_enum! {
    /// How the native engine's `exec` tool confines a command (`docs/SECURITY.md`).
    Sandbox {
        /// Landlock: writes only inside the workspace and the run's temp dir;
        /// refuses to run where the kernel cannot enforce that (the default).
        Landlock = "landlock",
        /// No confinement: the command can write anywhere the server can.
        None = "none",
    }
}

impl Sandbox {
    /// Used when neither the agent nor the defaults set a sandbox: confined.
    pub const BUILTIN: Sandbox = Sandbox::Landlock;
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::BUILTIN
    }
}

impl Runtime {
    /// Used when neither the agent nor the defaults set a runtime.
    pub const BUILTIN: Runtime = Runtime::Auto;
}

impl HarnessFallback {
    /// Used when neither the agent nor the defaults set a fallback (DESIGN §2).
    pub const BUILTIN: HarnessFallback = HarnessFallback::Pi;
}

/// A per-agent value, or `inherit` to drop the agent's override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<T> {
    Set(T),
    Inherit,
}

impl<T: Choice + FromStr<Err = String>> Setting<T> {
    pub const INHERIT: &'static str = "inherit";

    /// Parses an operator's input; the problem names `path` and the allowed values.
    pub fn parse(input: &str, path: &str) -> Result<Self, Problem> {
        let input = input.trim();
        if input == Self::INHERIT {
            return Ok(Setting::Inherit);
        }
        input.parse().map(Setting::Set).map_err(|_| {
            Problem::new(
                path,
                format!(
                    "unknown value `{input}`; allowed values: {}, or `{}` to use the default",
                    T::allowed(),
                    Self::INHERIT
                ),
            )
        })
    }

    pub fn into_option(self) -> Option<T> {
        match self {
            Setting::Set(v) => Some(v),
            Setting::Inherit => None,
        }
    }
}

/// A change to one agent's `embeddedHarness`, as it arrives from the console
/// or the API: raw strings, so that a bad value gets our message (naming the
/// field and the allowed values) rather than a deserializer's.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

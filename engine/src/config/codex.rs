//! `harnesses.codex`: how Switchyard starts the Codex app-server (DESIGN §4).
//! Server-wide; each agent gets its own `CODEX_HOME` under `home`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Harnesses {
    #[serde(default, skip_serializing_if = "CodexSettings::is_unset")]
    pub codex: CodexSettings,
}

impl Harnesses {
    pub fn is_unset(&self) -> bool {
        self.codex.is_unset()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodexSettings {
    /// Program and arguments. Default `["codex", "app-server"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Run Switchyard's own stand-in (`switchyard sim codex-app-server`) with
    /// this behaviour script instead of `command` (DESIGN §9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<String>,
    /// Directory with one `CODEX_HOME` per agent (`<home>/<agentId>`,
    /// created if missing). Default: `codex-home` in the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Spawn until the `initialize` result. Default 10 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_timeout_ms: Option<u64>,
    /// Any other request until its reply. Default 30 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// Between two events of a turn. Default 120 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// `sandbox` of `thread/start`. Default `workspace-write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

impl CodexSettings {
    pub const DEFAULT_COMMAND: [&'static str; 2] = ["codex", "app-server"];
    pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
    pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
    pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 120_000;
    pub const DEFAULT_SANDBOX: &'static str = "workspace-write";

    pub fn is_unset(&self) -> bool {
        *self == CodexSettings::default()
    }

    /// What the console shows as the command.
    pub fn describe(&self) -> String {
        match (&self.sim, &self.command) {
            (Some(script), _) => format!("switchyard sim codex-app-server --behave '{script}'"),
            (None, Some(cmd)) => cmd.join(" "),
            (None, None) => Self::DEFAULT_COMMAND.join(" "),
        }
    }
}

//! Operator config: the desired state (DESIGN §1). Stored as immutable
//! revisions; see [`crate::store`]. Field names on the wire are camelCase, as
//! in OpenClaw's `openclaw.json`, so operators recognise them.
//!
//! Unknown keys at the top level, on providers and on agent entries are kept
//! (in `extra`) so that a later version's fields or an imported file's extras
//! survive a round-trip; keys inside small fixed objects (`model`,
//! `embeddedHarness`, `apiKey`) are refused, because there a typo
//! (`fallbaks`) would silently change what runs.

mod alerts;
mod codex;
pub mod diff;
mod effective;
mod harness;
mod ids;
mod job;
pub mod limits;
mod model_ref;
mod models;
#[cfg(feature = "server")]
pub mod policy;
mod reachability;
mod revision;
mod secret;
mod tools;
#[cfg(feature = "server")]
pub mod validate;

pub use alerts::{AlertChannel, AlertRule, AlertsConfig, ChannelKind, RuleKind};
pub use codex::{CodexSettings, Harnesses};
pub use effective::{AgentView, EffectiveAgent, FleetView, Source, Sourced};
pub use harness::{Choice, HarnessFallback, HarnessPatch, Runtime, Sandbox, Setting};
pub use ids::{AgentId, ProviderId};
pub use job::{CronConfig, Job, MissedPolicy, Schedule};
pub use limits::{ensure_round_trips, MAX_DEPTH};
pub use model_ref::ModelRef;
pub use models::{ModelSettings, Models};
pub use reachability::{CandidateReach, Harness, Reach, Reachability, SkipReason};
pub use revision::{RevisionId, RevisionInfo};
pub use secret::{is_secret_key, literal_secrets, SecretRef};
pub use tools::{ToolPolicy, ToolSetting};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::{Error, Problem};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub providers: BTreeMap<ProviderId, Provider>,
    #[serde(default)]
    pub agents: Agents,
    #[serde(default, skip_serializing_if = "is_default")]
    pub cron: CronConfig,
    #[serde(default, skip_serializing_if = "is_default")]
    pub alerts: AlertsConfig,
    /// How external harnesses are started (the Codex app-server).
    #[serde(default, skip_serializing_if = "Harnesses::is_unset")]
    pub harnesses: Harnesses,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// How Switchyard talks to a provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI-compatible `/v1/chat/completions` (Ollama, OpenRouter, vLLM, …).
    OpenaiChat,
    /// `/v1/responses`.
    OpenaiResponses,
    /// Ollama's native API: `/api/chat`, NDJSON streaming (OpenClaw's
    /// `api: "ollama"`; its base URL has no `/v1`).
    Ollama,
    /// Anthropic's Messages API: `/v1/messages` (OpenClaw's
    /// `api: "anthropic-messages"`).
    AnthropicMessages,
    /// Served only through the Codex app-server harness.
    Codex,
    /// The built-in fault-injecting provider.
    Sim,
}

/// Model families that need a particular harness. Only Codex has one today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Codex,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub kind: ProviderKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretRef>,
    #[serde(default)]
    pub models: Models,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub timeouts: Timeouts,
    /// Most calls in flight to this provider at once, across all agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Tokens the models accept (prompt + answer). The native engine prunes
    /// the conversation to fit, and a `context_overflow` moves only to a
    /// candidate with a larger window. Unknown: no pruning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// `kind: sim` only: each model's script (DESIGN §9), e.g.
    /// `"server_error*2, ok"`. A model without one replies `ok`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scripts: BTreeMap<String, String>,
    /// `kind: sim` only: the wire the sim speaks to this provider's callers
    /// (`openai-chat`, the default, `openai-responses`, `ollama` or
    /// `anthropic-messages`), with that wire's error shapes and headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<ProviderKind>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Per-provider timeouts (DESIGN §3). Unset means the router's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// Until the response headers (or the first stream event) arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    /// Between two chunks of a streamed response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<u64>,
}

/// Tools the native engine offers an agent (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Exec,
    ReadFile,
    WriteFile,
    ListDir,
}

/// Per-run limits of the native engine. Unset means the built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_seconds: Option<u64>,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::OpenaiChat,
        ProviderKind::OpenaiResponses,
        ProviderKind::Ollama,
        ProviderKind::AnthropicMessages,
        ProviderKind::Codex,
        ProviderKind::Sim,
    ];

    /// The kind as the config writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenaiChat => "openai-chat",
            ProviderKind::OpenaiResponses => "openai-responses",
            ProviderKind::Ollama => "ollama",
            ProviderKind::AnthropicMessages => "anthropic-messages",
            ProviderKind::Codex => "codex",
            ProviderKind::Sim => "sim",
        }
    }

    /// Kinds a client speaks over HTTP itself (and a sim can speak).
    pub const WIRES: [ProviderKind; 4] = [
        ProviderKind::OpenaiChat,
        ProviderKind::OpenaiResponses,
        ProviderKind::Ollama,
        ProviderKind::AnthropicMessages,
    ];
}

impl Provider {
    /// The wire a native client speaks to this provider: the kind itself,
    /// or for `kind: sim` its `wire` (OpenAI chat unless set). `None` for
    /// `codex`, which only the Codex harness serves.
    pub fn wire(&self) -> Option<ProviderKind> {
        match self.kind {
            ProviderKind::Codex => None,
            ProviderKind::Sim => Some(self.wire.unwrap_or(ProviderKind::OpenaiChat)),
            kind => Some(kind),
        }
    }

    /// Codex-family candidates can run in the Codex harness (DESIGN §2).
    pub fn is_codex_family(&self) -> bool {
        self.kind == ProviderKind::Codex || self.family == Some(Family::Codex)
    }

    /// Tokens `model` accepts: its own `contextWindow`, else the provider's.
    pub fn window_of(&self, model: &str) -> Option<u64> {
        self.models
            .settings(model)
            .and_then(|s| s.context_window)
            .or(self.context_window)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agents {
    #[serde(default)]
    pub defaults: AgentSettings,
    #[serde(default)]
    pub entries: BTreeMap<AgentId, AgentEntry>,
    /// Roster-level keys Switchyard does not read (OpenClaw's
    /// `agents.ownership`), kept where they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Settings an agent can inherit from `agents.defaults` or set itself.
/// Every field is optional: "absent" means "inherit".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSettings {
    #[serde(default, skip_serializing_if = "ModelChain::is_empty")]
    pub model: ModelChain,
    #[serde(default, skip_serializing_if = "EmbeddedHarness::is_empty")]
    pub embedded_harness: EmbeddedHarness,
    /// Directory the agent's tools work in; paths may not escape it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolSetting>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
    /// How `exec` confines commands; unset means `landlock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    // The overridable fields are spelled out rather than a flattened
    // `AgentSettings`: serde loses the JSON path of errors inside a flattened
    // struct, and operators need `agents.entries.<id>.embeddedHarness.fallback`.
    #[serde(default, skip_serializing_if = "ModelChain::is_empty")]
    pub model: ModelChain,
    #[serde(default, skip_serializing_if = "EmbeddedHarness::is_empty")]
    pub embedded_harness: EmbeddedHarness,
    /// Directory the agent's tools work in; paths may not escape it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolSetting>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
    /// How `exec` confines commands; unset means `landlock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelChain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<ModelRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<ModelRef>>,
}

impl ModelChain {
    fn is_empty(&self) -> bool {
        self.primary.is_none() && self.fallbacks.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddedHarness {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<HarnessFallback>,
}

impl EmbeddedHarness {
    fn is_empty(&self) -> bool {
        self.runtime.is_none() && self.fallback.is_none()
    }
}

/// Parses config text as operators write it: JSON5 (comments, trailing
/// commas, unquoted keys) or plain JSON. A syntax error names line and column.
/// Every JSON5 text the engine reads comes through here: the nesting is
/// bounded first ([`limits::check_text`]), since the parser recurses.
#[cfg(feature = "server")]
pub fn parse_text(text: &str) -> Result<Value, Error> {
    limits::check_text(text).map_err(|p| Error::Invalid(vec![p]))?;
    json5::from_str(text).map_err(|json5::Error::Message { msg, location }| {
        let at = location.map_or_else(String::new, |l| {
            format!("line {}, column {}: ", l.line, l.column)
        });
        Error::invalid("(text)", format!("{at}{msg}"))
    })
}

impl Config {
    /// Parses config JSON, naming the JSON path of the first schema error.
    /// A value nested deeper than [`MAX_DEPTH`] is refused first, whoever
    /// parsed it (serde_json accepts 128 levels; JSON5 text is bounded by
    /// [`parse_text`]), so whatever is accepted can be stored and read back.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        limits::check_depth(value).map_err(|p| Error::Invalid(vec![p]))?;
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "(root)".to_owned()
            } else {
                path
            };
            Error::invalid(path, e.into_inner().to_string())
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("config serializes to JSON")
    }

    /// Effective settings of every agent, in id order.
    pub fn effective_agents(&self) -> Vec<EffectiveAgent> {
        self.agents
            .entries
            .keys()
            .map(|id| EffectiveAgent::resolve(self, id))
            .collect()
    }

    /// One agent's effective settings and chain reachability.
    pub fn agent_view(&self, id: &str) -> Option<AgentView> {
        self.effective_agent(id).map(|a| AgentView::of(self, a))
    }

    /// Effective settings and chain reachability of every agent.
    pub fn agent_views(&self) -> Vec<AgentView> {
        self.effective_agents()
            .into_iter()
            .map(|a| AgentView::of(self, a))
            .collect()
    }

    pub fn effective_agent(&self, id: &str) -> Option<EffectiveAgent> {
        let (id, _) = self.agents.entries.get_key_value(id)?;
        Some(EffectiveAgent::resolve(self, id))
    }

    /// Sets one agent's whole chain (`chain[0]` is the primary) as an override
    /// on its entry. Every malformed reference is reported at its path.
    pub fn set_agent_chain(&mut self, agent: &str, chain: &[String]) -> Result<(), Error> {
        let base = format!("agents.entries.{agent}.model");
        if chain.is_empty() {
            return Err(Error::invalid(
                format!("{base}.primary"),
                "the chain needs at least a primary model",
            ));
        }
        let mut problems = Vec::new();
        let refs: Vec<ModelRef> = chain
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                let path = if i == 0 {
                    format!("{base}.primary")
                } else {
                    format!("{base}.fallbacks[{}]", i - 1)
                };
                text.trim()
                    .parse()
                    .map_err(|e: String| problems.push(Problem::new(path, e)))
                    .ok()
            })
            .collect();
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let entry = self
            .agents
            .entries
            .get_mut(agent)
            .ok_or_else(|| Error::NotFound {
                what: "agent",
                id: agent.to_owned(),
            })?;
        let mut refs = refs.into_iter();
        entry.model.primary = refs.next();
        entry.model.fallbacks = Some(refs.collect());
        Ok(())
    }

    /// Every `provider/model` the config offers, for pickers.
    pub fn model_refs(&self) -> Vec<String> {
        self.providers
            .iter()
            .flat_map(|(p, provider)| provider.models.iter().map(move |m| format!("{p}/{m}")))
            .collect()
    }

    /// Applies a harness change to one agent's entry. Problems name the
    /// config path of the field at fault.
    pub fn apply_harness_patch(&mut self, agent: &str, patch: &HarnessPatch) -> Result<(), Error> {
        let base = format!("agents.entries.{agent}.embeddedHarness");
        let runtime = patch
            .runtime
            .as_deref()
            .map(|v| Setting::<Runtime>::parse(v, &format!("{base}.runtime")))
            .transpose();
        let fallback = patch
            .fallback
            .as_deref()
            .map(|v| Setting::<HarnessFallback>::parse(v, &format!("{base}.fallback")))
            .transpose();
        let mut problems: Vec<Problem> = Vec::new();
        if patch.runtime.is_none() && patch.fallback.is_none() {
            problems.push(Problem::new(
                &base,
                "nothing to change: give `runtime` and/or `fallback`",
            ));
        }
        problems.extend(runtime.as_ref().err().cloned());
        problems.extend(fallback.as_ref().err().cloned());
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let entry = self
            .agents
            .entries
            .get_mut(agent)
            .ok_or_else(|| Error::NotFound {
                what: "agent",
                id: agent.to_owned(),
            })?;
        let harness = &mut entry.embedded_harness;
        if let Ok(Some(setting)) = runtime {
            harness.runtime = setting.into_option();
        }
        if let Ok(Some(setting)) = fallback {
            harness.fallback = setting.into_option();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// An agent's native-engine settings, each the agent's own value if set,
/// else the defaults' (limits field by field).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NativeSettings {
    pub workspace: Option<String>,
    pub system_prompt: Option<String>,
    /// No list anywhere: no tools (an agent must be given them).
    pub tools: Vec<Tool>,
    pub limits: Limits,
    pub sandbox: Sandbox,
}

impl Config {
    pub fn native_settings(&self, agent: &str) -> Option<NativeSettings> {
        let entry = self.agents.entries.get(agent)?;
        let d = &self.agents.defaults;
        let pick = |own: &Option<String>, default: &Option<String>| {
            own.clone().or_else(|| default.clone())
        };
        Some(NativeSettings {
            workspace: pick(&entry.workspace, &d.workspace),
            system_prompt: pick(&entry.system_prompt, &d.system_prompt),
            tools: entry
                .tools
                .as_ref()
                .or(d.tools.as_ref())
                .map(ToolSetting::resolve)
                .unwrap_or_default(),
            limits: Limits {
                max_turns: entry.limits.max_turns.or(d.limits.max_turns),
                max_tokens: entry.limits.max_tokens.or(d.limits.max_tokens),
                wall_time_seconds: entry
                    .limits
                    .wall_time_seconds
                    .or(d.limits.wall_time_seconds),
            },
            sandbox: entry.sandbox.or(d.sandbox).unwrap_or(Sandbox::BUILTIN),
        })
    }
}

//! Effective agent config: `agents.defaults` deep-merged with the agent's
//! entry, each value tagged with where it came from. Operators must never have
//! to guess what a chain inherits (DESIGN §1).

use serde::{Deserialize, Serialize};

use super::{
    AgentId, Config, HarnessFallback, ModelRef, Reachability, RevisionInfo, Runtime, Sandbox,
};

/// Where an effective value came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Set on the agent's own entry.
    Agent,
    /// Inherited from `agents.defaults`.
    Defaults,
    /// Neither set it; Switchyard's built-in default applies.
    Builtin,
}

impl Source {
    pub fn is_inherited(self) -> bool {
        self != Source::Agent
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// The fleet as the Overview shows it: every agent's effective settings and
/// the config revision they were read from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetView {
    /// `None` until the first config revision is stored.
    pub revision: Option<RevisionInfo>,
    pub agents: Vec<AgentView>,
}

/// One agent as operators see it: its effective settings and what they mean
/// for its chain.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    #[serde(flatten)]
    pub agent: EffectiveAgent,
    pub reachability: Reachability,
}

impl AgentView {
    pub fn of(config: &Config, agent: EffectiveAgent) -> Self {
        let reachability = Reachability::of(config, &agent);
        AgentView {
            agent,
            reachability,
        }
    }
}

/// What an agent will actually run with.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveAgent {
    pub id: AgentId,
    pub name: String,
    /// `None` only when neither the agent nor the defaults name a primary model.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Sourced<String>>))]
    pub primary: Option<Sourced<ModelRef>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Sourced<Vec<String>>))]
    pub fallbacks: Sourced<Vec<ModelRef>>,
    pub runtime: Sourced<Runtime>,
    pub fallback: Sourced<HarnessFallback>,
    /// How the native engine's `exec` confines commands.
    pub sandbox: Sourced<Sandbox>,
}

/// The agent's own value if set, else the defaults' value.
fn pick<T: Clone>(agent: Option<&T>, defaults: Option<&T>) -> Option<Sourced<T>> {
    agent
        .map(|v| (v, Source::Agent))
        .or_else(|| defaults.map(|v| (v, Source::Defaults)))
        .map(|(value, source)| Sourced {
            value: value.clone(),
            source,
        })
}

fn or_builtin<T>(sourced: Option<Sourced<T>>, builtin: T) -> Sourced<T> {
    sourced.unwrap_or(Sourced {
        value: builtin,
        source: Source::Builtin,
    })
}

impl EffectiveAgent {
    /// Resolves agent `id`, which must be a key of `config.agents.entries`.
    pub(super) fn resolve(config: &Config, id: &AgentId) -> Self {
        let entry = &config.agents.entries[id];
        let (model, harness) = (&entry.model, &entry.embedded_harness);
        let defaults = &config.agents.defaults;
        let (d_model, d_harness) = (&defaults.model, &defaults.embedded_harness);
        EffectiveAgent {
            id: id.clone(),
            name: entry.name.clone().unwrap_or_else(|| id.to_string()),
            primary: pick(model.primary.as_ref(), d_model.primary.as_ref()),
            fallbacks: or_builtin(
                pick(model.fallbacks.as_ref(), d_model.fallbacks.as_ref()),
                Vec::new(),
            ),
            runtime: or_builtin(
                pick(harness.runtime.as_ref(), d_harness.runtime.as_ref()),
                Runtime::BUILTIN,
            ),
            fallback: or_builtin(
                pick(harness.fallback.as_ref(), d_harness.fallback.as_ref()),
                HarnessFallback::BUILTIN,
            ),
            sandbox: or_builtin(
                pick(entry.sandbox.as_ref(), defaults.sandbox.as_ref()),
                Sandbox::BUILTIN,
            ),
        }
    }
}

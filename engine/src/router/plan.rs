//! What the router walks: an agent's chain with, per candidate, the harness
//! that serves it while things are healthy and once the Codex harness is down
//! (the reachability matrix of DESIGN §2, computed by the config layer).

use crate::config::{
    CodexSettings, Config, EffectiveAgent, Harness, HarnessFallback, ModelRef, Provider, Reach,
    Reachability,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub model: ModelRef,
    pub healthy: Reach,
    pub codex_down: Reach,
    /// `None` when the provider is not configured (the candidate is skipped).
    pub provider: Option<Provider>,
}

impl Candidate {
    pub fn context_window(&self) -> Option<u64> {
        self.provider
            .as_ref()
            .and_then(|p| p.window_of(self.model.model()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The chain's primary: what the caller asked for.
    pub requested: ModelRef,
    pub fallback: HarnessFallback,
    pub candidates: Vec<Candidate>,
    /// How to start the Codex app-server for this plan's codex candidates.
    pub codex: CodexSettings,
}

impl Plan {
    pub fn for_agent(config: &Config, agent: &EffectiveAgent) -> Option<Plan> {
        let reach = Reachability::of(config, agent);
        let candidates: Vec<Candidate> = reach
            .candidates
            .into_iter()
            .map(|c| Candidate {
                provider: config
                    .providers
                    .get(c.candidate.provider().as_str())
                    .cloned(),
                model: c.candidate,
                healthy: c.healthy,
                codex_down: c.codex_down,
            })
            .collect();
        Some(Plan {
            requested: candidates.first()?.model.clone(),
            fallback: agent.fallback.value,
            candidates,
            codex: config.harnesses.codex.clone(),
        })
    }

    /// One model in the native engine, for an operator's test call.
    pub fn single(config: &Config, model: &ModelRef) -> Plan {
        let provider = config.providers.get(model.provider().as_str()).cloned();
        let reach = match &provider {
            None => Reach::Skipped(crate::config::SkipReason::ProviderNotFound),
            Some(p) if p.kind == crate::config::ProviderKind::Codex => Reach::Runs(Harness::Codex),
            Some(_) => Reach::Runs(Harness::Native),
        };
        Plan {
            requested: model.clone(),
            fallback: HarnessFallback::None,
            candidates: vec![Candidate {
                model: model.clone(),
                healthy: reach,
                codex_down: reach,
                provider,
            }],
            codex: config.harnesses.codex.clone(),
        }
    }
}

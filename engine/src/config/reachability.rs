//! The chain reachability matrix of DESIGN §2: for each candidate of an
//! agent's chain, whether it can serve and in which harness, when things are
//! healthy (model-level failures just move down the chain) and when the Codex
//! app-server itself fails (spawn, crash, handshake timeout, hang).
//!
//! This is what turns the seed's two lost days into a warning on the config:
//! with `runtime: codex, fallback: none`, the external fallbacks can never run.

use serde::{Deserialize, Serialize};

use super::{
    Choice, Config, EffectiveAgent, HarnessFallback, ModelRef, Provider, ProviderKind, Runtime,
};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Harness {
    /// The Codex app-server subprocess.
    Codex,
    /// Switchyard's own agent loop.
    Native,
}

/// Why a candidate is never attempted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The candidate's provider is not configured.
    ProviderNotFound,
    /// The provider does not list this model.
    ModelNotFound,
    /// The harness the runtime picks cannot serve this candidate.
    HarnessMismatch,
    /// The Codex harness is down; codex-family candidates are skipped.
    HarnessDown,
    /// The run already ended because the Codex harness failed.
    RunFailed,
}

impl SkipReason {
    /// The reason as it appears in decision logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::ProviderNotFound => "provider_not_found",
            SkipReason::ModelNotFound => "model_not_found",
            SkipReason::HarnessMismatch => "harness_mismatch",
            SkipReason::HarnessDown => "harness_down",
            SkipReason::RunFailed => "run_failed",
        }
    }
}

/// One cell of the matrix.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reach {
    Runs(Harness),
    Skipped(SkipReason),
}

impl Reach {
    pub fn runs(self) -> bool {
        matches!(self, Reach::Runs(_))
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateReach {
    pub candidate: ModelRef,
    /// Model-level failures (rate limit, auth, 5xx, …) move to the next one.
    pub healthy: Reach,
    /// The Codex app-server fails when this agent first needs it.
    pub codex_down: Reach,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reachability {
    pub candidates: Vec<CandidateReach>,
    /// Plain-English consequences worth an operator's attention.
    pub warnings: Vec<String>,
}

/// Where one candidate runs when nothing is broken.
fn route(
    runtime: Runtime,
    fallback: HarnessFallback,
    provider: Option<&Provider>,
    model: &str,
) -> Reach {
    let Some(provider) = provider else {
        return Reach::Skipped(SkipReason::ProviderNotFound);
    };
    if !provider.models.iter().any(|m| m == model) {
        return Reach::Skipped(SkipReason::ModelNotFound);
    }
    let codex_family = provider.is_codex_family();
    // A `codex`-kind provider (a ChatGPT login) has no endpoint of its own.
    let has_native_endpoint = provider.kind != ProviderKind::Codex;
    match (runtime, codex_family) {
        (Runtime::Codex | Runtime::Auto, true) => Reach::Runs(Harness::Codex),
        (Runtime::Auto, false) => Reach::Runs(Harness::Native),
        (Runtime::Codex, false) => match fallback {
            HarnessFallback::Pi => Reach::Runs(Harness::Native),
            HarnessFallback::Codex | HarnessFallback::None => {
                Reach::Skipped(SkipReason::HarnessMismatch)
            }
        },
        (Runtime::Pi, _) if has_native_endpoint => Reach::Runs(Harness::Native),
        (Runtime::Pi, _) => Reach::Skipped(SkipReason::HarnessMismatch),
    }
}

impl Reachability {
    pub fn of(config: &Config, agent: &EffectiveAgent) -> Self {
        let runtime = agent.runtime.value;
        let fallback = agent.fallback.value;
        let chain: Vec<ModelRef> = agent
            .primary
            .iter()
            .map(|p| p.value.clone())
            .chain(agent.fallbacks.value.iter().cloned())
            .collect();
        let healthy: Vec<Reach> = chain
            .iter()
            .map(|c| {
                route(
                    runtime,
                    fallback,
                    config.providers.get(c.provider().as_str()),
                    c.model(),
                )
            })
            .collect();
        // The Codex process is first needed at the first candidate it serves;
        // candidates before that are unaffected by its failure.
        let first_codex = healthy
            .iter()
            .position(|r| *r == Reach::Runs(Harness::Codex));
        let codex_down: Vec<Reach> = healthy
            .iter()
            .enumerate()
            .map(|(i, &reach)| match first_codex {
                Some(first) if i >= first => match (fallback, reach) {
                    (HarnessFallback::Pi, Reach::Runs(Harness::Codex)) => {
                        Reach::Skipped(SkipReason::HarnessDown)
                    }
                    (HarnessFallback::Pi, other) => other,
                    (HarnessFallback::Codex | HarnessFallback::None, Reach::Runs(_)) => {
                        Reach::Skipped(SkipReason::RunFailed)
                    }
                    (_, skipped) => skipped,
                },
                _ => reach,
            })
            .collect();
        let warnings = warnings(
            runtime,
            fallback,
            &chain,
            &healthy,
            &codex_down,
            first_codex.is_some(),
        );
        let candidates = chain
            .into_iter()
            .zip(healthy.into_iter().zip(codex_down))
            .map(|(candidate, (healthy, codex_down))| CandidateReach {
                candidate,
                healthy,
                codex_down,
            })
            .collect();
        Reachability {
            candidates,
            warnings,
        }
    }
}

fn list(refs: &[&ModelRef]) -> String {
    let names: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn warnings(
    runtime: Runtime,
    fallback: HarnessFallback,
    chain: &[ModelRef],
    healthy: &[Reach],
    codex_down: &[Reach],
    uses_codex: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mismatched: Vec<&ModelRef> = chain
        .iter()
        .zip(healthy)
        .filter(|(_, r)| **r == Reach::Skipped(SkipReason::HarnessMismatch))
        .map(|(c, _)| c)
        .collect();
    if !mismatched.is_empty() {
        let why = match runtime {
            Runtime::Pi => "runtime: pi — the native engine has no endpoint for".to_owned(),
            _ => format!("fallback: {} —", fallback.as_str()),
        };
        out.push(format!("{why} {} can never run", list(&mismatched)));
    }
    if chain.is_empty() {
        out.push("no primary model and no fallbacks: this agent cannot run".to_owned());
    } else if !healthy.iter().any(|r| r.runs()) {
        out.push("no candidate in the chain can run".to_owned());
    } else if uses_codex && !codex_down.iter().any(|r| r.runs()) {
        out.push(format!(
            "fallback: {} — if the Codex app-server fails, no candidate can serve this agent",
            fallback.as_str()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matrix(runtime: &str, fallback: &str) -> Reachability {
        let config = Config::from_json(&json!({
            "providers": {
                "openai-codex": {"kind": "codex", "models": ["spark", "gpt-5.4"]},
                "ollama-cloud": {"kind": "openai-chat", "models": ["glm-5.1"]},
                "openrouter": {"kind": "openai-chat", "models": ["deepseek/deepseek-v3.2"]}
            },
            "agents": {
                "defaults": {
                    "model": {"primary": "openai-codex/spark",
                              "fallbacks": ["openai-codex/gpt-5.4", "ollama-cloud/glm-5.1", "openrouter/deepseek/deepseek-v3.2"]},
                    "embeddedHarness": {"runtime": runtime, "fallback": fallback}
                },
                "entries": {"a": {}}
            }
        }))
        .unwrap();
        Reachability::of(&config, &config.effective_agent("a").unwrap())
    }

    use Harness::{Codex, Native};
    use Reach::{Runs, Skipped};
    use SkipReason::*;

    fn cells(m: &Reachability) -> Vec<(Reach, Reach)> {
        m.candidates
            .iter()
            .map(|c| (c.healthy, c.codex_down))
            .collect()
    }

    /// Every runtime × fallback, both layers, for the seed's chain
    /// (codex, codex, external, external).
    #[test]
    fn the_seed_chain_under_every_setting() {
        // (runtime, fallback, [(healthy, codex_down); 4 candidates])
        type Case = (&'static str, &'static str, [(Reach, Reach); 4]);
        let table: &[Case] = &[
            (
                "codex",
                "pi",
                [
                    (Runs(Codex), Skipped(HarnessDown)),
                    (Runs(Codex), Skipped(HarnessDown)),
                    (Runs(Native), Runs(Native)),
                    (Runs(Native), Runs(Native)),
                ],
            ),
            (
                "codex",
                "codex",
                [
                    (Runs(Codex), Skipped(RunFailed)),
                    (Runs(Codex), Skipped(RunFailed)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                ],
            ),
            (
                "codex",
                "none",
                [
                    (Runs(Codex), Skipped(RunFailed)),
                    (Runs(Codex), Skipped(RunFailed)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                ],
            ),
            (
                "auto",
                "pi",
                [
                    (Runs(Codex), Skipped(HarnessDown)),
                    (Runs(Codex), Skipped(HarnessDown)),
                    (Runs(Native), Runs(Native)),
                    (Runs(Native), Runs(Native)),
                ],
            ),
            (
                "auto",
                "none",
                [
                    (Runs(Codex), Skipped(RunFailed)),
                    (Runs(Codex), Skipped(RunFailed)),
                    (Runs(Native), Skipped(RunFailed)),
                    (Runs(Native), Skipped(RunFailed)),
                ],
            ),
            (
                "auto",
                "codex",
                [
                    (Runs(Codex), Skipped(RunFailed)),
                    (Runs(Codex), Skipped(RunFailed)),
                    (Runs(Native), Skipped(RunFailed)),
                    (Runs(Native), Skipped(RunFailed)),
                ],
            ),
            // pi: no Codex process at all, so its failure changes nothing; a
            // `codex`-kind provider has no native endpoint.
            (
                "pi",
                "pi",
                [
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Runs(Native), Runs(Native)),
                    (Runs(Native), Runs(Native)),
                ],
            ),
            (
                "pi",
                "none",
                [
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Runs(Native), Runs(Native)),
                    (Runs(Native), Runs(Native)),
                ],
            ),
            (
                "pi",
                "codex",
                [
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Skipped(HarnessMismatch), Skipped(HarnessMismatch)),
                    (Runs(Native), Runs(Native)),
                    (Runs(Native), Runs(Native)),
                ],
            ),
        ];
        for (runtime, fallback, expected) in table {
            assert_eq!(
                cells(&matrix(runtime, fallback)),
                expected.to_vec(),
                "runtime {runtime}, fallback {fallback}"
            );
        }
    }

    #[test]
    fn fallback_none_warns_that_external_candidates_never_run() {
        let m = matrix("codex", "none");
        assert_eq!(
            m.warnings,
            [
                "fallback: none — ollama-cloud/glm-5.1 and openrouter/deepseek/deepseek-v3.2 can never run",
                "fallback: none — if the Codex app-server fails, no candidate can serve this agent",
            ]
        );
        assert!(matrix("codex", "pi").warnings.is_empty());
    }

    #[test]
    fn unknown_providers_and_models_are_never_tried() {
        let config = Config::from_json(&json!({
            "providers": {"openrouter": {"kind": "openai-chat", "models": ["a"]}},
            "agents": {"defaults": {"model": {"primary": "openrouter/b", "fallbacks": ["ghost/x"]}}, "entries": {"a": {}}}
        }))
        .unwrap();
        let m = Reachability::of(&config, &config.effective_agent("a").unwrap());
        assert_eq!(
            cells(&m),
            [
                (Skipped(ModelNotFound), Skipped(ModelNotFound)),
                (Skipped(ProviderNotFound), Skipped(ProviderNotFound))
            ]
        );
        assert_eq!(m.warnings, ["no candidate in the chain can run"]);
    }
}

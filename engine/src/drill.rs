//! Drills (DESIGN §8, §9): inject one failure class at one candidate of an
//! agent's chain and see the decisions the real router and the real Codex
//! harness make about it — against `sim` only, in a store of its own, so no
//! production cooldown, circuit, decision or run is touched.
//!
//! This half is plain data, shared with the console's wasm: which class can
//! be injected where, and how ([`injection`]); what the console offers
//! ([`DrillOptions`]); what a drill found ([`DrillReport`]). The running half
//! ([`run`], server only) builds the drill's config, store and router.
//!
//! Every provider of the chain becomes a `sim` stand-in (same id, models,
//! family, context window; a `kind: codex` provider stays `codex`, so the
//! reachability matrix is the agent's own), the Codex app-server becomes
//! `switchyard sim codex-app-server`, the chosen candidate gets the injected
//! failure and every other one answers `ok`.

use serde::{Deserialize, Serialize};

use crate::config::{
    AgentId, AgentView, CandidateReach, Config, EffectiveAgent, Harness, HarnessFallback, ModelRef,
    Reach,
};
use crate::failure::{FailureClass, Layer};
use crate::health::DecisionRow;
use crate::Error;

#[cfg(feature = "server")]
mod run;
#[cfg(feature = "server")]
pub use run::{drill, DrillEnv, Drills};

/// The short timeout (handshake, idle, first byte) behind the timing classes,
/// so a drill of a hang takes seconds, not the production timeout.
pub const DRILL_TIMEOUT_MS: u64 = 1_000;
/// `harnesses.codex.command` in a `spawn_failed` drill.
pub const MISSING_COMMAND: &str = "/nonexistent/switchyard-drill/codex";
/// The API key variable an `auth_missing` drill names (never set in a drill).
pub const MISSING_KEY_ENV: &str = "SWITCHYARD_DRILL_UNSET_KEY";

/// One drill: which agent, where, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillRequest {
    pub agent: AgentId,
    pub candidate: ModelRef,
    pub inject: FailureClass,
}

impl DrillRequest {
    /// From the strings of a form or a JSON body; every bad one is named by
    /// its field.
    pub fn parse(agent: &str, candidate: &str, inject: &str) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let agent = AgentId::try_from(agent).map_err(|e| problems.push(("agent", e)));
        let candidate = candidate
            .trim()
            .parse::<ModelRef>()
            .map_err(|e| problems.push(("candidate", e)));
        let inject = inject.trim().parse::<FailureClass>().map_err(|e| {
            let known: Vec<&str> = FailureClass::ALL.iter().map(|c| c.as_str()).collect();
            problems.push(("inject", format!("{e}; known: {}", known.join(", "))))
        });
        match (agent, candidate, inject) {
            (Ok(agent), Ok(candidate), Ok(inject)) => Ok(DrillRequest {
                agent,
                candidate,
                inject,
            }),
            _ => Err(Error::Invalid(
                problems
                    .into_iter()
                    .map(|(path, message)| crate::Problem::new(path, message))
                    .collect(),
            )),
        }
    }
}

/// How a drill produces a class at a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// `harnesses.codex.command` names a program that does not exist.
    CodexMissingCommand,
    /// The Codex stand-in runs this behaviour script (DESIGN §9), with these
    /// timeouts instead of the configured ones.
    Codex {
        behaviour: String,
        handshake_timeout_ms: Option<u64>,
        idle_timeout_ms: Option<u64>,
    },
    /// The candidate's `sim` script, and its provider's first-byte timeout.
    Sim {
        script: String,
        first_byte_timeout_ms: Option<u64>,
    },
    /// The candidate's provider names an API key variable that is not set.
    MissingKey,
    /// The candidate's provider is left out of the drill's config.
    NoProvider,
}

impl Injection {
    /// In words, for the console and the report.
    pub fn describe(&self, candidate: &ModelRef) -> String {
        let provider = candidate.provider();
        match self {
            Injection::CodexMissingCommand => format!(
                "harnesses.codex.command is `{MISSING_COMMAND} app-server`, which does not exist"
            ),
            Injection::Codex {
                behaviour,
                handshake_timeout_ms,
                idle_timeout_ms,
            } => {
                let mut text =
                    format!("the Codex stand-in runs `switchyard sim codex-app-server --behave '{behaviour}'`");
                if let Some(ms) = handshake_timeout_ms {
                    text.push_str(&format!(" with handshakeTimeoutMs {ms}"));
                }
                if let Some(ms) = idle_timeout_ms {
                    text.push_str(&format!(" with idleTimeoutMs {ms}"));
                }
                text
            }
            Injection::Sim {
                script,
                first_byte_timeout_ms,
            } => {
                let mut text = format!("sim script `{script}` for {candidate}");
                if let Some(ms) = first_byte_timeout_ms {
                    text.push_str(&format!(
                        " with timeouts.firstByteMs {ms} on provider `{provider}`"
                    ));
                }
                text
            }
            Injection::MissingKey => format!(
                "provider `{provider}` takes its key from {MISSING_KEY_ENV}, which is not set (every model of `{provider}` is affected)"
            ),
            Injection::NoProvider => format!(
                "provider `{provider}` is left out of the config (every model of `{provider}` is affected)"
            ),
        }
    }
}

/// Whether `class` can be injected at `chain[index]`, and how; else why not.
///
/// What decides it: the harness the candidate runs in while things are
/// healthy (process-layer classes belong to the Codex app-server; some
/// signals exist in only one harness), whether the candidate runs at all,
/// and whether the class is something a candidate does (a run's budget, an
/// operator's cancel and the agent's harness settings are not).
pub fn injection(
    chain: &[CandidateReach],
    index: usize,
    class: FailureClass,
) -> Result<Injection, String> {
    use FailureClass::*;
    let Some(c) = chain.get(index) else {
        return Err("no such candidate".into());
    };
    let model = c.candidate.model();
    match class {
        HarnessMismatch => {
            return Err("decided by embeddedHarness.runtime/fallback and the provider's kind before any call, not by a candidate; the trail shows it wherever the settings produce it".into())
        }
        RunTimeout => {
            return Err("depends on the run's time budget (the job's timeoutSeconds), not on a candidate".into())
        }
        Cancelled => return Err("an operator cancelling the run, not a candidate failing".into()),
        _ => {}
    }
    let harness = match c.healthy {
        Reach::Runs(harness) => harness,
        Reach::Skipped(why) => {
            return Err(format!(
                "{} never runs with this agent's settings ({}), so nothing can fail there",
                c.candidate,
                why.as_str()
            ))
        }
    };
    if harness == Harness::Native {
        if class.layer() == Layer::Process {
            return Err(format!(
                "{} runs in the native engine; process-layer classes are failures of the Codex app-server",
                c.candidate
            ));
        }
        let sim = |script: &str| {
            Ok(Injection::Sim {
                script: script.to_owned(),
                first_byte_timeout_ms: None,
            })
        };
        return match class {
            ProviderNotFound => Ok(Injection::NoProvider),
            AuthMissing => Ok(Injection::MissingKey),
            ModelNotFound => sim("model_not_found"),
            RateLimit => sim("rate_limit(60)"),
            UsageLimit => sim("usage_limit"),
            Billing => sim("billing"),
            Auth => sim("auth"),
            AuthPermanent => sim("auth_permanent"),
            Overloaded => sim("overloaded"),
            ServerError => sim("server_error"),
            Timeout => Ok(Injection::Sim {
                script: "hang".into(),
                first_byte_timeout_ms: Some(DRILL_TIMEOUT_MS),
            }),
            EmptyResponse => sim("empty"),
            StreamInterrupted => sim("stream_break_after(3)"),
            ContextOverflow => sim("context_overflow"),
            ContentPolicy => sim("content_policy"),
            Format => sim("format"),
            ToolError => Err("raised by the native engine's own tools after a model answered; a model call never returns it".into()),
            _ => Err(format!("{class} cannot be produced by a native candidate")),
        };
    }
    // The Codex harness. Failures before the handshake happen before the
    // process knows the model: the first Codex candidate meets them first.
    let first_codex = chain
        .iter()
        .position(|c| c.healthy == Reach::Runs(Harness::Codex));
    let first = first_codex == Some(index);
    let not_first = || {
        let first = first_codex.map_or_else(String::new, |i| chain[i].candidate.to_string());
        Err(format!(
            "happens before the Codex app-server knows the model, so the first Codex candidate ({first}) meets it first; inject it there"
        ))
    };
    let turn = |turn: &str| {
        Ok(Injection::Codex {
            behaviour: format!("{model}={turn}"),
            handshake_timeout_ms: None,
            idle_timeout_ms: None,
        })
    };
    match class {
        SpawnFailed if first => Ok(Injection::CodexMissingCommand),
        SpawnFailed | HandshakeTimeout if !first => not_first(),
        HandshakeTimeout => Ok(Injection::Codex {
            behaviour: "hang_handshake".into(),
            handshake_timeout_ms: Some(DRILL_TIMEOUT_MS),
            idle_timeout_ms: None,
        }),
        // Exit 1 at start, as in the seed; later candidates crash mid-turn.
        HarnessCrashed if first => Ok(Injection::Codex {
            behaviour: "crash".into(),
            handshake_timeout_ms: None,
            idle_timeout_ms: None,
        }),
        HarnessCrashed => turn("crash"),
        HarnessHung => Ok(Injection::Codex {
            behaviour: format!("{model}=hang"),
            handshake_timeout_ms: None,
            idle_timeout_ms: Some(DRILL_TIMEOUT_MS),
        }),
        ProtocolError => turn("protocol_error"),
        ProviderNotFound => turn("unknown_provider"),
        ModelNotFound => turn("model_not_found"),
        AuthMissing => turn("auth_missing"),
        RateLimit => turn("rate_limit(60)"),
        UsageLimit => turn("usage_limit"),
        Billing => turn("billing"),
        Auth => turn("auth"),
        AuthPermanent => turn("auth_permanent"),
        Overloaded => turn("overloaded"),
        ServerError => turn("server_error"),
        Timeout => Ok(Injection::Codex {
            behaviour: format!("{model}=stall"),
            handshake_timeout_ms: None,
            idle_timeout_ms: Some(DRILL_TIMEOUT_MS),
        }),
        EmptyResponse => turn("empty"),
        StreamInterrupted => turn("stream_break_after(2)"),
        ContextOverflow => turn("context_overflow"),
        ContentPolicy => Err("Codex has no content-policy signal: a refused request reaches Switchyard as a bad request (format)".into()),
        Format => turn("bad_request"),
        ToolError => turn("sandbox_error"),
        _ => Err(format!("{class} cannot be produced by the Codex harness")),
    }
}

/// What the Drill page offers for one agent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillOptions {
    /// The agent's effective settings, with where each comes from, and its
    /// chain's reachability and warnings.
    pub agent: AgentView,
    /// How the config starts the Codex app-server (a drill always runs the
    /// stand-in instead).
    pub codex_command: String,
    pub candidates: Vec<DrillCandidate>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillCandidate {
    pub candidate: ModelRef,
    /// Where it runs while things are healthy.
    pub reach: Reach,
    /// Set when an earlier candidate answers first, so a drill never gets
    /// to this one (the other candidates answer `ok` in a drill).
    pub unreached: Option<String>,
    /// Every class of DESIGN §3, in layer order.
    pub classes: Vec<InjectOption>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectOption {
    pub class: FailureClass,
    pub layer: Layer,
    /// How the drill produces it here.
    pub how: Option<String>,
    /// Why it cannot be injected here.
    pub unavailable: Option<String>,
}

impl DrillOptions {
    pub fn of(config: &Config, agent: EffectiveAgent) -> Self {
        let view = AgentView::of(config, agent);
        let chain = &view.reachability.candidates;
        let first_runs = chain.iter().position(|c| c.healthy.runs());
        let candidates = chain
            .iter()
            .enumerate()
            .map(|(i, c)| DrillCandidate {
                candidate: c.candidate.clone(),
                reach: c.healthy,
                unreached: first_runs.filter(|&f| f < i).map(|f| {
                    format!(
                        "not reached: {} answers first (in a drill the other candidates answer ok)",
                        chain[f].candidate
                    )
                }),
                classes: FailureClass::ALL
                    .iter()
                    .map(|&class| {
                        let (how, unavailable) = match injection(chain, i, class) {
                            Ok(how) => (Some(how.describe(&c.candidate)), None),
                            Err(why) => (None, Some(why)),
                        };
                        InjectOption {
                            class,
                            layer: class.layer(),
                            how,
                            unavailable,
                        }
                    })
                    .collect(),
            })
            .collect();
        DrillOptions {
            codex_command: config.harnesses.codex.describe(),
            agent: view,
            candidates,
        }
    }
}

/// What a drill found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillReport {
    /// The agent's effective settings at the time of the drill.
    pub agent: AgentView,
    pub codex_command: String,
    pub candidate: ModelRef,
    pub inject: FailureClass,
    pub layer: Layer,
    /// How the failure was produced.
    pub how: String,
    /// `drill:<agent>:<ms>`; its decisions live only in the drill's store.
    pub run_id: String,
    /// Every decision the router made, in order.
    pub trail: Vec<DecisionRow>,
    pub outcome: DrillOutcome,
    /// The injected class shows on the trail at the candidate (false when an
    /// earlier candidate answered first).
    pub reached: bool,
    /// From the start of the call until the next candidate started after the
    /// injected failure.
    pub first_fallback_ms: Option<i64>,
    pub took_ms: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillOutcome {
    pub ok: bool,
    pub served_by: Option<ModelRef>,
    pub harness: Option<Harness>,
    /// The run's failure reason (a class or `all_candidates_cooling_down`, …).
    pub reason: Option<String>,
    /// The run's error text, exactly as a real run would record it.
    pub error: Option<String>,
    /// The chain stopped at a Codex process failure because of
    /// `embeddedHarness.fallback` (`none`, or `codex` after its restart).
    pub stopped_by_fallback: Option<HarnessFallback>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn config(runtime: &str, fallback: &str) -> Config {
        Config::from_json(&json!({
            "providers": {
                "openai-codex": {"kind": "codex", "family": "codex", "models": ["spark", "gpt"]},
                "ollama-cloud": {"kind": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1", "models": ["glm"]}
            },
            "agents": {
                "defaults": {
                    "model": {"primary": "openai-codex/spark", "fallbacks": ["openai-codex/gpt", "ollama-cloud/glm"]},
                    "embeddedHarness": {"runtime": runtime, "fallback": fallback}
                },
                "entries": {"re": {}}
            }
        }))
        .unwrap()
    }

    fn options(runtime: &str, fallback: &str) -> DrillOptions {
        let config = config(runtime, fallback);
        let agent = config.effective_agent("re").unwrap();
        DrillOptions::of(&config, agent)
    }

    fn available(o: &DrillOptions, candidate: usize) -> Vec<&'static str> {
        o.candidates[candidate]
            .classes
            .iter()
            .filter(|c| c.unavailable.is_none())
            .map(|c| c.class.as_str())
            .collect()
    }

    #[test]
    fn every_class_is_injectable_somewhere_or_says_why_not() {
        let o = options("codex", "pi");
        for c in &o.candidates {
            assert_eq!(c.classes.len(), FailureClass::ALL.len());
            for option in &c.classes {
                assert_ne!(option.how.is_some(), option.unavailable.is_some());
            }
        }
        let primary = available(&o, 0);
        let native = available(&o, 2);
        for class in FailureClass::ALL {
            let anywhere = primary.contains(&class.as_str()) || native.contains(&class.as_str());
            let never = matches!(
                class,
                FailureClass::HarnessMismatch | FailureClass::RunTimeout | FailureClass::Cancelled
            );
            assert_eq!(anywhere, !never, "{class}");
        }
    }

    #[test]
    fn where_a_class_belongs() {
        let o = options("codex", "pi");
        let why = |candidate: usize, class: &str| {
            o.candidates[candidate]
                .classes
                .iter()
                .find(|c| c.class.as_str() == class)
                .unwrap()
                .unavailable
                .clone()
                .unwrap_or_default()
        };
        // Before the handshake the process does not know the model.
        assert!(why(1, "spawn_failed").contains("first Codex candidate (openai-codex/spark)"));
        assert_eq!(why(1, "harness_crashed"), "");
        assert!(why(2, "harness_crashed").contains("runs in the native engine"));
        assert!(why(2, "tool_error").contains("native engine's own tools"));
        assert!(why(0, "content_policy").contains("no content-policy signal"));
        assert!(why(0, "run_timeout").contains("time budget"));
        // The primary answers ok, so later candidates are never reached.
        assert!(o.candidates[0].unreached.is_none());
        assert!(o.candidates[2]
            .unreached
            .as_deref()
            .unwrap()
            .starts_with("not reached: openai-codex/spark answers first"));
        // With fallback none the external candidate never runs at all.
        let o = options("codex", "none");
        assert!(available(&o, 2).is_empty());
        // In the native runtime the codex-kind candidates never run, so the
        // external one is the first reached.
        let o = options("pi", "pi");
        assert!(available(&o, 0).is_empty());
        assert!(o.candidates[2].unreached.is_none());
        assert!(available(&o, 2).contains(&"rate_limit"));
    }

    #[test]
    fn how_each_is_produced() {
        let chain = &options("codex", "pi").agent.reachability.candidates;
        let how = |i, class: FailureClass| injection(chain, i, class).unwrap();
        assert_eq!(
            how(0, FailureClass::HarnessCrashed),
            Injection::Codex {
                behaviour: "crash".into(),
                handshake_timeout_ms: None,
                idle_timeout_ms: None
            }
        );
        assert_eq!(
            how(1, FailureClass::HarnessCrashed),
            Injection::Codex {
                behaviour: "gpt=crash".into(),
                handshake_timeout_ms: None,
                idle_timeout_ms: None
            }
        );
        assert_eq!(
            how(0, FailureClass::SpawnFailed),
            Injection::CodexMissingCommand
        );
        assert_eq!(
            how(2, FailureClass::Timeout),
            Injection::Sim {
                script: "hang".into(),
                first_byte_timeout_ms: Some(DRILL_TIMEOUT_MS)
            }
        );
        assert_eq!(
            how(2, FailureClass::ProviderNotFound),
            Injection::NoProvider
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let e = DrillRequest::parse("re", "no-slash", "nope").unwrap_err();
        let paths: Vec<&str> = e.problems().iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["candidate", "inject"]);
        assert!(e.problems()[1].message.contains("known: spawn_failed"));
        let ok = DrillRequest::parse("re", "openai-codex/spark", "harness_crashed").unwrap();
        assert_eq!(ok.inject, FailureClass::HarnessCrashed);
    }
}

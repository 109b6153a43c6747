//! Routing decisions: what the router did with one candidate, and why.
//! Persisted for the console and logged in the line format of DESIGN §3, so
//! that the greps operators already have keep working.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    CandidateFailed,
    CandidateSucceeded,
    SkipCandidate,
    ProbeCooldownCandidate,
    /// Codex harness failed at the process layer; the chain continues in the
    /// native engine.
    HarnessHandoff,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::CandidateFailed => "candidate_failed",
            Decision::CandidateSucceeded => "candidate_succeeded",
            Decision::SkipCandidate => "skip_candidate",
            Decision::ProbeCooldownCandidate => "probe_cooldown_candidate",
            Decision::HarnessHandoff => "harness_handoff",
        }
    }
}

/// `[model-fallback/decision] model fallback decision: decision=… requested=…
/// candidate=… reason=… next=…|none detail=…`
pub fn log_line(
    decision: Decision,
    requested: &str,
    candidate: &str,
    reason: &str,
    next: Option<&str>,
    detail: &str,
) -> String {
    format!(
        "[model-fallback/decision] model fallback decision: decision={} requested={requested} candidate={candidate} reason={reason} next={} detail={detail}",
        decision.as_str(),
        next.unwrap_or("none"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_operators_grep_for() {
        assert_eq!(
            log_line(
                Decision::CandidateFailed,
                "openai-codex/gpt-5.3-codex-spark",
                "openai-codex/gpt-5.4",
                "harness_crashed",
                Some("ollama-cloud/glm-5.1"),
                "codex app-server exited: code=1"
            ),
            "[model-fallback/decision] model fallback decision: decision=candidate_failed requested=openai-codex/gpt-5.3-codex-spark candidate=openai-codex/gpt-5.4 reason=harness_crashed next=ollama-cloud/glm-5.1 detail=codex app-server exited: code=1"
        );
        assert!(log_line(
            Decision::CandidateSucceeded,
            "a/b",
            "a/b",
            "none",
            None,
            "ok"
        )
        .contains(" next=none detail=ok"));
    }
}

//! The demo fleet seeded on first start, modelled on the seed document: four
//! agents on the spark → gpt-5.4 → ollama-cloud → openrouter chain, run by the
//! Codex harness, with QA as the `fallback: none` control. The non-Codex
//! providers are `sim` providers served in-process.

use serde_json::{json, Value};

/// The demo config, as an operator would write it.
pub fn fleet_config() -> Value {
    json!({
        "providers": {
            "openai-codex": {
                "kind": "codex",
                "family": "codex",
                "models": ["gpt-5.3-codex-spark", "gpt-5.4"]
            },
            // The external fallbacks are served by the in-process `sim`
            // provider (DESIGN §9), so the demo needs no account anywhere and
            // shows real failures: Ollama Cloud answers its first call with
            // a rate limit (a cooldown on the Providers page), then works.
            "ollama-cloud": {
                "kind": "sim",
                "models": ["glm-5.1"],
                "contextWindow": 131072,
                "scripts": {"glm-5.1": "rate_limit(90), ok"}
            },
            "openrouter": {
                "kind": "sim",
                "models": ["deepseek/deepseek-v3.2"],
                "contextWindow": 163840,
                "scripts": {"deepseek/deepseek-v3.2": "ok"}
            }
        },
        // The Codex app-server is Switchyard's stand-in (DESIGN §9), scripted
        // to exit 1 at start the way the seed's did: every Codex agent shows
        // the crash, the handoff to the native engine (or, for QA with
        // `fallback: none`, the stop and why). Point `command` at a real
        // `codex app-server` to use one.
        "harnesses": {"codex": {"sim": "crash"}},
        "agents": {
            "defaults": {
                "model": {
                    "primary": "openai-codex/gpt-5.3-codex-spark",
                    "fallbacks": [
                        "openai-codex/gpt-5.4",
                        "ollama-cloud/glm-5.1",
                        "openrouter/deepseek/deepseek-v3.2"
                    ]
                },
                "embeddedHarness": {"runtime": "codex", "fallback": "pi"}
            },
            "entries": {
                "adrian-ceo": {"name": "Adrian (CEO)"},
                "builder": {"name": "Builder"},
                "release-engineer": {"name": "Release Engineer"},
                "qa-engineer": {
                    "name": "QA Engineer",
                    "embeddedHarness": {"fallback": "none"}
                }
            }
        },
        // Short intervals so a newcomer sees runs, fallbacks and an error
        // streak (QA's `fallback: none`) within minutes of `make serve`.
        "cron": {"jobs": [
            {"id": "ceo-daily-briefing", "name": "Daily briefing", "agentId": "adrian-ceo",
             "schedule": {"kind": "cron", "expr": "0 9 * * 1-5", "tz": "Europe/Berlin"},
             "message": "Summarise yesterday's releases and open incidents for the team."},
            {"id": "builder-queue", "name": "Work the build queue", "agentId": "builder",
             "schedule": {"kind": "every", "everyMs": 300000},
             "message": "Pick the next item from the build queue and report its status."},
            {"id": "release-check", "name": "Check the release queue", "agentId": "release-engineer",
             "schedule": {"kind": "every", "everyMs": 180000},
             "message": "Check the release queue and say what is ready to ship."},
            {"id": "qa-regression", "name": "Regression sweep", "agentId": "qa-engineer",
             "schedule": {"kind": "every", "everyMs": 120000},
             "message": "Run the regression checklist and report failures."}
        ]}
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, HarnessFallback, Runtime, Source};

    #[test]
    fn demo_fleet_matches_the_seed() {
        let config = Config::from_json(&super::fleet_config()).unwrap();
        let agents = config.effective_agents();
        let ids: Vec<_> = agents.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            ["adrian-ceo", "builder", "qa-engineer", "release-engineer"]
        );
        for a in &agents {
            assert_eq!(
                a.primary.as_ref().unwrap().value.to_string(),
                "openai-codex/gpt-5.3-codex-spark"
            );
            assert_eq!(a.fallbacks.value.len(), 3);
            assert_eq!(a.runtime.value, Runtime::Codex);
            let expected = if a.id.as_str() == "qa-engineer" {
                (HarnessFallback::None, Source::Agent)
            } else {
                (HarnessFallback::Pi, Source::Defaults)
            };
            assert_eq!((a.fallback.value, a.fallback.source), expected);
        }
    }
}

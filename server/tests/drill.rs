//! Drills (`engine::drill`) through the real router, the real Codex harness
//! and `switchyard sim codex-app-server` as a real subprocess: every class a
//! drill offers at a candidate shows on the trail at that candidate, the
//! seed's crash with fallback none and pi, and the REST endpoint (field
//! errors, and nothing of the drill in the server's own store).
//!
//! Nothing here sleeps: the timing classes use the drill's 1 s timeouts.

mod common;

use common::TestServer;
use engine::config::{Config, Harness, HarnessFallback};
use engine::drill::{drill, DrillEnv, DrillOptions, DrillRequest};
use engine::failure::FailureClass;
use engine::router::Policy;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

const SPARK: &str = "openai-codex/gpt-5.3-codex-spark";
const GPT: &str = "openai-codex/gpt-5.4";
const GLM: &str = "ollama-cloud/glm-5.1";
const DEEPSEEK: &str = "openrouter/deepseek/deepseek-v3.2";

/// The seed's chain for three agents: Codex with fallback pi and none, and
/// the native runtime (where the codex-kind candidates never run); plus an
/// `auto` agent whose primary is a codex-family provider with an endpoint.
fn fleet() -> Config {
    Config::from_json(&json!({
        "providers": {
            "openai-codex": {"kind": "codex", "family": "codex", "models": ["gpt-5.3-codex-spark", "gpt-5.4"]},
            "ollama-cloud": {"kind": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1",
                             "apiKey": {"env": "OLLAMA_API_KEY"}, "models": ["glm-5.1"], "contextWindow": 131072},
            "openrouter": {"kind": "sim", "models": ["deepseek/deepseek-v3.2"], "contextWindow": 163840,
                           "scripts": {"deepseek/deepseek-v3.2": "server_error"}},
            "acme": {"kind": "openai-responses", "family": "codex", "baseUrl": "http://127.0.0.1:9/v1",
                     "apiKey": {"env": "ACME_API_KEY"}, "models": ["acme-coder"]}
        },
        "agents": {
            "defaults": {
                "model": {"primary": SPARK, "fallbacks": [GPT, GLM, DEEPSEEK]},
                "embeddedHarness": {"runtime": "codex", "fallback": "pi"}
            },
            "entries": {
                "release-engineer": {},
                "qa-engineer": {"embeddedHarness": {"fallback": "none"}},
                "native": {"embeddedHarness": {"runtime": "pi"}},
                "coder": {"model": {"primary": "acme/acme-coder", "fallbacks": [GLM]},
                          "embeddedHarness": {"runtime": "auto"}}
            }
        },
        // The production Codex command; a drill never runs it.
        "harnesses": {"codex": {"command": ["/opt/codex/bin/codex", "app-server"]}}
    }))
    .unwrap()
}

fn env(dir: &std::path::Path) -> DrillEnv {
    DrillEnv {
        scratch: dir.to_owned(),
        ..DrillEnv::new(
            env!("CARGO_BIN_EXE_switchyard").into(),
            Policy {
                harness_restart_backoff_ms: 10,
                ..Policy::default()
            },
        )
    }
}

fn request(agent: &str, candidate: &str, inject: &str) -> DrillRequest {
    DrillRequest::parse(agent, candidate, inject).unwrap()
}

#[tokio::test]
async fn every_offered_class_shows_on_the_trail_at_its_candidate() {
    let config = fleet();
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path());
    // (agent, candidate): the first candidate each agent reaches, in each
    // harness and provider shape.
    let targets = [
        ("release-engineer", SPARK),  // codex kind, Codex harness
        ("native", GLM),              // native engine, the first that runs
        ("coder", "acme/acme-coder"), // codex family with an endpoint
    ];
    let mut cases = Vec::new();
    for (agent, candidate) in targets {
        let options = DrillOptions::of(&config, config.effective_agent(agent).unwrap());
        let c = options
            .candidates
            .iter()
            .find(|c| c.candidate.to_string() == candidate)
            .unwrap();
        assert!(c.unreached.is_none(), "{agent} reaches {candidate}");
        let offered: Vec<FailureClass> = c
            .classes
            .iter()
            .filter(|o| o.unavailable.is_none())
            .map(|o| o.class)
            .collect();
        assert!(offered.len() >= 15, "{agent}: {offered:?}");
        for class in offered {
            cases.push((agent, candidate, class));
        }
    }
    let results: Vec<_> = stream::iter(cases)
        .map(|(agent, candidate, class)| {
            let (config, env) = (&config, &env);
            async move {
                let report = drill(config, &request(agent, candidate, class.as_str()), env)
                    .await
                    .unwrap();
                (agent, candidate, class, report)
            }
        })
        .buffer_unordered(3)
        .collect()
        .await;
    let mut failures = Vec::new();
    for (agent, candidate, class, report) in &results {
        let hit = report
            .trail
            .iter()
            .find(|d| d.candidate == *candidate && d.reason == class.as_str());
        let trail: Vec<String> = report
            .trail
            .iter()
            .map(|d| format!("{} {} {} ({})", d.decision, d.candidate, d.reason, d.detail))
            .collect();
        if hit.is_none() || !report.reached {
            failures.push(format!("{agent} {candidate} {class}: {trail:#?}"));
            continue;
        }
        // No drill waits on a production timeout.
        assert!(
            report.took_ms < 15_000,
            "{agent} {class} took {} ms",
            report.took_ms
        );
        // A non-codex candidate never reaches the subprocess.
        let text = format!("{trail:?} {:?}", report.outcome.error);
        assert!(
            !text.contains("Model provider `ollama-cloud` not found"),
            "{agent} {class}: {text}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The drill's scratch directories are gone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn the_seed_crash_with_fallback_none_then_pi() {
    let config = fleet();
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path());

    let none = drill(
        &config,
        &request("qa-engineer", SPARK, "harness_crashed"),
        &env,
    )
    .await
    .unwrap();
    let steps: Vec<(&str, &str, &str)> = none
        .trail
        .iter()
        .map(|d| (d.decision.as_str(), d.candidate.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("candidate_failed", SPARK, "harness_crashed"),
            ("skip_candidate", GPT, "run_failed"),
            ("skip_candidate", GLM, "harness_mismatch"),
            ("skip_candidate", DEEPSEEK, "harness_mismatch"),
        ]
    );
    assert!(!none.outcome.ok);
    assert_eq!(
        none.outcome.stopped_by_fallback,
        Some(HarnessFallback::None)
    );
    let error = none.outcome.error.as_deref().unwrap();
    assert!(error.starts_with("harness_crashed: "), "{error}");
    assert!(
        error.contains("`embeddedHarness.fallback: none` stopped the chain"),
        "{error}"
    );
    assert!(
        error.contains(&format!("never tried: {GPT}, {GLM}, {DEEPSEEK}")),
        "{error}"
    );
    assert_eq!(none.codex_command, "/opt/codex/bin/codex app-server");
    assert_eq!(none.first_fallback_ms, None);

    let pi = drill(
        &config,
        &request("release-engineer", SPARK, "harness_crashed"),
        &env,
    )
    .await
    .unwrap();
    let steps: Vec<(&str, &str, &str, &str)> = pi
        .trail
        .iter()
        .map(|d| {
            (
                d.decision.as_str(),
                d.candidate.as_str(),
                d.reason.as_str(),
                d.harness.as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("candidate_failed", SPARK, "harness_crashed", "codex"),
            ("skip_candidate", GPT, "harness_down", "none"),
            ("harness_handoff", GLM, "harness_crashed", "native"),
            ("candidate_succeeded", GLM, "none", "native"),
        ]
    );
    assert!(
        pi.trail[0].detail.contains("code=1"),
        "{}",
        pi.trail[0].detail
    );
    assert!(pi.outcome.ok);
    assert_eq!(pi.outcome.served_by.as_ref().unwrap().to_string(), GLM);
    assert_eq!(pi.outcome.harness, Some(Harness::Native));
    // The native candidate starts within a second of the crash.
    assert!(
        pi.first_fallback_ms.unwrap() < 1_000,
        "{:?}",
        pi.first_fallback_ms
    );
}

#[tokio::test]
async fn a_candidate_after_the_first_that_answers_is_not_reached() {
    let config = fleet();
    let dir = tempfile::tempdir().unwrap();
    let report = drill(
        &config,
        &request("release-engineer", GLM, "rate_limit"),
        &env(dir.path()),
    )
    .await
    .unwrap();
    assert!(!report.reached);
    assert_eq!(report.outcome.served_by.unwrap().to_string(), SPARK);
}

#[tokio::test]
async fn what_cannot_be_injected_is_refused_with_the_reason() {
    let config = fleet();
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path());
    for (agent, candidate, inject, words) in [
        (
            "release-engineer",
            GLM,
            "harness_crashed",
            "runs in the native engine",
        ),
        ("release-engineer", SPARK, "run_timeout", "time budget"),
        (
            "release-engineer",
            GPT,
            "spawn_failed",
            "first Codex candidate",
        ),
        (
            "qa-engineer",
            GLM,
            "rate_limit",
            "never runs with this agent's settings",
        ),
        (
            "release-engineer",
            "acme/acme-coder",
            "rate_limit",
            "is not in release-engineer's chain",
        ),
    ] {
        let e = drill(&config, &request(agent, candidate, inject), &env)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), engine::ErrorKind::Invalid, "{e}");
        assert!(e.to_string().contains(words), "{inject}: {e}");
    }
    let e = drill(&config, &request("nobody", SPARK, "auth"), &env)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), engine::ErrorKind::NotFound);
}

#[tokio::test]
async fn rest_drill_names_bad_fields_and_leaves_the_server_store_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, body) = server
        .post_json(
            "/api/v1/agents/release-engineer/drill",
            json!({"candidate": SPARK, "inject": "rate_limit"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reached"], true);
    assert_eq!(body["trail"][0]["decision"], "candidate_failed");
    assert_eq!(body["trail"][0]["reason"], "rate_limit");
    assert_eq!(body["outcome"]["servedBy"], GPT);
    assert_eq!(
        body["agent"]["fallback"],
        json!({"value": "pi", "source": "defaults"})
    );
    let run_id = body["runId"].as_str().unwrap().to_owned();
    assert!(run_id.starts_with("drill:release-engineer:"), "{run_id}");

    // Nothing of it in the server's own store: no decisions, no cooldown.
    let decisions = server
        .get_json(&format!(
            "/api/v1/decisions?runId={}",
            engine::runs::encode_segment(&run_id)
        ))
        .await;
    assert_eq!(decisions, json!([]), "{decisions}");
    let providers = server.get_json("/api/v1/providers").await;
    let codex = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "openai-codex")
        .unwrap();
    assert_eq!(codex["cooldowns"], json!([]), "{codex}");

    // Bad fields are named.
    let (status, body) = server
        .post_json(
            "/api/v1/agents/release-engineer/drill",
            json!({"candidate": "nope", "inject": "boom"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["candidate", "inject"], "{body}");
    let (status, body) = server
        .post_json(
            "/api/v1/agents/release-engineer/drill",
            json!({"candidate": GLM, "inject": "harness_hung"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"][0]["path"], "inject");
    let (status, body) = server
        .post_json(
            "/api/v1/agents/nobody/drill",
            json!({"candidate": SPARK, "inject": "auth"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .post_json(
            "/api/v1/agents/release-engineer/drill",
            json!({"candidate": SPARK}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // The options behind the console's pickers.
    let options: Value = server.get_json("/api/v1/agents/qa-engineer/drill").await;
    let glm = &options["candidates"][2];
    assert_eq!(glm["candidate"], GLM);
    assert!(glm["classes"][0]["unavailable"]
        .as_str()
        .unwrap()
        .contains("never runs"));

    // Described like the other endpoints.
    let doc = server.get_json("/api/v1/openapi.json").await;
    let path = &doc["paths"]["/api/v1/agents/{id}/drill"];
    assert!(path["post"]["requestBody"].is_object(), "{path}");
    assert!(path["get"].is_object(), "{path}");
    assert!(doc["components"]["schemas"]["DrillReport"].is_object());
    server.stop().await;
}

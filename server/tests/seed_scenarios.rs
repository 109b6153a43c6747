//! The failures of the field report the project started from (a Codex
//! harness whose fallback chain died; see docs/HARNESS.md) as
//! end-to-end runs: a real server, its scheduler, the real router, the Codex
//! harness running `switchyard sim codex-app-server` as a subprocess, and the
//! external fallbacks on the in-process sim over HTTP. Each scenario
//! force-runs the agent's job and reads the run record afterwards.

mod common;

use common::TestServer;
use serde_json::{json, Value};
use std::time::Duration;

const CHAIN: [&str; 4] = [
    "openai-codex/gpt-5.3-codex-spark",
    "openai-codex/gpt-5.4",
    "ollama-cloud/glm-5.1",
    "openrouter/deepseek/deepseek-v3.2",
];

/// The seed's agent: spark → gpt-5.4 → ollama-cloud → openrouter, runtime codex.
fn seed_config(fallback: &str, codex: Value) -> Value {
    json!({
        "providers": {
            "openai-codex": {"kind": "codex", "family": "codex", "models": ["gpt-5.3-codex-spark", "gpt-5.4"]},
            "ollama-cloud": {"kind": "sim", "models": ["glm-5.1"], "scripts": {"glm-5.1": "ok"}},
            "openrouter": {"kind": "sim", "models": ["deepseek/deepseek-v3.2"]}
        },
        "harnesses": {"codex": codex},
        "agents": {
            "defaults": {
                "model": {"primary": CHAIN[0], "fallbacks": CHAIN[1..]},
                "embeddedHarness": {"runtime": "codex", "fallback": fallback}
            },
            "entries": {"builder": {"name": "Builder"}}
        },
        "cron": {"jobs": [
            {"id": "builder-queue", "name": "Work the build queue", "agentId": "builder",
             "schedule": {"kind": "every", "everyMs": 86_400_000}, "timeoutSeconds": 420,
             "message": "Pick the next item from the build queue."}
        ]}
    })
}

/// Force-runs the job and returns the finished run's detail.
async fn force_run(server: &TestServer) -> Value {
    let (status, enqueued) = server
        .post_json("/api/v1/jobs/builder-queue/run", json!({}))
        .await;
    assert_eq!(status, 202, "{enqueued}");
    let run_id = enqueued["runId"].as_str().unwrap().replace(':', "%3A");
    // Polls the record until the run has ended: waiting on the outcome.
    for _ in 0..1200 {
        let detail = server.get_json(&format!("/api/v1/runs/{run_id}")).await;
        if !matches!(detail["run"]["status"].as_str(), Some("queued" | "running")) {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run_id} did not finish");
}

/// (decision, candidate, reason) per decision of the run.
fn trail(detail: &Value) -> Vec<(String, String, String)> {
    detail["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["decision"].as_str().unwrap().to_owned(),
                d["candidate"].as_str().unwrap().to_owned(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn step(d: &str, c: &str, r: &str) -> (String, String, String) {
    (d.into(), c.into(), r.into())
}

fn decision<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["decision"] == name)
        .unwrap_or_else(|| panic!("no {name} in {detail:#}"))
}

async fn scenario(fallback: &str, codex: Value) -> (Value, TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    server.put_config(seed_config(fallback, codex)).await;
    let detail = force_run(&server).await;
    (detail, server, dir)
}

#[tokio::test]
async fn crash_at_start_with_fallback_pi_hands_off_to_the_native_engine() {
    let (detail, server, _dir) = scenario("pi", json!({"sim": "crash"})).await;
    let run = &detail["run"];
    assert_eq!(run["status"], "ok", "{detail:#}");
    assert_eq!(run["model"], CHAIN[2]);
    assert_eq!(run["harness"], "native");
    assert_eq!(run["fallbackUsed"], true);
    assert_eq!(
        trail(&detail),
        [
            step("candidate_failed", CHAIN[0], "harness_crashed"),
            step("skip_candidate", CHAIN[1], "harness_down"),
            step("harness_handoff", CHAIN[2], "harness_crashed"),
            step("candidate_succeeded", CHAIN[2], "none"),
        ]
    );
    let crash = decision(&detail, "candidate_failed");
    let why = crash["detail"].as_str().unwrap();
    assert!(why.contains("exited before the handshake: code=1"), "{why}");
    assert!(
        why.contains("stderr: Error: sim codex-app-server: crashing at start"),
        "{why}"
    );
    // The native candidate starts within a second of the crash.
    let handoff = decision(&detail, "harness_handoff");
    let gap = handoff["atMs"].as_i64().unwrap() - crash["atMs"].as_i64().unwrap();
    assert!((0..1000).contains(&gap), "handoff {gap} ms after the crash");
    server.stop().await;
}

#[tokio::test]
async fn crash_at_start_with_fallback_none_fails_at_once_and_says_why() {
    let (detail, server, _dir) = scenario("none", json!({"sim": "crash"})).await;
    let run = &detail["run"];
    assert_eq!(run["status"], "error", "{detail:#}");
    assert_eq!(run["errorClass"], "harness_crashed");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.starts_with("harness_crashed: codex app-server exited before the handshake: code=1"),
        "{error}"
    );
    assert!(
        error.contains("`embeddedHarness.fallback: none` stopped the chain"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "never tried: {}, {}, {}",
            CHAIN[1], CHAIN[2], CHAIN[3]
        )),
        "{error}"
    );
    assert_eq!(
        trail(&detail),
        [
            step("candidate_failed", CHAIN[0], "harness_crashed"),
            step("skip_candidate", CHAIN[1], "run_failed"),
            step("skip_candidate", CHAIN[2], "harness_mismatch"),
            step("skip_candidate", CHAIN[3], "harness_mismatch"),
        ]
    );
    assert!(run["durationMs"].as_i64().unwrap() < 5_000, "{detail:#}");
    server.stop().await;
}

#[tokio::test]
async fn model_failures_in_a_live_subprocess_hand_off_without_provider_not_found() {
    let codex = json!({"sim": "gpt-5.3-codex-spark=rate_limit(3600); gpt-5.4=auth"});
    let (detail, server, _dir) = scenario("pi", codex).await;
    assert_eq!(detail["run"]["status"], "ok", "{detail:#}");
    assert_eq!(detail["run"]["model"], CHAIN[2]);
    assert_eq!(
        trail(&detail),
        [
            step("candidate_failed", CHAIN[0], "rate_limit"),
            step("candidate_failed", CHAIN[1], "auth"),
            step("harness_handoff", CHAIN[2], "auth"),
            step("candidate_succeeded", CHAIN[2], "none"),
        ]
    );
    // Codex's hour-long sleep is not waited on: the hint became a cooldown.
    assert!(
        detail["run"]["durationMs"].as_i64().unwrap() < 10_000,
        "{detail:#}"
    );
    let text = detail.to_string();
    assert!(!text.to_lowercase().contains("not found"), "{text}");
    let providers = server.get_json("/api/v1/providers").await.to_string();
    assert!(providers.contains("gpt-5.3-codex-spark"), "{providers}");
    server.stop().await;
}

#[tokio::test]
async fn a_handshake_hang_hands_off_after_the_handshake_timeout_not_the_lane_timeout() {
    let codex = json!({"sim": "hang_handshake", "handshakeTimeoutMs": 1000});
    let (detail, server, _dir) = scenario("pi", codex).await;
    assert_eq!(detail["run"]["status"], "ok", "{detail:#}");
    assert_eq!(
        trail(&detail),
        [
            step("candidate_failed", CHAIN[0], "handshake_timeout"),
            step("skip_candidate", CHAIN[1], "harness_down"),
            step("harness_handoff", CHAIN[2], "handshake_timeout"),
            step("candidate_succeeded", CHAIN[2], "none"),
        ]
    );
    let failed = decision(&detail, "candidate_failed");
    assert!(failed["detail"]
        .as_str()
        .unwrap()
        .contains("no initialize result within 1000 ms"));
    // Handed off after the 1 s handshake timeout, nowhere near the job's 420 s.
    let duration = detail["run"]["durationMs"].as_i64().unwrap();
    assert!((1000..5000).contains(&duration), "{duration} ms");
    server.stop().await;
}

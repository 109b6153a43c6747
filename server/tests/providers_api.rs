//! `/api/v1/providers` and `/api/v1/decisions` on a real server whose demo
//! fleet's external providers are served by the in-process sim.

mod common;

use common::TestServer;
use futures_util::StreamExt;
use serde_json::{json, Value};

fn provider<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()
}

#[tokio::test]
async fn a_test_call_cools_a_model_down_and_a_second_one_probes_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;

    let view = server.get_json("/api/v1/providers").await;
    let ollama = provider(&view, "ollama-cloud");
    assert_eq!(ollama["kind"], "sim");
    assert_eq!(ollama["endpoint"], "in-process sim");
    assert_eq!(ollama["health"], "healthy");
    assert_eq!(ollama["circuit"]["state"], "closed");
    assert_eq!(
        provider(&view, "openai-codex")["endpoint"],
        "Codex app-server"
    );

    // The demo's glm-5.1 answers its first call with a 90 s rate limit.
    let (status, report) = server
        .post_json("/api/v1/providers/ollama-cloud/test", json!({}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["reason"], "rate_limit");
    assert_eq!(report["decisions"][0]["decision"], "candidate_failed");
    assert_eq!(report["decisions"][0]["reason"], "rate_limit");

    let view = server.get_json("/api/v1/providers").await;
    let ollama = provider(&view, "ollama-cloud");
    assert_eq!(ollama["health"], "degraded");
    let cooldown = &ollama["cooldowns"][0];
    assert_eq!(cooldown["model"], "glm-5.1");
    assert_eq!(cooldown["reason"], "rate_limit");
    let left = cooldown["leftMs"].as_i64().unwrap();
    assert!((85_000..=90_000).contains(&left), "{left}");
    assert_eq!(
        ollama["failuresLastHour"],
        json!([{"class": "rate_limit", "count": 1}])
    );

    // A test call bypasses the cooldown, says so, and a success clears it.
    let (_, report) = server
        .post_json(
            "/api/v1/providers/ollama-cloud/test",
            json!({"model": "glm-5.1"}),
        )
        .await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["text"], "sim ollama-cloud/glm-5.1 ok");
    let kinds: Vec<&str> = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["probe_cooldown_candidate", "candidate_succeeded"]);
    let view = server.get_json("/api/v1/providers").await;
    assert_eq!(provider(&view, "ollama-cloud")["cooldowns"], json!([]));

    // Decisions are served per run and newest first.
    let run = report["runId"].as_str().unwrap();
    let decisions = server
        .get_json(&format!("/api/v1/decisions?runId={}", urlencode(run)))
        .await;
    assert_eq!(decisions.as_array().unwrap().len(), 2);
    let recent = server
        .get_json("/api/v1/decisions?provider=ollama-cloud&limit=2")
        .await;
    assert_eq!(recent[0]["decision"], "candidate_succeeded");
    server.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_test_calls_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, body) = server
        .post_json("/api/v1/providers/nope/test", json!({}))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .post_json(
            "/api/v1/providers/openrouter/test",
            json!({"model": "gpt-9"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`gpt-9` is not one of provider `openrouter`'s models"),
        "{body}"
    );
    let (status, _) = server.get("/api/v1/decisions?limit=abc").await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn decisions_stream_live_over_sse() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let response = server
        .http
        .get(format!("{}/api/v1/decisions/stream", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let (_, report) = server
        .post_json("/api/v1/providers/openrouter/test", json!({}))
        .await;
    assert_eq!(report["ok"], true, "{report}");
    let mut seen = String::new();
    while !seen.contains("candidate_succeeded") {
        let chunk = body.next().await.expect("stream open").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: decision"), "{seen}");
    assert!(
        seen.contains("\"candidate\":\"openrouter/deepseek/deepseek-v3.2\""),
        "{seen}"
    );
    drop(body);
    server.stop().await;
}

/// The demo's Codex stand-in crashes at start. The harness outage shows as
/// prominently as a provider's: the Codex harness is `down` with its
/// crashes and last error, `openai-codex` (whose circuit never counts a
/// harness crash) is `down` too instead of "healthy, closed, available",
/// and an operator can check the handshake (audited).
#[tokio::test]
async fn a_crashing_codex_harness_shows_on_the_providers_view() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let view = server.get_json("/api/v1/providers").await;
    let codex = &view["harnesses"][0];
    assert_eq!(codex["id"], "codex");
    assert_eq!(codex["health"], "healthy", "nothing attempted yet: {codex}");
    assert!(codex["command"]
        .as_str()
        .unwrap()
        .contains("codex-app-server --behave crash"));

    let (_, queued) = server
        .post_json("/api/v1/jobs/release-check/run", json!({}))
        .await;
    let detail = common::until_finished(&server, queued["runId"].as_str().unwrap()).await;
    assert_eq!(
        detail["decisions"][0]["reason"], "harness_crashed",
        "{detail:#}"
    );

    let view = server.get_json("/api/v1/providers").await;
    let codex = &view["harnesses"][0];
    assert_eq!(codex["health"], "down", "{codex:#}");
    assert_eq!(codex["failuresLastHour"][0]["class"], "harness_crashed");
    assert!(codex["attemptsLastHour"].as_i64().unwrap() >= 1);
    let last = &codex["lastFailure"];
    assert_eq!(last["class"], "harness_crashed");
    assert_eq!(last["runId"], queued["runId"]);
    assert!(
        last["detail"].as_str().unwrap().contains("exited"),
        "{last}"
    );
    let openai = provider(&view, "openai-codex");
    assert_eq!(
        openai["circuit"]["failures"], 0,
        "a crash is not the provider's"
    );
    assert_eq!(openai["health"], "down", "{openai:#}");
    assert_eq!(openai["harnessFailure"]["class"], "harness_crashed");

    let (status, checks) = server
        .post_json("/api/v1/harnesses/codex/check", json!({}))
        .await;
    assert_eq!(status, 200, "{checks}");
    let checks = checks.as_array().unwrap();
    assert_eq!(checks.len(), 4, "one per Codex-harness agent: {checks:?}");
    for check in checks {
        assert_eq!(check["ok"], false, "{check}");
        assert_eq!(check["class"], "harness_crashed", "{check}");
    }
    let (status, _) = server
        .post_json("/api/v1/harnesses/nope/check", json!({}))
        .await;
    assert_eq!(status, 404);
    let audit = server.get_json("/api/v1/audit?limit=50").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "harness.check" && e["target"] == "codex"),
        "{audit:#}"
    );

    // The console page says it where the operator looks.
    let (status, page) = server.get("/providers").await;
    assert_eq!(status, 200);
    assert!(page.contains("data-harness=\"codex\""), "{page}");
    assert!(page.contains("data-testid=\"harness-down\""), "{page}");
    assert!(page.contains("Check handshake"), "{page}");
    server.stop().await;
}

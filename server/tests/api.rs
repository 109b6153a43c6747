//! The server over real HTTP on port 0, with its own SQLite file per test.

mod common;

use common::TestServer;
use serde_json::{json, Value};

fn agent<'a>(fleet: &'a Value, id: &str) -> &'a Value {
    fleet["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap()
}

#[tokio::test]
async fn health_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(server.get("/healthz").await.0, 200);
    assert_eq!(server.get("/readyz").await, (200, "ready\n".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn demo_fleet_is_listed_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let fleet = server.agents().await;
    let ids: Vec<_> = fleet["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["adrian-ceo", "builder", "qa-engineer", "release-engineer"]
    );
    let re = agent(&fleet, "release-engineer");
    assert_eq!(
        re["primary"],
        json!({"value": "openai-codex/gpt-5.3-codex-spark", "source": "defaults"})
    );
    assert_eq!(re["fallbacks"]["value"][1], "ollama-cloud/glm-5.1");
    assert_eq!(
        re["runtime"],
        json!({"value": "codex", "source": "defaults"})
    );
    assert_eq!(
        agent(&fleet, "qa-engineer")["fallback"],
        json!({"value": "none", "source": "agent"})
    );
    server.stop().await;
}

#[tokio::test]
async fn fallback_flip_is_stored_and_survives_a_restart_without_reseeding() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, body) = server
        .patch_json(
            "/api/v1/agents/release-engineer/harness",
            json!({"fallback": "none"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["fallback"],
        json!({"value": "none", "source": "agent"})
    );
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let fleet = server.agents().await;
    assert_eq!(
        agent(&fleet, "release-engineer")["fallback"]["value"],
        "none"
    );
    assert_eq!(
        fleet["revision"]["id"], 2,
        "a restart must not reseed: {}",
        fleet["revision"]
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_fallback_is_rejected_naming_field_and_values_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let before = server.agents().await;

    let (status, body) = server
        .patch_json(
            "/api/v1/agents/release-engineer/harness",
            json!({"fallback": "openrouter"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid");
    assert_eq!(
        body["details"][0]["path"],
        "agents.entries.release-engineer.embeddedHarness.fallback"
    );
    let message = body["details"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("`openrouter`") && message.contains("pi, codex, none"),
        "{message}"
    );

    // A misspelt field is named too, and a wrong type.
    let (status, body) = server
        .patch_json(
            "/api/v1/agents/release-engineer/harness",
            json!({"fallbak": "none"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("fallbak"),
        "{body}"
    );
    let (status, _) = server
        .patch_json(
            "/api/v1/agents/release-engineer/harness",
            json!({"fallback": 5}),
        )
        .await;
    assert_eq!(status, 400);

    let (status, body) = server
        .patch_json("/api/v1/agents/ghost/harness", json!({"fallback": "pi"}))
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    assert_eq!(server.agents().await, before, "nothing may change");
    server.stop().await;
}

#[tokio::test]
async fn server_function_shares_the_engine_path_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = format!("{}/console/fn/set_agent_harness", server.base);
    let bad = server
        .http
        .post(&url)
        .header("accept", "application/json")
        .form(&[("agent", "release-engineer"), ("fallback", "sometimes")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status().as_u16(),
        422,
        "server fn errors carry the engine's status (a bad value is a 422, not a 500)"
    );
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["code"], "invalid");
    assert_eq!(
        body["details"][0]["path"],
        "agents.entries.release-engineer.embeddedHarness.fallback"
    );
    assert_eq!(
        agent(&server.agents().await, "release-engineer")["fallback"]["value"],
        "pi"
    );

    let ok = server
        .http
        .post(&url)
        .header("accept", "application/json")
        .form(&[("agent", "release-engineer"), ("fallback", "none")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        agent(&server.agents().await, "release-engineer")["fallback"]["value"],
        "none"
    );
    server.stop().await;
}

#[tokio::test]
async fn overview_renders_every_agent_without_javascript() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, html) = server.get("/").await;
    assert_eq!(status, 200);
    for id in ["adrian-ceo", "builder", "qa-engineer", "release-engineer"] {
        assert!(
            html.contains(&format!("data-agent=\"{id}\"")),
            "row for {id} missing"
        );
    }
    assert!(html.contains("ollama-cloud"), "fallback chain is rendered");
    assert_eq!(server.get("/no-such-page").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let res = server
        .http
        .get(format!("{}/", server.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    server.stop().await;
}

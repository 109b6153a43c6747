//! A provider key with a recognisable value is used for real (runs, a test
//! call, doctor, a drill), then every GET route the server has (read from
//! its own OpenAPI document), both exports, every console page, the live
//! decision stream and the server's log are read as each role. The key's
//! value must appear in none of them, nor in the database file.

mod common;

use common::{until_finished, Api, ServeProcess};
use serde_json::json;
use std::time::Duration;

const CANARY: &str = "sk-canary-7f3e9b1c2d5a";

fn concrete(path: &str, run: &str) -> String {
    let run = engine::runs::encode_segment(run);
    path.replace("/agents/{id}", "/agents/release-engineer")
        .replace("/jobs/{id}", "/jobs/release-check")
        .replace("/runs/{id}", &format!("/runs/{run}"))
        .replace("/providers/{id}", "/providers/ollama-cloud")
        .replace("/revisions/{id}", "/revisions/1")
        .replace("/users/{name}", "/users/admin")
        .replace("/tokens/{id}", "/tokens/nope")
        + if path == "/api/v1/config/diff" {
            "?from=1&to=2"
        } else {
            ""
        }
}

#[tokio::test]
async fn no_secret_value_reaches_a_response_a_page_a_log_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    let server = ServeProcess::spawn_with(
        &data,
        &["--secret-env", "CANARY_KEY"],
        "info",
        &[("CANARY_KEY", CANARY)],
        log.into(),
    )
    .await;

    // The demo's sim providers now send the canary as their key.
    let mut config = server.get_json("/api/v1/config").await["config"].clone();
    for provider in ["ollama-cloud", "openrouter"] {
        config["providers"][provider]["apiKey"] = json!({"env": "CANARY_KEY"});
    }
    server.put_config(config).await;

    // Use the key: two runs, a test call, doctor, a drill.
    let mut runs = Vec::new();
    for job in ["release-check", "qa-regression"] {
        let (status, body) = server
            .post_json(&format!("/api/v1/jobs/{job}/run"), json!({}))
            .await;
        assert_eq!(status, 202, "{body}");
        runs.push(body["runId"].as_str().unwrap().to_owned());
    }
    for run in &runs {
        until_finished(&server, run).await;
    }
    let (status, body) = server
        .post_json("/api/v1/providers/ollama-cloud/test", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.post_json("/api/v1/doctor", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post_json(
            "/api/v1/agents/release-engineer/drill",
            json!({"candidate": "ollama-cloud/glm-5.1", "inject": "rate_limit"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let operator = server.token_client("canary-operator", "operator").await;
    let viewer = server.token_client("canary-viewer", "viewer").await;
    let doc = server.get_json("/api/v1/openapi.json").await;
    let mut gets: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_some() && !path.ends_with("/stream") {
            gets.push(concrete(path, &runs[0]));
        }
    }
    gets.push(concrete("/api/v1/runs/{id}", &runs[1]));
    gets.extend(
        [
            "/api/v1/config/export?format=openclaw&shape=older",
            "/api/v1/config/export?format=openclaw&shape=newer",
            "/",
            "/jobs",
            "/runs",
            "/providers",
            "/config",
            "/drill?agent=release-engineer&candidate=ollama-cloud%2Fglm-5.1&inject=rate_limit",
            "/agents/release-engineer",
            "/access",
        ]
        .map(str::to_owned),
    );
    gets.push(format!("/runs/{}", engine::runs::encode_segment(&runs[0])));

    let mut read = 0;
    for (role, client) in [
        ("admin", &server.api),
        ("operator", &operator),
        ("viewer", &viewer),
    ] {
        for path in &gets {
            let (status, body) = client.get(path).await;
            assert!(status < 500, "{role} GET {path}: {status} {body}");
            assert!(!body.contains(CANARY), "{role} GET {path} shows the key");
            read += 1;
        }
        // The live stream, while a test call makes decisions.
        let mut stream = client
            .http
            .get(format!("{}/api/v1/decisions/stream", client.base))
            .send()
            .await
            .unwrap();
        let caller: &Api = &server.api;
        let (status, _) = caller
            .post_json("/api/v1/providers/openrouter/test", json!({}))
            .await;
        assert_eq!(status, 200);
        let mut seen = String::new();
        while !seen.contains("event: decision") {
            match tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await {
                Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("{role}: the stream ended before a decision: {other:?}"),
            }
        }
        assert!(
            !seen.contains(CANARY),
            "{role}: the decision stream shows the key"
        );
    }
    println!(
        "canary: {read} reads over {} paths and 3 roles, plus the decision stream",
        gets.len()
    );

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("switchyard ready"), "the log was captured");
    assert!(!log.contains(CANARY), "the server log shows the key");
    for file in ["switchyard.db", "switchyard.db-wal"] {
        let Ok(bytes) = std::fs::read(data.join(file)) else {
            continue;
        };
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "{file} holds the key"
        );
    }
}

//! HTTP statuses of the console and the API for what is missing, stale or
//! invalid (issue 14): a missing agent or run is a 404 on its console page
//! and in the REST API (it was a 200 page and, for a run, a 500 the page
//! polled every second); a stale config save from the console is a 409 and
//! an invalid one a 422 (both were 500).

mod common;

use common::TestServer;

async fn status_of(server: &TestServer, path: &str) -> u16 {
    server.get(path).await.0
}

#[tokio::test]
async fn missing_agents_and_runs_are_404_on_pages_and_in_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    // Pages (the admin's session cookie): present, then missing.
    assert_eq!(status_of(&server, "/agents/builder").await, 200);
    for path in [
        "/agents/nobody",
        "/runs/manual%3Anope%3A1",
        "/api/v1/agents/nobody",
        "/api/v1/runs/manual%3Anope%3A1",
    ] {
        assert_eq!(status_of(&server, path).await, 404, "{path}");
    }
    // The console's own calls for them, as the browser makes them.
    for (name, arg) in [("agent_page", "agent"), ("run_detail", "run")] {
        let res = server
            .http
            .post(format!("{}/console/fn/{name}", server.base))
            .header("accept", "application/json")
            .form(&[(arg, "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{name}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{name}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn console_config_saves_answer_409_when_stale_and_422_when_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let head = server.get_json("/api/v1/config").await;
    let hash = head["revision"]["hash"].as_str().unwrap().to_owned();
    let text = head["config"].to_string();
    let save = |base: String, text: String| {
        let server = &server;
        async move {
            let res = server
                .http
                .post(format!("{}/console/fn/save_config", server.base))
                .header("accept", "application/json")
                .form(&[
                    ("base_hash", base.as_str()),
                    ("text", text.as_str()),
                    ("message", "test"),
                ])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap();
            (status, body)
        }
    };
    let (status, body) = save("0".repeat(64), text.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert_eq!(body["currentHash"], hash.as_str());
    let (status, body) = save(hash.clone(), "{agents: {,}".into()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid")),
        "{body}"
    );
    let mut bad = head["config"].clone();
    bad["agents"]["defaults"]["model"]["primary"] = serde_json::json!("nowhere/x");
    let (status, body) = save(hash.clone(), bad.to_string()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid")),
        "{body}"
    );
    assert!(!body["details"].as_array().unwrap().is_empty(), "{body}");
    let (status, _) = save(hash, text).await;
    assert_eq!(status, 200, "the same save on the head goes through");
    server.stop().await;
}

//! `/api/v1/config` over real HTTP: ETag/If-Match, 409 with the current hash,
//! validation with every problem at its path, diff and rollback.

mod common;

use common::TestServer;
use serde_json::{json, Value};

async fn get_config(server: &TestServer) -> (String, Value) {
    let res = server
        .http
        .get(format!("{}/api/v1/config", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    (etag, res.json().await.unwrap())
}

async fn put_config(server: &TestServer, if_match: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = server
        .http
        .put(format!("{}/api/v1/config", server.base))
        .json(&body);
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn write_with_if_match_then_stale_write_gets_409_with_current_hash() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (etag, doc) = get_config(&server).await;
    assert_eq!(
        etag,
        format!("\"{}\"", doc["revision"]["hash"].as_str().unwrap())
    );

    let mut config = doc["config"].clone();
    config["agents"]["entries"]["builder"]["embeddedHarness"] = json!({"fallback": "none"});
    let ok = put_config(
        &server,
        Some(&etag),
        json!({"config": config, "message": "builder strict"}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let new_etag = ok.headers()["etag"].to_str().unwrap().to_owned();
    let committed: Value = ok.json().await.unwrap();
    assert_eq!(committed["revision"]["message"], "builder strict");
    assert!(
        !committed["report"]["warnings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "warnings are returned"
    );

    // Same stale base again: conflict, naming the hash that is current now.
    let stale = put_config(&server, Some(&etag), json!({"config": doc["config"]})).await;
    assert_eq!(stale.status(), 409);
    assert_eq!(stale.headers()["etag"].to_str().unwrap(), new_etag);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["code"], "conflict");
    assert_eq!(
        format!("\"{}\"", body["currentHash"].as_str().unwrap()),
        new_etag
    );

    // No If-Match at all: refused before anything happens.
    let blind = put_config(&server, None, json!({"config": doc["config"]})).await;
    assert_eq!(blind.status(), 428);
    server.stop().await;
}

#[tokio::test]
async fn invalid_config_lists_every_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (etag, doc) = get_config(&server).await;
    let mut config = doc["config"].clone();
    config["agents"]["entries"]["qa-engineer"]["model"] = json!({"primary": "openrouter/gpt-9"});
    config["cron"] = json!({"jobs": [{"id": "j", "agentId": "ghost", "message": "m",
                                       "schedule": {"kind": "cron", "expr": "0 9 * * *", "tz": "Europe/Atlantis"}}]});

    let validated: Value = server
        .http
        .post(format!("{}/api/v1/config/validate", server.base))
        .json(&config)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = validated["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "agents.entries.qa-engineer.model.primary",
            "cron.jobs[0].agentId",
            "cron.jobs[0].schedule.tz"
        ]
    );
    assert!(validated["reachability"]["qa-engineer"]["warnings"].is_array());

    let res = put_config(&server, Some(&etag), json!({"config": config})).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["details"].as_array().unwrap().len(), 3);
    assert_eq!(get_config(&server).await, (etag, doc), "nothing changed");

    // A schema error names its path too.
    let res = server
        .http
        .post(format!("{}/api/v1/config/validate", server.base))
        .json(&json!({"agents": {"defaults": {"embeddedHarness": {"fallback": "maybe"}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["details"][0]["path"],
        "agents.defaults.embeddedHarness.fallback"
    );
    server.stop().await;
}

#[tokio::test]
async fn diff_and_rollback_between_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let res = server
        .patch_json(
            "/api/v1/agents/release-engineer/harness",
            json!({"fallback": "none"}),
        )
        .await;
    assert_eq!(res.0, 200);

    let revisions: Value = server.get_json("/api/v1/config/revisions").await;
    let ids: Vec<i64> = revisions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 1]);

    let diff: Value = server.get_json("/api/v1/config/diff?from=1&to=2").await;
    assert_eq!(
        diff["changes"][0]["path"],
        "agents.entries.release-engineer.embeddedHarness"
    );
    assert!(
        diff["unified"]
            .as_str()
            .unwrap()
            .contains("+          \"fallback\": \"none\""),
        "{}",
        diff["unified"]
    );
    let bad = server
        .http
        .get(format!("{}/api/v1/config/diff?from=1", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let rolled = server
        .http
        .post(format!("{}/api/v1/config/rollback/1", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(rolled.status(), 200);
    let agent: Value = server.get_json("/api/v1/agents/release-engineer").await;
    assert_eq!(agent["fallback"]["value"], "pi");
    assert_eq!(
        agent["reachability"]["candidates"][2]["healthy"],
        json!({"runs": "native"})
    );

    let missing = server
        .http
        .post(format!("{}/api/v1/config/rollback/99", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let doc = server.get_json("/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/agents",
        "/api/v1/agents/{id}/harness",
        "/api/v1/config",
        "/api/v1/config/diff",
        "/api/v1/config/rollback/{id}",
        "/api/v1/config/import",
        "/api/v1/config/export",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["paths"]["/api/v1/config"]["put"]["responses"]
        .get("409")
        .is_some());
    for schema in [
        "AgentView",
        "Reachability",
        "Report",
        "Diff",
        "AppError",
        "ImportReport",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
    server.stop().await;
}

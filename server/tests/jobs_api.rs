//! Jobs and runs over the REST API and the CLI, on a real server whose
//! scheduler runs the demo fleet against the in-process sim.

mod common;

use common::{until_finished, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn run_now_falls_back_past_the_crashing_codex_harness_and_records_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;

    let jobs = server.get_json("/api/v1/jobs").await;
    let ids: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "ceo-daily-briefing",
            "builder-queue",
            "release-check",
            "qa-regression"
        ]
    );
    let release = &jobs[2];
    assert_eq!(release["schedule"], "every 3 minutes");
    assert_eq!(release["nextFires"].as_array().unwrap().len(), 5);

    let (status, enqueued) = server
        .post_json("/api/v1/jobs/release-check/run", json!({}))
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        enqueued,
        json!({"ok": true, "enqueued": true, "runId": "manual:release-check:1"})
    );

    let detail = until_finished(&server, "manual:release-check:1").await;
    let run = &detail["run"];
    assert_eq!(run["status"], "ok", "{detail:#}");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["model"], "openrouter/deepseek/deepseek-v3.2");
    assert_eq!(run["harness"], "native");
    assert_eq!(run["fallbackUsed"], true);
    let decisions: Vec<(&str, &str)> = detail["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["decision"].as_str().unwrap(),
                d["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("candidate_failed", "harness_crashed"),
            ("skip_candidate", "harness_down"),
            ("harness_handoff", "harness_crashed"),
            ("candidate_failed", "rate_limit"),
            ("candidate_succeeded", "none"),
        ]
    );
    assert!(detail["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "assistant"));

    // QA runs with `fallback: none`: the Codex failure ends its run.
    let (_, enqueued) = server
        .post_json("/api/v1/jobs/qa-regression/run", json!({}))
        .await;
    let detail = until_finished(&server, enqueued["runId"].as_str().unwrap()).await;
    assert_eq!(detail["run"]["status"], "error");
    assert_eq!(detail["run"]["errorClass"], "harness_crashed");
    let error = detail["run"]["error"].as_str().unwrap();
    assert!(
        error.contains("`embeddedHarness.fallback: none` stopped the chain"),
        "{error}"
    );
    let jobs = server.get_json("/api/v1/jobs").await;
    let qa = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "qa-regression")
        .unwrap();
    assert_eq!(qa["state"]["consecutiveErrors"], 1);
    assert_eq!(qa["state"]["lastStatus"], "error");
    assert_eq!(qa["state"]["runningAtMs"], Value::Null);

    // History, filtered and paginated.
    let page = server.get_json("/api/v1/runs?status=error").await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);
    let page = server.get_json("/api/v1/runs?limit=1").await;
    let next = page["next"].as_str().unwrap().to_owned();
    let page2 = server
        .get_json(&format!(
            "/api/v1/runs?limit=1&before={}",
            next.replace('|', "%7C").replace(':', "%3A")
        ))
        .await;
    assert_eq!(page2["runs"][0]["runId"], "manual:release-check:1");
    let page = server
        .get_json("/api/v1/runs?fallbackUsed=true&agent=release-engineer")
        .await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);

    let (status, body) = server.get("/api/v1/runs?status=finished").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("unknown runstatus `finished`"), "{body}");
    assert!(body.contains("\"path\":\"status\""), "{body}");
    let (status, _) = server.post_json("/api/v1/jobs/nope/run", json!({})).await;
    assert_eq!(status, 404);
    let (status, body) = server
        .post_json("/api/v1/runs/manual%3Arelease-check%3A1/cancel", json!({}))
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = server
        .post_json("/api/v1/jobs/qa-regression/disable", json!({}))
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"jobId": "qa-regression", "enabled": false}))
    );
    let jobs = server.get_json("/api/v1/jobs").await;
    assert_eq!(jobs[3]["enabled"], false);
    server.stop().await;
}

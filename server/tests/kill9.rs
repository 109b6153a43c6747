//! `kill -9` the server with runs in flight, start it again on the same data
//! dir, and find no run left running, every job schedulable, and nothing
//! recorded before the kill lost (DESIGN §5 "no stuck state, ever").

mod common;

use common::ServeProcess;
use serde_json::{json, Value};
use std::time::Duration;

async fn start(data_dir: &std::path::Path) -> ServeProcess {
    ServeProcess::spawn(data_dir, &[], "warn").await
}

#[tokio::test]
async fn kill_9_with_runs_in_flight_leaves_nothing_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;

    // Make the external fallbacks hang so runs stay in flight.
    let doc = server.get_json("/api/v1/config").await;
    let mut config = doc["config"].clone();
    config["providers"]["ollama-cloud"]["scripts"]["glm-5.1"] = json!("hang");
    config["providers"]["openrouter"]["scripts"]["deepseek/deepseek-v3.2"] = json!("hang");
    server.put_config(config).await;

    let mut in_flight = Vec::new();
    for job in ["release-check", "builder-queue"] {
        in_flight.push(
            server
                .post_json(&format!("/api/v1/jobs/{job}/run"), json!({}))
                .await
                .1["runId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let queued_behind = server
        .post_json("/api/v1/jobs/release-check/run", json!({}))
        .await
        .1["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Wait (on the API, not on a clock) until both are running.
    for _ in 0..400 {
        let page = server.get_json("/api/v1/runs?status=running").await;
        if page["runs"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // …and until each has a decision stored (the Codex stand-in crashes
    // first, so the first decision can come a moment after the start).
    for run_id in &in_flight {
        let path = format!("/api/v1/runs/{}", run_id.replace(':', "%3A"));
        for _ in 0..400 {
            let detail = server.get_json(&path).await;
            if !detail["decisions"].as_array().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let before = server.get_json("/api/v1/runs?limit=500").await["runs"]
        .as_array()
        .unwrap()
        .len();
    let revisions = server.get_json("/api/v1/config/revisions").await;
    assert_eq!(before, 3);

    let mut server = server;
    // SIGKILL: no graceful shutdown, no chance to close anything.
    server.kill();
    drop(server);

    let server = start(dir.path()).await;
    // The only run running now is the one that was queued behind the
    // killed run and started in the new process; nothing of the old one.
    let running = server.get_json("/api/v1/runs?status=running").await;
    for run in running["runs"].as_array().unwrap() {
        assert_eq!(
            run["runId"],
            json!(queued_behind),
            "nothing of the killed process is left running"
        );
    }
    for run_id in &in_flight {
        let detail = server
            .get_json(&format!("/api/v1/runs/{}", run_id.replace(':', "%3A")))
            .await;
        assert_eq!(detail["run"]["status"], "error", "{detail:#}");
        assert_eq!(detail["run"]["errorClass"], "abandoned");
        assert!(
            detail["run"]["error"].as_str().unwrap().contains("is gone"),
            "{detail:#}"
        );
        assert!(
            !detail["decisions"].as_array().unwrap().is_empty(),
            "decisions recorded before the kill are kept"
        );
    }
    // The run's page shows the log lines that named it, the reaper's too.
    let path = format!("/api/v1/runs/{}", in_flight[0].replace(':', "%3A"));
    let mut logs = Value::Null;
    for _ in 0..400 {
        logs = server.get_json(&path).await["logs"].clone();
        if logs
            .to_string()
            .contains("reaped a run whose owner is gone")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        logs.to_string()
            .contains("reaped a run whose owner is gone"),
        "{logs:#}"
    );
    assert!(
        logs.to_string().contains(
            "[model-fallback/decision] model fallback decision: decision=candidate_failed"
        ),
        "{logs:#}"
    );
    let after = server.get_json("/api/v1/runs?limit=500").await["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before, "no run lost");
    assert_eq!(
        server.get_json("/api/v1/config/revisions").await,
        revisions,
        "no revision lost"
    );
    // The run that was queued behind the killed one starts (and hangs, as
    // scripted): the reaper freed its lane.
    let path = format!("/api/v1/runs/{}", queued_behind.replace(':', "%3A"));
    for _ in 0..400 {
        if server.get_json(&path).await["run"]["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let behind = server.get_json(&path).await;
    assert_eq!(behind["run"]["status"], "running");
    let jobs = server.get_json("/api/v1/jobs").await;
    for job in jobs.as_array().unwrap() {
        let expected = if job["id"] == "release-check" {
            behind["run"]["startedAtMs"].clone()
        } else {
            Value::Null
        };
        assert_eq!(job["state"]["runningAtMs"], expected, "{job:#}");
        assert_eq!(
            job["nextFires"].as_array().unwrap().len(),
            5,
            "{job:#}: schedulable"
        );
    }
    let release = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "release-check")
        .unwrap();
    assert_eq!(release["state"]["lastErrorClass"], "abandoned");
    assert_eq!(release["state"]["consecutiveErrors"], 1);
    drop(server);
}

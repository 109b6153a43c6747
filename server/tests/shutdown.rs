//! SIGTERM with a run in flight: the server cancels it and records it as
//! ended ("server shutting down") before it exits. Before, the run stayed
//! `running` in the database until the next start reaped it.

mod common;

use common::ServeProcess;
use engine::runs::RunStatus;
use serde_json::json;

#[tokio::test]
async fn sigterm_ends_runs_in_flight_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::spawn(dir.path(), &[], "warn").await;
    // The external fallbacks hang, so the run stays in flight.
    let doc = server.get_json("/api/v1/config").await;
    let mut config = doc["config"].clone();
    config["providers"]["ollama-cloud"]["scripts"]["glm-5.1"] = json!("hang");
    config["providers"]["openrouter"]["scripts"]["deepseek/deepseek-v3.2"] = json!("hang");
    server.put_config(config).await;
    let run_id = server
        .post_json("/api/v1/jobs/release-check/run", json!({}))
        .await
        .1["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Wait on the API (no clock) until the scheduler has started it.
    let path = format!("/api/v1/runs/{}", run_id.replace(':', "%3A"));
    let mut status = String::new();
    for _ in 0..10_000 {
        status = server.get_json(&path).await["run"]["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "queued" {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, "running");

    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::task::spawn_blocking(move || {
        let exit = server.child.wait().unwrap();
        drop(server);
        exit
    })
    .await
    .unwrap();
    assert!(exit.success(), "graceful exit: {exit:?}");

    let store = engine::store::Store::open_sqlite(&dir.path().join("switchyard.db"))
        .await
        .unwrap();
    let run = store.run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
    assert_eq!(
        run.error.as_deref(),
        Some(engine::scheduler::SHUTDOWN_REASON)
    );
    let state = store.job_state("release-check").await.unwrap().unwrap();
    assert_eq!(state.running_at_ms, None);
    store.close().await;
}

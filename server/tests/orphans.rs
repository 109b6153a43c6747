//! Nothing the server spawned outlives it, even a `kill -9` of the server:
//! the Codex app-server (here the stand-in, scripted to stall, which like
//! the real binary does not stop at stdin EOF mid-turn) dies with it through
//! its parent-death signal, and what a tool's shell left in its process
//! group is killed by the next start's reap (issue 14). Processes are
//! checked by pid and start time; waits poll with a deadline.

mod common;

use common::ServeProcess;
use engine::process::registry::{proc_stat, processes, ProcStat};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

/// Polls `f` every 25 ms until it answers `Some`, failing after [`DEADLINE`].
async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether the process recorded as `p` still runs (a zombie does not; nor
/// does another process that got its pid).
fn still_running(p: &ProcStat) -> bool {
    proc_stat(p.pid).is_some_and(|now| now.start == p.start && now.is_alive())
}

/// Kills the group of `p` when a failing test leaves it behind.
struct Cleanup(Vec<ProcStat>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            if still_running(p) {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe {
                    libc::kill(p.pid, libc::SIGKILL);
                }
            }
        }
    }
}

async fn force_run(server: &ServeProcess, job: &str) -> String {
    let (status, body) = server
        .post_json(&format!("/api/v1/jobs/{job}/run"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    body["runId"].as_str().unwrap().to_owned()
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_stalled_codex_app_server_dies_with_a_killed_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::spawn(dir.path(), &[], "warn").await;
    let doc = server.get_json("/api/v1/config").await;
    let mut config = doc["config"].clone();
    // Every model's provider never answers; interrupts would be honoured,
    // but a dead server sends none.
    config["harnesses"]["codex"] = json!({"sim": "stall"});
    server.put_config(config).await;
    force_run(&server, "release-check").await;

    let server_pid = i32::try_from(server.child.id()).unwrap();
    let app_server = until("the Codex app-server to start", || {
        processes()
            .into_iter()
            .find(|p| p.ppid == server_pid && cmdline(p.pid).contains("codex-app-server"))
    })
    .await;
    let _cleanup = Cleanup(vec![app_server]);
    assert!(still_running(&app_server));

    server.kill();
    until("the app-server to die with the server", || {
        (!still_running(&app_server)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_tool_group_left_by_a_killed_server_is_reaped_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::spawn(dir.path(), &[], "warn").await;
    let doc = server.get_json("/api/v1/config").await;
    let mut config = doc["config"].clone();
    // The builder runs natively and its model asks for one command that
    // leaves a background process in the shell's group.
    let command = "echo $$ > leader.pid; sleep 1000 & echo $! > child.pid; wait";
    config["providers"]["openrouter"]["scripts"]["deepseek/deepseek-v3.2"] =
        json!(format!("tool(exec, {})", json!({ "command": command })));
    config["agents"]["entries"]["builder"] = json!({
        "name": "Builder",
        "model": {"primary": "openrouter/deepseek/deepseek-v3.2", "fallbacks": []},
        "embeddedHarness": {"runtime": "pi"},
        "tools": ["exec"]
    });
    server.put_config(config).await;
    force_run(&server, "builder-queue").await;

    let workspace = dir.path().join("workspaces").join("builder");
    let read_pid = |name: &str| -> Option<ProcStat> {
        let text = std::fs::read_to_string(workspace.join(name)).ok()?;
        proc_stat(text.trim().parse().ok()?)
    };
    let (leader, child) = until("the command to start", || {
        Some((read_pid("leader.pid")?, read_pid("child.pid")?))
    })
    .await;
    let _cleanup = Cleanup(vec![leader, child]);
    assert_eq!(
        child.pgrp, leader.pid,
        "the background job is in the shell's group"
    );
    assert!(still_running(&leader) && still_running(&child));
    assert!(
        group_records(dir.path()) >= 1,
        "the running group is recorded under the data dir"
    );

    server.kill();
    drop(server);
    until("the shell to die with the server", || {
        (!still_running(&leader)).then_some(())
    })
    .await;
    // The parent-death signal reaches the shell only: its background job
    // lives on until a server starts again on this data dir.
    assert!(
        still_running(&child),
        "only the direct child gets the signal"
    );

    let server = ServeProcess::spawn(dir.path(), &[], "warn").await;
    until("the next start to reap the group", || {
        (!still_running(&child)).then_some(())
    })
    .await;
    assert_eq!(
        group_records(dir.path()),
        0,
        "the dead server's records are gone"
    );
    drop(server);
}

/// Recorded groups of every server process on `data_dir`.
fn group_records(data_dir: &Path) -> usize {
    let Ok(owners) = std::fs::read_dir(data_dir.join("process-groups")) else {
        return 0;
    };
    owners
        .filter_map(Result::ok)
        .filter_map(|o| std::fs::read_dir(o.path()).ok())
        .map(Iterator::count)
        .sum()
}

//! The native engine end to end: a `sim` model that asks for tools, a real
//! workspace on disk, the transcript in the store.

mod common;

use common::TestDb;
use engine::agent::exec::ExecLimits;
use engine::agent::workspace::Workspace;
use engine::agent::{run_native, NativeRun, RunEnd};
use engine::clock::{SharedClock, SystemClock};
use engine::config::{Config, Tool};
use engine::router::{CallContext, Plan, Router};
use engine::sim::provider::SimProvider;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

struct Rig {
    router: Router,
    config: Config,
    _sim: Arc<SimProvider>,
    dir: tempfile::TempDir,
}

async fn rig(db: &TestDb, script: &str) -> Rig {
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let config = Config::from_json(&json!({
        "providers": {"sim": {"kind": "sim", "models": ["builder"], "scripts": {"builder": script}}},
        "agents": {"defaults": {"model": {"primary": "sim/builder"}}, "entries": {"builder": {}}}
    }))
    .unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let router = Router::new(
        db.store.clone(),
        clock,
        Arc::new(HashMap::<String, String>::new()),
    )
    .with_sim(sim.clone());
    Rig {
        router,
        config,
        _sim: sim,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Rig {
    async fn run(&self, run_id: &str, max_turns: Option<u32>) -> engine::agent::RunOutcome {
        self.run_for(run_id, max_turns, None).await
    }

    async fn run_for(
        &self,
        run_id: &str,
        max_turns: Option<u32>,
        wall_time: Option<std::time::Duration>,
    ) -> engine::agent::RunOutcome {
        let agent = self.config.effective_agents().into_iter().next().unwrap();
        let plan = Plan::for_agent(&self.config, &agent).unwrap();
        let workspace = Workspace::open(&self.dir.path().join("ws")).unwrap();
        let ctx = CallContext::new(run_id, None);
        run_native(NativeRun {
            router: &self.router,
            plan: &plan,
            ctx: &ctx,
            workspace: &workspace,
            tools: &[Tool::Exec, Tool::ReadFile, Tool::WriteFile, Tool::ListDir],
            system_prompt: Some("You build things."),
            message: "write the report",
            max_turns,
            max_tokens: None,
            wall_time,
            exec_limits: ExecLimits::default(),
        })
        .await
    }
}

async fn tools_run_in_the_workspace_and_the_transcript_is_kept(db: &TestDb) {
    let rig = rig(
        db,
        r#"tool(write_file, {"path": "out/report.txt", "content": "all green"}), tool(exec, {"command": "cat out/report.txt"}), tool(read_file, {"path": "../outside.txt"}), reply(done)"#,
    )
    .await;
    std::fs::write(rig.dir.path().join("outside.txt"), "secret").unwrap();
    let outcome = rig.run("native-1", None).await;
    assert_eq!(outcome.end, RunEnd::Answered("done".into()));
    assert_eq!(outcome.turns, 4);
    assert_eq!(
        std::fs::read_to_string(rig.dir.path().join("ws/out/report.txt")).unwrap(),
        "all green"
    );
    let transcript = rig.router.store().transcript("native-1").await.unwrap();
    let kinds: Vec<&str> = transcript.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "assistant"
        ]
    );
    assert!(
        transcript[5].body["content"]
            .as_str()
            .unwrap()
            .contains("all green"),
        "{}",
        transcript[5].body
    );
    let escape = &transcript[7].body;
    assert_eq!(escape["isError"], json!(true));
    assert!(
        escape["content"]
            .as_str()
            .unwrap()
            .contains("escapes the workspace"),
        "{escape}"
    );
    assert!(!escape["content"].as_str().unwrap().contains("secret"));
    assert_eq!(transcript[8].body["candidate"], json!("sim/builder"));
}

async fn max_turns_ends_a_tool_loop(db: &TestDb) {
    let rig = rig(db, r#"tool(list_dir, {})"#).await;
    let outcome = rig.run("native-2", Some(3)).await;
    assert!(
        matches!(
            outcome.end,
            RunEnd::LimitReached {
                limit: "maxTurns",
                ..
            }
        ),
        "{:?}",
        outcome.end
    );
    assert_eq!(outcome.turns, 3);
}

async fn a_broken_stream_keeps_its_partial_output(db: &TestDb) {
    let rig = rig(db, "stream_break_after(2)").await;
    let outcome = rig.run("native-3", None).await;
    match &outcome.end {
        RunEnd::RouteFailed { class, .. } => {
            assert_eq!(class.map(|c| c.as_str()), Some("stream_interrupted"))
        }
        other => panic!("{other:?}"),
    }
    let transcript = rig.router.store().transcript("native-3").await.unwrap();
    let partial = transcript
        .iter()
        .find(|e| e.kind == "partial")
        .expect("partial output kept");
    assert!(!partial.body["text"].as_str().unwrap().is_empty());
}

/// A provider key in the server's environment never reaches a command, so
/// never its output, so never the transcript; the run's commands share one
/// TMPDIR, removed when the run ends.
async fn the_transcript_holds_nothing_of_the_servers_environment(db: &TestDb) {
    const CANARY: &str = "SWITCHYARD_TEST_TRANSCRIPT_CANARY_41B7";
    std::env::set_var(CANARY, "sk-transcript-canary-e02c");
    let rig = rig(
        db,
        r#"tool(exec, {"command": "env; echo $TMPDIR > tmpdir; touch $TMPDIR/kept"}), tool(exec, {"command": "ls $TMPDIR"}), reply(done)"#,
    )
    .await;
    let outcome = rig.run("native-env", None).await;
    assert_eq!(outcome.end, RunEnd::Answered("done".into()));
    let transcript = rig.router.store().transcript("native-env").await.unwrap();
    let text =
        serde_json::to_string(&transcript.iter().map(|e| &e.body).collect::<Vec<_>>()).unwrap();
    assert!(text.contains("HOME="), "{text}");
    assert!(!text.contains("sk-transcript-canary"), "{text}");
    assert!(!text.contains(CANARY), "{text}");
    let second = transcript[5].body["content"].as_str().unwrap();
    assert!(second.contains("kept"), "{second}");
    let tmpdir = std::fs::read_to_string(rig.dir.path().join("ws/tmpdir")).unwrap();
    assert!(!std::path::Path::new(tmpdir.trim()).exists(), "{tmpdir}");
}

/// `limits.wallTimeSeconds: 18446744073709551615` panicked the run
/// (`Instant + Duration` overflows) and wedged its lane; a revision stored
/// before validation bounded it can still hold it.
async fn a_wall_time_past_any_instant_runs_normally(db: &TestDb) {
    let rig = rig(db, "ok").await;
    let forever = std::time::Duration::from_secs(u64::MAX);
    let outcome = rig.run_for("native-4", None, Some(forever)).await;
    assert!(
        matches!(outcome.end, RunEnd::Answered(_)),
        "{:?}",
        outcome.end
    );
}

on_both_backends!(
    the_transcript_holds_nothing_of_the_servers_environment,
    a_wall_time_past_any_instant_runs_normally,
    tools_run_in_the_workspace_and_the_transcript_is_kept,
    max_turns_ends_a_tool_loop,
    a_broken_stream_keeps_its_partial_output,
);

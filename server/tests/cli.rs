//! The `switchyard config` CLI as a real process: offline validation, and the
//! remote verbs against a server on port 0.

mod common;

use common::TestServer;
use serde_json::json;
use std::process::{Command, Output};

/// Runs the CLI; with `server` (base URL, API token) it talks to that server.
fn switchyard(args: &[&str], server: Option<&(String, String)>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(args)
        .env_remove("SWITCHYARD_URL")
        .env_remove("SWITCHYARD_TOKEN");
    if let Some((url, token)) = server {
        cmd.env("SWITCHYARD_URL", url)
            .env("SWITCHYARD_TOKEN", token);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn validate_works_offline_and_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json5");
    let demo = serde_json::to_string_pretty(&engine::sim::demo::fleet_config()).unwrap();
    std::fs::write(&good, format!("// the demo fleet\n{demo}")).unwrap();
    let out = switchyard(&["config", "validate", good.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("warning agents.entries.qa-engineer: fallback: none — ollama-cloud/glm-5.1 and openrouter/deepseek/deepseek-v3.2 can never run"), "{}", text(&out));

    let bad = dir.path().join("bad.json");
    let mut config = engine::sim::demo::fleet_config();
    config["agents"]["defaults"]["model"]["primary"] = json!("nowhere/x");
    config["cron"] = json!({"jobs": [{"id": "j", "agentId": "ghost", "message": "m", "schedule": {"kind": "at", "atMs": 0}}]});
    std::fs::write(&bad, config.to_string()).unwrap();
    let out = switchyard(&["config", "validate", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("error   agents.defaults.model.primary:"), "{t}");
    assert!(
        t.contains("error   cron.jobs[0].agentId: agent `ghost` does not exist"),
        "{t}"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"agents\": {,\n}").unwrap();
    let out = switchyard(&["config", "validate", broken.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("line 2, column"), "{}", text(&out));

    // An OpenClaw file is named as one, with the command that imports it.
    let openclaw = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/tests/fixtures/openclaw/2026.4.10/openclaw.json5"
    );
    let out = switchyard(&["config", "validate", openclaw], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("this is an OpenClaw openclaw.json")
            && text(&out).contains("switchyard config import --from openclaw"),
        "{}",
        text(&out)
    );
}

/// 5,000 nested `[` in a file aborted `config validate` (the JSON5 parse
/// recursed past the main thread's stack); the policy flags of `serve`
/// decide what an offline validation accepts too.
#[test]
fn validate_bounds_nesting_and_follows_the_policy_flags() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.json5");
    std::fs::write(
        &deep,
        format!("{{x: {}{}}}", "[".repeat(5_000), "]".repeat(5_000)),
    )
    .unwrap();
    let out = switchyard(&["config", "validate", deep.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("line 1, column 68: nested deeper than 64 levels"),
        "{}",
        text(&out)
    );

    let file = dir.path().join("policy.json");
    let mut config = engine::sim::demo::fleet_config();
    config["providers"]["acme"] = json!({"kind": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1",
        "apiKey": {"env": "ACME_KEY"}, "models": ["m"]});
    config["harnesses"]["codex"] = json!({"command": ["/opt/codex/bin/codex", "app-server"]});
    std::fs::write(&file, config.to_string()).unwrap();
    let path = file.to_str().unwrap();
    let out = switchyard(&["config", "validate", path], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(
            "error   providers.acme.apiKey.env: environment variable ACME_KEY is not declared"
        ),
        "{t}"
    );
    assert!(t.contains("error   harnesses.codex.command: `/opt/codex/bin/codex app-server` is not a Codex command this server allows"), "{t}");
    let allowed = [
        "config",
        "validate",
        path,
        "--secret-env",
        "ACME_KEY",
        "--codex-command",
        "/opt/codex/bin/codex app-server",
    ];
    let out = switchyard(&allowed, None);
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["config", "validate", path])
        .env("SWITCHYARD_SECRET_ENV", "OTHER,ACME_KEY")
        .env(
            "SWITCHYARD_CODEX_COMMAND",
            "codex app-server,/opt/codex/bin/codex app-server",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test]
async fn export_diff_and_rollback_talk_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = (server.base.clone(), server.admin_token.clone());
    assert_eq!(
        server
            .patch_json(
                "/api/v1/agents/builder/harness",
                json!({"fallback": "none"})
            )
            .await
            .0,
        200
    );

    let run = |args: Vec<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || switchyard(&args, Some(&url)))
    };
    let out = run(vec!["config", "export"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let exported: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        exported["agents"]["entries"]["builder"]["embeddedHarness"]["fallback"],
        "none"
    );

    let out = run(vec!["config", "diff", "1", "2"]).await.unwrap();
    assert!(
        text(&out).contains("+          \"fallback\": \"none\""),
        "{}",
        text(&out)
    );

    let out = run(vec!["config", "rollback", "1"]).await.unwrap();
    assert!(text(&out).contains("now revision #3"), "{}", text(&out));
    let out = run(vec!["config", "rollback", "42"]).await.unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("404"), "{}", text(&out));
    server.stop().await;
}

#[tokio::test]
async fn import_from_openclaw_dry_run_then_for_real() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = (server.base.clone(), server.admin_token.clone());
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../engine/tests/fixtures");
    let seed = format!("{fixtures}/openclaw-seed.json5");
    let run = move |args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            switchyard(&args, Some(&url))
        })
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["config", "import", "--from", "openclaw"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };

    let out = run(args(&[&seed, "--cron-dir", fixtures, "--dry-run"]))
        .await
        .unwrap();
    let t = text(&out);
    assert!(
        !out.status.success(),
        "a dry run that lists errors must fail: {t}"
    );
    assert!(t.contains("the import would be refused"), "{t}");
    assert!(
        t.contains("shape: agents.definitions[] with embeddedHarness (OpenClaw 2026.4)"),
        "{t}"
    );
    assert!(
        t.contains("problem agents.definitions[4].id: duplicate agent id `builder`: imported as `builder-2`"),
        "{t}"
    );
    assert!(t.contains("kept    gateway (unknown key)"), "{t}");
    assert!(t.contains("state   job 04b2376f-d1ce-4d69-8c4e-cd56517b94f5: consecutiveErrors=52 runningAtMs=1776764844708"), "{t}");
    assert!(
        t.contains("error   agents.entries.qa-engineer.model.fallbacks[0]"),
        "{t}"
    );
    assert!(t.contains("dry run: nothing stored"), "{t}");
    assert!(!t.contains("sk-or-v1"), "a literal secret was printed");

    // For real: the unknown provider blocks it, and nothing changes.
    let out = run(args(&[&seed])).await.unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("`arcee`"), "{}", text(&out));
    let revisions: serde_json::Value = server.get_json("/api/v1/config/revisions").await;
    assert_eq!(revisions.as_array().unwrap().len(), 1);

    // A clean file imports as a new revision.
    let clean = dir.path().join("openclaw.json");
    std::fs::write(
        &clean,
        std::fs::read_to_string(&seed)
            .unwrap()
            .replace("\"arcee/trinity-large\"", "\"ollama-cloud/glm-5.1\""),
    )
    .unwrap();
    let out = run(args(&[clean.to_str().unwrap(), "--cron-dir", fixtures]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("imported as revision #2"),
        "{}",
        text(&out)
    );

    // And back out in OpenClaw's shape.
    let out_dir = dir.path().join("exported");
    let out = run(vec![
        "config".into(),
        "export".into(),
        "--to".into(),
        "openclaw".into(),
        "--out-dir".into(),
        out_dir.to_str().unwrap().into(),
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("openclaw.json")).unwrap())
            .unwrap();
    assert_eq!(exported["agents"]["list"].as_array().unwrap().len(), 5);
    // The imported job's streak is stored with it, not just reported.
    let jobs: serde_json::Value = server.get_json("/api/v1/jobs").await;
    let job = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "04b2376f-d1ce-4d69-8c4e-cd56517b94f5")
        .unwrap_or_else(|| panic!("{jobs:#}"));
    assert_eq!(job["state"]["consecutiveErrors"], 52, "{job:#}");
    assert_eq!(exported["gateway"]["port"], 18789);
    server.stop().await;
}

/// `switchyard sim provider` serves scripted models over real HTTP.
#[tokio::test]
async fn sim_provider_serves_the_scripts_it_is_given() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "sim",
            "provider",
            "--bind",
            "127.0.0.1:0",
            "--model",
            "glm-5.1=server_error, ok",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    assert!(lines
        .next()
        .unwrap()
        .unwrap()
        .starts_with("base URL http://127.0.0.1:"));
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "model glm-5.1: server_error, ok"
    );
    let http = reqwest::Client::new();
    let body =
        serde_json::json!({"model": "glm-5.1", "messages": [{"role": "user", "content": "hi"}]});
    let first = http
        .post(format!("{addr}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 500);
    let second = http
        .post(format!("{addr}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();

    let bad = switchyard(&["sim", "provider", "--model", "glm=rate_limt(5)"], None);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("unknown step \"rate_limt(5)\""),
        "{}",
        text(&bad)
    );
}

/// `switchyard cron …` against a running server: force-run answers at once
/// with the run id, history shows the seed's fields, enable/disable and
/// cancel name what is wrong when they cannot act.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_verbs_talk_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = (server.base.clone(), server.admin_token.clone());
    let cli = |args: Vec<String>| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                switchyard(&args, Some(&url))
            })
            .await
            .unwrap()
        }
    };
    let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();

    let out = cli(args("cron run release-check")).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"enqueued":true,"ok":true,"runId":"manual:release-check:1"}"#
    );
    let out = cli(args("cron list")).await;
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    for job in [
        "ceo-daily-briefing",
        "builder-queue",
        "release-check",
        "qa-regression",
    ] {
        assert!(listing.contains(job), "{listing}");
    }
    assert!(listing.contains("every 3 minutes"), "{listing}");

    // Wait (on the API) for the run to end, then read the history.
    for _ in 0..400 {
        let page = server.get_json("/api/v1/runs?job=release-check").await;
        if page["runs"][0]["status"] != "queued" && page["runs"][0]["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let out = cli(args("cron runs --id release-check")).await;
    let history = text(&out);
    assert!(
        history.contains(r#""runId":"manual:release-check:1""#),
        "{history}"
    );
    assert!(history.contains(r#""status":"ok""#), "{history}");
    assert!(history.contains(r#""durationMs":"#), "{history}");
    assert!(history.contains(r#"{"consecutiveErrors":0}"#), "{history}");

    let out = cli(args("cron disable qa-regression")).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"enabled":false,"jobId":"qa-regression"}"#
    );
    let out = cli(args("cron enable nope")).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("404"), "{}", text(&out));
    let out = cli(args("cron cancel manual:release-check:1")).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("already ended (ok)"), "{}", text(&out));
    server.stop().await;
}

#[tokio::test]
async fn doctor_checks_the_codex_handshake_providers_and_chains() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = (server.base.clone(), server.admin_token.clone());
    let doctor = |json: bool| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let args: &[&str] = if json {
                &["doctor", "--json"]
            } else {
                &["doctor"]
            };
            switchyard(args, Some(&url))
        })
    };
    // The demo's Codex stand-in crashes at start: every Codex agent fails.
    let out = doctor(false).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("FAIL adrian-ceo")
            && t.contains("harness_crashed: codex app-server exited before the handshake: code=1"),
        "{t}"
    );
    assert!(
        t.contains("ok   ollama-cloud         sim               answered in"),
        "{t}"
    );
    assert!(
        t.contains("skipped: served only through the Codex app-server"),
        "{t}"
    );
    assert!(t.contains("warn qa-engineer"), "{t}");
    assert!(t.contains("doctor: some checks failed"), "{t}");

    // A working app-server: every check passes, warnings stay warnings.
    let mut config = engine::sim::demo::fleet_config();
    config["harnesses"]["codex"]["sim"] = json!("ok");
    server.put_config(config).await;
    let out = doctor(true).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["codex"].as_array().unwrap().len(), 4);
    assert!(report["codex"][0]["handshakeMs"].is_u64(), "{report:#}");
    assert_eq!(report["warnings"][0]["agent"], "qa-engineer");
    server.stop().await;
}

/// `--bind 0.0.0.0` used to start without a word: now it needs the URL
/// operators use, so the Host and Origin checks know the server's name.
#[test]
fn a_non_loopback_bind_refuses_to_start_without_a_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = switchyard(&["serve", "--bind", "0.0.0.0:0", "--data-dir", data], None);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("--public-url"), "{said}");
    assert!(
        !dir.path().join("switchyard.db").exists(),
        "nothing was opened"
    );
}

/// Runs the CLI with its stdout (and with `both`, its stderr) a pipe whose
/// reading end is already closed, as `switchyard … | head` is once `head`
/// has its lines: every write fails with EPIPE, deterministically.
fn closed_pipe(args: &[&str], server: &(String, String), both: bool) -> std::process::ExitStatus {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let (err_reader, err_writer) = std::io::pipe().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(args)
        .env("SWITCHYARD_URL", &server.0)
        .env("SWITCHYARD_TOKEN", &server.1)
        .stdout(writer);
    if both {
        drop(err_reader);
        cmd.stderr(err_writer);
        return cmd.status().unwrap();
    }
    cmd.stderr(err_writer);
    let mut child = cmd.spawn().unwrap();
    // The parent's copies of the write ends are gone with `cmd`, so reading
    // stderr ends when the child exits.
    drop(cmd);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut { err_reader }, &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{args:?}: {stderr}"
    );
    assert!(
        stderr.is_empty(),
        "{args:?} says nothing on a closed pipe: {stderr}"
    );
    status
}

/// `switchyard cron runs … | head` panicked ("failed printing to stdout:
/// Broken pipe", status 101). Every output path ends quietly instead, with
/// 141 as a command SIGPIPE killed would.
#[tokio::test]
async fn a_closed_pipe_ends_the_cli_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = (server.base.clone(), server.admin_token.clone());
    for job in ["release-check", "builder-queue"] {
        server
            .post_json(&format!("/api/v1/jobs/{job}/run"), json!({}))
            .await;
    }
    // Revision 2, for a diff with lines in it.
    server
        .patch_json(
            "/api/v1/agents/builder/harness",
            json!({"fallback": "none"}),
        )
        .await;
    let commands: [&[&str]; 7] = [
        &["cron", "runs", "--id", "release-check"],
        &["cron", "list"],
        &["cron", "list", "--json"],
        &["cron", "run", "builder-queue"],
        &["config", "export"],
        &["config", "diff", "1", "2"],
        &["doctor", "--json"],
    ];
    for args in commands {
        for both in [false, true] {
            let url = url.clone();
            let status = tokio::task::spawn_blocking(move || closed_pipe(args, &url, both))
                .await
                .unwrap();
            assert_eq!(
                status.code(),
                Some(141),
                "{args:?} (stderr closed too: {both})"
            );
        }
    }
    server.stop().await;
}

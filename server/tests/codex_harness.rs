//! The Codex app-server harness against `switchyard sim codex-app-server`
//! as a real subprocess: every outcome's class, and the harness semantics
//! of DESIGN §2 for every runtime × fallback × failure layer through the
//! real router and a real SQLite store.
//!
//! Timeouts that are the behaviour under test (handshake, idle) are set to
//! a few hundred milliseconds; nothing here sleeps to wait for anything.

use engine::clock::{SharedClock, SystemClock};
use engine::config::policy::ServerPolicy;
use engine::config::{AgentId, Config, ModelRef};
use engine::failure::FailureClass;
use engine::harness::codex::{CodexAppServer, CodexEnv};
use engine::provider::{ChatRequest, Completion, Failure, Message};
use engine::router::{CallContext, CodexHarness, Plan, Policy, Router};
use engine::sim::provider::SimProvider;
use engine::store::Store;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPARK: &str = "openai-codex/gpt-5.3-codex-spark";
const GPT: &str = "openai-codex/gpt-5.4";
const GLM: &str = "ollama-cloud/glm-5.1";

fn exe() -> PathBuf {
    env!("CARGO_BIN_EXE_switchyard").into()
}

/// The harness as a server runs it; `/nonexistent/codex app-server` is
/// allowed so a spawn failure can be tested.
fn codex_env(dir: &Path) -> CodexEnv {
    let policy = ServerPolicy::default()
        .with_codex_commands(vec![
            vec!["/nonexistent/codex".into(), "app-server".into()],
            vec!["codex".into(), "app-server".into()],
        ])
        .unwrap()
        .with_secret_env(["ACME_API_KEY"])
        .unwrap();
    CodexEnv {
        default_home: dir.join("codex-home"),
        self_exe: exe(),
        policy: Arc::new(policy),
    }
}

/// The seed's chain: two Codex models, then an external sim provider.
fn fleet(runtime: &str, fallback: &str, codex: Value) -> Config {
    Config::from_json(&json!({
        "providers": {
            "openai-codex": {"kind": "codex", "family": "codex", "models": ["gpt-5.3-codex-spark", "gpt-5.4"]},
            "ollama-cloud": {"kind": "sim", "models": ["glm-5.1"], "scripts": {"glm-5.1": "ok"}},
            "acme": {"kind": "openai-responses", "family": "codex", "baseUrl": "http://127.0.0.1:9/v1",
                     "apiKey": {"env": "ACME_API_KEY"}, "models": ["acme-coder"]}
        },
        "agents": {
            "defaults": {
                "model": {"primary": SPARK, "fallbacks": [GPT, GLM]},
                "embeddedHarness": {"runtime": runtime, "fallback": fallback}
            },
            "entries": {"builder": {}}
        },
        "harnesses": {"codex": codex}
    }))
    .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user("status?")],
        stream: true,
        ..ChatRequest::default()
    }
}

/// One attempt of `model` straight through the harness.
async fn attempt(dir: &Path, codex: Value, model: &str) -> (Result<Completion, Failure>, Duration) {
    let config = fleet("codex", "pi", codex);
    let agent = config.effective_agent("builder").unwrap();
    let mut plan = Plan::for_agent(&config, &agent).unwrap();
    let model: ModelRef = model.parse().unwrap();
    let candidate = match plan.candidates.iter().find(|c| c.model == model) {
        Some(c) => c.clone(),
        None => Plan::single(&config, &model).candidates.remove(0),
    };
    plan.candidates.clear();
    let harness = CodexAppServer::new(codex_env(dir));
    let mut ctx = CallContext::new("t", Some(AgentId::try_from("builder").unwrap()));
    ctx.cwd = Some(dir.to_owned());
    let started = Instant::now();
    let result = harness
        .attempt(&ctx, &candidate, &plan.codex, &request())
        .await;
    (result, started.elapsed())
}

fn sim(behave: &str) -> Value {
    json!({"sim": behave, "handshakeTimeoutMs": 3000, "idleTimeoutMs": 3000})
}

#[tokio::test]
async fn every_outcome_gets_its_class() {
    // (behaviour, class, words the detail must contain)
    let cases: &[(&str, FailureClass, &[&str])] = &[
        (
            "crash",
            FailureClass::HarnessCrashed,
            &["exited before the handshake: code=1", "crashing at start"],
        ),
        (
            "gpt-5.3-codex-spark=crash",
            FailureClass::HarnessCrashed,
            &["mid-turn: code=101", "panicked"],
        ),
        (
            "gpt-5.3-codex-spark=rate_limit(3600)",
            FailureClass::RateLimit,
            &["429", "interrupted at the first signal"],
        ),
        (
            "gpt-5.3-codex-spark=auth",
            FailureClass::Auth,
            &["401", "interrupted at the first signal"],
        ),
        (
            "gpt-5.3-codex-spark=usage_limit",
            FailureClass::UsageLimit,
            &["usageLimitExceeded"],
        ),
        (
            "gpt-5.3-codex-spark=server_error",
            FailureClass::ServerError,
            &["internalServerError"],
        ),
        (
            "gpt-5.3-codex-spark=overloaded",
            FailureClass::Overloaded,
            &["serverOverloaded"],
        ),
        (
            "gpt-5.3-codex-spark=context_overflow",
            FailureClass::ContextOverflow,
            &["contextWindowExceeded"],
        ),
        (
            "gpt-5.3-codex-spark=fail",
            FailureClass::ServerError,
            &["other"],
        ),
        (
            "gpt-5.3-codex-spark=stream_break_after(2)",
            FailureClass::StreamInterrupted,
            &["stream disconnected"],
        ),
        (
            "gpt-5.3-codex-spark=unknown_provider",
            FailureClass::ProviderNotFound,
            &["Model provider `openai` not found"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (behave, class, words) in cases {
        let (result, took) = attempt(dir.path(), sim(behave), SPARK).await;
        let failure = result.expect_err(behave);
        assert_eq!(failure.class, *class, "{behave}: {failure}");
        for word in *words {
            assert!(
                failure.detail.contains(word),
                "{behave}: `{word}` not in {}",
                failure.detail
            );
        }
        // No outcome waits on Codex's own retries or sleeps.
        assert!(took < Duration::from_secs(2), "{behave} took {took:?}");
    }
}

#[tokio::test]
async fn a_success_streams_the_last_message_and_its_usage() {
    let dir = tempfile::tempdir().unwrap();
    let (result, _) = attempt(dir.path(), sim("ok"), SPARK).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "sim codex gpt-5.3-codex-spark ok");
    assert_eq!(completion.usage.output_tokens, 4);
    assert!(
        dir.path().join("codex-home/builder").is_dir(),
        "CODEX_HOME per agent, created"
    );
}

#[tokio::test]
async fn hints_and_partial_output_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    // The hour-long Retry-After shows only on stderr; it becomes the cooldown.
    let (r, _) = attempt(
        dir.path(),
        sim("gpt-5.3-codex-spark=rate_limit(3600)"),
        SPARK,
    )
    .await;
    assert_eq!(r.unwrap_err().retry_after_ms, Some(3_600_000));
    // The usage-limit reset is only in the message text.
    let (r, _) = attempt(dir.path(), sim("gpt-5.3-codex-spark=usage_limit"), SPARK).await;
    assert_eq!(r.unwrap_err().retry_after_ms, Some(7_500_000));
    // A re-streamed item is not appended to the first one.
    let (r, _) = attempt(
        dir.path(),
        sim("gpt-5.3-codex-spark=stream_break_after(2)"),
        SPARK,
    )
    .await;
    assert_eq!(r.unwrap_err().partial.as_deref(), Some("sim codex "));
    let (r, _) = attempt(dir.path(), sim("gpt-5.3-codex-spark=crash"), SPARK).await;
    assert_eq!(r.unwrap_err().partial.as_deref(), Some("sim "));
}

#[tokio::test]
async fn timeouts_tell_a_hung_process_from_a_silent_provider() {
    let dir = tempfile::tempdir().unwrap();
    let quick =
        |behave: &str| json!({"sim": behave, "handshakeTimeoutMs": 300, "idleTimeoutMs": 300});
    let (r, _) = attempt(dir.path(), quick("hang_handshake"), SPARK).await;
    let f = r.unwrap_err();
    assert_eq!(f.class, FailureClass::HandshakeTimeout, "{f}");
    assert!(
        f.detail.contains("no initialize result within 300 ms"),
        "{f}"
    );
    // The provider never answers, but Codex honours turn/interrupt: a model
    // timeout, which cools the candidate down.
    let (r, _) = attempt(dir.path(), quick("stall"), SPARK).await;
    let f = r.unwrap_err();
    assert_eq!(f.class, FailureClass::Timeout, "{f}");
    assert!(
        f.detail.contains("no event for 300 ms; turn interrupted"),
        "{f}"
    );
    // The process itself stops answering, interrupt included.
    let (r, _) = attempt(dir.path(), quick("hang"), SPARK).await;
    let f = r.unwrap_err();
    assert_eq!(f.class, FailureClass::HarnessHung, "{f}");
    assert!(f.detail.contains("did not answer turn/interrupt"), "{f}");
}

#[tokio::test]
async fn what_cannot_run_never_reaches_a_process() {
    let dir = tempfile::tempdir().unwrap();
    let codex = json!({"command": ["/nonexistent/codex", "app-server"]});
    let (r, _) = attempt(dir.path(), codex, SPARK).await;
    let f = r.unwrap_err();
    assert_eq!(f.class, FailureClass::SpawnFailed, "{f}");
    assert!(
        f.detail.contains("could not start `/nonexistent/codex`"),
        "{f}"
    );
    // A non-codex candidate is refused before any spawn.
    let (r, _) = attempt(dir.path(), sim("ok"), GLM).await;
    let f = r.unwrap_err();
    assert_eq!(f.class, FailureClass::HarnessMismatch, "{f}");
    assert!(!dir.path().join("codex-home/builder/sim-codex.pid").exists());
}

#[tokio::test]
async fn a_codex_family_provider_is_injected_per_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = attempt(dir.path(), sim("ok"), "acme/acme-coder").await;
    assert_eq!(r.unwrap().text, "sim codex acme-coder ok");
}

#[tokio::test]
async fn dropping_an_attempt_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("codex-home/builder/sim-codex.pid");
    let home = dir.path().to_owned();
    let task = tokio::spawn(async move { attempt(&home, sim("stall"), SPARK).await });
    let pid: i32 = wait_for(|| std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()).await;
    // The pid file is written at start; the turn is stalled soon after.
    task.abort();
    let _ = task.await;
    wait_for(|| (!alive(pid)).then_some(())).await;
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Polls `probe` until it yields (a state change we cannot subscribe to),
/// failing after 10 s.
async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not reached in 10 s");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_stand_in_rejects_providers_like_the_real_binary() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // At spawn: exit 1 with the real message.
    let out = tokio::process::Command::new(exe())
        .args(["sim", "codex-app-server", "-c", "model_provider=openrouter"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Error: Model provider `openrouter` not found"));
    // Per thread: a JSON-RPC error, and the process keeps running.
    let mut child = tokio::process::Command::new(exe())
        .args(["sim", "codex-app-server"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for message in [
        json!({"method": "initialize", "id": 1, "params": {"clientInfo": {"name": "t", "version": "0"}, "capabilities": {}}}),
        json!({"method": "initialized"}),
        json!({"method": "thread/start", "id": 2, "params": {"model": "deepseek", "modelProvider": "openrouter"}}),
        json!({"method": "thread/start", "id": 3, "params": {"model": "m", "modelProvider": "p",
               "config": {"model_providers.p": {"name": "p", "base_url": "http://x", "wire_api": "chat"}}}}),
        json!({"method": "thread/start", "id": 4, "params": {"model": "gpt-5.4", "modelProvider": "openai"}}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let mut replies = HashMap::new();
    while replies.len() < 4 {
        let line = lines.next_line().await.unwrap().unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        replies.insert(v["id"].as_u64().unwrap(), v);
    }
    assert_eq!(replies[&2]["error"]["code"], -32600);
    assert_eq!(
        replies[&2]["error"]["message"],
        "failed to load configuration: Model provider `openrouter` not found"
    );
    assert!(replies[&3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wire_api"));
    assert!(replies[&4]["result"]["thread"]["id"].is_string());
    drop(stdin); // closing stdin ends it
    assert!(child.wait().await.unwrap().success());
}

// ---- DESIGN §2 through the router ------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    Healthy,
    Config,
    Model,
    Process,
}

impl Layer {
    fn behaviour(self) -> &'static str {
        match self {
            Layer::Healthy => "ok",
            Layer::Config => "gpt-5.3-codex-spark=unknown_provider",
            Layer::Model => "gpt-5.3-codex-spark=server_error; gpt-5.4=server_error",
            Layer::Process => "crash",
        }
    }
}

type Trail = Vec<(String, String, String)>;

fn trail(steps: &[(&str, &str, &str)]) -> Trail {
    steps
        .iter()
        .map(|(d, c, r)| (d.to_string(), c.to_string(), r.to_string()))
        .collect()
}

/// DESIGN §2's tables, written out per case: the decisions and who serves.
fn expected(
    runtime: &str,
    fallback: &str,
    layer: Layer,
) -> (Trail, Option<(&'static str, &'static str)>) {
    use Layer::*;
    const OK: &str = "candidate_succeeded";
    const FAILED: &str = "candidate_failed";
    const SKIP: &str = "skip_candidate";
    const HANDOFF: &str = "harness_handoff";
    if runtime == "pi" {
        // Codex-kind candidates have no native endpoint.
        let t = trail(&[
            (SKIP, SPARK, "harness_mismatch"),
            (SKIP, GPT, "harness_mismatch"),
            (OK, GLM, "none"),
        ]);
        return (t, Some((GLM, "native")));
    }
    // In `codex` runtime a non-codex candidate runs natively only with fallback pi.
    let glm_native = runtime == "auto" || fallback == "pi";
    match layer {
        Healthy => (trail(&[(OK, SPARK, "none")]), Some((SPARK, "codex"))),
        Config => (
            trail(&[(FAILED, SPARK, "provider_not_found"), (OK, GPT, "none")]),
            Some((GPT, "codex")),
        ),
        Model if glm_native => (
            trail(&[
                (FAILED, SPARK, "server_error"),
                (FAILED, GPT, "server_error"),
                (HANDOFF, GLM, "server_error"),
                (OK, GLM, "none"),
            ]),
            Some((GLM, "native")),
        ),
        Model => (
            trail(&[
                (FAILED, SPARK, "server_error"),
                (FAILED, GPT, "server_error"),
                (SKIP, GLM, "harness_mismatch"),
            ]),
            None,
        ),
        Process => {
            let glm_stopped = if runtime == "auto" {
                "run_failed"
            } else {
                "harness_mismatch"
            };
            match fallback {
                "pi" => (
                    trail(&[
                        (FAILED, SPARK, "harness_crashed"),
                        (SKIP, GPT, "harness_down"),
                        (HANDOFF, GLM, "harness_crashed"),
                        (OK, GLM, "none"),
                    ]),
                    Some((GLM, "native")),
                ),
                "codex" => (
                    trail(&[
                        (FAILED, SPARK, "harness_crashed"),
                        (FAILED, SPARK, "harness_crashed"),
                        (SKIP, GPT, "run_failed"),
                        (SKIP, GLM, glm_stopped),
                    ]),
                    None,
                ),
                _ => (
                    trail(&[
                        (FAILED, SPARK, "harness_crashed"),
                        (SKIP, GPT, "run_failed"),
                        (SKIP, GLM, glm_stopped),
                    ]),
                    None,
                ),
            }
        }
    }
}

async fn route(
    dir: &Path,
    runtime: &str,
    fallback: &str,
    behave: &str,
) -> (Trail, Option<(String, String)>, String) {
    let store = Store::open_sqlite(&dir.join("switchyard.db"))
        .await
        .unwrap();
    let provider = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let clock: SharedClock = Arc::new(SystemClock);
    let router = Router::new(store, clock, Arc::new(HashMap::<String, String>::new()))
        .with_sim(provider)
        .with_codex(Arc::new(CodexAppServer::new(codex_env(dir))))
        .with_policy(Policy {
            harness_restart_backoff_ms: 10,
            ..Policy::default()
        });
    let config = fleet(runtime, fallback, sim(behave));
    let agent = config.effective_agent("builder").unwrap();
    let plan = Plan::for_agent(&config, &agent).unwrap();
    let run = "table";
    let mut ctx = CallContext::new(run, Some(AgentId::try_from("builder").unwrap()));
    ctx.cwd = Some(dir.to_owned());
    let result = router.call(&ctx, &plan, &request()).await;
    let decisions: Trail = router
        .store()
        .run_decisions(run)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.decision, d.candidate, d.reason))
        .collect();
    match result {
        Ok(served) => (
            decisions,
            Some((
                served.candidate.to_string(),
                format!("{:?}", served.harness).to_lowercase(),
            )),
            String::new(),
        ),
        Err(e) => (decisions, None, e.to_string()),
    }
}

#[tokio::test]
async fn harness_semantics_for_every_runtime_fallback_and_layer() {
    for runtime in ["pi", "codex", "auto"] {
        for fallback in ["pi", "codex", "none"] {
            for layer in [Layer::Healthy, Layer::Config, Layer::Model, Layer::Process] {
                let dir = tempfile::tempdir().unwrap();
                let case = format!("runtime {runtime}, fallback {fallback}, {layer:?}");
                let (got, served, error) =
                    route(dir.path(), runtime, fallback, layer.behaviour()).await;
                let (want, want_served) = expected(runtime, fallback, layer);
                assert_eq!(got, want, "{case}");
                assert_eq!(
                    served,
                    want_served.map(|(c, h)| (c.to_owned(), h.to_owned())),
                    "{case}: {error}"
                );
                // No non-codex candidate ever reached the subprocess.
                assert!(!error.contains("not found"), "{case}: {error}");
                if layer == Layer::Process && fallback != "pi" && runtime != "pi" {
                    assert!(error.starts_with("harness_crashed: "), "{case}: {error}");
                    assert!(
                        error.contains(&format!("`embeddedHarness.fallback: {fallback}`")),
                        "{case}: {error}"
                    );
                    assert!(
                        error.contains(&format!("never tried: {GPT}, {GLM}")),
                        "{case}: {error}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn fallback_codex_restarts_the_process_once() {
    let dir = tempfile::tempdir().unwrap();
    let (got, served, _) = route(dir.path(), "codex", "codex", "crash_once").await;
    assert_eq!(
        got,
        trail(&[
            ("candidate_failed", SPARK, "harness_crashed"),
            ("candidate_succeeded", SPARK, "none")
        ])
    );
    assert_eq!(served, Some((SPARK.to_owned(), "codex".to_owned())));
}

/// The app-server runs the model's shell commands with the environment it
/// was given, so it must get none of the server's secrets: only `PATH`,
/// `HOME`, `CODEX_HOME`, its own logging switches and the key variable of the
/// candidate's provider.
#[tokio::test]
async fn the_app_server_gets_only_its_providers_key_from_the_servers_environment() {
    const CANARY: &str = "SWITCHYARD_TEST_CODEX_CANARY_7C1D";
    std::env::set_var(CANARY, "sk-codex-canary-3b9f");
    std::env::set_var("ACME_API_KEY", "acme-key-for-the-test");
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("codex-home/builder/sim-codex.pid");
    let home = dir.path().to_owned();
    let task = tokio::spawn(async move { attempt(&home, sim("stall"), "acme/acme-coder").await });
    let pid: i32 = wait_for(|| std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()).await;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    task.abort();
    let _ = task.await;

    let environ = String::from_utf8(environ).unwrap();
    assert!(!environ.contains("sk-codex-canary"), "{environ}");
    let vars: std::collections::BTreeMap<&str, &str> = environ
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let names: Vec<&str> = vars.keys().copied().collect();
    assert_eq!(
        names,
        [
            "ACME_API_KEY",
            "CODEX_HOME",
            "HOME",
            "NO_COLOR",
            "PATH",
            "RUST_BACKTRACE",
            "RUST_LOG"
        ],
        "{environ}"
    );
    assert_eq!(vars["ACME_API_KEY"], "acme-key-for-the-test");
}

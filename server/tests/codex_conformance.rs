//! Conformance against the real peer (issue 8, point 5): our Codex harness
//! drives the real `codex app-server` (`@openai/codex`, pinned in
//! `scripts/codex-peer`, installed once into `.cache/codex-peer/`), which
//! talks to our in-process `SimProvider` over the Responses API as a
//! per-thread provider (`kind: openai-responses`, `family: codex`). Every
//! case goes through the real `Router` with the chain
//! `fakecodex/conf-model` (runtime codex, fallback pi) → `native/glm-5.1`
//! (the native engine on the same sim) and checks the failure class, the
//! decision trail and how soon the next attempt starts after the failure.
//!
//! Where `scripts/codex-peer` exits 2 (npm missing, registry unreachable),
//! every test prints `SKIP: real codex not available: <reason>` and passes,
//! except under `CI=true`, where the registry is reachable and a skip fails.
//!
//! Time to fallback, real binary vs the stand-in (`switchyard sim
//! codex-app-server`), for docs/BENCHMARKS.md:
//! `cargo test -p server --test codex_conformance -- --ignored --nocapture`.

use engine::clock::{SharedClock, SystemClock};
use engine::config::policy::ServerPolicy;
use engine::config::{AgentId, Config};
use engine::failure::FailureClass;
use engine::harness::codex::{CodexAppServer, CodexEnv};
use engine::provider::{ChatRequest, Message};
use engine::router::{CallContext, CodexHarness, Plan, Policy, RouteError, Router, Served};
use engine::sim::provider::SimProvider;
use engine::store::Store;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const CODEX_MODEL: &str = "fakecodex/conf-model";
/// The model name Codex sends to the provider (and the sim's script key).
const CONF_MODEL: &str = "conf-model";
const NATIVE: &str = "native/glm-5.1";
/// Failure detected → next attempt started, for every case.
const NEXT_WITHIN: Duration = Duration::from_secs(3);

/// The real binary, once per test process: `Some(path)`, or `None` after
/// printing why the suite skips.
fn real_codex() -> Option<&'static Path> {
    static PEER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let peer = PEER.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/codex-peer");
        let out = std::process::Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        match out.status.code() {
            Some(0) => Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())),
            // The last line says why; earlier ones are progress.
            Some(2) => Err(stderr
                .lines()
                .last()
                .unwrap_or("no reason given")
                .to_owned()),
            _ => panic!("{} failed ({}): {stderr}", script.display(), out.status),
        }
    });
    match peer {
        Ok(path) => Some(path.as_path()),
        Err(reason) => {
            // Under CI the registry is reachable: a skip means the install
            // broke, and a green run would hide it.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the real codex is not available under CI=true: {reason}"
            );
            // Straight to the stderr handle: libtest captures `eprintln!`,
            // and a skip must show in a plain `cargo test` / `make test`.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: real codex not available: {reason}"
            );
            None
        }
    }
}

/// A fresh directory outside /tmp (Codex warns about helper binaries under
/// /tmp), removed on drop.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("codex-conformance-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn fleet(sim_url: &str, codex: Value) -> Config {
    fleet_with_key(sim_url, codex, None)
}

/// With `api_key_env`, the codex-family provider has `apiKey: {env}`, which
/// becomes Codex's `env_key` (read from Codex's own environment).
fn fleet_with_key(sim_url: &str, codex: Value, api_key_env: Option<&str>) -> Config {
    // No apiKey: Codex sends no Authorization, which the sim accepts.
    let mut fakecodex = json!({"kind": "openai-responses", "family": "codex", "baseUrl": sim_url,
                               "models": [CONF_MODEL]});
    if let Some(env) = api_key_env {
        fakecodex["apiKey"] = json!({"env": env});
    }
    Config::from_json(&json!({
        "providers": {
            "fakecodex": fakecodex,
            "native": {"kind": "sim", "models": ["glm-5.1"], "scripts": {"glm-5.1": "ok"}}
        },
        "agents": {
            "defaults": {
                "model": {"primary": CODEX_MODEL, "fallbacks": [NATIVE]},
                "embeddedHarness": {"runtime": "codex", "fallback": "pi"}
            },
            "entries": {"builder": {}}
        },
        "harnesses": {"codex": codex}
    }))
    .unwrap()
}

/// The harness as a server started with `--codex-command` for the command
/// in `settings` (the real binary's path, as these tests run it) and
/// `--secret-env` for `api_key_env`.
fn codex_env(dir: &Path, settings: &Value, api_key_env: Option<&str>) -> CodexEnv {
    let mut policy = ServerPolicy::default()
        .with_secret_env(api_key_env)
        .unwrap();
    if let Some(command) = settings.get("command") {
        let command: Vec<String> = serde_json::from_value(command.clone()).unwrap();
        policy = policy.with_codex_commands(vec![command]).unwrap();
    }
    CodexEnv {
        default_home: dir.join("codex-home"),
        self_exe: env!("CARGO_BIN_EXE_switchyard").into(),
        policy: Arc::new(policy),
    }
}

/// `harnesses.codex` running `program app-server` (plus `extra` arguments).
fn real(program: &Path, extra: &[&str], idle_ms: u64) -> Value {
    let mut command = vec![program.display().to_string(), "app-server".to_owned()];
    command.extend(extra.iter().map(|a| a.to_string()));
    json!({"command": command, "handshakeTimeoutMs": 10_000, "idleTimeoutMs": idle_ms})
}

/// `harnesses.codex` running our stand-in with `behave`.
fn stand_in(behave: &str, idle_ms: u64) -> Value {
    json!({"sim": behave, "handshakeTimeoutMs": 10_000, "idleTimeoutMs": idle_ms})
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user("status?")],
        stream: true,
        ..ChatRequest::default()
    }
}

/// (decision, candidate, reason)
type Step = (String, String, String);

fn step(d: &str, c: &str, r: &str) -> Step {
    (d.into(), c.into(), r.into())
}

/// The trail of a codex-family failure the native engine recovered from.
fn handed_off(class: &str) -> Vec<Step> {
    vec![
        step("candidate_failed", CODEX_MODEL, class),
        step("harness_handoff", NATIVE, class),
        step("candidate_succeeded", NATIVE, "none"),
    ]
}

struct Routed {
    result: Result<Served, RouteError>,
    /// (decision, candidate, reason, detail, at_ms)
    decisions: Vec<(Step, String, i64)>,
    sim: Arc<SimProvider>,
    router: Router,
    _dir: tempfile::TempDir,
}

impl Routed {
    fn trail(&self) -> Vec<Step> {
        self.decisions.iter().map(|(s, _, _)| s.clone()).collect()
    }

    /// Without a `Retry-After` from the provider the router must move on,
    /// not retry the same candidate. (Codex logs its own stream-retry backoff
    /// as `(1/1 in 213ms)` too; only a 429's delay is the server's.)
    fn assert_no_same_candidate_retry(&self) {
        if let Some((_, detail, _)) = self
            .decisions
            .iter()
            .find(|(_, d, _)| d.contains("retrying the same candidate"))
        {
            panic!(
                "the provider sent no Retry-After, yet the same candidate was retried: \
                 Codex's own backoff from its retry log line became the hint: {detail}"
            );
        }
    }

    /// The trail must be `want`; on a mismatch, every decision's detail.
    fn assert_trail(&self, want: &[Step]) {
        assert!(
            self.trail() == want,
            "trail differs\n want: {want:?}\n got:  {:#?}",
            self.decisions
        );
    }

    fn detail(&self, decision: &str) -> &str {
        self.decisions
            .iter()
            .find(|(s, _, _)| s.0 == decision)
            .map(|(_, d, _)| d.as_str())
            .unwrap_or_else(|| panic!("no {decision} in {:#?}", self.decisions))
    }

    fn served(&self) -> &Served {
        match &self.result {
            Ok(served) => served,
            Err(e) => panic!("the call failed: {e}; trail {:#?}", self.decisions),
        }
    }

    /// The first attempt: how long until its failure was known, and how
    /// long from then until the next attempt started.
    fn fallback_times(&self) -> (Duration, Duration) {
        let trace = &self.served().trace;
        assert!(trace.len() >= 2, "one attempt only: {trace:?}");
        (
            trace[0].ended.duration_since(trace[0].started),
            trace[1].started.duration_since(trace[0].ended),
        )
    }

    /// Requests Codex made for the codex-family model.
    fn codex_requests(&self) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.model == CONF_MODEL)
            .count()
    }
}

/// One routed call of the builder agent, everything fresh: directory
/// (CODEX_HOME parent), SQLite store, sim provider with `script` for the
/// codex-family model.
async fn route(settings: Value, script: &str) -> Routed {
    route_with_key(settings, script, None).await
}

async fn route_with_key(mut settings: Value, script: &str, api_key_env: Option<&str>) -> Routed {
    let dir = scratch();
    let store = Store::open_sqlite(&dir.path().join("switchyard.db"))
        .await
        .unwrap();
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    sim.set_script(CONF_MODEL, script.parse().unwrap());
    settings["home"] = json!(dir.path().join("codex-home"));
    let env = codex_env(dir.path(), &settings, api_key_env);
    let config = fleet_with_key(&sim.base_url(), settings, api_key_env);
    let clock: SharedClock = Arc::new(SystemClock);
    let router = Router::new(store, clock, Arc::new(HashMap::<String, String>::new()))
        .with_sim(sim.clone())
        .with_codex(Arc::new(CodexAppServer::new(env)))
        .with_policy(Policy::default());
    let agent = config.effective_agent("builder").unwrap();
    let plan = Plan::for_agent(&config, &agent).unwrap();
    let mut ctx = CallContext::new("conformance", Some(AgentId::try_from("builder").unwrap()));
    ctx.cwd = Some(dir.path().to_owned());
    let result = router.call(&ctx, &plan, &request()).await;
    let decisions = router
        .store()
        .run_decisions("conformance")
        .await
        .unwrap()
        .into_iter()
        .map(|d| ((d.decision, d.candidate, d.reason), d.detail, d.at_ms))
        .collect();
    Routed {
        result,
        decisions,
        sim,
        router,
        _dir: dir,
    }
}

fn assert_next_soon(routed: &Routed, case: &str) -> (Duration, Duration) {
    let (failed_after, gap) = routed.fallback_times();
    assert!(
        gap < NEXT_WITHIN,
        "{case}: the next attempt started {gap:?} after the failure"
    );
    eprintln!("{case}: failure known after {failed_after:?}, next attempt {gap:?} later");
    (failed_after, gap)
}

fn assert_served_natively(routed: &Routed) {
    let served = routed.served();
    assert_eq!(served.candidate.to_string(), NATIVE);
    assert_eq!(format!("{:?}", served.harness).to_lowercase(), "native");
    assert_eq!(served.completion.text, "sim native/glm-5.1 ok");
}

#[tokio::test]
async fn a_turn_is_served_by_the_real_codex_from_the_sim() {
    let Some(codex) = real_codex() else { return };
    let routed = route(real(codex, &[], 20_000), "ok").await;
    routed.assert_trail(&[step("candidate_succeeded", CODEX_MODEL, "none")]);
    let served = routed.served();
    assert_eq!(format!("{:?}", served.harness).to_lowercase(), "codex");
    assert_eq!(served.completion.text, "sim conf-model ok");
    assert!(served.completion.usage.output_tokens > 0, "{served:?}");
    assert_eq!(routed.codex_requests(), 1);
    // The request went to the sim's Responses endpoint, streaming.
    let request = &routed.sim.requests()[0];
    assert_eq!(
        (request.path.as_str(), request.stream),
        ("/v1/responses", true)
    );
}

#[tokio::test]
async fn a_short_retry_after_is_waited_for_then_the_same_model_serves() {
    let Some(codex) = real_codex() else { return };
    // Codex announces the retry (`willRetry`, 429) and logs its delay; the
    // harness interrupts and hands the ~1 s to the router, which waits it
    // out (≤ 2 s: DESIGN §3 short retry) and tries the same model again.
    let routed = route(real(codex, &[], 20_000), "rate_limit(1), ok").await;
    routed.assert_trail(&[
        step("candidate_failed", CODEX_MODEL, "rate_limit"),
        step("candidate_succeeded", CODEX_MODEL, "none"),
    ]);
    let detail = routed.detail("candidate_failed");
    assert!(detail.contains("429"), "{detail}");
    assert!(
        detail.contains("retrying the same candidate in"),
        "{detail}"
    );
    assert_eq!(routed.served().completion.text, "sim conf-model ok");
    let (failed_after, gap) = assert_next_soon(&routed, "429 Retry-After: 1");
    assert!(failed_after < NEXT_WITHIN, "{failed_after:?}");
    assert!(
        gap >= Duration::from_millis(800),
        "the 1 s Retry-After was not waited for: {gap:?}"
    );
    // Codex itself never retried: one request per attempt.
    assert_eq!(routed.codex_requests(), 2);
}

#[tokio::test]
async fn a_long_retry_after_is_not_waited_for_and_becomes_the_cooldown() {
    let Some(codex) = real_codex() else { return };
    let routed = route(real(codex, &[], 20_000), "rate_limit(3600)").await;
    routed.assert_trail(&handed_off("rate_limit"));
    assert_served_natively(&routed);
    let detail = routed.detail("candidate_failed");
    assert!(
        detail.contains("429") && detail.contains("interrupted at the first signal"),
        "{detail}"
    );
    let (failed_after, _) = assert_next_soon(&routed, "429 Retry-After: 3600");
    assert!(
        failed_after < NEXT_WITHIN,
        "Codex's hour-long sleep was waited on: {failed_after:?}"
    );
    assert_eq!(routed.codex_requests(), 1);
    // The delay Codex logged became the cooldown.
    let (cooldowns, _) = routed.router.store().router_health().await.unwrap();
    let row = cooldowns
        .iter()
        .find(|r| r.provider == "fakecodex" && r.model == CONF_MODEL)
        .expect("a cooldown row");
    let cooldown_s = (row.until_ms - routed.router.clock().now_ms()) / 1000;
    assert!(
        (3500..=3600).contains(&cooldown_s),
        "cooldown {cooldown_s} s, not the 3600 s Retry-After"
    );
}

#[tokio::test]
async fn a_500_is_a_server_error() {
    let Some(codex) = real_codex() else { return };
    let routed = route(real(codex, &[], 20_000), "server_error").await;
    routed.assert_no_same_candidate_retry();
    routed.assert_trail(&handed_off("server_error"));
    assert_served_natively(&routed);
    assert_next_soon(&routed, "500");
    // Codex's HTTP retries are off and its one stream retry is interrupted.
    assert_eq!(routed.codex_requests(), 1);
}

#[tokio::test]
async fn a_401_is_an_auth_failure() {
    let Some(codex) = real_codex() else { return };
    let routed = route(real(codex, &[], 20_000), "auth").await;
    routed.assert_no_same_candidate_retry();
    routed.assert_trail(&handed_off("auth"));
    assert_served_natively(&routed);
    let detail = routed.detail("candidate_failed");
    assert!(detail.contains("401"), "{detail}");
    assert_next_soon(&routed, "401");
    assert_eq!(routed.codex_requests(), 1);
}

#[tokio::test]
async fn an_api_key_variable_codex_cannot_see_is_auth_missing() {
    let Some(codex) = real_codex() else { return };
    // `apiKey.env` becomes Codex's `env_key`; Codex reads it from its own
    // environment (inherited from the server) and, when it is unset, fails
    // the turn without a request.
    let unset = "SWITCHYARD_CONFORMANCE_UNSET_KEY";
    assert!(std::env::var_os(unset).is_none());
    let routed = route_with_key(real(codex, &[], 20_000), "ok", Some(unset)).await;
    routed.assert_trail(&handed_off("auth_missing"));
    assert_served_natively(&routed);
    let detail = routed.detail("candidate_failed");
    assert!(detail.contains(unset), "{detail}");
    assert_next_soon(&routed, "env_key unset");
    assert_eq!(routed.codex_requests(), 0);
}

#[tokio::test]
async fn an_unknown_provider_at_spawn_is_a_crash_and_hands_off() {
    let Some(codex) = real_codex() else { return };
    let routed = route(real(codex, &["-c", "model_provider=nope"], 20_000), "ok").await;
    routed.assert_trail(&handed_off("harness_crashed"));
    assert_served_natively(&routed);
    let detail = routed.detail("candidate_failed");
    assert!(
        detail.contains("exited before the handshake: code=1"),
        "{detail}"
    );
    assert!(
        detail.contains("Error: Model provider `nope` not found"),
        "{detail}"
    );
    let (failed_after, _) = assert_next_soon(&routed, "unknown provider at spawn");
    assert!(failed_after < NEXT_WITHIN, "{failed_after:?}");
    assert_eq!(routed.codex_requests(), 0);
}

#[tokio::test]
async fn a_provider_that_never_sends_headers_times_out_and_is_interrupted() {
    let Some(codex) = real_codex() else { return };
    // Codex reports nothing at all while it waits for headers (docs/CODEX.md
    // §5 g); only Switchyard's idle timer ends it.
    let routed = route(real(codex, &[], 1500), "hang").await;
    routed.assert_trail(&handed_off("timeout"));
    assert_served_natively(&routed);
    let detail = routed.detail("candidate_failed");
    assert!(
        detail.contains("no event for 1500 ms; turn interrupted"),
        "{detail}"
    );
    let (failed_after, _) = assert_next_soon(&routed, "no response headers");
    assert!(
        failed_after >= Duration::from_millis(1500)
            && failed_after < Duration::from_millis(1500) + NEXT_WITHIN,
        "{failed_after:?}"
    );
    assert_eq!(routed.codex_requests(), 1);
    // The interrupt closed Codex's connection: the sim holds nothing open.
    tokio::time::timeout(Duration::from_secs(5), routed.sim.wait_idle())
        .await
        .expect("the hanging request is still open");
}

#[tokio::test]
async fn a_stream_that_breaks_after_output_is_interrupted_and_keeps_its_partial() {
    let Some(codex) = real_codex() else { return };
    let script = "stream_break_after(3)";
    // The partial answer, straight from the harness (the router drops it
    // once a later candidate succeeds).
    let dir = scratch();
    let sim = SimProvider::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    sim.set_script(CONF_MODEL, script.parse().unwrap());
    let config = fleet(&sim.base_url(), real(codex, &[], 20_000));
    let agent = config.effective_agent("builder").unwrap();
    let plan = Plan::for_agent(&config, &agent).unwrap();
    let harness = CodexAppServer::new(codex_env(dir.path(), &real(codex, &[], 20_000), None));
    let mut ctx = CallContext::new("partial", Some(AgentId::try_from("builder").unwrap()));
    ctx.cwd = Some(dir.path().to_owned());
    let failure = harness
        .attempt(&ctx, &plan.candidates[0], &plan.codex, &request())
        .await
        .unwrap_err();
    assert_eq!(failure.class, FailureClass::StreamInterrupted, "{failure}");
    // The sim's answer is "sim conf-model ok sim conf-model ok", cut after
    // three word chunks; kept once, not duplicated.
    assert_eq!(
        failure.partial.as_deref(),
        Some("sim conf-model ok "),
        "{failure}"
    );
    sim.shutdown().await;

    // Through the router: the native engine takes over.
    let routed = route(real(codex, &[], 20_000), script).await;
    routed.assert_no_same_candidate_retry();
    routed.assert_trail(&handed_off("stream_interrupted"));
    assert_served_natively(&routed);
    assert_next_soon(&routed, "stream breaks after 3 chunks");
    assert_eq!(routed.codex_requests(), 1);
}

// ---- time to fallback, real binary vs stand-in ------------------------------

struct Sample {
    failed_after: Duration,
    gap: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p50_max(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[values.len() - 1])
}

#[tokio::test]
#[ignore = "a measurement for docs/BENCHMARKS.md: --ignored --nocapture"]
async fn time_to_fallback() {
    let Some(codex) = real_codex() else { return };
    const RUNS: usize = 7;
    const IDLE_MS: u64 = 1500;
    let version = std::process::Command::new(codex)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let real_cmd = |extra: &[&str]| real(codex, extra, IDLE_MS);
    let sim_cmd = |behave: &str| stand_in(behave, IDLE_MS);
    // (case, peer, harness settings, sim script, expected class)
    let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "crash at spawn",
            "real",
            real_cmd(&["-c", "model_provider=nope"]),
            "ok",
            "harness_crashed",
        ),
        (
            "crash at spawn",
            "stand-in",
            sim_cmd("crash"),
            "ok",
            "harness_crashed",
        ),
        (
            "provider hangs (no headers)",
            "real",
            real_cmd(&[]),
            "hang",
            "timeout",
        ),
        (
            "provider hangs (no headers)",
            "stand-in",
            sim_cmd("conf-model=stall"),
            "ok",
            "timeout",
        ),
        (
            "429, Retry-After: 3600",
            "real",
            real_cmd(&[]),
            "rate_limit(3600)",
            "rate_limit",
        ),
        (
            "429, Retry-After: 3600",
            "stand-in",
            sim_cmd("conf-model=rate_limit(3600)"),
            "ok",
            "rate_limit",
        ),
    ];
    let mut rows = Vec::new();
    for (case, peer, settings, script, class) in &cases {
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let routed = route(settings.clone(), script).await;
            routed.assert_trail(&handed_off(class));
            let (failed_after, gap) = routed.fallback_times();
            assert!(started.elapsed() < Duration::from_secs(30));
            samples.push(Sample { failed_after, gap });
        }
        let (fail_p50, fail_max) = p50_max(samples.iter().map(|s| ms(s.failed_after)).collect());
        let (gap_p50, gap_max) = p50_max(samples.iter().map(|s| ms(s.gap)).collect());
        let (total_p50, total_max) =
            p50_max(samples.iter().map(|s| ms(s.failed_after + s.gap)).collect());
        rows.push(format!(
            "| {case:<28} | {peer:<8} | `{class}` | {fail_p50:>7.0} / {fail_max:>5.0} | {gap_p50:>5.1} / {gap_max:>5.1} | {total_p50:>7.0} / {total_max:>5.0} | {RUNS} |"
        ));
    }
    println!("\nTime to fallback, {version} vs `switchyard sim codex-app-server`, idleTimeoutMs {IDLE_MS}, SQLite, {RUNS} runs each (ms, p50 / max)\n");
    println!("| failure | peer | class | attempt start → failure known | failure → next candidate starts | attempt start → next starts | n |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
}

//! The router against the `sim` provider over real HTTP on loopback, with
//! its health in a real store (SQLite and PostgreSQL). Time that decides
//! cooldowns is a manual clock; nothing here sleeps to wait for anything.

mod common;

use common::TestDb;
use engine::clock::{ManualClock, SharedClock};
use engine::config::policy::ServerPolicy;
use engine::config::{Config, ModelRef};
use engine::failure::FailureClass;
use engine::provider::{ChatRequest, Message};
use engine::router::{CallContext, Plan, Policy, RouteError, Router};
use engine::sim::provider::SimProvider;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const T0: i64 = 1_780_000_000_000;

struct Rig {
    router: Router,
    clock: Arc<ManualClock>,
    sim: Arc<SimProvider>,
    config: Config,
}

/// A fleet of one agent whose chain is `chain`, every model on `sim`
/// providers with the given scripts. `extra` is merged into providers.
async fn rig(db: &TestDb, scripts: &[(&str, &str)], extra: Value) -> Rig {
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let mut providers = serde_json::Map::new();
    for (model_ref, script) in scripts {
        let r: ModelRef = model_ref.parse().unwrap();
        let p = providers
            .entry(r.provider().as_str().to_owned())
            .or_insert_with(|| json!({"kind": "sim", "models": [], "scripts": {}}));
        p["models"].as_array_mut().unwrap().push(json!(r.model()));
        p["scripts"][r.model()] = json!(script);
    }
    if let Value::Object(extra) = extra {
        for (id, fields) in extra {
            for (k, v) in fields.as_object().unwrap() {
                providers[&id][k] = v.clone();
            }
        }
    }
    let chain: Vec<&str> = scripts.iter().map(|(r, _)| *r).collect();
    let config = Config::from_json(&json!({
        "providers": providers,
        "agents": {
            "defaults": {
                "model": {"primary": chain[0], "fallbacks": chain[1..]},
                "embeddedHarness": {"runtime": "pi"}
            },
            "entries": {"builder": {}}
        }
    }))
    .unwrap();
    let shared: SharedClock = clock.clone();
    let router = Router::new(
        db.store.clone(),
        shared,
        Arc::new(HashMap::<String, String>::new()),
    )
    .with_sim(sim.clone());
    Rig {
        router,
        clock,
        sim,
        config,
    }
}

impl Rig {
    fn plan(&self) -> Plan {
        let agent = self.config.effective_agents().into_iter().next().unwrap();
        Plan::for_agent(&self.config, &agent).unwrap()
    }

    async fn call(&self, run: &str) -> Result<engine::router::Served, RouteError> {
        let ctx = CallContext::new(
            run,
            Some(engine::config::AgentId::try_from("builder").unwrap()),
        );
        self.router.call(&ctx, &self.plan(), &request()).await
    }

    /// Requests the sim received for one model (`provider/model`).
    fn hits(&self, model_ref: &str) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.model == model_ref)
            .count()
    }

    async fn decisions(&self, run: &str) -> Vec<Summary> {
        decisions_of(&self.router, run).await
    }
}

/// (decision, candidate, reason, next) of a run's decisions, in order.
type Summary = (String, String, String, Option<String>);

async fn decisions_of(router: &Router, run: &str) -> Vec<Summary> {
    router
        .store()
        .run_decisions(run)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.decision, d.candidate, d.reason, d.next))
        .collect()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user("status?")],
        stream: true,
        ..ChatRequest::default()
    }
}

fn d(decision: &str, candidate: &str, reason: &str, next: Option<&str>) -> Summary {
    (
        decision.into(),
        candidate.into(),
        reason.into(),
        next.map(Into::into),
    )
}

async fn primary_serves(db: &TestDb) {
    let rig = rig(db, &[("a/m1", "ok"), ("b/m2", "ok")], json!({})).await;
    let served = rig.call("r1").await.unwrap();
    assert_eq!(served.candidate.to_string(), "a/m1");
    assert!(!served.fallback_used);
    assert_eq!(served.completion.text, "sim a/m1 ok");
    assert_eq!(
        rig.decisions("r1").await,
        [d("candidate_succeeded", "a/m1", "none", None)]
    );
    let stored = rig.router.store().run_decisions("r1").await.unwrap();
    assert_eq!(stored[0].attempt, 1);
    assert_eq!(stored[0].harness, "native");
    assert_eq!(stored[0].agent_id.as_deref(), Some("builder"));
}

/// Every model-layer class moves on to the next candidate, for the right
/// reason, and the fallback serves.
async fn each_model_failure_falls_back(db: &TestDb) {
    let cases = [
        ("rate_limit(3600)", FailureClass::RateLimit),
        ("auth", FailureClass::Auth),
        ("usage_limit", FailureClass::UsageLimit),
        ("billing", FailureClass::Billing),
        ("server_error", FailureClass::ServerError),
        ("overloaded", FailureClass::Overloaded),
        ("stream_break_after(3)", FailureClass::StreamInterrupted),
        ("stream_error_after(0)", FailureClass::ServerError),
        ("stream_error_after(2)", FailureClass::StreamInterrupted),
        ("empty", FailureClass::EmptyResponse),
    ];
    for (n, (script, class)) in cases.into_iter().enumerate() {
        let rig = rig(
            db,
            &[(&format!("p{n}/m"), script), ("ok/m", "ok")],
            json!({}),
        )
        .await;
        let run = format!("class-{n}");
        let served = rig
            .call(&run)
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"));
        assert_eq!(served.candidate.to_string(), "ok/m", "{script}");
        assert!(served.fallback_used);
        let decisions = rig.decisions(&run).await;
        let detail = rig.router.store().run_decisions(&run).await.unwrap()[0]
            .detail
            .clone();
        assert_eq!(
            decisions,
            [
                d(
                    "candidate_failed",
                    &format!("p{n}/m"),
                    class.as_str(),
                    Some("ok/m")
                ),
                d("candidate_succeeded", "ok/m", "none", None)
            ],
            "{script}: {detail}"
        );
        assert_eq!(served.trace.len(), 2);
    }
}

async fn hanging_provider_times_out_and_falls_back(db: &TestDb) {
    let rig = rig(
        db,
        &[("slowpoke/m", "hang"), ("b/m", "ok")],
        json!({"slowpoke": {"timeouts": {"firstByteMs": 200}}}),
    )
    .await;
    let served = rig.call("hang").await.unwrap();
    assert_eq!(served.candidate.to_string(), "b/m");
    let stored = rig.router.store().run_decisions("hang").await.unwrap();
    assert_eq!(stored[0].reason, "timeout");
    assert!(stored[0].detail.contains("200 ms"), "{}", stored[0].detail);
}

/// A long Retry-After cools the model down for everyone: the next call
/// makes no network call to it and says why, until the clock passes it.
async fn cooldown_skips_without_network_and_expires_into_one_probe(db: &TestDb) {
    let rig = rig(
        db,
        &[("a/m", "rate_limit(3600), ok"), ("b/m", "ok")],
        json!({}),
    )
    .await;
    rig.call("first").await.unwrap();
    assert_eq!(rig.hits("a/m"), 1);
    let second = rig.call("second").await.unwrap();
    assert_eq!(second.candidate.to_string(), "b/m");
    assert_eq!(rig.hits("a/m"), 1, "zero calls to a cooled-down model");
    let decisions = rig.router.store().run_decisions("second").await.unwrap();
    assert_eq!(
        (decisions[0].decision.as_str(), decisions[0].reason.as_str()),
        ("skip_candidate", "cooldown")
    );
    assert!(
        decisions[0].detail.starts_with("until=2026-05-28T"),
        "{}",
        decisions[0].detail
    );

    rig.clock.advance_ms(3_600_000);
    let third = rig.call("third").await.unwrap();
    assert_eq!(
        third.candidate.to_string(),
        "a/m",
        "after the cooldown the model is probed and serves"
    );
    assert_eq!(
        rig.decisions("third").await,
        [
            d("probe_cooldown_candidate", "a/m", "cooldown", Some("a/m")),
            d("candidate_succeeded", "a/m", "none", None)
        ]
    );
    let (cooldowns, _) = rig.router.store().router_health().await.unwrap();
    assert!(
        cooldowns.is_empty(),
        "a success clears the model's health row"
    );
}

async fn all_cooling_down_fails_fast_with_the_earliest_time(db: &TestDb) {
    let rig = rig(
        db,
        &[("a/m", "rate_limit(600)"), ("b/m", "rate_limit(60)")],
        json!({}),
    )
    .await;
    let first = rig.call("first").await.unwrap_err();
    assert!(matches!(first, RouteError::Exhausted { .. }), "{first}");
    let hits = rig.sim.requests().len();
    let err = rig.call("second").await.unwrap_err();
    assert_eq!(
        err,
        RouteError::AllCoolingDown {
            earliest_retry_ms: T0 + 60_000
        }
    );
    assert_eq!(err.reason(), "all_candidates_cooling_down");
    assert!(
        err.to_string().contains("2026-05-28T20:27:40.000Z"),
        "{err}"
    );
    assert_eq!(rig.sim.requests().len(), hits, "no network call at all");
}

async fn short_retry_after_is_retried_a_bounded_number_of_times(db: &TestDb) {
    let rig = rig(
        db,
        &[("a/m", "rate_limit(0)*2, ok"), ("b/m", "ok")],
        json!({}),
    )
    .await;
    let served = rig.call("retry").await.unwrap();
    assert_eq!(served.candidate.to_string(), "a/m");
    assert_eq!(served.attempt, 3);
    let rig = rig_again(db, &[("c/m", "rate_limit(0)"), ("d/m", "ok")]).await;
    let served = rig.call("bounded").await.unwrap();
    assert_eq!(served.candidate.to_string(), "d/m");
    assert_eq!(rig.hits("c/m"), 3, "one call and two retries, then on");
}

async fn rig_again(db: &TestDb, scripts: &[(&str, &str)]) -> Rig {
    rig(db, scripts, json!({})).await
}

/// One transient failure moves the run on but does not cool the model for
/// everyone; the second in a row does.
async fn transient_failures_need_two_in_a_row(db: &TestDb) {
    let rig = rig(db, &[("a/m", "server_error"), ("b/m", "ok")], json!({})).await;
    rig.call("one").await.unwrap();
    let (cooldowns, _) = rig.router.store().router_health().await.unwrap();
    assert_eq!((cooldowns[0].failures, cooldowns[0].until_ms), (1, 0));
    rig.call("two").await.unwrap();
    assert_eq!(rig.hits("a/m"), 2);
    let (cooldowns, _) = rig.router.store().router_health().await.unwrap();
    assert_eq!(
        (cooldowns[0].failures, cooldowns[0].until_ms),
        (2, T0 + 30_000)
    );
    rig.call("three").await.unwrap();
    assert_eq!(rig.hits("a/m"), 2);
}

async fn context_overflow_moves_to_a_larger_window(db: &TestDb) {
    let rig = rig(
        db,
        &[("small/m", "context_overflow"), ("same/m", "ok"), ("big/m", "ok")],
        json!({"small": {"contextWindow": 8192}, "same": {"contextWindow": 8192}, "big": {"contextWindow": 200000}}),
    )
    .await;
    let served = rig.call("ctx").await.unwrap();
    assert_eq!(served.candidate.to_string(), "big/m");
    assert_eq!(
        rig.decisions("ctx").await,
        [
            d(
                "candidate_failed",
                "small/m",
                "context_overflow",
                Some("same/m")
            ),
            d(
                "skip_candidate",
                "same/m",
                "context_overflow",
                Some("big/m")
            ),
            d("candidate_succeeded", "big/m", "none", None)
        ]
    );
    let (cooldowns, _) = rig.router.store().router_health().await.unwrap();
    assert!(
        cooldowns.is_empty(),
        "a request too big for a model says nothing about its health"
    );
}

/// Windows are per model: two models of one provider with different windows
/// are not treated alike (a real Ollama provider serves 200k and 8k models).
async fn the_larger_window_is_the_models_own(db: &TestDb) {
    let rig = rig(
        db,
        &[
            ("p/small", "context_overflow"),
            ("p/same", "ok"),
            ("p/big", "ok"),
        ],
        json!({"p": {"models": [
            {"id": "small", "contextWindow": 8192},
            {"id": "same", "contextWindow": 8192},
            {"id": "big", "contextWindow": 200000}
        ]}}),
    )
    .await;
    let served = rig.call("ctx-model").await.unwrap();
    assert_eq!(served.candidate.to_string(), "p/big");
    assert_eq!(
        rig.decisions("ctx-model").await[1],
        d(
            "skip_candidate",
            "p/same",
            "context_overflow",
            Some("p/big")
        )
    );
}

/// Five provider-health failures in a row open the provider's circuit: all
/// its models are skipped; after the open period exactly one caller probes.
async fn circuit_opens_and_admits_one_probe(db: &TestDb) {
    let rig = rig(
        db,
        &[("flaky/m", "server_error"), ("good/m", "ok")],
        json!({}),
    )
    .await;
    for n in 0..5 {
        rig.call(&format!("c{n}")).await.unwrap();
        // Keep the model itself out of cooldown so the circuit is what trips.
        rig.router
            .store()
            .clear_cooldown("flaky", "m")
            .await
            .unwrap();
    }
    let (_, circuits) = rig.router.store().router_health().await.unwrap();
    assert_eq!(circuits[0].failures, 5);
    assert_eq!(circuits[0].open_until_ms, T0 + 30_000);
    rig.call("open").await.unwrap();
    assert_eq!(rig.hits("flaky/m"), 5);
    assert_eq!(
        rig.decisions("open").await[0],
        d("skip_candidate", "flaky/m", "circuit_open", Some("good/m"))
    );

    rig.clock.advance_ms(30_000);
    let (a, b) = tokio::join!(rig.call("probe-a"), rig.call("probe-b"));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        rig.hits("flaky/m"),
        6,
        "one probe between two concurrent callers"
    );
    let (_, circuits) = rig.router.store().router_health().await.unwrap();
    assert_eq!(
        circuits[0].open_until_ms,
        T0 + 30_000 + 60_000,
        "a failed probe reopens for twice as long"
    );
}

/// Health lives in the store: a restarted server, or another replica on
/// the same database, skips the cooled-down model without calling it.
async fn cooldowns_survive_restart_and_are_shared(db: &TestDb) {
    let rig = rig(db, &[("a/m", "usage_limit"), ("b/m", "ok")], json!({})).await;
    rig.call("before").await.unwrap();
    let other = Router::new(
        db.reopen().await,
        rig.clock.clone(),
        Arc::new(HashMap::<String, String>::new()),
    )
    .with_sim(rig.sim.clone());
    let ctx = CallContext::new("replica-2", None);
    let served = other.call(&ctx, &rig.plan(), &request()).await.unwrap();
    assert_eq!(served.candidate.to_string(), "b/m");
    assert_eq!(rig.hits("a/m"), 1);
    let skip = &other.store().run_decisions("replica-2").await.unwrap()[0];
    assert_eq!(
        (skip.reason.as_str(), skip.detail.contains("usage_limit")),
        ("cooldown", true)
    );
}

async fn missing_key_is_skipped_and_a_key_never_leaks(db: &TestDb) {
    let rig = rig(
        db,
        &[("keyed/m", "ok"), ("b/m", "ok")],
        json!({"keyed": {"apiKey": {"env": "SWITCHYARD_TEST_NO_SUCH_KEY"}}}),
    )
    .await;
    rig.call("nokey").await.unwrap();
    let stored = rig.router.store().run_decisions("nokey").await.unwrap();
    assert_eq!(stored[0].reason, "auth_missing");
    assert!(stored[0].detail.contains("SWITCHYARD_TEST_NO_SUCH_KEY"));
    let (cooldowns, _) = rig.router.store().router_health().await.unwrap();
    assert!(cooldowns.is_empty(), "a config problem cools nothing down");

    // A wrong key: the provider's error body may echo it; we never do.
    let secret = "sk-test-SECRET-abcdef0123456789";
    rig.sim.require_api_key(Some("the-right-key".into()));
    let secrets: HashMap<String, String> =
        [("SWITCHYARD_TEST_NO_SUCH_KEY".to_owned(), secret.to_owned())].into();
    let declared = ServerPolicy::default()
        .with_secret_env(["SWITCHYARD_TEST_NO_SUCH_KEY"])
        .unwrap();
    let router = Router::new(db.store.clone(), rig.clock.clone(), Arc::new(secrets))
        .with_sim(rig.sim.clone())
        .with_server_policy(Arc::new(declared));
    let ctx = CallContext::new("badkey", None);
    let served = router.call(&ctx, &rig.plan(), &request()).await;
    assert!(served.is_err(), "b/m also requires the key now");
    for d in router.store().recent_decisions(None, 100).await.unwrap() {
        assert!(!d.detail.contains(secret), "{}", d.detail);
    }
}

async fn cancel_and_run_budget_end_the_call_without_cooldown(db: &TestDb) {
    let rig = rig(db, &[("a/m", "hang"), ("b/m", "ok")], json!({})).await;
    let ctx = CallContext::new("cancel", None);
    let plan = rig.plan();
    let req = request();
    let call = rig.router.call(&ctx, &plan, &req);
    let cancel = async {
        rig.sim.wait_for_requests(1).await;
        ctx.cancel.cancel();
    };
    let (result, ()) = tokio::join!(call, cancel);
    assert_eq!(result.unwrap_err().class(), Some(FailureClass::Cancelled));
    let ctx = CallContext::new("budget", None)
        .with_deadline(tokio::time::Instant::now() + std::time::Duration::from_millis(200));
    let err = rig.router.call(&ctx, &plan, &request()).await.unwrap_err();
    assert_eq!(err.class(), Some(FailureClass::RunTimeout));
    let (cooldowns, circuits) = rig.router.store().router_health().await.unwrap();
    assert!(
        cooldowns.is_empty() && circuits.is_empty(),
        "our own deadline is not the provider's fault"
    );
    assert_eq!(rig.hits("b/m"), 0);
}

async fn operator_test_call_probes_a_cooled_model(db: &TestDb) {
    let rig = rig(db, &[("a/m", "rate_limit(3600), ok")], json!({})).await;
    rig.call("cool").await.unwrap_err();
    let plan = Plan::single(&rig.config, &"a/m".parse().unwrap());
    let ctx = CallContext::new("test:a/m:1", None);
    let served = rig.router.test_call(&ctx, &plan, &request()).await.unwrap();
    assert_eq!(served.completion.text, "sim a/m ok");
    let decisions = rig.decisions("test:a/m:1").await;
    assert_eq!(
        decisions[0],
        d(
            "probe_cooldown_candidate",
            "a/m",
            "operator_test",
            Some("a/m")
        )
    );
    let (cooldowns, _) = rig.router.store().router_health().await.unwrap();
    assert!(cooldowns.is_empty());
}

/// The Ollama and Anthropic wires through the router: the sim speaks each
/// wire's errors, the router classifies them, falls back, and keeps a
/// rate-limited model cooling down without a network call.
async fn each_wire_falls_back_and_cools_down(db: &TestDb) {
    for (n, wire) in ["ollama", "anthropic-messages"].into_iter().enumerate() {
        let streamed_error = if wire == "ollama" {
            FailureClass::ServerError
        } else {
            FailureClass::Overloaded
        };
        for (i, (script, class)) in [
            ("overloaded", FailureClass::Overloaded),
            ("context_overflow", FailureClass::ContextOverflow),
            ("stream_error_after(0)", streamed_error),
            ("rate_limit(3600)", FailureClass::RateLimit),
        ]
        .into_iter()
        .enumerate()
        {
            // One store for every case: each its own provider, so no
            // health row of one case decides another.
            let w = format!("w{n}{i}");
            let rig = rig(
                db,
                &[(&format!("{w}/m"), script), ("ok/m", "ok")],
                json!({&w: {"wire": wire}, "ok": {"wire": wire}}),
            )
            .await;
            let run = format!("{n}-{script}");
            let served = rig
                .call(&run)
                .await
                .unwrap_or_else(|e| panic!("{wire} {script}: {e}"));
            assert_eq!(served.candidate.to_string(), "ok/m", "{wire} {script}");
            assert_eq!(served.completion.text, "sim ok/m ok");
            let decisions = rig.decisions(&run).await;
            assert_eq!(
                decisions[0],
                d(
                    "candidate_failed",
                    &format!("{w}/m"),
                    class.as_str(),
                    Some("ok/m")
                ),
                "{wire} {script}"
            );
            let path = if wire == "ollama" {
                "/api/chat"
            } else {
                "/v1/messages"
            };
            assert!(rig.sim.requests().iter().all(|r| r.path == path));
            if class == FailureClass::RateLimit {
                let again = format!("{run}-again");
                rig.call(&again).await.unwrap();
                assert_eq!(
                    rig.hits(&format!("{w}/m")),
                    1,
                    "{wire}: no call while cooling down"
                );
                let decisions = rig.decisions(&again).await;
                assert_eq!(
                    (decisions[0].0.as_str(), decisions[0].2.as_str()),
                    ("skip_candidate", "cooldown"),
                    "{wire}"
                );
            }
        }
    }
}

on_both_backends!(
    primary_serves,
    each_model_failure_falls_back,
    hanging_provider_times_out_and_falls_back,
    cooldown_skips_without_network_and_expires_into_one_probe,
    all_cooling_down_fails_fast_with_the_earliest_time,
    short_retry_after_is_retried_a_bounded_number_of_times,
    transient_failures_need_two_in_a_row,
    context_overflow_moves_to_a_larger_window,
    the_larger_window_is_the_models_own,
    circuit_opens_and_admits_one_probe,
    cooldowns_survive_restart_and_are_shared,
    missing_key_is_skipped_and_a_key_never_leaks,
    cancel_and_run_budget_end_the_call_without_cooldown,
    operator_test_call_probes_a_cooled_model,
    each_wire_falls_back_and_cools_down,
);

#[test]
fn default_policy_is_the_design_one() {
    let p = Policy::default();
    assert_eq!((p.max_retry_wait_ms, p.max_retries), (2_000, 2));
}

/// DESIGN §2 through the router: a Codex process-layer failure hands the
/// chain to the native engine with `fallback: pi`, and ends it with `none`;
/// never retried on the next codex-family model.
async fn codex_process_failure_follows_the_harness_fallback(db: &TestDb) {
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let clock: SharedClock = Arc::new(ManualClock::new(T0));
    let router = Router::new(
        db.store.clone(),
        clock,
        Arc::new(HashMap::<String, String>::new()),
    )
    .with_sim(sim.clone());
    for (fallback, run) in [("pi", "handoff"), ("none", "stopped")] {
        let config = Config::from_json(&json!({
            "providers": {
                "openai-codex": {"kind": "codex", "family": "codex", "models": ["spark", "gpt-5.4"]},
                "ollama-cloud": {"kind": "sim", "models": ["glm-5.1"]}
            },
            "agents": {
                "defaults": {
                    "model": {"primary": "openai-codex/spark", "fallbacks": ["openai-codex/gpt-5.4", "ollama-cloud/glm-5.1"]},
                    "embeddedHarness": {"runtime": "codex", "fallback": fallback}
                },
                "entries": {"builder": {}}
            }
        }))
        .unwrap();
        let agent = config.effective_agents().into_iter().next().unwrap();
        let plan = Plan::for_agent(&config, &agent).unwrap();
        let ctx = CallContext::new(run, None);
        let result = router.call(&ctx, &plan, &request()).await;
        let decisions = decisions_of(&router, run).await;
        if fallback == "pi" {
            assert_eq!(
                result.unwrap().candidate.to_string(),
                "ollama-cloud/glm-5.1"
            );
            assert_eq!(
                decisions,
                [
                    d(
                        "candidate_failed",
                        "openai-codex/spark",
                        "spawn_failed",
                        Some("ollama-cloud/glm-5.1")
                    ),
                    d(
                        "skip_candidate",
                        "openai-codex/gpt-5.4",
                        "harness_down",
                        Some("ollama-cloud/glm-5.1")
                    ),
                    d(
                        "harness_handoff",
                        "ollama-cloud/glm-5.1",
                        "spawn_failed",
                        Some("ollama-cloud/glm-5.1")
                    ),
                    d("candidate_succeeded", "ollama-cloud/glm-5.1", "none", None),
                ]
            );
        } else {
            let error = result.unwrap_err();
            assert_eq!(error.class(), Some(FailureClass::SpawnFailed));
            let message = error.to_string();
            assert!(
                message.contains("`embeddedHarness.fallback: none` stopped the chain")
                    && message.contains("never tried: openai-codex/gpt-5.4, ollama-cloud/glm-5.1"),
                "{message}"
            );
            // The run ends at the process failure; what it never tried is
            // recorded and named in the error.
            assert_eq!(
                decisions,
                [
                    d(
                        "candidate_failed",
                        "openai-codex/spark",
                        "spawn_failed",
                        None
                    ),
                    d("skip_candidate", "openai-codex/gpt-5.4", "run_failed", None),
                    d(
                        "skip_candidate",
                        "ollama-cloud/glm-5.1",
                        "harness_mismatch",
                        None
                    ),
                ]
            );
        }
    }
    assert_eq!(
        sim.requests().len(),
        1,
        "only the pi run reached the external fallback"
    );
}

on_both_backends!(codex_process_failure_follows_the_harness_fallback);

//! `cargo bench -p engine --bench router`: what the model router costs on
//! top of a plain provider call, how many routed calls per second a store
//! sustains, and how fast a failed candidate hands over to the next one.
//!
//! Everything runs against the in-process `sim` provider on loopback with
//! the router's health in a real store (a SQLite file, and PostgreSQL when it
//! is reachable). Prints a markdown table; no timing assertions, but the
//! behaviour measured is checked (who served, which class failed, that a
//! cooled-down model gets no request at all).

use engine::clock::{Clock, SharedClock, SystemClock};
use engine::config::{Config, ModelRef, ProviderId};
use engine::provider::{ChatRequest, Message, ProviderClient};
use engine::router::{CallContext, Plan, Router};
use engine::sim::provider::SimProvider;
use engine::store::{CooldownRow, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{ms, postgres_url, stats, SchemaGuard, Table};

const TABLE: Table = Table { width: 58 };

/// Sequential calls per overhead row, after `WARMUP` unmeasured ones.
const N: usize = 2_000;
const WARMUP: usize = 200;
/// Calls in flight at once in the throughput rows, and timed rounds of them.
const CONCURRENT: usize = 1_000;
const ROUNDS: usize = 3;
/// Calls per failure class (`HANG_N` for the one that waits for a timeout).
const FALLBACK_N: usize = 200;
const FALLBACK_WARMUP: usize = 5;
const HANG_N: usize = 40;
/// Calls with the first candidate already cooling down.
const SKIP_N: usize = 500;
const HANG_FIRST_BYTE_MS: u64 = 100;

/// The failure classes and the sim script that produces each.
const CLASSES: &[(&str, &str)] = &[
    ("rl", "rate_limit(3600)"),
    ("usage", "usage_limit"),
    ("auth", "auth"),
    ("billing", "billing"),
    ("5xx", "server_error"),
    ("overload", "overloaded"),
    ("break", "stream_break_after(3)"),
    ("serr", "stream_error_after(0)"),
    ("ctx", "context_overflow"),
    ("empty", "empty"),
    ("hang", "hang"),
];

/// The wires besides `openai-chat` (the `q` provider's): each gets a sim
/// provider speaking it, `ok` and `overloaded`.
const WIRES: &[&str] = &["openai-responses", "ollama", "anthropic-messages"];

/// Every provider the bench routes to; `q` is the healthy fallback.
fn config() -> Config {
    let sim = |script: &str| json!({"kind": "sim", "models": ["m"], "scripts": {"m": script}});
    let mut providers = serde_json::Map::new();
    let mut q = sim("ok");
    q["concurrency"] = json!(CONCURRENT);
    q["contextWindow"] = json!(200_000);
    providers.insert("q".into(), q);
    providers.insert("cool".into(), sim("ok"));
    for (id, script) in CLASSES {
        let mut p = sim(script);
        match *id {
            "ctx" => p["contextWindow"] = json!(8_192),
            "hang" => p["timeouts"] = json!({"firstByteMs": HANG_FIRST_BYTE_MS}),
            _ => {}
        }
        providers.insert((*id).into(), p);
    }
    for wire in WIRES {
        for script in ["ok", "overloaded"] {
            let mut p = sim(script);
            p["wire"] = json!(wire);
            providers.insert(format!("{wire}-{script}"), p);
        }
    }
    Config::from_json(&json!({
        "providers": Value::Object(providers),
        "agents": {
            "defaults": {
                "model": {"primary": "q/m"},
                "embeddedHarness": {"runtime": "pi"}
            },
            "entries": {"bench": {}}
        }
    }))
    .expect("bench config")
}

/// A chain of native candidates, in order.
fn chain(config: &Config, refs: &[&str]) -> Plan {
    let model = |r: &str| -> ModelRef { r.parse().expect("model ref") };
    let mut plan = Plan::single(config, &model(refs[0]));
    for r in &refs[1..] {
        plan.candidates
            .extend(Plan::single(config, &model(r)).candidates);
    }
    plan
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user("status?")],
        stream: true,
        ..ChatRequest::default()
    }
}

/// One store with the router on it.
struct Backend {
    name: &'static str,
    router: Arc<Router>,
}

fn router_on(store: Store, sim: &Arc<SimProvider>) -> Arc<Router> {
    let clock: SharedClock = Arc::new(SystemClock);
    Arc::new(
        Router::new(store, clock, Arc::new(HashMap::<String, String>::new())).with_sim(sim.clone()),
    )
}

fn hits(sim: &SimProvider, model: &str) -> usize {
    sim.requests().iter().filter(|r| r.model == model).count()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let started = Instant::now();
    let config = config();
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("sim provider"),
    );
    sim.set_script("q/m", "ok".parse().unwrap());

    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::open_sqlite(&dir.path().join("bench.db"))
        .await
        .expect("sqlite store");
    let mut backends = vec![Backend {
        name: "SQLite",
        router: router_on(sqlite, &sim),
    }];
    let schema = format!(
        "bench_router_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut guard = None;
    match Store::connect_postgres(&postgres_url(), Some(&schema)).await {
        Ok(store) => {
            guard = Some(SchemaGuard(schema));
            backends.push(Backend {
                name: "PostgreSQL",
                router: router_on(store, &sim),
            });
        }
        Err(e) => eprintln!("PostgreSQL unreachable, its rows are skipped: {e}"),
    }

    TABLE.header();
    let req = request();
    let secrets = HashMap::<String, String>::new();
    let clock: SharedClock = Arc::new(SystemClock);

    // 1. Overhead: the same ok call directly and through the router,
    //    interleaved so all three see the same machine.
    let q_id = ProviderId::try_from("q").unwrap();
    let client = Arc::new(
        ProviderClient::new(
            q_id.clone(),
            config.providers.get(&q_id).unwrap(),
            Some(sim.base_url()),
            &engine::config::policy::ServerPolicy::default(),
        )
        .expect("client"),
    );
    let one = Arc::new(chain(&config, &["q/m"]));
    let mut direct_times = Vec::with_capacity(N);
    let mut routed: Vec<Vec<Duration>> = vec![Vec::with_capacity(N); backends.len()];
    for i in 0..WARMUP + N {
        let t = Instant::now();
        let completion = client.call("q/m", &req, &secrets, &clock).await.unwrap();
        let elapsed = t.elapsed();
        black_box(completion);
        if i >= WARMUP {
            direct_times.push(elapsed);
        }
        for (b, times) in backends.iter().zip(routed.iter_mut()) {
            let ctx = CallContext::new(format!("ovh-{i}"), None);
            let t = Instant::now();
            let served = b.router.call(&ctx, &one, &req).await.unwrap();
            let elapsed = t.elapsed();
            assert_eq!(served.trace.len(), 1);
            black_box(served);
            if i >= WARMUP {
                times.push(elapsed);
            }
        }
    }
    let direct = stats(direct_times);
    TABLE.row(
        "direct ProviderClient::call, sim ok, streaming",
        &direct,
        "baseline",
    );
    for (b, times) in backends.iter().zip(routed) {
        let s = stats(times);
        let added = ms(s.p50) - ms(direct.p50);
        TABLE.row(
            &format!("{}: Router::call, one-candidate plan, sim ok", b.name),
            &s,
            &format!(
                "added p50 {added:.3} ms, ratio {:.2}x",
                s.p50.as_secs_f64() / direct.p50.as_secs_f64()
            ),
        );
    }

    // Each wire's own cost: the same ok call, streamed, through each wire's
    // client and the sim's rendering of it.
    for wire in WIRES {
        let id = ProviderId::try_from(format!("{wire}-ok")).unwrap();
        let wire_client = ProviderClient::new(
            id.clone(),
            config.providers.get(&id).unwrap(),
            Some(sim.base_url()),
            &engine::config::policy::ServerPolicy::default(),
        )
        .expect("client");
        let mut times = Vec::with_capacity(N);
        for i in 0..WARMUP + N {
            let t = Instant::now();
            let completion = wire_client
                .call("ok", &req, &secrets, &clock)
                .await
                .unwrap();
            let elapsed = t.elapsed();
            assert_eq!(completion.text, "sim ok ok", "{wire}");
            black_box(completion);
            if i >= WARMUP {
                times.push(elapsed);
            }
        }
        let s = stats(times);
        TABLE.row(
            &format!("direct ProviderClient::call, {wire}, sim ok"),
            &s,
            &format!(
                "ratio {:.2}x openai-chat",
                s.p50.as_secs_f64() / direct.p50.as_secs_f64()
            ),
        );
    }

    // What the router does to the store on every call, alone: one read of
    // the health rows, one decision inserted.
    for b in &backends {
        let store = b.router.store();
        let mut decision = store.run_decisions("ovh-0").await.unwrap().remove(0);
        let mut reads = Vec::with_capacity(N);
        let mut inserts = Vec::with_capacity(N);
        for i in 0..WARMUP + N {
            let t = Instant::now();
            black_box(store.router_health().await.unwrap());
            let read = t.elapsed();
            decision.run_id = format!("store-{i}");
            let t = Instant::now();
            black_box(store.insert_decision(&decision).await.unwrap());
            let insert = t.elapsed();
            if i >= WARMUP {
                reads.push(read);
                inserts.push(insert);
            }
        }
        TABLE.row(
            &format!("{}: store.router_health() alone (one query)", b.name),
            &stats(reads),
            "read at the start of every routed call",
        );
        TABLE.row(
            &format!("{}: store.insert_decision() alone", b.name),
            &stats(inserts),
            "one per decision; an ok call makes one",
        );
    }

    // 2. Throughput: CONCURRENT calls at once; one warm-up round fills the
    //    connection pools.
    let secrets = Arc::new(secrets);
    let mut walls = Vec::with_capacity(ROUNDS);
    for round in 0..=ROUNDS {
        let t = Instant::now();
        let handles: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let (client, req) = (client.clone(), req.clone());
                let (secrets, clock) = (secrets.clone(), clock.clone());
                tokio::spawn(async move {
                    client
                        .call("q/m", &req, secrets.as_ref(), &clock)
                        .await
                        .map(|c| c.usage)
                })
            })
            .collect();
        for h in handles {
            black_box(h.await.unwrap().unwrap());
        }
        if round > 0 {
            walls.push(t.elapsed());
        }
    }
    let s = stats(walls);
    TABLE.row(
        &format!("direct: {CONCURRENT} concurrent ProviderClient::call, wall time"),
        &s,
        &format!(
            "{:.0} calls/s at p50 (p99 col = slowest round)",
            CONCURRENT as f64 / s.p50.as_secs_f64()
        ),
    );
    for b in &backends {
        let mut walls = Vec::with_capacity(ROUNDS);
        for round in 0..=ROUNDS {
            let t = Instant::now();
            let handles: Vec<_> = (0..CONCURRENT)
                .map(|j| {
                    let router = b.router.clone();
                    let plan = one.clone();
                    let req = req.clone();
                    tokio::spawn(async move {
                        let ctx = CallContext::new(format!("tp-{round}-{j}"), None);
                        router.call(&ctx, &plan, &req).await.map(|s| s.attempt)
                    })
                })
                .collect();
            for h in handles {
                black_box(h.await.unwrap().unwrap());
            }
            if round > 0 {
                walls.push(t.elapsed());
            }
        }
        let stored = b
            .router
            .store()
            .recent_decisions(Some("q"), 1_000_000)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.run_id.starts_with("tp-"))
            .count();
        let s = stats(walls);
        TABLE.row(
            &format!(
                "{}: {CONCURRENT} concurrent Router::call, wall time",
                b.name
            ),
            &s,
            &format!(
                "{:.0} calls/s at p50 (p99 col = slowest round); {stored} of {} decisions stored",
                CONCURRENT as f64 / s.p50.as_secs_f64(),
                (ROUNDS + 1) * CONCURRENT
            ),
        );
    }

    // 3. Time to fallback: from the end of the failed attempt to the start
    //    of the next. Health rows are cleared between calls (not timed) so
    //    every call really attempts the failing candidate.
    for b in &backends {
        let store = b.router.store();
        for (id, script) in CLASSES {
            let first = format!("{id}/m");
            let plan = chain(&config, &[&first, "q/m"]);
            let n = if *id == "hang" { HANG_N } else { FALLBACK_N };
            let mut gaps = Vec::with_capacity(n);
            let mut wholes = Vec::with_capacity(n);
            let mut class = String::new();
            for i in 0..FALLBACK_WARMUP + n {
                store.clear_cooldown(id, "m").await.unwrap();
                store.clear_circuit(id).await.unwrap();
                let ctx = CallContext::new(format!("fb-{id}-{i}"), None);
                let t = Instant::now();
                let served = b.router.call(&ctx, &plan, &req).await.unwrap();
                let whole = t.elapsed();
                assert_eq!(served.candidate.to_string(), "q/m", "{script}");
                assert_eq!(served.trace.len(), 2, "{script}");
                let failed = served.trace[0].outcome.expect_err("first attempt fails");
                class = failed.as_str().to_owned();
                if i >= FALLBACK_WARMUP {
                    gaps.push(served.trace[1].started - served.trace[0].ended);
                    wholes.push(whole);
                }
                black_box(served);
            }
            let whole = stats(wholes);
            let after = match *id {
                "hang" => format!(" (firstByteMs {HANG_FIRST_BYTE_MS})"),
                _ => String::new(),
            };
            let notes = format!("→ {class}{after}; whole call p50 {:.3} ms", ms(whole.p50));
            TABLE.row(
                &format!("{}: time to fallback, `{script}`", b.name),
                &stats(gaps),
                &notes,
            );
            match *id {
                "rl" => TABLE.row(
                    &format!("{}: whole call, `{script}` → q/m", b.name),
                    &whole,
                    "no wait on the 3600 s Retry-After",
                ),
                "hang" => TABLE.row(
                    &format!("{}: whole call, `hang` → q/m", b.name),
                    &whole,
                    &format!("includes the {HANG_FIRST_BYTE_MS} ms first-byte timeout"),
                ),
                _ => {}
            }
        }

        // Every wire's overload, in its own shape (Anthropic's 529, Ollama's
        // 503 "server busy", OpenAI's 503), hands over alike.
        for wire in WIRES {
            let first = format!("{wire}-overloaded/m");
            let plan = chain(&config, &[&first, "q/m"]);
            let mut gaps = Vec::with_capacity(FALLBACK_N);
            for i in 0..FALLBACK_WARMUP + FALLBACK_N {
                store
                    .clear_cooldown(&format!("{wire}-overloaded"), "m")
                    .await
                    .unwrap();
                store
                    .clear_circuit(&format!("{wire}-overloaded"))
                    .await
                    .unwrap();
                let ctx = CallContext::new(format!("wire-{wire}-{i}"), None);
                let served = b.router.call(&ctx, &plan, &req).await.unwrap();
                assert_eq!(served.candidate.to_string(), "q/m", "{wire}");
                let failed = served.trace[0].outcome.expect_err("first attempt fails");
                assert_eq!(failed.as_str(), "overloaded", "{wire}");
                if i >= FALLBACK_WARMUP {
                    gaps.push(served.trace[1].started - served.trace[0].ended);
                }
                black_box(served);
            }
            TABLE.row(
                &format!("{}: time to fallback, {wire} overload", b.name),
                &stats(gaps),
                "→ overloaded",
            );
        }

        // A candidate already cooling down costs no network call.
        let now = SystemClock.now_ms();
        store
            .put_cooldown(
                &CooldownRow {
                    provider: "cool".into(),
                    model: "m".into(),
                    failures: 1,
                    until_ms: now + 3_600_000,
                    reason: "rate_limit".into(),
                    detail: "bench".into(),
                    probe_until_ms: 0,
                },
                now,
            )
            .await
            .unwrap();
        let plan = chain(&config, &["cool/m", "q/m"]);
        let before = hits(&sim, "cool/m");
        let mut times = Vec::with_capacity(SKIP_N);
        for i in 0..FALLBACK_WARMUP + SKIP_N {
            let ctx = CallContext::new(format!("skip-{i}"), None);
            let t = Instant::now();
            let served = b.router.call(&ctx, &plan, &req).await.unwrap();
            let elapsed = t.elapsed();
            assert_eq!(served.candidate.to_string(), "q/m");
            assert_eq!(served.trace.len(), 1, "cool/m is never attempted");
            if i >= FALLBACK_WARMUP {
                times.push(elapsed);
            }
            black_box(served);
        }
        let calls_to_cool = hits(&sim, "cool/m") - before;
        assert_eq!(calls_to_cool, 0, "a cooled-down model gets no request");
        TABLE.row(
            &format!("{}: whole call, cooled-down candidate skipped", b.name),
            &stats(times),
            &format!(
                "{calls_to_cool} requests to cool/m in {} calls; direct ok p50 {:.3} ms",
                FALLBACK_WARMUP + SKIP_N,
                ms(direct.p50)
            ),
        );
    }

    for b in &backends {
        b.router.store().close().await;
    }
    drop(guard);
    eprintln!("router bench: {:.1} s", started.elapsed().as_secs_f64());
}

//! `cargo bench -p engine`: how config reads and writes scale with fleet size.
//! Prints a table; no timing assertions (those belong here, not in tests).

use engine::clock::SystemClock;
use engine::config::{Config, HarnessPatch};
use engine::fleet::Fleet;
use engine::store::Store;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fleet_of(n: usize) -> Value {
    let mut config = engine::sim::demo::fleet_config();
    let entries = config["agents"]["entries"].as_object_mut().unwrap();
    for i in 0..n {
        let fallback = if i % 7 == 0 {
            json!({"fallback": "none"})
        } else {
            json!({})
        };
        entries.insert(
            format!("agent-{i:05}"),
            json!({"name": format!("Agent {i}"), "embeddedHarness": fallback}),
        );
    }
    let jobs: Vec<Value> = (0..n)
        .map(|i| {
            let schedule = if i % 2 == 0 {
                json!({"kind": "cron", "expr": "*/5 * * * *", "tz": "Europe/Berlin"})
            } else {
                json!({"kind": "every", "everyMs": 60_000})
            };
            json!({"id": format!("job-{i:05}"), "agentId": format!("agent-{i:05}"),
                   "message": "ship the queue", "schedule": schedule})
        })
        .collect();
    config["cron"] = json!({ "jobs": jobs });
    config
}

/// Median and p99 of `iters` runs of `f`.
fn measure(iters: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[iters / 2], times[(iters * 99 / 100).min(iters - 1)])
}

async fn measure_async<F: std::future::Future<Output = ()>>(
    iters: usize,
    mut f: impl FnMut() -> F,
) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    (times[iters / 2], times[(iters * 99 / 100).min(iters - 1)])
}

fn row(name: &str, (p50, p99): (Duration, Duration)) {
    println!(
        "| {name:<66} | {:>10.3} | {:>10.3} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    println!("| {:<66} |   p50 (ms) |   p99 (ms) |", "operation");
    println!("|{}|-----------:|-----------:|", "-".repeat(68));
    for n in [4usize, 1_000] {
        let json = fleet_of(n);
        row(
            &format!("parse config, {n} agents"),
            measure(200, || {
                Config::from_json(&json).unwrap();
            }),
        );
        let config = Config::from_json(&json).unwrap();
        row(
            &format!("resolve effective settings, {n} agents"),
            measure(200, || {
                std::hint::black_box(config.effective_agents());
            }),
        );
    }

    let big = fleet_of(1_000);
    let big_config = Config::from_json(&big).unwrap();
    row(
        "validate (refs, cron, tz, secrets, reachability), 1000 + 1000",
        measure(50, || {
            std::hint::black_box(engine::config::validate::validate(
                &big_config,
                &engine::config::validate::ProcessEnv,
                &engine::config::policy::ServerPolicy::default(),
            ));
        }),
    );
    let mut changed = big.clone();
    changed["agents"]["entries"]["agent-00010"]["embeddedHarness"] = json!({"fallback": "none"});
    changed["cron"]["jobs"][10]["enabled"] = json!(false);
    row(
        "diff two revisions (structural + unified), 1000 + 1000",
        measure(50, || {
            std::hint::black_box(engine::config::diff::diff(&big, &changed, "a", "b"));
        }),
    );

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("bench.db"))
        .await
        .unwrap();
    let fleet = Fleet::new(store, Arc::new(SystemClock));
    fleet
        .seed_if_empty(&fleet_of(1_000), "bench")
        .await
        .unwrap();
    row(
        "SQLite: fleet view (read head + parse + resolve), 1000",
        measure_async(200, || async {
            std::hint::black_box(fleet.view().await.unwrap());
        })
        .await,
    );
    let mut flip = false;
    let mut toggled = false;
    row(
        "SQLite: validate + apply whole config (PUT), 1000 + 1000",
        measure_async(50, || {
            toggled = !toggled;
            let body = if toggled {
                changed.clone()
            } else {
                big.clone()
            };
            let fleet = fleet.clone();
            async move {
                let base = fleet.document().await.unwrap().revision.unwrap().hash;
                fleet
                    .put_config(&base, &body, "bench", "bench")
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    row(
        "SQLite: flip one agent's fallback (new revision), 1000",
        measure_async(200, || {
            flip = !flip;
            let patch = HarnessPatch {
                fallback: Some(if flip { "none" } else { "pi" }.into()),
                ..Default::default()
            };
            let fleet = fleet.clone();
            async move {
                fleet
                    .set_harness("agent-00001", &patch, "bench")
                    .await
                    .unwrap();
            }
        })
        .await,
    );
}

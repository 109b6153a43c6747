//! The scheduler on a real store (SQLite and PostgreSQL) with a manual
//! clock: fires become runs exactly once, runs go through the router to the
//! `sim` provider, job state moves with its runs, lanes and slots hold, and
//! abandoned runs are reaped. Tests wait on run events, never on wall time.

mod common;

use common::TestDb;
use engine::clock::{ManualClock, SharedClock};
use engine::fleet::Fleet;
use engine::router::Router;
use engine::runs::RunStatus;
use engine::scheduler::{RunEvent, Scheduler, Settings};
use engine::sim::provider::SimProvider;
use engine::store::RunFilter;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const T0: i64 = 1_780_000_020_000; // a whole minute

struct Rig {
    scheduler: Arc<Scheduler>,
    clock: Arc<ManualClock>,
    fleet: Fleet,
    _sim: Arc<SimProvider>,
    _dir: tempfile::TempDir,
}

/// Agents `a` and `b` on sim models scripted by `scripts`; `jobs` as given.
async fn rig(db: &TestDb, scripts: Value, jobs: Value, settings: Settings) -> Rig {
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let shared: SharedClock = clock.clone();
    let config = json!({
        "providers": {"sim": {"kind": "sim", "models": ["a", "b"], "scripts": scripts}},
        "agents": {
            "defaults": {"model": {"primary": "sim/a"}, "embeddedHarness": {"runtime": "pi"}},
            "entries": {"a": {}, "b": {"model": {"primary": "sim/b"}}}
        },
        "cron": {"jobs": jobs}
    });
    let fleet = Fleet::new(db.store.clone(), shared.clone());
    assert!(fleet.seed_if_empty(&config, "test").await.unwrap());
    let router = Arc::new(
        Router::new(
            db.store.clone(),
            shared.clone(),
            Arc::new(HashMap::<String, String>::new()),
        )
        .with_sim(sim.clone()),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        workspaces: dir.path().to_owned(),
        ..settings
    };
    let scheduler = Scheduler::new(fleet.clone(), router, shared, settings);
    Rig {
        scheduler,
        clock,
        fleet,
        _sim: sim,
        _dir: dir,
    }
}

fn every_minute(id: &str, agent: &str) -> Value {
    json!({"id": id, "agentId": agent, "message": "report", "schedule": {"kind": "every", "everyMs": 60_000}})
}

impl Rig {
    /// Dispatches and waits until every started run has ended.
    async fn run_started(&self) -> usize {
        let handles = self.scheduler.dispatch().await.unwrap();
        let n = handles.len();
        for h in handles {
            h.await.unwrap();
        }
        n
    }

    async fn status(&self, run_id: &str) -> RunStatus {
        self.fleet.store().run(run_id).await.unwrap().status
    }
}

async fn a_fire_runs_once_and_updates_the_job(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "ok"}),
        json!([every_minute("daily", "a")]),
        Settings::default(),
    )
    .await;
    assert!(
        rig.scheduler.tick().await.unwrap().is_empty(),
        "first tick only schedules"
    );
    let state = rig.fleet.store().job_state("daily").await.unwrap().unwrap();
    assert_eq!(state.next_run_at_ms, Some(T0 + 60_000));

    rig.clock.advance_ms(60_000);
    let fired = rig.scheduler.tick().await.unwrap();
    assert_eq!(fired, [format!("cron:daily:{}", T0 + 60_000)]);
    assert!(
        rig.scheduler.tick().await.unwrap().is_empty(),
        "the same fire never twice"
    );
    assert_eq!(rig.status(&fired[0]).await, RunStatus::Queued);

    assert_eq!(rig.run_started().await, 1);
    let run = rig.fleet.store().run(&fired[0]).await.unwrap();
    assert_eq!(run.status, RunStatus::Ok);
    assert_eq!(run.model.as_deref(), Some("sim/a"));
    assert_eq!(run.harness.as_deref(), Some("native"));
    assert!(!run.fallback_used);
    assert!(run.output_tokens > 0);
    assert_eq!(run.attempts, 1);
    let state = rig.fleet.store().job_state("daily").await.unwrap().unwrap();
    assert_eq!(state.last_status.as_deref(), Some("ok"));
    assert_eq!((state.running_at_ms, state.consecutive_errors), (None, 0));
    assert_eq!(state.next_run_at_ms, Some(T0 + 120_000));
    let transcript = rig.fleet.store().transcript(&fired[0]).await.unwrap();
    assert_eq!(transcript.last().unwrap().kind, "assistant");
}

async fn errors_count_up_and_a_success_resets(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "auth, auth, ok"}),
        json!([every_minute("j", "a")]),
        Settings::default(),
    )
    .await;
    rig.scheduler.tick().await.unwrap();
    let mut last = Vec::new();
    for expected in [1, 2] {
        let run = rig.scheduler.run_now("j").await.unwrap();
        rig.run_started().await;
        let state = rig.fleet.store().job_state("j").await.unwrap().unwrap();
        assert_eq!(state.consecutive_errors, expected);
        assert_eq!(state.last_error_class.as_deref(), Some("auth"));
        last.push(run.run_id);
        // Let the cooldown pass so the next run probes the model again.
        rig.clock.advance_ms(30 * 60_000);
    }
    assert_eq!(last, ["manual:j:1", "manual:j:2"]);
    rig.scheduler.run_now("j").await.unwrap();
    rig.run_started().await;
    let state = rig.fleet.store().job_state("j").await.unwrap().unwrap();
    assert_eq!(
        (state.consecutive_errors, state.last_status.as_deref()),
        (0, Some("ok"))
    );
}

/// A lane runs one run at a time; cancelling the running one lets the next start.
async fn a_lane_is_serial_and_cancel_frees_it(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "hang"}),
        json!([every_minute("j", "a")]),
        Settings::default(),
    )
    .await;
    let mut events = rig.scheduler.subscribe();
    let first = rig.scheduler.run_now("j").await.unwrap().run_id;
    let second = rig.scheduler.run_now("j").await.unwrap().run_id;
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 1, "one run per lane");
    assert_eq!(rig.status(&first).await, RunStatus::Running);
    assert_eq!(rig.status(&second).await, RunStatus::Queued);
    assert_eq!(
        rig.fleet.store().run(&second).await.unwrap().queue_ahead,
        Some(1)
    );
    assert!(rig.scheduler.dispatch().await.unwrap().is_empty());
    let state = rig.fleet.store().job_state("j").await.unwrap().unwrap();
    assert_eq!(state.running_at_ms, Some(T0));

    assert_eq!(
        rig.scheduler.cancel(&first).await.unwrap(),
        RunStatus::Running
    );
    for h in handles {
        h.await.unwrap();
    }
    wait_for(&mut events, &first, RunStatus::Cancelled).await;
    assert_eq!(rig.status(&first).await, RunStatus::Cancelled);
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 1);
    assert_eq!(rig.status(&second).await, RunStatus::Running);
    rig.scheduler.cancel(&second).await.unwrap();
    for h in handles {
        h.await.unwrap();
    }
    // A queued run is cancelled at once.
    let third = rig.scheduler.run_now("j").await.unwrap().run_id;
    assert_eq!(
        rig.scheduler.cancel(&third).await.unwrap(),
        RunStatus::Cancelled
    );
    assert!(
        rig.scheduler.cancel(&third).await.is_err(),
        "an ended run cannot be cancelled"
    );
}

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<RunEvent>,
    run_id: &str,
    status: RunStatus,
) {
    loop {
        let e = events.recv().await.unwrap();
        if e.run_id == run_id && e.status == status {
            return;
        }
    }
}

/// The cron lane's slots cap scheduled runs across agents.
async fn cron_slots_cap_scheduled_runs(db: &TestDb) {
    let settings = Settings {
        cron_slots: 1,
        ..Settings::default()
    };
    let rig = rig(
        db,
        json!({"a": "hang", "b": "hang"}),
        json!([every_minute("ja", "a"), every_minute("jb", "b")]),
        settings,
    )
    .await;
    rig.scheduler.tick().await.unwrap();
    rig.clock.advance_ms(60_000);
    assert_eq!(rig.scheduler.tick().await.unwrap().len(), 2);
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 1, "one cron slot");
    // A manual run is not a scheduled run: it only needs its lane.
    let manual = rig.scheduler.run_now("ja").await.unwrap().run_id;
    let running = RunFilter {
        status: Some(RunStatus::Running),
        limit: 10,
        ..RunFilter::default()
    };
    let running = rig.fleet.store().runs(&running).await.unwrap();
    assert_eq!(running.len(), 1);
    let lane_b_free = running[0].agent_id == "a";
    let more = rig.scheduler.dispatch().await.unwrap();
    // The other agent's scheduled run still waits for the slot; a manual
    // run waits only for its lane.
    assert_eq!(
        more.len(),
        usize::from(!lane_b_free),
        "manual runs need no cron slot"
    );
    let _ = manual;
    let running = RunFilter {
        status: Some(RunStatus::Running),
        limit: 10,
        ..RunFilter::default()
    };
    for run in rig.fleet.store().runs(&running).await.unwrap() {
        rig.scheduler.cancel(&run.run_id).await.unwrap();
    }
    for h in handles.into_iter().chain(more) {
        h.await.unwrap();
    }
}

async fn missed_fires_follow_the_job_policy(db: &TestDb) {
    let mut skip = every_minute("skipper", "a");
    skip["missed"] = json!("skip");
    let rig = rig(
        db,
        json!({"a": "ok"}),
        json!([every_minute("catcher", "a"), skip]),
        Settings::default(),
    )
    .await;
    rig.scheduler.tick().await.unwrap();
    rig.clock.advance_ms(10 * 60_000 + 30_000); // down for ten and a half minutes
    let fired = rig.scheduler.tick().await.unwrap();
    assert_eq!(fired.len(), 2);
    let catcher = rig
        .fleet
        .store()
        .run(&format!("cron:catcher:{}", T0 + 600_000))
        .await
        .unwrap();
    assert_eq!(catcher.status, RunStatus::Queued);
    assert!(
        catcher.note.as_deref().unwrap().contains("10 fire(s)"),
        "{:?}",
        catcher.note
    );
    assert!(catcher
        .note
        .as_deref()
        .unwrap()
        .contains("running once for the latest"));
    let skipped = rig
        .fleet
        .store()
        .run(&format!("cron:skipper:{}", T0 + 60_000))
        .await
        .unwrap();
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert!(skipped
        .note
        .as_deref()
        .unwrap()
        .contains("skipped (missed: skip)"));
    for job in ["catcher", "skipper"] {
        let state = rig.fleet.store().job_state(job).await.unwrap().unwrap();
        assert_eq!(
            state.next_run_at_ms,
            Some(T0 + 660_000),
            "{job}: back on its rhythm"
        );
    }
}

/// Runs whose owner is gone are closed as `abandoned` with their job state
/// repaired, in one transaction.
async fn abandoned_runs_are_reaped(db: &TestDb) {
    let settings = Settings {
        lease_ms: 30_000,
        ..Settings::default()
    };
    let rig = rig(
        db,
        json!({"a": "hang"}),
        json!([every_minute("j", "a")]),
        settings.clone(),
    )
    .await;
    let run = rig.scheduler.run_now("j").await.unwrap().run_id;
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(rig.status(&run).await, RunStatus::Running);
    // Another replica, while the lease holds, reaps nothing…
    let other = Scheduler::new(
        rig.fleet.clone(),
        Arc::new(Router::new(
            db.store.clone(),
            rig.clock.clone(),
            Arc::new(HashMap::<String, String>::new()),
        )),
        rig.clock.clone(),
        settings,
    );
    assert!(other.reap().await.unwrap().is_empty());
    // …and once the owner stops heartbeating past its lease, it does.
    rig.clock.advance_ms(31_000);
    assert_eq!(other.reap().await.unwrap(), std::slice::from_ref(&run));
    let record = rig.fleet.store().run(&run).await.unwrap();
    assert_eq!(
        (record.status, record.error_class.as_deref()),
        (RunStatus::Error, Some("abandoned"))
    );
    assert!(record
        .error
        .as_deref()
        .unwrap()
        .contains("stopped renewing the lease"));
    let state = rig.fleet.store().job_state("j").await.unwrap().unwrap();
    assert_eq!((state.running_at_ms, state.consecutive_errors), (None, 1));
    assert_eq!(state.last_error_class.as_deref(), Some("abandoned"));
    // The original owner's late finish changes nothing.
    rig.scheduler.cancel(&run).await.unwrap_err();
    for h in handles {
        h.abort();
    }
}

/// Two schedulers on one database tick the same due fires: each fire runs once.
async fn two_replicas_fire_each_fire_once(db: &TestDb) {
    let jobs: Vec<Value> = (0..20)
        .map(|i| every_minute(&format!("j{i}"), "a"))
        .collect();
    let rig = rig(db, json!({"a": "ok"}), json!(jobs), Settings::default()).await;
    let other = Scheduler::new(
        rig.fleet.clone(),
        Arc::new(Router::new(
            db.store.clone(),
            rig.clock.clone(),
            Arc::new(HashMap::<String, String>::new()),
        )),
        rig.clock.clone(),
        Settings::default(),
    );
    rig.scheduler.tick().await.unwrap();
    let mut total = 0;
    for _ in 0..5 {
        rig.clock.advance_ms(60_000);
        let (a, b) = tokio::join!(rig.scheduler.tick(), other.tick());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.iter().all(|id| !b.contains(id)), "a fire claimed twice");
        total += a.len() + b.len();
    }
    assert_eq!(total, 100);
}

on_both_backends!(
    a_fire_runs_once_and_updates_the_job,
    errors_count_up_and_a_success_resets,
    a_lane_is_serial_and_cancel_frees_it,
    cron_slots_cap_scheduled_runs,
    missed_fires_follow_the_job_policy,
    abandoned_runs_are_reaped,
    two_replicas_fire_each_fire_once,
);

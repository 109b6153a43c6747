//! The scheduler on a real store (SQLite and PostgreSQL) with a manual
//! clock: fires become runs exactly once, runs go through the router to the
//! `sim` provider, job state moves with its runs, lanes and slots hold, and
//! abandoned runs are reaped. Tests wait on run events, never on wall time.

mod common;

use common::TestDb;
use engine::clock::{ManualClock, SharedClock};
use engine::fleet::Fleet;
use engine::router::{CallContext, Candidate, CodexHarness, Router};
use engine::runs::RunStatus;
use engine::scheduler::{
    RunEvent, Scheduler, Settings, PANIC_CLASS, SHUTDOWN_CLASS, SHUTDOWN_GRACE, SHUTDOWN_REASON,
};
use engine::sim::provider::SimProvider;
use engine::store::RunFilter;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const T0: i64 = 1_780_000_020_000; // a whole minute

struct Rig {
    scheduler: Arc<Scheduler>,
    router: Arc<Router>,
    clock: Arc<ManualClock>,
    fleet: Fleet,
    _sim: Arc<SimProvider>,
    _dir: tempfile::TempDir,
}

/// Agents `a` and `b` on sim models scripted by `scripts`; `jobs` as given.
async fn rig(db: &TestDb, scripts: Value, jobs: Value, settings: Settings) -> Rig {
    let config = json!({
        "providers": {"sim": {"kind": "sim", "models": ["a", "b"], "scripts": scripts}},
        "agents": {
            "defaults": {"model": {"primary": "sim/a"}, "embeddedHarness": {"runtime": "pi"}},
            "entries": {"a": {}, "b": {"model": {"primary": "sim/b"}}}
        },
        "cron": {"jobs": jobs}
    });
    rig_on(db, config, None, settings).await
}

/// A rig on `config`, with `codex` as the router's Codex harness.
async fn rig_on(
    db: &TestDb,
    config: Value,
    codex: Option<Arc<dyn CodexHarness>>,
    settings: Settings,
) -> Rig {
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let shared: SharedClock = clock.clone();
    let fleet = Fleet::new(db.store.clone(), shared.clone());
    assert!(fleet.seed_if_empty(&config, "test").await.unwrap());
    let mut router = Router::new(
        db.store.clone(),
        shared.clone(),
        Arc::new(HashMap::<String, String>::new()),
    )
    .with_sim(sim.clone());
    if let Some(codex) = codex {
        router = router.with_codex(codex);
    }
    let router = Arc::new(router);
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        workspaces: dir.path().to_owned(),
        ..settings
    };
    let scheduler = Scheduler::new(fleet.clone(), router.clone(), shared, settings);
    Rig {
        scheduler,
        router,
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

/// An operator's cancel is neither the job failing nor the provider: the
/// job's error streak stays where it was (not reset, not bumped) and the
/// provider's health does not count the cut-short attempt.
async fn a_cancel_is_not_a_failure(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "ok, hang", "b": "auth, hang"}),
        json!([every_minute("j", "a"), every_minute("k", "b")]),
        Settings::default(),
    )
    .await;
    // `k` fails once (streak 1), `j` succeeds (streak 0).
    rig.scheduler.run_now("j").await.unwrap();
    rig.scheduler.run_now("k").await.unwrap();
    assert_eq!(rig.run_started().await, 2);
    // Past b's cooldown, so the next run of `k` reaches the model again.
    rig.clock.advance_ms(30 * 60_000);
    let j = rig.scheduler.run_now("j").await.unwrap().run_id;
    let k = rig.scheduler.run_now("k").await.unwrap().run_id;
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 2);
    for run in [&j, &k] {
        assert_eq!(rig.scheduler.cancel(run).await.unwrap(), RunStatus::Running);
    }
    for h in handles {
        h.await.unwrap();
    }
    for run in [&j, &k] {
        assert_eq!(rig.status(run).await, RunStatus::Cancelled);
        let decisions = rig.fleet.store().run_decisions(run).await.unwrap();
        assert_eq!(
            decisions.last().map(|d| d.reason.as_str()),
            Some("cancelled"),
            "the trail still says what happened"
        );
    }
    for (job, streak) in [("j", 0), ("k", 1)] {
        let state = rig.fleet.store().job_state(job).await.unwrap().unwrap();
        assert_eq!(state.last_status.as_deref(), Some("cancelled"));
        assert_eq!(state.consecutive_errors, streak, "job {job}");
    }
    let config = rig.fleet.config().await.unwrap();
    let view = rig
        .router
        .providers_view(&config, 50, "codex app-server")
        .await
        .unwrap();
    let sim = view.providers.iter().find(|p| p.id == "sim").unwrap();
    let classes: Vec<&str> = sim
        .failures_last_hour
        .iter()
        .map(|c| c.class.as_str())
        .collect();
    assert_eq!(classes, ["auth"], "cancelled is not a provider failure");
    assert_eq!(
        (sim.calls_last_hour, sim.succeeded_last_hour),
        (2, 1),
        "the cancelled attempts are not calls of the provider's"
    );
    assert_eq!(sim.circuit.failures, 0);
    assert!(sim.cooldowns.iter().all(|c| c.reason != "cancelled"));
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

/// A huge `timeoutSeconds` wrapped the run's deadline negative (or, in a
/// debug build, panicked). Validation bounds it now; a revision stored
/// before that (written here around validation) must still run.
async fn a_timeout_past_any_instant_gives_a_deadline_in_the_future(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "ok"}),
        json!([every_minute("j", "a")]),
        Settings::default(),
    )
    .await;
    let doc = rig.fleet.document().await.unwrap();
    let mut config = doc.config;
    config["cron"]["jobs"][0]["timeoutSeconds"] = json!(u64::MAX);
    assert!(rig.fleet.validate(&config).unwrap().errors[0]
        .path
        .ends_with("timeoutSeconds"));
    rig.fleet
        .store()
        .append_revision(
            doc.revision.as_ref(),
            engine::store::NewRevision {
                author: "outside",
                message: "around validation",
                created_at_ms: T0,
                body: &config,
            },
        )
        .await
        .unwrap();
    let run = rig.scheduler.run_now("j").await.unwrap().run_id;
    let deadline = rig.fleet.store().run(&run).await.unwrap().deadline_ms;
    assert!(deadline.is_some_and(|d| d > T0), "{deadline:?}");
    assert_eq!(rig.run_started().await, 1);
    assert_eq!(rig.status(&run).await, RunStatus::Ok);
}

on_both_backends!(
    a_timeout_past_any_instant_gives_a_deadline_in_the_future,
    a_fire_runs_once_and_updates_the_job,
    errors_count_up_and_a_success_resets,
    a_lane_is_serial_and_cancel_frees_it,
    a_cancel_is_not_a_failure,
    cron_slots_cap_scheduled_runs,
    missed_fires_follow_the_job_policy,
    abandoned_runs_are_reaped,
    two_replicas_fire_each_fire_once,
);

impl Rig {
    /// Changes the config as an operator would (a new revision at the
    /// clock's time).
    async fn edit(&self, change: impl FnOnce(&mut Value)) {
        let doc = self.fleet.document().await.unwrap();
        let mut config = doc.config;
        change(&mut config);
        self.fleet
            .put_config(&doc.revision.unwrap().hash, &config, "test", "edit")
            .await
            .unwrap();
    }

    async fn next_run_at(&self, job: &str) -> Option<i64> {
        self.fleet
            .store()
            .job_state(job)
            .await
            .unwrap()
            .unwrap()
            .next_run_at_ms
    }
}

fn anchored(id: &str, every_ms: i64, anchor_ms: i64) -> Value {
    json!({"id": id, "agentId": "a", "message": "report",
           "schedule": {"kind": "every", "everyMs": every_ms, "anchorMs": anchor_ms}})
}

fn job_mut<'a>(config: &'a mut Value, id: &str) -> &'a mut Value {
    config["cron"]["jobs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|j| j["id"] == id)
        .unwrap()
}

/// A fire due within the lookahead is claimed before its instant: its run
/// is stored as queued for the instant, the job moves on in the same
/// transaction, and the dispatcher starts nothing before the instant.
async fn fires_are_claimed_ahead_and_start_at_their_instant(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "ok"}),
        json!([every_minute("j", "a")]),
        Settings {
            fire_lookahead_ms: 2_000,
            ..Settings::default()
        },
    )
    .await;
    let mut events = rig.scheduler.subscribe();
    rig.scheduler.tick().await.unwrap();
    let fire = T0 + 60_000;
    rig.clock.advance_ms(60_000 - 2_001);
    assert!(
        rig.scheduler.tick().await.unwrap().is_empty(),
        "not yet within the lookahead"
    );
    rig.clock.advance_ms(1);
    let claimed = rig.scheduler.tick().await.unwrap();
    let run_id = format!("cron:j:{fire}");
    assert_eq!(claimed, std::slice::from_ref(&run_id));
    wait_for(&mut events, &run_id, RunStatus::Queued).await;
    let run = rig.fleet.store().run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(
        (run.scheduled_for_ms, run.queued_at_ms),
        (Some(fire), fire),
        "queued for its instant"
    );
    assert_eq!(
        rig.next_run_at("j").await,
        Some(fire + 60_000),
        "the job moved on with the claim"
    );
    assert!(
        rig.scheduler.tick().await.unwrap().is_empty(),
        "claimed once"
    );
    // The Jobs view still shows the claimed fire as the next one.
    let view = rig.scheduler.jobs().await.unwrap();
    assert_eq!(view[0].next_fires[..2], [fire, fire + 60_000]);
    assert_eq!(view[0].queued, 1);

    rig.clock.advance_ms(1_999);
    assert!(
        rig.scheduler.dispatch().await.unwrap().is_empty(),
        "nothing starts before its instant"
    );
    rig.clock.advance_ms(1);
    assert_eq!(rig.run_started().await, 1);
    let run = rig.fleet.store().run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Ok);
    assert_eq!(
        (run.started_at_ms, run.lane_wait_ms),
        (Some(fire), Some(0)),
        "started at its instant, no wait"
    );

    // With no lookahead, a fire is claimed at its instant and not before.
    let at_instant = Scheduler::new(
        rig.fleet.clone(),
        Arc::new(Router::new(
            db.store.clone(),
            rig.clock.clone(),
            Arc::new(HashMap::<String, String>::new()),
        )),
        rig.clock.clone(),
        Settings {
            fire_lookahead_ms: 0,
            ..Settings::default()
        },
    );
    rig.clock.advance_ms(60_000 - 1);
    assert!(at_instant.tick().await.unwrap().is_empty());
    rig.clock.advance_ms(1);
    assert_eq!(
        at_instant.tick().await.unwrap(),
        [format!("cron:j:{}", fire + 60_000)]
    );
}

/// A job disabled, removed or rescheduled between the claim and the fire's
/// instant: the claimed run is closed as `skipped` saying why, never run. A
/// change that keeps the instant a fire of the job keeps the run.
async fn a_change_before_the_instant_skips_the_claimed_fire(db: &TestDb) {
    let fire = T0 + 60_000;
    let rig = rig(
        db,
        json!({"a": "ok"}),
        json!([
            anchored("disabled", 60_000, T0),
            anchored("removed", 60_000, T0),
            anchored("moved", 60_000, T0),
            anchored("kept", 60_000, T0),
            anchored("untouched", 60_000, T0),
        ]),
        Settings::default(),
    )
    .await;
    let mut events = rig.scheduler.subscribe();
    rig.scheduler.tick().await.unwrap();
    rig.clock.advance_ms(59_000);
    let claimed = rig.scheduler.tick().await.unwrap();
    assert_eq!(claimed.len(), 5);
    // One lane: the claims queue one behind the other.
    let mut ahead = Vec::new();
    for id in &claimed {
        ahead.push(rig.fleet.store().run(id).await.unwrap().queue_ahead);
    }
    ahead.sort();
    assert_eq!(ahead, [Some(0), Some(1), Some(2), Some(3), Some(4)]);

    rig.edit(|config| {
        job_mut(config, "disabled")["enabled"] = json!(false);
        job_mut(config, "moved")["schedule"]["anchorMs"] = json!(T0 + 10_000);
        // Every 30 s from the same anchor still fires at the claimed instant.
        job_mut(config, "kept")["schedule"]["everyMs"] = json!(30_000);
        config["cron"]["jobs"]
            .as_array_mut()
            .unwrap()
            .retain(|j| j["id"] != "removed");
    })
    .await;
    rig.clock.advance_ms(1_000);
    // The dispatcher sees the change before it starts anything.
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 1, "only one lane: one of the kept runs");
    for h in handles {
        h.await.unwrap();
    }
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let run = |job: &str| {
        let store = rig.fleet.store().clone();
        let id = format!("cron:{job}:{fire}");
        async move { store.run(&id).await.unwrap() }
    };
    for (job, why) in [
        ("disabled", "job disabled was disabled before this fire"),
        (
            "removed",
            "job removed was removed from the config before this fire",
        ),
        (
            "moved",
            "the schedule of job moved changed before this fire",
        ),
    ] {
        let r = run(job).await;
        assert_eq!(r.status, RunStatus::Skipped, "{job}");
        assert_eq!(r.error_class.as_deref(), Some("job_changed"));
        assert!(r.note.as_deref().unwrap().contains(why), "{:?}", r.note);
        assert_eq!(r.started_at_ms, None, "{job} never started");
        assert!(seen.contains(&RunEvent {
            run_id: r.run_id.clone(),
            status: RunStatus::Skipped
        }));
    }
    assert_eq!(rig.next_run_at("disabled").await, None);
    assert_eq!(rig.next_run_at("removed").await, None);
    assert_eq!(rig.next_run_at("moved").await, Some(T0 + 70_000));
    assert_eq!(
        rig.next_run_at("kept").await,
        Some(fire + 30_000),
        "after the kept fire, on the new schedule"
    );
    // The two kept runs share lane agent:a; both run.
    rig.run_started().await;
    for job in ["kept", "untouched"] {
        assert_eq!(run(job).await.status, RunStatus::Ok, "{job}");
    }

    // A change after a claimed fire's instant leaves its run alone: it
    // was due before the change, like any run waiting in its lane.
    let late = fire + 60_000;
    rig.clock.advance_ms(58_500);
    assert!(rig
        .scheduler
        .tick()
        .await
        .unwrap()
        .contains(&format!("cron:untouched:{late}")));
    rig.clock.advance_ms(2_000);
    rig.fleet
        .set_job_enabled("untouched", false, "test")
        .await
        .unwrap();
    while rig.run_started().await > 0 {}
    let r = rig
        .fleet
        .store()
        .run(&format!("cron:untouched:{late}"))
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.note);
    assert_eq!(rig.next_run_at("untouched").await, None, "disabled now");
}

/// A job's stored next fire follows its schedule: a new schedule, time zone
/// or enabling computes it again at once; a job force-run before the first
/// tick still gets scheduled.
async fn a_changed_schedule_is_recomputed(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "ok"}),
        json!([
            every_minute("j", "a"),
            every_minute("early", "a"),
            {"id": "daily", "agentId": "a", "message": "m",
             "schedule": {"kind": "cron", "expr": "0 9 * * *", "tz": "UTC"}}
        ]),
        Settings::default(),
    )
    .await;
    rig.scheduler.run_now("early").await.unwrap();
    rig.scheduler.tick().await.unwrap();
    assert_eq!(rig.next_run_at("j").await, Some(T0 + 60_000));
    assert_eq!(
        rig.next_run_at("early").await,
        Some(T0 + 60_000),
        "a job force-run before the first tick is scheduled too"
    );
    let nine_utc = rig.next_run_at("daily").await.unwrap();
    assert_eq!(nine_utc % 86_400_000, 9 * 3_600_000);

    rig.clock.advance_ms(1_000);
    rig.edit(|config| {
        job_mut(config, "j")["schedule"] = json!({"kind": "cron", "expr": "30 * * * *"});
        job_mut(config, "daily")["schedule"]["tz"] = json!("Asia/Tokyo");
    })
    .await;
    assert!(rig.scheduler.tick().await.unwrap().is_empty());
    let next = rig.next_run_at("j").await.unwrap();
    assert_eq!(next % 3_600_000, 30 * 60_000, "minute 30 of an hour");
    assert!(next > T0 + 1_000 && next <= T0 + 1_000 + 3_600_000);
    // 09:00 in Tokyo is 00:00 UTC.
    let nine_tokyo = rig.next_run_at("daily").await.unwrap();
    assert_eq!(nine_tokyo % 86_400_000, 0);
    assert!(nine_tokyo > T0 && nine_tokyo <= T0 + 86_400_000);

    // Disabled: nothing scheduled; enabled a day later: the next fire from
    // then, not a day of "missed" fires.
    rig.fleet.set_job_enabled("j", false, "test").await.unwrap();
    rig.scheduler.tick().await.unwrap();
    assert_eq!(rig.next_run_at("j").await, None);
    rig.clock.advance_ms(86_400_000);
    rig.fleet.set_job_enabled("j", true, "test").await.unwrap();
    let fired = rig.scheduler.tick().await.unwrap();
    assert!(
        !fired.iter().any(|id| id.starts_with("cron:j:")),
        "no catch-up for the day it was disabled: {fired:?}"
    );
    let next = rig.next_run_at("j").await.unwrap();
    let now = T0 + 1_000 + 86_400_000;
    assert!(next > now && next <= now + 3_600_000);
    assert_eq!(next % 3_600_000, 30 * 60_000);
}

/// An `at` job with `deleteAfterRun` leaves the config once the run of its
/// fire has ended, whatever its status; its runs stay. A force-run before
/// the fire does not count.
async fn delete_after_run_removes_the_job(db: &TestDb) {
    let at = T0 + 60_000;
    let one_shot = |id: &str, agent: &str, delete: bool| {
        json!({"id": id, "agentId": agent, "message": "once",
               "schedule": {"kind": "at", "atMs": at}, "deleteAfterRun": delete})
    };
    let rig = rig(
        db,
        json!({"a": "ok", "b": "auth"}),
        json!([
            one_shot("once", "a", true),
            one_shot("once-failing", "b", true),
            one_shot("kept", "a", false)
        ]),
        Settings::default(),
    )
    .await;
    rig.scheduler.tick().await.unwrap();
    let manual = rig.scheduler.run_now("once").await.unwrap().run_id;
    rig.run_started().await;
    assert_eq!(rig.status(&manual).await, RunStatus::Ok);
    rig.scheduler.tick().await.unwrap();
    let jobs = |config: engine::config::Config| -> Vec<String> {
        config.cron.jobs.into_iter().map(|j| j.id).collect()
    };
    assert_eq!(
        jobs(rig.fleet.config().await.unwrap()),
        ["once", "once-failing", "kept"],
        "a force-run is not the job's fire"
    );

    rig.clock.advance_ms(60_000);
    assert_eq!(rig.scheduler.tick().await.unwrap().len(), 3);
    while rig.run_started().await > 0 {}
    assert_eq!(rig.status(&format!("cron:once:{at}")).await, RunStatus::Ok);
    assert_eq!(
        rig.status(&format!("cron:once-failing:{at}")).await,
        RunStatus::Error
    );
    rig.scheduler.tick().await.unwrap();
    assert_eq!(jobs(rig.fleet.config().await.unwrap()), ["kept"]);
    let revisions = rig.fleet.revisions(10).await.unwrap();
    let by_scheduler: Vec<&str> = revisions
        .iter()
        .filter(|r| r.author == "scheduler")
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(by_scheduler.len(), 2, "{by_scheduler:?}");
    for id in ["once", "once-failing"] {
        let name = format!("remove job {id} after its run (deleteAfterRun)");
        assert!(by_scheduler.contains(&name.as_str()), "{by_scheduler:?}");
    }
    // The history stays.
    let runs = rig
        .fleet
        .store()
        .runs(&RunFilter {
            job_id: Some("once".into()),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    rig.scheduler.tick().await.unwrap();
    assert_eq!(
        rig.fleet.revisions(10).await.unwrap().len(),
        revisions.len(),
        "removed once"
    );
}

on_both_backends!(
    fires_are_claimed_ahead_and_start_at_their_instant,
    a_change_before_the_instant_skips_the_claimed_fire,
    a_changed_schedule_is_recomputed,
    delete_after_run_removes_the_job,
);

/// A Codex harness with a bug: its attempt panics. Any panic inside a run's
/// work takes the same path (the native engine, a tool, the router).
struct PanickingCodex;

impl CodexHarness for PanickingCodex {
    fn attempt<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a Candidate,
        _: &'a engine::config::CodexSettings,
        _: &'a engine::provider::ChatRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<engine::provider::Completion, engine::provider::Failure>,
                > + Send
                + 'a,
        >,
    > {
        Box::pin(async { panic!("injected: the harness hit a bug") })
    }
}

/// A run whose work panics is finished as an error naming the panic, its
/// job state is closed, its lease no longer renewed, and the next run of
/// its lane starts. Before, the panic killed the run's task: the run stayed
/// `running`, the heartbeat renewed its lease, and the lane queued forever.
async fn a_panicking_run_is_finished_and_frees_its_lane(db: &TestDb) {
    let config = json!({
        "providers": {"openai-codex": {"kind": "codex", "family": "codex", "models": ["spark"]}},
        "agents": {
            "defaults": {"model": {"primary": "openai-codex/spark"},
                         "embeddedHarness": {"runtime": "codex", "fallback": "none"}},
            "entries": {"c": {}}
        },
        "cron": {"jobs": [every_minute("j", "c")]}
    });
    let rig = rig_on(
        db,
        config,
        Some(Arc::new(PanickingCodex)),
        Settings::default(),
    )
    .await;
    let mut events = rig.scheduler.subscribe();
    let first = rig.scheduler.run_now("j").await.unwrap().run_id;
    let second = rig.scheduler.run_now("j").await.unwrap().run_id;
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 1);
    for h in handles {
        h.await.expect("the run's task survives the panic");
    }
    wait_for(&mut events, &first, RunStatus::Error).await;
    let run = rig.fleet.store().run(&first).await.unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error_class.as_deref(), Some(PANIC_CLASS));
    let error = run.error.unwrap();
    assert!(
        error.contains("panicked") && error.contains("injected: the harness hit a bug"),
        "{error}"
    );
    let state = rig.fleet.store().job_state("j").await.unwrap().unwrap();
    assert_eq!(state.running_at_ms, None);
    assert_eq!(state.last_error_class.as_deref(), Some(PANIC_CLASS));
    // Nothing is left for the heartbeat to keep alive…
    rig.scheduler.heartbeat().await.unwrap();
    assert!(rig.scheduler.reap().await.unwrap().is_empty());
    // …and the lane is free: the run queued behind starts.
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(handles.len(), 1);
    wait_for(&mut events, &second, RunStatus::Running).await;
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(rig.status(&second).await, RunStatus::Error);
}

/// Shutdown cancels the runs in flight and has them recorded as ended,
/// with the reason, before it returns (so before the store closes); it
/// starts nothing more. Before, a SIGTERM left such a run `running` until
/// the next start reaped it.
async fn shutdown_ends_runs_in_flight(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "hang"}),
        json!([every_minute("j", "a")]),
        Settings::default(),
    )
    .await;
    let run = rig.scheduler.run_now("j").await.unwrap().run_id;
    let behind = rig.scheduler.run_now("j").await.unwrap().run_id;
    let handles = rig.scheduler.dispatch().await.unwrap();
    assert_eq!(rig.status(&run).await, RunStatus::Running);

    let ended = rig
        .scheduler
        .shutdown(tokio::time::sleep(SHUTDOWN_GRACE))
        .await;
    assert_eq!(ended, std::slice::from_ref(&run));
    let record = rig.fleet.store().run(&run).await.unwrap();
    assert_eq!(record.status, RunStatus::Cancelled);
    assert_eq!(record.error.as_deref(), Some(SHUTDOWN_REASON));
    assert_eq!(record.error_class.as_deref(), Some(SHUTDOWN_CLASS));
    let state = rig.fleet.store().job_state("j").await.unwrap().unwrap();
    assert_eq!(state.running_at_ms, None);
    for h in handles {
        h.await.unwrap();
    }
    // Stopped for good: nothing claimed or started, the queued run waits
    // for the next start.
    rig.clock.advance_ms(60_000);
    assert!(rig.scheduler.tick().await.unwrap().is_empty());
    assert!(rig.scheduler.dispatch().await.unwrap().is_empty());
    assert_eq!(rig.status(&behind).await, RunStatus::Queued);
}

/// A run that has not stopped when the grace period ends is aborted and
/// closed by the shutdown itself (here the grace has already ended).
async fn shutdown_closes_runs_that_outlive_the_grace(db: &TestDb) {
    let rig = rig(
        db,
        json!({"a": "hang"}),
        json!([every_minute("j", "a")]),
        Settings::default(),
    )
    .await;
    let run = rig.scheduler.run_now("j").await.unwrap().run_id;
    let handles = rig.scheduler.dispatch().await.unwrap();
    let ended = rig.scheduler.shutdown(std::future::ready(())).await;
    assert_eq!(ended, std::slice::from_ref(&run));
    let record = rig.fleet.store().run(&run).await.unwrap();
    assert_eq!(record.status, RunStatus::Cancelled);
    assert!(record
        .error
        .as_deref()
        .unwrap()
        .starts_with(SHUTDOWN_REASON));
    assert_eq!(record.error_class.as_deref(), Some(SHUTDOWN_CLASS));
    for h in handles {
        assert!(h.await.unwrap_err().is_cancelled(), "aborted");
    }
}

on_both_backends!(
    a_panicking_run_is_finished_and_frees_its_lane,
    shutdown_ends_runs_in_flight,
    shutdown_closes_runs_that_outlive_the_grace,
);

/// Fires are exact instants whatever the millisecond the loop ticks at (an
/// every-minute job fired at :00.271 before), the run records its instant,
/// and `nextFires` is the stored next fire followed by exactly the fires the
/// scheduler then stores, one claim after another.
async fn fires_are_exact_and_the_preview_is_the_stored_schedule(db: &TestDb) {
    let cron = json!({"id": "c", "agentId": "b", "message": "report",
                      "schedule": {"kind": "cron", "expr": "* * * * *"}});
    let rig = rig(
        db,
        json!({"a": "ok", "b": "ok"}),
        json!([every_minute("e", "a"), cron]),
        Settings::default(),
    )
    .await;
    // The loop never ticks on the second.
    rig.clock.advance_ms(271);
    assert!(rig.scheduler.tick().await.unwrap().is_empty());
    let preview: HashMap<String, Vec<i64>> = rig
        .scheduler
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.id, j.next_fires))
        .collect();
    for job in ["e", "c"] {
        let fires = &preview[job];
        assert_eq!(fires.len(), 5, "{job}");
        assert_eq!(fires[0], T0 + 60_000, "{job}: on the minute");
        assert!(fires.iter().all(|f| f % 1000 == 0), "{job}: {fires:?}");
        assert_eq!(rig.next_run_at(job).await, Some(fires[0]), "{job}");
    }
    for k in 0..3 {
        rig.clock.advance_ms(60_000);
        let mut fired = rig.scheduler.tick().await.unwrap();
        fired.sort();
        assert_eq!(
            fired,
            [
                format!("cron:c:{}", preview["c"][k]),
                format!("cron:e:{}", preview["e"][k])
            ]
        );
        for job in ["e", "c"] {
            let run = format!("cron:{job}:{}", preview[job][k]);
            let run = rig.fleet.store().run(&run).await.unwrap();
            assert_eq!(
                run.scheduled_for_ms,
                Some(preview[job][k]),
                "the instant, not the tick"
            );
            assert_eq!(
                rig.next_run_at(job).await,
                Some(preview[job][k + 1]),
                "{job}: the stored next fire is the preview's next"
            );
        }
        assert_eq!(rig.run_started().await, 2);
    }
}

on_both_backends!(fires_are_exact_and_the_preview_is_the_stored_schedule);

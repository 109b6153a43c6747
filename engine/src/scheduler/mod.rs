//! The scheduler (DESIGN §5): claims fires due now or within a short
//! lookahead as runs queued for the fire's instant (exactly once across
//! replicas), keeps job states in line with config changes (a changed
//! schedule is computed again; a claimed fire the change overtook is closed
//! as skipped), starts queued runs from their instant on when their lane and
//! a cron slot are free, runs them in the native engine through the router,
//! heartbeats, reaps runs whose owner is gone, and removes `at` jobs with
//! `deleteAfterRun` once their run has ended.
//!
//! A run's work cannot wedge its lane: a panic inside it is caught and the
//! run finished as `error` / `internal_panic`, and only runs this process
//! is still executing have their lease renewed. [`Scheduler::shutdown`]
//! stops claiming and starting, cancels the runs in flight and finishes
//! them (`cancelled`, "server shutting down") within a grace period.
//!
//! Time comes from the injected clock: tests call [`Scheduler::tick`],
//! [`Scheduler::dispatch`] and [`Scheduler::reap`] themselves and wait on
//! [`Scheduler::subscribe`] events; [`Scheduler::spawn`] drives the same
//! steps in production.

pub mod schedule;

use futures_util::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::exec::ExecLimits;
use crate::agent::workspace::Workspace;
use crate::agent::{run_native, NativeRun, RunEnd as NativeEnd};
use crate::clock::SharedClock;
use crate::config::{Config, Job, MissedPolicy, Schedule};
use crate::failure::FailureClass;
use crate::fleet::Fleet;
use crate::router::{CallContext, Plan, Router};
use crate::runs::{Enqueued, JobState, JobView, RunDetail, RunRecord, RunStatus, Trigger};
use crate::store::{Fire, LaneCounts, NewRun, Reschedule, RunEnd, Store, JOB_CHANGED};
use crate::{Error, Result};
use schedule::Compiled;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Scheduled runs running at once, across all lanes (the cron lane).
    pub cron_slots: i64,
    /// How long a running run's claim holds without a heartbeat.
    pub lease_ms: i64,
    pub heartbeat_every: Duration,
    /// Waits in a lane longer than this are logged and noted on the run.
    pub lane_wait_warn_ms: i64,
    /// A job without `timeoutSeconds` gets this budget (queue wait included).
    pub default_timeout_ms: i64,
    /// A fire later than this is "missed" (the server was down or stalled).
    pub missed_after_ms: i64,
    /// Fires due within this much of now are claimed ahead of their instant:
    /// their runs are stored as queued for the instant, and the dispatcher
    /// starts them when it comes. 0 claims each fire at its instant.
    pub fire_lookahead_ms: i64,
    /// Agents without a `workspace` get `<workspaces>/<agentId>`.
    pub workspaces: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cron_slots: 4,
            lease_ms: 30_000,
            heartbeat_every: Duration::from_secs(10),
            lane_wait_warn_ms: 60_000,
            default_timeout_ms: 30 * 60_000,
            missed_after_ms: 60_000,
            fire_lookahead_ms: DEFAULT_FIRE_LOOKAHEAD_MS,
            workspaces: std::env::temp_dir().join("switchyard-workspaces"),
        }
    }
}

/// How far ahead fires are claimed by default: long enough for a tick to
/// claim 10,000 fires due at the same instant on either backend (see
/// docs/BENCHMARKS.md), short enough that a config change rarely meets an
/// already-claimed fire.
pub const DEFAULT_FIRE_LOOKAHEAD_MS: i64 = 2_000;

/// How long [`Scheduler::shutdown`] waits for cancelled runs to finish on
/// their own before it aborts them and closes them in the store itself.
/// Well inside the lease (30 s by default), so no other replica reaps a run
/// this process is still closing.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The error recorded on runs ended by a shutdown.
pub const SHUTDOWN_REASON: &str = "server shutting down";

/// The class of a run cancelled by a shutdown.
pub const SHUTDOWN_CLASS: &str = "shutdown";

/// The class of a run whose work panicked.
pub const PANIC_CLASS: &str = "internal_panic";

/// A run changed status (the console's live updates; tests wait on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    pub run_id: String,
    pub status: RunStatus,
}

pub struct Scheduler {
    fleet: Fleet,
    router: Arc<Router>,
    clock: SharedClock,
    settings: Settings,
    /// `host:pid:nonce`: names this process on the runs it owns.
    owner: String,
    in_flight: Mutex<InFlight>,
    /// Every `execute` task, so a shutdown can wait for them.
    tasks: TaskTracker,
    wake: Notify,
    events: broadcast::Sender<RunEvent>,
    /// The config as of the last head revision this process saw.
    config_cache: tokio::sync::Mutex<Option<Current>>,
    /// `deleteAfterRun` removals that failed, with the head they failed on:
    /// not tried again until the config changes.
    removal_failed: Mutex<HashMap<String, String>>,
}

/// The runs this process is executing, and whether it is shutting down
/// (one lock, so a run is either seen by the shutdown or never started).
#[derive(Default)]
struct InFlight {
    runs: HashMap<String, Running>,
    shutting_down: bool,
}

struct Running {
    token: CancellationToken,
    task: Option<AbortHandle>,
}

/// The config of one head revision, with what each tick needs of it.
#[derive(Clone)]
struct Current {
    hash: String,
    config: Arc<Config>,
    /// Job id → position in `config.cron.jobs`.
    index: Arc<HashMap<String, usize>>,
    /// Each job's schedule fingerprint, by position.
    fps: Arc<Vec<String>>,
}

impl Scheduler {
    pub fn new(
        fleet: Fleet,
        router: Arc<Router>,
        clock: SharedClock,
        settings: Settings,
    ) -> Arc<Self> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let nonce = clock.now_ms();
        Arc::new(Scheduler {
            fleet,
            router,
            clock,
            settings,
            owner: format!("{}:{}:{nonce}", host.trim(), std::process::id()),
            in_flight: Mutex::new(InFlight::default()),
            tasks: TaskTracker::new(),
            wake: Notify::new(),
            events: broadcast::channel(1024).0,
            config_cache: tokio::sync::Mutex::new(None),
            removal_failed: Mutex::new(HashMap::new()),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn store(&self) -> &Store {
        self.fleet.store()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.events.subscribe()
    }

    fn emit(&self, run_id: &str, status: RunStatus) {
        let _ = self.events.send(RunEvent {
            run_id: run_id.to_owned(),
            status,
        });
    }

    /// Claims every fire due now or within the lookahead
    /// ([`Settings::fire_lookahead_ms`]): its run is stored as queued for
    /// the fire's instant, exactly once across replicas, and the dispatcher
    /// starts it when the instant comes. Returns the ids of the runs it
    /// queued or recorded as skipped.
    pub async fn tick(&self) -> Result<Vec<String>> {
        if self.is_shutting_down() {
            return Ok(Vec::new());
        }
        let current = self.refresh().await?;
        let now = self.clock.now_ms();
        let horizon = now + self.settings.fire_lookahead_ms.max(0);
        let jobs = &current.config.cron.jobs;
        let mut due = Vec::new();
        for (job_id, next) in self.store().due_job_states(horizon).await? {
            let (Some(next), Some(&i)) = (next, current.index.get(&job_id)) else {
                continue;
            };
            let job = &jobs[i];
            if next > horizon || !job.enabled {
                continue;
            }
            match Compiled::new(&job.schedule, next) {
                Ok(compiled) => {
                    due.push(self.plan_fire(job, &current.fps[i], &compiled, next, now))
                }
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "job has an invalid schedule; not scheduled")
                }
            }
        }
        // Earliest first: if claiming takes long, the latest fires wait.
        due.sort_by_key(|p| p.scheduled_for_ms);
        let mut fired = Vec::new();
        let mut lanes = LaneCounts::default();
        // Thousands of jobs can come due in the same second: claim them in
        // few transactions rather than one each.
        for chunk in due.chunks(FIRE_BATCH) {
            let fires: Vec<Fire<'_>> = chunk.iter().map(PlannedFire::as_fire).collect();
            let claimed = self.store().fire_many(&fires, now, &mut lanes).await?;
            for (plan, run_id) in chunk.iter().zip(claimed) {
                let Some(run_id) = run_id else { continue };
                if let Some(note) = &plan.note {
                    tracing::warn!(job = %plan.job_id, run_id = %run_id, "{note}");
                }
                self.emit(
                    &run_id,
                    if plan.skip {
                        RunStatus::Skipped
                    } else {
                        RunStatus::Queued
                    },
                );
                fired.push(run_id);
            }
        }
        self.remove_finished_one_shots(&current, now).await;
        if !fired.is_empty() {
            self.wake.notify_one();
        }
        Ok(fired)
    }

    /// The config of the newest revision, parsed again only when the head
    /// revision changed. A change is applied to the job states first
    /// ([`Self::reconcile`]), so nothing is claimed or started under a
    /// config that is no longer current.
    async fn refresh(&self) -> Result<Current> {
        let head = self.store().head_hash().await?;
        let mut cache = self.config_cache.lock().await;
        if let Some(current) = cache.as_ref() {
            if Some(&current.hash) == head.as_ref() {
                return Ok(current.clone());
            }
        }
        let (hash, changed_at, config) = match self.fleet.current().await? {
            Some((revision, config)) => (revision.info.hash, revision.info.created_at_ms, config),
            None => (String::new(), self.clock.now_ms(), Config::default()),
        };
        let jobs = &config.cron.jobs;
        let current = Current {
            hash,
            index: Arc::new(
                jobs.iter()
                    .enumerate()
                    .map(|(i, j)| (j.id.clone(), i))
                    .collect(),
            ),
            fps: Arc::new(jobs.iter().map(schedule_fp).collect()),
            config: Arc::new(config),
        };
        self.reconcile(&current, changed_at).await?;
        *cache = Some(current.clone());
        Ok(current)
    }

    /// Brings the job states in line with a config revision made at
    /// `changed_at`. A new job gets its first next fire. A job whose
    /// schedule, time zone or enabled flag differs from what its stored next
    /// fire was computed from (its fingerprint) gets a new one, computed
    /// from now; its fires claimed ahead for an instant after the change are
    /// closed as `skipped` with the reason, unless the instant is still a
    /// fire of the new schedule (then it stays, and the next fire comes
    /// after it). A job no longer in the config is unscheduled the same way.
    /// Each change is a compare-and-set on the stored fingerprint, so of
    /// several replicas that see the revision, one applies it.
    async fn reconcile(&self, current: &Current, changed_at: i64) -> Result<()> {
        let now = self.clock.now_ms();
        let states = self.store().job_schedules().await?;
        let known: HashMap<&str, (Option<i64>, Option<&str>)> = states
            .iter()
            .map(|(id, next, fp)| (id.as_str(), (*next, fp.as_deref())))
            .collect();
        let mut claims: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for (run_id, job_id, at) in self.store().pending_claims(changed_at.min(now)).await? {
            claims.entry(job_id).or_default().push((run_id, at));
        }
        let mut new_jobs = Vec::new();
        let mut changes = Vec::new();
        for (job, fp) in current.config.cron.jobs.iter().zip(current.fps.iter()) {
            match known.get(job.id.as_str()) {
                // An `every` without an anchor counts from when the
                // scheduler first saw the job, then from each fire: its
                // rhythm survives restarts and a new job does not fire at
                // once.
                None => new_jobs.push((job.id.clone(), self.first_fire(job, now), fp.clone())),
                Some((_, Some(stored))) if stored == fp => {}
                // Stored before fingerprints existed: keep its rhythm.
                Some((Some(next), None)) => changes.push(Reschedule {
                    job_id: job.id.clone(),
                    expected_fp: None,
                    schedule_fp: fp.clone(),
                    next_run_at_ms: job.enabled.then_some(*next),
                    skip: Vec::new(),
                }),
                Some((_, stored)) => {
                    let pending = claims.remove(&job.id).unwrap_or_default();
                    changes.push(self.rescheduled(
                        job,
                        fp,
                        stored.map(str::to_owned),
                        pending,
                        now,
                    ));
                }
            }
        }
        for (job_id, _, stored) in &states {
            if current.index.contains_key(job_id) || stored.as_deref() == Some(DELETED_FP) {
                continue;
            }
            let skip = claims
                .remove(job_id)
                .unwrap_or_default()
                .into_iter()
                .map(|(run_id, at)| {
                    let why = format!(
                        "skipped: job {job_id} was removed from the config before this fire ({})",
                        crate::router::format_ms(at)
                    );
                    (run_id, why)
                })
                .collect();
            changes.push(Reschedule {
                job_id: job_id.clone(),
                expected_fp: stored.clone(),
                schedule_fp: DELETED_FP.to_owned(),
                next_run_at_ms: None,
                skip,
            });
        }
        if !new_jobs.is_empty() {
            self.store().ensure_job_states(&new_jobs, now).await?;
        }
        for run_id in self.store().reschedule(&changes, now).await? {
            tracing::warn!(run_id = %run_id, "claimed fire closed as skipped: its job changed before the fire");
            self.emit(&run_id, RunStatus::Skipped);
        }
        Ok(())
    }

    /// A new job's first fire: after now; none while it is disabled.
    fn first_fire(&self, job: &Job, now: i64) -> Option<i64> {
        if !job.enabled {
            return None;
        }
        schedule::first_fire(&job.schedule, now)
            .map_err(|e| tracing::warn!(job = %job.id, error = %e, "job has an invalid schedule; not scheduled"))
            .ok()?
    }

    /// The new state of a job whose fingerprint changed, and which of its
    /// claimed fires (`pending`: run id, instant) no longer hold.
    fn rescheduled(
        &self,
        job: &Job,
        fp: &str,
        stored: Option<String>,
        pending: Vec<(String, i64)>,
        now: i64,
    ) -> Reschedule {
        let compiled = if job.enabled {
            Compiled::new(&job.schedule, now)
                .map_err(|e| tracing::warn!(job = %job.id, error = %e, "job has an invalid schedule; not scheduled"))
                .ok()
        } else {
            None
        };
        let mut after = now;
        let mut skip = Vec::new();
        for (run_id, at) in pending {
            let at_text = crate::router::format_ms(at);
            let why = match &compiled {
                Some(c) if c.next_after(at - 1) == Some(at) => {
                    after = after.max(at);
                    continue;
                }
                Some(_) => format!(
                    "skipped: the schedule of job {} changed before this fire ({at_text}); it is now {}, which does not fire then",
                    job.id,
                    schedule::describe(&job.schedule)
                ),
                None if !job.enabled => format!(
                    "skipped: job {} was disabled before this fire ({at_text})",
                    job.id
                ),
                None => format!(
                    "skipped: the schedule of job {} changed before this fire ({at_text}) and is no longer valid",
                    job.id
                ),
            };
            skip.push((run_id, why));
        }
        Reschedule {
            job_id: job.id.clone(),
            expected_fp: stored,
            schedule_fp: fp.to_owned(),
            next_run_at_ms: compiled.and_then(|c| c.next_after(after)),
            skip,
        }
    }

    /// `at` jobs with `deleteAfterRun`: once the run of their fire has
    /// ended — in any final status, except a fire closed because the job
    /// itself was changed first — the job is removed from the config by a
    /// new revision (author `scheduler`). Its runs stay in the history.
    /// Runs every tick, so every way a run ends (finished, reaped,
    /// cancelled, skipped as missed) and a replica that died in between are
    /// covered; it costs one indexed read per such job whose time has come.
    async fn remove_finished_one_shots(&self, current: &Current, now: i64) {
        for job in &current.config.cron.jobs {
            let Schedule::At { at_ms } = job.schedule else {
                continue;
            };
            if !job.delete_after_run || at_ms > now {
                continue;
            }
            if self
                .removal_failed
                .lock()
                .expect("removal_failed")
                .get(&job.id)
                == Some(&current.hash)
            {
                continue;
            }
            match self.store().fire_outcome(&job.id, at_ms).await {
                Ok(Some((status, class)))
                    if status.is_final()
                        && !(status == RunStatus::Skipped
                            && class.as_deref() == Some(JOB_CHANGED)) => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "could not read the run of a deleteAfterRun job");
                    continue;
                }
            }
            let message = format!("remove job {} after its run (deleteAfterRun)", job.id);
            match self.fleet.remove_job(&job.id, "scheduler", &message).await {
                Ok(true) => tracing::info!(job = %job.id, "{message}"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "could not remove a deleteAfterRun job; trying again after the next config change");
                    self.removal_failed
                        .lock()
                        .expect("removal_failed")
                        .insert(job.id.clone(), current.hash.clone());
                }
            }
        }
    }

    /// What to record for a due fire, applying the missed-fire policy. A
    /// fire still ahead is queued for its instant.
    fn plan_fire(
        &self,
        job: &Job,
        fp: &str,
        compiled: &Compiled,
        due: i64,
        now: i64,
    ) -> PlannedFire {
        let late = now - due > self.settings.missed_after_ms;
        // A tick a little behind (load, a busy database) catches up fire by
        // fire; only a real outage (beyond `missed_after_ms`) jumps ahead
        // under the job's missed-fire policy.
        let next_run_at_ms = if late {
            compiled.next_after(now)
        } else {
            compiled.next_after(due)
        };
        let missed = |action: &str, last: i64, n: usize| {
            format!(
                "{n} fire(s) from {} to {} missed while the server was down; {action}",
                crate::router::format_ms(due),
                crate::router::format_ms(last)
            )
        };
        let (scheduled_for_ms, skip, note) = if !late {
            (due, false, None)
        } else {
            let later = compiled.between(due, now, 10_000);
            let latest = *later.last().unwrap_or(&due);
            let n = 1 + later.len();
            match job.missed.unwrap_or_default() {
                MissedPolicy::Skip => {
                    (due, true, Some(missed("skipped (missed: skip)", latest, n)))
                }
                MissedPolicy::RunOnce => (
                    latest,
                    false,
                    Some(missed(
                        "running once for the latest (missed: run_once)",
                        latest,
                        n,
                    )),
                ),
            }
        };
        // Claimed ahead: queued for the instant, its budget counted from it.
        let queued_at_ms = now.max(scheduled_for_ms);
        PlannedFire {
            job_id: job.id.clone(),
            agent_id: job.agent_id.to_string(),
            lane: lane_of(job),
            schedule_fp: fp.to_owned(),
            queued_at_ms,
            deadline_ms: queued_at_ms.saturating_add(self.timeout_ms(job)),
            expected_next: due,
            scheduled_for_ms,
            next_run_at_ms,
            skip,
            note,
        }
    }

    /// Clamped to the config's bound: a revision stored before the bound
    /// existed may hold any `u64`, which wrapped deadlines negative.
    fn timeout_ms(&self, job: &Job) -> i64 {
        job.timeout_seconds
            .map_or(self.settings.default_timeout_ms, |s| {
                let s = s.min(crate::config::limits::MAX_SECONDS);
                i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
            })
    }

    /// Force-run: queues `manual:<jobId>:<n>` and answers at once.
    pub async fn run_now(&self, job_id: &str) -> Result<Enqueued> {
        let config = self.fleet.config().await?;
        let job = config
            .cron
            .jobs
            .iter()
            .find(|j| j.id == job_id)
            .ok_or_else(|| Error::NotFound {
                what: "job",
                id: job_id.to_owned(),
            })?;
        let now = self.clock.now_ms();
        let lane = lane_of(job);
        let run_id = self
            .store()
            .enqueue_manual(&NewRun {
                job_id: &job.id,
                agent_id: job.agent_id.as_str(),
                lane: &lane,
                queued_at_ms: now,
                deadline_ms: Some(now.saturating_add(self.timeout_ms(job))),
            })
            .await?;
        self.emit(&run_id, RunStatus::Queued);
        self.wake.notify_one();
        Ok(Enqueued {
            ok: true,
            enqueued: true,
            run_id,
        })
    }

    /// One pass over the queue: starts the queued runs that are runnable
    /// now (oldest first, up to a batch) whose lane and, for scheduled runs,
    /// a cron slot are free. A fire claimed ahead is not runnable before its
    /// instant. One pass only, so the loop keeps ticking, heartbeating and
    /// hearing its stop signal while a long queue drains.
    pub async fn dispatch(self: &Arc<Self>) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        if self.is_shutting_down() {
            return Ok(Vec::new());
        }
        // A config change that came before a claimed fire's instant closes
        // that fire (see `reconcile`) before anything could start it.
        self.refresh().await?;
        let now = self.clock.now_ms();
        let mut handles = Vec::new();
        let mut pass = Pass::default();
        for run in self.store().startable_runs(64, now).await? {
            if pass.lanes.contains(&run.lane) {
                continue;
            }
            if run.trigger == Trigger::Cron && pass.cron_full(self.settings.cron_slots) {
                continue;
            }
            if self.start(&run, &mut pass).await? {
                pass.lanes.insert(run.lane.clone());
                // Registered before the task runs, so a cancel that comes
                // right after the start always finds it; under the lock the
                // shutdown takes, so a run started as it begins is closed
                // here rather than missed.
                let run_id = run.run_id.clone();
                let token = CancellationToken::new();
                let this = self.clone();
                let task = {
                    let mut in_flight = self.in_flight.lock().expect("in_flight");
                    if in_flight.shutting_down {
                        None
                    } else {
                        let task = self.tasks.spawn({
                            let token = token.clone();
                            async move { this.execute(run, token).await }
                        });
                        in_flight.runs.insert(
                            run_id.clone(),
                            Running {
                                token,
                                task: Some(task.abort_handle()),
                            },
                        );
                        Some(task)
                    }
                };
                match task {
                    Some(task) => handles.push(task),
                    None => self.close_for_shutdown(&run_id, SHUTDOWN_REASON).await,
                }
            }
        }
        Ok(handles)
    }

    async fn start(&self, run: &RunRecord, pass: &mut Pass) -> Result<bool> {
        let now = self.clock.now_ms();
        let lease = now + self.settings.lease_ms;
        let slots: Vec<Option<i64>> = match run.trigger {
            Trigger::Cron => {
                let used = match &pass.used_slots {
                    Some(used) => used.clone(),
                    None => {
                        let used = self.store().used_cron_slots().await?;
                        pass.used_slots = Some(used.clone());
                        used
                    }
                };
                (0..self.settings.cron_slots)
                    .filter(|s| !used.contains(s))
                    .map(Some)
                    .collect()
            }
            Trigger::Manual => vec![None],
        };
        for slot in slots {
            if self
                .store()
                .start_run(&run.run_id, &self.owner, now, lease, slot)
                .await?
            {
                if let (Some(slot), Some(used)) = (slot, pass.used_slots.as_mut()) {
                    used.insert(slot);
                }
                let waited = now - run.queued_at_ms;
                if waited > self.settings.lane_wait_warn_ms {
                    let line = format!(
                        "lane wait exceeded: lane={} waitedMs={waited} queueAhead={}",
                        run.lane,
                        run.queue_ahead.unwrap_or(0)
                    );
                    tracing::warn!(run_id = %run.run_id, "{line}");
                    self.store().note_run(&run.run_id, &line).await?;
                }
                self.emit(&run.run_id, RunStatus::Running);
                return Ok(true);
            }
            let Some(slot) = slot else { break };
            // Lost: the slot was taken (by another replica), or the lane or
            // the run itself was. Only a taken slot is worth another try.
            let used = self.store().used_cron_slots().await?;
            let slot_taken = used.contains(&slot);
            pass.used_slots = Some(used);
            if !slot_taken {
                break;
            }
        }
        Ok(false)
    }

    /// Runs one started run to its end and records it with its job state.
    /// A panic in the run's work ends the run as an error (`internal_panic`,
    /// with the panic's message) instead of taking the task down with the
    /// run still `running`, its lane held and its lease renewed.
    async fn execute(&self, run: RunRecord, token: CancellationToken) {
        let work = AssertUnwindSafe(self.run_agent(&run, token.clone()))
            .catch_unwind()
            .await;
        let mut end = match work {
            Ok(end) => end,
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                tracing::error!(run_id = %run.run_id, panic = %message, "the run panicked; finished as an error");
                Finished::error(
                    format!("internal error: the run panicked: {message}"),
                    PANIC_CLASS,
                )
            }
        };
        let shutting_down = {
            let mut in_flight = self.in_flight.lock().expect("in_flight");
            in_flight.runs.remove(&run.run_id);
            in_flight.shutting_down
        };
        if shutting_down && token.is_cancelled() && end.status == RunStatus::Cancelled {
            end.error = Some(SHUTDOWN_REASON.to_owned());
            end.error_class = Some(SHUTDOWN_CLASS.to_owned());
        }
        let now = self.clock.now_ms();
        match self
            .store()
            .finish_run(&run.run_id, &end.as_store(), now)
            .await
        {
            Ok(true) => self.emit(&run.run_id, end.status),
            Ok(false) => {
                tracing::warn!(run_id = %run.run_id, "run was closed by someone else (reaped?) before it finished")
            }
            Err(e) => {
                tracing::error!(run_id = %run.run_id, error = %e, "could not record the end of a run")
            }
        }
        // Its lane (and maybe a cron slot) is free: let the loop start the next.
        self.wake.notify_one();
    }

    async fn run_agent(&self, run: &RunRecord, token: CancellationToken) -> Finished {
        // The loop's config, parsed once per head revision: with 10,000
        // jobs, parsing it again for every run cost more than the run.
        let current = match self.refresh().await {
            Ok(c) => c,
            Err(e) => {
                return Finished::error(format!("could not read the config: {e}"), "internal")
            }
        };
        let config = &*current.config;
        let Some(job) = current
            .index
            .get(&run.job_id)
            .map(|&i| &config.cron.jobs[i])
        else {
            return Finished::error(
                format!("job {} is no longer configured", run.job_id),
                "job_not_found",
            );
        };
        let Some(agent) = config
            .effective_agents()
            .into_iter()
            .find(|a| a.id.as_str() == run.agent_id)
        else {
            return Finished::error(
                format!("agent {} is not configured", run.agent_id),
                "agent_not_found",
            );
        };
        let Some(plan) = Plan::for_agent(config, &agent) else {
            return Finished::error(
                format!("agent {} has no model chain", run.agent_id),
                "no_model",
            );
        };
        let native = config.native_settings(&run.agent_id).unwrap_or_default();
        let root = native
            .workspace
            .as_deref()
            .map(crate::agent::workspace::expand_home)
            .unwrap_or_else(|| self.settings.workspaces.join(agent.id.as_str()));
        let workspace = match Workspace::open(&root) {
            Ok(w) => w,
            Err(e) => {
                return Finished::error(format!("workspace {}: {e}", root.display()), "workspace")
            }
        };
        let mut ctx = CallContext::new(run.run_id.clone(), Some(agent.id.clone()));
        ctx.cancel = token;
        ctx.cwd = Some(workspace.root().to_path_buf());
        if let Some(deadline_ms) = run.deadline_ms {
            let left = deadline_ms.saturating_sub(self.clock.now_ms()).max(0) as u64;
            let now = tokio::time::Instant::now();
            // A deadline too far to represent is no deadline at all.
            if let Some(deadline) = now.checked_add(Duration::from_millis(left)) {
                ctx.limit_deadline(deadline);
            }
        }
        let outcome = run_native(NativeRun {
            router: &self.router,
            plan: &plan,
            ctx: &ctx,
            workspace: &workspace,
            tools: &native.tools,
            system_prompt: native.system_prompt.as_deref(),
            message: &job.message,
            max_turns: native.limits.max_turns,
            max_tokens: native.limits.max_tokens,
            wall_time: native.limits.wall_time_seconds.map(Duration::from_secs),
            exec_limits: ExecLimits {
                sandbox: native.sandbox,
                ..ExecLimits::default()
            },
        })
        .await;
        let (status, error, class) = match &outcome.end {
            NativeEnd::Answered(_) => (RunStatus::Ok, None, None),
            NativeEnd::RouteFailed {
                class: Some(FailureClass::RunTimeout),
                message,
                ..
            } => (
                RunStatus::Timeout,
                Some(message.clone()),
                Some("run_timeout".to_owned()),
            ),
            NativeEnd::RouteFailed {
                class: Some(FailureClass::Cancelled),
                message,
                ..
            } => (
                RunStatus::Cancelled,
                Some(message.clone()),
                Some("cancelled".to_owned()),
            ),
            NativeEnd::RouteFailed {
                reason, message, ..
            } => (
                RunStatus::Error,
                Some(message.clone()),
                Some(reason.clone()),
            ),
            NativeEnd::LimitReached { limit, message } => (
                RunStatus::Error,
                Some(message.clone()),
                Some(format!("limit_{limit}")),
            ),
        };
        Finished {
            status,
            error,
            error_class: class,
            model: outcome.served_by.as_ref().map(|(m, _)| m.to_string()),
            harness: outcome
                .served_by
                .as_ref()
                .map(|(_, h)| format!("{h:?}").to_lowercase()),
            fallback_used: outcome.fallback_used,
            input_tokens: outcome.usage.input_tokens as i64,
            output_tokens: outcome.usage.output_tokens as i64,
            attempts: i64::from(ctx.attempts()),
        }
    }

    /// Every configured job with its schedule in words, next fires and state.
    pub async fn jobs(&self) -> Result<Vec<JobView>> {
        let config = self.fleet.config().await?;
        let now = self.clock.now_ms();
        let states: HashMap<String, JobState> = self
            .store()
            .job_states()
            .await?
            .into_iter()
            .map(|s| (s.job_id.clone(), s))
            .collect();
        let busy = self.store().busy_by_job().await?;
        // Fires already claimed for an instant still ahead: the job's stored
        // next fire has moved past them, but they are its next fires.
        let mut claimed: HashMap<String, Vec<i64>> = HashMap::new();
        for (_, job_id, at) in self.store().pending_claims(now).await? {
            claimed.entry(job_id).or_default().push(at);
        }
        Ok(config
            .cron
            .jobs
            .iter()
            .map(|job| {
                let state = states.get(&job.id).cloned().unwrap_or(JobState {
                    job_id: job.id.clone(),
                    ..JobState::default()
                });
                let mut next_fires = claimed.remove(&job.id).unwrap_or_default();
                // A disabled job has no next fire (its stored one is null).
                if job.enabled {
                    next_fires.extend(schedule::upcoming(
                        &job.schedule,
                        state.next_run_at_ms,
                        now,
                        5,
                    ));
                }
                next_fires.sort_unstable();
                next_fires.dedup();
                next_fires.truncate(5);
                JobView {
                    id: job.id.clone(),
                    name: job.name.clone(),
                    agent_id: job.agent_id.to_string(),
                    enabled: job.enabled,
                    schedule: schedule::describe(&job.schedule),
                    next_fires,
                    state,
                    queued: busy.get(&job.id).copied().unwrap_or(0),
                }
            })
            .collect())
    }

    /// A run with its attempt timeline and transcript.
    pub async fn run_detail(&self, run_id: &str) -> Result<RunDetail> {
        let store = self.store();
        Ok(RunDetail {
            run: store.run(run_id).await?,
            decisions: store.run_decisions(run_id).await?,
            logs: store.run_logs(run_id).await?,
            transcript: store
                .transcript(run_id)
                .await?
                .into_iter()
                .map(|e| serde_json::to_value(e).unwrap_or_default())
                .collect(),
        })
    }

    /// Cancels a run: a queued one at once, a running one by stopping its
    /// engine (its tools' process groups are killed) wherever it runs.
    pub async fn cancel(&self, run_id: &str) -> Result<RunStatus> {
        let status = self
            .store()
            .request_cancel(run_id, self.clock.now_ms())
            .await?;
        if status == RunStatus::Cancelled {
            self.emit(run_id, status);
        }
        if let Some(r) = self.in_flight.lock().expect("in_flight").runs.get(run_id) {
            r.token.cancel();
        }
        Ok(status)
    }

    /// Renews the leases of the runs this process is executing and applies
    /// cancellations requested through other replicas. A run whose task
    /// ended without closing it (say its finish failed on a full disk) is
    /// not renewed: its lease runs out and the reaper closes it.
    pub async fn heartbeat(&self) -> Result<()> {
        let lease = self.clock.now_ms() + self.settings.lease_ms;
        let executing: Vec<String> = self
            .in_flight
            .lock()
            .expect("in_flight")
            .runs
            .keys()
            .cloned()
            .collect();
        for run_id in self
            .store()
            .heartbeat(&self.owner, &executing, lease)
            .await?
        {
            if let Some(r) = self.in_flight.lock().expect("in_flight").runs.get(&run_id) {
                r.token.cancel();
            }
        }
        Ok(())
    }

    fn is_shutting_down(&self) -> bool {
        self.in_flight.lock().expect("in_flight").shutting_down
    }

    /// Graceful shutdown, before the store closes: stops claiming fires and
    /// starting runs, cancels every run in flight, and waits until `grace`
    /// completes (the server passes a [`SHUTDOWN_GRACE`] sleep) for them to
    /// finish, as `cancelled` with the error "server shutting down". Runs
    /// still going then are aborted and closed the same way here. Returns
    /// the runs it cancelled. Stop the [`Self::spawn`] loop first; a
    /// shut-down scheduler stays so.
    pub async fn shutdown(&self, grace: impl std::future::Future<Output = ()>) -> Vec<String> {
        let (ended, tokens): (Vec<String>, Vec<CancellationToken>) = {
            let mut in_flight = self.in_flight.lock().expect("in_flight");
            in_flight.shutting_down = true;
            in_flight
                .runs
                .iter()
                .map(|(id, r)| (id.clone(), r.token.clone()))
                .unzip()
        };
        if !ended.is_empty() {
            tracing::info!(
                runs = ended.len(),
                "shutting down: cancelling the runs in flight"
            );
        }
        for token in tokens {
            token.cancel();
        }
        self.tasks.close();
        let finished = tokio::select! {
            biased;
            () = self.tasks.wait() => true,
            () = grace => false,
        };
        if !finished {
            let stuck: Vec<(String, Option<AbortHandle>)> = self
                .in_flight
                .lock()
                .expect("in_flight")
                .runs
                .drain()
                .map(|(id, r)| (id, r.task))
                .collect();
            for (run_id, task) in stuck {
                if let Some(task) = task {
                    task.abort();
                }
                let why = format!(
                    "{SHUTDOWN_REASON}: the run did not stop within the shutdown grace period"
                );
                tracing::warn!(run_id = %run_id, "{why}");
                self.close_for_shutdown(&run_id, &why).await;
            }
        }
        ended
    }

    /// Closes a running run of this process as cancelled by the shutdown.
    async fn close_for_shutdown(&self, run_id: &str, why: &str) {
        let end = Finished {
            status: RunStatus::Cancelled,
            ..Finished::error(why.to_owned(), SHUTDOWN_CLASS)
        };
        match self
            .store()
            .finish_run(run_id, &end.as_store(), self.clock.now_ms())
            .await
        {
            Ok(true) => self.emit(run_id, RunStatus::Cancelled),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(run_id = %run_id, error = %e, "could not close a run at shutdown; the next start reaps it")
            }
        }
    }

    /// Closes runs whose owner is gone: a process on this host that no
    /// longer exists (found at once, e.g. after `kill -9` and a restart), or
    /// any owner whose lease ran out (another replica that died).
    pub async fn reap(&self) -> Result<Vec<String>> {
        let dead: Vec<String> = self
            .store()
            .running_owners()
            .await?
            .into_iter()
            .filter(|o| o != &self.owner && owner_is_dead_here(o))
            .collect();
        let reaped = self.store().reap(self.clock.now_ms(), &dead).await?;
        for run_id in &reaped {
            tracing::warn!(run_id = %run_id, "reaped a run whose owner is gone (abandoned)");
            self.emit(run_id, RunStatus::Error);
        }
        Ok(reaped)
    }

    /// Drives tick, dispatch, heartbeat and reap until `stop` is cancelled.
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.reap().await {
                tracing::error!(error = %e, "start-up reaper failed");
            }
            let mut last_beat = tokio::time::Instant::now();
            loop {
                if let Err(e) = this.tick().await {
                    tracing::error!(error = %e, "scheduler tick failed");
                }
                let started = match this.dispatch().await {
                    Ok(handles) => handles.len(),
                    Err(e) => {
                        tracing::error!(error = %e, "scheduler dispatch failed");
                        0
                    }
                };
                if last_beat.elapsed() >= this.settings.heartbeat_every {
                    last_beat = tokio::time::Instant::now();
                    if let Err(e) = this.heartbeat().await {
                        tracing::error!(error = %e, "heartbeat failed");
                    }
                    if let Err(e) = this.reap().await {
                        tracing::error!(error = %e, "reaper failed");
                    }
                }
                // More may be startable right away; otherwise sleep until the
                // next fire, a finished run or a force-run wakes us.
                let pause = if started > 0 {
                    Duration::ZERO
                } else {
                    this.pause_until_next_fire().await
                };
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = this.wake.notified() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// Sleep until there is something to do, at most a second (config
    /// changes and finished runs are picked up within that): the next fire
    /// to claim (its instant minus the lookahead) or the instant of a fire
    /// already claimed, when its run becomes runnable.
    async fn pause_until_next_fire(&self) -> Duration {
        let now = self.clock.now_ms();
        let (next_fire, next_runnable) = self.store().next_due(now).await.unwrap_or_default();
        let claim_at = next_fire.map(|n| n - self.settings.fire_lookahead_ms.max(0));
        let wake = claim_at.into_iter().chain(next_runnable).min();
        let ms = wake.map_or(1000, |w| (w - now).clamp(0, 1000));
        Duration::from_millis(ms as u64)
    }
}

/// What one dispatch pass learned: lanes it started a run in, and the cron
/// slots in use (read once, when the first scheduled run is tried).
#[derive(Default)]
struct Pass {
    lanes: std::collections::HashSet<String>,
    used_slots: Option<std::collections::HashSet<i64>>,
}

impl Pass {
    fn cron_full(&self, slots: i64) -> bool {
        self.used_slots
            .as_ref()
            .is_some_and(|used| (0..slots).all(|s| used.contains(&s)))
    }
}

/// Fires claimed per transaction.
const FIRE_BATCH: usize = 500;

/// The stored fingerprint of a job that is no longer in the config.
const DELETED_FP: &str = "deleted";

/// What a job's next fire is computed from: its schedule (kind, expression,
/// time zone, interval, anchor, time) while it is enabled. A disabled job
/// has no next fire; enabling it again computes one from then on.
fn schedule_fp(job: &Job) -> String {
    if job.enabled {
        serde_json::to_string(&job.schedule).unwrap_or_default()
    } else {
        "disabled".to_owned()
    }
}

/// A due fire, decided and ready to claim.
struct PlannedFire {
    job_id: String,
    agent_id: String,
    lane: String,
    schedule_fp: String,
    queued_at_ms: i64,
    deadline_ms: i64,
    expected_next: i64,
    scheduled_for_ms: i64,
    next_run_at_ms: Option<i64>,
    skip: bool,
    note: Option<String>,
}

impl PlannedFire {
    fn as_fire(&self) -> Fire<'_> {
        Fire {
            run: NewRun {
                job_id: &self.job_id,
                agent_id: &self.agent_id,
                lane: &self.lane,
                queued_at_ms: self.queued_at_ms,
                deadline_ms: Some(self.deadline_ms),
            },
            schedule_fp: &self.schedule_fp,
            expected_next: self.expected_next,
            scheduled_for_ms: self.scheduled_for_ms,
            next_run_at_ms: self.next_run_at_ms,
            skip: self.skip,
            note: self.note.clone(),
        }
    }
}

/// The lane a job's runs wait in: its own `lane`, else its agent's.
fn lane_of(job: &Job) -> String {
    job.lane
        .clone()
        .unwrap_or_else(|| format!("agent:{}", job.agent_id))
}

/// `host:pid:nonce` of a process on this host that no longer runs.
fn owner_is_dead_here(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if host != here.trim() {
        return false;
    }
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if pid == std::process::id() as i32 {
        // Our pid but another nonce: an earlier life of this pid number.
        return true;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// The text of a caught panic (`panic!` with a literal or a format).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

struct Finished {
    status: RunStatus,
    error: Option<String>,
    error_class: Option<String>,
    model: Option<String>,
    harness: Option<String>,
    fallback_used: bool,
    input_tokens: i64,
    output_tokens: i64,
    attempts: i64,
}

impl Finished {
    fn error(message: String, class: &str) -> Self {
        Finished {
            status: RunStatus::Error,
            error: Some(message),
            error_class: Some(class.to_owned()),
            model: None,
            harness: None,
            fallback_used: false,
            input_tokens: 0,
            output_tokens: 0,
            attempts: 0,
        }
    }

    fn as_store(&self) -> RunEnd<'_> {
        RunEnd {
            status: self.status,
            error: self.error.as_deref(),
            error_class: self.error_class.as_deref(),
            model: self.model.as_deref(),
            harness: self.harness.as_deref(),
            fallback_used: self.fallback_used,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            attempts: self.attempts,
        }
    }
}

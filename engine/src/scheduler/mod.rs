//! The scheduler (DESIGN §5): turns due fires into queued runs (exactly once
//! across replicas), starts queued runs when their lane and a cron slot are
//! free, runs them in the native engine through the router, heartbeats, and
//! reaps runs whose owner is gone.
//!
//! Time comes from the injected clock: tests call [`Scheduler::tick`],
//! [`Scheduler::dispatch`] and [`Scheduler::reap`] themselves and wait on
//! [`Scheduler::subscribe`] events; [`Scheduler::spawn`] drives the same
//! steps in production.

pub mod schedule;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::agent::exec::ExecLimits;
use crate::agent::workspace::Workspace;
use crate::agent::{run_native, NativeRun, RunEnd as NativeEnd};
use crate::clock::SharedClock;
use crate::config::{Config, Job, MissedPolicy};
use crate::failure::FailureClass;
use crate::fleet::Fleet;
use crate::router::{CallContext, Plan, Router};
use crate::runs::{Enqueued, JobState, JobView, RunDetail, RunRecord, RunStatus, Trigger};
use crate::store::{Fire, NewRun, RunEnd, Store};
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
            workspaces: std::env::temp_dir().join("switchyard-workspaces"),
        }
    }
}

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
    cancels: Mutex<HashMap<String, CancellationToken>>,
    wake: Notify,
    events: broadcast::Sender<RunEvent>,
    /// (head revision hash, config, job index) of the last tick.
    config_cache: tokio::sync::Mutex<Option<ConfigCache>>,
}

type ConfigCache = (String, Arc<Config>, Arc<HashMap<String, usize>>);

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
            cancels: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            events: broadcast::channel(1024).0,
            config_cache: tokio::sync::Mutex::new(None),
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

    /// Queues every due fire. Returns the ids of the runs it queued or
    /// recorded as skipped.
    pub async fn tick(&self) -> Result<Vec<String>> {
        let now = self.clock.now_ms();
        let (config, index, changed) = self.config_for_tick().await?;
        // After a config change every job's state is read (new jobs get
        // theirs); otherwise only the due ones, so a quiet tick over
        // thousands of jobs costs one indexed read.
        let states: Vec<(String, Option<i64>)> = if changed {
            let states: Vec<(String, Option<i64>)> = self
                .store()
                .job_states()
                .await?
                .into_iter()
                .map(|s| (s.job_id, s.next_run_at_ms))
                .collect();
            let known: std::collections::HashSet<&str> =
                states.iter().map(|(id, _)| id.as_str()).collect();
            let new_jobs: Vec<(String, Option<i64>)> = config
                .cron
                .jobs
                .iter()
                .filter(|job| !known.contains(job.id.as_str()))
                .filter_map(|job| {
                    // An `every` without an anchor counts from when the
                    // scheduler first saw the job, then from each fire: its
                    // rhythm survives restarts and a new job does not fire
                    // at once.
                    let compiled = Compiled::new(&job.schedule, now)
                        .map_err(|e| tracing::warn!(job = %job.id, error = %e, "job has an invalid schedule; not scheduled"))
                        .ok()?;
                    Some((job.id.clone(), compiled.next_after(now)))
                })
                .collect();
            if !new_jobs.is_empty() {
                self.store().ensure_job_states(&new_jobs, now).await?;
            }
            states
        } else {
            self.store().due_job_states(now).await?
        };
        let mut due = Vec::new();
        for (job_id, next) in states {
            let (Some(next), Some(&i)) = (next, index.get(&job_id)) else {
                continue;
            };
            let job = &config.cron.jobs[i];
            if next > now || !job.enabled {
                continue;
            }
            match Compiled::new(&job.schedule, next) {
                Ok(compiled) => due.push(self.plan_fire(job, &compiled, next, now)),
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "job has an invalid schedule; not scheduled")
                }
            }
        }
        let mut fired = Vec::new();
        // Thousands of jobs can come due in the same second: claim them in
        // few transactions rather than one each.
        for chunk in due.chunks(FIRE_BATCH) {
            let fires: Vec<Fire<'_>> = chunk.iter().map(PlannedFire::as_fire).collect();
            let claimed = self.store().fire_many(&fires).await?;
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
        if !fired.is_empty() {
            self.wake.notify_one();
        }
        Ok(fired)
    }

    /// The current config and a job index, parsed again only when the head
    /// revision changed; `true` when it did (or on the first tick).
    async fn config_for_tick(&self) -> Result<(Arc<Config>, Arc<HashMap<String, usize>>, bool)> {
        let head = self.store().head_hash().await?;
        let mut cache = self.config_cache.lock().await;
        if let Some((hash, config, index)) = cache.as_ref() {
            if Some(hash) == head.as_ref() {
                return Ok((config.clone(), index.clone(), false));
            }
        }
        let config = Arc::new(self.fleet.config().await?);
        let index: Arc<HashMap<String, usize>> = Arc::new(
            config
                .cron
                .jobs
                .iter()
                .enumerate()
                .map(|(i, j)| (j.id.clone(), i))
                .collect(),
        );
        *cache = Some((head.unwrap_or_default(), config.clone(), index.clone()));
        Ok((config, index, true))
    }

    /// What to record for a due fire, applying the missed-fire policy.
    fn plan_fire(&self, job: &Job, compiled: &Compiled, due: i64, now: i64) -> PlannedFire {
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
        PlannedFire {
            job_id: job.id.clone(),
            agent_id: job.agent_id.to_string(),
            lane: lane_of(job),
            queued_at_ms: now,
            deadline_ms: now + self.timeout_ms(job),
            expected_next: due,
            scheduled_for_ms,
            next_run_at_ms,
            skip,
            note,
        }
    }

    fn timeout_ms(&self, job: &Job) -> i64 {
        job.timeout_seconds
            .map_or(self.settings.default_timeout_ms, |s| {
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
                deadline_ms: Some(now + self.timeout_ms(job)),
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

    /// One pass over the queue: starts the queued runs (oldest first, up to
    /// a batch) whose lane and, for scheduled runs, a cron slot are free.
    /// One pass only, so the loop keeps ticking, heartbeating and hearing
    /// its stop signal while a long queue drains.
    pub async fn dispatch(self: &Arc<Self>) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let mut handles = Vec::new();
        for run in self.store().startable_runs(64).await? {
            if self.start(&run).await? {
                // Registered before the task runs, so a cancel that comes
                // right after the start always finds it.
                let token = CancellationToken::new();
                self.cancels
                    .lock()
                    .expect("cancels")
                    .insert(run.run_id.clone(), token.clone());
                let this = self.clone();
                handles.push(tokio::spawn(async move { this.execute(run, token).await }));
            }
        }
        Ok(handles)
    }

    async fn start(&self, run: &RunRecord) -> Result<bool> {
        let now = self.clock.now_ms();
        let lease = now + self.settings.lease_ms;
        let slots: Vec<Option<i64>> = match run.trigger {
            Trigger::Cron => (0..self.settings.cron_slots).map(Some).collect(),
            Trigger::Manual => vec![None],
        };
        for slot in slots {
            if self
                .store()
                .start_run(&run.run_id, &self.owner, now, lease, slot)
                .await?
            {
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
        }
        Ok(false)
    }

    /// Runs one started run to its end and records it with its job state.
    async fn execute(&self, run: RunRecord, token: CancellationToken) {
        let end = self.run_agent(&run, token).await;
        self.cancels.lock().expect("cancels").remove(&run.run_id);
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
        let config = match self.fleet.config().await {
            Ok(c) => c,
            Err(e) => {
                return Finished::error(format!("could not read the config: {e}"), "internal")
            }
        };
        let Some(job) = config.cron.jobs.iter().find(|j| j.id == run.job_id) else {
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
        let Some(plan) = Plan::for_agent(&config, &agent) else {
            return Finished::error(
                format!("agent {} has no model chain", run.agent_id),
                "no_model",
            );
        };
        let native = config.native_settings(&run.agent_id).unwrap_or_default();
        let root = native
            .workspace
            .as_ref()
            .map(PathBuf::from)
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
            let left = (deadline_ms - self.clock.now_ms()).max(0) as u64;
            ctx.limit_deadline(tokio::time::Instant::now() + Duration::from_millis(left));
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
            exec_limits: ExecLimits::default(),
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
        Ok(config
            .cron
            .jobs
            .iter()
            .map(|job| {
                let state = states.get(&job.id).cloned().unwrap_or(JobState {
                    job_id: job.id.clone(),
                    ..JobState::default()
                });
                let anchor = state.next_run_at_ms.unwrap_or(now);
                let next_fires = Compiled::new(&job.schedule, anchor)
                    .map(|c| c.next_n(now, 5))
                    .unwrap_or_default();
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
        if let Some(token) = self.cancels.lock().expect("cancels").get(run_id) {
            token.cancel();
        }
        Ok(status)
    }

    /// Renews this process's leases and applies cancellations requested
    /// through other replicas.
    pub async fn heartbeat(&self) -> Result<()> {
        let lease = self.clock.now_ms() + self.settings.lease_ms;
        for run_id in self.store().heartbeat(&self.owner, lease).await? {
            if let Some(token) = self.cancels.lock().expect("cancels").get(&run_id) {
                token.cancel();
            }
        }
        Ok(())
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

    /// Sleep until the next due fire, at most a second (config changes and
    /// finished runs are picked up within that).
    async fn pause_until_next_fire(&self) -> Duration {
        let now = self.clock.now_ms();
        let next = self.store().next_fire().await.ok().flatten();
        let ms = next.map_or(1000, |n| (n - now).clamp(0, 1000));
        Duration::from_millis(ms as u64)
    }
}

/// Fires claimed per transaction.
const FIRE_BATCH: usize = 500;

/// A due fire, decided and ready to claim.
struct PlannedFire {
    job_id: String,
    agent_id: String,
    lane: String,
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

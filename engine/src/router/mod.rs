//! The model router (DESIGN §3): walks a [`Plan`], skips what is cooling down
//! without a network call, attempts the rest through their harness, applies
//! each failure class's action, and records every decision.
//!
//! Health (cooldowns per provider/model, a circuit per provider) is read
//! from the store at the start of each call and written on each outcome, so a
//! restart forgets nothing and replicas share it. Probes after a cooldown or
//! an open circuit are claimed in the store: one caller across all replicas.

mod decision;
mod plan;
mod policy;
mod status;

pub use decision::{log_line, Decision};
pub use plan::{Candidate, Plan};
pub use policy::Policy;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::policy::ServerPolicy;
use crate::config::{
    AgentId, CodexSettings, Harness, HarnessFallback, ModelRef, ProviderKind, Reach,
};
use crate::failure::{Action, FailureClass};
use crate::provider::{fit_to_window, ChatRequest, Clients, Completion, Failure, Secrets};
use crate::sim::provider::{Script, SimProvider};
use crate::store::{CircuitRow, CooldownRow, DecisionRow, Store};

/// The Codex app-server harness, as the router sees it (DESIGN §4).
pub trait CodexHarness: Send + Sync {
    fn attempt<'a>(
        &'a self,
        run: &'a CallContext,
        candidate: &'a Candidate,
        settings: &'a CodexSettings,
        request: &'a ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<Completion, Failure>> + Send + 'a>>;
}

/// One run's side of routing; shared by every model call of the run.
pub struct CallContext {
    pub run_id: String,
    pub agent: Option<AgentId>,
    pub cancel: CancellationToken,
    /// The agent's workspace: the Codex harness's working directory.
    pub cwd: Option<std::path::PathBuf>,
    /// When the run's whole budget ends; only ever moves earlier.
    deadline: std::sync::Mutex<Option<tokio::time::Instant>>,
    attempts: AtomicU32,
    /// Set once the Codex harness failed at the process layer with
    /// `fallback: pi`: the rest of the run stays in the native engine.
    codex_down: AtomicBool,
    /// The run has had a candidate attempted in the Codex harness…
    codex_tried: AtomicBool,
    /// …and `harness_handoff` was recorded when the native engine took over.
    handed_off: AtomicBool,
    /// Supervised restarts of the Codex process (`fallback: codex`).
    codex_restarts: AtomicU32,
}

impl CallContext {
    pub fn new(run_id: impl Into<String>, agent: Option<AgentId>) -> Self {
        CallContext {
            run_id: run_id.into(),
            agent,
            cancel: CancellationToken::new(),
            cwd: None,
            deadline: std::sync::Mutex::new(None),
            attempts: AtomicU32::new(0),
            codex_down: AtomicBool::new(false),
            codex_tried: AtomicBool::new(false),
            handed_off: AtomicBool::new(false),
            codex_restarts: AtomicU32::new(0),
        }
    }

    pub fn with_deadline(self, deadline: tokio::time::Instant) -> Self {
        self.limit_deadline(deadline);
        self
    }

    /// Brings the deadline forward to `deadline` if that is earlier.
    pub fn limit_deadline(&self, deadline: tokio::time::Instant) {
        let mut current = self.deadline.lock().expect("deadline lock");
        *current = Some(current.map_or(deadline, |d| d.min(deadline)));
    }

    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        *self.deadline.lock().expect("deadline lock")
    }

    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::SeqCst)
    }
}

/// Timing of one attempt, for benchmarks and the run timeline.
#[derive(Debug, Clone)]
pub struct AttemptTrace {
    pub candidate: ModelRef,
    pub started: Instant,
    pub ended: Instant,
    pub outcome: Result<(), FailureClass>,
}

#[derive(Debug, Clone)]
pub struct Served {
    pub completion: Completion,
    pub candidate: ModelRef,
    pub harness: Harness,
    pub attempt: u32,
    /// Served by something other than the requested model.
    pub fallback_used: bool,
    pub trace: Vec<AttemptTrace>,
}

/// A call no candidate could serve.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteError {
    /// Nothing was attempted: every runnable candidate is cooling down or
    /// its provider's circuit is open. Fails fast and says when to retry.
    AllCoolingDown { earliest_retry_ms: i64 },
    /// Every runnable candidate was tried and failed.
    Exhausted {
        last: Failure,
        earliest_retry_ms: Option<i64>,
    },
    /// The failure's class ends the call (DESIGN §3 request/run layers, or
    /// a Codex process failure with `fallback: codex | none`).
    Stopped(Failure),
    /// The chain has no candidate this agent's harness settings can run.
    NoRunnableCandidate,
    /// The Codex process failed and `embeddedHarness.fallback` (none, or
    /// codex after its one restart) ends the run there.
    HarnessStopped {
        failure: Failure,
        fallback: HarnessFallback,
        /// Candidates of the chain that were never tried because of it.
        untried: Vec<ModelRef>,
    },
}

impl RouteError {
    /// The reason as the API and logs give it.
    pub fn reason(&self) -> &'static str {
        match self {
            RouteError::AllCoolingDown { .. } => "all_candidates_cooling_down",
            RouteError::Exhausted { last, .. }
            | RouteError::Stopped(last)
            | RouteError::HarnessStopped { failure: last, .. } => last.class.as_str(),
            RouteError::NoRunnableCandidate => "no_runnable_candidate",
        }
    }

    pub fn class(&self) -> Option<FailureClass> {
        match self {
            RouteError::Exhausted { last, .. }
            | RouteError::Stopped(last)
            | RouteError::HarnessStopped { failure: last, .. } => Some(last.class),
            _ => None,
        }
    }

    pub fn partial(&self) -> Option<&str> {
        match self {
            RouteError::Exhausted { last, .. }
            | RouteError::Stopped(last)
            | RouteError::HarnessStopped { failure: last, .. } => last.partial.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::AllCoolingDown { earliest_retry_ms } => write!(
                f,
                "all_candidates_cooling_down: every candidate is cooling down; the first is available again at {}",
                format_ms(*earliest_retry_ms)
            ),
            RouteError::Exhausted { last, earliest_retry_ms } => {
                write!(f, "all candidates failed; last: {last}")?;
                if let Some(at) = earliest_retry_ms {
                    write!(f, " (a cooling candidate is available again at {})", format_ms(*at))?;
                }
                Ok(())
            }
            RouteError::Stopped(failure) => write!(f, "{failure}"),
            RouteError::HarnessStopped {
                failure,
                fallback,
                untried,
            } => {
                write!(f, "{failure}. ")?;
                match fallback {
                    HarnessFallback::Codex => write!(
                        f,
                        "`embeddedHarness.fallback: codex` allows one supervised restart of the Codex app-server, and it failed again, so the chain stopped"
                    )?,
                    _ => write!(
                        f,
                        "`embeddedHarness.fallback: {fallback}` stopped the chain at this Codex process failure"
                    )?,
                }
                if untried.is_empty() {
                    f.write_str("; no candidate was left untried")
                } else {
                    let names: Vec<String> = untried.iter().map(ToString::to_string).collect();
                    write!(
                        f,
                        "; never tried: {}. With `fallback: pi` the chain would continue in the native engine.",
                        names.join(", ")
                    )
                }
            }
            RouteError::NoRunnableCandidate => f.write_str(
                "no candidate of the chain can run with this agent's embeddedHarness settings",
            ),
        }
    }
}

/// `2026-11-25T17:30:12.000Z` from Unix milliseconds.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub struct Router {
    store: Store,
    clock: SharedClock,
    secrets: Arc<dyn Secrets>,
    clients: Clients,
    policy: Policy,
    /// Names this process in probe claims.
    owner: String,
    sim: Option<Arc<SimProvider>>,
    codex: Option<Arc<dyn CodexHarness>>,
    decisions: broadcast::Sender<DecisionRow>,
    server_policy: Arc<ServerPolicy>,
}

/// The store's view of one candidate's health at the start of a call.
#[derive(Default)]
struct Health {
    cooldowns: Vec<CooldownRow>,
    circuits: Vec<CircuitRow>,
}

impl Health {
    fn cooldown(&self, c: &ModelRef) -> Option<&CooldownRow> {
        self.cooldowns
            .iter()
            .find(|r| r.provider == c.provider().as_str() && r.model == c.model())
    }

    fn circuit(&self, c: &ModelRef) -> Option<&CircuitRow> {
        self.circuits
            .iter()
            .find(|r| r.provider == c.provider().as_str())
    }
}

/// Why a candidate was probed rather than called normally.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Probe {
    Cooldown,
    Circuit,
}

impl Router {
    pub fn new(store: Store, clock: SharedClock, secrets: Arc<dyn Secrets>) -> Self {
        Router {
            store,
            clock,
            secrets,
            clients: Clients::default(),
            policy: Policy::default(),
            owner: format!("pid-{}-{:x}", std::process::id(), rand_suffix()),
            sim: None,
            codex: None,
            decisions: broadcast::channel(1024).0,
            server_policy: Arc::new(ServerPolicy::default()),
        }
    }

    /// What the server allows providers (declared secrets, base URLs); the
    /// defaults otherwise. Checked when a client is built and called.
    pub fn with_server_policy(mut self, policy: Arc<ServerPolicy>) -> Self {
        self.server_policy = policy;
        self
    }

    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Serves `kind: sim` providers that have no `baseUrl` of their own.
    pub fn with_sim(mut self, sim: Arc<SimProvider>) -> Self {
        self.sim = Some(sim);
        self
    }

    pub fn with_codex(mut self, codex: Arc<dyn CodexHarness>) -> Self {
        self.codex = Some(codex);
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Every decision as it is made (the console's live stream).
    pub fn subscribe(&self) -> broadcast::Receiver<DecisionRow> {
        self.decisions.subscribe()
    }

    /// Routes one model call of a run through the plan.
    pub async fn call(
        &self,
        ctx: &CallContext,
        plan: &Plan,
        request: &ChatRequest,
    ) -> Result<Served, RouteError> {
        self.walk(ctx, plan, false).await.run(request).await
    }

    /// An operator's test call to one model. A cooling-down model is probed
    /// anyway (that is the point of the button) and recorded as such; the
    /// outcome updates its health like any other call.
    pub async fn test_call(
        &self,
        ctx: &CallContext,
        plan: &Plan,
        request: &ChatRequest,
    ) -> Result<Served, RouteError> {
        self.walk(ctx, plan, true).await.run(request).await
    }

    async fn walk<'a>(
        &'a self,
        ctx: &'a CallContext,
        plan: &'a Plan,
        operator_probe: bool,
    ) -> Walk<'a> {
        let health = match self.store.router_health().await {
            Ok((cooldowns, circuits)) => Health {
                cooldowns,
                circuits,
            },
            Err(e) => {
                // Health is an optimisation of the walk, not a precondition:
                // with the store unreachable the chain is walked as if healthy.
                tracing::warn!(error = %e, "router health unavailable; walking the chain as healthy");
                Health::default()
            }
        };
        Walk {
            router: self,
            ctx,
            plan,
            health,
            operator_probe,
            last: None,
            earliest: None,
            attempted: false,
            min_window: None,
            trace: Vec::new(),
        }
    }

    /// The client the router would use for a provider (the in-process sim's
    /// for `kind: sim` without a `baseUrl`).
    pub fn client_for(
        &self,
        id: &crate::config::ProviderId,
        provider: &crate::config::Provider,
    ) -> Result<Arc<crate::provider::ProviderClient>, String> {
        let sim_url = self.sim_base_url(provider.kind, &provider.base_url);
        self.clients.get(id, provider, sim_url, &self.server_policy)
    }

    pub fn secrets(&self) -> &dyn Secrets {
        self.secrets.as_ref()
    }

    fn sim_base_url(&self, kind: ProviderKind, base_url: &Option<String>) -> Option<String> {
        match (kind, base_url, &self.sim) {
            (ProviderKind::Sim, None, Some(sim)) => Some(sim.base_url()),
            _ => None,
        }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// One walk down the chain.
struct Walk<'a> {
    router: &'a Router,
    ctx: &'a CallContext,
    plan: &'a Plan,
    health: Health,
    /// An operator's test call: cooldowns and circuits are bypassed.
    operator_probe: bool,
    last: Option<Failure>,
    earliest: Option<i64>,
    attempted: bool,
    /// After a context overflow: only larger windows are worth trying.
    min_window: Option<u64>,
    trace: Vec<AttemptTrace>,
}

impl Walk<'_> {
    async fn run(&mut self, request: &ChatRequest) -> Result<Served, RouteError> {
        let candidates = &self.plan.candidates;
        let mut i = 0;
        while i < candidates.len() {
            let c = &candidates[i];
            let harness = match self.reach(c) {
                Reach::Runs(h) => h,
                Reach::Skipped(reason) => {
                    let next = self.next_after(i);
                    self.decide(Decision::SkipCandidate, c, reason.as_str(), next, "", 0)
                        .await;
                    i += 1;
                    continue;
                }
            };
            if let (Some(min), Some(window)) = (self.min_window, c.context_window()) {
                if window <= min {
                    let detail = format!("window {window} tokens is not larger than {min}");
                    self.decide(
                        Decision::SkipCandidate,
                        c,
                        "context_overflow",
                        self.next_after(i),
                        &detail,
                        0,
                    )
                    .await;
                    i += 1;
                    continue;
                }
            }
            let probe = match self.admit(c, i).await {
                Some(probe) => probe,
                None => {
                    i += 1;
                    continue;
                }
            };
            if harness == Harness::Native {
                self.hand_off(c).await;
            }
            match self
                .attempt_with_retries(c, i, harness, probe, request)
                .await
            {
                Ok(served) => return Ok(served),
                Err(Some(stop)) => return Err(stop),
                Err(None) => i += 1,
            }
        }
        if let Some(last) = self.last.take() {
            return Err(RouteError::Exhausted {
                last,
                earliest_retry_ms: self.earliest,
            });
        }
        match self.earliest {
            Some(at) if !self.attempted => Err(RouteError::AllCoolingDown {
                earliest_retry_ms: at,
            }),
            _ => Err(RouteError::NoRunnableCandidate),
        }
    }

    /// Records `harness_handoff` once per run, when the native engine takes
    /// over a chain the Codex harness started on.
    async fn hand_off(&mut self, c: &Candidate) {
        if !self.ctx.codex_tried.load(Ordering::SeqCst)
            || self.ctx.handed_off.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let (reason, detail) = match &self.last {
            Some(f) if f.class.action() == Action::HarnessFallback => (
                f.class.as_str(),
                format!(
                    "Codex harness down ({}); codex-family candidates skipped, {} runs in the native engine",
                    f.class, c.model
                ),
            ),
            Some(f) => (
                f.class.as_str(),
                format!(
                    "the Codex harness could not serve the chain; {} runs in the native engine",
                    c.model
                ),
            ),
            None => (
                "none",
                format!("{} runs in the native engine", c.model),
            ),
        };
        self.decide(
            Decision::HarnessHandoff,
            c,
            reason,
            Some(&c.model),
            &detail,
            0,
        )
        .await;
    }

    /// Ends the walk at a Codex process failure: every candidate that would
    /// have run is recorded as skipped, and the error names them.
    async fn stop_at_harness(&mut self, i: usize, failure: Failure) -> RouteError {
        let fallback = self.plan.fallback;
        let mut untried = Vec::new();
        for c in &self.plan.candidates[i + 1..] {
            let detail = format!(
                "embeddedHarness.fallback: {fallback} stopped the chain at {}",
                failure.class
            );
            let reason = match c.healthy {
                Reach::Runs(_) => "run_failed",
                // Would have been skipped anyway; say why, as the walk would.
                Reach::Skipped(why) => why.as_str(),
            };
            self.decide(Decision::SkipCandidate, c, reason, None, &detail, 0)
                .await;
            untried.push(c.model.clone());
        }
        RouteError::HarnessStopped {
            failure,
            fallback,
            untried,
        }
    }

    fn reach(&self, c: &Candidate) -> Reach {
        if self.ctx.codex_down.load(Ordering::SeqCst) {
            c.codex_down
        } else {
            c.healthy
        }
    }

    /// The next candidate that could run, for the `next=` of a decision.
    fn next_after(&self, i: usize) -> Option<&ModelRef> {
        self.plan.candidates[i + 1..]
            .iter()
            .find(|c| self.reach(c).runs())
            .map(|c| &c.model)
    }

    /// Whether the candidate may be called now: `Some(probe)` if so, `None`
    /// when it was skipped (decision recorded).
    async fn admit(&mut self, c: &Candidate, i: usize) -> Option<Option<Probe>> {
        let now = self.router.clock.now_ms();
        let store = &self.router.store;
        let lease = now + self.router.policy.probe_lease_ms;
        let provider = c.model.provider().as_str();
        let circuit_open = self
            .health
            .circuit(&c.model)
            .is_some_and(|r| r.open_until_ms > 0);
        let cooling = self
            .health
            .cooldown(&c.model)
            .is_some_and(|r| r.until_ms > 0);
        if self.operator_probe {
            if circuit_open || cooling {
                let detail = "test call from an operator; cooldown and circuit bypassed";
                self.decide(
                    Decision::ProbeCooldownCandidate,
                    c,
                    "operator_test",
                    Some(&c.model),
                    detail,
                    0,
                )
                .await;
            }
            return Some(match (circuit_open, cooling) {
                (true, _) => Some(Probe::Circuit),
                (false, true) => Some(Probe::Cooldown),
                (false, false) => None,
            });
        }
        let mut probe = None;
        if let Some(circuit) = self
            .health
            .circuit(&c.model)
            .filter(|r| r.open_until_ms > 0)
            .cloned()
        {
            let claimed = circuit.open_until_ms <= now
                && store
                    .claim_circuit_probe(provider, &self.router.owner, now, lease)
                    .await
                    .unwrap_or(false);
            if !claimed {
                let until = circuit.open_until_ms.max(circuit.probe_until_ms);
                let cause = (circuit.open_until_ms > now)
                    .then(|| format!("{} failures in a row", circuit.failures));
                self.skip_cooling(c, i, "circuit_open", until, cause).await;
                return None;
            }
            probe = Some(Probe::Circuit);
        }
        if let Some(cd) = self
            .health
            .cooldown(&c.model)
            .filter(|r| r.until_ms > 0)
            .cloned()
        {
            let claimed = cd.until_ms <= now
                && (probe.is_some()
                    || store
                        .claim_cooldown_probe(
                            provider,
                            c.model.model(),
                            &self.router.owner,
                            now,
                            lease,
                        )
                        .await
                        .unwrap_or(false));
            if !claimed {
                let until = cd.until_ms.max(cd.probe_until_ms);
                let cause = (cd.until_ms > now).then(|| format!("{}: {}", cd.reason, cd.detail));
                self.skip_cooling(c, i, "cooldown", until, cause).await;
                return None;
            }
            probe = probe.or(Some(Probe::Cooldown));
        }
        if let Some(p) = probe {
            let (reason, detail) = match p {
                Probe::Circuit => (
                    "circuit_open",
                    "circuit half-open: this call is the single probe",
                ),
                Probe::Cooldown => ("cooldown", "cooldown ended: this call is the single probe"),
            };
            self.decide(
                Decision::ProbeCooldownCandidate,
                c,
                reason,
                Some(&c.model),
                detail,
                0,
            )
            .await;
        }
        Some(probe)
    }

    /// Skips a candidate that is cooling down (or whose probe someone else
    /// holds, when `cause` is `None`), remembering when it is back.
    async fn skip_cooling(
        &mut self,
        c: &Candidate,
        i: usize,
        reason: &str,
        until: i64,
        cause: Option<String>,
    ) {
        let detail = match cause {
            Some(cause) => format!("until={} after {cause}", format_ms(until)),
            None => format!("until={} (another caller is probing)", format_ms(until)),
        };
        self.note_earliest(until);
        self.decide(
            Decision::SkipCandidate,
            c,
            reason,
            self.next_after(i),
            &detail,
            0,
        )
        .await;
    }

    fn note_earliest(&mut self, at: i64) {
        self.earliest = Some(self.earliest.map_or(at, |e| e.min(at)));
    }

    /// `Ok` when served; `Err(None)` to move on; `Err(Some(_))` to stop.
    async fn attempt_with_retries(
        &mut self,
        c: &Candidate,
        i: usize,
        harness: Harness,
        probe: Option<Probe>,
        request: &ChatRequest,
    ) -> Result<Served, Option<RouteError>> {
        let policy = &self.router.policy;
        let mut retries = 0;
        loop {
            let attempt = self.ctx.attempts.fetch_add(1, Ordering::SeqCst) + 1;
            self.attempted = true;
            let started = Instant::now();
            let result = self.attempt(c, harness, request).await;
            let ended = Instant::now();
            let latency = ended.duration_since(started).as_millis() as i64;
            self.trace.push(AttemptTrace {
                candidate: c.model.clone(),
                started,
                ended,
                outcome: result.as_ref().map(drop).map_err(|f| f.class),
            });
            let failure = match result {
                Ok(completion) => {
                    let detail = format!(
                        "{} ms, {} in / {} out tokens",
                        latency, completion.usage.input_tokens, completion.usage.output_tokens
                    );
                    self.decide_at(
                        Decision::CandidateSucceeded,
                        c,
                        "none",
                        None,
                        &detail,
                        latency,
                        attempt,
                    )
                    .await;
                    self.record_success(c, probe).await;
                    return Ok(Served {
                        completion,
                        candidate: c.model.clone(),
                        harness,
                        attempt,
                        fallback_used: c.model != self.plan.requested,
                        trace: std::mem::take(&mut self.trace),
                    });
                }
                Err(failure) => failure,
            };
            let class = failure.class;
            let short_wait = failure.retry_after_ms.filter(|ms| {
                *ms <= policy.max_retry_wait_ms && class.action() == Action::NextWithCooldown
            });
            // Same candidate again: a short wait the server asked for, or
            // the one supervised restart `fallback: codex` allows.
            let again = if let (Some(wait), true) = (short_wait, retries < policy.max_retries) {
                retries += 1;
                Some((
                    wait,
                    format!(
                        "{}; retrying the same candidate in {wait} ms ({retries} of {})",
                        failure.detail, policy.max_retries
                    ),
                ))
            } else if class.action() == Action::HarnessFallback
                && self.plan.fallback == HarnessFallback::Codex
                && self.ctx.codex_restarts.fetch_add(1, Ordering::SeqCst) == 0
            {
                let wait = policy.harness_restart_backoff_ms;
                Some((
                    wait,
                    format!(
                        "{}; fallback: codex restarts the Codex app-server once, in {wait} ms",
                        failure.detail
                    ),
                ))
            } else {
                None
            };
            if let Some((wait, detail)) = again {
                self.decide_at(
                    Decision::CandidateFailed,
                    c,
                    class.as_str(),
                    Some(&c.model),
                    &detail,
                    latency,
                    attempt,
                )
                .await;
                if let Err(stop) = self.wait(wait).await {
                    return Err(Some(RouteError::Stopped(stop)));
                }
                continue;
            }
            let next = match class.action() {
                Action::FailRun | Action::EndRun => None,
                Action::HarnessFallback if self.plan.fallback != HarnessFallback::Pi => None,
                Action::HarnessFallback => {
                    self.ctx.codex_down.store(true, Ordering::SeqCst);
                    self.next_after(i).cloned()
                }
                _ => self.next_after(i).cloned(),
            };
            self.decide_at(
                Decision::CandidateFailed,
                c,
                class.as_str(),
                next.as_ref(),
                &failure.detail,
                latency,
                attempt,
            )
            .await;
            self.record_failure(c, &failure, probe).await;
            match class.action() {
                Action::NextWithCooldown | Action::SkipCandidate => {}
                Action::NextLargerWindow => {
                    self.min_window = Some(
                        c.context_window()
                            .unwrap_or(0)
                            .max(self.min_window.unwrap_or(0)),
                    );
                }
                Action::FailRun | Action::EndRun => return Err(Some(RouteError::Stopped(failure))),
                Action::HarnessFallback if self.plan.fallback != HarnessFallback::Pi => {
                    return Err(Some(self.stop_at_harness(i, failure).await));
                }
                // `harness_handoff` is recorded when the native engine
                // actually takes over (see `hand_off`).
                Action::HarnessFallback => {}
            }
            self.last = Some(failure);
            return Err(None);
        }
    }

    /// Waits a server-requested short delay, unless the run ends first.
    async fn wait(&self, ms: i64) -> Result<(), Failure> {
        let sleep = tokio::time::sleep(std::time::Duration::from_millis(ms.max(0) as u64));
        self.bounded(async {
            sleep.await;
            Ok(())
        })
        .await
    }

    /// Runs `work` unless the run is cancelled or its budget ends first.
    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let deadline = async {
            match self.ctx.deadline() {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = work => result,
            () = self.ctx.cancel.cancelled() => Err(Failure::new(FailureClass::Cancelled, "the run was cancelled")),
            () = deadline => Err(Failure::new(FailureClass::RunTimeout, "the run's time budget ran out")),
        }
    }

    async fn attempt(
        &self,
        c: &Candidate,
        harness: Harness,
        request: &ChatRequest,
    ) -> Result<Completion, Failure> {
        let router = self.router;
        let Some(provider) = &c.provider else {
            return Err(Failure::new(
                FailureClass::ProviderNotFound,
                format!("provider `{}` is not configured", c.model.provider()),
            ));
        };
        if harness == Harness::Codex {
            self.ctx.codex_tried.store(true, Ordering::SeqCst);
            return match &router.codex {
                Some(codex) => {
                    self.bounded(codex.attempt(self.ctx, c, &self.plan.codex, request))
                        .await
                }
                None => Err(Failure::new(
                    FailureClass::SpawnFailed,
                    "no Codex app-server harness is configured in this server",
                )),
            };
        }
        let sim_url = router.sim_base_url(provider.kind, &provider.base_url);
        let model = match &sim_url {
            Some(_) => self.sim_model(c)?,
            None => c.model.model().to_owned(),
        };
        let client = router
            .clients
            .get(c.model.provider(), provider, sim_url, &router.server_policy)
            .map_err(|e| Failure::new(FailureClass::ProviderNotFound, e))?;
        let fitted = fit_to_window(request, c.context_window());
        self.bounded(client.call(&model, &fitted, router.secrets.as_ref(), &router.clock))
            .await
    }

    /// The in-process sim serves every `kind: sim` provider; its models are
    /// named `provider/model` there so two providers never share a script.
    fn sim_model(&self, c: &Candidate) -> Result<String, Failure> {
        let sim = self.router.sim.as_ref().expect("sim url implies sim");
        let name = c.model.to_string();
        let text = c
            .provider
            .as_ref()
            .and_then(|p| p.scripts.get(c.model.model()))
            .map_or("ok", String::as_str);
        let script: Script = text.parse().map_err(|e| {
            Failure::new(FailureClass::Format, format!("sim script of {name}: {e}"))
        })?;
        if !sim
            .scripts()
            .iter()
            .any(|(m, s)| *m == name && *s == script)
        {
            sim.set_script(&name, script);
        }
        Ok(name)
    }

    async fn record_success(&self, c: &Candidate, probe: Option<Probe>) {
        let store = &self.router.store;
        let (provider, model) = (c.model.provider().as_str(), c.model.model());
        if probe.is_some() || self.health.cooldown(&c.model).is_some() {
            log_store_error(store.clear_cooldown(provider, model).await);
        }
        if probe == Some(Probe::Circuit)
            || self
                .health
                .circuit(&c.model)
                .is_some_and(|r| r.failures > 0)
        {
            log_store_error(store.clear_circuit(provider).await);
        }
    }

    async fn record_failure(&mut self, c: &Candidate, failure: &Failure, probe: Option<Probe>) {
        let policy = &self.router.policy;
        let store = &self.router.store;
        let now = self.router.clock.now_ms();
        let class = failure.class;
        if class.action() != Action::NextWithCooldown {
            return;
        }
        let (provider, model) = (c.model.provider().as_str(), c.model.model());
        let failures = self.health.cooldown(&c.model).map_or(0, |r| r.failures) + 1;
        let cooldown = policy.cooldown_ms(class, failures, failure.retry_after_ms);
        let until_ms = cooldown.map_or(0, |ms| now + ms);
        if until_ms > 0 {
            self.note_earliest(until_ms);
        }
        let row = CooldownRow {
            provider: provider.to_owned(),
            model: model.to_owned(),
            failures,
            until_ms,
            reason: class.as_str().to_owned(),
            detail: failure.detail.clone(),
            probe_until_ms: 0,
        };
        log_store_error(store.put_cooldown(&row, now).await);
        if class.counts_against_provider() {
            let current = self.health.circuit(&c.model).cloned();
            let failures = current.as_ref().map_or(0, |r| r.failures) + 1;
            let times_opened = current.as_ref().map_or(0, |r| r.times_opened);
            let open = failures >= policy.circuit_failures || probe == Some(Probe::Circuit);
            let row = CircuitRow {
                provider: provider.to_owned(),
                failures,
                open_until_ms: if open {
                    now + policy.circuit_open_for_ms(times_opened)
                } else {
                    0
                },
                times_opened: times_opened + i64::from(open),
                probe_until_ms: 0,
            };
            log_store_error(store.put_circuit(&row, now).await);
        }
    }

    async fn decide(
        &self,
        d: Decision,
        c: &Candidate,
        reason: &str,
        next: Option<&ModelRef>,
        detail: &str,
        latency_ms: i64,
    ) {
        let attempt = self.ctx.attempts();
        self.decide_at(d, c, reason, next, detail, latency_ms, attempt)
            .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide_at(
        &self,
        d: Decision,
        c: &Candidate,
        reason: &str,
        next: Option<&ModelRef>,
        detail: &str,
        latency_ms: i64,
        attempt: u32,
    ) {
        let router = self.router;
        let requested = self.plan.requested.to_string();
        let candidate = c.model.to_string();
        let next = next.map(ToString::to_string);
        // A skip names the harness the candidate would have had now; any
        // other decision the harness it was attempted in (the Codex harness
        // may have gone down since, which changes the current reach).
        let reach = if d == Decision::SkipCandidate {
            self.reach(c)
        } else {
            c.healthy
        };
        let harness = match reach {
            Reach::Runs(Harness::Codex) => "codex",
            Reach::Runs(Harness::Native) => "native",
            Reach::Skipped(_) => "none",
        };
        tracing::info!(
            run_id = %self.ctx.run_id,
            attempt,
            "{}",
            log_line(d, &requested, &candidate, reason, next.as_deref(), detail)
        );
        let mut row = DecisionRow {
            id: 0,
            run_id: self.ctx.run_id.clone(),
            attempt: i64::from(attempt),
            at_ms: router.clock.now_ms(),
            agent_id: self.ctx.agent.as_ref().map(|a| a.as_str().to_owned()),
            requested,
            candidate,
            provider: c.model.provider().as_str().to_owned(),
            model: c.model.model().to_owned(),
            harness: harness.to_owned(),
            decision: d.as_str().to_owned(),
            reason: reason.to_owned(),
            next,
            detail: detail.to_owned(),
            latency_ms,
        };
        match router.store.insert_decision(&row).await {
            Ok(id) => row.id = id,
            Err(e) => tracing::warn!(error = %e, "could not store a routing decision"),
        }
        // Nobody listening is fine.
        let _ = router.decisions.send(row);
    }
}

fn log_store_error(result: crate::Result<()>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not store router health");
    }
}

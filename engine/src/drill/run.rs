//! Running a drill: the agent's real plan, through a real [`Router`] and the
//! real Codex harness, against a `sim` provider and the Codex stand-in of its
//! own, with a fresh SQLite store in a scratch directory that is removed
//! afterwards. Nothing of production is read besides the config, and nothing
//! is written: health, decisions and runs stay in the drill's store.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use super::{injection, DrillOptions, DrillOutcome, DrillReport, DrillRequest, Injection};
use super::{MISSING_COMMAND, MISSING_KEY_ENV};
use crate::clock::{SharedClock, SystemClock};
use crate::config::policy::ServerPolicy;
use crate::config::{
    AgentView, CodexSettings, Config, ModelRef, Provider, ProviderKind, SecretRef,
};
use crate::fleet::{not_found, Fleet};
use crate::harness::codex::{CodexAppServer, CodexEnv};
use crate::provider::{ChatRequest, Message};
use crate::router::{CallContext, Plan, Policy, RouteError, Router};
use crate::sim::provider::SimProvider;
use crate::store::Store;
use crate::{Error, Result};

/// What a drill needs from the server.
#[derive(Debug, Clone)]
pub struct DrillEnv {
    /// This binary, for the Codex stand-in.
    pub self_exe: PathBuf,
    /// The production router's policy, so retries, cooldowns and restarts
    /// behave as in a real run.
    pub policy: Policy,
    /// Where scratch directories (store, `CODEX_HOME`s) are made.
    pub scratch: PathBuf,
    /// A drill's whole budget (its run deadline).
    pub budget: Duration,
}

impl DrillEnv {
    pub fn new(self_exe: PathBuf, policy: Policy) -> Self {
        DrillEnv {
            self_exe,
            policy,
            scratch: std::env::temp_dir(),
            budget: Duration::from_secs(60),
        }
    }
}

/// Drills as a service: the REST API and the console call the same two
/// methods. At most two drills run at once (each may start processes).
#[derive(Clone)]
pub struct Drills {
    fleet: Fleet,
    env: Arc<DrillEnv>,
    permits: Arc<Semaphore>,
}

impl Drills {
    pub fn new(fleet: Fleet, env: DrillEnv) -> Self {
        Drills {
            fleet,
            env: Arc::new(env),
            permits: Arc::new(Semaphore::new(2)),
        }
    }

    /// The agent's settings and, per candidate, every class with how it is
    /// injected or why it cannot be.
    pub async fn options(&self, agent: &str) -> Result<DrillOptions> {
        let config = self.fleet.config().await?;
        let agent = config
            .effective_agent(agent)
            .ok_or_else(|| not_found(agent))?;
        Ok(DrillOptions::of(&config, agent))
    }

    /// Runs one drill on the current config. Arguments are strings so a bad
    /// one is named by its field.
    pub async fn run(&self, agent: &str, candidate: &str, inject: &str) -> Result<DrillReport> {
        let request = DrillRequest::parse(agent, candidate, inject)?;
        let config = self.fleet.config().await?;
        let _permit = self.permits.acquire().await.expect("never closed");
        drill(&config, &request, &self.env).await
    }
}

/// Runs one drill against `config` (see the module docs).
pub async fn drill(config: &Config, request: &DrillRequest, env: &DrillEnv) -> Result<DrillReport> {
    let agent = config
        .effective_agent(request.agent.as_str())
        .ok_or_else(|| not_found(request.agent.as_str()))?;
    let view = AgentView::of(config, agent.clone());
    let chain = &view.reachability.candidates;
    let index = chain
        .iter()
        .position(|c| c.candidate == request.candidate)
        .ok_or_else(|| {
            let names: Vec<String> = chain.iter().map(|c| c.candidate.to_string()).collect();
            Error::invalid(
                "candidate",
                format!(
                    "`{}` is not in {}'s chain ({})",
                    request.candidate,
                    agent.id,
                    names.join(", ")
                ),
            )
        })?;
    let how = injection(chain, index, request.inject).map_err(|why| {
        Error::invalid(
            "inject",
            format!(
                "{} cannot be injected at {}: {why}",
                request.inject, request.candidate
            ),
        )
    })?;

    // Removed when dropped, also when the drill's future is dropped half-way.
    let scratch = tempfile::Builder::new()
        .prefix("switchyard-drill-")
        .tempdir_in(&env.scratch)?;
    let sim = Arc::new(SimProvider::start(([127, 0, 0, 1], 0).into()).await?);
    let drill_config = stand_in_config(config, &request.candidate, &how, &sim.base_url());
    // Codex-family providers with an endpoint need a `baseUrl` for the
    // harness; the native engine then calls the sim with the bare model name.
    for provider in drill_config.providers.values() {
        if provider.base_url.is_some() {
            for (model, script) in &provider.scripts {
                if let Ok(script) = script.parse() {
                    sim.set_script(model, script);
                }
            }
        }
    }
    let store = Store::open_sqlite(&scratch.path().join("drill.db")).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    // The drill's own secrets are empty; the one name it references is the
    // variable a missing-key drill asks for, declared so the drill gets the
    // `auth_missing` a real unset key gets. Likewise the one command it may
    // name is the missing one a spawn_failed drill runs.
    let server_policy = Arc::new(
        ServerPolicy::default()
            .with_secret_env([MISSING_KEY_ENV])
            .and_then(|p| {
                p.with_codex_commands(vec![vec![
                    MISSING_COMMAND.to_owned(),
                    "app-server".to_owned(),
                ]])
            })
            .expect("valid drill policy"),
    );
    let codex = CodexAppServer::new(CodexEnv {
        default_home: scratch.path().join("codex-home"),
        self_exe: env.self_exe.clone(),
        policy: server_policy.clone(),
    });
    let router = Router::new(
        store.clone(),
        clock.clone(),
        Arc::new(HashMap::<String, String>::new()),
    )
    .with_sim(sim.clone())
    .with_codex(Arc::new(codex))
    .with_policy(env.policy.clone())
    .with_server_policy(server_policy);
    let drill_agent = drill_config
        .effective_agent(request.agent.as_str())
        .ok_or_else(|| not_found(request.agent.as_str()))?;
    let plan = Plan::for_agent(&drill_config, &drill_agent)
        .ok_or_else(|| Error::invalid("agent", format!("{} has no model chain", agent.id)))?;

    let started_ms = clock.now_ms();
    let run_id = format!("drill:{}:{started_ms}", agent.id);
    let workspace = scratch.path().join("workspace");
    std::fs::create_dir_all(&workspace)?;
    let mut ctx = CallContext::new(run_id.clone(), Some(agent.id.clone()))
        .with_deadline(tokio::time::Instant::now() + env.budget);
    ctx.cwd = Some(workspace);
    let started = Instant::now();
    let result = router
        .call(&ctx, &plan, &chat_request(config, &agent.id))
        .await;
    let took_ms = started.elapsed().as_millis() as i64;
    let trail = store.run_decisions(&run_id).await?;
    store.close().await;
    drop(router);
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    drop(scratch);

    let candidate = request.candidate.to_string();
    let injected_at = trail
        .iter()
        .position(|d| d.candidate == candidate && d.reason == request.inject.as_str());
    let first_fallback_ms = injected_at.and_then(|at| {
        trail[at + 1..]
            .iter()
            .find(|d| {
                d.candidate != candidate
                    && matches!(
                        d.decision.as_str(),
                        "candidate_failed" | "candidate_succeeded"
                    )
            })
            .map(|d| (d.at_ms - d.latency_ms - started_ms).max(0))
    });
    let outcome = match result {
        Ok(served) => DrillOutcome {
            ok: true,
            served_by: Some(served.candidate),
            harness: Some(served.harness),
            reason: None,
            error: None,
            stopped_by_fallback: None,
        },
        Err(e) => DrillOutcome {
            ok: false,
            served_by: None,
            harness: None,
            reason: Some(e.reason().to_owned()),
            error: Some(e.to_string()),
            stopped_by_fallback: match &e {
                RouteError::HarnessStopped { fallback, .. } => Some(*fallback),
                _ => None,
            },
        },
    };
    tracing::info!(
        agent = %agent.id,
        candidate = %request.candidate,
        inject = %request.inject,
        ok = outcome.ok,
        took_ms,
        "drill finished"
    );
    Ok(DrillReport {
        codex_command: config.harnesses.codex.describe(),
        agent: view,
        candidate: request.candidate.clone(),
        inject: request.inject,
        layer: request.inject.layer(),
        how: how.describe(&request.candidate),
        run_id,
        trail,
        outcome,
        reached: injected_at.is_some(),
        first_fallback_ms,
        took_ms,
    })
}

/// The agent's system prompt and a short task, streamed like a real turn.
fn chat_request(config: &Config, agent: &crate::config::AgentId) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(prompt) = config
        .native_settings(agent.as_str())
        .and_then(|s| s.system_prompt)
    {
        messages.push(Message::system(prompt));
    }
    messages.push(Message::user(
        "Switchyard drill: reply with one short sentence.",
    ));
    ChatRequest {
        messages,
        stream: true,
        ..ChatRequest::default()
    }
}

/// The config a drill runs: every provider replaced by a stand-in, the Codex
/// app-server by Switchyard's, no jobs, no alerts.
fn stand_in_config(config: &Config, target: &ModelRef, how: &Injection, sim_url: &str) -> Config {
    let mut drill = config.clone();
    drill.cron = Default::default();
    drill.alerts = Default::default();
    for (id, provider) in drill.providers.iter_mut() {
        let injected = (target.provider() == id).then_some(how);
        *provider = stand_in(provider, target, injected, sim_url);
    }
    if *how == Injection::NoProvider {
        drill.providers.remove(target.provider().as_str());
    }
    drill.harnesses.codex = stand_in_codex(&config.harnesses.codex, how);
    drill
}

/// One provider as a `sim` stand-in: same models, family and window; every
/// model answers `ok` unless it is the injected one.
fn stand_in(
    real: &Provider,
    target: &ModelRef,
    injected: Option<&Injection>,
    sim_url: &str,
) -> Provider {
    let codex_kind = real.kind == ProviderKind::Codex;
    let mut scripts = BTreeMap::new();
    if !codex_kind {
        for model in real.models.iter() {
            scripts.insert(model.clone(), "ok".to_owned());
        }
    }
    let mut timeouts = real.timeouts.clone();
    let mut api_key = None;
    match injected {
        Some(Injection::Sim {
            script,
            first_byte_timeout_ms,
        }) => {
            scripts.insert(target.model().to_owned(), script.clone());
            if let Some(ms) = first_byte_timeout_ms {
                timeouts.first_byte_ms = Some(*ms);
            }
        }
        Some(Injection::MissingKey) => {
            api_key = Some(SecretRef {
                env: MISSING_KEY_ENV.to_owned(),
            })
        }
        _ => {}
    }
    Provider {
        // A `codex` kind stays one: it has no native endpoint, which the
        // reachability matrix (and so the trail) depends on.
        kind: if codex_kind {
            ProviderKind::Codex
        } else {
            ProviderKind::Sim
        },
        base_url: (!codex_kind && real.is_codex_family()).then(|| sim_url.to_owned()),
        api_key,
        models: real.models.clone(),
        family: real.family,
        timeouts,
        concurrency: real.concurrency,
        context_window: real.context_window,
        scripts,
        // The stand-in speaks the real provider's wire, with its error
        // shapes, so a drill exercises the client the agent really uses.
        wire: real.wire().filter(|w| *w != ProviderKind::OpenaiChat),
        extra: BTreeMap::new(),
    }
}

/// `harnesses.codex` for a drill: the stand-in (answering `ok` unless
/// injected), the configured timeouts unless the injection needs short ones.
fn stand_in_codex(real: &CodexSettings, how: &Injection) -> CodexSettings {
    let mut codex = CodexSettings {
        command: None,
        sim: Some("ok".to_owned()),
        home: None,
        handshake_timeout_ms: real.handshake_timeout_ms,
        request_timeout_ms: real.request_timeout_ms,
        idle_timeout_ms: real.idle_timeout_ms,
        sandbox: real.sandbox.clone(),
    };
    match how {
        Injection::CodexMissingCommand => {
            codex.sim = None;
            codex.command = Some(vec![MISSING_COMMAND.to_owned(), "app-server".to_owned()]);
        }
        Injection::Codex {
            behaviour,
            handshake_timeout_ms,
            idle_timeout_ms,
        } => {
            codex.sim = Some(behaviour.clone());
            if let Some(ms) = handshake_timeout_ms {
                codex.handshake_timeout_ms = Some(*ms);
            }
            if let Some(ms) = idle_timeout_ms {
                codex.idle_timeout_ms = Some(*ms);
            }
        }
        _ => {}
    }
    codex
}

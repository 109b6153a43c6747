//! Server functions: the console's calls into the engine. Each is a short
//! adapter; the REST API in the server crate calls the same engine methods.

use engine::config::EffectiveAgent;
use engine::config::FleetView;
use leptos::prelude::*;

use crate::error::AppError;

/// Every agent with its effective settings.
#[server(prefix = "/console/fn", endpoint = "fleet")]
pub async fn get_fleet() -> Result<FleetView, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.fleet_view(&actor).await?)
}

/// Sets (or, with `inherit`, clears) one agent's `embeddedHarness` values.
/// Arguments are strings so that a bad value gets the engine's message,
/// naming the field and the allowed values.
#[server(prefix = "/console/fn", endpoint = "set_agent_harness")]
pub async fn set_agent_harness(
    agent: String,
    runtime: Option<String>,
    fallback: Option<String>,
) -> Result<EffectiveAgent, AppError> {
    let patch = engine::config::HarnessPatch { runtime, fallback };
    let (services, actor) = ssr::caller()?;
    Ok(services.set_harness(&actor, &agent, &patch).await?)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::AppError;
    use engine::identity::Actor;
    use engine::service::Services;
    use leptos::prelude::use_context;

    /// The engine's services and the caller, for every server function:
    /// the services are provided once by the server, the caller is what the
    /// server's identify layer put into this request's extensions. No caller
    /// is a 401, never a default identity.
    pub fn caller() -> Result<(Services, Actor), AppError> {
        let services = use_context::<Services>().ok_or_else(|| AppError {
            code: "internal".into(),
            message: "services missing from context".into(),
            details: Vec::new(),
            current_hash: None,
        })?;
        let actor = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Actor>().cloned())
            // Built by hand, not from an engine error: that would set the
            // response status, and the only pages rendered for a caller
            // without a session (the login page) must answer 200.
            .ok_or_else(|| AppError {
                code: "unauthenticated".into(),
                message: "log in again: your session has ended".into(),
                details: Vec::new(),
                current_hash: None,
            })?;
        Ok((services, actor))
    }
}

/// The config page's data: the revision list (newest first) and the current
/// config as editable text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConfigHistory {
    pub revisions: Vec<engine::config::RevisionInfo>,
    pub current: Option<engine::config::RevisionInfo>,
    pub text: String,
}

#[server(prefix = "/console/fn", endpoint = "config_history")]
pub async fn get_config_history() -> Result<ConfigHistory, AppError> {
    let (services, actor) = ssr::caller()?;
    let doc = services.config_document(&actor).await?;
    let text = serde_json::to_string_pretty(&doc.config).unwrap_or_default();
    Ok(ConfigHistory {
        revisions: services.revisions(&actor, 200).await?,
        current: doc.revision,
        text,
    })
}

#[server(prefix = "/console/fn", endpoint = "config_diff")]
pub async fn get_config_diff(from: i64, to: i64) -> Result<engine::config::diff::Diff, AppError> {
    use engine::config::RevisionId;
    let (services, actor) = ssr::caller()?;
    Ok(services
        .diff(&actor, RevisionId(from), RevisionId(to))
        .await?)
}

/// What changed since revision `from` (the conflict view).
#[server(prefix = "/console/fn", endpoint = "config_changes_since")]
pub async fn get_changes_since(from: i64) -> Result<engine::config::diff::Diff, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services
        .changes_since(&actor, engine::config::RevisionId(from))
        .await?)
}

#[server(prefix = "/console/fn", endpoint = "rollback_config")]
pub async fn rollback_config(to: i64) -> Result<engine::config::RevisionInfo, AppError> {
    let (services, actor) = ssr::caller()?;
    let committed = services
        .rollback(&actor, engine::config::RevisionId(to), None)
        .await?;
    Ok(committed.revision)
}

/// Saves the raw editor's text (JSON5) on top of `base_hash`.
#[server(prefix = "/console/fn", endpoint = "save_config")]
pub async fn save_config(
    base_hash: String,
    text: String,
    message: String,
) -> Result<engine::config::RevisionInfo, AppError> {
    let (services, actor) = ssr::caller()?;
    let message = if message.trim().is_empty() {
        "edited in the console"
    } else {
        message.trim()
    };
    let committed = services
        .save_config_text(&actor, &base_hash, &text, message)
        .await?;
    Ok(committed.revision)
}

/// The agent page's data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentPageData {
    pub view: engine::config::AgentView,
    /// Every `provider/model` the config offers, for the chain editor.
    pub models: Vec<String>,
    /// The revision the page shows; a save based on it conflicts if it moved.
    pub base_hash: String,
    /// What the agent's `sandbox` means for `exec` on this host.
    pub exec_sandbox: ExecSandboxLine,
}

/// The effective `exec` sandbox as the server's kernel enforces it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecSandboxLine {
    /// e.g. `landlock (ABI 7): writes limited to workspace + tmp`, or why it
    /// cannot be enforced.
    pub text: String,
    /// `exec` runs (confined, or unconfined by choice); false: it refuses.
    pub runs: bool,
}

#[server(prefix = "/console/fn", endpoint = "agent_page")]
pub async fn get_agent_page(agent: String) -> Result<AgentPageData, AppError> {
    let (services, actor) = ssr::caller()?;
    let page = services.agent_page(&actor, &agent).await?;
    // The host's kernel decides what `landlock` means; only the server knows.
    let sandbox = engine::agent::sandbox::describe(page.view.agent.sandbox.value);
    Ok(AgentPageData {
        view: page.view,
        models: page.models,
        base_hash: page.base_hash,
        exec_sandbox: ExecSandboxLine {
            text: sandbox.text,
            runs: sandbox.runs,
        },
    })
}

/// Replaces an agent's chain; `chain[0]` is the primary.
#[server(prefix = "/console/fn", endpoint = "set_agent_chain")]
pub async fn set_agent_chain(
    agent: String,
    base_hash: String,
    chain: Vec<String>,
    message: String,
) -> Result<engine::config::AgentView, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services
        .set_chain(&actor, &agent, &base_hash, &chain, &message)
        .await?)
}

/// The Providers page: health, cooldowns, circuits, last hour's calls, and
/// the newest routing decisions.
#[server(prefix = "/console/fn", endpoint = "providers")]
pub async fn get_providers() -> Result<engine::health::ProvidersView, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.providers_view(&actor).await?)
}

/// The Providers page's "Check handshake": the harness started through the
/// handshake for every agent that runs in it (an operator's action, audited).
#[server(prefix = "/console/fn", endpoint = "check_harness")]
pub async fn check_harness(harness: String) -> Result<Vec<engine::health::HarnessCheck>, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.check_harness(&actor, &harness).await?)
}

/// The console's "Test call" button: one short call to `provider/model`,
/// bypassing a cooldown.
#[server(prefix = "/console/fn", endpoint = "test_provider")]
pub async fn test_provider(
    provider: String,
    model: String,
) -> Result<engine::health::TestCallReport, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.test_call(&actor, &provider, Some(&model)).await?)
}

/// The Jobs page: every job with its schedule, next fires and state.
#[server(prefix = "/console/fn", endpoint = "jobs")]
pub async fn get_jobs() -> Result<Vec<engine::runs::JobView>, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.jobs(&actor).await?)
}

/// "Run now": queues `manual:<jobId>:<n>` and answers at once.
#[server(prefix = "/console/fn", endpoint = "run_job")]
pub async fn run_job(job: String) -> Result<engine::runs::Enqueued, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.run_now(&actor, &job).await?)
}

/// The Runs page: filtered, newest first, one page at a time.
#[server(prefix = "/console/fn", endpoint = "runs")]
pub async fn get_runs(
    agent: Option<String>,
    job: Option<String>,
    status: Option<String>,
    class: Option<String>,
    fallback: Option<String>,
    before: Option<String>,
) -> Result<engine::runs::RunPage, AppError> {
    let fallback_used = match fallback.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let filter = engine::store::RunFilter::parse(
        agent,
        job,
        status.as_deref(),
        class,
        fallback_used,
        before.as_deref(),
        Some(50),
    )?;
    let (services, actor) = ssr::caller()?;
    Ok(services.runs(&actor, filter).await?)
}

#[server(prefix = "/console/fn", endpoint = "run_detail")]
pub async fn get_run(run: String) -> Result<engine::runs::RunDetail, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.run_detail(&actor, &run).await?)
}

#[server(prefix = "/console/fn", endpoint = "cancel_run")]
pub async fn cancel_run(run: String) -> Result<engine::runs::RunStatus, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.cancel_run(&actor, &run).await?)
}

/// The Drill page's pickers: the agent's settings and, per candidate, every
/// failure class with how a drill produces it there or why it cannot.
#[server(prefix = "/console/fn", endpoint = "drill_options")]
pub async fn get_drill_options(agent: String) -> Result<engine::drill::DrillOptions, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.drill_options(&actor, &agent).await?)
}

/// One drill (the same service as `POST /api/v1/agents/{id}/drill`).
#[server(prefix = "/console/fn", endpoint = "run_drill")]
pub async fn run_drill(
    agent: String,
    candidate: String,
    inject: String,
) -> Result<engine::drill::DrillReport, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services
        .run_drill(&actor, &agent, &candidate, &inject)
        .await?)
}

/// Who the console's caller is: the nav shows it, and pages hide controls
/// the caller's role cannot use (the server refuses them anyway).
#[server(prefix = "/console/fn", endpoint = "whoami")]
pub async fn whoami() -> Result<engine::identity::Whoami, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.whoami(&actor))
}

/// The Access page's data: users and API tokens (admins only).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccessData {
    pub users: Vec<engine::identity::UserInfo>,
    pub tokens: Vec<engine::identity::TokenInfo>,
}

#[server(prefix = "/console/fn", endpoint = "access")]
pub async fn get_access() -> Result<AccessData, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(AccessData {
        users: services.users(&actor).await?,
        tokens: services.tokens(&actor).await?,
    })
}

/// A new API token; the answer holds its secret, shown once.
/// `agents`: comma-separated agent ids to narrow it to (empty: every agent).
#[server(prefix = "/console/fn", endpoint = "create_token")]
pub async fn create_token(
    name: String,
    role: String,
    agents: String,
    read_only: Option<String>,
    expires_in_days: Option<String>,
) -> Result<engine::identity::NewToken, AppError> {
    let (services, actor) = ssr::caller()?;
    let agents: Vec<String> = agents
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let expires_in_days = match expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(days) => Some(days.parse::<u32>().map_err(|_| {
            AppError::from(engine::Error::invalid(
                "expiresInDays",
                "a whole number of days",
            ))
        })?),
    };
    let request = engine::identity::TokenRequest {
        name,
        role: role.parse()?,
        scope: engine::identity::Scope {
            agents: (!agents.is_empty()).then_some(agents),
            read_only: read_only.is_some(),
        },
        expires_in_days,
    };
    Ok(services.create_token(&actor, &request).await?)
}

#[server(prefix = "/console/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services.revoke_token(&actor, &id).await?)
}

#[server(prefix = "/console/fn", endpoint = "add_user")]
pub async fn add_user(
    name: String,
    role: String,
    password: String,
) -> Result<engine::identity::UserInfo, AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services
        .add_user(&actor, &name, role.parse()?, &password)
        .await?)
}

#[server(prefix = "/console/fn", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(name: String, disabled: bool) -> Result<(), AppError> {
    let (services, actor) = ssr::caller()?;
    Ok(services
        .update_user(&actor, &name, None, Some(disabled))
        .await?)
}

/// The audit log, newest first, filtered.
#[server(prefix = "/console/fn", endpoint = "audit")]
pub async fn get_audit(
    actor_filter: Option<String>,
    action: Option<String>,
    result: Option<String>,
    before: Option<i64>,
) -> Result<Vec<engine::identity::AuditEvent>, AppError> {
    let (services, actor) = ssr::caller()?;
    let empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let filter = engine::store::AuditFilter {
        actor: empty(actor_filter),
        action: empty(action),
        result: empty(result),
        before,
        limit: 100,
    };
    Ok(services.audit_events(&actor, &filter).await?)
}

//! Server functions: the console's calls into the engine. Each is a short
//! adapter; the REST API in the server crate calls the same engine methods.

use engine::config::EffectiveAgent;
use engine::config::FleetView;
use leptos::prelude::*;

use crate::error::AppError;

/// Every agent with its effective settings.
#[server(prefix = "/console/fn", endpoint = "fleet")]
pub async fn get_fleet() -> Result<FleetView, AppError> {
    Ok(ssr::fleet()?.view().await?)
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
    let author = ssr::author();
    Ok(ssr::fleet()?.set_harness(&agent, &patch, &author).await?)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::AppError;
    use engine::fleet::Fleet;
    use leptos::prelude::use_context;

    /// The fleet service, provided as context by the server for both SSR and
    /// server-function requests.
    pub fn fleet() -> Result<Fleet, AppError> {
        use_context::<Fleet>().ok_or_else(|| AppError {
            code: "internal".into(),
            message: "fleet service missing from context".into(),
            details: Vec::new(),
            current_hash: None,
        })
    }

    /// The model router, provided like the fleet.
    pub fn router() -> Result<std::sync::Arc<engine::router::Router>, AppError> {
        use_context::<std::sync::Arc<engine::router::Router>>().ok_or_else(|| AppError {
            code: "internal".into(),
            message: "model router missing from context".into(),
            details: Vec::new(),
            current_hash: None,
        })
    }

    /// The scheduler, provided like the fleet.
    pub fn scheduler() -> Result<std::sync::Arc<engine::scheduler::Scheduler>, AppError> {
        use_context::<std::sync::Arc<engine::scheduler::Scheduler>>().ok_or_else(|| AppError {
            code: "internal".into(),
            message: "scheduler missing from context".into(),
            details: Vec::new(),
            current_hash: None,
        })
    }

    /// The drill service, provided like the fleet.
    pub fn drills() -> Result<engine::drill::Drills, AppError> {
        use_context::<engine::drill::Drills>().ok_or_else(|| AppError {
            code: "internal".into(),
            message: "drill service missing from context".into(),
            details: Vec::new(),
            current_hash: None,
        })
    }

    /// Who made a change. Until logins exist (DESIGN §8), every console change
    /// is attributed to the console itself.
    pub fn author() -> String {
        "console".to_owned()
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
    let fleet = ssr::fleet()?;
    let doc = fleet.document().await?;
    let text = serde_json::to_string_pretty(&doc.config).unwrap_or_default();
    Ok(ConfigHistory {
        revisions: fleet.revisions(200).await?,
        current: doc.revision,
        text,
    })
}

#[server(prefix = "/console/fn", endpoint = "config_diff")]
pub async fn get_config_diff(from: i64, to: i64) -> Result<engine::config::diff::Diff, AppError> {
    use engine::config::RevisionId;
    Ok(ssr::fleet()?.diff(RevisionId(from), RevisionId(to)).await?)
}

/// What changed since revision `from` (the conflict view).
#[server(prefix = "/console/fn", endpoint = "config_changes_since")]
pub async fn get_changes_since(from: i64) -> Result<engine::config::diff::Diff, AppError> {
    Ok(ssr::fleet()?
        .changes_since(engine::config::RevisionId(from))
        .await?)
}

#[server(prefix = "/console/fn", endpoint = "rollback_config")]
pub async fn rollback_config(to: i64) -> Result<engine::config::RevisionInfo, AppError> {
    let fleet = ssr::fleet()?;
    let committed = fleet
        .rollback(engine::config::RevisionId(to), None, &ssr::author())
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
    let fleet = ssr::fleet()?;
    let body = engine::config::parse_text(&text)?;
    let message = if message.trim().is_empty() {
        "edited in the console"
    } else {
        message.trim()
    };
    let committed = fleet
        .put_config(&base_hash, &body, &ssr::author(), message)
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
}

#[server(prefix = "/console/fn", endpoint = "agent_page")]
pub async fn get_agent_page(agent: String) -> Result<AgentPageData, AppError> {
    let fleet = ssr::fleet()?;
    let missing = || AppError::from(engine::fleet::not_found(&agent));
    let (revision, config) = fleet.current().await?.ok_or_else(missing)?;
    let view = config.agent_view(&agent).ok_or_else(missing)?;
    Ok(AgentPageData {
        view,
        models: config.model_refs(),
        base_hash: revision.info.hash,
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
    let fleet = ssr::fleet()?;
    Ok(fleet
        .set_chain(&agent, &base_hash, &chain, &ssr::author(), &message)
        .await?)
}

/// The Providers page: health, cooldowns, circuits, last hour's calls, and
/// the newest routing decisions.
#[server(prefix = "/console/fn", endpoint = "providers")]
pub async fn get_providers() -> Result<engine::health::ProvidersView, AppError> {
    let config = ssr::fleet()?.config().await?;
    Ok(ssr::router()?.providers_view(&config, 50).await?)
}

/// The console's "Test call" button: one short call to `provider/model`,
/// bypassing a cooldown.
#[server(prefix = "/console/fn", endpoint = "test_provider")]
pub async fn test_provider(
    provider: String,
    model: String,
) -> Result<engine::health::TestCallReport, AppError> {
    let config = ssr::fleet()?.config().await?;
    Ok(ssr::router()?
        .test_model(&config, &format!("{provider}/{model}"))
        .await?)
}

/// The Jobs page: every job with its schedule, next fires and state.
#[server(prefix = "/console/fn", endpoint = "jobs")]
pub async fn get_jobs() -> Result<Vec<engine::runs::JobView>, AppError> {
    Ok(ssr::scheduler()?.jobs().await?)
}

/// "Run now": queues `manual:<jobId>:<n>` and answers at once.
#[server(prefix = "/console/fn", endpoint = "run_job")]
pub async fn run_job(job: String) -> Result<engine::runs::Enqueued, AppError> {
    Ok(ssr::scheduler()?.run_now(&job).await?)
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
    Ok(ssr::fleet()?.store().run_page(&filter).await?)
}

#[server(prefix = "/console/fn", endpoint = "run_detail")]
pub async fn get_run(run: String) -> Result<engine::runs::RunDetail, AppError> {
    Ok(ssr::scheduler()?.run_detail(&run).await?)
}

#[server(prefix = "/console/fn", endpoint = "cancel_run")]
pub async fn cancel_run(run: String) -> Result<engine::runs::RunStatus, AppError> {
    Ok(ssr::scheduler()?.cancel(&run).await?)
}

/// The Drill page's pickers: the agent's settings and, per candidate, every
/// failure class with how a drill produces it there or why it cannot.
#[server(prefix = "/console/fn", endpoint = "drill_options")]
pub async fn get_drill_options(agent: String) -> Result<engine::drill::DrillOptions, AppError> {
    Ok(ssr::drills()?.options(&agent).await?)
}

/// One drill (the same service as `POST /api/v1/agents/{id}/drill`).
#[server(prefix = "/console/fn", endpoint = "run_drill")]
pub async fn run_drill(
    agent: String,
    candidate: String,
    inject: String,
) -> Result<engine::drill::DrillReport, AppError> {
    Ok(ssr::drills()?.run(&agent, &candidate, &inject).await?)
}

//! `switchyard doctor`: what would fail before a run finds out. Starts each
//! Codex-harness agent's app-server and completes the handshake, asks each
//! provider for its model list (no tokens spent, no health touched), and
//! collects the chains' reachability warnings (DESIGN §2).

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use std::time::Instant;

use crate::config::{Config, Harness, ProviderKind, Reach, Reachability};
use crate::harness::codex::{check_handshake, CodexAppServer};
use crate::router::Router;

pub use crate::health::HarnessCheck;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorReport {
    /// No check failed (warnings do not count).
    pub ok: bool,
    pub codex: Vec<HarnessCheck>,
    pub providers: Vec<ProviderCheck>,
    pub warnings: Vec<AgentWarnings>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCheck {
    pub provider: String,
    pub kind: String,
    pub ok: bool,
    /// Why nothing was asked (a `codex` login is checked by the handshake).
    pub skipped: Option<String>,
    pub latency_ms: Option<u64>,
    pub class: Option<String>,
    pub detail: Option<String>,
    /// Configured models the provider did not list.
    pub missing_models: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWarnings {
    pub agent: String,
    pub warnings: Vec<String>,
}

pub async fn doctor(config: &Config, router: &Router, codex: &CodexAppServer) -> DoctorReport {
    let mut warnings = Vec::new();
    for agent in &config.effective_agents() {
        let reach = Reachability::of(config, agent);
        if !reach.warnings.is_empty() {
            warnings.push(AgentWarnings {
                agent: agent.id.as_str().to_owned(),
                warnings: reach.warnings,
            });
        }
    }
    let harness = harness_checks(config, codex).await;
    let providers = provider_checks(config, router).await;
    DoctorReport {
        ok: harness.iter().all(|h| h.ok) && providers.iter().all(|p| p.ok),
        codex: harness,
        providers,
        warnings,
    }
}

/// The Codex app-server handshake of every agent that has a candidate in
/// the Codex harness, each with its own `CODEX_HOME`, concurrently.
pub async fn harness_checks(config: &Config, codex: &CodexAppServer) -> Vec<HarnessCheck> {
    let launch = codex.launch(&config.harnesses.codex);
    let codex_agents: Vec<String> = config
        .effective_agents()
        .iter()
        .filter(|agent| {
            Reachability::of(config, agent)
                .candidates
                .iter()
                .any(|c| c.healthy == Reach::Runs(Harness::Codex))
        })
        .map(|agent| agent.id.as_str().to_owned())
        .collect();
    let scratch = std::env::temp_dir();
    join_all(codex_agents.into_iter().map(|agent| {
        let launch = &launch;
        let scratch = &scratch;
        async move {
            let report = check_handshake(launch, &agent, scratch).await;
            match report.result {
                Ok(took) => HarnessCheck {
                    agent,
                    command: report.command,
                    ok: true,
                    handshake_ms: Some(took.as_millis() as u64),
                    class: None,
                    detail: None,
                },
                Err(failure) => HarnessCheck {
                    agent,
                    command: report.command,
                    ok: false,
                    handshake_ms: None,
                    class: Some(failure.class.as_str().to_owned()),
                    detail: Some(failure.detail),
                },
            }
        }
    }))
    .await
}

/// Each provider's model list (no tokens spent, no health touched).
async fn provider_checks(config: &Config, router: &Router) -> Vec<ProviderCheck> {
    join_all(config.providers.iter().map(|(id, provider)| async move {
        let mut check = ProviderCheck {
            provider: id.as_str().to_owned(),
            kind: provider.kind.as_str().to_owned(),
            ok: true,
            skipped: None,
            latency_ms: None,
            class: None,
            detail: None,
            missing_models: Vec::new(),
        };
        if provider.kind == ProviderKind::Codex {
            check.skipped = Some(
                "served only through the Codex app-server (its login is checked by the handshake)"
                    .into(),
            );
            return check;
        }
        let client = match router.client_for(id, provider) {
            Ok(client) => client,
            Err(e) => {
                check.ok = false;
                check.class = Some("provider_not_found".into());
                check.detail = Some(e);
                return check;
            }
        };
        let started = Instant::now();
        match client.list_models(router.secrets(), router.clock()).await {
            Ok(listed) => {
                check.latency_ms = Some(started.elapsed().as_millis() as u64);
                // The in-process sim names its models `provider/model`;
                // Ollama lists `name:tag`, and a model without a tag is
                // its `:latest`.
                let listed_as = |m: &str| {
                    listed
                        .iter()
                        .any(|l| l == m || *l == format!("{id}/{m}") || *l == format!("{m}:latest"))
                };
                // An empty list says nothing (some providers do not list).
                if !listed.is_empty() && provider.kind != ProviderKind::Sim {
                    check.missing_models = provider
                        .models
                        .iter()
                        .filter(|m| !listed_as(m))
                        .cloned()
                        .collect();
                }
                if !check.missing_models.is_empty() {
                    check.ok = false;
                    check.class = Some("model_not_found".into());
                    check.detail = Some(format!(
                        "the provider does not list {}",
                        check.missing_models.join(", ")
                    ));
                }
            }
            Err(failure) => {
                check.ok = false;
                check.latency_ms = Some(started.elapsed().as_millis() as u64);
                check.class = Some(failure.class.as_str().to_owned());
                check.detail = Some(failure.detail);
            }
        }
        check
    }))
    .await
}

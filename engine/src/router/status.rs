//! The router's state as operators see it: per provider health, cooldowns
//! with time left, circuits, last hour's calls by class; and test calls.
//! One code path for the console's server functions and the REST API.

use std::time::Instant;

use super::{CallContext, Plan, RouteError, Router};
use crate::config::{Config, ModelRef, ProviderKind};
use crate::failure::{FailureClass, Layer};
use crate::health::{
    Circuit, CircuitState, ClassCount, DecisionRow, HarnessFailure, HarnessStatus, HealthState,
    ModelCooldown, ProviderStatus, ProvidersView, TestCallReport,
};
use crate::provider::{ChatRequest, Limits, Message};
use crate::store::Per;
use crate::{Error, Result};

const HOUR_MS: i64 = 3_600_000;

/// The classes of a harness process failing (crash, handshake, hang, spawn,
/// protocol), as opposed to the model or the provider behind it.
fn process_classes() -> Vec<&'static str> {
    FailureClass::ALL
        .iter()
        .filter(|c| c.layer() == Layer::Process)
        .map(|c| c.as_str())
        .collect()
}

fn harness_failure(d: &DecisionRow) -> HarnessFailure {
    HarnessFailure {
        class: d.reason.clone(),
        detail: d.detail.clone(),
        at_ms: d.at_ms,
        candidate: d.candidate.clone(),
        run_id: d.run_id.clone(),
    }
}

impl Router {
    /// `codex_command` is what the Codex harness starts, for its status.
    pub async fn providers_view(
        &self,
        config: &Config,
        decisions: i64,
        codex_command: &str,
    ) -> Result<ProvidersView> {
        let now = self.clock.now_ms();
        let since = now - HOUR_MS;
        let process = process_classes();
        let (cooldowns, circuits) = self.store.router_health().await?;
        let stats = self.store.call_stats(since).await?;
        let latest = self.store.latest_outcomes(Per::Provider, since).await?;
        let providers = config
            .providers
            .iter()
            .map(|(id, provider)| {
                let id_str = id.as_str();
                let circuit = circuits.iter().find(|c| c.provider == id_str);
                let circuit = match circuit {
                    Some(c) if c.open_until_ms > now => Circuit {
                        state: CircuitState::Open,
                        failures: c.failures,
                        open_until_ms: Some(c.open_until_ms),
                    },
                    Some(c) if c.open_until_ms > 0 => Circuit {
                        state: CircuitState::HalfOpen,
                        failures: c.failures,
                        open_until_ms: Some(c.open_until_ms),
                    },
                    other => Circuit {
                        state: CircuitState::Closed,
                        failures: other.map_or(0, |c| c.failures),
                        open_until_ms: None,
                    },
                };
                let cooling: Vec<ModelCooldown> = cooldowns
                    .iter()
                    .filter(|c| c.provider == id_str && c.until_ms > now)
                    .map(|c| ModelCooldown {
                        model: c.model.clone(),
                        until_ms: c.until_ms,
                        left_ms: c.until_ms - now,
                        reason: c.reason.clone(),
                        detail: c.detail.clone(),
                        failures: c.failures,
                    })
                    .collect();
                let stat = stats.iter().find(|s| s.provider == id_str);
                let failures_last_hour: Vec<ClassCount> = stat
                    .map(|s| {
                        s.failures
                            .iter()
                            .map(|(class, count)| ClassCount {
                                class: class.clone(),
                                count: *count,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                // Its newest attempt ended with the harness process failing:
                // nothing it offers can be served now, whatever the circuit
                // (which counts the provider's own failures) says.
                let harness_failure = latest
                    .iter()
                    .find(|d| d.provider == id_str && process.contains(&d.reason.as_str()))
                    .map(harness_failure);
                let health = match (
                    circuit.state,
                    cooling.is_empty() && failures_last_hour.is_empty(),
                ) {
                    _ if harness_failure.is_some() => HealthState::Down,
                    (CircuitState::Open, _) => HealthState::Down,
                    (CircuitState::HalfOpen, _) | (_, false) => HealthState::Degraded,
                    (CircuitState::Closed, true) => HealthState::Healthy,
                };
                let endpoint = match (&provider.base_url, provider.kind) {
                    (Some(url), _) => url.clone(),
                    (None, ProviderKind::Sim) => match provider.wire {
                        Some(wire) => format!("in-process sim ({})", wire.as_str()),
                        None => "in-process sim".to_owned(),
                    },
                    (None, _) => "Codex app-server".to_owned(),
                };
                ProviderStatus {
                    id: id_str.to_owned(),
                    kind: provider.kind,
                    endpoint,
                    models: provider.models.to_vec(),
                    health,
                    circuit,
                    cooldowns: cooling,
                    calls_last_hour: stat.map_or(0, |s| s.calls),
                    succeeded_last_hour: stat.map_or(0, |s| s.succeeded),
                    failures_last_hour,
                    in_flight: self.clients.in_flight(id) as i64,
                    concurrency: Limits::of(provider).concurrency as i64,
                    harness_failure,
                }
            })
            .collect();
        let codex = self
            .harness_status("codex", "Codex app-server", codex_command, since)
            .await?;
        Ok(ProvidersView {
            now_ms: now,
            providers,
            harnesses: vec![codex],
            decisions: self.store.recent_decisions(None, decisions).await?,
        })
    }

    /// One harness's attempts and process failures since `since`, and its
    /// newest process failure.
    async fn harness_status(
        &self,
        id: &str,
        name: &str,
        command: &str,
        since: i64,
    ) -> Result<HarnessStatus> {
        let process = process_classes();
        let stats = self.store.harness_stats(since).await?;
        let stat = stats.iter().find(|s| s.provider == id);
        let failures_last_hour: Vec<ClassCount> = stat
            .map(|s| {
                s.failures
                    .iter()
                    .filter(|(class, _)| process.contains(&class.as_str()))
                    .map(|(class, count)| ClassCount {
                        class: class.clone(),
                        count: *count,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let latest = self.store.latest_outcomes(Per::Harness, since).await?;
        let down = latest
            .iter()
            .any(|d| d.harness == id && process.contains(&d.reason.as_str()));
        let health = match (down, failures_last_hour.is_empty()) {
            (true, _) => HealthState::Down,
            (false, false) => HealthState::Degraded,
            (false, true) => HealthState::Healthy,
        };
        Ok(HarnessStatus {
            id: id.to_owned(),
            name: name.to_owned(),
            command: command.to_owned(),
            health,
            attempts_last_hour: stat.map_or(0, |s| s.calls),
            succeeded_last_hour: stat.map_or(0, |s| s.succeeded),
            failures_last_hour,
            last_failure: self
                .store
                .last_failure_in(id, &process)
                .await?
                .as_ref()
                .map(harness_failure),
        })
    }

    /// Sends a one-line prompt to `model`, bypassing its cooldown, and
    /// reports what happened with the decisions it produced.
    pub async fn test_model(&self, config: &Config, model: &str) -> Result<TestCallReport> {
        let model_ref: ModelRef = model
            .parse()
            .map_err(|e: String| Error::invalid("model", e))?;
        let provider = config
            .providers
            .get(model_ref.provider().as_str())
            .ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!("provider `{}` is not configured", model_ref.provider()),
                )
            })?;
        if !provider.models.iter().any(|m| m == model_ref.model()) {
            return Err(Error::invalid(
                "model",
                format!(
                    "`{}` is not one of provider `{}`'s models",
                    model_ref.model(),
                    model_ref.provider()
                ),
            ));
        }
        let run_id = format!("test:{model_ref}:{}", self.clock.now_ms());
        let ctx = CallContext::new(run_id.clone(), None);
        let plan = Plan::single(config, &model_ref);
        let request = ChatRequest {
            messages: vec![Message::user(
                "Reply with one short sentence: are you there?",
            )],
            stream: true,
            ..ChatRequest::default()
        };
        let started = Instant::now();
        let result = self.test_call(&ctx, &plan, &request).await;
        let latency_ms = started.elapsed().as_millis() as i64;
        let decisions = self.store.run_decisions(&run_id).await?;
        let (ok, text, reason, message) = match result {
            Ok(served) => (true, Some(served.completion.text), None, None),
            Err(e) => {
                // The last failure says more than "all candidates failed"
                // when there was only one candidate.
                let message = match &e {
                    RouteError::Exhausted { last, .. }
                    | RouteError::Stopped(last)
                    | RouteError::HarnessStopped { failure: last, .. } => last.to_string(),
                    other => other.to_string(),
                };
                (false, None, Some(e.reason().to_owned()), Some(message))
            }
        };
        Ok(TestCallReport {
            model: model_ref.to_string(),
            run_id,
            ok,
            text,
            reason,
            message,
            latency_ms,
            decisions,
        })
    }
}

//! Providers: health, test calls, decisions (and their live stream), doctor.

use tokio::sync::broadcast;

use super::Services;
use crate::doctor::DoctorReport;
use crate::health::{DecisionRow, HarnessCheck, ProvidersView, TestCallReport};
use crate::identity::{Actor, Permission};
use crate::{Error, Result};

impl Services {
    pub async fn providers_view(&self, actor: &Actor) -> Result<ProvidersView> {
        actor.require(Permission::Read)?;
        let config = self.fleet.config().await?;
        let command = self.codex.launch(&config.harnesses.codex).command.join(" ");
        self.router.providers_view(&config, 50, &command).await
    }

    /// Starts the Codex app-server of every Codex-harness agent through the
    /// handshake and stops it (what `doctor` checks first): an operator's
    /// action, since it spawns processes.
    pub async fn check_harness(&self, actor: &Actor, harness: &str) -> Result<Vec<HarnessCheck>> {
        self.audited(
            actor,
            Permission::Operate,
            "harness.check",
            harness,
            async {
                if harness != "codex" {
                    return Err(Error::NotFound {
                        what: "harness",
                        id: crate::identity::printable(harness),
                    });
                }
                let config = self.fleet.config().await?;
                Ok(crate::doctor::harness_checks(&config, &self.codex).await)
            },
        )
        .await
    }

    /// One short call to `provider/model` (the provider's first model when
    /// `model` is `None`), bypassing its cooldown.
    pub async fn test_call(
        &self,
        actor: &Actor,
        provider: &str,
        model: Option<&str>,
    ) -> Result<TestCallReport> {
        let target = format!("{provider}/{}", model.unwrap_or("(first)"));
        self.audited(
            actor,
            Permission::Operate,
            "provider.test",
            &target,
            async {
                let config = self.fleet.config().await?;
                let configured = config
                    .providers
                    .get(provider)
                    .ok_or_else(|| Error::NotFound {
                        what: "provider",
                        id: crate::identity::printable(provider),
                    })?;
                let model = match model
                    .map(str::to_owned)
                    .or_else(|| configured.models.first().cloned())
                {
                    Some(model) => model,
                    None => {
                        return Err(Error::invalid(
                            "model",
                            format!("provider `{provider}` lists no models"),
                        ))
                    }
                };
                self.router
                    .test_model(&config, &format!("{provider}/{model}"))
                    .await
            },
        )
        .await
    }

    /// One run's decisions in order, or the newest (of one provider).
    pub async fn decisions(
        &self,
        actor: &Actor,
        run_id: Option<&str>,
        provider: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DecisionRow>> {
        actor.require(Permission::Read)?;
        match run_id {
            Some(run) => {
                if !actor.sees_every_agent() {
                    let record = self.store().run(run).await?;
                    actor.require_agent(Permission::Read, &record.agent_id)?;
                }
                self.store().run_decisions(run).await
            }
            None => {
                let mut rows = self
                    .store()
                    .recent_decisions(provider, limit.clamp(1, 1000))
                    .await?;
                rows.retain(|d| {
                    d.agent_id
                        .as_deref()
                        .map_or(actor.sees_every_agent(), |a| actor.scope.allows_agent(a))
                });
                Ok(rows)
            }
        }
    }

    pub fn subscribe_decisions(&self, actor: &Actor) -> Result<broadcast::Receiver<DecisionRow>> {
        actor.require(Permission::Read)?;
        Ok(self.router.subscribe())
    }

    /// Starts Codex app-servers and calls providers: an operator's action.
    pub async fn doctor(&self, actor: &Actor) -> Result<DoctorReport> {
        self.audited(actor, Permission::Operate, "doctor", "fleet", async {
            let config = self.fleet.config().await?;
            Ok(crate::doctor::doctor(&config, &self.router, &self.codex).await)
        })
        .await
    }
}

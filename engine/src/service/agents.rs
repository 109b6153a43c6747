//! Agents: the fleet view, one agent, harness and chain changes, drills.

use serde::{Deserialize, Serialize};

use super::Services;
use crate::config::{AgentView, EffectiveAgent, FleetView, HarnessPatch};
use crate::drill::{DrillOptions, DrillReport};
use crate::fleet::not_found;
use crate::identity::{Actor, Permission};
use crate::Result;

/// The agent page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentPage {
    pub view: AgentView,
    /// Every `provider/model` the config offers, for the chain editor.
    pub models: Vec<String>,
    /// The revision the page shows; a save based on it conflicts if it moved.
    pub base_hash: String,
}

impl Services {
    /// Every agent the caller may see, with its effective settings.
    pub async fn fleet_view(&self, actor: &Actor) -> Result<FleetView> {
        actor.require(Permission::Read)?;
        let mut view = self.fleet.view().await?;
        view.agents
            .retain(|a| actor.scope.allows_agent(a.agent.id.as_str()));
        Ok(view)
    }

    pub async fn agent(&self, actor: &Actor, id: &str) -> Result<AgentView> {
        actor.require_agent(Permission::Read, id)?;
        self.fleet.agent(id).await
    }

    pub async fn agent_page(&self, actor: &Actor, id: &str) -> Result<AgentPage> {
        actor.require_agent(Permission::Read, id)?;
        let (revision, config) = self.fleet.current().await?.ok_or_else(|| not_found(id))?;
        let view = config.agent_view(id).ok_or_else(|| not_found(id))?;
        Ok(AgentPage {
            view,
            models: config.model_refs(),
            base_hash: revision.info.hash,
        })
    }

    pub async fn set_harness(
        &self,
        actor: &Actor,
        agent: &str,
        patch: &HarnessPatch,
    ) -> Result<EffectiveAgent> {
        let scope = actor.require_agent(Permission::Read, agent);
        self.audited(actor, Permission::Operate, "agent.harness", agent, async {
            scope?;
            self.fleet.set_harness(agent, patch, &actor.name()).await
        })
        .await
    }

    pub async fn set_chain(
        &self,
        actor: &Actor,
        agent: &str,
        base_hash: &str,
        chain: &[String],
        message: &str,
    ) -> Result<AgentView> {
        let scope = actor.require_agent(Permission::Read, agent);
        self.audited(actor, Permission::Operate, "agent.chain", agent, async {
            scope?;
            self.fleet
                .set_chain(agent, base_hash, chain, &actor.name(), message)
                .await
        })
        .await
    }

    pub async fn drill_options(&self, actor: &Actor, agent: &str) -> Result<DrillOptions> {
        actor.require_agent(Permission::Read, agent)?;
        self.drills.options(agent).await
    }

    /// Drills touch nothing in production, but they spawn processes.
    pub async fn run_drill(
        &self,
        actor: &Actor,
        agent: &str,
        candidate: &str,
        inject: &str,
    ) -> Result<DrillReport> {
        let scope = actor.require_agent(Permission::Read, agent);
        let target = format!("{agent} {candidate} {inject}");
        self.audited(actor, Permission::Operate, "agent.drill", &target, async {
            scope?;
            self.drills.run(agent, candidate, inject).await
        })
        .await
    }
}

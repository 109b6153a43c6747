//! Jobs and runs: lists, force-run, enable/disable, run detail, cancel.

use tokio::sync::broadcast;

use super::Services;
use crate::identity::{Actor, Permission};
use crate::runs::{Enqueued, JobView, RunDetail, RunPage, RunStatus};
use crate::scheduler::RunEvent;
use crate::store::RunFilter;
use crate::{Error, Result};

impl Services {
    pub async fn jobs(&self, actor: &Actor) -> Result<Vec<JobView>> {
        actor.require(Permission::Read)?;
        let mut jobs = self.scheduler.jobs().await?;
        jobs.retain(|j| actor.scope.allows_agent(&j.agent_id));
        Ok(jobs)
    }

    /// The agent a job belongs to, for scope checks.
    async fn job_agent(&self, job_id: &str) -> Result<String> {
        let config = self.fleet.config().await?;
        config
            .cron
            .jobs
            .iter()
            .find(|j| j.id == job_id)
            .map(|j| j.agent_id.to_string())
            .ok_or_else(|| Error::NotFound {
                what: "job",
                id: crate::identity::printable(job_id),
            })
    }

    pub async fn run_now(&self, actor: &Actor, job_id: &str) -> Result<Enqueued> {
        self.audited(actor, Permission::Operate, "job.run", job_id, async {
            let agent = self.job_agent(job_id).await?;
            actor.require_agent(Permission::Operate, &agent)?;
            self.scheduler.run_now(job_id).await
        })
        .await
    }

    pub async fn set_job_enabled(&self, actor: &Actor, job_id: &str, enabled: bool) -> Result<()> {
        let action = if enabled { "job.enable" } else { "job.disable" };
        self.audited(actor, Permission::Operate, action, job_id, async {
            let agent = self.job_agent(job_id).await?;
            actor.require_agent(Permission::Operate, &agent)?;
            self.fleet
                .set_job_enabled(job_id, enabled, &actor.name())
                .await
        })
        .await
    }

    /// A narrowed token lists runs of its agents only: it must name one, or
    /// have exactly one, which is then filled in.
    pub async fn runs(&self, actor: &Actor, mut filter: RunFilter) -> Result<RunPage> {
        actor.require(Permission::Read)?;
        if let Some(agents) = &actor.scope.agents {
            match (&filter.agent_id, agents.as_slice()) {
                (Some(agent), _) => actor.require_agent(Permission::Read, agent)?,
                (None, [only]) => filter.agent_id = Some(only.clone()),
                (None, _) => {
                    return Err(Error::Forbidden {
                        message: format!(
                            "{} is narrowed to some agents; filter runs by one of them",
                            actor.name()
                        ),
                    })
                }
            }
        }
        self.store().run_page(&filter).await
    }

    /// A run with its attempt timeline. Transcripts and run logs (what the
    /// agent's tools printed) only for operators and admins.
    pub async fn run_detail(&self, actor: &Actor, run_id: &str) -> Result<RunDetail> {
        actor.require(Permission::Read)?;
        let mut detail = self.scheduler.run_detail(run_id).await?;
        actor.require_agent(Permission::Read, &detail.run.agent_id)?;
        if actor.require(Permission::ReadTranscripts).is_err() {
            detail.transcript.clear();
            detail.logs.clear();
        }
        Ok(detail)
    }

    pub async fn cancel_run(&self, actor: &Actor, run_id: &str) -> Result<RunStatus> {
        self.audited(actor, Permission::Operate, "run.cancel", run_id, async {
            let run = self.store().run(run_id).await?;
            actor.require_agent(Permission::Operate, &run.agent_id)?;
            self.scheduler.cancel(run_id).await
        })
        .await
    }

    /// Run status changes as they happen.
    pub fn subscribe_runs(&self, actor: &Actor) -> Result<broadcast::Receiver<RunEvent>> {
        actor.require(Permission::Read)?;
        Ok(self.scheduler.subscribe())
    }
}

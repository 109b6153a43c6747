//! The fleet service: reads and changes the operator config. The console's
//! server functions and the REST API both call these methods, so there is one
//! code path for every change, and every change is validated, stored as a new
//! revision, and in effect at once (every read starts from the newest
//! revision; nothing needs a restart).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::diff::{diff, Diff};
use crate::config::policy::ServerPolicy;
use crate::config::validate::{validate, Env, ProcessEnv, Report};
use crate::config::{
    AgentView, Config, EffectiveAgent, FleetView, HarnessPatch, RevisionId, RevisionInfo,
};
use crate::store::{NewRevision, Revision, Store};
use crate::{Error, Result};

/// The current config as stored, with the revision it is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigDocument {
    /// `None` before the first revision.
    pub revision: Option<RevisionInfo>,
    pub config: Value,
}

/// What importing an OpenClaw config did or would do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOutcome {
    pub import: crate::openclaw::ImportReport,
    pub validation: Report,
    /// From the current config to the imported one.
    pub diff: Diff,
    /// The new revision; `None` on a dry run.
    pub revision: Option<RevisionInfo>,
}

/// A stored change: the new revision and what validation said of it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Committed {
    pub revision: RevisionInfo,
    pub report: Report,
}

#[derive(Clone)]
pub struct Fleet {
    store: Store,
    clock: SharedClock,
    env: Arc<dyn Env + Send + Sync>,
    policy: Arc<ServerPolicy>,
}

/// How often a field-level change is re-applied when another writer got in
/// first. A harness patch means the same thing on any base, so re-applying it
/// to the newer revision is correct (unlike a whole-config write, which must
/// surface the conflict to its author).
const PATCH_ATTEMPTS: usize = 5;

impl Fleet {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self::with_env(store, clock, Arc::new(ProcessEnv))
    }

    /// With an injected environment, for validating secrets in tests.
    pub fn with_env(store: Store, clock: SharedClock, env: Arc<dyn Env + Send + Sync>) -> Self {
        Self {
            store,
            clock,
            env,
            policy: Arc::new(ServerPolicy::default()),
        }
    }

    /// What the server allows a config to do (declared secrets, base URLs,
    /// Codex commands, workspaces); the defaults otherwise.
    pub fn with_server_policy(mut self, policy: Arc<ServerPolicy>) -> Self {
        self.policy = policy;
        self
    }

    pub fn server_policy(&self) -> &Arc<ServerPolicy> {
        &self.policy
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores `config` as the first revision if the database has none. Returns
    /// whether it did. Never overwrites: a later start finds a head and leaves
    /// it, and two replicas starting at once produce one first revision.
    pub async fn seed_if_empty(&self, config: &Value, author: &str) -> Result<bool> {
        if self.store.head_revision().await?.is_some() {
            return Ok(false);
        }
        let config = Config::from_json(config)?;
        match self.commit(None, &config, author, "seed: demo fleet").await {
            Ok(_) => Ok(true),
            Err(Error::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The newest revision and its parsed config; `None` before the first
    /// revision (a server started with `--no-demo` on an empty database).
    pub async fn current(&self) -> Result<Option<(Revision, Config)>> {
        let Some(revision) = self.store.head_revision().await? else {
            return Ok(None);
        };
        let config = parse_stored(&revision)?;
        Ok(Some((revision, config)))
    }

    /// The current config; empty before the first revision.
    pub async fn config(&self) -> Result<Config> {
        Ok(self.current().await?.map(|(_, c)| c).unwrap_or_default())
    }

    pub async fn view(&self) -> Result<FleetView> {
        Ok(match self.current().await? {
            Some((revision, config)) => FleetView {
                revision: Some(revision.info),
                agents: config.agent_views(),
            },
            None => FleetView {
                revision: None,
                agents: Vec::new(),
            },
        })
    }

    pub async fn agent(&self, id: &str) -> Result<AgentView> {
        let (_, config) = self.current().await?.ok_or_else(|| not_found(id))?;
        config.agent_view(id).ok_or_else(|| not_found(id))
    }

    pub async fn document(&self) -> Result<ConfigDocument> {
        let head = self.store.head_revision().await?;
        Ok(match head {
            Some(r) => ConfigDocument {
                revision: Some(r.info),
                config: r.body,
            },
            None => ConfigDocument {
                revision: None,
                config: Config::default().to_json(),
            },
        })
    }

    /// Validates a config without storing it. A body that does not fit the
    /// schema is an [`Error::Invalid`]; one that fits but has problems comes
    /// back as a report with errors.
    pub fn validate(&self, body: &Value) -> Result<Report> {
        let config = Config::from_json(body)?;
        Ok(validate(&config, self.env.as_ref(), &self.policy))
    }

    /// Replaces the whole config. `base_hash` is the hash of the revision the
    /// author started from (empty on an empty database); if another change
    /// landed since, nothing is stored and the result is a conflict naming
    /// the current hash.
    pub async fn put_config(
        &self,
        base_hash: &str,
        body: &Value,
        author: &str,
        message: &str,
    ) -> Result<Committed> {
        let config = Config::from_json(body)?;
        let head = self.store.head_revision().await?.map(|r| r.info);
        let head_hash = head.as_ref().map_or("", |h| h.hash.as_str());
        if head_hash != base_hash {
            return Err(Error::Conflict {
                current_hash: head_hash.to_owned(),
            });
        }
        self.commit(head.as_ref(), &config, author, message).await
    }

    pub async fn revisions(&self, limit: i64) -> Result<Vec<RevisionInfo>> {
        self.store.revisions(limit).await
    }

    pub async fn revision(&self, id: RevisionId) -> Result<Revision> {
        self.store.revision(id).await
    }

    pub async fn diff(&self, from: RevisionId, to: RevisionId) -> Result<Diff> {
        let (a, b) = (
            self.store.revision(from).await?,
            self.store.revision(to).await?,
        );
        Ok(diff(
            &a.body,
            &b.body,
            &format!("revision #{from}"),
            &format!("revision #{to}"),
        ))
    }

    /// What changed from revision `from` to the newest one: the conflict view
    /// shows this when a save was based on an old revision.
    pub async fn changes_since(&self, from: RevisionId) -> Result<Diff> {
        let head = self
            .store
            .head_revision()
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "config revision",
                id: "head".into(),
            })?;
        self.diff(from, head.info.id).await
    }

    /// Makes revision `to`'s config current again, as a new revision on top of
    /// the head. With `base_hash`, refuses if the head moved since.
    pub async fn rollback(
        &self,
        to: RevisionId,
        base_hash: Option<&str>,
        author: &str,
    ) -> Result<Committed> {
        let target = self.store.revision(to).await?;
        let config = parse_stored(&target)?;
        let head = self.store.head_revision().await?.map(|r| r.info);
        if let (Some(base), Some(head)) = (base_hash, &head) {
            if base != head.hash {
                return Err(Error::Conflict {
                    current_hash: head.hash.clone(),
                });
            }
        }
        let message = format!("rollback to revision #{to}");
        self.commit(head.as_ref(), &config, author, &message).await
    }

    /// Changes one agent's `embeddedHarness` and stores the result as a new
    /// revision. Bad values are refused before anything is written.
    pub async fn set_harness(
        &self,
        agent: &str,
        patch: &HarnessPatch,
        author: &str,
    ) -> Result<EffectiveAgent> {
        let mut last_conflict = None;
        for _ in 0..PATCH_ATTEMPTS {
            let (base, mut config) = self.current().await?.ok_or_else(|| not_found(agent))?;
            config.apply_harness_patch(agent, patch)?;
            match self
                .commit(Some(&base.info), &config, author, &describe(agent, patch))
                .await
            {
                Ok(_) => {
                    return config
                        .effective_agent(agent)
                        .ok_or_else(|| not_found(agent))
                }
                Err(e @ Error::Conflict { .. }) => last_conflict = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_conflict.expect("loop ran at least once"))
    }

    /// Enables or disables one cron job (a new revision; re-applied on top
    /// of a concurrent change, since the flip does not depend on the rest).
    pub async fn set_job_enabled(&self, job_id: &str, enabled: bool, author: &str) -> Result<()> {
        let mut last_conflict = None;
        for _ in 0..PATCH_ATTEMPTS {
            let (base, mut config) = self.current().await?.ok_or_else(|| job_not_found(job_id))?;
            let job = config
                .cron
                .jobs
                .iter_mut()
                .find(|j| j.id == job_id)
                .ok_or_else(|| job_not_found(job_id))?;
            if job.enabled == enabled {
                return Ok(());
            }
            job.enabled = enabled;
            let message = format!(
                "{} job {job_id}",
                if enabled { "enable" } else { "disable" }
            );
            match self
                .commit(Some(&base.info), &config, author, &message)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e @ Error::Conflict { .. }) => last_conflict = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_conflict.expect("loop ran at least once"))
    }

    /// Removes one cron job from the config (a new revision; re-applied on
    /// top of a concurrent change). `false` if the job is not there (any
    /// more): removing is idempotent, so two replicas racing to remove a
    /// job make one revision. The job's runs stay in the history.
    pub async fn remove_job(&self, job_id: &str, author: &str, message: &str) -> Result<bool> {
        let mut last_conflict = None;
        for _ in 0..PATCH_ATTEMPTS {
            let Some((base, mut config)) = self.current().await? else {
                return Ok(false);
            };
            let before = config.cron.jobs.len();
            config.cron.jobs.retain(|j| j.id != job_id);
            if config.cron.jobs.len() == before {
                return Ok(false);
            }
            match self
                .commit(Some(&base.info), &config, author, message)
                .await
            {
                Ok(_) => return Ok(true),
                Err(e @ Error::Conflict { .. }) => last_conflict = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_conflict.expect("loop ran at least once"))
    }

    /// Replaces one agent's chain, based on the revision `base_hash` the
    /// operator was looking at: reordering a chain someone else just changed
    /// must not silently win, so a stale base is a conflict.
    pub async fn set_chain(
        &self,
        agent: &str,
        base_hash: &str,
        chain: &[String],
        author: &str,
        message: &str,
    ) -> Result<AgentView> {
        let (base, mut config) = self.current().await?.ok_or_else(|| not_found(agent))?;
        if base.info.hash != base_hash {
            return Err(Error::Conflict {
                current_hash: base.info.hash,
            });
        }
        config.set_agent_chain(agent, chain)?;
        let message = if message.trim().is_empty() {
            format!("{agent}: model chain {}", chain.join(" → "))
        } else {
            message.trim().to_owned()
        };
        self.commit(Some(&base.info), &config, author, &message)
            .await?;
        config.agent_view(agent).ok_or_else(|| not_found(agent))
    }

    /// Imports `openclaw.json` (and optionally cron `jobs.json` /
    /// `jobs-state.json`). A dry run stores nothing and says what would
    /// change; otherwise the result is validated and stored as a new revision.
    pub async fn import_openclaw(
        &self,
        openclaw: &str,
        jobs: Option<&str>,
        jobs_state: Option<&str>,
        dry_run: bool,
        author: &str,
    ) -> Result<ImportOutcome> {
        let import = crate::openclaw::import(openclaw, jobs, jobs_state)?;
        let config = Config::from_json(&import.config)?;
        let validation = validate(&config, self.env.as_ref(), &self.policy);
        let head = self.store.head_revision().await?;
        let current = head
            .as_ref()
            .map_or_else(|| Config::default().to_json(), |h| h.body.clone());
        let diff = diff(&current, &config.to_json(), "current", "imported");
        let revision = if dry_run {
            None
        } else {
            let base = head.map(|h| h.info);
            let committed = self
                .commit(base.as_ref(), &config, author, "import from openclaw.json")
                .await?;
            // The jobs' history (a 52-error streak) comes with them: only
            // for jobs the stored config has.
            let states: Vec<_> = import
                .job_state
                .iter()
                .filter(|s| config.cron.jobs.iter().any(|j| j.id == s.job_id))
                .cloned()
                .collect();
            self.store
                .import_job_history(&states, self.clock.now_ms())
                .await?;
            Some(committed.revision)
        };
        Ok(ImportOutcome {
            import,
            validation,
            diff,
            revision,
        })
    }

    /// The one write path: validate, then append on top of `base`.
    async fn commit(
        &self,
        base: Option<&RevisionInfo>,
        config: &Config,
        author: &str,
        message: &str,
    ) -> Result<Committed> {
        let report = validate(config, self.env.as_ref(), &self.policy);
        if !report.is_valid() {
            return Err(Error::Invalid(report.errors));
        }
        let body = config.to_json();
        let new = NewRevision {
            author,
            message,
            created_at_ms: self.clock.now_ms(),
            body: &body,
        };
        let revision = self.store.append_revision(base, new).await?;
        Ok(Committed { revision, report })
    }
}

fn parse_stored(revision: &Revision) -> Result<Config> {
    Config::from_json(&revision.body).map_err(|e| Error::Corrupt {
        what: format!("config revision {}", revision.info.id),
        message: e.to_string(),
    })
}

/// The error for an agent that is not in the current config.
fn job_not_found(id: &str) -> Error {
    Error::NotFound {
        what: "job",
        id: id.to_owned(),
    }
}

pub fn not_found(id: &str) -> Error {
    Error::NotFound {
        what: "agent",
        id: id.to_owned(),
    }
}

fn describe(agent: &str, patch: &HarnessPatch) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &patch.runtime {
        parts.push(format!("runtime={v}"));
    }
    if let Some(v) = &patch.fallback {
        parts.push(format!("fallback={v}"));
    }
    format!("{agent}: embeddedHarness {}", parts.join(" "))
}

//! The raw config: reads for every role without agent narrowing (the
//! config names every agent), writes for admins.

use serde_json::Value;

use super::Services;
use crate::config::diff::Diff;
use crate::config::validate::Report;
use crate::config::{Config, RevisionId, RevisionInfo};
use crate::fleet::{Committed, ConfigDocument, ImportOutcome};
use crate::identity::{Actor, Permission};
use crate::store::Revision;
use crate::{Error, Result};

/// What `export` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Switchyard,
    OpenClaw(crate::openclaw::Shape),
}

fn require_whole_config(actor: &Actor, permission: Permission) -> Result<()> {
    actor.require(permission)?;
    if !actor.sees_every_agent() {
        return Err(Error::Forbidden {
            message: format!(
                "{} is narrowed to some agents; the whole config names every agent",
                actor.name()
            ),
        });
    }
    Ok(())
}

impl Services {
    pub async fn config_document(&self, actor: &Actor) -> Result<ConfigDocument> {
        require_whole_config(actor, Permission::Read)?;
        self.fleet.document().await
    }

    /// Checks a config without storing it.
    pub fn validate_config(&self, actor: &Actor, body: &Value) -> Result<Report> {
        actor.require(Permission::Read)?;
        self.fleet.validate(body)
    }

    pub async fn put_config(
        &self,
        actor: &Actor,
        base_hash: &str,
        body: &Value,
        message: &str,
    ) -> Result<Committed> {
        self.audited(
            actor,
            Permission::Administer,
            "config.put",
            "config",
            async {
                require_whole_config(actor, Permission::Administer)?;
                self.fleet
                    .put_config(base_hash, body, &actor.name(), message)
                    .await
            },
        )
        .await
    }

    /// The console's editor: JSON5 text, then the same path as
    /// [`Services::put_config`]. A text that does not parse is refused (and
    /// audited) under the same permission check as a save.
    pub async fn save_config_text(
        &self,
        actor: &Actor,
        base_hash: &str,
        text: &str,
        message: &str,
    ) -> Result<Committed> {
        match crate::config::parse_text(text) {
            Ok(body) => self.put_config(actor, base_hash, &body, message).await,
            Err(e) => {
                let refused = async { Err(e) };
                self.audited(
                    actor,
                    Permission::Administer,
                    "config.put",
                    "config",
                    refused,
                )
                .await
            }
        }
    }

    pub async fn revisions(&self, actor: &Actor, limit: i64) -> Result<Vec<RevisionInfo>> {
        require_whole_config(actor, Permission::Read)?;
        self.fleet.revisions(limit).await
    }

    pub async fn revision(&self, actor: &Actor, id: RevisionId) -> Result<Revision> {
        require_whole_config(actor, Permission::Read)?;
        self.fleet.revision(id).await
    }

    pub async fn diff(&self, actor: &Actor, from: RevisionId, to: RevisionId) -> Result<Diff> {
        require_whole_config(actor, Permission::Read)?;
        self.fleet.diff(from, to).await
    }

    pub async fn changes_since(&self, actor: &Actor, from: RevisionId) -> Result<Diff> {
        require_whole_config(actor, Permission::Read)?;
        self.fleet.changes_since(from).await
    }

    pub async fn rollback(
        &self,
        actor: &Actor,
        to: RevisionId,
        base_hash: Option<&str>,
    ) -> Result<Committed> {
        let target = format!("revision #{to}");
        self.audited(
            actor,
            Permission::Administer,
            "config.rollback",
            &target,
            async {
                require_whole_config(actor, Permission::Administer)?;
                self.fleet.rollback(to, base_hash, &actor.name()).await
            },
        )
        .await
    }

    /// A dry run reads only; a real import replaces the config.
    pub async fn import_openclaw(
        &self,
        actor: &Actor,
        openclaw: &str,
        jobs: Option<&str>,
        jobs_state: Option<&str>,
        dry_run: bool,
    ) -> Result<ImportOutcome> {
        let work = async {
            require_whole_config(actor, Permission::Administer)?;
            self.fleet
                .import_openclaw(openclaw, jobs, jobs_state, dry_run, &actor.name())
                .await
        };
        if dry_run {
            work.await
        } else {
            self.audited(
                actor,
                Permission::Administer,
                "config.import",
                "openclaw",
                work,
            )
            .await
        }
    }

    pub async fn export(&self, actor: &Actor, format: ExportFormat) -> Result<Value> {
        require_whole_config(actor, Permission::Read)?;
        let doc = self.fleet.document().await?;
        Ok(match format {
            ExportFormat::Switchyard => doc.config,
            ExportFormat::OpenClaw(shape) => {
                let config = Config::from_json(&doc.config)?;
                serde_json::to_value(crate::openclaw::export(&config, shape))
                    .expect("an export serializes")
            }
        })
    }
}

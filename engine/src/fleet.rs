//! The fleet service: reads and changes the operator config. The console's
//! server functions and the REST API both call these methods, so there is one
//! code path for every change.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{Config, EffectiveAgent, FleetView, HarnessPatch};
use crate::store::{NewRevision, Revision, Store};
use crate::{Error, Result};

#[derive(Clone)]
pub struct Fleet {
    store: Store,
    clock: SharedClock,
}

/// How often a field-level change is re-applied when another writer got in
/// first. A harness patch means the same thing on any base, so re-applying it
/// to the newer revision is correct (unlike a whole-config write, which must
/// surface the conflict to its author).
const PATCH_ATTEMPTS: usize = 5;

impl Fleet {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores `config` as the first revision if the database has none. Returns
    /// whether it did. Never overwrites: a later start finds a head and leaves
    /// it, and two replicas starting at once produce one first revision.
    pub async fn seed_if_empty(&self, config: &serde_json::Value, author: &str) -> Result<bool> {
        if self.store.head_revision().await?.is_some() {
            return Ok(false);
        }
        Config::from_json(config)?;
        let new = NewRevision {
            author,
            message: "seed: demo fleet",
            created_at_ms: self.clock.now_ms(),
            body: config,
        };
        match self.store.append_revision(None, new).await {
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
        let config = Config::from_json(&revision.body).map_err(|e| Error::Corrupt {
            what: format!("config revision {}", revision.info.id),
            message: e.to_string(),
        })?;
        Ok(Some((revision, config)))
    }

    pub async fn view(&self) -> Result<FleetView> {
        Ok(match self.current().await? {
            Some((revision, config)) => FleetView {
                revision: Some(revision.info),
                agents: config.effective_agents(),
            },
            None => FleetView {
                revision: None,
                agents: Vec::new(),
            },
        })
    }

    pub async fn agent(&self, id: &str) -> Result<EffectiveAgent> {
        let (_, config) = self.current().await?.ok_or_else(|| not_found(id))?;
        config.effective_agent(id).ok_or_else(|| not_found(id))
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
            let message = describe(agent, patch);
            let new = NewRevision {
                author,
                message: &message,
                created_at_ms: self.clock.now_ms(),
                body: &config.to_json(),
            };
            match self.store.append_revision(Some(&base.info), new).await {
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
}

fn not_found(id: &str) -> Error {
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

/// A fleet over `store` with the system clock.
pub fn with_system_clock(store: Store) -> Fleet {
    Fleet::new(store, Arc::new(crate::clock::SystemClock))
}

//! The one door into the engine for callers from outside: the REST API and
//! the console's server functions both hold a [`Services`] and call its
//! methods, each of which takes the caller's [`Actor`], checks it, does the
//! work through the fleet, scheduler, router or drills, and writes an audit
//! event for anything that changes state. The parts it wraps are private,
//! so a handler cannot reach around a check.
//!
//! One module per resource: `agents`, `config`, `jobs`, `providers`,
//! `accounts` (users, tokens, sessions, the audit log).

mod accounts;
mod agents;
mod config;
mod jobs;
mod providers;

use std::future::Future;
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::clock::SharedClock;
use crate::drill::Drills;
use crate::fleet::Fleet;
use crate::harness::codex::CodexAppServer;
use crate::identity::{Actor, Permission};
use crate::router::Router;
use crate::scheduler::Scheduler;
use crate::store::{NewAuditEvent, Store};
use crate::{Error, ErrorKind, Result};

pub use agents::AgentPage;
pub use config::ExportFormat;

/// Everything `serve` builds once, cheap to clone.
#[derive(Clone)]
pub struct Services {
    fleet: Fleet,
    router: Arc<Router>,
    scheduler: Arc<Scheduler>,
    drills: Drills,
    codex: Arc<CodexAppServer>,
    accounts: Accounts,
    clock: SharedClock,
}

pub struct Parts {
    pub fleet: Fleet,
    pub router: Arc<Router>,
    pub scheduler: Arc<Scheduler>,
    pub drills: Drills,
    pub codex: Arc<CodexAppServer>,
    pub accounts: Accounts,
    pub clock: SharedClock,
}

impl Services {
    pub fn new(parts: Parts) -> Self {
        Services {
            fleet: parts.fleet,
            router: parts.router,
            scheduler: parts.scheduler,
            drills: parts.drills,
            codex: parts.codex,
            accounts: parts.accounts,
            clock: parts.clock,
        }
    }

    /// For readiness checks: a database round trip and a readable head.
    pub async fn ready(&self) -> Result<()> {
        self.store().ping().await?;
        self.fleet.current().await?;
        Ok(())
    }

    fn store(&self) -> &Store {
        self.fleet.store()
    }

    /// Runs `work` if `actor` has `permission`, and records the attempt in
    /// the audit log either way: what was tried, by whom, from where, and
    /// how it ended.
    async fn audited<T>(
        &self,
        actor: &Actor,
        permission: Permission,
        action: &str,
        target: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = match actor.require(permission) {
            Ok(()) => work.await,
            Err(e) => Err(e),
        };
        let (outcome, detail) = match &result {
            Ok(_) => ("ok".to_owned(), String::new()),
            Err(e) => (e.kind().code().to_owned(), audit_detail(e)),
        };
        self.record(actor, action, target, &outcome, &detail).await;
        result
    }

    /// Appends one audit event. A failed append is logged, not returned:
    /// the change it describes has already been committed, and answering
    /// an error would make the caller retry a change that happened.
    async fn record(&self, actor: &Actor, action: &str, target: &str, result: &str, detail: &str) {
        let event = NewAuditEvent {
            at_ms: self.clock.now_ms(),
            actor: actor.name(),
            role: Some(actor.role.as_str().to_owned()),
            address: actor.address.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            result: result.to_owned(),
            detail: detail.to_owned(),
        };
        if let Err(e) = self.store().append_audit(&event).await {
            tracing::error!(error = %e, action, target, "could not append to the audit log");
        }
    }
}

/// What the audit log keeps of an error: the caller-facing message, never
/// an internal one (it may name files or hosts).
fn audit_detail(e: &Error) -> String {
    if e.kind() == ErrorKind::Internal {
        "internal error".into()
    } else {
        e.to_string()
    }
}

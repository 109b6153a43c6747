//! Cron jobs: which agent runs which message on which schedule (DESIGN §5).
//! Only the desired state lives here; run state (`nextRunAt`, streaks, …) is
//! owned by the server and never part of a config revision.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::AgentId;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronConfig {
    #[serde(default)]
    pub jobs: Vec<Job>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Stable id (OpenClaw uses UUIDs); runs are named `cron:<id>:<time>`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub agent_id: AgentId,
    pub schedule: Schedule,
    /// The message the agent's run starts with.
    pub message: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The whole run's budget, queue wait included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_after_run: bool,
    /// What to do with fires missed while the server was down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<MissedPolicy>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Fires missed while no server was running (DESIGN §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Run once for the latest missed fire (the default: a daily report
    /// still gets written after a restart).
    #[default]
    RunOnce,
    /// Record the missed fires as skipped and wait for the next one.
    Skip,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum Schedule {
    /// A 5- or 6-field cron expression in an IANA time zone (default UTC).
    #[serde(rename_all = "camelCase")]
    Cron {
        expr: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tz: Option<String>,
    },
    /// Every `everyMs`, counted from `anchorMs` when given.
    #[serde(rename_all = "camelCase")]
    Every {
        every_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor_ms: Option<i64>,
    },
    /// Once, at `atMs` (Unix milliseconds).
    #[serde(rename_all = "camelCase")]
    At { at_ms: i64 },
}

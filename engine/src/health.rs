//! What the console and the API show about providers: health, cooldowns,
//! circuits, recent calls by class, routing decisions, test-call reports.
//! Plain data (no store, no runtime) so the console's wasm shares the types.

use serde::{Deserialize, Serialize};

use crate::config::ProviderKind;

/// One routing decision (DESIGN §3), as stored and served.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRow {
    pub id: i64,
    pub run_id: String,
    pub attempt: i64,
    pub at_ms: i64,
    pub agent_id: Option<String>,
    pub requested: String,
    pub candidate: String,
    pub provider: String,
    pub model: String,
    /// `native`, `codex`, or `none` for a candidate that was skipped.
    pub harness: String,
    /// `candidate_failed`, `candidate_succeeded`, `skip_candidate`,
    /// `probe_cooldown_candidate` or `harness_handoff`.
    pub decision: String,
    /// A failure class, a skip reason (`cooldown`, `circuit_open`, …) or `none`.
    pub reason: String,
    pub next: Option<String>,
    pub detail: String,
    pub latency_ms: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// No failure in the last hour, nothing cooling down.
    Healthy,
    /// Recent failures or a model cooling down; calls still go through.
    Degraded,
    /// The circuit is open: no call goes to this provider.
    Down,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    /// The open period is over; one probe call decides.
    HalfOpen,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Circuit {
    pub state: CircuitState,
    /// Consecutive provider-health failures.
    pub failures: i64,
    pub open_until_ms: Option<i64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCooldown {
    pub model: String,
    pub until_ms: i64,
    /// Milliseconds left when the status was read.
    pub left_ms: i64,
    /// The failure class that caused it.
    pub reason: String,
    pub detail: String,
    pub failures: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassCount {
    pub class: String,
    pub count: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStatus {
    pub id: String,
    pub kind: ProviderKind,
    /// Where calls go; `in-process sim` for a `sim` provider without one.
    pub endpoint: String,
    pub models: Vec<String>,
    pub health: HealthState,
    pub circuit: Circuit,
    /// Models cooling down right now.
    pub cooldowns: Vec<ModelCooldown>,
    pub calls_last_hour: i64,
    pub succeeded_last_hour: i64,
    /// Failed attempts in the last hour by class, most frequent first.
    pub failures_last_hour: Vec<ClassCount>,
    pub in_flight: i64,
    pub concurrency: i64,
    /// Set when this provider's newest attempt in the last hour ended in a
    /// failure of the harness process serving it (the Codex app-server
    /// crashed, failed its handshake, hung): its models cannot be served
    /// however healthy the provider is, so `health` is `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_failure: Option<HarnessFailure>,
}

/// A failure of an external harness's process, as recorded by the router.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HarnessFailure {
    /// `harness_crashed`, `handshake_timeout`, `harness_hung`,
    /// `spawn_failed` or `protocol_error`.
    pub class: String,
    /// The error: exit code or signal and the last stderr lines, …
    pub detail: String,
    pub at_ms: i64,
    /// The candidate (`provider/model`) it was serving.
    pub candidate: String,
    pub run_id: String,
}

/// An external harness (the Codex app-server), shown as prominently as a
/// provider: when its processes crash, every candidate it serves is out,
/// while the providers behind it look fine.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HarnessStatus {
    /// `codex`.
    pub id: String,
    pub name: String,
    /// What each attempt starts.
    pub command: String,
    /// `down`: its newest attempt in the last hour ended in a process
    /// failure; `degraded`: process failures in the last hour, but it
    /// served since; `healthy`: none.
    pub health: HealthState,
    pub attempts_last_hour: i64,
    pub succeeded_last_hour: i64,
    /// Process failures in the last hour by class, most frequent first.
    pub failures_last_hour: Vec<ClassCount>,
    /// The newest process failure, however old.
    pub last_failure: Option<HarnessFailure>,
}

/// One agent's Codex app-server handshake: spawn, `initialize`, stop
/// (`switchyard doctor`, the Providers page's check).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HarnessCheck {
    pub agent: String,
    pub command: String,
    pub ok: bool,
    /// Spawn to `initialize` result.
    pub handshake_ms: Option<u64>,
    pub class: Option<String>,
    pub detail: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvidersView {
    pub now_ms: i64,
    pub providers: Vec<ProviderStatus>,
    /// External harnesses (the Codex app-server).
    #[serde(default)]
    pub harnesses: Vec<HarnessStatus>,
    /// Newest first.
    pub decisions: Vec<DecisionRow>,
}

/// The outcome of an operator's test call to one model.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCallReport {
    /// `provider/model`.
    pub model: String,
    pub run_id: String,
    pub ok: bool,
    /// The model's answer when it succeeded.
    pub text: Option<String>,
    /// A failure class or `all_candidates_cooling_down` when it failed.
    pub reason: Option<String>,
    pub message: Option<String>,
    pub latency_ms: i64,
    /// What the router did, in order.
    pub decisions: Vec<DecisionRow>,
}

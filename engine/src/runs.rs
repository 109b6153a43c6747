//! Runs and job state as the console and API show them (DESIGN §5). Plain
//! data shared with the console's wasm; the store and the scheduler own the
//! behaviour.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{other}` (expected one of: {})",
                        stringify!($name).to_lowercase(),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Where a run is in its life.
    RunStatus {
        Queued = "queued",
        Running = "running",
        Ok = "ok",
        Error = "error",
        Timeout = "timeout",
        Cancelled = "cancelled",
        Skipped = "skipped",
    }
);

wire_enum!(
    /// What started a run.
    Trigger { Cron = "cron", Manual = "manual" }
);

impl RunStatus {
    /// A run in a final status never changes again.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// One run of a job.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// `cron:<jobId>:<scheduledFor>` or `manual:<jobId>:<n>`.
    pub run_id: String,
    pub job_id: String,
    pub agent_id: String,
    pub trigger: Trigger,
    pub scheduled_for_ms: Option<i64>,
    pub status: RunStatus,
    pub queued_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub deadline_ms: Option<i64>,
    pub error: Option<String>,
    /// A failure class (DESIGN §3), `abandoned`, or a limit.
    pub error_class: Option<String>,
    /// What the scheduler wants an operator to know (missed fires, a long
    /// wait in the lane).
    pub note: Option<String>,
    /// `provider/model` that served the last model call.
    pub model: Option<String>,
    pub harness: Option<String>,
    pub fallback_used: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub attempts: i64,
    pub lane: String,
    /// How long it waited in its lane before it started.
    pub lane_wait_ms: Option<i64>,
    /// Runs ahead of it in its lane when it was queued.
    pub queue_ahead: Option<i64>,
    pub owner: Option<String>,
}

/// The server's state of one job (OpenClaw's `jobs-state.json`, kept
/// consistent with the runs by updating both in one transaction).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub job_id: String,
    pub next_run_at_ms: Option<i64>,
    pub running_at_ms: Option<i64>,
    pub last_run_at_ms: Option<i64>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub last_error_class: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub consecutive_errors: i64,
}

/// The answer to a force-run: at once, before the run starts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enqueued {
    pub ok: bool,
    pub enqueued: bool,
    pub run_id: String,
}

/// One job as the Jobs page and `GET /api/v1/jobs` show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: String,
    pub name: Option<String>,
    pub agent_id: String,
    pub enabled: bool,
    /// The schedule in words.
    pub schedule: String,
    /// The next five fire times (Unix ms).
    pub next_fires: Vec<i64>,
    pub state: JobState,
    /// Runs of this job queued or running now.
    pub queued: i64,
}

/// A run with everything the Run page shows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    pub run: RunRecord,
    /// The router's decisions, in order: the attempt timeline.
    pub decisions: Vec<crate::health::DecisionRow>,
    /// Log lines that named this run, in order.
    pub logs: Vec<RunLogLine>,
    /// `{seq, atMs, kind, body}` entries, in order.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub transcript: Vec<serde_json::Value>,
}

/// A page of runs, newest first; `next` continues after the last one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    pub runs: Vec<RunRecord>,
    pub next: Option<String>,
}

/// One log line about a run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunLogLine {
    pub run_id: String,
    pub at_ms: i64,
    pub level: String,
    pub line: String,
}

/// Percent-encodes one URL path or query segment (run ids hold `:`, job ids
/// are free text). Shared by the console's links and the CLI's requests.
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

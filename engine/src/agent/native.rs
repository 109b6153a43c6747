//! The agent loop: system prompt + the job's message → model call (through
//! the router, streaming) → tool calls → results → … until the model answers
//! without a tool call or a limit ends the run. Every step is appended to the
//! run's transcript in the store as it happens, so a crash loses nothing
//! already done.

use serde_json::json;
use std::time::Duration;

use super::exec::ExecLimits;
use super::tools::{self, ToolResult};
use super::workspace::Workspace;
use crate::config::{Harness, ModelRef, Tool};
use crate::failure::FailureClass;
use crate::provider::{ChatRequest, Message, ToolSpec, Usage};
use crate::router::{CallContext, Plan, RouteError, Router};

/// Built-in limits when the agent's config sets none.
const DEFAULT_MAX_TURNS: u32 = 30;
const DEFAULT_MAX_TOKENS: u64 = 2_000_000;
const DEFAULT_WALL_TIME: Duration = Duration::from_secs(30 * 60);

/// When a run started at `started` must end. The wall time is clamped to
/// the config's bound: `Instant + Duration` panics on overflow, and a
/// revision stored before the bound existed may hold any `u64`.
fn wall_deadline(
    started: tokio::time::Instant,
    wall_time: Option<Duration>,
) -> tokio::time::Instant {
    let max = Duration::from_secs(crate::config::limits::MAX_SECONDS);
    started + wall_time.unwrap_or(DEFAULT_WALL_TIME).min(max)
}

/// Everything one run of the native engine needs.
pub struct NativeRun<'a> {
    pub router: &'a Router,
    pub plan: &'a Plan,
    pub ctx: &'a CallContext,
    pub workspace: &'a Workspace,
    pub tools: &'a [Tool],
    pub system_prompt: Option<&'a str>,
    pub message: &'a str,
    pub max_turns: Option<u32>,
    pub max_tokens: Option<u64>,
    pub wall_time: Option<Duration>,
    pub exec_limits: ExecLimits,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The model answered without asking for a tool.
    Answered(String),
    /// No candidate could serve a model call.
    RouteFailed {
        reason: String,
        class: Option<FailureClass>,
        message: String,
    },
    /// A limit of the agent's config ended the run.
    LimitReached {
        limit: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub end: RunEnd,
    pub turns: u32,
    pub usage: Usage,
    /// The candidate that served the last successful model call.
    pub served_by: Option<(ModelRef, Harness)>,
    /// Any model call of the run was served by a fallback.
    pub fallback_used: bool,
}

struct Transcript<'a> {
    router: &'a Router,
    run_id: &'a str,
    seq: i64,
}

impl Transcript<'_> {
    async fn append(&mut self, kind: &str, body: serde_json::Value) {
        self.seq += 1;
        let at = self.router.clock().now_ms();
        if let Err(e) = self
            .router
            .store()
            .append_transcript(self.run_id, self.seq, at, kind, &body)
            .await
        {
            tracing::warn!(run_id = self.run_id, error = %e, "could not store a transcript entry");
        }
    }
}

pub async fn run_native(run: NativeRun<'_>) -> RunOutcome {
    let max_turns = run.max_turns.unwrap_or(DEFAULT_MAX_TURNS);
    let max_tokens = run.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let started = tokio::time::Instant::now();
    run.ctx
        .limit_deadline(wall_deadline(started, run.wall_time));
    let deadline = run.ctx.deadline().expect("just set");
    let specs: Vec<ToolSpec> = tools::definitions(run.tools)
        .into_iter()
        .map(|t| ToolSpec {
            name: t.name.to_owned(),
            description: t.description.to_owned(),
            parameters: t.parameters,
        })
        .collect();
    // The commands' TMPDIR, shared by the run's `exec` calls and removed when
    // the run ends. Without it each call gets its own.
    let run_tmp = if run.tools.contains(&Tool::Exec) {
        tempfile::Builder::new()
            .prefix("switchyard-run-")
            .tempdir()
            .map_err(|e| {
                tracing::warn!(run_id = %run.ctx.run_id, error = %e, "could not create the run's temp dir")
            })
            .ok()
    } else {
        None
    };
    let mut transcript = Transcript {
        router: run.router,
        run_id: &run.ctx.run_id,
        seq: 0,
    };
    let mut messages = Vec::new();
    if let Some(prompt) = run.system_prompt.filter(|p| !p.trim().is_empty()) {
        messages.push(Message::system(prompt));
        transcript.append("system", json!({"text": prompt})).await;
    }
    messages.push(Message::user(run.message));
    transcript
        .append("user", json!({"text": run.message}))
        .await;

    let mut outcome = RunOutcome {
        end: RunEnd::Answered(String::new()),
        turns: 0,
        usage: Usage::default(),
        served_by: None,
        fallback_used: false,
    };
    loop {
        if outcome.turns >= max_turns {
            outcome.end = limit(
                "maxTurns",
                format!("the run used all {max_turns} turns without a final answer"),
            );
            break;
        }
        outcome.turns += 1;
        let request = ChatRequest {
            messages: messages.clone(),
            tools: specs.clone(),
            max_tokens: None,
            stream: true,
        };
        let served = match run.router.call(run.ctx, run.plan, &request).await {
            Ok(served) => served,
            Err(error) => {
                if let Some(partial) = error.partial() {
                    transcript
                        .append(
                            "partial",
                            json!({"text": partial, "note": "output before the stream broke"}),
                        )
                        .await;
                }
                transcript
                    .append(
                        "error",
                        json!({"reason": error.reason(), "message": error.to_string()}),
                    )
                    .await;
                outcome.end = route_failed(&error);
                break;
            }
        };
        outcome.usage.add(served.completion.usage);
        outcome.fallback_used |= served.fallback_used;
        outcome.served_by = Some((served.candidate.clone(), served.harness));
        let completion = served.completion;
        transcript
            .append(
                "assistant",
                json!({
                    "text": completion.text,
                    "toolCalls": completion.tool_calls,
                    "candidate": served.candidate.to_string(),
                    "attempt": served.attempt,
                    "usage": completion.usage,
                }),
            )
            .await;
        messages.push(Message::assistant(&completion));
        if completion.tool_calls.is_empty() {
            outcome.end = RunEnd::Answered(completion.text);
            break;
        }
        for call in &completion.tool_calls {
            let limits = ExecLimits {
                // A command never outlives the run.
                timeout: run
                    .exec_limits
                    .timeout
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now())),
                tmp_dir: run_tmp.as_ref().map(|d| d.path().to_path_buf()),
                ..run.exec_limits.clone()
            };
            let result = tokio::select! {
                r = tools::call(run.workspace, run.tools, &call.name, &call.arguments, &limits) => r,
                () = run.ctx.cancel.cancelled() => ToolResult { content: "the run was cancelled".into(), is_error: true },
            };
            transcript
                .append(
                    "tool",
                    json!({"callId": call.id, "name": call.name, "arguments": call.arguments,
                                       "content": result.content, "isError": result.is_error}),
                )
                .await;
            messages.push(Message::tool_result(&call.id, result.content));
        }
        if run.ctx.cancel.is_cancelled() {
            outcome.end = RunEnd::RouteFailed {
                reason: "cancelled".into(),
                class: Some(FailureClass::Cancelled),
                message: "the run was cancelled".into(),
            };
            break;
        }
        let used = outcome
            .usage
            .input_tokens
            .saturating_add(outcome.usage.output_tokens);
        if used > max_tokens {
            outcome.end = limit(
                "maxTokens",
                format!("the run used {used} tokens, over its limit of {max_tokens}"),
            );
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            outcome.end = RunEnd::RouteFailed {
                reason: "run_timeout".into(),
                class: Some(FailureClass::RunTimeout),
                message: "the run's wall time ran out".into(),
            };
            break;
        }
    }
    if let RunEnd::LimitReached { limit, message } = &outcome.end {
        transcript
            .append(
                "error",
                json!({"reason": "limit", "limit": limit, "message": message}),
            )
            .await;
    }
    outcome
}

fn limit(limit: &'static str, message: String) -> RunEnd {
    RunEnd::LimitReached { limit, message }
}

fn route_failed(error: &RouteError) -> RunEnd {
    RunEnd::RouteFailed {
        reason: error.reason().to_owned(),
        class: error.class(),
        message: error.to_string(),
    }
}

//! OpenClaw's cron store ↔ `cron.jobs`. OpenClaw keeps jobs in `jobs.json`
//! (run state inline or in `jobs-state.json`; 2026.9 moves both into its
//! state database, `cron_jobs`), each job's message and timeout inside its
//! `payload`. What Switchyard does not read is kept on the job and written
//! back on export.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::import::{ImportReport, JobState};
use crate::config::{parse_text, Job, Schedule};
use crate::{Error, Problem};

/// Job keys Switchyard reads; the rest is kept on the job.
const READ: &[&str] = &[
    "id",
    "name",
    "agentId",
    "enabled",
    "schedule",
    "payload",
    "deleteAfterRun",
    "state",
    "timeoutSeconds",
];

pub(super) fn import(
    text: &str,
    default_agent: Option<&str>,
    r: &mut ImportReport,
) -> Result<Vec<Value>, Error> {
    let file = parse_text(text)?;
    let mut jobs = Vec::new();
    let list = match &file {
        Value::Array(list) => list.clone(),
        other => other
            .get("jobs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    for (i, j) in list.iter().enumerate() {
        let path = format!("jobs.json jobs[{i}]");
        let Some((obj, id)) = super::import::object_with_id(j, &path, "job", r) else {
            continue;
        };
        let Some(schedule) = schedule(obj.get("schedule"), &format!("{path}.schedule"), r) else {
            continue;
        };
        let mut job = Map::new();
        job.insert("id".into(), json!(id));
        if let Some(name) = obj.get("name") {
            job.insert("name".into(), name.clone());
        }
        let agent = match obj.get("agentId").and_then(Value::as_str) {
            Some(a) => a.to_owned(),
            None => {
                match default_agent {
                    Some(a) => {
                        r.notes.push(Problem::new(
                        format!("{path}.agentId"),
                        format!("no agentId: OpenClaw runs it on the default agent, imported as `{a}`"),
                    ));
                        a.to_owned()
                    }
                    None => {
                        r.problems.push(Problem::new(
                            format!("{path}.agentId"),
                            "no agentId and no agent to default to; skipped",
                        ));
                        continue;
                    }
                }
            }
        };
        job.insert("agentId".into(), json!(agent));
        job.insert("schedule".into(), schedule);
        job.insert(
            "enabled".into(),
            obj.get("enabled").cloned().unwrap_or(json!(true)),
        );
        if obj.get("deleteAfterRun") == Some(&json!(true)) {
            job.insert("deleteAfterRun".into(), json!(true));
        }
        // The payload: `message` (agentTurn) or `text` (systemEvent) is the
        // run's message; `timeoutSeconds` its budget; the rest stays.
        let mut payload = obj
            .get("payload")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let message = payload
            .remove("message")
            .or_else(|| payload.remove("text"))
            .unwrap_or(json!(""));
        match payload.get("kind").and_then(Value::as_str) {
            None | Some("agentTurn") => {}
            Some(kind) => r.notes.push(Problem::new(
                format!("{path}.payload.kind"),
                format!("a `{kind}` job (OpenClaw's own, e.g. a heartbeat its migration adds): Switchyard runs it as an agent turn with message {message}; disable it if it has no use here"),
            )),
        }
        job.insert("message".into(), message);
        let timeout = payload
            .remove("timeoutSeconds")
            .or_else(|| obj.get("timeoutSeconds").cloned());
        if let Some(t) = timeout {
            job.insert("timeoutSeconds".into(), t);
        }
        // `agentTurn` is what Switchyard runs and what the export writes.
        if payload.get("kind") == Some(&json!("agentTurn")) {
            payload.remove("kind");
        }
        if !payload.is_empty() {
            job.insert("payload".into(), Value::Object(payload));
        }
        for (k, v) in obj {
            if !READ.contains(&k.as_str()) {
                r.unknown_keys.push(format!("{path}.{k}"));
                job.insert(k.clone(), v.clone());
            }
        }
        if let Some(state) = obj
            .get("state")
            .filter(|s| s.as_object().is_some_and(|o| !o.is_empty()))
        {
            r.job_state.push(job_state(id, state));
        }
        jobs.push(Value::Object(job));
    }
    Ok(jobs)
}

/// `{kind: cron|every|at}` with OpenClaw's spellings (`at` is an ISO 8601
/// instant; older stores wrote `atMs`, `cron` for `expr`).
fn schedule(s: Option<&Value>, path: &str, r: &mut ImportReport) -> Option<Value> {
    let s = s.and_then(Value::as_object);
    let kind = s.and_then(|s| s.get("kind")).and_then(Value::as_str);
    let s = s.cloned().unwrap_or_default();
    let mut out = Map::new();
    let mut read = vec!["kind"];
    match kind {
        Some("cron") => {
            out.insert("kind".into(), json!("cron"));
            out.insert(
                "expr".into(),
                s.get("expr")
                    .or_else(|| s.get("cron"))
                    .cloned()
                    .unwrap_or_default(),
            );
            if let Some(tz) = s.get("tz") {
                out.insert("tz".into(), tz.clone());
            }
            read.extend(["expr", "cron", "tz"]);
        }
        Some("every") => {
            out.insert("kind".into(), json!("every"));
            out.insert(
                "everyMs".into(),
                s.get("everyMs").cloned().unwrap_or_default(),
            );
            if let Some(a) = s.get("anchorMs") {
                out.insert("anchorMs".into(), a.clone());
            }
            read.extend(["everyMs", "anchorMs"]);
        }
        Some("at") => {
            let at_ms = match (s.get("at"), s.get("atMs")) {
                (Some(Value::String(at)), _) => match DateTime::parse_from_rfc3339(at) {
                    Ok(t) => json!(t.timestamp_millis()),
                    Err(e) => {
                        r.problems.push(Problem::new(
                            format!("{path}.at"),
                            format!("not an ISO 8601 instant ({e}); job skipped"),
                        ));
                        return None;
                    }
                },
                (Some(ms @ Value::Number(_)), _) | (None, Some(ms)) => ms.clone(),
                _ => {
                    r.problems.push(Problem::new(
                        format!("{path}.at"),
                        "a one-shot needs `at` (ISO 8601); job skipped",
                    ));
                    return None;
                }
            };
            out.insert("kind".into(), json!("at"));
            out.insert("atMs".into(), at_ms);
            read.extend(["at", "atMs"]);
        }
        other => {
            r.problems.push(Problem::new(
                format!("{path}.kind"),
                format!("unknown schedule kind {other:?}; job skipped"),
            ));
            return None;
        }
    }
    for k in s.keys().filter(|k| !read.contains(&k.as_str())) {
        r.problems.push(Problem::new(
            format!("{path}.{k}"),
            "not a schedule setting Switchyard has: not imported (the schedule runs without it)",
        ));
    }
    Some(Value::Object(out))
}

/// A job's state as OpenClaw keeps it (in `jobs.json`, `jobs-state.json` or
/// its state database).
pub(super) fn job_state(id: &str, s: &Value) -> JobState {
    JobState {
        job_id: id.to_owned(),
        running_at_ms: s.get("runningAtMs").and_then(Value::as_i64),
        last_run_at_ms: s.get("lastRunAtMs").and_then(Value::as_i64),
        last_status: s
            .get("lastRunStatus")
            .or_else(|| s.get("lastStatus"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        last_error: s
            .get("lastError")
            .and_then(Value::as_str)
            .map(str::to_owned),
        consecutive_errors: s
            .get("consecutiveErrors")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    }
}

/// `jobs-state.json`: `{jobs: {<id>: {state: {…}} | {…}}}`.
pub(super) fn state_file(text: &str) -> Result<Vec<JobState>, Error> {
    let file = parse_text(text)?;
    Ok(file
        .get("jobs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(id, j)| job_state(id, j.get("state").unwrap_or(j)))
        .collect())
}

/// `cron.jobs` → OpenClaw's `jobs.json`.
pub(super) fn export(jobs: &[Job]) -> Value {
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|j| {
            let schedule = match &j.schedule {
                Schedule::Cron { expr, tz } => {
                    strip(json!({"kind": "cron", "expr": expr, "tz": tz}))
                }
                Schedule::Every {
                    every_ms,
                    anchor_ms,
                } => strip(json!({"kind": "every", "everyMs": every_ms, "anchorMs": anchor_ms})),
                Schedule::At { at_ms } => json!({"kind": "at", "at": iso(*at_ms)}),
            };
            let mut payload = j
                .extra
                .get("payload")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            payload.entry("kind").or_insert_with(|| json!("agentTurn"));
            payload.insert("message".into(), json!(j.message));
            if let Some(t) = j.timeout_seconds {
                payload.insert("timeoutSeconds".into(), json!(t));
            }
            let mut o = Map::new();
            for (k, v) in &j.extra {
                o.insert(k.clone(), v.clone());
            }
            o.insert("id".into(), json!(j.id));
            o.insert("agentId".into(), json!(j.agent_id));
            if let Some(name) = &j.name {
                o.insert("name".into(), json!(name));
            }
            o.insert("enabled".into(), json!(j.enabled));
            o.insert("schedule".into(), schedule);
            o.insert("payload".into(), Value::Object(payload));
            if j.delete_after_run {
                o.insert("deleteAfterRun".into(), json!(true));
            }
            Value::Object(o)
        })
        .collect();
    json!({ "version": 1, "jobs": jobs })
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn strip(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

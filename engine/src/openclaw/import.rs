//! `openclaw.json` (+ the cron store) → Switchyard config, with a report
//! that names everything translated, kept, renamed or left out.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::providers;
use super::roster::{Roster, RuntimeSources};
use crate::config::{is_secret_key, parse_text, Config, SecretRef};
use crate::{Error, Problem};

/// What an import did, for the operator to read before (or after) storing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Which OpenClaw roster shape the file used.
    pub shape: String,
    /// The resulting Switchyard config (validate it before storing).
    pub config: Value,
    /// Keys Switchyard does not interpret, kept in the config where they
    /// were and written back on export.
    pub unknown_keys: Vec<String>,
    /// Things that needed translating (`${ENV}` refs, runtimes, renamed
    /// keys, synthesized providers), one line each.
    pub notes: Vec<Problem>,
    /// What could not be imported as it was, or what OpenClaw accepts but
    /// cannot work (duplicate ids, literal secrets, adapters Switchyard does
    /// not speak): read these before storing.
    pub problems: Vec<Problem>,
    /// Run state from the cron store (a stuck `runningAtMs`, a
    /// `consecutiveErrors` streak); stored with the import.
    pub job_state: Vec<JobState>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub consecutive_errors: u64,
}

/// Imports `openclaw.json` text, and optionally the cron store's text
/// (`jobs.json`, `jobs-state.json`).
pub fn import(
    openclaw: &str,
    jobs: Option<&str>,
    jobs_state: Option<&str>,
) -> Result<ImportReport, Error> {
    let root = parse_text(openclaw)?;
    let Value::Object(root) = root else {
        return Err(Error::invalid(
            "(root)",
            "openclaw.json must be a JSON object",
        ));
    };
    let mut r = ImportReport::default();
    let mut out = Map::new();

    let models = root.get("models").and_then(Value::as_object);
    let declared = models
        .and_then(|m| m.get("providers"))
        .and_then(Value::as_object);
    let imported = providers::import(&declared.cloned().unwrap_or_default(), &mut r);
    // `models` keys other than the providers (`mode`), and the providers
    // Switchyard cannot call, are kept for export under `models`.
    let mut kept_models: Map<String, Value> = models
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "providers")
        .map(|(k, v)| {
            r.unknown_keys.push(format!("models.{k}"));
            (k.clone(), v.clone())
        })
        .collect();
    if !imported.unsupported.is_empty() {
        kept_models.insert(
            "providers".into(),
            Value::Object(imported.unsupported.clone()),
        );
    }
    let agents_in = root
        .get("agents")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let roster = Roster {
        unsupported: &imported.unsupported,
        sources: RuntimeSources {
            providers: declared,
            defaults_models: agents_in
                .get("defaults")
                .and_then(|d| d.get("models"))
                .and_then(Value::as_object),
        },
    };
    let agents = roster.import(&agents_in, &mut r);
    let default_agent = default_agent(&agents_in);
    out.insert("providers".into(), Value::Object(imported.providers));
    out.insert("agents".into(), agents);
    if !kept_models.is_empty() {
        out.insert("models".into(), Value::Object(kept_models));
    }
    for (key, value) in &root {
        if !["models", "agents"].contains(&key.as_str()) {
            r.unknown_keys.push(key.clone());
            out.insert(key.clone(), value.clone());
        }
    }
    if let Some(jobs) = jobs {
        // OpenClaw's own cron settings (`enabled`, `maxConcurrentRuns`, …)
        // stay next to the jobs.
        let list = super::cron::import(jobs, default_agent.as_deref(), &mut r)?;
        let cron = out.entry("cron").or_insert_with(|| json!({}));
        if !cron.is_object() {
            return Err(Error::invalid(
                "cron",
                "openclaw.json's `cron` must be an object",
            ));
        }
        if cron.get("jobs").is_some() {
            r.problems.push(Problem::new(
                "cron.jobs",
                "openclaw.json has its own `cron.jobs`: replaced by the jobs of the cron store",
            ));
        }
        cron["jobs"] = Value::Array(list);
    }
    if let Some(state) = jobs_state {
        for s in super::cron::state_file(state)? {
            match r.job_state.iter_mut().find(|j| j.job_id == s.job_id) {
                Some(j) => *j = s,
                None => r.job_state.push(s),
            }
        }
    }
    for s in r.job_state.iter().filter(|s| s.running_at_ms.is_some()) {
        r.notes.push(Problem::new(
            format!("state.{}", s.job_id),
            "OpenClaw left this job marked running (runningAtMs): Switchyard does not carry that over, nothing of OpenClaw's runs here",
        ));
    }
    synthesize_codex_provider(&mut out, &mut r);
    let mut config = Value::Object(out);
    take_literal_secrets(&mut config, "", &mut r);
    r.config = config;
    // The result must at least fit the schema; reference problems are for
    // the validator to list.
    Config::from_json(&r.config)?;
    Ok(r)
}

/// The agent OpenClaw runs unowned jobs on: the one marked `default: true`,
/// else the first.
fn default_agent(agents: &Map<String, Value>) -> Option<String> {
    let ids: Vec<(String, bool)> = match (agents.get("list"), agents.get("entries")) {
        (Some(Value::Array(list)), _) => list
            .iter()
            .filter_map(|a| {
                Some((
                    a.get("id")?.as_str()?.to_owned(),
                    a.get("default") == Some(&json!(true)),
                ))
            })
            .collect(),
        (_, Some(Value::Object(map))) => map
            .iter()
            .map(|(id, a)| (id.clone(), a.get("default") == Some(&json!(true))))
            .collect(),
        _ => Vec::new(),
    };
    ids.iter()
        .find(|(_, d)| *d)
        .or(ids.first())
        .map(|(id, _)| id.clone())
}

/// OpenClaw keeps secrets anywhere (`channels.telegram.botToken`,
/// `gateway.auth.token`, provider headers), and the keys Switchyard does not
/// read are carried over verbatim. A `${NAME}` becomes a reference; a
/// literal is dropped and reported (never shown), so it is not stored and
/// never served back in reads, exports or diffs.
fn take_literal_secrets(value: &mut Value, path: &str, r: &mut ImportReport) {
    let at = |key: &str| {
        let key = crate::config::limits::show(key);
        if path.is_empty() {
            key
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            let mut dropped = Vec::new();
            for (key, child) in map.iter_mut() {
                let here = at(key);
                let literal = match child {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Array(list) if list.iter().any(Value::is_string) => Some(String::new()),
                    _ => None,
                };
                match literal.filter(|_| is_secret_key(key)) {
                    Some(text) => match env_ref(&text).filter(SecretRef::is_ref) {
                        Some(reference) => {
                            r.notes.push(Problem::new(
                                &here,
                                format!("`{text}` imported as the reference {reference}"),
                            ));
                            *child = reference;
                        }
                        None => {
                            r.problems.push(Problem::new(
                                &here,
                                "a literal secret is not imported (it is not shown here); put it in an environment variable and reference it as {\"env\": \"NAME\"}",
                            ));
                            dropped.push(key.clone());
                        }
                    },
                    None => take_literal_secrets(child, &here, r),
                }
            }
            for key in dropped {
                map.remove(&key);
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter_mut().enumerate() {
                take_literal_secrets(child, &format!("{path}[{i}]"), r);
            }
        }
        _ => {}
    }
}

/// A list item that must be an object with a string `id` (an agent, a
/// job); anything else is skipped with a problem line.
pub(super) fn object_with_id<'a>(
    item: &'a Value,
    path: &str,
    what: &str,
    r: &mut ImportReport,
) -> Option<(&'a Map<String, Value>, &'a str)> {
    let Some(obj) = item.as_object() else {
        r.problems
            .push(Problem::new(path, "not an object; skipped"));
        return None;
    };
    let Some(id) = obj.get("id").and_then(Value::as_str) else {
        r.problems.push(Problem::new(
            format!("{path}.id"),
            format!("{what} without an id; skipped"),
        ));
        return None;
    };
    Some((obj, id))
}

/// `${NAME}` → `{"env": "NAME"}`.
pub(super) fn env_ref(value: &str) -> Option<Value> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    Some(json!({ "env": name }))
}

/// Built-in in OpenClaw, so never declared: create it from the refs that use it.
fn synthesize_codex_provider(out: &mut Map<String, Value>, r: &mut ImportReport) {
    let mut used: Vec<String> = Vec::new();
    let agents = out.get("agents").cloned().unwrap_or_default();
    let chains = std::iter::once(agents.get("defaults").cloned().unwrap_or_default()).chain(
        agents
            .get("entries")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|e| e.values().cloned()),
    );
    for a in chains {
        let model = a.get("model").cloned().unwrap_or_default();
        let refs = model.get("primary").into_iter().chain(
            model
                .get("fallbacks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for m in refs.filter_map(Value::as_str) {
            if let Some(name) = m.strip_prefix("openai-codex/") {
                if !used.iter().any(|u| u == name) {
                    used.push(name.to_owned());
                }
            }
        }
    }
    let providers = out.entry("providers").or_insert_with(|| json!({}));
    if let Some(models) = providers
        .get_mut("openai-codex")
        .and_then(|p| p.get_mut("models"))
        .and_then(Value::as_array_mut)
    {
        // Declared explicitly: make sure the chains' models are listed.
        let listed: Vec<String> = models
            .iter()
            .filter_map(|m| m.as_str().or_else(|| m.get("id").and_then(Value::as_str)))
            .map(str::to_owned)
            .collect();
        for m in used {
            if !listed.contains(&m) {
                models.push(json!(m));
            }
        }
        return;
    }
    if used.is_empty() {
        return;
    }
    r.notes.push(Problem::new(
        "providers.openai-codex",
        format!(
            "OpenClaw's built-in Codex provider: created with the models the chains use ({})",
            used.join(", ")
        ),
    ));
    providers["openai-codex"] = json!({"kind": "codex", "family": "codex", "models": used});
}

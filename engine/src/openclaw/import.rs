//! `openclaw.json` (+ cron files) → Switchyard config, with a report.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

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
    /// Keys Switchyard does not interpret; kept in the config, listed here.
    pub unknown_keys: Vec<String>,
    /// Things that needed translating (`${ENV}` refs, `openai/<m>` on the Codex
    /// runtime, synthesized providers), one line each.
    pub notes: Vec<Problem>,
    /// What OpenClaw accepts but cannot work (duplicate ids, secrets given
    /// literally, unknown providers): the operator must fix these.
    pub problems: Vec<Problem>,
    /// Run state from `jobs-state.json`, shown as imported (a stuck
    /// `runningAtMs`, a `consecutiveErrors` streak).
    pub job_state: Vec<JobState>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub consecutive_errors: u64,
}

/// Keys of an agent that Switchyard reads; everything else is kept as is.
const AGENT_KEYS: &[&str] = &[
    "id",
    "name",
    "model",
    "embeddedHarness",
    "workspace",
    "systemPrompt",
    "models",
];
const PROVIDER_KEYS: &[&str] = &[
    "baseUrl",
    "apiKey",
    "api",
    "models",
    "agentRuntime",
    "scripts",
];

/// `api` value Switchyard writes for its built-in `sim` providers.
pub(super) const SIM_API: &str = "switchyard-sim";

/// Imports `openclaw.json` text, and optionally the cron files' text.
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

    let codex_runtime = codex_runtime_refs(&root);
    out.insert("providers".into(), Value::Object(providers(&root, &mut r)));
    out.insert("agents".into(), agents(&root, &codex_runtime, &mut r));
    for (key, value) in &root {
        if key != "models" && key != "agents" {
            r.unknown_keys.push(key.clone());
            out.insert(key.clone(), value.clone());
        }
    }
    if let Some(jobs) = jobs {
        out.insert("cron".into(), cron(jobs, &mut r)?);
    }
    if let Some(state) = jobs_state {
        r.job_state = job_state(state)?;
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

/// `${NAME}` → `{"env": "NAME"}`.
fn env_ref(value: &str) -> Option<Value> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    Some(json!({ "env": name }))
}

fn runtime_id(v: Option<&Value>) -> Option<&str> {
    v?.get("agentRuntime")?.get("id")?.as_str()
}

/// Model refs (and providers, as `p/*`) whose runtime is Codex in the newer
/// shape: `models.providers.<p>.agentRuntime`, `agents.defaults.models[ref]`,
/// `agents.entries.<id>.models[ref]`.
fn codex_runtime_refs(root: &Map<String, Value>) -> Vec<String> {
    let mut refs = Vec::new();
    if let Some(providers) = root
        .get("models")
        .and_then(|m| m.get("providers"))
        .and_then(Value::as_object)
    {
        for (p, v) in providers {
            if runtime_id(Some(v)) == Some("codex") {
                refs.push(format!("{p}/*"));
            }
        }
    }
    let agents = root.get("agents");
    let mut model_maps: Vec<&Map<String, Value>> = Vec::new();
    if let Some(m) = agents
        .and_then(|a| a.get("defaults"))
        .and_then(|d| d.get("models"))
        .and_then(Value::as_object)
    {
        model_maps.push(m);
    }
    if let Some(entries) = agents
        .and_then(|a| a.get("entries"))
        .and_then(Value::as_object)
    {
        model_maps.extend(
            entries
                .values()
                .filter_map(|e| e.get("models"))
                .filter_map(Value::as_object),
        );
    }
    for map in model_maps {
        for (r, v) in map {
            if runtime_id(Some(v)) == Some("codex") {
                refs.push(r.clone());
            }
        }
    }
    refs
}

fn is_codex_runtime(model: &str, codex_refs: &[String]) -> bool {
    let provider = model.split('/').next().unwrap_or_default();
    codex_refs
        .iter()
        .any(|r| r == model || *r == format!("{provider}/*"))
}

/// OpenClaw's migration rewrites `openai-codex/<m>` to `openai/<m>` with the
/// Codex runtime; map that back to the codex family.
fn model_ref(model: &str, codex_refs: &[String], path: &str, r: &mut ImportReport) -> String {
    if let Some(m) = model.strip_prefix("openai/") {
        if is_codex_runtime(model, codex_refs) {
            let mapped = format!("openai-codex/{m}");
            r.notes.push(Problem::new(
                path,
                format!(
                    "`{model}` runs on the Codex runtime: imported as `{mapped}` (codex family)"
                ),
            ));
            return mapped;
        }
    }
    model.to_owned()
}

fn providers(root: &Map<String, Value>, r: &mut ImportReport) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(providers) = root
        .get("models")
        .and_then(|m| m.get("providers"))
        .and_then(Value::as_object)
    else {
        return out;
    };
    if let Some(models) = root.get("models").and_then(Value::as_object) {
        for key in models.keys().filter(|k| *k != "providers") {
            r.unknown_keys.push(format!("models.{key}"));
        }
    }
    for (id, p) in providers {
        let path = format!("models.providers.{id}");
        let mut q = Map::new();
        // `openai` on the Codex runtime is handled per ref (see `model_ref`).
        let codex =
            id == "openai-codex" || (runtime_id(Some(p)) == Some("codex") && id != "openai");
        let kind = match (codex, p.get("api").and_then(Value::as_str)) {
            (true, _) => "codex",
            (false, Some("openai-responses")) => "openai-responses",
            (false, Some(SIM_API)) => "sim",
            _ => "openai-chat",
        };
        q.insert("kind".into(), json!(kind));
        if codex {
            q.insert("family".into(), json!("codex"));
        }
        if let Some(url) = p.get("baseUrl") {
            q.insert("baseUrl".into(), url.clone());
        }
        match p.get("apiKey") {
            Some(Value::String(s)) => match env_ref(s) {
                Some(env) => {
                    q.insert("apiKey".into(), env);
                }
                None => r.problems.push(Problem::new(
                    format!("{path}.apiKey"),
                    "a literal API key is not imported (it is not shown here); put it in an environment variable and reference it as {\"env\": \"NAME\"}",
                )),
            },
            Some(obj @ Value::Object(_)) => {
                q.insert("apiKey".into(), obj.clone());
            }
            _ => {}
        }
        let models: Vec<Value> = p
            .get("models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().or_else(|| m.get("id").and_then(Value::as_str)))
            .map(|m| json!(m))
            .collect();
        q.insert("models".into(), Value::Array(models));
        // OpenClaw gives each model its window; Switchyard keeps one per
        // provider: the first one given.
        let window = p
            .get("models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|m| m.get("contextWindow").filter(|w| w.is_u64()));
        if let Some(window) = window {
            q.insert("contextWindow".into(), window.clone());
        }
        if let Some(scripts) = p.get("scripts") {
            q.insert("scripts".into(), scripts.clone());
        }
        for (k, v) in p.as_object().into_iter().flatten() {
            if !PROVIDER_KEYS.contains(&k.as_str()) {
                r.unknown_keys.push(format!("{path}.{k}"));
                q.insert(k.clone(), v.clone());
            }
        }
        out.insert(id.clone(), Value::Object(q));
    }
    out
}

/// `model` may be a string (the primary) or `{primary, fallbacks}`.
fn chain(
    model: Option<&Value>,
    codex_refs: &[String],
    path: &str,
    r: &mut ImportReport,
) -> Option<Value> {
    let (primary, fallbacks) = match model? {
        Value::String(s) => (Some(s.as_str()), None),
        Value::Object(o) => (
            o.get("primary").and_then(Value::as_str),
            o.get("fallbacks").and_then(Value::as_array),
        ),
        _ => return None,
    };
    let mut out = Map::new();
    if let Some(p) = primary {
        out.insert(
            "primary".into(),
            json!(model_ref(p, codex_refs, &format!("{path}.primary"), r)),
        );
    }
    if let Some(f) = fallbacks {
        let list: Vec<Value> = f
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.as_str().map(|s| {
                    json!(model_ref(
                        s,
                        codex_refs,
                        &format!("{path}.fallbacks[{i}]"),
                        r
                    ))
                })
            })
            .collect();
        out.insert("fallbacks".into(), Value::Array(list));
    }
    Some(Value::Object(out))
}

/// `agentRuntime.id` values: `pi` is an alias of `openclaw`, our native engine.
fn runtime_from_id(id: &str) -> Option<&'static str> {
    match id {
        "pi" | "openclaw" => Some("pi"),
        "codex" => Some("codex"),
        "auto" => Some("auto"),
        _ => None,
    }
}

fn harness(v: Option<&Value>, path: &str, r: &mut ImportReport) -> Option<Value> {
    let h = v?.as_object()?;
    let mut out = Map::new();
    if let Some(rt) = h.get("runtime").and_then(Value::as_str) {
        match runtime_from_id(rt) {
            Some(rt) => {
                out.insert("runtime".into(), json!(rt));
            }
            None => r.problems.push(Problem::new(
                format!("{path}.runtime"),
                format!("unknown runtime `{rt}`; allowed: auto, openclaw, pi, codex"),
            )),
        }
    }
    if let Some(fb) = h.get("fallback").and_then(Value::as_str) {
        out.insert("fallback".into(), json!(fb));
    }
    Some(Value::Object(out))
}

/// One agent (or the defaults) in Switchyard's shape.
fn agent(
    a: &Map<String, Value>,
    codex_refs: &[String],
    path: &str,
    r: &mut ImportReport,
) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(name) = a.get("name") {
        out.insert("name".into(), name.clone());
    }
    if let Some(model) = chain(a.get("model"), codex_refs, &format!("{path}.model"), r) {
        out.insert("model".into(), model);
    }
    if let Some(h) = harness(
        a.get("embeddedHarness"),
        &format!("{path}.embeddedHarness"),
        r,
    ) {
        out.insert("embeddedHarness".into(), h);
    }
    for key in ["workspace", "systemPrompt"] {
        if let Some(v) = a.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for (k, v) in a {
        if !AGENT_KEYS.contains(&k.as_str()) {
            r.unknown_keys.push(format!("{path}.{k}"));
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(models) = a.get("models") {
        // Per-model policy (aliases, params, agentRuntime) has no Switchyard
        // equivalent beyond the runtime, which was read above; keep it.
        r.unknown_keys.push(format!("{path}.models"));
        out.insert("models".into(), models.clone());
    }
    out
}

fn agents(root: &Map<String, Value>, codex_refs: &[String], r: &mut ImportReport) -> Value {
    let agents = root
        .get("agents")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut defaults = agents
        .get("defaults")
        .and_then(Value::as_object)
        .map(|d| agent(d, codex_refs, "agents.defaults", r))
        .unwrap_or_default();
    let mut entries = Map::new();
    let (list_key, list) = match (agents.get("list"), agents.get("definitions")) {
        (Some(l), _) => ("list", l.as_array().cloned()),
        (None, Some(d)) => ("definitions", d.as_array().cloned()),
        _ => ("", None),
    };
    if let Some(list) = list {
        r.shape = format!("agents.{list_key}[] (older roster)");
        for (i, a) in list.iter().enumerate() {
            let path = format!("agents.{list_key}[{i}]");
            let Some(obj) = a.as_object() else { continue };
            let Some(id) = obj.get("id").and_then(Value::as_str) else {
                r.problems.push(Problem::new(
                    format!("{path}.id"),
                    "agent without an id; skipped",
                ));
                continue;
            };
            if entries.contains_key(id) {
                r.problems.push(Problem::new(
                    format!("{path}.id"),
                    format!("duplicate agent id `{id}`: OpenClaw lets this through and uses one of them silently; only the first was imported"),
                ));
                continue;
            }
            entries.insert(
                id.to_owned(),
                Value::Object(agent(obj, codex_refs, &path, r)),
            );
        }
    } else if let Some(map) = agents.get("entries").and_then(Value::as_object) {
        r.shape = "agents.entries.<id> (newer roster)".into();
        for (id, a) in map {
            let path = format!("agents.entries.{id}");
            let mut e = agent(
                &a.as_object().cloned().unwrap_or_default(),
                codex_refs,
                &path,
                r,
            );
            // The newer shape sets the runtime per provider/model, not per
            // agent: an agent whose primary runs on Codex gets runtime codex.
            let primary = e
                .get("model")
                .and_then(|m| m.get("primary"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(p) = primary {
                if p.starts_with("openai-codex/") && !e.contains_key("embeddedHarness") {
                    e.insert("embeddedHarness".into(), json!({"runtime": "codex"}));
                }
            }
            entries.insert(id.clone(), Value::Object(e));
        }
        let default_primary = defaults
            .get("model")
            .and_then(|m| m.get("primary"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if default_primary.starts_with("openai-codex/") && !defaults.contains_key("embeddedHarness")
        {
            defaults.insert("embeddedHarness".into(), json!({"runtime": "codex"}));
        }
        r.notes.push(Problem::new(
            "agents",
            "the newer roster has no embeddedHarness.fallback (OpenClaw's migration dropped it): Switchyard's default `pi` applies unless you set one",
        ));
    }
    for key in agents
        .keys()
        .filter(|k| !["defaults", "list", "definitions", "entries"].contains(&k.as_str()))
    {
        r.unknown_keys.push(format!("agents.{key}"));
        defaults.insert(key.clone(), agents[key].clone());
    }
    json!({ "defaults": defaults, "entries": entries })
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
        // Declared explicitly (a Switchyard export does): just make sure the
        // chains' models are listed.
        for m in used {
            if !models.contains(&json!(m)) {
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

fn cron(text: &str, r: &mut ImportReport) -> Result<Value, Error> {
    let file = parse_text(text)?;
    let mut jobs = Vec::new();
    for (i, j) in file
        .get("jobs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("jobs.json jobs[{i}]");
        let s = j.get("schedule").cloned().unwrap_or_default();
        let schedule = match s.get("kind").and_then(Value::as_str) {
            Some("cron") => {
                json!({"kind": "cron", "expr": s.get("expr").or_else(|| s.get("cron")).cloned().unwrap_or_default(), "tz": s.get("tz")})
            }
            Some("every") => {
                json!({"kind": "every", "everyMs": s.get("everyMs").cloned().unwrap_or_default(), "anchorMs": s.get("anchorMs")})
            }
            Some("at") => {
                json!({"kind": "at", "atMs": s.get("atMs").or_else(|| s.get("at")).cloned().unwrap_or_default()})
            }
            other => {
                r.problems.push(Problem::new(
                    format!("{path}.schedule.kind"),
                    format!("unknown schedule kind {other:?}; job skipped"),
                ));
                continue;
            }
        };
        let schedule = strip_nulls(schedule);
        let message = j
            .get("payload")
            .and_then(|p| p.get("message"))
            .cloned()
            .unwrap_or(json!(""));
        let mut job = json!({
            "id": j.get("id"), "name": j.get("name"), "agentId": j.get("agentId"),
            "schedule": schedule, "message": message, "enabled": j.get("enabled").cloned().unwrap_or(json!(true)),
        });
        for key in ["delivery", "timeoutSeconds", "deleteAfterRun"] {
            if let Some(v) = j.get(key) {
                job[key] = v.clone();
            }
        }
        if j.get("state").is_some() {
            r.notes.push(Problem::new(
                format!("{path}.state"),
                "run state is not config: shown in the import report, not stored in the revision",
            ));
        }
        jobs.push(strip_nulls(job));
    }
    Ok(json!({ "jobs": jobs }))
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn job_state(text: &str) -> Result<Vec<JobState>, Error> {
    let file = parse_text(text)?;
    Ok(file
        .get("jobs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(id, j)| {
            let s = j.get("state").unwrap_or(j);
            JobState {
                job_id: id.clone(),
                running_at_ms: s.get("runningAtMs").and_then(Value::as_i64),
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
        })
        .collect())
}

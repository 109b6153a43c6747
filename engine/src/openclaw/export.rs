//! Switchyard config → `openclaw.json` (+ `jobs.json`), in the roster shape
//! the operator picks. OpenClaw refuses keys it does not know, so what only
//! Switchyard has (limits, timeouts, the `sim` provider, alert rules, the
//! Codex app-server settings) is left out, each with a warning; what an
//! import kept is written back where it came from.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::roster::OPENCLAW_SANDBOX;
use crate::config::{Config, Provider, ProviderKind, ToolPolicy, ToolSetting};
use crate::Problem;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// `agents.list[]` with `embeddedHarness` per agent (OpenClaw 2026.4):
    /// can say everything but `fallback: codex`.
    Older,
    /// `agents.entries.<id>` with the runtime per model (OpenClaw 2026.9):
    /// has no fallback; an explicit runtime fails closed, `auto` hands over.
    Newer,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub openclaw: Value,
    /// `jobs.json`, when the config has cron jobs.
    pub jobs: Option<Value>,
    pub warnings: Vec<Problem>,
}

pub fn export(config: &Config, shape: Shape) -> Export {
    let mut w = Vec::new();
    let mut root = Map::new();
    for (k, v) in &config.extra {
        root.insert(k.clone(), v.clone());
    }
    let mut models = root
        .remove("models")
        .and_then(|m| m.as_object().cloned())
        .unwrap_or_default();
    let mut providers_out = models
        .remove("providers")
        .and_then(|p| p.as_object().cloned())
        .unwrap_or_default();
    providers_out.extend(providers(config, &mut w));
    models.insert("providers".into(), Value::Object(providers_out));
    root.insert("models".into(), Value::Object(models));
    root.insert("agents".into(), agents(config, shape, &mut w));

    let mut cron: Map<String, Value> = config.cron.extra.clone().into_iter().collect();
    if let Some(Value::Object(own)) = root.remove("cron") {
        cron.extend(own);
    }
    if !cron.is_empty() {
        root.insert("cron".into(), Value::Object(cron));
    }
    for job in &config.cron.jobs {
        let path = format!("cron.jobs.{}", job.id);
        if job.lane.is_some() {
            w.push(Problem::new(
                format!("{path}.lane"),
                "OpenClaw has no lanes: not exported",
            ));
        }
        if job.missed.is_some() {
            w.push(Problem::new(
                format!("{path}.missed"),
                "OpenClaw's missed-run policy is the global `cron.skipMissedJobs`: not exported",
            ));
        }
    }
    if !config.harnesses.is_unset() {
        w.push(Problem::new(
            "harnesses",
            "Switchyard's Codex app-server settings have no OpenClaw key: not exported",
        ));
    }
    if !config.alerts.channels.is_empty() || !config.alerts.rules.is_empty() {
        w.push(Problem::new(
            "alerts",
            "OpenClaw has no alert rules: channels and rules are not exported",
        ));
    }
    let jobs = (!config.cron.jobs.is_empty()).then(|| super::cron::export(&config.cron.jobs));
    let mut openclaw = Value::Object(root);
    env_refs_as_openclaw(&mut openclaw);
    Export {
        openclaw,
        jobs,
        warnings: w,
    }
}

fn api_of(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::OpenaiChat => Some("openai-completions"),
        ProviderKind::OpenaiResponses => Some("openai-responses"),
        ProviderKind::Ollama => Some("ollama"),
        ProviderKind::AnthropicMessages => Some("anthropic-messages"),
        ProviderKind::Codex | ProviderKind::Sim => None,
    }
}

fn providers(config: &Config, w: &mut Vec<Problem>) -> Map<String, Value> {
    let mut out = Map::new();
    for (id, p) in &config.providers {
        let path = format!("providers.{id}");
        if p.kind == ProviderKind::Sim {
            w.push(Problem::new(
                &path,
                "Switchyard's fault-injecting `sim` provider has no OpenClaw counterpart: not exported (chains still name its models)",
            ));
            continue;
        }
        let Some(base_url) = &p.base_url else {
            // OpenClaw's built-in Codex provider needs no declaration.
            if p.kind != ProviderKind::Codex || id.as_str() != "openai-codex" {
                w.push(Problem::new(
                    &path,
                    "has no baseUrl, which OpenClaw requires: not exported",
                ));
            }
            continue;
        };
        let mut o = Map::new();
        o.insert("baseUrl".into(), json!(base_url));
        if let Some(key) = &p.api_key {
            o.insert("apiKey".into(), json!(format!("${{{}}}", key.env)));
        }
        o.insert(
            "api".into(),
            json!(api_of(p.kind).unwrap_or("openai-responses")),
        );
        if p.is_codex_family() && runtime_of(p).is_none() {
            o.insert("agentRuntime".into(), json!({"id": "codex"}));
        }
        o.insert("models".into(), Value::Array(models(p)));
        if !p.timeouts.eq(&Default::default()) || p.concurrency.is_some() {
            w.push(Problem::new(
                &path,
                "Switchyard's timeouts and concurrency limit have no OpenClaw key: not exported",
            ));
        }
        for (k, v) in &p.extra {
            o.insert(k.clone(), v.clone());
        }
        out.insert(id.to_string(), Value::Object(o));
    }
    out
}

fn runtime_of(p: &Provider) -> Option<&Value> {
    p.extra.get("agentRuntime")
}

/// OpenClaw wants each model as `{id, name, …}`; the window is the model's
/// own or the provider's.
fn models(p: &Provider) -> Vec<Value> {
    p.models
        .iter()
        .map(|m| {
            let mut o = Map::new();
            o.insert("id".into(), json!(m));
            let settings = p.models.settings(m);
            if let Some(s) = settings {
                for (k, v) in &s.extra {
                    o.insert(k.clone(), v.clone());
                }
            }
            o.entry("name").or_insert_with(|| json!(m));
            if let Some(window) = p.window_of(m) {
                o.insert("contextWindow".into(), json!(window));
            }
            Value::Object(o)
        })
        .collect()
}

fn agents(config: &Config, shape: Shape, w: &mut Vec<Problem>) -> Value {
    let value = config.to_json();
    let agents = &value["agents"];
    let mut out: Map<String, Value> = config.agents.extra.clone().into_iter().collect();
    let defaults = agent(&agents["defaults"], shape, "agents.defaults", w);
    out.insert("defaults".into(), Value::Object(defaults));
    let entries = agents["entries"].as_object().cloned().unwrap_or_default();
    match shape {
        Shape::Older => {
            if out.remove("ownership").is_some() {
                w.push(Problem::new(
                    "agents.ownership",
                    "OpenClaw 2026.4 has no roster ownership marker: not exported",
                ));
            }
            let list: Vec<Value> = entries
                .iter()
                .map(|(id, a)| {
                    let mut o = Map::new();
                    o.insert("id".into(), json!(id));
                    o.extend(agent(a, shape, &format!("agents.entries.{id}"), w));
                    Value::Object(o)
                })
                .collect();
            out.insert("list".into(), Value::Array(list));
        }
        Shape::Newer => {
            // 2026.9 refuses a roster of several agents without an owner
            // marker; "explicit" is what its own migration writes.
            if entries.len() > 1 {
                out.entry("ownership").or_insert_with(|| json!("explicit"));
            }
            let map: Map<String, Value> = entries
                .iter()
                .map(|(id, a)| {
                    (
                        id.clone(),
                        Value::Object(agent(a, shape, &format!("agents.entries.{id}"), w)),
                    )
                })
                .collect();
            out.insert("entries".into(), Value::Object(map));
        }
    }
    Value::Object(out)
}

/// One agent or the defaults, spelled for `shape`.
fn agent(a: &Value, shape: Shape, path: &str, w: &mut Vec<Problem>) -> Map<String, Value> {
    let mut a = a.as_object().cloned().unwrap_or_default();
    if let Some(h) = a.remove("embeddedHarness") {
        harness(&mut a, &h, shape, path, w);
    }
    if let Some(prompt) = a.remove("systemPrompt") {
        match shape {
            Shape::Older => {
                a.insert("systemPromptOverride".into(), prompt);
            }
            Shape::Newer => w.push(Problem::new(
                format!("{path}.systemPrompt"),
                "the 2026.9 roster has no per-agent system prompt: not exported",
            )),
        }
    }
    if let Some(tools) = a.remove("tools") {
        match serde_json::from_value::<ToolSetting>(tools) {
            Ok(ToolSetting::Policy(p)) => {
                a.insert("tools".into(), json!(p));
            }
            Ok(ToolSetting::List(list)) => {
                w.push(Problem::new(
                    format!("{path}.tools"),
                    "Switchyard's tool list is written as OpenClaw's `tools.allow` (exec, read, write, ls)",
                ));
                a.insert("tools".into(), json!(ToolPolicy::allowing(&list)));
            }
            Err(_) => {}
        }
    }
    if a.remove("sandbox").is_some() {
        w.push(Problem::new(
            format!("{path}.sandbox"),
            "Switchyard's exec confinement has no OpenClaw key: not exported",
        ));
    }
    if let Some(s) = a.remove(OPENCLAW_SANDBOX) {
        a.insert("sandbox".into(), s);
    }
    if a.remove("limits").is_some() {
        w.push(Problem::new(
            format!("{path}.limits"),
            "Switchyard's run limits have no OpenClaw key: not exported",
        ));
    }
    a
}

/// The harness per shape: 2026.4 has `embeddedHarness`; 2026.9 only a
/// runtime per model (`models[<primary>].agentRuntime.id`), where `codex`
/// fails closed and `auto` hands over to OpenClaw's engine.
fn harness(a: &mut Map<String, Value>, h: &Value, shape: Shape, path: &str, w: &mut Vec<Problem>) {
    let runtime = h.get("runtime").and_then(Value::as_str);
    let fallback = h.get("fallback").and_then(Value::as_str);
    match shape {
        Shape::Older => {
            let mut h = h.as_object().cloned().unwrap_or_default();
            if fallback == Some("codex") {
                w.push(Problem::new(
                    format!("{path}.embeddedHarness.fallback"),
                    "`codex` is Switchyard's own value; OpenClaw accepts only pi/none: written as `none` (no handoff to the native engine, but no supervised restart either)",
                ));
                h.insert("fallback".into(), json!("none"));
            }
            a.insert("embeddedHarness".into(), Value::Object(h));
        }
        Shape::Newer => {
            let id = match (runtime, fallback) {
                (Some("codex"), Some("pi") | None) => {
                    w.push(Problem::new(
                        format!("{path}.embeddedHarness"),
                        "runtime codex with fallback pi is written as `agentRuntime.id: auto` on the primary (Codex where it can, OpenClaw's engine otherwise): 2026.9 has no fallback setting",
                    ));
                    "auto"
                }
                (Some("codex"), Some(_)) => "codex",
                (Some("auto"), _) | (None, _) => "auto",
                (Some(_), _) => "pi",
            };
            let Some(primary) = a
                .get("model")
                .and_then(|m| m.get("primary"))
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                if runtime.is_some() || fallback.is_some() {
                    w.push(Problem::new(
                        format!("{path}.embeddedHarness"),
                        "2026.9 sets the runtime per model and this agent names no primary of its own: the defaults' runtime applies",
                    ));
                }
                return;
            };
            let models = a.entry("models").or_insert_with(|| json!({}));
            if let Some(models) = models.as_object_mut() {
                let entry = models.entry(primary).or_insert_with(|| json!({}));
                entry["agentRuntime"] = json!({ "id": id });
            }
        }
    }
}

/// The import turned OpenClaw's `${NAME}` into `{"env": NAME}` wherever a
/// secret sat in a kept key (`channels.telegram.botToken`, a kept
/// provider's `apiKey`); OpenClaw reads only its own spelling.
fn env_refs_as_openclaw(value: &mut Value) {
    match value {
        Value::Object(o) => {
            if let (1, Some(Value::String(name))) = (o.len(), o.get("env")) {
                *value = json!(format!("${{{name}}}"));
                return;
            }
            o.values_mut().for_each(env_refs_as_openclaw);
        }
        Value::Array(list) => list.iter_mut().for_each(env_refs_as_openclaw),
        _ => {}
    }
}

//! Switchyard config → `openclaw.json` (+ `jobs.json`), in the roster shape
//! the operator picks, with a warning for everything that shape cannot say.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::{Config, HarnessFallback, ProviderKind, Schedule};
use crate::Problem;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// `agents.list[]` with `embeddedHarness` per agent: can say everything
    /// but `fallback: codex`.
    Older,
    /// `agents.entries.<id>` with the runtime per provider: has no
    /// `embeddedHarness.fallback` at all.
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
    let mut warnings = Vec::new();
    let mut root = Map::new();
    root.insert("models".into(), json!({ "providers": providers(config) }));

    let value = config.to_json();
    let agents = &value["agents"];
    let defaults = harness_for(
        agents["defaults"].clone(),
        shape,
        "agents.defaults",
        &mut warnings,
    );
    let entries = agents["entries"].as_object().cloned().unwrap_or_default();
    let agents_out = match shape {
        Shape::Older => {
            let list: Vec<Value> = entries
                .into_iter()
                .map(|(id, a)| {
                    let mut a =
                        harness_for(a, shape, &format!("agents.entries.{id}"), &mut warnings);
                    a.insert("id".into(), json!(id));
                    Value::Object(a)
                })
                .collect();
            json!({ "defaults": defaults, "list": list })
        }
        Shape::Newer => {
            let entries: Map<String, Value> = entries
                .into_iter()
                .map(|(id, a)| {
                    let a = harness_for(a, shape, &format!("agents.entries.{id}"), &mut warnings);
                    (id, Value::Object(a))
                })
                .collect();
            json!({ "defaults": defaults, "entries": entries })
        }
    };
    root.insert("agents".into(), agents_out);
    for (k, v) in &config.extra {
        root.insert(k.clone(), v.clone());
    }
    if !config.harnesses.is_unset() {
        // Kept so a round trip through OpenClaw's file loses nothing; the
        // import passes unknown top-level keys through.
        root.insert(
            "harnesses".into(),
            serde_json::to_value(&config.harnesses).unwrap_or_default(),
        );
        warnings.push(Problem::new(
            "harnesses",
            "Switchyard's Codex app-server settings are exported as a top-level `harnesses` key, which OpenClaw does not read",
        ));
    }
    if !config.alerts.channels.is_empty() || !config.alerts.rules.is_empty() {
        warnings.push(Problem::new(
            "alerts",
            "OpenClaw has no alert rules: channels and rules are not exported",
        ));
    }
    let jobs = (!config.cron.jobs.is_empty()).then(|| jobs(config));
    Export {
        openclaw: Value::Object(root),
        jobs,
        warnings,
    }
}

fn providers(config: &Config) -> Map<String, Value> {
    config
        .providers
        .iter()
        .map(|(id, p)| {
            let mut o = Map::new();
            if let Some(url) = &p.base_url {
                o.insert("baseUrl".into(), json!(url));
            }
            if let Some(key) = &p.api_key {
                o.insert("apiKey".into(), json!(format!("${{{}}}", key.env)));
            }
            match p.kind {
                ProviderKind::OpenaiResponses => {
                    o.insert("api".into(), json!("openai-responses"));
                }
                ProviderKind::OpenaiChat => {
                    o.insert("api".into(), json!("openai-completions"));
                }
                ProviderKind::Sim => {
                    o.insert("api".into(), json!(super::import::SIM_API));
                    if !p.scripts.is_empty() {
                        o.insert("scripts".into(), json!(p.scripts));
                    }
                }
                ProviderKind::Codex => {}
                ProviderKind::Ollama => {
                    o.insert("api".into(), json!("ollama"));
                }
                ProviderKind::AnthropicMessages => {
                    o.insert("api".into(), json!("anthropic-messages"));
                }
            }
            if p.is_codex_family() {
                o.insert("agentRuntime".into(), json!({"id": "codex"}));
            }
            o.insert(
                "models".into(),
                json!(p
                    .models
                    .iter()
                    .map(|m| match p.context_window {
                        Some(window) => json!({"id": m, "contextWindow": window}),
                        None => json!({"id": m}),
                    })
                    .collect::<Vec<_>>()),
            );
            for (k, v) in &p.extra {
                o.insert(k.clone(), v.clone());
            }
            (id.to_string(), Value::Object(o))
        })
        .collect()
}

/// One agent or the defaults: OpenClaw spells the harness per shape.
fn harness_for(
    agent: Value,
    shape: Shape,
    path: &str,
    warnings: &mut Vec<Problem>,
) -> Map<String, Value> {
    let mut a = agent.as_object().cloned().unwrap_or_default();
    let Some(h) = a.get("embeddedHarness").cloned() else {
        return a;
    };
    match shape {
        Shape::Older => {
            if h.get("fallback").and_then(Value::as_str)
                == Some(HarnessFallback::Codex.to_string().as_str())
            {
                warnings.push(Problem::new(
                    format!("{path}.embeddedHarness.fallback"),
                    "`codex` is Switchyard's own value; OpenClaw accepts only pi/none: written as `none` (no handoff to the native engine, but no supervised restart either)",
                ));
                a["embeddedHarness"]["fallback"] = json!("none");
            }
        }
        Shape::Newer => {
            a.remove("embeddedHarness");
            if let Some(fb) = h.get("fallback").and_then(Value::as_str) {
                warnings.push(Problem::new(
                    format!("{path}.embeddedHarness.fallback"),
                    format!("the newer roster cannot express `fallback: {fb}`; OpenClaw will hand over to PI by default"),
                ));
            }
            if let Some(rt) = h.get("runtime").and_then(Value::as_str) {
                warnings.push(Problem::new(
                    format!("{path}.embeddedHarness.runtime"),
                    format!("the newer roster sets the runtime per provider, not per agent: `runtime: {rt}` is expressed only through the providers' agentRuntime"),
                ));
            }
        }
    }
    a
}

fn jobs(config: &Config) -> Value {
    let jobs: Vec<Value> = config
        .cron
        .jobs
        .iter()
        .map(|j| {
            let schedule = match &j.schedule {
                Schedule::Cron { expr, tz } => json!({"kind": "cron", "expr": expr, "tz": tz}),
                Schedule::Every {
                    every_ms,
                    anchor_ms,
                } => json!({"kind": "every", "everyMs": every_ms, "anchorMs": anchor_ms}),
                Schedule::At { at_ms } => json!({"kind": "at", "atMs": at_ms}),
            };
            let mut o = json!({
                "id": j.id, "agentId": j.agent_id, "name": j.name, "enabled": j.enabled,
                "schedule": strip(schedule), "payload": {"kind": "agentTurn", "message": j.message},
                "timeoutSeconds": j.timeout_seconds,
            });
            if j.delete_after_run {
                o["deleteAfterRun"] = json!(true);
            }
            for (k, v) in &j.extra {
                o[k] = v.clone();
            }
            strip(o)
        })
        .collect();
    json!({ "version": 1, "jobs": jobs })
}

fn strip(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

//! `models.providers` ↔ Switchyard providers. The `api` adapter decides the
//! wire; adapters Switchyard does not speak are kept verbatim for export and
//! their models leave the chains, each with a line in the report.

use serde_json::{json, Map, Value};

use super::import::{env_ref, ImportReport};
use crate::Problem;

/// `api` value Switchyard writes for its built-in `sim` providers (never in
/// an export meant for OpenClaw).
pub(super) const SIM_API: &str = "switchyard-sim";

/// Provider keys Switchyard reads; every other key is kept where it was.
const READ: &[&str] = &["baseUrl", "apiKey", "api", "models", "scripts"];

/// OpenClaw's `api` adapter → Switchyard's provider kind.
pub(super) fn kind_of_api(api: &str) -> Option<&'static str> {
    match api {
        "openai-completions" => Some("openai-chat"),
        "openai-responses" => Some("openai-responses"),
        "ollama" => Some("ollama"),
        "anthropic-messages" => Some("anthropic-messages"),
        SIM_API => Some("sim"),
        _ => None,
    }
}

pub(super) fn runtime_id(v: Option<&Value>) -> Option<&str> {
    v?.get("agentRuntime")?.get("id")?.as_str()
}

/// What became of `models.providers`: the Switchyard providers, and the ones
/// kept only for export (their ids, so chains can drop their refs).
pub(super) struct Imported {
    pub providers: Map<String, Value>,
    pub unsupported: Map<String, Value>,
}

pub(super) fn import(providers: &Map<String, Value>, r: &mut ImportReport) -> Imported {
    let mut out = Imported {
        providers: Map::new(),
        unsupported: Map::new(),
    };
    for (id, p) in providers {
        let path = format!("models.providers.{id}");
        let Some(obj) = p.as_object() else {
            r.problems
                .push(Problem::new(&path, "not an object; skipped"));
            continue;
        };
        let api = obj.get("api").and_then(Value::as_str);
        // OpenClaw's built-in Codex provider, or one whose runtime is Codex
        // (`openai` on the Codex runtime is handled per model ref).
        let codex =
            id == "openai-codex" || (runtime_id(Some(p)) == Some("codex") && id != "openai");
        let kind = match (codex, api) {
            (true, _) => "codex",
            (false, None) => {
                r.notes.push(Problem::new(
                    format!("{path}.api"),
                    "no `api` adapter given: imported as an OpenAI chat-completions provider (`openai-completions`)",
                ));
                "openai-chat"
            }
            (false, Some(api)) => match kind_of_api(api) {
                Some(kind) => kind,
                None => {
                    r.problems.push(Problem::new(
                        format!("{path}.api"),
                        format!("Switchyard cannot call `api: {api}`: the provider is kept as written for export, and its models are left out of every chain (listed below)"),
                    ));
                    out.unsupported.insert(id.clone(), p.clone());
                    continue;
                }
            },
        };
        let mut q = Map::new();
        q.insert("kind".into(), json!(kind));
        if codex {
            q.insert("family".into(), json!("codex"));
        }
        if let Some(url) = obj.get("baseUrl") {
            q.insert("baseUrl".into(), url.clone());
        }
        if let Some(key) = obj.get("apiKey") {
            if let Some(key) = api_key(key, &format!("{path}.apiKey"), r) {
                q.insert("apiKey".into(), key);
            }
        }
        q.insert(
            "models".into(),
            Value::Array(models(obj.get("models"), &path, r)),
        );
        if let Some(scripts) = obj.get("scripts") {
            q.insert("scripts".into(), scripts.clone());
        }
        for (k, v) in obj {
            if !READ.contains(&k.as_str()) {
                r.unknown_keys.push(format!("{path}.{k}"));
                q.insert(k.clone(), v.clone());
            }
        }
        out.providers.insert(id.clone(), Value::Object(q));
    }
    out
}

/// `"${NAME}"` or OpenClaw's `{source: "env", id: "NAME"}` → `{"env": NAME}`;
/// a literal or a file/exec/store secret is not imported.
fn api_key(key: &Value, path: &str, r: &mut ImportReport) -> Option<Value> {
    match key {
        Value::String(s) => match env_ref(s) {
            Some(env) => Some(env),
            None => {
                r.problems.push(Problem::new(
                    path,
                    "a literal API key is not imported (it is not shown here); put it in an environment variable and reference it as {\"env\": \"NAME\"}",
                ));
                None
            }
        },
        Value::Object(o) if o.get("source").and_then(Value::as_str) == Some("env") => {
            let name = o.get("id").and_then(Value::as_str).unwrap_or_default();
            r.notes.push(Problem::new(
                path,
                format!("OpenClaw's env SecretRef imported as {{\"env\": \"{name}\"}}"),
            ));
            Some(json!({ "env": name }))
        }
        Value::Object(o) if o.contains_key("env") => Some(key.clone()),
        Value::Object(o) => {
            let source = o.get("source").and_then(Value::as_str).unwrap_or("?");
            r.problems.push(Problem::new(
                path,
                format!("a `{source}` SecretRef is not imported: Switchyard reads secrets only from environment variables; set {{\"env\": \"NAME\"}}"),
            ));
            None
        }
        _ => {
            r.problems.push(Problem::new(
                path,
                "not a string or a SecretRef; not imported",
            ));
            None
        }
    }
}

/// Model entries as OpenClaw writes them (`{id, name, contextWindow, …}` or a
/// bare id): every setting is kept on the model.
fn models(list: Option<&Value>, path: &str, r: &mut ImportReport) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, m) in list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match m {
            Value::String(_) => out.push(m.clone()),
            Value::Object(o) if o.get("id").is_some_and(Value::is_string) => {
                // OpenClaw requires a `name`; one that only repeats the id
                // says nothing (and the export writes it back).
                let mut o = o.clone();
                if o.get("name") == o.get("id") {
                    o.remove("name");
                }
                if o.len() == 1 {
                    out.push(o["id"].clone());
                } else {
                    out.push(Value::Object(o));
                }
            }
            _ => r.problems.push(Problem::new(
                format!("{path}.models[{i}]"),
                "a model without a string `id`; skipped",
            )),
        }
    }
    out
}

/// Whether `model` (a `provider/model` ref) names a provider kept only for
/// export.
pub(super) fn is_unsupported(model: &str, unsupported: &Map<String, Value>) -> bool {
    model
        .split_once('/')
        .is_some_and(|(p, _)| unsupported.contains_key(p))
}

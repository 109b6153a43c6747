//! `agents` ↔ Switchyard agents, in the three roster spellings OpenClaw has
//! used: `agents.list[]` with `embeddedHarness` (2026.4.x), `agents.list[]`
//! with `agentRuntime {id, fallback}` (late 2026.4 – 2026.8) and
//! `agents.entries.<id>` with the runtime per model or provider (2026.9).
//! docs/config.md, "OpenClaw import", says what each becomes and why.

use serde_json::{json, Map, Value};

use super::import::ImportReport;
use super::providers::{is_unsupported, runtime_id};
use crate::Problem;

/// Agent keys Switchyard reads or renames; every other key is kept.
const READ: &[&str] = &[
    "id",
    "name",
    "model",
    "embeddedHarness",
    "agentRuntime",
    "workspace",
    "systemPrompt",
    "systemPromptOverride",
    "tools",
    "sandbox",
];

/// Where OpenClaw's per-agent `sandbox` object is kept: Switchyard's own
/// `sandbox` is how `exec` is confined, a different thing.
pub(super) const OPENCLAW_SANDBOX: &str = "openclawSandbox";

/// What the roster's runtimes are read from (the newer shape).
pub(super) struct RuntimeSources<'a> {
    pub providers: Option<&'a Map<String, Value>>,
    pub defaults_models: Option<&'a Map<String, Value>>,
}

pub(super) struct Roster<'a> {
    pub unsupported: &'a Map<String, Value>,
    pub sources: RuntimeSources<'a>,
}

impl Roster<'_> {
    /// `agents` → `{defaults, entries, …kept keys}`, and the shape's name.
    pub fn import(&self, agents: &Map<String, Value>, r: &mut ImportReport) -> Value {
        let mut out = Map::new();
        let defaults_in = agents.get("defaults").and_then(Value::as_object);
        let mut defaults = defaults_in
            .map(|d| self.agent(d, "agents.defaults", r))
            .unwrap_or_default();
        let mut entries = Map::new();
        // `definitions` is an early spelling of `list`.
        let list = ["list", "definitions"]
            .into_iter()
            .find_map(|k| Some((k, agents.get(k)?.as_array()?)));
        if let Some((key, list)) = list {
            r.shape = if list.iter().any(|a| a.get("agentRuntime").is_some()) {
                format!("agents.{key}[] with agentRuntime (OpenClaw 2026.4–2026.8)")
            } else {
                format!("agents.{key}[] with embeddedHarness (OpenClaw 2026.4)")
            };
            for (i, a) in list.iter().enumerate() {
                let path = format!("agents.{key}[{i}]");
                let Some((obj, id)) = super::import::object_with_id(a, &path, "agent", r) else {
                    continue;
                };
                let id = unique_id(id, &entries, &path, r);
                entries.insert(id, Value::Object(self.agent(obj, &path, r)));
            }
        } else if let Some(map) = agents.get("entries").and_then(Value::as_object) {
            r.shape = "agents.entries.<id> (OpenClaw 2026.9)".into();
            let default_runtime = self.runtime_of(defaults_in, None, "agents.defaults", r);
            if let Some(h) = &default_runtime {
                defaults.insert("embeddedHarness".into(), h.clone());
            }
            for (id, a) in map {
                let path = format!("agents.entries.{id}");
                let obj = a.as_object().cloned().unwrap_or_default();
                let mut e = self.agent(&obj, &path, r);
                // An entry without a model of its own has the defaults'
                // runtime, already read (and reported) once above.
                let own = if obj.contains_key("model") || obj.contains_key("models") {
                    self.runtime_of(Some(&obj), defaults_in, &path, r)
                } else {
                    default_runtime.clone()
                };
                match (own, &default_runtime) {
                    (Some(own), d) if Some(&own) != d.as_ref() => {
                        e.insert("embeddedHarness".into(), own);
                    }
                    // Its primary has no runtime of its own while the
                    // defaults' has: OpenClaw picks per model, which is
                    // what `auto` does.
                    (None, Some(_)) if e.contains_key("model") => {
                        e.insert(
                            "embeddedHarness".into(),
                            json!({"runtime": "auto", "fallback": "pi"}),
                        );
                    }
                    _ => {}
                }
                entries.insert(id.clone(), Value::Object(e));
            }
        }
        for (key, value) in agents {
            if !["defaults", "list", "definitions", "entries"].contains(&key.as_str()) {
                r.unknown_keys.push(format!("agents.{key}"));
                out.insert(key.clone(), value.clone());
            }
        }
        out.insert(
            "defaults".into(),
            Value::Object(std::mem::take(&mut defaults)),
        );
        out.insert("entries".into(), Value::Object(entries));
        Value::Object(out)
    }

    /// One agent (or the defaults) in Switchyard's shape.
    fn agent(
        &self,
        a: &Map<String, Value>,
        path: &str,
        r: &mut ImportReport,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(name) = a.get("name") {
            out.insert("name".into(), name.clone());
        }
        if let Some(model) = self.chain(a.get("model"), &format!("{path}.model"), r) {
            out.insert("model".into(), model);
        }
        if let Some(h) = a.get("embeddedHarness") {
            if let Some(h) = harness(h, false, &format!("{path}.embeddedHarness"), r) {
                out.insert("embeddedHarness".into(), h);
            }
        }
        if let Some(h) = a.get("agentRuntime") {
            if let Some(h) = harness(h, true, &format!("{path}.agentRuntime"), r) {
                out.insert("embeddedHarness".into(), h);
            }
        }
        if let Some(w) = a.get("workspace") {
            out.insert("workspace".into(), w.clone());
        }
        for key in ["systemPrompt", "systemPromptOverride"] {
            if let Some(p) = a.get(key) {
                out.insert("systemPrompt".into(), p.clone());
            }
        }
        match a.get("tools") {
            Some(policy @ Value::Object(_)) => {
                r.notes.push(Problem::new(
                    format!("{path}.tools"),
                    "OpenClaw's tool policy is kept as written and applied to Switchyard's tools (exec, read_file, write_file, list_dir): what it denies stays denied",
                ));
                out.insert("tools".into(), policy.clone());
            }
            Some(other) => {
                out.insert("tools".into(), other.clone());
            }
            None => {}
        }
        match a.get("sandbox") {
            Some(s @ Value::Object(_)) => {
                r.notes.push(Problem::new(
                    format!("{path}.sandbox"),
                    format!("OpenClaw's sandbox settings are kept as `{OPENCLAW_SANDBOX}` and written back on export; Switchyard confines `exec` with its own `sandbox` (default landlock)"),
                ));
                out.insert(OPENCLAW_SANDBOX.into(), s.clone());
            }
            Some(other) => {
                out.insert("sandbox".into(), other.clone());
            }
            None => {}
        }
        for (k, v) in a {
            if !READ.contains(&k.as_str()) {
                r.unknown_keys.push(format!("{path}.{k}"));
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// `model` may be a string (the primary) or `{primary, fallbacks}`.
    fn chain(&self, model: Option<&Value>, path: &str, r: &mut ImportReport) -> Option<Value> {
        let (primary, fallbacks) = match model? {
            Value::String(s) => (Some(s.as_str()), None),
            Value::Object(o) => (
                o.get("primary").and_then(Value::as_str),
                o.get("fallbacks").and_then(Value::as_array),
            ),
            _ => {
                r.problems.push(Problem::new(
                    path,
                    "not a model ref or {primary, fallbacks}; not imported",
                ));
                return None;
            }
        };
        if let Value::Object(o) = model? {
            for k in o.keys().filter(|k| *k != "primary" && *k != "fallbacks") {
                r.problems.push(Problem::new(
                    format!("{path}.{k}"),
                    "Switchyard's chain has only primary and fallbacks: not imported",
                ));
            }
        }
        let mut out = Map::new();
        if let Some(p) = primary {
            let at = format!("{path}.primary");
            if let Some(m) = self.model_ref(p, &at, r) {
                out.insert("primary".into(), json!(m));
            }
        }
        if let Some(f) = fallbacks {
            let list: Vec<Value> = f
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let at = format!("{path}.fallbacks[{i}]");
                    v.as_str()
                        .and_then(|s| self.model_ref(s, &at, r))
                        .map(|m| json!(m))
                })
                .collect();
            out.insert("fallbacks".into(), Value::Array(list));
        }
        Some(Value::Object(out))
    }

    /// OpenClaw's migration rewrites `openai-codex/<m>` to `openai/<m>` with
    /// the Codex runtime; map that back to the codex family. A ref to a
    /// provider Switchyard cannot call leaves the chain, with a line.
    fn model_ref(&self, model: &str, path: &str, r: &mut ImportReport) -> Option<String> {
        if is_unsupported(model, self.unsupported) {
            r.problems.push(Problem::new(
                path,
                format!("`{model}` is served by a provider Switchyard cannot call: left out of the chain"),
            ));
            return None;
        }
        if let Some(m) = model.strip_prefix("openai/") {
            if self.codex_runtime(model) {
                let mapped = format!("openai-codex/{m}");
                r.notes.push(Problem::new(
                    path,
                    format!("`{model}` runs on the Codex runtime: imported as `{mapped}` (codex family)"),
                ));
                return Some(mapped);
            }
        }
        Some(model.to_owned())
    }

    /// Whether a ref runs on Codex anywhere in the file (per provider or
    /// per model in any roster map).
    fn codex_runtime(&self, model: &str) -> bool {
        let provider = model.split('/').next().unwrap_or_default();
        let by_provider = self
            .sources
            .providers
            .and_then(|p| p.get(provider))
            .is_some_and(|p| runtime_id(Some(p)) == Some("codex"));
        let by_model = self
            .sources
            .defaults_models
            .and_then(|m| m.get(model))
            .is_some_and(|m| matches!(runtime_id(Some(m)), Some("codex" | "auto")));
        by_provider || by_model
    }

    /// The newer shape's runtime for an agent: from its primary model, looked
    /// up in the agent's `models`, then the defaults' `models`, then the
    /// provider's `agentRuntime`. OpenClaw 2026.9 has no runtime fallback:
    /// an explicit runtime fails closed (`fallback: none`); only `auto` hands
    /// over to OpenClaw's own engine (`fallback: pi`).
    fn runtime_of(
        &self,
        agent: Option<&Map<String, Value>>,
        defaults: Option<&Map<String, Value>>,
        path: &str,
        r: &mut ImportReport,
    ) -> Option<Value> {
        let primary_of = |a: Option<&Map<String, Value>>| -> Option<String> {
            match a?.get("model")? {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("primary")?.as_str().map(str::to_owned),
                _ => None,
            }
        };
        let primary = primary_of(agent).or_else(|| primary_of(defaults))?;
        let in_map = |a: Option<&Map<String, Value>>| {
            a.and_then(|a| a.get("models"))
                .and_then(|m| m.get(&primary))
                .and_then(|m| runtime_id(Some(m)))
                .map(|id| (id.to_owned(), "models"))
        };
        let provider = primary.split('/').next().unwrap_or_default();
        let (id, from) = in_map(agent)
            .or_else(|| in_map(defaults))
            .or_else(|| {
                self.sources
                    .providers
                    .and_then(|p| p.get(provider))
                    .and_then(|p| runtime_id(Some(p)))
                    .map(|id| (id.to_owned(), "provider"))
            })
            .or_else(|| {
                primary
                    .starts_with("openai-codex/")
                    .then(|| ("codex".to_owned(), "ref"))
            })?;
        let (runtime, fallback) = match id.as_str() {
            "codex" => ("codex", "none"),
            "auto" => ("auto", "pi"),
            "pi" | "openclaw" => return Some(json!({"runtime": "pi"})),
            other => {
                r.problems.push(Problem::new(
                    path,
                    format!("runtime `{other}` (for `{primary}`) is not one Switchyard has (auto, pi, codex): the agent runs on Switchyard's default"),
                ));
                return None;
            }
        };
        let source = match from {
            "models" => format!("`models[\"{primary}\"].agentRuntime.id: {id}`"),
            "provider" => format!("`models.providers.{provider}.agentRuntime.id: {id}`"),
            _ => format!("the `openai-codex/` ref `{primary}`"),
        };
        let why = if fallback == "none" {
            "an explicit runtime fails closed in OpenClaw 2026.9, so Switchyard stops the chain instead of handing over to its native engine"
        } else {
            "`auto` hands over to OpenClaw's own engine when Codex cannot run"
        };
        r.notes.push(Problem::new(
            format!("{path}.embeddedHarness"),
            format!("{source}: imported as runtime {runtime}, fallback {fallback} ({why})"),
        ));
        Some(json!({"runtime": runtime, "fallback": fallback}))
    }
}

/// OpenClaw 2026.9's migration renames a repeated id `<id>-2`, `<id>-3`, …;
/// the import does the same, so importing a file and importing what
/// OpenClaw's doctor made of it give the same fleet.
fn unique_id(id: &str, taken: &Map<String, Value>, path: &str, r: &mut ImportReport) -> String {
    if !taken.contains_key(id) {
        return id.to_owned();
    }
    let renamed = (2..)
        .map(|n| format!("{id}-{n}"))
        .find(|c| !taken.contains_key(c))
        .expect("some suffix is free");
    r.problems.push(Problem::new(
        format!("{path}.id"),
        format!("duplicate agent id `{id}`: imported as `{renamed}` (as OpenClaw's own migration renames it); rename it in the config if another name fits better"),
    ));
    renamed
}

/// `agentRuntime.id` / `embeddedHarness.runtime`: `pi` is an alias of
/// `openclaw`, Switchyard's native engine.
fn runtime_from_id(id: &str) -> Option<&'static str> {
    match id {
        "pi" | "openclaw" => Some("pi"),
        "codex" => Some("codex"),
        "auto" => Some("auto"),
        _ => None,
    }
}

/// `embeddedHarness {runtime, fallback}` (2026.4) or `agentRuntime {id,
/// fallback}` (later 2026.4 – 2026.8, where an explicit runtime defaults to
/// `fallback: none` and `auto` to `pi`).
fn harness(v: &Value, agent_runtime: bool, path: &str, r: &mut ImportReport) -> Option<Value> {
    let h = v.as_object()?;
    let mut out = Map::new();
    let key = if agent_runtime { "id" } else { "runtime" };
    let runtime = h.get(key).and_then(Value::as_str);
    if let Some(rt) = runtime {
        match runtime_from_id(rt) {
            Some(rt) => {
                out.insert("runtime".into(), json!(rt));
            }
            None => r.problems.push(Problem::new(
                format!("{path}.{key}"),
                format!("runtime `{rt}` is not one Switchyard has (auto, openclaw/pi, codex): not imported, the agent runs on Switchyard's default"),
            )),
        }
    }
    match h.get("fallback").and_then(Value::as_str) {
        Some(fb @ ("pi" | "none")) => {
            out.insert("fallback".into(), json!(fb));
        }
        Some("codex") => {
            r.problems.push(Problem::new(
                format!("{path}.fallback"),
                "`codex` is not a value OpenClaw accepts (only pi and none; OpenClaw itself refuses this file): imported as Switchyard's own `codex` (stay on Codex, one supervised restart, never the native engine); set pi or none if you meant OpenClaw's behaviour",
            ));
            out.insert("fallback".into(), json!("codex"));
        }
        Some(other) => r.problems.push(Problem::new(
            format!("{path}.fallback"),
            format!("`{other}` is not a fallback (pi, none): not imported, Switchyard's default `pi` applies"),
        )),
        None if agent_runtime => {
            let fb = if runtime == Some("auto") || runtime.is_none() { "pi" } else { "none" };
            r.notes.push(Problem::new(
                format!("{path}.fallback"),
                format!("not set: OpenClaw's default for runtime `{}` is `{fb}`, imported as such", runtime.unwrap_or("(unset)")),
            ));
            out.insert("fallback".into(), json!(fb));
        }
        None => {}
    }
    for k in h.keys().filter(|k| *k != key && *k != "fallback") {
        r.problems.push(Problem::new(
            format!("{path}.{k}"),
            "not read by Switchyard: not imported",
        ));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

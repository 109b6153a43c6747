//! Validation before anything is stored (DESIGN §6). Everything found is
//! reported at once, each problem at its JSON path; errors block a write,
//! warnings (a secret's env var missing, an unreachable candidate) do not.

use chrono::TimeZone;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

use super::{Config, ModelRef, Reachability, Schedule};
use crate::Problem;

/// The outcome of validating one config.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Per agent: which candidates can serve, in which harness.
    pub reachability: BTreeMap<String, Reachability>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Looks up environment variables; injected so tests need not touch the
/// process environment.
pub trait Env {
    fn is_set(&self, name: &str) -> bool;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn is_set(&self, name: &str) -> bool {
        std::env::var_os(name).is_some_and(|v| !v.is_empty())
    }
}

pub fn validate(config: &Config, env: &dyn Env) -> Report {
    let mut report = Report::default();
    check_providers(config, env, &mut report);
    check_agents(config, &mut report);
    check_jobs(config, &mut report);
    check_alerts(config, env, &mut report);
    check_codex(config, &mut report);
    warn_unconfined_exec(config, &mut report);
    for agent in config.effective_agents() {
        let reach = Reachability::of(config, &agent);
        for w in &reach.warnings {
            report.warnings.push(Problem::new(
                format!("agents.entries.{}", agent.id),
                w.clone(),
            ));
        }
        report.reachability.insert(agent.id.to_string(), reach);
    }
    report
}

/// `sandbox: "none"` is allowed (a host without Landlock needs it) but
/// never silent.
fn warn_unconfined_exec(config: &Config, report: &mut Report) {
    use super::Sandbox;
    let defaults = std::iter::once((
        "agents.defaults.sandbox".to_owned(),
        config.agents.defaults.sandbox,
    ));
    let entries = config
        .agents
        .entries
        .iter()
        .map(|(id, entry)| (format!("agents.entries.{id}.sandbox"), entry.sandbox));
    for (path, sandbox) in defaults.chain(entries) {
        if sandbox == Some(Sandbox::None) {
            report.warnings.push(Problem::new(
                path,
                "exec runs unconfined: commands can write anywhere the server can (and keep \
                 root's powers if it runs as root); use \"landlock\" where the kernel supports it",
            ));
        }
    }
}

fn check_providers(config: &Config, env: &dyn Env, report: &mut Report) {
    for (id, provider) in &config.providers {
        let path = format!("providers.{id}");
        if let Some(key) = &provider.api_key {
            if !env.is_set(&key.env) {
                report.warnings.push(Problem::new(
                    format!("{path}.apiKey.env"),
                    format!("environment variable {} is not set; calls to {id} will fail with auth_missing", key.env),
                ));
            }
        }
        let mut seen = HashSet::new();
        for (i, model) in provider.models.iter().enumerate() {
            if !seen.insert(model) {
                report.errors.push(Problem::new(
                    format!("{path}.models[{i}]"),
                    format!("model `{model}` is listed twice"),
                ));
            }
        }
        use super::ProviderKind::{Codex, Sim};
        if provider.base_url.is_none() && !matches!(provider.kind, Codex | Sim) {
            report.errors.push(Problem::new(
                format!("{path}.baseUrl"),
                "required for this provider kind (only `codex` providers, reached through the Codex harness, and `sim` providers, served in-process, need none)",
            ));
        }
        if !provider.scripts.is_empty() && provider.kind != Sim {
            report.errors.push(Problem::new(
                format!("{path}.scripts"),
                "only `kind: sim` providers run scripts",
            ));
        }
        for (model, script) in &provider.scripts {
            let at = format!("{path}.scripts.{model}");
            if !provider.models.contains(model) {
                report.errors.push(Problem::new(
                    at.clone(),
                    format!("`{model}` is not in {path}.models"),
                ));
            }
            if let Err(e) = script.parse::<crate::sim::provider::Script>() {
                report.errors.push(Problem::new(at, e.to_string()));
            }
        }
    }
}

fn check_codex(config: &Config, report: &mut Report) {
    let codex = &config.harnesses.codex;
    let path = "harnesses.codex";
    if codex.sim.is_some() && codex.command.is_some() {
        report.errors.push(Problem::new(
            format!("{path}.sim"),
            "set either `command` (a real app-server) or `sim` (the stand-in), not both",
        ));
    }
    if let Some(command) = &codex.command {
        if command.first().is_none_or(|p| p.trim().is_empty()) {
            report.errors.push(Problem::new(
                format!("{path}.command"),
                "must name a program, e.g. [\"codex\", \"app-server\"]",
            ));
        }
    }
    if let Some(script) = &codex.sim {
        if let Err(e) = script.parse::<crate::sim::codex::Behaviour>() {
            report.errors.push(Problem::new(format!("{path}.sim"), e));
        }
    }
    for (field, value) in [
        ("handshakeTimeoutMs", codex.handshake_timeout_ms),
        ("requestTimeoutMs", codex.request_timeout_ms),
        ("idleTimeoutMs", codex.idle_timeout_ms),
    ] {
        if value == Some(0) {
            report.errors.push(Problem::new(
                format!("{path}.{field}"),
                "must be at least 1 ms",
            ));
        }
    }
    if let Some(sandbox) = &codex.sandbox {
        const SANDBOXES: [&str; 3] = ["read-only", "workspace-write", "danger-full-access"];
        if !SANDBOXES.contains(&sandbox.as_str()) {
            report.errors.push(Problem::new(
                format!("{path}.sandbox"),
                format!(
                    "unknown sandbox `{sandbox}`; allowed: {}",
                    SANDBOXES.join(", ")
                ),
            ));
        }
    }
}

fn check_ref(config: &Config, r: &ModelRef, path: String, report: &mut Report) {
    match config.providers.get(r.provider().as_str()) {
        None => {
            let known: Vec<&str> = config.providers.keys().map(|p| p.as_str()).collect();
            report.errors.push(Problem::new(
                path,
                format!(
                    "`{r}` names provider `{}`, which is not configured (configured: {})",
                    r.provider(),
                    known.join(", ")
                ),
            ));
        }
        Some(p) if !p.models.iter().any(|m| m == r.model()) => report.errors.push(Problem::new(
            path,
            format!(
                "provider `{}` does not list model `{}` (listed: {})",
                r.provider(),
                r.model(),
                p.models.join(", ")
            ),
        )),
        Some(_) => {}
    }
}

fn check_agents(config: &Config, report: &mut Report) {
    let defaults = &config.agents.defaults;
    let sections = std::iter::once(("agents.defaults".to_owned(), &defaults.model)).chain(
        config
            .agents
            .entries
            .iter()
            .map(|(id, e)| (format!("agents.entries.{id}"), &e.model)),
    );
    for (base, model) in sections {
        if let Some(primary) = &model.primary {
            check_ref(config, primary, format!("{base}.model.primary"), report);
        }
        for (i, f) in model.fallbacks.iter().flatten().enumerate() {
            check_ref(config, f, format!("{base}.model.fallbacks[{i}]"), report);
        }
    }
    for agent in config.effective_agents() {
        let path = format!("agents.entries.{}.model", agent.id);
        match &agent.primary {
            None => report.errors.push(Problem::new(
                format!("{path}.primary"),
                "no primary model: set one on the agent or in agents.defaults.model.primary",
            )),
            Some(primary) => {
                let mut seen = HashSet::from([&primary.value]);
                for (i, f) in agent.fallbacks.value.iter().enumerate() {
                    if !seen.insert(f) {
                        report.warnings.push(Problem::new(
                            format!("{path}.fallbacks[{i}]"),
                            format!("`{f}` appears earlier in the chain; it will be skipped the second time"),
                        ));
                    }
                }
            }
        }
    }
}

fn check_jobs(config: &Config, report: &mut Report) {
    let mut ids = BTreeMap::new();
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    for (i, job) in config.cron.jobs.iter().enumerate() {
        let path = format!("cron.jobs[{i}]");
        if job.id.trim().is_empty() {
            report
                .errors
                .push(Problem::new(format!("{path}.id"), "must not be empty"));
        } else if let Some(first) = ids.insert(job.id.as_str(), i) {
            report.errors.push(Problem::new(
                format!("{path}.id"),
                format!("duplicate job id `{}` (also cron.jobs[{first}])", job.id),
            ));
        }
        if !config.agents.entries.contains_key(job.agent_id.as_str()) {
            report.errors.push(Problem::new(
                format!("{path}.agentId"),
                format!("agent `{}` does not exist", job.agent_id),
            ));
        }
        if job.timeout_seconds == Some(0) {
            report.errors.push(Problem::new(
                format!("{path}.timeoutSeconds"),
                "must be at least 1",
            ));
        }
        match &job.schedule {
            Schedule::Cron { expr, tz } => {
                if let Err(e) = parser.parse(expr) {
                    report.errors.push(Problem::new(
                        format!("{path}.schedule.expr"),
                        format!("invalid cron expression `{expr}`: {e}"),
                    ));
                }
                if let Some(tz) = tz {
                    if tz.parse::<chrono_tz::Tz>().is_err() {
                        report.errors.push(Problem::new(
                            format!("{path}.schedule.tz"),
                            format!(
                                "unknown time zone `{tz}`; use an IANA name such as Europe/Berlin"
                            ),
                        ));
                    }
                }
            }
            Schedule::Every { every_ms, .. } => {
                if *every_ms < 1_000 {
                    report.errors.push(Problem::new(
                        format!("{path}.schedule.everyMs"),
                        "must be at least 1000 (one second)",
                    ));
                }
            }
            Schedule::At { at_ms } => {
                if chrono::Utc.timestamp_millis_opt(*at_ms).single().is_none() {
                    report.errors.push(Problem::new(
                        format!("{path}.schedule.atMs"),
                        "not a valid time",
                    ));
                }
            }
        }
    }
}

fn check_alerts(config: &Config, env: &dyn Env, report: &mut Report) {
    let mut ids = BTreeMap::new();
    for (i, channel) in config.alerts.channels.iter().enumerate() {
        let path = format!("alerts.channels[{i}]");
        if let Some(first) = ids.insert(channel.id.as_str(), i) {
            report.errors.push(Problem::new(
                format!("{path}.id"),
                format!(
                    "duplicate channel id `{}` (also alerts.channels[{first}])",
                    channel.id
                ),
            ));
        }
        for (field, secret) in [("url", &channel.url), ("token", &channel.token)] {
            if let Some(secret) = secret {
                if !env.is_set(&secret.env) {
                    report.warnings.push(Problem::new(
                        format!("{path}.{field}.env"),
                        format!("environment variable {} is not set; alerts to `{}` cannot be delivered", secret.env, channel.id),
                    ));
                }
            }
        }
    }
    let mut rule_ids = HashSet::new();
    for (i, rule) in config.alerts.rules.iter().enumerate() {
        let path = format!("alerts.rules[{i}]");
        if !rule_ids.insert(rule.id.as_str()) {
            report.errors.push(Problem::new(
                format!("{path}.id"),
                format!("duplicate rule id `{}`", rule.id),
            ));
        }
        for (j, channel) in rule.channels.iter().enumerate() {
            if !ids.contains_key(channel.as_str()) {
                report.errors.push(Problem::new(
                    format!("{path}.channels[{j}]"),
                    format!("channel `{channel}` is not defined in alerts.channels"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoEnv;
    impl Env for NoEnv {
        fn is_set(&self, _: &str) -> bool {
            false
        }
    }

    #[test]
    fn the_demo_fleet_is_valid_and_warns_about_what_matters() {
        let config = Config::from_json(&crate::sim::demo::fleet_config()).unwrap();
        let report = validate(&config, &NoEnv);
        assert_eq!(report.errors, []);
        let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert!(warnings.contains(&"agents.entries.qa-engineer: fallback: none — ollama-cloud/glm-5.1 and openrouter/deepseek/deepseek-v3.2 can never run".to_owned()), "{warnings:#?}");
        assert_eq!(report.reachability.len(), 4);
    }

    #[test]
    fn the_codex_harness_settings_are_checked_where_they_are_written() {
        let config = Config::from_json(&serde_json::json!({
            "harnesses": {"codex": {"sim": "spark=explode", "command": [""], "idleTimeoutMs": 0, "sandbox": "yolo"}}
        }))
        .unwrap();
        let report = validate(&config, &NoEnv);
        let errors: Vec<String> = report.errors.iter().map(|p| p.to_string()).collect();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(
            errors[0].starts_with("harnesses.codex.sim: set either `command`"),
            "{errors:#?}"
        );
        assert!(
            errors[1].starts_with("harnesses.codex.command: must name a program"),
            "{errors:#?}"
        );
        assert!(
            errors[2].starts_with("harnesses.codex.sim: unknown behaviour `explode`"),
            "{errors:#?}"
        );
        assert!(
            errors[3].starts_with("harnesses.codex.idleTimeoutMs: must be at least 1 ms"),
            "{errors:#?}"
        );
        assert!(
            errors[4].starts_with("harnesses.codex.sandbox: unknown sandbox `yolo`"),
            "{errors:#?}"
        );
        let typo =
            Config::from_json(&serde_json::json!({"harnesses": {"codex": {"comand": ["x"]}}}));
        assert!(typo.unwrap_err().to_string().contains("harnesses.codex"));
    }

    #[test]
    fn sim_scripts_are_checked_where_they_are_written() {
        let config = Config::from_json(&serde_json::json!({
            "providers": {
                "sim": {"kind": "sim", "models": ["a"], "scripts": {"a": "server_error*2, okk", "b": "ok"}},
                "real": {"kind": "openai-chat", "baseUrl": "http://x", "models": ["m"], "scripts": {"m": "ok"}}
            }
        }))
        .unwrap();
        let errors: Vec<String> = validate(&config, &NoEnv)
            .errors
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors[0].starts_with("providers.real.scripts: only `kind: sim`"),
            "{errors:#?}"
        );
        assert!(
            errors[1].starts_with("providers.sim.scripts.a: unknown step \"okk\""),
            "{errors:#?}"
        );
        assert!(
            errors[2].starts_with("providers.sim.scripts.b: `b` is not in providers.sim.models"),
            "{errors:#?}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let config = Config::from_json(&json!({
            "providers": {"openrouter": {"kind": "openai-chat", "baseUrl": "http://x", "models": ["a", "a"]}},
            "agents": {
                "defaults": {"model": {"fallbacks": ["openrouter/b", "ollama-cloud/glm-5.1"]}},
                "entries": {"builder": {}}
            },
            "cron": {"jobs": [
                {"id": "j1", "agentId": "builder", "message": "go", "schedule": {"kind": "cron", "expr": "61 * * * *", "tz": "Mars/Olympus"}},
                {"id": "j1", "agentId": "ghost", "message": "go", "schedule": {"kind": "every", "everyMs": 10}}
            ]},
            "alerts": {
                "channels": [{"id": "ops", "kind": "telegram", "token": {"env": "TG_TOKEN"}, "chatId": "1"}],
                "rules": [{"id": "streak", "kind": "consecutive_failures", "threshold": 3, "channels": ["ops", "pager"]}]
            }
        }))
        .unwrap();
        let report = validate(&config, &NoEnv);
        let paths: Vec<&str> = report.errors.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "providers.openrouter.models[1]",
                "agents.defaults.model.fallbacks[0]",
                "agents.defaults.model.fallbacks[1]",
                "agents.entries.builder.model.primary",
                "cron.jobs[0].schedule.expr",
                "cron.jobs[0].schedule.tz",
                "cron.jobs[1].id",
                "cron.jobs[1].agentId",
                "cron.jobs[1].schedule.everyMs",
                "alerts.rules[0].channels[1]",
            ],
            "{:#?}",
            report.errors
        );
        assert!(report.errors[2]
            .message
            .contains("provider `ollama-cloud`, which is not configured"));
    }
}

//! Validation before anything is stored (DESIGN §6). Everything found is
//! reported at once, each problem at its JSON path; errors block a write,
//! warnings (a secret's env var missing, an unreachable candidate) do not.
//! What the server allows (secrets, base URLs, the Codex command,
//! workspaces) comes from its [`ServerPolicy`]; the bounds on numbers and
//! identifiers from [`super::limits`].

use chrono::TimeZone;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

use super::limits::{self, check_range, show};
use super::policy::ServerPolicy;
use super::{Config, Limits, ModelRef, Reachability, Schedule, Timeouts};
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

pub fn validate(config: &Config, env: &dyn Env, policy: &ServerPolicy) -> Report {
    let mut report = Report::default();
    check_openclaw_file(config, &mut report);
    check_providers(config, env, policy, &mut report);
    check_agents(config, policy, &mut report);
    check_jobs(config, &mut report);
    check_alerts(config, env, policy, &mut report);
    check_codex(config, policy, &mut report);
    check_literal_secrets(config, &mut report);
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

/// An `openclaw.json` handed to the validator (or saved) instead of being
/// imported: its providers sit under `models.providers` and its roster in
/// `agents.list`, which Switchyard would keep as unknown keys, so every
/// chain would name "a provider that is not configured". Say what it is.
fn check_openclaw_file(config: &Config, report: &mut Report) {
    let providers_elsewhere = config
        .extra
        .get("models")
        .is_some_and(|m| m.get("providers").is_some());
    let roster_elsewhere = ["list", "definitions"]
        .iter()
        .any(|k| config.agents.extra.contains_key(*k));
    if config.providers.is_empty() && (providers_elsewhere || roster_elsewhere) {
        report.errors.push(Problem::new(
            "(root)",
            "this is an OpenClaw openclaw.json (providers under models.providers, agents under agents.list or agents.entries), not a Switchyard config: import it with `switchyard config import --from openclaw <file> [--cron-dir <dir>]`, which translates it and reports what it kept",
        ));
    }
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

/// Every number is bounded: a value past what any deployment needs is a
/// typo or an attack, and unbounded ones overflowed deadline arithmetic.
fn number(report: &mut Report, path: String, value: Option<u64>, min: u64, max: u64, unit: &str) {
    if let Some(value) = value {
        if let Err(e) = check_range(value, min, max, unit) {
            report.errors.push(Problem::new(path, e));
        }
    }
}

fn check_timeouts(path: &str, t: &Timeouts, report: &mut Report) {
    let max = limits::MAX_TIMEOUT_MS;
    for (field, value) in [
        ("connectMs", t.connect_ms),
        ("firstByteMs", t.first_byte_ms),
        ("idleMs", t.idle_ms),
        ("totalMs", t.total_ms),
    ] {
        number(
            report,
            format!("{path}.timeouts.{field}"),
            value,
            1,
            max,
            " ms (1 day)",
        );
    }
}

fn check_limits(path: &str, l: &Limits, report: &mut Report) {
    number(
        report,
        format!("{path}.limits.maxTurns"),
        l.max_turns.map(u64::from),
        1,
        limits::MAX_TURNS,
        "",
    );
    number(
        report,
        format!("{path}.limits.maxTokens"),
        l.max_tokens,
        1,
        limits::MAX_TOKENS,
        " tokens",
    );
    number(
        report,
        format!("{path}.limits.wallTimeSeconds"),
        l.wall_time_seconds,
        1,
        limits::MAX_SECONDS,
        " seconds (7 days)",
    );
}

/// An `{env}` reference a component will read: only names the server
/// declared; a declared one that is unset is a warning (`then`).
fn check_secret(
    path: String,
    name: &str,
    env: &dyn Env,
    policy: &ServerPolicy,
    then: impl FnOnce() -> String,
    report: &mut Report,
) {
    if let Err(e) = policy.check_secret_env(name) {
        report.errors.push(Problem::new(path, e));
    } else if !env.is_set(name) {
        report.warnings.push(Problem::new(path, then()));
    }
}

fn check_providers(config: &Config, env: &dyn Env, policy: &ServerPolicy, report: &mut Report) {
    for (id, provider) in &config.providers {
        let path = format!("providers.{id}");
        if let Some(key) = &provider.api_key {
            check_secret(
                format!("{path}.apiKey.env"),
                &key.env,
                env,
                policy,
                || {
                    format!("environment variable {} is not set; calls to {id} will fail with auth_missing", key.env)
                },
                report,
            );
        }
        if let Some(url) = &provider.base_url {
            if let Err(e) = policy.check_base_url(url) {
                report.errors.push(Problem::new(
                    format!("{path}.baseUrl"),
                    format!("the base URL {e}"),
                ));
            }
        }
        check_timeouts(&path, &provider.timeouts, report);
        number(
            report,
            format!("{path}.concurrency"),
            provider.concurrency.map(u64::from),
            1,
            limits::MAX_CONCURRENCY,
            " calls",
        );
        number(
            report,
            format!("{path}.contextWindow"),
            provider.context_window,
            1,
            limits::MAX_TOKENS,
            " tokens",
        );
        let mut seen = HashSet::new();
        for (i, model) in provider.models.iter().enumerate() {
            if let Err(e) = limits::check_model_name(model) {
                report
                    .errors
                    .push(Problem::new(format!("{path}.models[{i}]"), e));
            } else if !seen.insert(model) {
                report.errors.push(Problem::new(
                    format!("{path}.models[{i}]"),
                    format!("model `{model}` is listed twice"),
                ));
            }
            number(
                report,
                format!("{path}.models[{i}].contextWindow"),
                provider
                    .models
                    .settings(model)
                    .and_then(|s| s.context_window),
                1,
                limits::MAX_TOKENS,
                " tokens",
            );
        }
        use super::ProviderKind::{Codex, Sim};
        if provider.base_url.is_none() && !matches!(provider.kind, Codex | Sim) {
            report.errors.push(Problem::new(
                format!("{path}.baseUrl"),
                "required for this provider kind (only `codex` providers, reached through the Codex harness, and `sim` providers, served in-process, need none)",
            ));
        }
        if let Some(wire) = provider.wire {
            if provider.kind != Sim {
                report.errors.push(Problem::new(
                    format!("{path}.wire"),
                    "only `kind: sim` providers take a wire (the others speak their kind)",
                ));
            } else if !super::ProviderKind::WIRES.contains(&wire) {
                report.errors.push(Problem::new(
                    format!("{path}.wire"),
                    "must be one of openai-chat, openai-responses, ollama, anthropic-messages",
                ));
            }
        }
        if !provider.scripts.is_empty() && provider.kind != Sim {
            report.errors.push(Problem::new(
                format!("{path}.scripts"),
                "only `kind: sim` providers run scripts",
            ));
        }
        for (model, script) in &provider.scripts {
            let at = format!("{path}.scripts.{}", show(model));
            if !provider.models.contains(model) {
                report.errors.push(Problem::new(
                    at.clone(),
                    format!("`{}` is not in {path}.models", show(model)),
                ));
            }
            if let Err(e) = script.parse::<crate::sim::provider::Script>() {
                report.errors.push(Problem::new(at, e.to_string()));
            }
        }
    }
}

fn check_codex(config: &Config, policy: &ServerPolicy, report: &mut Report) {
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
        } else if let Err(e) = policy.check_codex_command(command) {
            // What runs on the host is the operator's choice, never the
            // config API's: a config can only pick an allowed command.
            report
                .errors
                .push(Problem::new(format!("{path}.command"), e));
        }
    }
    if let Some(home) = &codex.home {
        if let Err(e) = policy.check_workspace(home) {
            report.errors.push(Problem::new(format!("{path}.home"), e));
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
        number(
            report,
            format!("{path}.{field}"),
            value,
            1,
            limits::MAX_TIMEOUT_MS,
            " ms (1 day)",
        );
    }
    if let Some(sandbox) = &codex.sandbox {
        const SANDBOXES: [&str; 3] = ["read-only", "workspace-write", "danger-full-access"];
        if !SANDBOXES.contains(&sandbox.as_str()) {
            report.errors.push(Problem::new(
                format!("{path}.sandbox"),
                format!(
                    "unknown sandbox `{}`; allowed: {}",
                    show(sandbox),
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

fn check_agents(config: &Config, policy: &ServerPolicy, report: &mut Report) {
    let defaults = &config.agents.defaults;
    let settings = std::iter::once((
        "agents.defaults".to_owned(),
        None,
        &defaults.workspace,
        &defaults.limits,
    ))
    .chain(config.agents.entries.iter().map(|(id, e)| {
        (
            format!("agents.entries.{id}"),
            e.name.as_ref(),
            &e.workspace,
            &e.limits,
        )
    }));
    for (base, name, workspace, agent_limits) in settings {
        if let Some(name) = name {
            if let Err(e) = limits::check_line(name, limits::MAX_NAME_LEN) {
                report.errors.push(Problem::new(format!("{base}.name"), e));
            }
        }
        if let Some(workspace) = workspace {
            if let Err(e) = policy.check_workspace(workspace) {
                report
                    .errors
                    .push(Problem::new(format!("{base}.workspace"), e));
            }
        }
        check_limits(&base, agent_limits, report);
    }
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
        // Job ids become run ids and log fields: plain characters only.
        if let Err(e) = limits::check_ident(&job.id) {
            report.errors.push(Problem::new(format!("{path}.id"), e));
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
        if let Some(name) = &job.name {
            if let Err(e) = limits::check_line(name, limits::MAX_NAME_LEN) {
                report.errors.push(Problem::new(format!("{path}.name"), e));
            }
        }
        if let Some(lane) = &job.lane {
            if let Err(e) = limits::check_ident(lane) {
                report.errors.push(Problem::new(format!("{path}.lane"), e));
            }
        }
        number(
            report,
            format!("{path}.timeoutSeconds"),
            job.timeout_seconds,
            1,
            limits::MAX_SECONDS,
            " seconds (7 days)",
        );
        match &job.schedule {
            Schedule::Cron { expr, tz } => {
                if let Err(e) = parser.parse(expr) {
                    report.errors.push(Problem::new(
                        format!("{path}.schedule.expr"),
                        format!("invalid cron expression `{}`: {e}", show(expr)),
                    ));
                }
                if let Some(tz) = tz {
                    if tz.parse::<chrono_tz::Tz>().is_err() {
                        report.errors.push(Problem::new(
                            format!("{path}.schedule.tz"),
                            format!(
                                "unknown time zone `{}`; use an IANA name such as Europe/Berlin",
                                show(tz)
                            ),
                        ));
                    }
                }
            }
            Schedule::Every {
                every_ms,
                anchor_ms,
            } => {
                if *every_ms < 1_000 {
                    report.errors.push(Problem::new(
                        format!("{path}.schedule.everyMs"),
                        "must be at least 1000 (one second)",
                    ));
                } else {
                    number(
                        report,
                        format!("{path}.schedule.everyMs"),
                        Some(*every_ms),
                        1_000,
                        limits::MAX_EVERY_MS,
                        " ms (a year)",
                    );
                }
                if let Some(anchor) = anchor_ms {
                    check_time(report, format!("{path}.schedule.anchorMs"), *anchor);
                }
            }
            Schedule::At { at_ms } => check_time(report, format!("{path}.schedule.atMs"), *at_ms),
        }
    }
}

/// A Unix-milliseconds instant a schedule computes with.
fn check_time(report: &mut Report, path: String, ms: i64) {
    let valid = (0..=limits::MAX_TIME_MS).contains(&ms)
        && chrono::Utc.timestamp_millis_opt(ms).single().is_some();
    if !valid {
        report.errors.push(Problem::new(
            path,
            format!(
                "not a valid time: Unix milliseconds between 0 and {} (9999-12-31)",
                limits::MAX_TIME_MS
            ),
        ));
    }
}

/// Secrets are `{env}` references everywhere, not only in the fields this
/// version reads: unknown keys are kept verbatim and served back in reads,
/// exports and diffs.
fn check_literal_secrets(config: &Config, report: &mut Report) {
    for path in super::literal_secrets(&config.to_json()) {
        report.errors.push(Problem::new(
            path,
            "a literal secret is not accepted (the value is not shown): put it in an environment variable the server declares (`switchyard serve --secret-env NAME`) and write {\"env\": \"NAME\"}",
        ));
    }
}

fn check_alerts(config: &Config, env: &dyn Env, policy: &ServerPolicy, report: &mut Report) {
    let mut ids = BTreeMap::new();
    for (i, channel) in config.alerts.channels.iter().enumerate() {
        let path = format!("alerts.channels[{i}]");
        if let Err(e) = limits::check_ident(&channel.id) {
            report.errors.push(Problem::new(format!("{path}.id"), e));
        }
        if let Some(chat) = &channel.chat_id {
            if let Err(e) = limits::check_line(chat, limits::MAX_ID_LEN) {
                report
                    .errors
                    .push(Problem::new(format!("{path}.chatId"), e));
            }
        }
        if let Some(url) = &channel.base_url {
            if let Err(e) = policy.check_base_url(url) {
                report.errors.push(Problem::new(
                    format!("{path}.baseUrl"),
                    format!("the base URL {e}"),
                ));
            }
        }
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
                check_secret(
                    format!("{path}.{field}.env"),
                    &secret.env,
                    env,
                    policy,
                    || {
                        format!("environment variable {} is not set; alerts to `{}` cannot be delivered", secret.env, show(&channel.id))
                    },
                    report,
                );
            }
        }
    }
    let mut rule_ids = HashSet::new();
    for (i, rule) in config.alerts.rules.iter().enumerate() {
        let path = format!("alerts.rules[{i}]");
        if let Err(e) = limits::check_ident(&rule.id) {
            report.errors.push(Problem::new(format!("{path}.id"), e));
        } else if !rule_ids.insert(rule.id.as_str()) {
            report.errors.push(Problem::new(
                format!("{path}.id"),
                format!("duplicate rule id `{}`", rule.id),
            ));
        }
        number(
            report,
            format!("{path}.threshold"),
            rule.threshold,
            0,
            limits::MAX_THRESHOLD,
            "",
        );
        for (j, channel) in rule.channels.iter().enumerate() {
            if !ids.contains_key(channel.as_str()) {
                report.errors.push(Problem::new(
                    format!("{path}.channels[{j}]"),
                    format!(
                        "channel `{}` is not defined in alerts.channels",
                        show(channel)
                    ),
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
        let report = validate(&config, &NoEnv, &ServerPolicy::default());
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
        let report = validate(&config, &NoEnv, &ServerPolicy::default());
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
            errors[3]
                .starts_with("harnesses.codex.idleTimeoutMs: must be between 1 and 86400000 ms"),
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

    /// Validates `config` and checks its errors, in order, by their starts.
    fn assert_errors_start_with(config: serde_json::Value, expected: &[&str]) {
        let config = Config::from_json(&config).unwrap();
        let errors: Vec<String> = validate(&config, &NoEnv, &ServerPolicy::default())
            .errors
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, start) in errors.iter().zip(expected) {
            assert!(error.starts_with(start), "{errors:#?}");
        }
    }

    #[test]
    fn sim_scripts_are_checked_where_they_are_written() {
        assert_errors_start_with(
            serde_json::json!({
                "providers": {
                    "sim": {"kind": "sim", "models": ["a"], "scripts": {"a": "server_error*2, okk", "b": "ok"}},
                    "real": {"kind": "openai-chat", "baseUrl": "http://x", "models": ["m"], "scripts": {"m": "ok"}}
                }
            }),
            &[
                "providers.real.scripts: only `kind: sim`",
                "providers.sim.scripts.a: unknown step \"okk\"",
                "providers.sim.scripts.b: `b` is not in providers.sim.models",
            ],
        );
    }

    #[test]
    fn a_sim_wire_is_one_of_the_native_wires_and_only_on_a_sim() {
        assert_errors_start_with(
            serde_json::json!({
                "providers": {
                    "ok": {"kind": "sim", "wire": "anthropic-messages", "models": ["a"]},
                    "codex": {"kind": "sim", "wire": "codex", "models": ["a"]},
                    "real": {"kind": "ollama", "baseUrl": "https://ollama.com", "wire": "ollama", "models": ["m"]},
                    "nourl": {"kind": "anthropic-messages", "models": ["m"]}
                }
            }),
            &[
                "providers.codex.wire: must be one of",
                "providers.nourl.baseUrl: required",
                "providers.real.wire: only `kind: sim`",
            ],
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
        let policy = ServerPolicy::default()
            .with_secret_env(["TG_TOKEN"])
            .unwrap();
        let report = validate(&config, &NoEnv, &policy);
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

    fn errors(config: serde_json::Value, policy: &ServerPolicy) -> Vec<Problem> {
        validate(&Config::from_json(&config).unwrap(), &NoEnv, policy).errors
    }

    fn at<'a>(errors: &'a [Problem], path: &str) -> &'a Problem {
        errors
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no error at {path}: {errors:#?}"))
    }

    /// `u64::MAX` panicked the native engine (`Instant + Duration`) and
    /// wrapped cron deadlines negative; every number now has a range.
    #[test]
    fn every_number_is_bounded_at_its_path() {
        let max = u64::MAX;
        let errors = errors(
            json!({
                "providers": {"p": {"kind": "sim", "models": ["m"], "concurrency": 0, "contextWindow": max,
                                    "timeouts": {"connectMs": max, "firstByteMs": 0, "idleMs": 86_400_001u64, "totalMs": max}}},
                "agents": {
                    "defaults": {"model": {"primary": "p/m"}, "limits": {"maxTurns": 10_001}},
                    "entries": {"qa": {"limits": {"wallTimeSeconds": max, "maxTokens": 10_000_001u64}}}
                },
                "cron": {"jobs": [
                    {"id": "j", "agentId": "qa", "message": "m", "timeoutSeconds": max,
                     "schedule": {"kind": "every", "everyMs": max, "anchorMs": i64::MIN}},
                    {"id": "k", "agentId": "qa", "message": "m", "schedule": {"kind": "at", "atMs": i64::MAX}}
                ]},
                "harnesses": {"codex": {"sim": "ok", "handshakeTimeoutMs": max}},
                "alerts": {"rules": [{"id": "r", "kind": "run_stuck", "threshold": max}]}
            }),
            &ServerPolicy::default(),
        );
        let paths: Vec<&str> = errors.iter().map(|p| p.path.as_str()).collect();
        for path in [
            "providers.p.timeouts.connectMs",
            "providers.p.timeouts.firstByteMs",
            "providers.p.timeouts.idleMs",
            "providers.p.timeouts.totalMs",
            "providers.p.concurrency",
            "providers.p.contextWindow",
            "agents.defaults.limits.maxTurns",
            "agents.entries.qa.limits.maxTokens",
            "agents.entries.qa.limits.wallTimeSeconds",
            "cron.jobs[0].timeoutSeconds",
            "cron.jobs[0].schedule.everyMs",
            "cron.jobs[0].schedule.anchorMs",
            "cron.jobs[1].schedule.atMs",
            "harnesses.codex.handshakeTimeoutMs",
            "alerts.rules[0].threshold",
        ] {
            assert!(paths.contains(&path), "{path} not refused: {errors:#?}");
        }
        assert_eq!(
            at(&errors, "agents.entries.qa.limits.wallTimeSeconds").message,
            "must be between 1 and 604800 seconds (7 days)"
        );
    }

    /// Job ids reach log lines and run ids: a newline or a terminal escape
    /// forged lines and colours.
    #[test]
    fn identifiers_refuse_control_characters_without_echoing_them() {
        let errors = errors(
            json!({
                "providers": {"p": {"kind": "sim", "models": ["m", "bad\nmodel", "x".repeat(129)]}},
                "agents": {"entries": {"qa": {"name": "QA\u{1b}[2J", "model": {"primary": "p/m"}}}},
                "cron": {"jobs": [
                    {"id": "nightly\n2026-01-01T00:00:00Z INFO forged\u{1b}[31m", "agentId": "qa", "message": "m",
                     "name": "x\ny", "lane": "a b", "schedule": {"kind": "every", "everyMs": 60000}}
                ]},
                "alerts": {"channels": [{"id": "ops\n", "kind": "telegram", "chatId": "1\u{1b}"}],
                           "rules": [{"id": "r\u{7}", "kind": "run_stuck"}]}
            }),
            &ServerPolicy::default(),
        );
        for path in [
            "providers.p.models[1]",
            "providers.p.models[2]",
            "agents.entries.qa.name",
            "cron.jobs[0].id",
            "cron.jobs[0].name",
            "cron.jobs[0].lane",
            "alerts.channels[0].id",
            "alerts.channels[0].chatId",
            "alerts.rules[0].id",
        ] {
            at(&errors, path);
        }
        for p in &errors {
            assert!(
                !p.message.contains('\n') && !p.message.contains('\u{1b}'),
                "{p:?}"
            );
        }
        assert!(at(&errors, "cron.jobs[0].id")
            .message
            .contains("not a valid id"));
    }

    /// A literal anywhere under a secret-looking key was stored and served
    /// back in reads, exports and diffs.
    #[test]
    fn literal_secrets_are_refused_anywhere_without_echoing_them() {
        let errors = errors(
            json!({
                "channels": {"telegram": {"botToken": "123456:AAE-literal-bot-token"}},
                "gateway": {"auth": {"mode": "token", "token": "literal-gateway-token"}},
                "providers": {"p": {"kind": "sim", "models": ["m"],
                                    "headers": {"Authorization": "Bearer literal-header-key"}}},
                "agents": {"defaults": {"limits": {"maxTokens": 1000}}}
            }),
            &ServerPolicy::default(),
        );
        let paths: Vec<&str> = errors.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "channels.telegram.botToken",
                "gateway.auth.token",
                "providers.p.headers.Authorization"
            ]
        );
        let text = format!("{errors:?}");
        for value in ["AAE-literal", "literal-gateway", "literal-header"] {
            assert!(!text.contains(value), "{text}");
        }
    }

    /// `apiKey: {env: ANY_VARIABLE}` made the server send that variable to
    /// any base URL; `file://` and metadata addresses were accepted.
    #[test]
    fn only_declared_secrets_and_allowed_base_urls() {
        let config = json!({
            "providers": {
                "leak": {"kind": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1",
                         "apiKey": {"env": "DATABASE_PASSWORD"}, "models": ["m"]},
                "local": {"kind": "openai-chat", "baseUrl": "file:///etc/passwd", "models": ["m"]},
                "meta": {"kind": "openai-chat", "baseUrl": "http://169.254.169.254/latest/meta-data", "models": ["m"]},
                "ok": {"kind": "openai-chat", "baseUrl": "http://127.0.0.1:11434/v1",
                       "apiKey": {"env": "OPENROUTER_API_KEY"}, "models": ["m"]}
            },
            "alerts": {"channels": [{"id": "ops", "kind": "webhook", "url": {"env": "AWS_SECRET_ACCESS_KEY"}}]}
        });
        let errors = errors(config.clone(), &ServerPolicy::default());
        let paths: Vec<&str> = errors.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "providers.leak.apiKey.env",
                "providers.local.baseUrl",
                "providers.meta.baseUrl",
                "alerts.channels[0].url.env"
            ],
            "{errors:#?}"
        );
        assert!(at(&errors, "providers.leak.apiKey.env")
            .message
            .contains("--secret-env DATABASE_PASSWORD"));
        assert!(at(&errors, "providers.local.baseUrl")
            .message
            .contains("scheme `file` is not allowed"));
        assert!(at(&errors, "providers.meta.baseUrl")
            .message
            .contains("169.254.169.254"));
        // The operator can declare the name and allow the address.
        let policy = ServerPolicy::default()
            .with_secret_env(["DATABASE_PASSWORD", "AWS_SECRET_ACCESS_KEY"])
            .unwrap()
            .allow_private_base_urls(true);
        let errors = super::tests::errors(config, &policy);
        let paths: Vec<&str> = errors.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["providers.local.baseUrl"]);
    }

    /// The config API could make every Codex run and `doctor` spawn any argv.
    #[test]
    fn the_codex_command_must_be_allowed_by_the_server() {
        let config = json!({"harnesses": {"codex": {"command": ["sh", "-c", "id > /tmp/pwned"]}}});
        let errors = errors(config, &ServerPolicy::default());
        let p = at(&errors, "harnesses.codex.command");
        assert!(p.message.contains("--codex-command"), "{}", p.message);
        let allowed = json!({"harnesses": {"codex": {"command": ["codex", "app-server"]}}});
        assert_eq!(super::tests::errors(allowed, &ServerPolicy::default()), []);
    }

    #[test]
    fn system_directories_are_no_workspace() {
        let data = tempfile::tempdir().unwrap();
        let policy = ServerPolicy::default().with_server_dirs(Some(data.path().to_owned()), None);
        let errors = errors(
            json!({
                "agents": {
                    "defaults": {"workspace": "/"},
                    "entries": {"a": {"workspace": "/etc"}, "b": {"workspace": data.path()}, "c": {"workspace": "/srv/agents/c"}}
                },
                "harnesses": {"codex": {"home": "/proc/self"}}
            }),
            &policy,
        );
        let paths: Vec<&str> = errors
            .iter()
            .filter(|p| !p.path.ends_with("model.primary"))
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "agents.defaults.workspace",
                "agents.entries.a.workspace",
                "agents.entries.b.workspace",
                "harnesses.codex.home"
            ],
            "{errors:#?}"
        );
        assert!(at(&errors, "agents.defaults.workspace")
            .message
            .contains("system directory"));
    }
}

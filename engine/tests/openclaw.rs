//! OpenClaw import/export against real-shaped files, and the round trip.

use engine::config::policy::ServerPolicy;
use engine::config::validate::{validate, Env};
use engine::config::{Config, HarnessFallback};
use engine::openclaw::{export, import, Shape};
use proptest::prelude::*;
use serde_json::json;

const SEED: &str = include_str!("fixtures/openclaw-seed.json5");
const JOBS: &str = include_str!("fixtures/jobs.json");
const STATE: &str = include_str!("fixtures/jobs-state.json");

struct AllSet;
impl Env for AllSet {
    fn is_set(&self, _: &str) -> bool {
        true
    }
}

#[test]
fn the_seed_config_imports_with_a_report_of_everything_openclaw_let_through() {
    let r = import(SEED, Some(JOBS), Some(STATE)).unwrap();
    assert_eq!(
        r.shape,
        "agents.definitions[] with embeddedHarness (OpenClaw 2026.4)"
    );
    let config = Config::from_json(&r.config).unwrap();

    // pi/none meaning kept: release-engineer hands over, the rest stop.
    assert_eq!(
        config
            .effective_agent("release-engineer")
            .unwrap()
            .fallback
            .value,
        HarnessFallback::Pi
    );
    assert_eq!(
        config
            .effective_agent("qa-engineer")
            .unwrap()
            .fallback
            .value,
        HarnessFallback::None
    );
    // ${ENV} became a reference; the literal key was refused and not echoed.
    assert_eq!(
        r.config["providers"]["ollama-cloud"]["apiKey"],
        json!({"env": "OLLAMA_API_KEY"})
    );
    assert!(r.config["providers"]["openrouter"].get("apiKey").is_none());
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        !text.contains("sk-or-v1"),
        "a literal secret leaked into the report"
    );
    assert!(r
        .problems
        .iter()
        .any(|p| p.path == "models.providers.openrouter.apiKey"));
    // The duplicate id is reported; only the first builder is kept.
    assert!(r
        .problems
        .iter()
        .any(|p| p.path == "agents.definitions[4].id"
            && p.message.contains("duplicate agent id `builder`")));
    assert_eq!(config.effective_agent("builder").unwrap().name, "Builder");
    // Unknown keys are kept and listed.
    for key in [
        "gateway",
        "plugins",
        "models.mode",
        "agents.defaults.heartbeat",
        "agents.definitions[1].qmd",
    ] {
        assert!(
            r.unknown_keys.iter().any(|k| k == key),
            "{key} not listed: {:?}",
            r.unknown_keys
        );
    }
    assert_eq!(
        r.config["gateway"],
        json!({"port": 18789, "bind": "loopback"})
    );
    assert_eq!(
        r.config["agents"]["entries"]["builder"]["qmd"],
        json!({"memory": true})
    );
    // OpenClaw's built-in Codex provider is created from the chain.
    assert_eq!(
        r.config["providers"]["openai-codex"]["models"],
        json!(["gpt-5.3-codex-spark", "gpt-5.4"])
    );
    // Cron jobs come in as config, their run state as state.
    assert_eq!(config.cron.jobs.len(), 2);
    assert!(!config.cron.jobs[1].enabled);
    let state = &r.job_state[0];
    assert_eq!(
        (state.running_at_ms, state.consecutive_errors),
        (Some(1_776_764_844_708), 52)
    );

    // What the validator then says: the unknown provider, and the chain that
    // can never reach the external fallbacks with fallback none.
    let report = validate(&config, &AllSet, &ServerPolicy::default());
    assert!(
        report.errors.iter().any(
            |p| p.path == "agents.entries.qa-engineer.model.fallbacks[0]"
                && p.message.contains("`arcee`")
        ),
        "{:#?}",
        report.errors
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|p| p.path == "agents.entries.builder" && p.message.contains("can never run")),
        "{:#?}",
        report.warnings
    );
}

#[test]
fn import_export_import_of_the_seed_config_is_lossless() {
    let first = import(SEED, Some(JOBS), None).unwrap();
    let config = Config::from_json(&first.config).unwrap();
    let exported = export(&config, Shape::Older);
    let jobs = exported.jobs.as_ref().map(|j| j.to_string());
    let second = import(&exported.openclaw.to_string(), jobs.as_deref(), None).unwrap();
    assert_eq!(Config::from_json(&second.config).unwrap(), config);
    // The unknown keys are still there after the round trip.
    assert_eq!(second.config["gateway"], first.config["gateway"]);
    assert_eq!(
        second.config["agents"]["entries"]["builder"]["qmd"],
        json!({"memory": true})
    );
}

#[test]
fn the_newer_roster_maps_openai_refs_on_the_codex_runtime_back_to_the_codex_family() {
    let text = r#"{
      agents: {
        defaults: {
          model: { primary: "openai/gpt-5.3-codex-spark", fallbacks: ["openai/gpt-5.4", "ollama-cloud/glm-5.1"] },
          models: { "openai/gpt-5.3-codex-spark": { agentRuntime: { id: "codex" } },
                    "openai/gpt-5.4": { agentRuntime: { id: "codex" } } },
        },
        entries: { "release-engineer": { name: "Release Engineer" } },
      },
      models: { providers: { "ollama-cloud": { baseUrl: "https://ollama.com/v1", models: ["glm-5.1"] } } },
    }"#;
    let r = import(text, None, None).unwrap();
    assert_eq!(r.shape, "agents.entries.<id> (OpenClaw 2026.9)");
    let config = Config::from_json(&r.config).unwrap();
    let re = config.effective_agent("release-engineer").unwrap();
    assert_eq!(
        re.primary.unwrap().value.to_string(),
        "openai-codex/gpt-5.3-codex-spark"
    );
    assert_eq!(re.fallbacks.value[0].to_string(), "openai-codex/gpt-5.4");
    assert_eq!(re.runtime.value.to_string(), "codex");
    assert!(r.notes.iter().any(|n| n.message.contains("fails closed")));
    assert!(
        validate(&config, &AllSet, &ServerPolicy::default()).is_valid(),
        "{:#?}",
        validate(&config, &AllSet, &ServerPolicy::default()).errors
    );
}

#[test]
fn malformed_input_names_line_and_column() {
    let err = import(
        "{\n  agents: {\n    list: [ { id: \"a\" } { id: \"b\" } ]\n  }\n}",
        None,
        None,
    )
    .unwrap_err();
    assert!(
        err.problems()[0].message.starts_with("line 3, column "),
        "{err}"
    );
}

#[test]
fn export_warns_for_what_a_shape_cannot_say() {
    let mut config = Config::from_json(&engine::sim::demo::fleet_config()).unwrap();
    let patch = engine::config::HarnessPatch {
        fallback: Some("codex".into()),
        runtime: None,
    };
    config.apply_harness_patch("builder", &patch).unwrap();
    let older = export(&config, Shape::Older);
    let builder = older.openclaw["agents"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "builder")
        .unwrap();
    assert_eq!(builder["embeddedHarness"]["fallback"], "none");
    assert!(older
        .warnings
        .iter()
        .any(|w| w.path == "agents.entries.builder.embeddedHarness.fallback"));
    let newer = export(&config, Shape::Newer);
    assert!(newer.openclaw["agents"]["entries"]["qa-engineer"]
        .get("embeddedHarness")
        .is_none());
    assert!(newer.warnings.iter().any(|w| w
        .message
        .contains("fallback pi is written as `agentRuntime.id: auto`")));
}

/// The demo's chain on providers OpenClaw can say (no `sim`, no
/// Switchyard-only settings): what an OpenClaw round trip must keep whole.
fn real_fleet() -> serde_json::Value {
    json!({
        "providers": {
            "openai-codex": {"kind": "codex", "family": "codex", "models": ["gpt-5.3-codex-spark", "gpt-5.4"]},
            "ollama-cloud": {"kind": "ollama", "baseUrl": "https://ollama.com", "apiKey": {"env": "OLLAMA_API_KEY"},
                             "models": [{"id": "glm-5.1", "name": "GLM 5.1", "contextWindow": 131072, "params": {"num_ctx": 131072}}]},
            "openrouter": {"kind": "openai-chat", "baseUrl": "https://openrouter.ai/api/v1", "apiKey": {"env": "OPENROUTER_API_KEY"},
                           "models": [{"id": "deepseek/deepseek-v3.2", "contextWindow": 163840}]}
        },
        "agents": {"defaults": {
            "model": {"primary": "openai-codex/gpt-5.3-codex-spark",
                      "fallbacks": ["openai-codex/gpt-5.4", "ollama-cloud/glm-5.1", "openrouter/deepseek/deepseek-v3.2"]},
            "embeddedHarness": {"runtime": "codex", "fallback": "pi"}}}
    })
}

/// A config generator over the demo's providers: any agents, chains, harness
/// settings, unknown keys and jobs.
fn arb_config() -> impl Strategy<Value = Config> {
    let models = prop::sample::select(vec![
        "openai-codex/gpt-5.3-codex-spark",
        "openai-codex/gpt-5.4",
        "ollama-cloud/glm-5.1",
        "openrouter/deepseek/deepseek-v3.2",
    ]);
    let harness = (
        prop::option::of(prop::sample::select(vec!["pi", "codex", "auto"])),
        prop::option::of(prop::sample::select(vec!["pi", "none"])),
    );
    let agent = (
        prop::option::of("[A-Z][a-z]{1,8}"),
        prop::option::of(prop::collection::vec(models.clone(), 1..4)),
        harness,
        prop::option::of("[a-z]{1,6}"),
    );
    let jobs = prop::collection::vec((0..3u8, 0..4usize, any::<bool>()), 0..4);
    (
        prop::collection::btree_map("[a-z][a-z0-9-]{0,10}", agent, 1..6),
        jobs,
    )
        .prop_map(|(agents, jobs)| {
            let mut v = real_fleet();
            let mut entries = serde_json::Map::new();
            for (id, (name, chain, (runtime, fallback), extra)) in &agents {
                let mut e = json!({});
                if let Some(n) = name {
                    e["name"] = json!(n);
                }
                if let Some(c) = chain {
                    e["model"] = json!({"primary": c[0], "fallbacks": c[1..]});
                }
                let mut h = json!({});
                if let Some(r) = runtime {
                    h["runtime"] = json!(r);
                }
                if let Some(f) = fallback {
                    h["fallback"] = json!(f);
                }
                if h != json!({}) {
                    e["embeddedHarness"] = h;
                }
                if let Some(x) = extra {
                    e["custom"] = json!({"note": x});
                }
                entries.insert(id.clone(), e);
            }
            v["agents"]["entries"] = serde_json::Value::Object(entries);
            let ids: Vec<&String> = agents.keys().collect();
            let jobs: Vec<_> = jobs.iter().enumerate().map(|(i, (kind, agent, enabled))| {
            let schedule = match kind {
                0 => json!({"kind": "cron", "expr": "0 9 * * 1-5", "tz": "Europe/Berlin"}),
                1 => json!({"kind": "every", "everyMs": 60_000}),
                _ => json!({"kind": "at", "atMs": 1_776_764_844_708i64}),
            };
            json!({"id": format!("job-{i}"), "agentId": ids[agent % ids.len()], "message": "go",
                   "enabled": enabled, "schedule": schedule})
        }).collect();
            v["cron"] = json!({"jobs": jobs});
            v["plugins"] = json!({"qmd": {"enabled": true}});
            Config::from_json(&v).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// export (older roster) → import gives back the same config, and a
    /// second round changes nothing.
    #[test]
    fn round_trip_through_the_older_roster_is_lossless(config in arb_config()) {
        let exported = export(&config, Shape::Older);
        let jobs = exported.jobs.as_ref().map(|j| j.to_string());
        let back = import(&exported.openclaw.to_string(), jobs.as_deref(), None).unwrap();
        let back = Config::from_json(&back.config).unwrap();
        prop_assert_eq!(&back, &config);
        let again = export(&back, Shape::Older);
        prop_assert_eq!(again.openclaw, exported.openclaw);
    }
}

/// An import body of 5,000 nested `[` aborted the server: the JSON5 parse
/// recursed before any check. 8 MiB is where the parser's own guard lets
/// 5,000 levels through in a debug build (2 MiB in a release build).
#[test]
fn deeply_nested_import_bodies_are_refused_without_overflowing() {
    for stack in [8 << 20, 128 << 10] {
        for n in [5_000, 100_000] {
            let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
            let problems = std::thread::Builder::new()
                .stack_size(stack)
                .spawn(move || {
                    let openclaw = format!("{{ gateway: {deep} }}");
                    let jobs = format!("{{ jobs: {deep} }}");
                    [
                        import(&openclaw, None, None).unwrap_err(),
                        import("{}", Some(&jobs), None).unwrap_err(),
                        import("{}", None, Some(&jobs)).unwrap_err(),
                    ]
                    .map(|e| e.problems()[0].clone())
                })
                .unwrap()
                .join()
                .unwrap();
            for p in problems {
                assert!(p.message.contains("nested deeper than 64 levels"), "{p:?}");
                assert!(p.message.starts_with("line 1, column "), "{p:?}");
            }
        }
    }
}

/// OpenClaw keeps secrets anywhere; the keys Switchyard does not read were
/// carried over verbatim, so a literal bot token was stored and served back.
#[test]
fn literal_secrets_outside_api_keys_are_dropped_with_a_problem() {
    let text = r#"{
      channels: { telegram: { botToken: "123456:AAE-literal-bot-token", chatId: "42" },
                  discord: { token: "${DISCORD_BOT_TOKEN}" } },
      gateway: { auth: { mode: "token", token: "literal-gateway-token" } },
      models: { providers: { p: { baseUrl: "http://127.0.0.1:9/v1", models: ["m"],
                                  headers: { Authorization: "Bearer literal-header-key" } } } },
      agents: { list: [ { id: "a", model: "p/m" } ] },
    }"#;
    let r = import(text, None, None).unwrap();
    let stored = r.config.to_string();
    let report = serde_json::to_string(&r).unwrap();
    for literal in ["AAE-literal", "literal-gateway", "literal-header"] {
        assert!(!stored.contains(literal), "{stored}");
        assert!(!report.contains(literal), "{report}");
    }
    let problems: Vec<&str> = r.problems.iter().map(|p| p.path.as_str()).collect();
    for path in [
        "channels.telegram.botToken",
        "gateway.auth.token",
        "providers.p.headers.Authorization",
    ] {
        assert!(problems.contains(&path), "{path}: {problems:?}");
    }
    // `${NAME}` becomes a reference, as for apiKey; the rest is kept.
    assert_eq!(
        r.config["channels"]["discord"]["token"],
        json!({"env": "DISCORD_BOT_TOKEN"})
    );
    assert_eq!(r.config["channels"]["telegram"]["chatId"], "42");
    let config = Config::from_json(&r.config).unwrap();
    let report = validate(&config, &AllSet, &ServerPolicy::default());
    assert!(report.is_valid(), "{:#?}", report.errors);
}

/// Each fault seen on a real fleet (issue 14, "What was seen"), on the real
/// fixtures that `openclaw_conformance.rs` checks with OpenClaw itself.
#[test]
fn real_openclaw_files_import_with_every_key_accounted_for() {
    let fx = |v: &str, f: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/openclaw/{v}/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let r = import(
        &fx("2026.4.10", "openclaw.json5"),
        Some(&fx("2026.4.10", "jobs.json")),
        Some(&fx("2026.4.10", "jobs-state.json")),
    )
    .unwrap();
    let config = Config::from_json(&r.config).unwrap();
    let c = &r.config;
    // 1. A tool policy object imports, and what it denies stays denied.
    assert_eq!(
        c["agents"]["entries"]["ceo"]["tools"],
        json!({"deny": ["browser"]})
    );
    let builder = config.native_settings("builder").unwrap().tools;
    assert!(
        !builder.contains(&engine::config::Tool::Exec),
        "{builder:?}"
    );
    // 2. The one-shot `at` schedule.
    let at = config
        .cron
        .jobs
        .iter()
        .find(|j| j.id == "launch-reminder")
        .unwrap();
    assert_eq!(
        at.schedule,
        engine::config::Schedule::At {
            at_ms: 1_798_135_200_000
        }
    );
    // 3. Ollama's native API stays Ollama's.
    assert_eq!(c["providers"]["ollama-cloud"]["kind"], "ollama");
    let out = export(&config, Shape::Older);
    assert_eq!(
        out.openclaw["models"]["providers"]["ollama-cloud"]["api"],
        "ollama"
    );
    // 4. The payload's timeout is the job's; the rest of the job is kept
    //    and written back where OpenClaw reads it.
    let ship = &config.cron.jobs[0];
    assert_eq!(ship.timeout_seconds, Some(900));
    for key in [
        "description",
        "sessionTarget",
        "wakeMode",
        "createdAtMs",
        "delivery",
    ] {
        assert!(ship.extra.contains_key(key), "{key} dropped");
    }
    let jobs = out.jobs.unwrap();
    assert_eq!(jobs["jobs"][0]["payload"]["timeoutSeconds"], 900);
    assert!(jobs["jobs"][0].get("timeoutSeconds").is_none());
    assert_eq!(
        c["providers"]["ollama-cloud"]["models"][0],
        json!({"id": "glm-5.1", "name": "GLM 5.1", "contextWindow": 202752, "maxTokens": 32768})
    );
    // Per-model windows: the two Ollama models differ.
    let ollama = config.providers.get("ollama-cloud").unwrap();
    assert_eq!(ollama.window_of("glm-5.1"), Some(202752));
    assert_eq!(ollama.window_of("kimi-k2.6"), Some(262144));
    // 5. What is reported kept is kept, where it was.
    assert!(r.unknown_keys.contains(&"models.mode".to_owned()));
    assert_eq!(c["models"]["mode"], "merge");
    assert_eq!(c["cron"]["enabled"], true);
    assert_eq!(c["cron"]["maxConcurrentRuns"], 2);
    assert_eq!(out.openclaw["cron"]["maxConcurrentRuns"], 2);
    // 6. The job's history is in the report (and stored on import: see
    //    server/tests/cli.rs).
    let streak = r.job_state.iter().find(|s| s.job_id == ship.id).unwrap();
    assert_eq!(streak.consecutive_errors, 52);
    // 9. The duplicate is renamed, not dropped.
    assert!(config.agents.entries.contains_key("builder-2"));
    assert!(r
        .problems
        .iter()
        .any(|p| p.message.contains("imported as `builder-2`")));
    // 10. The literal bot token is not stored, and the report says so.
    assert!(c["channels"]["telegram"].get("botToken").is_none());
    assert!(!serde_json::to_string(&r)
        .unwrap()
        .contains("literal-token-from-a-real-file"));
    assert!(r
        .problems
        .iter()
        .any(|p| p.path == "channels.telegram.botToken"));
    // A provider Switchyard cannot call is kept for export, its model left
    // out of the chain with a line.
    assert!(c["providers"].get("gemini").is_none());
    assert_eq!(
        out.openclaw["models"]["providers"]["gemini"]["api"],
        "google-generative-ai"
    );
    assert!(r
        .problems
        .iter()
        .any(|p| p.path == "agents.list[3].model.fallbacks[0]"));

    // The 2026.9 shape: ownership stays on the roster; an explicit runtime
    // fails closed (8), `auto` hands over.
    let r = import(&fx("2026.9.6", "openclaw.json5"), None, None).unwrap();
    assert_eq!(r.config["agents"]["ownership"], "explicit");
    assert!(r.config["agents"]["defaults"].get("ownership").is_none());
    let config = Config::from_json(&r.config).unwrap();
    let fallback = |id: &str| config.effective_agent(id).unwrap().fallback.value;
    assert_eq!(fallback("release-engineer"), HarnessFallback::None);
    assert_eq!(fallback("builder"), HarnessFallback::Pi);
    assert_eq!(fallback("proxy"), HarnessFallback::None);
}

/// Point 7: `fallback: codex` is not OpenClaw's: imported as Switchyard's own
/// value, and reported as a problem rather than passed silently.
#[test]
fn an_openclaw_file_with_fallback_codex_is_reported() {
    let text = r#"{ agents: { list: [ { id: "a", embeddedHarness: { runtime: "codex", fallback: "codex" } } ] } }"#;
    let r = import(text, None, None).unwrap();
    assert_eq!(
        r.config["agents"]["entries"]["a"]["embeddedHarness"]["fallback"],
        "codex"
    );
    assert!(r
        .problems
        .iter()
        .any(|p| p.path == "agents.list[0].embeddedHarness.fallback"
            && p.message.contains("not a value OpenClaw accepts")));
}

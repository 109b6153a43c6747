use serde_json::json;

use super::*;

fn fleet() -> Config {
    Config::from_json(&json!({
        "providers": {
            "openai-codex": {"kind": "codex", "models": ["gpt-5.4"]},
            "openrouter": {"kind": "openai-chat", "apiKey": {"env": "OPENROUTER_API_KEY"}, "models": ["deepseek/deepseek-v3.2"]}
        },
        "agents": {
            "defaults": {
                "model": {"primary": "openai-codex/gpt-5.4", "fallbacks": ["openrouter/deepseek/deepseek-v3.2"]},
                "embeddedHarness": {"runtime": "codex"}
            },
            "entries": {
                "builder": {},
                "qa-engineer": {"name": "QA", "embeddedHarness": {"fallback": "none"}, "model": {"fallbacks": []}}
            }
        }
    }))
    .unwrap()
}

#[test]
fn effective_values_say_where_they_came_from() {
    let config = fleet();
    let builder = config.effective_agent("builder").unwrap();
    assert_eq!(builder.name, "builder");
    assert_eq!(builder.primary.as_ref().unwrap().source, Source::Defaults);
    assert_eq!(builder.runtime.value, Runtime::Codex);
    assert_eq!(builder.runtime.source, Source::Defaults);
    assert_eq!(builder.fallback.value, HarnessFallback::Pi);
    assert_eq!(builder.fallback.source, Source::Builtin);

    let qa = config.effective_agent("qa-engineer").unwrap();
    assert_eq!(qa.fallback.value, HarnessFallback::None);
    assert_eq!(qa.fallback.source, Source::Agent);
    // An explicit empty chain on the agent overrides the defaults' chain.
    assert!(qa.fallbacks.value.is_empty());
    assert_eq!(qa.fallbacks.source, Source::Agent);
}

#[test]
fn model_refs_split_on_the_first_slash_only() {
    let r: ModelRef = "openrouter/deepseek/deepseek-v3.2".parse().unwrap();
    assert_eq!(r.provider().as_str(), "openrouter");
    assert_eq!(r.model(), "deepseek/deepseek-v3.2");
    assert_eq!(r.to_string(), "openrouter/deepseek/deepseek-v3.2");
    assert!("no-slash".parse::<ModelRef>().is_err());
    assert!("openrouter/".parse::<ModelRef>().is_err());
}

#[test]
fn harness_patch_sets_and_clears_overrides() {
    let mut config = fleet();
    let patch = HarnessPatch {
        fallback: Some("none".into()),
        ..Default::default()
    };
    config.apply_harness_patch("builder", &patch).unwrap();
    let builder = config.effective_agent("builder").unwrap();
    assert_eq!(builder.fallback.value, HarnessFallback::None);
    assert_eq!(builder.fallback.source, Source::Agent);

    let inherit = HarnessPatch {
        fallback: Some("inherit".into()),
        ..Default::default()
    };
    config.apply_harness_patch("builder", &inherit).unwrap();
    assert_eq!(
        config.effective_agent("builder").unwrap().fallback.source,
        Source::Builtin
    );
}

#[test]
fn unknown_fallback_names_the_field_and_allowed_values_and_changes_nothing() {
    let mut config = fleet();
    let before = config.clone();
    let patch = HarnessPatch {
        fallback: Some("openrouter".into()),
        runtime: Some("docker".into()),
    };
    let err = config.apply_harness_patch("builder", &patch).unwrap_err();
    let problems = err.problems();
    assert_eq!(
        problems.len(),
        2,
        "both bad fields are reported: {problems:?}"
    );
    assert_eq!(
        problems[0].path,
        "agents.entries.builder.embeddedHarness.runtime"
    );
    assert_eq!(
        problems[1].path,
        "agents.entries.builder.embeddedHarness.fallback"
    );
    assert!(
        problems[1].message.contains("pi, codex, none"),
        "{}",
        problems[1].message
    );
    assert!(problems[1].message.contains("`openrouter`"));
    assert_eq!(config, before);
}

#[test]
fn unknown_agent_is_not_found() {
    let mut config = fleet();
    let patch = HarnessPatch {
        fallback: Some("pi".into()),
        ..Default::default()
    };
    let err = config.apply_harness_patch("ghost", &patch).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::NotFound);
}

#[test]
fn schema_errors_carry_the_json_path() {
    let err = Config::from_json(&json!({
        "agents": {"entries": {"builder": {"embeddedHarness": {"fallback": "maybe"}}}}
    }))
    .unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.path, "agents.entries.builder.embeddedHarness.fallback");
    assert!(p.message.contains("maybe"), "{}", p.message);

    let typo = Config::from_json(&json!({
        "agents": {"defaults": {"embeddedHarness": {"fallbak": "pi"}}}
    }))
    .unwrap_err();
    assert!(typo.problems()[0].message.contains("fallbak"));
}

#[test]
fn literal_secrets_are_refused_without_being_echoed() {
    let err = Config::from_json(&json!({
        "providers": {"openrouter": {"kind": "openai-chat", "apiKey": "sk-or-v1-secret"}}
    }))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("providers.openrouter.apiKey"), "{text}");
    assert!(!text.contains("sk-or-v1-secret"), "{text}");
}

#[test]
fn unknown_keys_survive_a_round_trip() {
    let input = json!({
        "agents": {"entries": {"builder": {"workspace": "/srv/builder"}}},
        "plugins": {"qmd": {"enabled": true}}
    });
    let config = Config::from_json(&input).unwrap();
    let out = config.to_json();
    assert_eq!(
        out["agents"]["entries"]["builder"]["workspace"],
        "/srv/builder"
    );
    assert_eq!(out["plugins"], json!({"qmd": {"enabled": true}}));
}

#[test]
fn config_text_accepts_json5_and_locates_syntax_errors() {
    let value = parse_text("{\n  // the demo\n  agents: {entries: {builder: {},},},\n}").unwrap();
    assert!(Config::from_json(&value)
        .unwrap()
        .effective_agent("builder")
        .is_some());
    let err = parse_text("{\n  \"agents\": {\n    \"entries\": [1 2]\n  }\n}").unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.path, "(text)");
    assert!(p.message.starts_with("line 3, column "), "{}", p.message);
}

#[test]
fn exec_sandbox_is_landlock_unless_set_to_none_and_says_where_from() {
    let mut config = fleet();
    let builder = config.effective_agent("builder").unwrap();
    assert_eq!(
        builder.sandbox,
        Sourced {
            value: Sandbox::Landlock,
            source: Source::Builtin
        }
    );
    assert_eq!(
        config.native_settings("builder").unwrap().sandbox,
        Sandbox::Landlock
    );

    config.agents.defaults.sandbox = Some(Sandbox::None);
    config
        .agents
        .entries
        .get_mut("qa-engineer")
        .unwrap()
        .sandbox = Some(Sandbox::Landlock);
    let builder = config.effective_agent("builder").unwrap();
    assert_eq!(builder.sandbox.value, Sandbox::None);
    assert_eq!(builder.sandbox.source, Source::Defaults);
    assert_eq!(
        config.native_settings("builder").unwrap().sandbox,
        Sandbox::None
    );
    let qa = config.effective_agent("qa-engineer").unwrap();
    assert_eq!(qa.sandbox.value, Sandbox::Landlock);
    assert_eq!(qa.sandbox.source, Source::Agent);

    // Round trip, and a typo is refused at its path with the allowed values.
    let back = Config::from_json(&config.to_json()).unwrap();
    assert_eq!(back, config);
    let mut json = config.to_json();
    json["agents"]["entries"]["builder"]["sandbox"] = json!("off");
    let err = Config::from_json(&json).unwrap_err().to_string();
    assert!(err.contains("agents.entries.builder.sandbox"), "{err}");
    assert!(
        err.contains("`landlock`") && err.contains("`none`"),
        "{err}"
    );
}

#[cfg(feature = "server")]
#[test]
fn an_unconfined_exec_is_a_warning_at_its_path() {
    struct NoEnv;
    impl validate::Env for NoEnv {
        fn is_set(&self, _: &str) -> bool {
            true
        }
    }
    let mut config = fleet();
    let quiet = validate::validate(
        &config,
        &NoEnv,
        &crate::config::policy::ServerPolicy::default(),
    );
    assert!(!quiet.warnings.iter().any(|w| w.path.ends_with("sandbox")));
    config.agents.defaults.sandbox = Some(Sandbox::None);
    config.agents.entries.get_mut("builder").unwrap().sandbox = Some(Sandbox::None);
    let report = validate::validate(
        &config,
        &NoEnv,
        &crate::config::policy::ServerPolicy::default(),
    );
    // A warning, never an error: a host without Landlock needs `none`.
    assert!(!report.errors.iter().any(|e| e.path.ends_with("sandbox")));
    let paths: Vec<&str> = report
        .warnings
        .iter()
        .filter(|w| w.message.starts_with("exec runs unconfined"))
        .map(|w| w.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["agents.defaults.sandbox", "agents.entries.builder.sandbox"]
    );
}

/// Runs `f` on a thread with a stack of `size` bytes.
fn on_stack<T: Send + 'static>(size: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(size)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Stacks the nesting tests run on: 8 MiB, where the JSON5 parser's own
/// guard lets 5,000 levels through (in a debug build; 2 MiB, a Tokio
/// worker's, in a release build) and what follows it overflows the stack and
/// aborts the whole process; and a small one.
const STACKS: [usize; 2] = [8 << 20, 128 << 10];

#[test]
fn deeply_nested_text_is_refused_before_the_parser_recurses() {
    for (stack, n) in STACKS.into_iter().flat_map(|s| [(s, 5_000), (s, 100_000)]) {
        let err = on_stack(stack, move || {
            parse_text(&format!("{{\n  x: {}{}}}", "[".repeat(n), "]".repeat(n))).unwrap_err()
        });
        let p = &err.problems()[0];
        assert_eq!(p.path, "(text)");
        assert!(
            p.message
                .starts_with("line 2, column 69: nested deeper than 64"),
            "{}",
            p.message
        );
    }
    // As deep as allowed still parses.
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    parse_text(&ok).unwrap();
}

fn nested(depth: usize) -> serde_json::Value {
    let mut v = json!("leaf");
    for _ in 0..depth {
        v = json!({ "x": v });
    }
    v
}

/// The brick: an unknown key nested 200 deep was validated and stored, and
/// every later read of the revision (serde_json, 128 levels) failed.
#[test]
fn a_config_too_deep_to_read_back_is_refused_with_its_path() {
    let body = json!({"agents": {"entries": {"qa": {"notes": nested(200)}}}});
    // What the store's reader says of it: it could never be read back.
    assert!(serde_json::from_str::<serde_json::Value>(&body.to_string()).is_err());
    let err = Config::from_json(&body).unwrap_err();
    let p = &err.problems()[0];
    assert!(
        p.path.starts_with("agents.entries.qa.notes.x.x.x"),
        "{}",
        p.path
    );
    assert_eq!(p.path.matches(".x").count(), 60, "{}", p.path);
    assert!(p.message.contains("deeper than 64"), "{}", p.message);
    let err = ensure_round_trips(&body).unwrap_err();
    assert!(err.to_string().contains("deeper than 64"), "{err}");
    // At the limit it is accepted and reads back.
    let ok = json!({"agents": {"entries": {"qa": {"notes": nested(MAX_DEPTH - 4)}}}});
    Config::from_json(&ok).unwrap();
    ensure_round_trips(&ok).unwrap();
}

#[test]
fn ensure_round_trips_uses_the_stores_reader() {
    ensure_round_trips(&crate::sim::demo::fleet_config()).unwrap();
    // Not a config any more once read back: refused too.
    let err = ensure_round_trips(&json!({"cron": {"jobs": 5}})).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Invalid);
}

#[test]
fn provider_kind_names_are_the_config_ones() {
    for kind in ProviderKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
    let sim: Provider =
        serde_json::from_value(json!({"kind": "sim", "wire": "ollama", "models": []})).unwrap();
    assert_eq!(sim.wire(), Some(ProviderKind::Ollama));
    let plain: Provider = serde_json::from_value(json!({"kind": "sim", "models": []})).unwrap();
    assert_eq!(plain.wire(), Some(ProviderKind::OpenaiChat));
    let codex: Provider = serde_json::from_value(json!({"kind": "codex", "models": []})).unwrap();
    assert_eq!(codex.wire(), None);
}

//! Conformance against the real OpenClaw (issue 14): the `openclaw` npm
//! package in the two roster shapes Switchyard imports and exports —
//! 2026.4.10 (`agents.list[]` with `embeddedHarness`) and 2026.9.6
//! (`agents.entries`, the runtime per model). `scripts/openclaw-peer`
//! installs each once (with Node 24) into `.cache/openclaw-peer/`.
//!
//! For each version: the fixtures are first checked with that version's own
//! `openclaw config validate` (so they are files OpenClaw really reads);
//! cases derived from that version's `openclaw config schema` (every `api`
//! adapter, every tool profile, every fallback / runtime value) are built,
//! checked by OpenClaw, imported and reported on; and every Switchyard export
//! in that shape (of the fixture, of the generated cases, of the demo fleet)
//! must validate in that OpenClaw. Finally OpenClaw 2026.9.6's own
//! `doctor --fix` migrates the 2026.4.10 fleet and cron store, and importing
//! what it wrote must give the same fleet as importing the original, apart
//! from differences the report names.
//!
//! Where the package cannot be installed (no npm, registry unreachable) each
//! test prints `SKIP: …` and passes — except under `CI=true`, where the
//! registry is reachable and a skip means something broke.

use engine::config::policy::ServerPolicy;
use engine::config::validate::{validate, Env};
use engine::config::{Config, EffectiveAgent};
use engine::openclaw::{export, import, ImportReport, Shape};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const OLDER: &str = "2026.4.10";
const NEWER: &str = "2026.9.6";

fn fixture(version: &str, file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openclaw")
        .join(version)
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The launcher of the real OpenClaw `version`, or `None` after saying why.
fn peer(version: &str) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/openclaw-peer");
    let out = Command::new(&script)
        .arg(version)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    match out.status.code() {
        Some(0) => Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())),
        Some(2) => {
            let reason = stderr.lines().last().unwrap_or("no reason given");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "real OpenClaw {version} not available under CI=true: {reason}"
            );
            // Straight to the stderr handle: libtest captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: real OpenClaw {version} not available: {reason}"
            );
            None
        }
        _ => panic!("{} failed ({}): {stderr}", script.display(), out.status),
    }
}

/// One OpenClaw process environment: a throwaway HOME, nothing inherited
/// that could make it reach out.
fn openclaw(bin: &Path, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OPENCLAW_NO_UPDATE_CHECK", "1")
        .env("NO_COLOR", "1");
    c
}

/// `openclaw config validate --json` on `config`: `Ok` or the issues.
fn validates(bin: &Path, config: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openclaw.json");
    std::fs::write(&file, serde_json::to_string_pretty(config).unwrap()).unwrap();
    let out = openclaw(bin, dir.path())
        .env("OPENCLAW_CONFIG_PATH", &file)
        .args(["config", "validate", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answer: Value = stdout
        .find('{')
        .and_then(|i| serde_json::from_str(&stdout[i..]).ok())
        .unwrap_or_else(|| {
            panic!(
                "no JSON from config validate: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    if answer["valid"] == json!(true) {
        Ok(())
    } else {
        Err(serde_json::to_string_pretty(&answer["issues"]).unwrap())
    }
}

fn schema(bin: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = openclaw(bin, dir.path())
        .args(["config", "schema"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "config schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("config schema prints JSON")
}

/// Follows `properties` (and `additionalProperties` for `*`, `items` for
/// `[]`) through the schema.
fn at<'a>(schema: &'a Value, path: &str) -> &'a Value {
    let mut node = schema;
    for part in path.split('.') {
        node = match part {
            "*" => &node["additionalProperties"],
            "[]" => &node["items"],
            key => &node["properties"][key],
        };
        assert!(!node.is_null(), "the schema has no `{path}` (at `{part}`)");
    }
    node
}

/// Every string a schema node allows: `enum`, or `const`s under `anyOf`.
fn values(node: &Value) -> Vec<String> {
    if let Some(list) = node["enum"].as_array() {
        return list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    node["anyOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["const"].as_str().map(str::to_owned))
        .collect()
}

struct AllSet;
impl Env for AllSet {
    fn is_set(&self, _: &str) -> bool {
        true
    }
}

fn valid_for_switchyard(r: &ImportReport) -> Config {
    let config = Config::from_json(&r.config).unwrap();
    let report = validate(&config, &AllSet, &ServerPolicy::default());
    assert!(
        report.is_valid(),
        "imported config does not validate: {:#?}",
        report.errors
    );
    config
}

/// Cases derived from the version's schema: one provider per `api`
/// adapter, one agent per tool profile and per harness setting value.
/// Returns the config and how many cases it holds.
fn schema_cases(schema: &Value, shape: Shape) -> (Value, usize) {
    let root = &schema;
    let apis = values(at(root, "models.providers.*.api"));
    let mut providers = Map::new();
    for api in &apis {
        providers.insert(
            format!("p-{api}"),
            json!({"baseUrl": "https://llm.example.org/v1", "api": api, "apiKey": "${LLM_API_KEY}",
                   "models": [{"id": "m-1", "name": "M 1", "contextWindow": 32768}]}),
        );
    }
    let roster = match shape {
        Shape::Older => "agents.list.[]",
        Shape::Newer => "agents.entries.*",
    };
    let profiles = values(at(root, &format!("{roster}.tools.profile")));
    let mut agents: Vec<(String, Value)> = profiles
        .iter()
        .map(|p| {
            (
                format!("tools-{p}"),
                json!({"tools": {"profile": p, "deny": ["browser"]}}),
            )
        })
        .collect();
    let primary = "p-openai-completions/m-1";
    match shape {
        Shape::Older => {
            for fb in values(at(root, "agents.list.[].embeddedHarness.fallback")) {
                for rt in ["codex", "pi", "auto"] {
                    agents.push((
                        format!("harness-{rt}-{fb}"),
                        json!({"model": {"primary": primary}, "embeddedHarness": {"runtime": rt, "fallback": fb}}),
                    ));
                }
            }
        }
        Shape::Newer => {
            at(root, "agents.entries.*.models.*.agentRuntime.id");
            for rt in ["codex", "auto", "pi"] {
                agents.push((
                    format!("runtime-{rt}"),
                    json!({"model": {"primary": primary}, "models": {primary: {"agentRuntime": {"id": rt}}}}),
                ));
            }
        }
    }
    let cases = providers.len() + agents.len();
    let agents_value = match shape {
        Shape::Older => {
            json!({"list": agents.into_iter().map(|(id, mut a)| { a["id"] = json!(id); a }).collect::<Vec<_>>()})
        }
        Shape::Newer => {
            json!({"ownership": "explicit", "entries": agents.into_iter().collect::<Map<_, _>>()})
        }
    };
    let mut config = json!({"models": {"providers": providers}, "agents": agents_value});
    config["agents"]["defaults"] = json!({"model": {"primary": primary}});
    (config, cases)
}

fn conformance(version: &str, shape: Shape) {
    let Some(bin) = peer(version) else { return };

    // 1. The fixture is a file this OpenClaw reads.
    let text = fixture(version, "openclaw.json5");
    let parsed = engine::config::parse_text(&text).unwrap();
    validates(&bin, &parsed)
        .unwrap_or_else(|e| panic!("the {version} fixture is not valid OpenClaw {version}: {e}"));
    let state = (version == OLDER).then(|| fixture(version, "jobs-state.json"));
    let r = import(
        &text,
        Some(&fixture(version, "jobs.json")),
        state.as_deref(),
    )
    .unwrap();
    let config = valid_for_switchyard(&r);
    let out = export(&config, shape);
    validates(&bin, &out.openclaw)
        .unwrap_or_else(|e| panic!("Switchyard's export of the {version} fixture is refused by OpenClaw {version}: {e}\n{:#}", out.openclaw));

    // 2. Schema-derived cases: OpenClaw accepts them; Switchyard imports
    //    every one or names it in the report; the export validates.
    let schema = schema(&bin);
    let (cases, n) = schema_cases(&schema, shape);
    validates(&bin, &cases)
        .unwrap_or_else(|e| panic!("schema-derived cases refused by OpenClaw {version}: {e}"));
    let r = import(&cases.to_string(), None, None).unwrap();
    for (id, p) in cases["models"]["providers"].as_object().unwrap() {
        let kept = r.config["providers"].get(id).is_some();
        let named = r
            .problems
            .iter()
            .any(|x| x.path == format!("models.providers.{id}.api"));
        assert!(
            kept ^ named,
            "provider {id} ({}) is neither imported nor reported",
            p["api"]
        );
    }
    let config = Config::from_json(&r.config).unwrap();
    let out = export(&config, shape);
    validates(&bin, &out.openclaw).unwrap_or_else(|e| {
        panic!(
            "export of the schema cases refused by OpenClaw {version}: {e}\n{:#}",
            out.openclaw
        )
    });

    // 3. Switchyard's own demo fleet, exported in this shape.
    let demo = Config::from_json(&engine::sim::demo::fleet_config()).unwrap();
    let out = export(&demo, shape);
    validates(&bin, &out.openclaw).unwrap_or_else(|e| {
        panic!(
            "export of the demo fleet refused by OpenClaw {version}: {e}\n{:#}",
            out.openclaw
        )
    });
    let _ = writeln!(
        std::io::stderr(),
        "openclaw {version}: fixture + {n} schema-derived cases + demo fleet: every export validates"
    );
}

#[test]
fn exports_validate_in_openclaw_2026_4_10() {
    conformance(OLDER, Shape::Older);
}

#[test]
fn exports_validate_in_openclaw_2026_9_6() {
    conformance(NEWER, Shape::Newer);
}

/// What an operator compares: per agent, the chain, runtime, fallback and
/// the tools it gets.
fn fleet(config: &Config) -> Map<String, Value> {
    config
        .effective_agents()
        .into_iter()
        .map(|a: EffectiveAgent| {
            let tools = config.native_settings(a.id.as_str()).unwrap().tools;
            let chain: Vec<String> = a
                .primary
                .iter()
                .map(|p| p.value.to_string())
                .chain(a.fallbacks.value.iter().map(ToString::to_string))
                .collect();
            (
                a.id.to_string(),
                json!({"chain": chain, "runtime": a.runtime.value.to_string(),
                       "fallback": a.fallback.value.to_string(), "tools": format!("{tools:?}")}),
            )
        })
        .collect()
}

/// OpenClaw 2026.9.6's own migration of the 2026.4.10 fleet and cron store.
#[test]
fn importing_what_openclaws_doctor_wrote_gives_the_same_fleet() {
    let Some(bin) = peer(NEWER) else { return };
    let home = tempfile::tempdir().unwrap();
    let dot = home.path().join(".openclaw");
    std::fs::create_dir_all(dot.join("cron")).unwrap();
    let original = fixture(OLDER, "openclaw.json5");
    std::fs::write(dot.join("openclaw.json"), &original).unwrap();
    std::fs::write(dot.join("cron/jobs.json"), fixture(OLDER, "jobs.json")).unwrap();
    let out = openclaw(&bin, home.path())
        .args([
            "doctor",
            "--fix",
            "--non-interactive",
            "--no-workspace-suggestions",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "doctor --fix: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let migrated = std::fs::read_to_string(dot.join("openclaw.json")).unwrap();
    let jobs = migrated_jobs(&dot);

    let before = import(&original, Some(&fixture(OLDER, "jobs.json")), None).unwrap();
    let after = import(&migrated, Some(&jobs), None).unwrap();
    assert!(after.shape.starts_with("agents.entries"), "{}", after.shape);
    let (b, a) = (valid_for_switchyard(&before), valid_for_switchyard(&after));
    let (fb, fa) = (fleet(&b), fleet(&a));
    assert_eq!(
        fb.keys().collect::<Vec<_>>(),
        fa.keys().collect::<Vec<_>>(),
        "the same agents (the duplicate renamed alike)"
    );
    let mut named = 0;
    for (id, x) in &fb {
        let y = &fa[id];
        for field in ["chain", "runtime", "fallback", "tools"] {
            if x[field] == y[field] {
                continue;
            }
            // A difference must be one the migrated import's report names
            // (the runtime OpenClaw moved, the fallback it dropped).
            let said = after.notes.iter().chain(&after.problems).any(|p| {
                (p.path.starts_with(&format!("agents.entries.{id}"))
                    || p.path.starts_with("agents.defaults"))
                    && (p.message.contains("runtime") || p.message.contains("fallback"))
            });
            assert!(
                said && field != "chain" && field != "tools",
                "{id}.{field}: {} before, {} after the migration, and the report does not say why",
                x[field],
                y[field]
            );
            named += 1;
        }
    }
    let jobs_of = |c: &Config| -> Vec<Value> {
        c.cron
            .jobs
            .iter()
            .map(|j| json!({"id": j.id, "agent": j.agent_id, "schedule": j.schedule, "message": j.message, "timeout": j.timeout_seconds, "enabled": j.enabled}))
            .collect()
    };
    let original: Vec<&str> = b.cron.jobs.iter().map(|j| j.id.as_str()).collect();
    let kept: Vec<Value> = jobs_of(&a)
        .into_iter()
        .filter(|j| original.contains(&j["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        jobs_of(&b),
        kept,
        "the cron jobs survive OpenClaw's migration unchanged"
    );
    // Jobs the migration added (its heartbeats) are imported and named.
    for (i, j) in a.cron.jobs.iter().enumerate() {
        if !original.contains(&j.id.as_str()) {
            assert!(
                after
                    .notes
                    .iter()
                    .any(|n| n.path == format!("jobs.json jobs[{i}].payload.kind")),
                "job {} was added by OpenClaw's migration and the report does not say so",
                j.id
            );
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "doctor --fix {OLDER} → {NEWER}: {} agents, {} jobs equal; {named} differences, each named in the report",
        fb.len(),
        b.cron.jobs.len()
    );
}

/// OpenClaw 2026.9 moves the cron store into its state database
/// (`state/openclaw.sqlite`, table `cron_jobs`: `job_json`, `state_json`);
/// before that it stays in `cron/jobs.json`.
fn migrated_jobs(dot: &Path) -> String {
    let file = dot.join("cron/jobs.json");
    if file.exists() {
        return std::fs::read_to_string(file).unwrap();
    }
    let db = dot.join("state/openclaw.sqlite");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<(String, String)> = rt.block_on(async {
        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::ConnectOptions;
        let mut conn = SqliteConnectOptions::new()
            .filename(&db)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        sqlx::query_as("SELECT job_json, state_json FROM cron_jobs ORDER BY sort_order")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    });
    let jobs: Vec<Value> = rows
        .into_iter()
        .map(|(job, state)| {
            let mut job: Value = serde_json::from_str(&job).unwrap();
            job["state"] = serde_json::from_str(&state).unwrap();
            job
        })
        .collect();
    json!({"version": 1, "jobs": jobs}).to_string()
}

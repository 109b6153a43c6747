//! The Ollama (`/api/chat`) and Anthropic (`/v1/messages`) wires: the
//! provider clients against the `sim` server over real loopback HTTP, the
//! sim speaking each wire's shapes, errors and headers (text and tool calls
//! on every wire: `tests/provider.rs`).

mod common;

use common::calls::{client as client_with, client_for, clock, no_secrets, request, sim};
use engine::config::policy::ServerPolicy;
use engine::failure::FailureClass;
use engine::provider::ProviderClient;
use engine::sim::provider::SimProvider;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const WIRES: [&str; 2] = ["ollama", "anthropic-messages"];

async fn client(kind: &str) -> (Arc<SimProvider>, ProviderClient) {
    client_with(kind, json!({})).await
}

fn path_of(kind: &str) -> &'static str {
    match kind {
        "ollama" => "/api/chat",
        _ => "/v1/messages",
    }
}

/// Every scripted failure, in each wire's real shape, lands in its class,
/// streamed or not.
#[tokio::test]
async fn every_failure_class_in_each_wires_shape() {
    use FailureClass::*;
    for kind in WIRES {
        let (_sim, client) = client(kind).await;
        // Ollama's mid-stream error is a plain "error running the model";
        // Anthropic's is the overload of an `event: error`.
        let interrupted = if kind == "ollama" {
            ServerError
        } else {
            Overloaded
        };
        for stream in [true, false] {
            for (script, class) in [
                ("rate_limit(7)", RateLimit),
                ("auth", Auth),
                ("auth_permanent", AuthPermanent),
                ("usage_limit", UsageLimit),
                ("billing", Billing),
                ("server_error", ServerError),
                ("overloaded", Overloaded),
                ("context_overflow", ContextOverflow),
                ("content_policy", ContentPolicy),
                ("format", Format),
                ("model_not_found", ModelNotFound),
                ("empty", EmptyResponse),
                ("stream_error_after(0)", interrupted),
            ] {
                let f = client
                    .call(script, &request(stream), &no_secrets(), &clock())
                    .await
                    .unwrap_err();
                assert_eq!(f.class, class, "{kind} stream={stream} {script}: {f}");
                if script == "rate_limit(7)" {
                    assert_eq!(f.retry_after_ms, Some(7_000), "{kind} stream={stream}");
                }
            }
        }
        for script in ["stream_error_after(2)", "stream_break_after(2)"] {
            let f = client
                .call(script, &request(true), &no_secrets(), &clock())
                .await
                .unwrap_err();
            assert_eq!(f.class, StreamInterrupted, "{kind} {script}: {f}");
            // The two chunks before the cut: "sim ", "<model> ".
            let partial = format!("sim {script} ");
            assert_eq!(f.partial, Some(partial), "{kind} {script}");
        }
    }
}

#[tokio::test]
async fn each_wire_sends_the_key_its_own_way_and_never_echoes_it() {
    for kind in WIRES {
        let sim = sim().await;
        sim.require_api_key(Some("sk-right".into()));
        let policy = ServerPolicy::default().with_secret_env(["P_KEY"]).unwrap();
        let client = client_for(
            json!({"kind": kind, "baseUrl": sim.base_url(), "apiKey": {"env": "P_KEY"}, "models": []}),
            &policy,
        );
        let right: HashMap<String, String> = [("P_KEY".to_owned(), "sk-right".to_owned())].into();
        client
            .call("ok", &request(true), &right, &clock())
            .await
            .unwrap_or_else(|f| panic!("{kind}: {f}"));
        assert_eq!(
            client.list_models(&right, &clock()).await.unwrap(),
            Vec::<String>::new(),
            "{kind}: no scripts yet, an empty list"
        );
        let wrong: HashMap<String, String> =
            [("P_KEY".to_owned(), "sk-wrong-0123456789".to_owned())].into();
        for f in [
            client
                .call("ok", &request(false), &wrong, &clock())
                .await
                .unwrap_err(),
            client.list_models(&wrong, &clock()).await.unwrap_err(),
        ] {
            assert_eq!(f.class, FailureClass::Auth, "{kind}: {f}");
            assert!(!f.detail.contains("sk-wrong"), "{kind}: {}", f.detail);
        }
    }
}

/// `kind: sim` with a `wire` speaks that wire; the model lists come from
/// the wire's own endpoint.
#[tokio::test]
async fn a_sim_provider_speaks_the_wire_it_is_given() {
    for kind in WIRES {
        let sim = sim().await;
        sim.set_script("listed", "ok".parse().unwrap());
        let client = client_for(
            json!({"kind": "sim", "wire": kind, "baseUrl": sim.base_url(), "models": []}),
            &ServerPolicy::default(),
        );
        client
            .call("ok", &request(false), &no_secrets(), &clock())
            .await
            .unwrap_or_else(|f| panic!("{kind}: {f}"));
        assert_eq!(sim.requests()[0].path, path_of(kind));
        assert_eq!(
            client.list_models(&no_secrets(), &clock()).await.unwrap(),
            ["listed"],
            "{kind}"
        );
    }
}

/// The sim holds clients to what the real servers require, so a client
/// that passes here speaks the wire: Anthropic wants its version header and
/// `max_tokens`; Ollama streams NDJSON unless told not to.
#[tokio::test]
async fn the_sim_refuses_what_the_real_servers_refuse() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let root = sim.base_url().trim_end_matches("/v1").to_owned();
    let messages = json!([{"role": "user", "content": "hi"}]);
    let no_version = http
        .post(format!("{root}/v1/messages"))
        .json(&json!({"model": "ok", "max_tokens": 10, "messages": messages}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
    let body: Value = no_version.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("anthropic-version"));
    let no_max = http
        .post(format!("{root}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "ok", "messages": messages}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_max.status(), 400);
    let body: Value = no_max.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
    assert!(sim.requests().is_empty(), "refused before any script step");

    let streamed = http
        .post(format!("{root}/api/chat"))
        .json(&json!({"model": "ok", "messages": messages}))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    assert_eq!(
        streamed.headers()["content-type"],
        "application/x-ndjson",
        "Ollama streams unless `stream: false`"
    );
    let text = streamed.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{text}");
    assert_eq!(lines.last().unwrap()["done"], true, "{text}");
    assert_eq!(lines.last().unwrap()["done_reason"], "stop", "{text}");
}

/// Anthropic's 429 carries `retry-after` and the exhausted limit's reset
/// instant; Ollama's `{"error": …}` line ends a stream that had started.
#[tokio::test]
async fn the_wires_error_headers_and_lines_as_sent() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let root = sim.base_url().trim_end_matches("/v1").to_owned();
    let limited = http
        .post(format!("{root}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "rate_limit(30)", "max_tokens": 10, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let headers = limited.headers().clone();
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(headers["anthropic-ratelimit-requests-remaining"], "0");
    let reset = headers["anthropic-ratelimit-requests-reset"]
        .to_str()
        .unwrap();
    let reset = chrono::DateTime::parse_from_rfc3339(reset).unwrap();
    let left = reset.timestamp() - chrono::Utc::now().timestamp();
    assert!((28..=30).contains(&left), "{left}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let overloaded = http
        .post(format!("{root}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "overloaded", "max_tokens": 10, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(overloaded.status().as_u16(), 529);

    let cut = http
        .post(format!("{root}/api/chat"))
        .json(&json!({"model": "stream_error_after(1)", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(cut.status(), 200);
    let text = cut.text().await.unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        last,
        json!({"error": "an error was encountered while running the model"})
    );
}

/// A drill stands in for an Ollama or Anthropic provider with a sim that
/// speaks its wire, so every class a drill offers there shows on the trail
/// at that candidate, produced in that wire's own shapes.
#[tokio::test]
async fn drills_cover_both_wires() {
    use engine::config::Config;
    use engine::drill::{drill, DrillEnv, DrillOptions, DrillRequest};
    use engine::router::Policy;
    use futures_util::stream::{self, StreamExt};

    let config = Config::from_json(&json!({
        "providers": {
            "claude": {"kind": "anthropic-messages", "baseUrl": "https://api.anthropic.com",
                       "apiKey": {"env": "ANTHROPIC_API_KEY"}, "models": ["claude-sonnet-4-5"]},
            "ollama-cloud": {"kind": "ollama", "baseUrl": "https://ollama.com",
                             "apiKey": {"env": "OLLAMA_API_KEY"}, "models": ["glm-5.1"]}
        },
        "agents": {
            "defaults": {"embeddedHarness": {"runtime": "pi"}},
            "entries": {
                "a": {"model": {"primary": "claude/claude-sonnet-4-5", "fallbacks": ["ollama-cloud/glm-5.1"]}},
                "o": {"model": {"primary": "ollama-cloud/glm-5.1", "fallbacks": ["claude/claude-sonnet-4-5"]}}
            }
        }
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = DrillEnv {
        scratch: dir.path().to_owned(),
        // Native agents only: the Codex stand-in is never started.
        ..DrillEnv::new("/nonexistent/switchyard".into(), Policy::default())
    };
    let mut cases = Vec::new();
    for (agent, candidate) in [
        ("a", "claude/claude-sonnet-4-5"),
        ("o", "ollama-cloud/glm-5.1"),
    ] {
        let options = DrillOptions::of(&config, config.effective_agent(agent).unwrap());
        let offered: Vec<FailureClass> = options.candidates[0]
            .classes
            .iter()
            .filter(|o| o.unavailable.is_none())
            .map(|o| o.class)
            .collect();
        assert!(offered.len() >= 14, "{agent}: {offered:?}");
        cases.extend(offered.into_iter().map(|class| (agent, candidate, class)));
    }
    let results: Vec<_> = stream::iter(cases)
        .map(|(agent, candidate, class)| {
            let (config, env) = (&config, &env);
            async move {
                let request = DrillRequest::parse(agent, candidate, class.as_str()).unwrap();
                (
                    candidate,
                    class,
                    drill(config, &request, env).await.unwrap(),
                )
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for (candidate, class, report) in results {
        let trail: Vec<String> = report
            .trail
            .iter()
            .map(|d| format!("{} {} {} ({})", d.decision, d.candidate, d.reason, d.detail))
            .collect();
        assert!(report.reached, "{candidate} {class}: {trail:#?}");
        let hit = report
            .trail
            .iter()
            .find(|d| d.candidate == candidate && d.reason == class.as_str())
            .unwrap_or_else(|| panic!("{candidate} {class}: {trail:#?}"));
        // Produced in the real provider's wire, not OpenAI's.
        if class == FailureClass::Overloaded {
            let said = if candidate.starts_with("claude") {
                "HTTP 529: Overloaded"
            } else {
                "HTTP 503: server busy"
            };
            assert!(hit.detail.contains(said), "{candidate}: {}", hit.detail);
        }
    }
}

/// `switchyard doctor` lists each wire's models from its own endpoint
/// (`/api/tags`, `/v1/models` with `anthropic-version`), an untagged
/// Ollama model being its `:latest`, and names what is missing.
#[tokio::test]
async fn doctor_lists_models_on_both_wires() {
    use engine::config::Config;
    use engine::doctor::doctor;
    use engine::harness::codex::{CodexAppServer, CodexEnv};
    use engine::router::Router;
    use engine::store::Store;

    let sim = sim().await;
    sim.set_script("glm-5.1:latest", "ok".parse().unwrap());
    sim.set_script("claude-sonnet-4-5", "ok".parse().unwrap());
    let config = Config::from_json(&json!({
        "providers": {
            "claude": {"kind": "anthropic-messages", "baseUrl": sim.base_url(),
                       "models": ["claude-sonnet-4-5"]},
            "local": {"kind": "ollama", "baseUrl": sim.base_url(),
                      "models": ["glm-5.1", "qwen3-coder"]}
        }
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("doctor.db"))
        .await
        .unwrap();
    let router = Router::new(store, clock(), Arc::new(no_secrets()));
    let codex = CodexAppServer::new(CodexEnv {
        default_home: dir.path().join("codex-home"),
        self_exe: "/nonexistent/switchyard".into(),
        policy: Arc::new(ServerPolicy::default()),
    });
    let report = doctor(&config, &router, &codex).await;
    let by_id = |id: &str| {
        report
            .providers
            .iter()
            .find(|p| p.provider == id)
            .unwrap()
            .clone()
    };
    let claude = by_id("claude");
    assert!(claude.ok, "{claude:?}");
    assert_eq!(claude.kind, "anthropic-messages");
    let local = by_id("local");
    assert!(!local.ok);
    assert_eq!(local.kind, "ollama");
    assert_eq!(local.missing_models, ["qwen3-coder"], "{local:?}");
    let paths: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.is_empty(), "listing spends no completion: {paths:?}");
}

//! Every route, every role, a foreign origin. The route lists come from the
//! server itself (the OpenAPI document the handlers generate, and the
//! server-function registry), so a route added without an entry here fails
//! this test, and an entry whose route does not check fails it too.

mod common;

use common::{Api, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The least role a route needs (public routes are listed apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Viewer,
    Operator,
    Admin,
}

/// A REST route: method, path as the OpenAPI document names it, what it
/// needs, and a request that is valid apart from who sends it (so a refusal
/// can only come from the check).
struct Rest {
    method: Method,
    path: &'static str,
    need: Need,
    body: Option<Value>,
}

fn rest_routes() -> Vec<Rest> {
    use Need::*;
    let r = |method: Method, path: &'static str, need: Need, body: Option<Value>| Rest {
        method,
        path,
        need,
        body,
    };
    vec![
        r(Method::GET, "/api/v1/agents", Viewer, None),
        r(Method::GET, "/api/v1/agents/{id}", Viewer, None),
        r(
            Method::PATCH,
            "/api/v1/agents/{id}/harness",
            Operator,
            Some(json!({"fallback": "pi"})),
        ),
        r(Method::GET, "/api/v1/agents/{id}/drill", Viewer, None),
        r(
            Method::POST,
            "/api/v1/agents/{id}/drill",
            Operator,
            Some(json!({"candidate": "openai-codex/gpt-5.3-codex-spark", "inject": "rate_limit"})),
        ),
        r(Method::GET, "/api/v1/config", Viewer, None),
        r(
            Method::PUT,
            "/api/v1/config",
            Admin,
            Some(json!({"config": {}})),
        ),
        r(
            Method::POST,
            "/api/v1/config/validate",
            Viewer,
            Some(json!({})),
        ),
        r(Method::GET, "/api/v1/config/revisions", Viewer, None),
        r(Method::GET, "/api/v1/config/revisions/{id}", Viewer, None),
        r(Method::GET, "/api/v1/config/diff", Viewer, None),
        r(Method::POST, "/api/v1/config/rollback/{id}", Admin, None),
        r(
            Method::POST,
            "/api/v1/config/import",
            Admin,
            Some(json!({"from": "openclaw", "openclaw": "{}"})),
        ),
        r(Method::GET, "/api/v1/config/export", Viewer, None),
        r(Method::GET, "/api/v1/providers", Viewer, None),
        r(
            Method::POST,
            "/api/v1/providers/{id}/test",
            Operator,
            Some(json!({})),
        ),
        r(Method::POST, "/api/v1/harnesses/{id}/check", Operator, None),
        r(Method::GET, "/api/v1/decisions", Viewer, None),
        r(Method::GET, "/api/v1/decisions/stream", Viewer, None),
        r(Method::GET, "/api/v1/jobs", Viewer, None),
        r(Method::POST, "/api/v1/jobs/{id}/run", Operator, None),
        r(Method::POST, "/api/v1/jobs/{id}/enable", Operator, None),
        r(Method::POST, "/api/v1/jobs/{id}/disable", Operator, None),
        r(Method::GET, "/api/v1/runs", Viewer, None),
        r(Method::GET, "/api/v1/runs/{id}", Viewer, None),
        r(Method::POST, "/api/v1/runs/{id}/cancel", Operator, None),
        r(Method::POST, "/api/v1/doctor", Operator, None),
        r(Method::GET, "/api/v1/users", Admin, None),
        r(
            Method::POST,
            "/api/v1/users",
            Admin,
            Some(json!({"name": "mallory", "role": "admin", "password": "correct horse battery"})),
        ),
        r(
            Method::PATCH,
            "/api/v1/users/{name}",
            Admin,
            Some(json!({"role": "admin"})),
        ),
        r(Method::GET, "/api/v1/tokens", Admin, None),
        r(
            Method::POST,
            "/api/v1/tokens",
            Admin,
            Some(json!({"name": "x", "role": "viewer"})),
        ),
        r(Method::POST, "/api/v1/tokens/{id}/revoke", Admin, None),
        r(Method::GET, "/api/v1/audit", Admin, None),
        r(Method::GET, "/api/v1/whoami", Viewer, None),
    ]
}

/// A server function: its endpoint, what it needs, form arguments that are
/// valid apart from who sends them.
type ServerFn = (&'static str, Need, Vec<(&'static str, &'static str)>);

fn server_fns() -> Vec<ServerFn> {
    use Need::*;
    vec![
        ("fleet", Viewer, vec![]),
        (
            "set_agent_harness",
            Operator,
            vec![("agent", "release-engineer"), ("fallback", "none")],
        ),
        ("config_history", Viewer, vec![]),
        ("config_diff", Viewer, vec![("from", "1"), ("to", "1")]),
        ("config_changes_since", Viewer, vec![("from", "1")]),
        ("rollback_config", Admin, vec![("to", "1")]),
        (
            "save_config",
            Admin,
            vec![("base_hash", "x"), ("text", "{}"), ("message", "m")],
        ),
        ("agent_page", Viewer, vec![("agent", "release-engineer")]),
        (
            "set_agent_chain",
            Operator,
            vec![
                ("agent", "release-engineer"),
                ("base_hash", "x"),
                ("chain[0]", "ollama-cloud/glm-5.1"),
                ("message", "m"),
            ],
        ),
        ("providers", Viewer, vec![]),
        (
            "test_provider",
            Operator,
            vec![("provider", "ollama-cloud"), ("model", "glm-5.1")],
        ),
        ("check_harness", Operator, vec![("harness", "codex")]),
        ("jobs", Viewer, vec![]),
        ("run_job", Operator, vec![("job", "qa-regression")]),
        ("runs", Viewer, vec![]),
        ("run_detail", Viewer, vec![("run", "nope")]),
        ("cancel_run", Operator, vec![("run", "nope")]),
        ("drill_options", Viewer, vec![("agent", "release-engineer")]),
        (
            "run_drill",
            Operator,
            vec![
                ("agent", "release-engineer"),
                ("candidate", "openai-codex/gpt-5.3-codex-spark"),
                ("inject", "rate_limit"),
            ],
        ),
        ("whoami", Viewer, vec![]),
        ("access", Admin, vec![]),
        (
            "create_token",
            Admin,
            vec![("name", "x"), ("role", "viewer"), ("agents", "")],
        ),
        ("revoke_token", Admin, vec![("id", "nope")]),
        (
            "add_user",
            Admin,
            vec![
                ("name", "mallory"),
                ("role", "admin"),
                ("password", "correct horse battery"),
            ],
        ),
        (
            "set_user_disabled",
            Admin,
            vec![("name", "admin"), ("disabled", "true")],
        ),
        ("audit", Admin, vec![]),
    ]
}

fn concrete(path: &str) -> String {
    path.replace("/agents/{id}", "/agents/release-engineer")
        .replace("/jobs/{id}", "/jobs/qa-regression")
        .replace("/runs/{id}", "/runs/nope")
        .replace("/providers/{id}", "/providers/ollama-cloud")
        .replace("/harnesses/{id}", "/harnesses/codex")
        .replace("/revisions/{id}", "/revisions/1")
        .replace("/rollback/{id}", "/rollback/1")
        .replace("/users/{name}", "/users/admin")
        .replace("/tokens/{id}", "/tokens/nope")
        + if path == "/api/v1/config/diff" {
            "?from=1&to=1"
        } else {
            ""
        }
}

async fn send_rest(api: &Api, route: &Rest, origin: Option<&str>) -> reqwest::Response {
    let mut req = api
        .http
        .request(
            route.method.clone(),
            format!("{}{}", api.base, concrete(route.path)),
        )
        // Writes of the config need a base; the check must come first anyway.
        .header("if-match", "\"not-the-head\"");
    if let Some(origin) = origin {
        req = req
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site");
    }
    if let Some(body) = &route.body {
        req = req.json(body);
    }
    req.send().await.unwrap()
}

async fn send_fn(
    api: &Api,
    name: &str,
    args: &[(&str, &str)],
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = api
        .http
        .post(format!("{}/console/fn/{name}", api.base))
        .header("accept", "application/json")
        .form(args);
    if let Some(origin) = origin {
        req = req
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site");
    }
    req.send().await.unwrap()
}

/// The role just below `need`, if any.
fn below(need: Need) -> Option<&'static str> {
    match need {
        Need::Viewer => None,
        Need::Operator => Some("viewer"),
        Need::Admin => Some("operator"),
    }
}

#[tokio::test]
async fn every_route_refuses_no_credentials_the_wrong_role_and_a_foreign_origin() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let anonymous = Api::anonymous(server.base.clone());
    let viewer = server.token_client("matrix-viewer", "viewer").await;
    let operator = server.token_client("matrix-operator", "operator").await;
    let head_before = server.get_json("/api/v1/config").await["revision"]["id"].clone();

    // The table covers exactly the routes the server has.
    let doc = anonymous.get_json("/api/v1/openapi.json").await;
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            served.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let listed: BTreeSet<String> = rest_routes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let public: BTreeSet<String> = ["GET /api/v1/openapi.json".to_owned()].into();
    let missing: Vec<_> = served
        .difference(&listed)
        .filter(|r| !public.contains(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without an entry in this test's table: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "table entries the server does not serve: {stale:?}"
    );

    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/console/fn/").to_owned())
        .collect();
    let table: BTreeSet<String> = server_fns()
        .iter()
        .map(|(n, _, _)| (*n).to_owned())
        .collect();
    assert_eq!(
        registered, table,
        "server functions and this test's table differ"
    );

    let mut checked = (0, 0, 0);
    for route in rest_routes() {
        let what = format!("{} {}", route.method, route.path);
        let res = send_rest(&anonymous, &route, None).await;
        assert_eq!(res.status(), 401, "{what} without credentials");
        checked.0 += 1;
        if let Some(role) = below(route.need) {
            let client = if role == "viewer" { &viewer } else { &operator };
            let res = send_rest(client, &route, None).await;
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 403, "{what} as {role}: {body}");
            assert_eq!(body["code"], "forbidden", "{what} as {role}");
            checked.1 += 1;
        }
        if route.method != Method::GET {
            // The admin's own session, from a page elsewhere.
            let res = send_rest(&server.api, &route, Some("http://evil.example")).await;
            assert_eq!(res.status(), 403, "{what} from a foreign origin");
            checked.2 += 1;
        }
    }
    for (name, need, args) in server_fns() {
        let res = send_fn(&anonymous, name, &args, None).await;
        assert_eq!(res.status(), 401, "server fn {name} without credentials");
        checked.0 += 1;
        if let Some(role) = below(need) {
            let client = if role == "viewer" { &viewer } else { &operator };
            let res = send_fn(client, name, &args, None).await;
            let status = res.status();
            let body = res.text().await.unwrap();
            assert_eq!(status, 403, "server fn {name} as {role}: {body}");
            checked.1 += 1;
        }
        let res = send_fn(&server.api, name, &args, Some("http://evil.example")).await;
        assert_eq!(res.status(), 403, "server fn {name} from a foreign origin");
        checked.2 += 1;
    }
    println!(
        "matrix: {} routes refused without credentials, {} refused for the role below, {} refused from a foreign origin",
        checked.0, checked.1, checked.2
    );

    // None of the refused writes changed anything.
    let head_after = server.get_json("/api/v1/config").await["revision"]["id"].clone();
    assert_eq!(head_before, head_after);
    let users = server.get_json("/api/v1/users").await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    server.stop().await;
}

/// A host name that is not ours never reaches a handler (DNS rebinding).
#[tokio::test]
async fn a_foreign_host_name_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    for path in ["/api/v1/agents", "/", "/api/v1/openapi.json", "/login"] {
        let res = server
            .http
            .get(format!("{}{path}", server.base))
            .header("host", "rebound.evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "{path}");
    }
    server.stop().await;
}

/// The chain a cross-site page used: read the config hash through a
/// server function's error redirect, save a config that runs a shell
/// command as the Codex harness, then post to doctor. Every step is refused
/// before it reaches the engine, and nothing leaks the hash.
#[tokio::test]
async fn the_cross_site_chain_to_a_shell_is_refused_at_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let head = server.get_json("/api/v1/config").await;
    let hash = head["revision"]["hash"].as_str().unwrap().to_owned();
    let marker = dir.path().join("pwned");
    let evil = "http://evil.example";

    // 1. A plain cross-site <form> post (no preflight) with the operator's
    //    cookie, asking for form-redirect error handling.
    let res = server
        .http
        .post(format!("{}/console/fn/save_config", server.base))
        .header("origin", evil)
        .header("referer", format!("{evil}/attack.html"))
        .form(&[("base_hash", "guess"), ("text", "{}"), ("message", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert!(location.is_none(), "{location:?}");
    assert!(!body.contains(&hash), "the refusal leaks the head hash");

    // 2. Even with the right hash, a foreign page cannot save a config.
    let mut config = head["config"].clone();
    config["harnesses"]["codex"] = json!({
        "command": ["sh", "-c", format!("id > {}", marker.display())]
    });
    let res = server
        .http
        .post(format!("{}/console/fn/save_config", server.base))
        .header("origin", evil)
        .form(&[
            ("base_hash", hash.as_str()),
            ("text", &config.to_string()),
            ("message", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // 3. Doctor, which spawns the Codex command, from the same page.
    let res = server
        .http
        .post(format!("{}/api/v1/doctor", server.base))
        .header("origin", evil)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(!marker.exists(), "a command ran");
    let after = server.get_json("/api/v1/config").await;
    assert_eq!(after["revision"]["hash"], hash.as_str());
    server.stop().await;
}

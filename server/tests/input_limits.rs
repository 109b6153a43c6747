//! Config input through the server (docs/SECURITY.md): nesting, numbers,
//! identifiers, secrets, base URLs, workspaces and the Codex command are
//! bounded or decided by the server's own settings, whatever a config
//! write says; each test first makes the write that used to get through.

mod common;

use common::TestServer;
use engine::config::policy::ServerPolicy;
use engine::store::{NewRevision, Store};
use serde_json::{json, Value};

/// PUT /api/v1/config on top of the current revision.
async fn put(server: &TestServer, config: Value) -> (u16, Value) {
    let res = server
        .http
        .get(format!("{}/api/v1/config", server.base))
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let res = server
        .http
        .put(format!("{}/api/v1/config", server.base))
        .header("if-match", etag)
        .json(&json!({"config": config, "message": "test"}))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The console's raw editor: JSON5 text, as a plain form post.
async fn save_text(server: &TestServer, text: &str) -> (u16, Value) {
    let doc = server.get_json("/api/v1/config").await;
    let hash = doc["revision"]["hash"].as_str().unwrap().to_owned();
    let res = server
        .http
        .post(format!("{}/console/fn/save_config", server.base))
        .header("accept", "application/json")
        .form(&[
            ("base_hash", hash.as_str()),
            ("text", text),
            ("message", ""),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn paths(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {body}"))
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_owned())
        .collect()
}

fn demo() -> Value {
    engine::sim::demo::fleet_config()
}

#[tokio::test]
async fn deep_nesting_is_refused_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let (_, body) = save_text(&server, &format!("{{x: {deep}}}")).await;
    assert_eq!(body["code"], "invalid", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("line 1, column 68: nested deeper than 64"),
        "{body}"
    );
    let (status, body) = server
        .post_json(
            "/api/v1/config/import",
            json!({"from": "openclaw", "openclaw": format!("{{gateway: {deep}}}")}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("nested deeper"),
        "{body}"
    );

    // The brick: an unknown key 200 deep was stored, and every later read
    // of it (serde_json, 128 levels) answered 500.
    let mut brick = String::from("{agents: {entries: {builder: {notes: ");
    brick.push_str(&"{x: ".repeat(200));
    brick.push('1');
    brick.push_str(&"}".repeat(204));
    let (_, body) = save_text(&server, &brick).await;
    assert_eq!(body["code"], "invalid", "{body}");
    assert_eq!(body["details"][0]["path"], "(text)", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("line 1, column 278: nested deeper than 64"),
        "{body}"
    );
    // A JSON body (serde_json took 128 levels) is held to the same limit.
    let mut config = demo();
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!({ "x": deep });
    }
    config["plugins"] = deep;
    let (status, body) = put(&server, config).await;
    assert_eq!(status, 422, "{body}");
    assert!(paths(&body)[0].starts_with("plugins.x.x"), "{body}");

    let (status, _) = server.get("/api/v1/config").await;
    assert_eq!(status, 200);
    let revisions = server.get_json("/api/v1/config/revisions").await;
    assert_eq!(revisions.as_array().map(Vec::len), Some(1), "{revisions}");
    server.stop().await;
}

#[tokio::test]
async fn numbers_and_identifiers_are_bounded_at_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut config = demo();
    config["agents"]["entries"]["qa-engineer"]["limits"] =
        json!({"wallTimeSeconds": 18_446_744_073_709_551_615u64});
    config["cron"]["jobs"][0]["timeoutSeconds"] = json!(u64::MAX);
    config["cron"]["jobs"][1]["id"] = json!("builder\n2026-01-01 INFO forged \u{1b}[31mline");
    let (status, body) = put(&server, config).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        paths(&body),
        [
            "agents.entries.qa-engineer.limits.wallTimeSeconds",
            "cron.jobs[0].timeoutSeconds",
            "cron.jobs[1].id",
        ]
    );
    let text = body.to_string();
    assert!(
        !text.contains('\u{1b}') && !text.contains("forged \\u001b"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn secrets_base_urls_and_workspaces_follow_the_server_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut config = demo();
    config["providers"]["exfil"] = json!({"kind": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1",
        "apiKey": {"env": "SOME_UNDECLARED_VAR"}, "models": ["m"]});
    config["providers"]["local"] =
        json!({"kind": "openai-chat", "baseUrl": "file:///etc/passwd", "models": ["m"]});
    config["providers"]["meta"] = json!({"kind": "openai-chat",
        "baseUrl": "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "models": ["m"]});
    config["channels"] = json!({"telegram": {"botToken": "123456:AAE-literal-bot-token"}});
    config["agents"]["entries"]["builder"]["workspace"] = json!("/");
    config["agents"]["entries"]["adrian-ceo"]["workspace"] = json!(dir.path());
    let (status, body) = put(&server, config.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        paths(&body),
        [
            "providers.exfil.apiKey.env",
            "providers.local.baseUrl",
            "providers.meta.baseUrl",
            "agents.entries.adrian-ceo.workspace",
            "agents.entries.builder.workspace",
            "channels.telegram.botToken",
        ],
        "{body:#}"
    );
    assert!(!body.to_string().contains("AAE-literal"), "{body}");
    server.stop().await;

    // What the operator declares on the command line, a config may use.
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |s| {
        s.policy = ServerPolicy::default()
            .with_secret_env(["SOME_UNDECLARED_VAR"])
            .unwrap();
    })
    .await;
    config["providers"].as_object_mut().unwrap().remove("local");
    config["providers"].as_object_mut().unwrap().remove("meta");
    config.as_object_mut().unwrap().remove("channels");
    config["agents"]["entries"]["builder"]["workspace"] = json!(dir.path().join("ws/builder"));
    config["agents"]["entries"]["adrian-ceo"]["workspace"] = json!(dir.path().join("ws/ceo"));
    let (status, body) = put(&server, config).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// The cross-site chain ended here: a config write made every Codex run and
/// `doctor` spawn `sh -c …` as the server's user.
#[tokio::test]
async fn the_codex_command_is_the_operators_choice_not_the_configs() {
    let dir = tempfile::tempdir().unwrap();
    let pwned = dir.path().join("pwned");
    let attack = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("id > {}", pwned.display()),
    ];
    let server = TestServer::start(dir.path()).await;
    let mut config = demo();
    config["harnesses"]["codex"] = json!({"command": attack});
    let (status, body) = put(&server, config.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(paths(&body), ["harnesses.codex.command"]);
    assert!(
        body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("--codex-command"),
        "{body}"
    );
    let text = format!("{{harnesses: {{codex: {{command: {}}}}}}}", json!(attack));
    let (_, body) = save_text(&server, &text).await;
    assert_eq!(body["code"], "invalid", "{body}");

    // Written around validation (an old revision, another tool): the
    // launcher refuses it at spawn.
    let store = Store::open_sqlite(&dir.path().join("switchyard.db"))
        .await
        .unwrap();
    let head = store.head_revision().await.unwrap().unwrap().info;
    store
        .append_revision(
            Some(&head),
            NewRevision {
                author: "outside",
                message: "around validation",
                created_at_ms: 0,
                body: &config,
            },
        )
        .await
        .unwrap();
    store.close().await;
    let (status, report) = server.post_json("/api/v1/doctor", json!({})).await;
    assert_eq!(status, 200, "{report}");
    let check = &report["codex"][0];
    assert_eq!(check["ok"], false, "{report}");
    assert_eq!(check["class"], "spawn_failed", "{report}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("not a Codex command this server allows"),
        "{report}"
    );
    assert!(!pwned.exists(), "the config's command was spawned");
    server.stop().await;

    // Allowed by whoever starts the server, the same command runs.
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let allowed = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("echo ok > {}", ran.display()),
    ];
    let server = TestServer::start_with(dir.path(), |s| {
        s.policy = ServerPolicy::default()
            .with_codex_commands(vec![allowed.clone()])
            .unwrap();
    })
    .await;
    let mut config = demo();
    config["harnesses"]["codex"] = json!({"command": allowed});
    let (status, body) = put(&server, config).await;
    assert_eq!(status, 200, "{body}");
    server.post_json("/api/v1/doctor", json!({})).await;
    assert!(ran.exists(), "the allowed command did not run");
    server.stop().await;
}

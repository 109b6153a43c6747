//! Users, sessions, tokens and the audit log through the real server, the
//! CLI and the login form.

mod common;

use common::{login_cookie, Api, TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

fn cli(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SWITCHYARD_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn users_from_the_cli_log_in_and_disabling_ends_their_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let dir_path = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        cli(
            &dir_path,
            &["users", "add", "olga", "--role", "operator"],
            Some("olga-password-123\n"),
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let olga = Api::login(&server.base, "olga", "olga-password-123").await;
    let me = olga.get_json("/api/v1/whoami").await;
    assert_eq!(
        me,
        json!({"name": "user:olga", "role": "operator", "readOnly": false})
    );
    // An operator flips a harness setting; the revision names her.
    let (status, body) = olga
        .patch_json(
            "/api/v1/agents/builder/harness",
            json!({"fallback": "none"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let revisions = server.get_json("/api/v1/config/revisions?limit=1").await;
    assert_eq!(revisions[0]["author"], "user:olga");
    // …but cannot replace the raw config.
    let (status, _) = olga.get("/api/v1/users").await;
    assert_eq!(status, 403);

    // Wrong password, unknown user: the same answer, no cookie.
    assert!(login_cookie(&server.base, "olga", "wrong-password-xx")
        .await
        .is_none());
    assert!(login_cookie(&server.base, "nobody", "wrong-password-xx")
        .await
        .is_none());

    let dir_path = dir.path().to_owned();
    let out =
        tokio::task::spawn_blocking(move || cli(&dir_path, &["users", "disable", "olga"], None))
            .await
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _) = olga.get("/api/v1/whoami").await;
    assert_eq!(status, 401, "a disabled user's session ends at once");
    assert!(login_cookie(&server.base, "olga", "olga-password-123")
        .await
        .is_none());

    // The audit log has the change, the failed logins and who did them.
    let audit = server.get_json("/api/v1/audit?limit=50").await;
    let events = audit.as_array().unwrap();
    let has = |actor: &str, action: &str, result: &str| {
        events
            .iter()
            .any(|e| e["actor"] == actor && e["action"] == action && e["result"] == result)
    };
    assert!(has("user:olga", "agent.harness", "ok"), "{audit}");
    assert!(has("user:olga", "login", "unauthenticated"), "{audit}");
    assert!(has("user:nobody", "login", "unauthenticated"), "{audit}");
    assert!(has("cli", "user.disable", "ok"), "{audit}");
    assert!(events
        .iter()
        .all(|e| e["address"].is_null() || e["address"] == "127.0.0.1"));
    server.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_login_returns_to_the_page_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A page without a session sends the browser to the login page, and back.
    let res = anonymous
        .get(format!("{}/runs?agent=qa-engineer", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/login?next=%2Fruns%3Fagent%3Dqa-engineer");
    // The login page itself answers 200 (not the 401 of the caller check
    // its nav makes).
    let res = anonymous
        .get(format!("{}{location}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Log in to Switchyard"));
    let res = anonymous
        .post(format!("{}/auth/login", server.base))
        .form(&[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/runs?agent=qa-engineer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/runs?agent=qa-engineer");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // `next` never leaves this server.
    let res = anonymous
        .post(format!("{}/auth/login", server.base))
        .form(&[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "//evil.example/x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/");

    let session = cookie.split(';').next().unwrap().to_owned();
    let res = anonymous
        .post(format!("{}/auth/logout", server.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = anonymous
        .get(format!("{}/api/v1/whoami", server.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "the session is revoked, not just the cookie cleared"
    );
    server.stop().await;
}

#[tokio::test]
async fn too_many_failed_logins_are_refused_even_with_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    for _ in 0..10 {
        assert!(login_cookie(&server.base, "admin", "not-the-password")
            .await
            .is_none());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(format!("{}/auth/login", server.base))
        .form(&[("name", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.contains("too%20many") || location.contains("too+many"),
        "{location}"
    );
    server.stop().await;
}

#[tokio::test]
async fn tokens_are_shown_once_narrowed_by_scope_and_revocable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, created) = server
        .post_json(
            "/api/v1/tokens",
            json!({"name": "qa-bot", "role": "operator", "scope": {"agents": ["qa-engineer"]}, "expiresInDays": 30}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let listed = server.get_json("/api/v1/tokens").await;
    assert!(
        !listed.to_string().contains(&secret),
        "a listing shows the secret"
    );
    assert!(
        !std::fs::read(dir.path().join("switchyard.db"))
            .unwrap()
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the secret is stored in clear"
    );

    let bot = Api::with_token(&server.base, &secret);
    let (status, body) = bot
        .post_json("/api/v1/jobs/qa-regression/run", json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, _) = bot
        .post_json("/api/v1/jobs/builder-queue/run", json!({}))
        .await;
    assert_eq!(status, 403, "outside its agents");
    let fleet: Value = bot.get_json("/api/v1/agents").await;
    let agents: Vec<_> = fleet["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(agents, vec![json!("qa-engineer")]);
    let (status, _) = bot.get("/api/v1/config").await;
    assert_eq!(status, 403, "the whole config names every agent");
    let tokens = server.get_json("/api/v1/tokens").await;
    assert!(tokens[0]["lastUsedMs"].is_i64(), "{tokens}");

    // Nobody hands out more than they have.
    let operator = server.token_client("op", "operator").await;
    let (status, _) = operator
        .post_json("/api/v1/tokens", json!({"name": "up", "role": "admin"}))
        .await;
    assert_eq!(status, 403);

    let res = server
        .http
        .post(format!("{}/api/v1/tokens/{id}/revoke", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, _) = bot.get("/api/v1/whoami").await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn viewers_see_runs_but_not_transcripts_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, run) = server
        .post_json("/api/v1/jobs/release-check/run", json!({}))
        .await;
    assert_eq!(status, 202, "{run}");
    let run_id = run["runId"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/runs/{}", engine::runs::encode_segment(&run_id));
    let detail = common::until_finished(&server, &run_id).await;
    assert!(
        !detail["transcript"].as_array().unwrap().is_empty(),
        "{detail}"
    );
    let viewer = server.token_client("v", "viewer").await;
    let seen = viewer.get_json(&path).await;
    assert_eq!(seen["run"]["runId"], run_id.as_str());
    assert_eq!(seen["transcript"], json!([]));
    assert_eq!(seen["logs"], json!([]));
    assert!(!seen["decisions"].as_array().unwrap().is_empty());
    server.stop().await;
}

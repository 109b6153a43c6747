//! Single sign-on against a real OpenID provider: panva's `oidc-provider`
//! (pinned in `server/tests/oidc/package-lock.json`, installed into
//! `server/tests/oidc/node_modules` on first use) on a loopback port,
//! started by each test with a client whose redirect URI is the test
//! server's callback. The "browser" is a reqwest client that follows no
//! redirect by itself and keeps cookies by hand, so each hop is visible.
//!
//! Where node or npm is missing or the registry cannot be reached, the
//! tests that need the provider print `SKIP: …` and pass.

mod common;

use common::TestServer;
use serde_json::Value;
use server::settings::{OidcSettings, Password};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

const CLIENT_SECRET: &str = "test-client-secret-0123456789";

/// `node_modules` for the provider, installed once per test process.
fn provider_dir() -> Option<&'static Path> {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        if Command::new("node").arg("--version").output().is_err() {
            return Err("node not found on PATH".into());
        }
        if !dir
            .join("node_modules/oidc-provider/package.json")
            .is_file()
        {
            let out = Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--prefer-offline",
                    "--fetch-retries=1",
                    "--fetch-retry-mintimeout=2000",
                    "--fetch-retry-maxtimeout=5000",
                    "--loglevel=error",
                ])
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("npm not runnable: {e}"))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                let reason = err
                    .lines()
                    .find(|l| l.contains("npm error code"))
                    .or(err.lines().last())
                    .unwrap_or("no output");
                return Err(format!(
                    "npm ci in {} failed ({reason}); registry unreachable?",
                    dir.display()
                ));
            }
        }
        Ok(dir)
    });
    match ready {
        Ok(dir) => Some(dir.as_path()),
        Err(reason) => {
            // Under CI the registry is reachable: a skip means the install
            // broke, and a green run would hide it.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the OpenID provider is not available under CI=true: {reason}"
            );
            // Straight to the stderr handle: libtest captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: OpenID provider not available: {reason}"
            );
            None
        }
    }
}

/// The provider process; killed when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    /// Starts it and waits for the line that says it listens.
    fn start(dir: &Path, redirect_uri: &str, log: &Path) -> Provider {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .args([redirect_uri, CLIENT_SECRET])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("starting node provider.mjs");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let issuer = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("issuer ").map(str::to_owned))
            .unwrap_or_else(|| {
                panic!(
                    "the provider exited before listening: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        // Its stdout stays open (node dies of EPIPE otherwise), drained.
        std::thread::spawn(move || lines.for_each(drop));
        Provider { child, issuer }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oidc_settings(issuer: &str) -> OidcSettings {
    OidcSettings {
        issuer: issuer.to_owned(),
        client_id: "switchyard".into(),
        client_secret: Password(CLIENT_SECRET.into()),
        redirect_url: None,
        role_claim: "groups".into(),
        role_map: vec![
            (engine::identity::Role::Admin, "switchyard-admins".into()),
            (
                engine::identity::Role::Operator,
                "switchyard-operators".into(),
            ),
        ],
        username_claim: "preferred_username".into(),
        scopes: vec!["profile".into(), "email".into(), "groups".into()],
    }
}

/// A test server with single sign-on through a fresh provider; `None`
/// (after a SKIP line) where the provider cannot run.
async fn start() -> Option<(TestServer, Provider, tempfile::TempDir)> {
    let dir = provider_dir()?;
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("provider.log");
    let mut provider = None;
    let server = TestServer::start_with(data.path(), |settings| {
        // The server's port is known once it is bound, and the provider
        // must know the redirect URI before it starts.
        let redirect = format!("http://{}/auth/oidc/callback", settings.bind);
        let p = Provider::start(dir, &redirect, &log);
        settings.oidc = Some(oidc_settings(&p.issuer));
        provider = Some(p);
    })
    .await;
    Some((server, provider.unwrap(), data))
}

/// A browser: cookies by name (everything here is on 127.0.0.1, and
/// cookies do not tell ports apart), no automatic redirects.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let mut request = self.http.get(url);
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", header);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let attrs = attrs.to_ascii_lowercase();
            if value.is_empty() || attrs.contains("max-age=0") || attrs.contains("1970") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        response
    }

    /// Starts a login at `base` and follows the provider's redirects as
    /// `account` until the provider sends the browser back: returns that
    /// callback URL, unvisited.
    async fn through_provider(&mut self, base: &str, account: &str, next: &str) -> String {
        let res = self
            .get(&format!("{base}/auth/oidc/login?next={}", urlencode(next)))
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            set.starts_with("switchyard_oidc_state=")
                && set.contains("HttpOnly")
                && set.contains("SameSite=Lax")
                && set.contains("Path=/auth/oidc/"),
            "{set}"
        );
        let mut url = location(&res);
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.contains("nonce=") && url.contains("state="), "{url}");
        // The person at the keyboard picks their account.
        url.push_str(&format!("&login_hint={account}"));
        for _ in 0..10 {
            let res = self.get(&url).await;
            assert!(
                res.status().is_redirection(),
                "{url}: {} {}",
                res.status(),
                res.text().await.unwrap()
            );
            let next = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location(&res))
                .unwrap()
                .to_string();
            if next.starts_with(&format!("{base}/auth/oidc/callback")) {
                return next;
            }
            url = next;
        }
        panic!("the provider never sent the browser back");
    }

    /// Visits the callback: `Ok(session cookie)` when it logged in,
    /// `Err(message)` when it sent the browser back to the login page.
    async fn finish(&mut self, callback: &str, next: &str) -> Result<String, String> {
        let res = self.get(callback).await;
        match res.status().as_u16() {
            200 => {
                let session = res
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .find(|c| c.starts_with("switchyard_session="))
                    .expect("a session cookie");
                assert!(
                    session.contains("HttpOnly") && session.contains("SameSite=Strict"),
                    "{session}"
                );
                let body = res.text().await.unwrap();
                assert!(
                    body.contains(&format!("url={next}")),
                    "the page continues to {next}: {body}"
                );
                Ok(session.split(';').next().unwrap().to_owned())
            }
            303 => {
                assert!(
                    res.headers()
                        .get("set-cookie")
                        .is_none_or(|c| !c.to_str().unwrap().starts_with("switchyard_session=")),
                    "a refused login sets no session"
                );
                let to = location(&res);
                let url = reqwest::Url::parse(&format!("http://x{to}")).unwrap();
                assert_eq!(url.path(), "/login", "{to}");
                let error = url
                    .query_pairs()
                    .find(|(k, _)| k == "error")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_else(|| panic!("no error in {to}"));
                Err(error)
            }
            other => panic!("callback answered {other}: {}", res.text().await.unwrap()),
        }
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn whoami(base: &str, session: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/whoami"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn login(server: &TestServer, account: &str, next: &str) -> Result<String, String> {
    let mut browser = Browser::new();
    let callback = browser.through_provider(&server.base, account, next).await;
    browser.finish(&callback, next).await
}

#[tokio::test]
async fn mapped_groups_log_in_with_their_roles() {
    let Some((server, provider, _dir)) = start().await else {
        return;
    };
    // alice: groups [staff, switchyard-admins] → admin, back where she was.
    let session = login(&server, "alice", "/runs?agent=qa").await.unwrap();
    let (status, me) = whoami(&server.base, &session).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "user:alice", "{me}");
    assert_eq!(me["role"], "admin", "{me}");

    // olga: groups "switchyard-operators" (a string, not an array).
    let session = login(&server, "olga", "/").await.unwrap();
    let (_, me) = whoami(&server.base, &session).await;
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("user:olga"), Some("operator"))
    );
    // The session is an ordinary one: an operator may not administer.
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/users", server.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // A second login is the same user, not a new one.
    login(&server, "alice", "/").await.unwrap();
    let users = server.get_json("/api/v1/users").await;
    let sso: Vec<_> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["source"] == format!("oidc:{}", provider.issuer))
        .map(|u| (u["name"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(sso, [("alice", "admin"), ("olga", "operator")], "{users}");

    let audit = server.get_json("/api/v1/audit?limit=50").await;
    let ok: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login.sso" && e["result"] == "ok")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(ok.len(), 3, "{audit}");
    assert!(
        ok.contains(&"user:alice") && ok.contains(&"user:olga"),
        "{audit}"
    );
    server.stop().await;
}

#[tokio::test]
async fn users_without_a_mapped_group_or_a_usable_name_are_refused() {
    let Some((server, _provider, _dir)) = start().await else {
        return;
    };
    // carol's only group is `staff`: no role, not a viewer by default.
    let error = login(&server, "carol", "/").await.unwrap_err();
    assert!(
        error.contains("`carol` has no Switchyard role") && error.contains("--oidc-role-map"),
        "{error}"
    );
    // No `groups` claim at all.
    let error = login(&server, "nogroups", "/").await.unwrap_err();
    assert!(error.contains("has no Switchyard role"), "{error}");
    // A user name that would forge audit and log lines.
    let error = login(&server, "mallory", "/").await.unwrap_err();
    assert!(
        error.contains("`preferred_username` claim `mallory <script>` is not a usable user name"),
        "{error}"
    );
    // The provider's `admin` is not the server's password admin.
    let error = login(&server, "impostor", "/").await.unwrap_err();
    assert!(
        error.contains("user `admin` exists and logs in with password"),
        "{error}"
    );
    let users = server.get_json("/api/v1/users").await;
    assert_eq!(users.as_array().unwrap().len(), 1, "only admin: {users}");
    let audit = server.get_json("/api/v1/audit?limit=50").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "login.sso"
                && e["actor"] == "user:carol"
                && e["result"] == "forbidden"),
        "{audit}"
    );
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "login.sso"
                && e["actor"] == "user:admin"
                && e["result"] == "forbidden"),
        "{audit}"
    );
    server.stop().await;
}

#[tokio::test]
async fn tampered_foreign_and_replayed_answers_are_refused() {
    let Some((server, _provider, _dir)) = start().await else {
        return;
    };
    let base = &server.base;

    // A state the server never issued.
    let mut browser = Browser::new();
    let callback = browser.through_provider(base, "alice", "/").await;
    let tampered = with_state(&callback, "forged-state");
    let error = browser.finish(&tampered, "/").await.unwrap_err();
    assert!(
        error.contains("unknown, has expired or was already used"),
        "{error}"
    );

    // Login CSRF: the attacker's own answer, opened in the victim's
    // browser (which has no state cookie for it), logs nobody in.
    let mut attacker = Browser::new();
    let attackers = attacker.through_provider(base, "alice", "/").await;
    let mut victim = Browser::new();
    let error = victim.finish(&attackers, "/").await.unwrap_err();
    assert!(
        error.contains("does not belong to a login started in this browser"),
        "{error}"
    );
    // … and that answer is spent: not even the attacker can use it now.
    let error = attacker.finish(&attackers, "/").await.unwrap_err();
    assert!(error.contains("already used"), "{error}");

    // Replay: a login that worked, sent again with the same cookie.
    let mut browser = Browser::new();
    let callback = browser.through_provider(base, "olga", "/jobs").await;
    let cookie = browser.cookies["switchyard_oidc_state"].clone();
    let session = browser.finish(&callback, "/jobs").await.unwrap();
    assert_eq!(whoami(base, &session).await.0, 200);
    browser
        .cookies
        .insert("switchyard_oidc_state".into(), cookie);
    let error = browser.finish(&callback, "/jobs").await.unwrap_err();
    assert!(error.contains("already used"), "{error}");

    let audit = server.get_json("/api/v1/audit?limit=50").await;
    let ok = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login.sso" && e["result"] == "ok")
        .count();
    assert_eq!(ok, 1, "only the one real login: {audit}");
    server.stop().await;
}

/// `url` with its `state` parameter replaced.
fn with_state(url: &str, state: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                state.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// A provider that is down does not stop the server: it starts, the
/// login page offers single sign-on, password login works, and starting
/// a single sign-on login says what is wrong. Needs no node.
#[tokio::test]
async fn a_provider_that_is_down_does_not_stop_the_server() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), |settings| {
        settings.oidc = Some(oidc_settings(&issuer));
    })
    .await;
    let label = issuer.trim_start_matches("http://");
    let page = reqwest::get(format!("{}/login?next=/runs", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Leptos puts a hydration marker between the text and the value.
    let link = page
        .split("data-testid=\"sso-login\"")
        .nth(1)
        .and_then(|rest| rest.split("</a>").next())
        .unwrap_or_else(|| panic!("no single sign-on link: {page}"));
    assert!(
        link.contains("Log in with ") && link.contains(label),
        "{link}"
    );
    assert!(
        page.contains("href=\"/auth/oidc/login?next=/runs\""),
        "{page}"
    );
    let mut browser = Browser::new();
    let res = browser
        .get(&format!("{}/auth/oidc/login?next=/runs", server.base))
        .await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.starts_with("/login?error="), "{to}");
    let to = reqwest::Url::parse(&format!("http://x{to}")).unwrap();
    let error = to.query_pairs().find(|(k, _)| k == "error").unwrap().1;
    assert!(error.contains("cannot be reached"), "{error}");
    server.stop().await;
}

/// The provider would send the browser to a name this server refuses
/// (421): caught at start, not at the first login.
#[tokio::test]
async fn a_redirect_url_this_server_does_not_answer_to_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings =
        server::settings::Settings::for_data_dir(listener.local_addr().unwrap(), data.path());
    let mut oidc = oidc_settings("https://login.example.com");
    oidc.redirect_url = Some(
        "https://switchyard.example.com/auth/oidc/callback"
            .parse()
            .unwrap(),
    );
    settings.oidc = Some(oidc);
    let err = server::serve::serve(settings, listener, std::future::pending())
        .await
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("does not answer to `switchyard.example.com`") && err.contains("--public-url"),
        "{err}"
    );
}

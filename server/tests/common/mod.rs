//! A real server on port 0 with its own SQLite file, for integration tests.
#![allow(dead_code)]

use serde_json::Value;
use server::settings::{Password, Settings};

/// The first admin's password in every test server.
pub const ADMIN_PASSWORD: &str = "test-admin-password";
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub api: Api,
    /// An admin API token, for the CLI (`SWITCHYARD_TOKEN`).
    pub admin_token: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl std::ops::Deref for TestServer {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The REST API of a server at `base`, in-process or a child process.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(data_dir: &std::path::Path) -> Self {
        Self::start_with(data_dir, |_| {}).await
    }

    /// With `change` applied to the settings first (a policy, say).
    pub async fn start_with(
        data_dir: &std::path::Path,
        change: impl FnOnce(&mut Settings),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let mut settings = Settings::for_data_dir(addr, data_dir);
        settings.self_exe = Some(env!("CARGO_BIN_EXE_switchyard").into());
        settings.admin_password = Some(Password(ADMIN_PASSWORD.into()));
        change(&mut settings);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve::serve(settings, listener, async {
            let _ = stopped.await;
        }));
        let api = Api::login(&format!("http://{addr}"), "admin", ADMIN_PASSWORD).await;
        let (status, token) = api
            .post_json(
                "/api/v1/tokens",
                serde_json::json!({"name": "test-admin", "role": "admin"}),
            )
            .await;
        assert_eq!(status, 201, "{token}");
        TestServer {
            addr,
            admin_token: token["secret"].as_str().unwrap().to_owned(),
            api,
            stop: Some(stop),
            task,
        }
    }

    /// Graceful shutdown, waiting until the store is closed.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

impl Api {
    /// No credentials at all.
    pub fn anonymous(base: String) -> Api {
        Api {
            base,
            http: reqwest::Client::new(),
        }
    }

    /// Sends `Authorization: Bearer <token>` on every request.
    pub fn with_token(base: &str, token: &str) -> Api {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    /// Logs in through the console's login form and sends the session
    /// cookie on every request.
    pub async fn login(base: &str, name: &str, password: &str) -> Api {
        let cookie = login_cookie(base, name, password)
            .await
            .unwrap_or_else(|| panic!("login as {name} at {base} failed"));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A new API token with `role` (created by this client, which must be
    /// allowed to), as a client that sends it.
    pub async fn token_client(&self, name: &str, role: &str) -> Api {
        let (status, body) = self
            .post_json(
                "/api/v1/tokens",
                serde_json::json!({"name": name, "role": role}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        Api::with_token(&self.base, body["secret"].as_str().unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// GET `path` and parse the JSON body, whatever the status.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn patch_json(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .patch(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// Replaces the whole config (GET for the ETag, then PUT with If-Match);
    /// asserts it was stored.
    pub async fn put_config(&self, config: Value) {
        let res = self
            .http
            .get(format!("{}/api/v1/config", self.base))
            .send()
            .await
            .unwrap();
        // No ETag on an empty database: `""` says "based on nothing".
        let etag = res
            .headers()
            .get("etag")
            .map_or("\"\"", |v| v.to_str().unwrap())
            .to_owned();
        let res = self
            .http
            .put(format!("{}/api/v1/config", self.base))
            .header("if-match", etag)
            .json(&serde_json::json!({"config": config, "message": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    pub async fn agents(&self) -> Value {
        let (status, body) = self.get("/api/v1/agents").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// `switchyard serve` as a child process on port 0, for tests that kill it
/// (SIGKILL gives it no chance to clean up, which is the point). Killed when
/// dropped, so a failing test leaves no server holding connections.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub api: Api,
}

impl std::ops::Deref for ServeProcess {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// `name=value` of the session cookie a good login sets; `None` otherwise.
pub async fn login_cookie(base: &str, name: &str, password: &str) -> Option<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/auth/login"))
        .form(&[("name", name), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap();
    let cookie = res.headers().get("set-cookie")?.to_str().ok()?;
    let pair = cookie.split(';').next()?.trim();
    (pair.len() > "switchyard_session=".len()).then(|| pair.to_owned())
}

impl ServeProcess {
    /// Serves `data_dir` with `extra` flags; returns once it listens.
    pub async fn spawn(data_dir: &std::path::Path, extra: &[&str], rust_log: &str) -> ServeProcess {
        Self::spawn_with(data_dir, extra, rust_log, &[], std::process::Stdio::null()).await
    }

    /// With extra environment variables, and its stderr (the log) to `stderr`.
    pub async fn spawn_with(
        data_dir: &std::path::Path,
        extra: &[&str],
        rust_log: &str,
        env: &[(&str, &str)],
        stderr: std::process::Stdio,
    ) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--site-root")
            .arg(data_dir.join("site"))
            .env("RUST_LOG", rust_log)
            .env("SWITCHYARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let line = std::io::BufReader::new(child.stdout.take().unwrap())
            .lines()
            .next()
            .unwrap()
            .unwrap();
        let base = line
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        let api = Api::login(&base, "admin", ADMIN_PASSWORD).await;
        ServeProcess { child, api }
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls a run until it has ended (a state change a test in another
/// process cannot subscribe to), failing after 10 s.
pub async fn until_finished(server: &Api, run_id: &str) -> Value {
    let path = format!("/api/v1/runs/{}", engine::runs::encode_segment(run_id));
    for _ in 0..400 {
        let detail = server.get_json(&path).await;
        let status = detail["run"]["status"].as_str().unwrap_or("").to_owned();
        if !matches!(status.as_str(), "queued" | "running") {
            return detail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("run {run_id} did not finish");
}

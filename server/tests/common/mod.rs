//! A real server on port 0 with its own SQLite file, for integration tests.
#![allow(dead_code)]

use serde_json::Value;
use server::settings::{Database, Settings};
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub api: Api,
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
        let mut settings = Settings {
            bind: addr,
            data_dir: data_dir.to_owned(),
            database: Database::Sqlite(data_dir.join("switchyard.db")),
            site_root: data_dir.join("site"),
            seed_demo: true,
            lease_ms: 30_000,
            cron_slots: 4,
            fire_lookahead_ms: engine::scheduler::DEFAULT_FIRE_LOOKAHEAD_MS,
            self_exe: Some(env!("CARGO_BIN_EXE_switchyard").into()),
            policy: Default::default(),
        };
        change(&mut settings);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve::serve(settings, listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            api: Api::new(format!("http://{addr}")),
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
    pub fn new(base: String) -> Api {
        Api {
            base,
            http: reqwest::Client::new(),
        }
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

impl ServeProcess {
    /// Serves `data_dir` with `extra` flags; returns once it listens.
    pub fn spawn(data_dir: &std::path::Path, extra: &[&str], rust_log: &str) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--site-root")
            .arg(data_dir.join("site"))
            .env("RUST_LOG", rust_log)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
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
        ServeProcess {
            child,
            api: Api::new(base),
        }
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

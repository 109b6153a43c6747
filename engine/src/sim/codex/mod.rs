//! `switchyard sim codex-app-server --behave <script>`: a stand-in for
//! `codex app-server` that speaks the same line protocol (DESIGN §4) and
//! misbehaves on request (see [`behave`]). The harness suite runs it as a
//! real subprocess; the demo fleet and the Drill page use it so nobody needs
//! a ChatGPT login to watch a crash being handed off.
//!
//! Where the real binary's behaviour is known it is copied: provider
//! rejections carry its error text, `-c model_provider=<unknown>` exits 1
//! with its message, unknown methods get no reply, closing stdin ends it.

pub mod behave;

pub use behave::{Behaviour, Turn};

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

/// Providers every Codex knows without per-thread config.
const BUILTIN_PROVIDERS: [&str; 4] = ["openai", "ollama", "lmstudio", "amazon-bedrock"];

/// Runs the stand-in on this process's stdio until stdin closes. Returns
/// the exit code.
pub async fn serve(behaviour: Behaviour, overrides: &[String]) -> i32 {
    if let Some(provider) = overrides
        .iter()
        .find_map(|o| o.strip_prefix("model_provider="))
        .map(|p| p.trim_matches('"'))
    {
        if !BUILTIN_PROVIDERS.contains(&provider) {
            eprintln!("Error: Model provider `{provider}` not found");
            return 1;
        }
    }
    // Tests find the process (and check its group died) by this file.
    if let Some(home) = std::env::var_os("CODEX_HOME") {
        let _ = std::fs::write(
            PathBuf::from(home).join("sim-codex.pid"),
            std::process::id().to_string(),
        );
    }
    match behaviour {
        Behaviour::Crash => return crash_at_start(),
        Behaviour::CrashOnce => {
            let marker = std::env::var_os("CODEX_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join(".sim-crashed-once");
            if !marker.exists() {
                let _ = std::fs::write(&marker, b"crashed once\n");
                return crash_at_start();
            }
        }
        Behaviour::HangHandshake => {
            // Reads (so the client's writes never block) and never answers.
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(_)) = lines.next_line().await {}
            return 0;
        }
        Behaviour::Turns { .. } => {}
    }
    Server::new(behaviour).run().await
}

fn crash_at_start() -> i32 {
    eprintln!("Error: sim codex-app-server: crashing at start as scripted (behaviour `crash`)");
    1
}

struct Thread {
    model: String,
}

struct Server {
    behaviour: Behaviour,
    out: mpsc::UnboundedSender<Value>,
    out_rx: Option<mpsc::UnboundedReceiver<Value>>,
    threads: HashMap<String, Thread>,
    turns: Arc<Mutex<HashMap<String, CancellationToken>>>,
    next: u64,
    /// Set by a `hang` turn: the process stops answering anything.
    hung: CancellationToken,
}

impl Server {
    fn new(behaviour: Behaviour) -> Self {
        let (out, out_rx) = mpsc::unbounded_channel();
        Server {
            behaviour,
            out,
            out_rx: Some(out_rx),
            threads: HashMap::new(),
            turns: Arc::default(),
            next: 0,
            hung: CancellationToken::new(),
        }
    }

    async fn run(mut self) -> i32 {
        let mut rx = self.out_rx.take().expect("receiver");
        let writer = tokio::spawn(async move {
            let mut stdout = tokio::io::stdout();
            while let Some(message) = rx.recv().await {
                let mut line = message.to_string();
                line.push('\n');
                if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err()
                {
                    break;
                }
            }
        });
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if self.hung.is_cancelled() {
                continue;
            }
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                // The real server ignores lines it cannot parse.
                continue;
            };
            self.handle(message).await;
        }
        if self.hung.is_cancelled() {
            // A hung process does not notice its stdin closing either.
            std::future::pending::<()>().await;
        }
        drop(self.out);
        let _ = writer.await;
        0
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}", self.next)
    }

    async fn handle(&mut self, message: Value) {
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            return;
        };
        let Some(id) = message.get("id").cloned() else {
            return; // notifications (`initialized`) need nothing
        };
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let reply = match method {
            "initialize" => Ok(
                json!({"userAgent": format!("switchyard-sim-codex/{}", env!("CARGO_PKG_VERSION"))}),
            ),
            "thread/start" => self.thread_start(&params),
            "turn/start" => self.turn_start(&params).await,
            "turn/interrupt" => {
                let turn = params.get("turnId").and_then(Value::as_str).unwrap_or("");
                if let Some(token) = self.turns.lock().await.get(turn) {
                    token.cancel();
                }
                Ok(json!({}))
            }
            // The real server's reply to a method it does not know.
            other => Err(format!(
                "Invalid request: unknown variant `{other}`, expected one of `initialize`, `thread/start`, `turn/start`, `turn/interrupt`"
            )),
        };
        let message = match reply {
            Ok(result) => json!({"id": id, "result": result}),
            Err(message) => json!({"id": id, "error": {"code": -32600, "message": message}}),
        };
        let _ = self.out.send(message);
    }

    fn thread_start(&mut self, params: &Value) -> Result<Value, String> {
        let model = params
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("gpt-5.4")
            .to_owned();
        let provider = params
            .get("modelProvider")
            .and_then(Value::as_str)
            .unwrap_or("openai");
        if self.behaviour.turn(&model) == Turn::UnknownProvider {
            return Err(format!(
                "failed to load configuration: Model provider `{provider}` not found"
            ));
        }
        let config = params.get("config").and_then(Value::as_object);
        let injected = config.and_then(|c| c.get(&format!("model_providers.{provider}")));
        if BUILTIN_PROVIDERS.contains(&provider) && injected.is_some() {
            return Err(format!(
                "failed to load configuration: model_providers contains reserved built-in provider IDs: `{provider}`. Built-in providers cannot be overridden. Rename your custom provider (for example, `{provider}-custom`).\nin `model_providers`\n"
            ));
        }
        match injected.and_then(Value::as_object) {
            Some(p) => check_injected(p)?,
            None if BUILTIN_PROVIDERS.contains(&provider) => {}
            None => {
                return Err(format!(
                    "failed to load configuration: Model provider `{provider}` not found"
                ))
            }
        }
        let id = self.id("thr");
        self.threads.insert(
            id.clone(),
            Thread {
                model: model.clone(),
            },
        );
        Ok(json!({"thread": {"id": id}, "model": model, "modelProvider": provider}))
    }

    async fn turn_start(&mut self, params: &Value) -> Result<Value, String> {
        let thread_id = params.get("threadId").and_then(Value::as_str).unwrap_or("");
        let Some(model) = self.threads.get(thread_id).map(|t| t.model.clone()) else {
            return Err(format!("thread not found: {thread_id}"));
        };
        let turn = self.behaviour.turn(&model);
        if turn == Turn::ProtocolError {
            return Err(format!(
                "sim: turn/start refused for `{model}` (behaviour `protocol_error`)"
            ));
        }
        let turn_id = self.id("turn");
        let token = CancellationToken::new();
        self.turns
            .lock()
            .await
            .insert(turn_id.clone(), token.clone());
        let script = TurnScript {
            out: self.out.clone(),
            thread: thread_id.to_owned(),
            turn: turn_id.clone(),
            model,
            interrupted: token,
            hung: self.hung.clone(),
            item: 0,
        };
        tokio::spawn(script.play(turn));
        Ok(json!({"turn": {"id": turn_id, "status": "inProgress", "items": []}}))
    }
}

fn check_injected(p: &Map<String, Value>) -> Result<(), String> {
    if p.get("name").and_then(Value::as_str).is_none() {
        return Err("failed to load configuration: missing field `name`".into());
    }
    if p.get("wire_api").and_then(Value::as_str) == Some("chat") {
        return Err(concat!(
            "failed to load configuration: `wire_api = \"chat\"` is no longer supported.\n",
            "How to fix: set `wire_api = \"responses\"` in your provider config.\n",
            "More info: https://github.com/openai/codex/discussions/7782\n",
            "in `model_providers.p.wire_api`\n"
        )
        .into());
    }
    Ok(())
}

/// One turn's events, in the real server's shapes.
struct TurnScript {
    out: mpsc::UnboundedSender<Value>,
    thread: String,
    turn: String,
    model: String,
    interrupted: CancellationToken,
    hung: CancellationToken,
    item: u32,
}

impl TurnScript {
    fn notify(&self, method: &str, params: Value) {
        let _ = self.out.send(json!({"method": method, "params": params}));
    }

    fn started(&self) {
        self.notify(
            "turn/started",
            json!({"threadId": self.thread, "turn": {"id": self.turn, "status": "inProgress", "items": []}}),
        );
    }

    fn completed(&self, status: &str, error: Value) {
        self.notify(
            "turn/completed",
            json!({"threadId": self.thread, "turn": {"id": self.turn, "status": status, "items": [], "error": error}}),
        );
    }

    fn failed(&self, message: &str, info: Value) {
        self.completed(
            "failed",
            json!({"message": message, "codexErrorInfo": info, "additionalDetails": null}),
        );
    }

    fn retrying(&self, message: &str, info: Value) {
        self.notify(
            "error",
            json!({"threadId": self.thread, "turnId": self.turn, "willRetry": true,
                   "error": {"message": message, "codexErrorInfo": info, "additionalDetails": null}}),
        );
        // The real binary logs every stream retry with its own backoff; a
        // 429 logs the server's Retry-After instead (see `Turn::RateLimit`).
        if !matches!(info.pointer("/responseStreamDisconnected/httpStatusCode"), Some(Value::Number(n)) if n.as_u64() == Some(429))
        {
            eprintln!("2026-01-01T00:00:00.000000Z  WARN codex_core::responses_retry: stream disconnected - retrying sampling request (1/1 in 213ms)... retries=1 max_retries=1");
        }
    }

    /// Streams `text` as one agent-message item, in three deltas.
    fn message(&mut self, text: &str, deltas: Option<usize>) -> String {
        self.item += 1;
        let id = format!("msg_{}_{}", self.turn, self.item);
        self.notify(
            "item/started",
            json!({"threadId": self.thread, "turnId": self.turn, "item": {"type": "agentMessage", "id": id, "text": ""}}),
        );
        let words: Vec<&str> = text.split_inclusive(' ').collect();
        let count = deltas.unwrap_or(words.len()).min(words.len());
        for word in &words[..count] {
            self.notify(
                "item/agentMessage/delta",
                json!({"threadId": self.thread, "turnId": self.turn, "itemId": id, "delta": word}),
            );
        }
        if deltas.is_none() {
            self.notify(
                "item/completed",
                json!({"threadId": self.thread, "turnId": self.turn, "item": {"type": "agentMessage", "id": id, "text": text}}),
            );
        }
        id
    }

    /// Waits `seconds` (forever for `None`) unless interrupted; `true` when
    /// interrupted (and says so).
    async fn wait(&self, seconds: Option<u64>) -> bool {
        let sleep = async {
            match seconds {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => false,
            () = self.interrupted.cancelled() => {
                self.completed("interrupted", Value::Null);
                true
            }
        }
    }

    async fn play(mut self, turn: Turn) {
        self.started();
        let answer = format!("sim codex {} ok", self.model);
        match turn {
            Turn::Ok | Turn::Reply(_) => {
                let text = match &turn {
                    Turn::Reply(t) => t.clone(),
                    _ => answer,
                };
                self.message(&text, None);
                self.notify(
                    "thread/tokenUsage/updated",
                    json!({"threadId": self.thread, "turnId": self.turn,
                           "tokenUsage": {"last": {"inputTokens": 12, "outputTokens": text.split_whitespace().count()}}}),
                );
                self.completed("completed", Value::Null);
            }
            Turn::RateLimit(seconds) => {
                let wait = seconds.unwrap_or(60);
                eprintln!("2026-01-01T00:00:00.000000Z  WARN codex_core::responses_retry: stream disconnected - retrying sampling request (1/1 in {wait}s)... retries=1 max_retries=1 sampling_error=exceeded retry limit, last status: 429 Too Many Requests");
                self.retrying(
                    "Reconnecting... 1/1",
                    json!({"responseStreamDisconnected": {"httpStatusCode": 429}}),
                );
                if !self.wait(Some(wait)).await {
                    self.failed(
                        "exceeded retry limit, last status: 429 Too Many Requests",
                        json!({"responseTooManyFailedAttempts": {"httpStatusCode": 429}}),
                    );
                }
            }
            Turn::UsageLimit => self.failed(
                "You've hit your usage limit. Upgrade to Pro or try again in 2h 5m.",
                json!("usageLimitExceeded"),
            ),
            Turn::Billing => self.failed(
                "unexpected status 402 Payment Required: Insufficient credits",
                json!({"httpConnectionFailed": {"httpStatusCode": 402}}),
            ),
            Turn::BadRequest => self.failed(
                "unexpected status 400 Bad Request: the request was refused",
                json!("badRequest"),
            ),
            Turn::SandboxError => self.failed(
                "sandbox error: the command was denied by the sandbox",
                json!("sandboxError"),
            ),
            Turn::Empty => self.completed("completed", Value::Null),
            Turn::ModelNotFound => self.failed(
                &format!(
                    "The model `{}` does not exist or you do not have access to it.",
                    self.model
                ),
                json!("modelNotFound"),
            ),
            // `env_key` names an unset variable: no request is made.
            Turn::AuthMissing => self.failed(
                "Missing environment variable: `SWITCHYARD_SIM_MISSING_KEY`.",
                json!("other"),
            ),
            Turn::AuthPermanent => {
                self.retrying(
                    "Reconnecting... 1/1",
                    json!({"responseStreamDisconnected": {"httpStatusCode": 403}}),
                );
                if !self.wait(Some(2)).await {
                    self.failed(
                        "unexpected status 403 Forbidden: this account has been deactivated",
                        json!({"httpConnectionFailed": {"httpStatusCode": 403}}),
                    );
                }
            }
            Turn::Auth => {
                self.retrying(
                    "Reconnecting... 1/1",
                    json!({"responseStreamDisconnected": {"httpStatusCode": 401}}),
                );
                if !self.wait(Some(2)).await {
                    self.failed(
                        "unexpected status 401 Unauthorized: invalid api key",
                        json!({"httpConnectionFailed": {"httpStatusCode": 401}}),
                    );
                }
            }
            Turn::ServerError => self.failed(
                "unexpected status 500 Internal Server Error",
                json!("internalServerError"),
            ),
            Turn::Overloaded => self.failed("the server is overloaded", json!("serverOverloaded")),
            Turn::ContextOverflow => self.failed(
                "Codex ran out of room in the model's context window",
                json!("contextWindowExceeded"),
            ),
            Turn::Fail => self.failed("sim: the turn failed", json!("other")),
            Turn::StreamBreakAfter(n) => {
                self.message(&answer, Some(n));
                self.retrying(
                    "stream disconnected before completion; reconnecting 1/1",
                    json!({"responseStreamDisconnected": {"httpStatusCode": null}}),
                );
                self.message(&answer, Some(n));
                self.failed(
                    "stream disconnected before completion: connection closed",
                    json!("other"),
                );
            }
            Turn::Stall => {
                self.wait(None).await;
            }
            // Stop answering anything, interrupts included.
            Turn::Hang => self.hung.cancel(),
            // Refused at thread/start or turn/start.
            Turn::UnknownProvider | Turn::ProtocolError => {}
            Turn::Crash => {
                self.message(&answer, Some(1));
                // Let the writer flush the delta before dying.
                tokio::time::sleep(Duration::from_millis(20)).await;
                eprintln!(
                    "thread 'main' panicked at codex-rs/core/src/codex.rs: sim crash mid-turn"
                );
                std::process::exit(101);
            }
        }
    }
}

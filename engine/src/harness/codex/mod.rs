//! The Codex app-server harness (DESIGN §4): one `codex app-server` process
//! per attempt, in its own process group, with `CODEX_HOME` per agent.
//!
//! A process per attempt costs a handshake (0.1–0.4 s for the real binary)
//! and buys isolation: a crash, a hang or a wedged thread never carries over
//! to the next candidate or run, and killing the group on timeout or cancel
//! is always safe. Every outcome becomes one [`FailureClass`]:
//!
//! | signal | class |
//! |---|---|
//! | command cannot be started | `spawn_failed` |
//! | exits or closes stdout before/while serving | `harness_crashed` (exit code/signal, stderr tail) |
//! | no `initialize` result within the handshake timeout | `handshake_timeout` |
//! | no reply to a request, or no answer to `turn/interrupt` | `harness_hung` |
//! | JSON-RPC error on `initialize` / `turn/start`, garbage on stdout | `protocol_error` |
//! | JSON-RPC error on `thread/start` (provider/config refused) | `provider_not_found` / `model_not_found` |
//! | first `error {willRetry}` with HTTP 401/403/429 | `auth` / `rate_limit`, turn interrupted |
//! | no event within the idle timeout, interrupt answered | `timeout`, turn interrupted |
//! | `turn/completed {failed}` | by `codexErrorInfo` ([`outcome`]) |
//! | completed without text | `empty_response` |

mod outcome;
mod rpc;

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::limits::MAX_TIMEOUT_MS;
use crate::config::policy::ServerPolicy;
use crate::config::{CodexSettings, ProviderKind};
use crate::failure::FailureClass;
use crate::provider::{ChatRequest, Completion, Failure, Role, Usage};
use crate::router::{CallContext, Candidate, CodexHarness};
use rpc::{Gone, Incoming, Peer};

/// How long an answered `turn/interrupt` may take before the process is
/// called hung (the real binary answers within ~15 ms).
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
/// Closing stdin ends a healthy app-server in 15–115 ms.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// Ids Codex reserves for its built-in providers; ours get a prefix.
const RESERVED_PROVIDER_IDS: [&str; 4] = ["openai", "ollama", "lmstudio", "amazon-bedrock"];

/// What the server knows that the config does not.
#[derive(Debug, Clone)]
pub struct CodexEnv {
    /// Parent of the per-agent `CODEX_HOME`s when the config names none.
    pub default_home: PathBuf,
    /// This binary, for `harnesses.codex.sim` (the stand-in).
    pub self_exe: PathBuf,
    /// Which commands may be spawned, which `env_key`s and base URLs a
    /// thread may be given.
    pub policy: Arc<ServerPolicy>,
}

/// The config's `harnesses.codex`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub command: Vec<String>,
    /// Why `command` may not be spawned (not on the server's allow-list);
    /// checked at spawn, whatever validation let through.
    pub refused: Option<String>,
    pub home: PathBuf,
    pub handshake_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub sandbox: String,
}

impl Launch {
    pub fn resolve(settings: &CodexSettings, env: &CodexEnv) -> Launch {
        let policy = &env.policy;
        let (command, refused) = match (&settings.sim, &settings.command) {
            // This binary, with a behaviour script that parsed: always allowed.
            (Some(script), _) => (
                vec![
                    env.self_exe.display().to_string(),
                    "sim".into(),
                    "codex-app-server".into(),
                    "--behave".into(),
                    script.clone(),
                ],
                None,
            ),
            (None, Some(command)) => (
                command.clone(),
                policy.check_codex_command(command).err(),
            ),
            (None, None) => match policy.default_codex_command() {
                Some(command) => (command.to_vec(), None),
                None => (
                    CodexSettings::DEFAULT_COMMAND.map(String::from).to_vec(),
                    Some("no Codex command is allowed on this server; its operator allows one with `switchyard serve --codex-command`".to_owned()),
                ),
            },
        };
        let refused = refused.or_else(|| {
            let home = settings.home.as_ref()?;
            let why = env.policy.check_workspace(home).err()?;
            Some(format!("harnesses.codex.home: {why}"))
        });
        // Bounded like the config: a revision stored before the bounds
        // existed must not overflow a deadline.
        let ms = |v: Option<u64>, d: u64| Duration::from_millis(v.unwrap_or(d).min(MAX_TIMEOUT_MS));
        Launch {
            command,
            refused,
            home: settings
                .home
                .as_ref()
                .map_or_else(|| env.default_home.clone(), PathBuf::from),
            handshake_timeout: ms(
                settings.handshake_timeout_ms,
                CodexSettings::DEFAULT_HANDSHAKE_TIMEOUT_MS,
            ),
            request_timeout: ms(
                settings.request_timeout_ms,
                CodexSettings::DEFAULT_REQUEST_TIMEOUT_MS,
            ),
            idle_timeout: ms(
                settings.idle_timeout_ms,
                CodexSettings::DEFAULT_IDLE_TIMEOUT_MS,
            ),
            sandbox: settings
                .sandbox
                .clone()
                .unwrap_or_else(|| CodexSettings::DEFAULT_SANDBOX.to_owned()),
        }
    }

    /// `<home>/<agent>`, created if missing.
    fn codex_home(&self, agent: &str) -> std::io::Result<PathBuf> {
        let dir = self.home.join(agent);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn program(&self) -> &str {
        self.command.first().map_or("", String::as_str)
    }
}

/// The harness the router calls for codex-family candidates.
pub struct CodexAppServer {
    env: CodexEnv,
}

impl CodexAppServer {
    pub fn new(env: CodexEnv) -> Self {
        CodexAppServer { env }
    }

    pub fn launch(&self, settings: &CodexSettings) -> Launch {
        Launch::resolve(settings, &self.env)
    }

    pub fn env(&self) -> &CodexEnv {
        &self.env
    }
}

impl CodexHarness for CodexAppServer {
    fn attempt<'a>(
        &'a self,
        ctx: &'a CallContext,
        candidate: &'a Candidate,
        settings: &'a CodexSettings,
        request: &'a ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<Completion, Failure>> + Send + 'a>> {
        Box::pin(async move {
            let launch = self.launch(settings);
            let agent = ctx.agent.as_ref().map_or("_", |a| a.as_str());
            let cwd = ctx.cwd.clone().unwrap_or_else(std::env::temp_dir);
            let thread = thread_params(candidate, &launch, &cwd, &self.env.policy)?;
            let key_env = candidate
                .provider
                .as_ref()
                .and_then(|p| p.api_key.as_ref())
                .map(|key| key.env.as_str());
            let mut session = Session::start(&launch, agent, &cwd, key_env).await?;
            let result = session.turn(thread, &prompt(request)).await;
            session.peer.shutdown(SHUTDOWN_GRACE).await;
            result
        })
    }
}

/// The outcome of a handshake check (`switchyard doctor`).
#[derive(Debug, Clone, PartialEq)]
pub struct HandshakeReport {
    pub command: String,
    pub result: Result<Duration, Failure>,
}

/// Starts the command as `agent` would, completes the handshake, and stops.
pub async fn check_handshake(launch: &Launch, agent: &str, cwd: &Path) -> HandshakeReport {
    let started = Instant::now();
    let result = match Session::start(launch, agent, cwd, None).await {
        Ok(session) => {
            let took = started.elapsed();
            session.peer.shutdown(SHUTDOWN_GRACE).await;
            Ok(took)
        }
        Err(failure) => Err(failure),
    };
    HandshakeReport {
        command: launch.command.join(" "),
        result,
    }
}

/// The conversation as one turn's input: Codex keeps its own history and
/// runs its own tools, so it gets the instructions and the task in one text.
fn prompt(request: &ChatRequest) -> String {
    request
        .messages
        .iter()
        .filter(|m| matches!(m.role, Role::System | Role::User))
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// `thread/start` for a candidate. A `kind: codex` provider is Codex's own
/// login (`openai`); any other codex-family provider is injected per thread
/// with Codex's retries off, so the router alone decides about retries.
fn thread_params(
    candidate: &Candidate,
    launch: &Launch,
    cwd: &Path,
    policy: &ServerPolicy,
) -> Result<Value, Failure> {
    let Some(provider) = &candidate.provider else {
        return Err(Failure::new(
            FailureClass::ProviderNotFound,
            format!(
                "provider `{}` is not configured",
                candidate.model.provider()
            ),
        ));
    };
    // The router never sends a non-codex candidate here; if it ever did,
    // this says so instead of letting Codex answer "provider not found".
    if !provider.is_codex_family() {
        return Err(Failure::new(
            FailureClass::HarnessMismatch,
            format!(
                "{} is not a codex-family candidate; the Codex harness never serves it",
                candidate.model
            ),
        ));
    }
    let mut params = json!({
        "model": candidate.model.model(),
        "cwd": cwd,
        "approvalPolicy": "never",
        "sandbox": launch.sandbox,
    });
    if provider.kind == ProviderKind::Codex {
        params["modelProvider"] = json!("openai");
        return Ok(params);
    }
    let Some(base_url) = &provider.base_url else {
        return Err(Failure::new(
            FailureClass::ProviderNotFound,
            format!(
                "provider `{}` has no baseUrl for the Codex harness",
                candidate.model.provider()
            ),
        ));
    };
    // Codex makes the request itself, out of reach of the provider
    // client's checks: the URL and the variable it reads are checked here.
    if let Err(e) = policy.check_base_url(base_url) {
        return Err(Failure::new(
            FailureClass::ProviderNotFound,
            format!(
                "provider `{}`: the base URL {e}",
                candidate.model.provider()
            ),
        ));
    }
    if let Some(key) = &provider.api_key {
        if let Err(e) = policy.check_secret_env(&key.env) {
            return Err(Failure::new(
                FailureClass::AuthMissing,
                format!("apiKey of provider `{}`: {e}", candidate.model.provider()),
            ));
        }
    }
    let id = candidate.model.provider().as_str();
    let id = if RESERVED_PROVIDER_IDS.contains(&id) {
        format!("switchyard-{id}")
    } else {
        id.to_owned()
    };
    let mut entry = Map::new();
    entry.insert("name".into(), json!(id));
    entry.insert("base_url".into(), json!(base_url));
    entry.insert("wire_api".into(), json!("responses"));
    if let Some(key) = &provider.api_key {
        entry.insert("env_key".into(), json!(key.env));
    }
    // Codex's HTTP retries (5xx only) are off: the router decides. One
    // stream retry stays on because only its `willRetry` announcement (and
    // the stderr line with the delay) tells a 429's Retry-After; the client
    // interrupts at that first announcement, so it is never taken.
    entry.insert("request_max_retries".into(), json!(0));
    entry.insert("stream_max_retries".into(), json!(1));
    entry.insert(
        "stream_idle_timeout_ms".into(),
        json!(launch.idle_timeout.as_millis() as u64),
    );
    params["modelProvider"] = json!(id);
    params["config"] = json!({ format!("model_providers.{id}"): entry });
    Ok(params)
}

struct Session<'a> {
    peer: Peer,
    launch: &'a Launch,
}

impl<'a> Session<'a> {
    /// Spawn and handshake (`initialize` → result → `initialized`).
    /// `key_env`: the candidate's provider key variable, the only secret the
    /// process gets.
    async fn start(
        launch: &'a Launch,
        agent: &str,
        cwd: &Path,
        key_env: Option<&str>,
    ) -> Result<Session<'a>, Failure> {
        if let Some(why) = &launch.refused {
            tracing::warn!(command = %crate::config::limits::show(&launch.command.join(" ")), "refused to start a Codex command that is not allowed");
            return Err(Failure::new(
                FailureClass::SpawnFailed,
                format!("did not start the Codex command: {why}"),
            ));
        }
        let home = launch.codex_home(agent).map_err(|e| {
            Failure::new(
                FailureClass::SpawnFailed,
                format!("CODEX_HOME {}: {e}", launch.home.join(agent).display()),
            )
        })?;
        let peer = Peer::spawn(&launch.command, &home, cwd, key_env).map_err(|e| {
            Failure::new(
                FailureClass::SpawnFailed,
                format!("could not start `{}`: {e}", launch.program()),
            )
        })?;
        tracing::info!(pid = ?peer.pid(), command = %launch.command.join(" "), home = %home.display(), "codex app-server started");
        let mut session = Session { peer, launch };
        let init = json!({
            "clientInfo": {"name": "switchyard", "title": "Switchyard", "version": env!("CARGO_PKG_VERSION")},
            "capabilities": {},
        });
        match session
            .peer
            .request("initialize", init, launch.handshake_timeout)
            .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(Failure::new(
                    FailureClass::ProtocolError,
                    format!("initialize refused: {} ({})", e.message, e.code),
                ))
            }
            Err(Gone::TimedOut) => {
                return Err(Failure::new(
                    FailureClass::HandshakeTimeout,
                    format!(
                        "no initialize result within {} ms{}",
                        launch.handshake_timeout.as_millis(),
                        session.stderr_suffix()
                    ),
                ))
            }
            Err(Gone::Closed) => return Err(session.crashed("before the handshake").await),
        }
        if session.peer.notify("initialized", json!({})).await.is_err() {
            return Err(session.crashed("after the handshake").await);
        }
        Ok(session)
    }

    fn stderr_suffix(&self) -> String {
        let tail = self.peer.stderr_tail();
        if tail.is_empty() {
            String::new()
        } else {
            format!("; stderr: {tail}")
        }
    }

    async fn crashed(&mut self, when: &str) -> Failure {
        let exit = self.peer.exit(Duration::from_secs(1)).await;
        Failure::new(
            FailureClass::HarnessCrashed,
            format!(
                "codex app-server exited {when}: {exit}{}",
                self.stderr_suffix()
            ),
        )
    }

    async fn request(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, rpc::RpcError>, Failure> {
        match self
            .peer
            .request(method, params, self.launch.request_timeout)
            .await
        {
            Ok(reply) => Ok(reply),
            Err(Gone::TimedOut) => Err(Failure::new(
                FailureClass::HarnessHung,
                format!(
                    "no reply to {method} within {} ms",
                    self.launch.request_timeout.as_millis()
                ),
            )),
            Err(Gone::Closed) => Err(self.crashed(&format!("during {method}")).await),
        }
    }

    /// One thread and one turn, to `turn/completed`.
    async fn turn(&mut self, thread: Value, input: &str) -> Result<Completion, Failure> {
        let thread_id = match self.request("thread/start", thread).await? {
            Ok(result) => result
                .pointer("/thread/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Failure::new(
                        FailureClass::ProtocolError,
                        "thread/start result has no thread.id",
                    )
                })?,
            Err(e) => return Err(outcome::thread_rejected(&e.message)),
        };
        let turn = json!({"threadId": thread_id, "input": [{"type": "text", "text": input}]});
        let turn_id = match self.request("turn/start", turn).await? {
            Ok(result) => result
                .pointer("/turn/id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Err(e) => {
                return Err(Failure::new(
                    FailureClass::ProtocolError,
                    format!("turn/start refused: {} ({})", e.message, e.code),
                ))
            }
        };
        let mut items = Items::default();
        let mut usage = Usage::default();
        loop {
            let message = match self.peer.next(self.launch.idle_timeout).await {
                Ok(message) => message,
                Err(Gone::Closed) => {
                    let mut failure = self.crashed("mid-turn").await;
                    failure.partial = items.partial();
                    return Err(failure);
                }
                Err(Gone::TimedOut) => {
                    let detail = format!(
                        "no event for {} ms; turn interrupted",
                        self.launch.idle_timeout.as_millis()
                    );
                    return Err(self
                        .interrupt(&thread_id, &turn_id, FailureClass::Timeout, detail, &items)
                        .await);
                }
            };
            let (method, params) = match message {
                Incoming::Notification { method, params } => (method, params),
                Incoming::Request { id, method } => {
                    // Approvals are off (`approvalPolicy: never`); anything
                    // else the server asks is declined so it never waits.
                    let _ = self.peer.decline(id, &method).await;
                    continue;
                }
                Incoming::Reply { .. } => continue,
                Incoming::Malformed(line) => {
                    tracing::debug!(line = %line, "codex app-server wrote a non-JSON line");
                    continue;
                }
            };
            match method.as_str() {
                "item/started" => items.started(&params),
                "item/agentMessage/delta" => items.delta(&params),
                "item/completed" => items.completed(&params),
                "thread/tokenUsage/updated" => {
                    if let Some(last) = params.pointer("/tokenUsage/last") {
                        let n = |k: &str| last.get(k).and_then(Value::as_u64).unwrap_or(0);
                        usage.add(Usage {
                            input_tokens: n("inputTokens"),
                            output_tokens: n("outputTokens"),
                        });
                    }
                }
                "error" => {
                    let info = params
                        .pointer("/error/codexErrorInfo")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let text = params
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let will_retry = params
                        .get("willRetry")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    if !will_retry {
                        continue; // the turn/completed that follows decides
                    }
                    // Codex would retry (or sleep a whole Retry-After, or
                    // reconnect forever to a dead host): the router decides
                    // instead, so interrupt at the first announcement.
                    let more = params
                        .pointer("/error/additionalDetails")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let class =
                        outcome::retry_signal(&info, &text, more, items.partial().is_some());
                    let detail = format!(
                        "codex is retrying: {text}{} ({info}); interrupted at the first signal",
                        if more.is_empty() {
                            String::new()
                        } else {
                            format!(": {more}")
                        }
                    );
                    let mut failure = self
                        .interrupt(&thread_id, &turn_id, class, detail, &items)
                        .await;
                    // A 429's Retry-After shows only in Codex's retry log
                    // line on stderr. The same line follows every other
                    // retry with Codex's own ~200 ms backoff, which is not a
                    // server hint: read it for rate limits only (Codex never
                    // stream-retries a 429 without a Retry-After).
                    if class == FailureClass::RateLimit {
                        failure.retry_after_ms = failure
                            .retry_after_ms
                            .or_else(|| outcome::reset_in_text(&self.peer.stderr_tail()));
                    }
                    return Err(failure);
                }
                "turn/completed" => {
                    let status = params
                        .pointer("/turn/status")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    return match status {
                        "completed" => {
                            let text = items.answer();
                            if text.trim().is_empty() {
                                Err(Failure::new(
                                    FailureClass::EmptyResponse,
                                    "codex completed the turn without an answer",
                                ))
                            } else {
                                Ok(Completion {
                                    text,
                                    tool_calls: Vec::new(),
                                    usage,
                                    finish_reason: Some("stop".into()),
                                })
                            }
                        }
                        "interrupted" => {
                            let mut failure =
                                Failure::new(FailureClass::Cancelled, "the turn was interrupted");
                            failure.partial = items.partial();
                            Err(failure)
                        }
                        _ => {
                            let error = params
                                .pointer("/turn/error")
                                .cloned()
                                .unwrap_or(Value::Null);
                            let text = error
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("the turn failed");
                            let info = error.get("codexErrorInfo").cloned().unwrap_or(Value::Null);
                            Err(outcome::turn_failure(text, &info, items.partial()))
                        }
                    };
                }
                _ => {} // turn/started, item/started, configWarning, …
            }
        }
    }

    /// Interrupts the turn. Answered → the attempt gets `class`; not
    /// answered → the process is hung.
    async fn interrupt(
        &mut self,
        thread_id: &str,
        turn_id: &str,
        class: FailureClass,
        detail: String,
        items: &Items,
    ) -> Failure {
        let params = json!({"threadId": thread_id, "turnId": turn_id});
        let sent = self.peer.send_request("turn/interrupt", params).await;
        let deadline = tokio::time::Instant::now() + INTERRUPT_GRACE;
        let answered = sent.is_ok()
            && loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match self.peer.next(left).await {
                    Ok(Incoming::Notification { method, .. }) if method == "turn/completed" => {
                        break true
                    }
                    Ok(_) => continue,
                    Err(_) => break false,
                }
            };
        let mut failure = if answered {
            Failure::new(class, detail)
        } else {
            Failure::new(
                FailureClass::HarnessHung,
                format!(
                    "{detail}; the process did not answer turn/interrupt within {} ms",
                    INTERRUPT_GRACE.as_millis()
                ),
            )
        };
        failure.partial = items.partial();
        failure
    }
}

/// Agent-message text per item. A broken stream that Codex retries starts a
/// new item and streams again, so items are kept apart and never joined.
#[derive(Default)]
struct Items {
    order: Vec<String>,
    text: HashMap<String, String>,
    done: HashMap<String, String>,
}

impl Items {
    /// A retried stream may reuse the item id: its text starts over.
    fn started(&mut self, params: &Value) {
        let Some(item) = params.get("item") else {
            return;
        };
        if item.get("type").and_then(Value::as_str) != Some("agentMessage") {
            return;
        }
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return;
        };
        self.order.retain(|o| o != id);
        self.order.push(id.to_owned());
        self.text.insert(id.to_owned(), String::new());
        self.done.remove(id);
    }

    fn delta(&mut self, params: &Value) {
        let (Some(id), Some(delta)) = (
            params.get("itemId").and_then(Value::as_str),
            params.get("delta").and_then(Value::as_str),
        ) else {
            return;
        };
        if !self.text.contains_key(id) {
            self.order.push(id.to_owned());
        }
        self.text.entry(id.to_owned()).or_default().push_str(delta);
    }

    fn completed(&mut self, params: &Value) {
        let Some(item) = params.get("item") else {
            return;
        };
        if item.get("type").and_then(Value::as_str) != Some("agentMessage") {
            return;
        }
        let (Some(id), Some(text)) = (
            item.get("id").and_then(Value::as_str),
            item.get("text").and_then(Value::as_str),
        ) else {
            return;
        };
        if !self.text.contains_key(id) {
            self.order.push(id.to_owned());
        }
        self.done.insert(id.to_owned(), text.to_owned());
    }

    /// The last agent message: its final text, else what streamed of it.
    fn answer(&self) -> String {
        self.order
            .last()
            .and_then(|id| self.done.get(id).or_else(|| self.text.get(id)))
            .cloned()
            .unwrap_or_default()
    }

    fn partial(&self) -> Option<String> {
        Some(self.answer()).filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_stream_keeps_items_apart() {
        let mut items = Items::default();
        for (id, d) in [("a", "Hel"), ("a", "lo"), ("b", "Hel"), ("b", "lo w")] {
            items.delta(&json!({"itemId": id, "delta": d}));
        }
        assert_eq!(items.partial().as_deref(), Some("Hello w"));
        // The same id streamed again after a retry starts over.
        items.started(&json!({"item": {"type": "agentMessage", "id": "b", "text": ""}}));
        items.delta(&json!({"itemId": "b", "delta": "Hello w"}));
        assert_eq!(items.partial().as_deref(), Some("Hello w"));
        items.completed(
            &json!({"item": {"type": "agentMessage", "id": "b", "text": "Hello world"}}),
        );
        assert_eq!(items.answer(), "Hello world");
    }
}

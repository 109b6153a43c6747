//! Provider clients: one HTTP attempt at one model, with the provider's
//! timeouts and concurrency limit, ending in a [`Completion`] or a classified
//! [`Failure`]. The router decides what to do next; a client never retries.
//!
//! Wire protocols live in [`chat`] (`/chat/completions`), [`responses`]
//! (`/responses`), [`ollama`] (Ollama's native `/api/chat`, NDJSON) and
//! [`anthropic`] (`/v1/messages`); this module owns what they share: keys
//! from env references, timeouts (connect, first byte, idle between chunks,
//! total), the concurrency permit, streaming and error classification.
//!
//! The server's [`ServerPolicy`] is checked again here, whatever validation
//! let through: a key is read only from a declared variable, and a request
//! goes only to an allowed base URL, with every address its host resolves
//! to checked (so a name cannot be re-pointed at a metadata service) and no
//! redirects followed.

mod anthropic;
mod chat;
mod context;
mod ndjson;
mod ollama;
mod responses;
pub mod sse;
mod types;

pub use context::fit_to_window;
pub use types::{ChatRequest, Completion, Failure, Message, Role, ToolCall, ToolSpec, Usage};

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use crate::clock::SharedClock;
use crate::config::policy::ServerPolicy;
use crate::config::{Provider, ProviderId, ProviderKind, Timeouts};
use crate::failure::{classify_http, classify_stream_error, FailureClass};
use ndjson::{Frames, LineDecoder};
use sse::{SseDecoder, SseEvent};

/// Resolves `{env: NAME}` references at call time. Injected so tests (and a
/// future secret store) need not touch the process environment.
pub trait Secrets: Send + Sync {
    fn get(&self, name: &str) -> Option<String>;
}

impl Secrets for crate::config::validate::ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Secrets for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// Timeouts with the built-in defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
    pub total: Duration,
    pub concurrency: usize,
}

impl Limits {
    /// Values past the config's bounds (a revision stored before they
    /// existed) are clamped to them, so no deadline computed from them
    /// overflows.
    pub fn of(provider: &Provider) -> Self {
        use crate::config::limits::{MAX_CONCURRENCY, MAX_TIMEOUT_MS};
        let ms = |v: Option<u64>, default: u64| {
            Duration::from_millis(v.unwrap_or(default).min(MAX_TIMEOUT_MS))
        };
        let Timeouts {
            connect_ms,
            first_byte_ms,
            idle_ms,
            total_ms,
        } = provider.timeouts;
        Limits {
            connect: ms(connect_ms, 5_000),
            // Reasoning models may think a while before the first token.
            first_byte: ms(first_byte_ms, 90_000),
            idle: ms(idle_ms, 60_000),
            total: ms(total_ms, 600_000),
            concurrency: provider
                .concurrency
                .map_or(64, |c| u64::from(c).clamp(1, MAX_CONCURRENCY) as usize),
        }
    }
}

/// One configured provider, ready to call. Built once per provider config
/// and shared by every run, so the concurrency limit holds across agents.
pub struct ProviderClient {
    id: ProviderId,
    wire: Wire,
    base_url: String,
    api_key_env: Option<String>,
    /// Why the key may not be read (its variable is not declared).
    key_refused: Option<String>,
    limits: Limits,
    http: reqwest::Client,
    permits: Arc<Semaphore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Chat,
    Responses,
    Ollama,
    Anthropic,
}

impl Wire {
    fn of(kind: ProviderKind) -> Option<Wire> {
        match kind {
            ProviderKind::OpenaiChat => Some(Wire::Chat),
            ProviderKind::OpenaiResponses => Some(Wire::Responses),
            ProviderKind::Ollama => Some(Wire::Ollama),
            ProviderKind::AnthropicMessages => Some(Wire::Anthropic),
            ProviderKind::Codex | ProviderKind::Sim => None,
        }
    }

    /// Where one completion request goes.
    fn completion_url(self, base_url: &str) -> String {
        match self {
            Wire::Chat => format!("{base_url}/chat/completions"),
            Wire::Responses => format!("{base_url}/responses"),
            Wire::Ollama => ollama::chat_url(base_url),
            Wire::Anthropic => anthropic::messages_url(base_url),
        }
    }

    fn models_url(self, base_url: &str) -> String {
        match self {
            Wire::Chat | Wire::Responses => format!("{base_url}/models"),
            Wire::Ollama => ollama::models_url(base_url),
            Wire::Anthropic => anthropic::models_url(base_url),
        }
    }

    fn body(self, model: &str, request: &ChatRequest) -> Value {
        match self {
            Wire::Chat => chat::body(model, request),
            Wire::Responses => responses::body(model, request),
            Wire::Ollama => ollama::body(model, request),
            Wire::Anthropic => anthropic::body(model, request),
        }
    }

    fn parse_full(self, value: &Value) -> Result<Completion, Failure> {
        match self {
            Wire::Chat => chat::parse_full(value),
            Wire::Responses => responses::parse_full(value),
            Wire::Ollama => ollama::parse_full(value),
            Wire::Anthropic => anthropic::parse_full(value),
        }
    }

    fn stream_state(self) -> Box<dyn StreamState> {
        match self {
            Wire::Chat => Box::new(chat::Stream::default()),
            Wire::Responses => Box::new(responses::Stream::default()),
            Wire::Ollama => Box::new(ollama::Stream::default()),
            Wire::Anthropic => Box::new(anthropic::Stream::default()),
        }
    }

    fn frames(self) -> Frames {
        match self {
            Wire::Ollama => Frames::Lines(LineDecoder::default()),
            _ => Frames::Sse(SseDecoder::default()),
        }
    }

    /// The key where the wire wants it: Anthropic's `x-api-key` (with the
    /// API version, sent with or without a key), a bearer token elsewhere.
    fn authorize(
        self,
        builder: reqwest::RequestBuilder,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match (self, key) {
            (Wire::Anthropic, key) => {
                let builder = builder.header("anthropic-version", anthropic::VERSION);
                match key {
                    Some(key) => builder.header("x-api-key", key),
                    None => builder,
                }
            }
            (_, Some(key)) => builder.bearer_auth(key),
            (_, None) => builder,
        }
    }
}

/// What one streamed event did to the attempt.
pub(crate) enum Flow {
    Continue,
    Done,
}

/// A wire protocol's view of a streamed response.
pub(crate) trait StreamState: Send {
    fn feed(&mut self, event: &SseEvent, now_ms: i64) -> Result<Flow, Failure>;
    /// Whether any text or tool call was produced yet (DESIGN §3: a failure
    /// after output is `stream_interrupted`, keeping the partial output).
    fn partial(&self) -> Option<String>;
    fn finish(self: Box<Self>) -> Result<Completion, Failure>;
}

impl ProviderClient {
    /// `base_url` overrides the configured one (the in-process `sim` server).
    /// A base URL or key the `policy` does not allow is refused here, and
    /// every address the host resolves to is checked at each connection.
    pub fn new(
        id: ProviderId,
        provider: &Provider,
        base_url: Option<String>,
        policy: &ServerPolicy,
    ) -> Result<Self, String> {
        let wire = provider.wire().and_then(Wire::of).ok_or_else(|| match provider.kind {
            ProviderKind::Codex => {
                format!("provider `{id}` is kind codex: it is served only by the Codex harness")
            }
            _ => format!("provider `{id}`: a sim wire must be one of openai-chat, openai-responses, ollama, anthropic-messages"),
        })?;
        let base_url = base_url
            .or_else(|| provider.base_url.clone())
            .ok_or_else(|| format!("provider `{id}` has no baseUrl"))?;
        policy
            .check_base_url(&base_url)
            .map_err(|e| format!("provider `{id}`: the base URL {e}"))?;
        let limits = Limits::of(provider);
        let http = reqwest::Client::builder()
            .connect_timeout(limits.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            // A redirect could lead anywhere, past the checks above; no
            // provider API needs one.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .map_err(|e| format!("provider `{id}`: HTTP client: {e}"))?;
        let api_key_env = provider.api_key.as_ref().map(|k| k.env.clone());
        let key_refused = api_key_env
            .as_deref()
            .and_then(|env| policy.check_secret_env(env).err());
        Ok(ProviderClient {
            id,
            wire,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key_env,
            key_refused,
            permits: Arc::new(Semaphore::new(limits.concurrency)),
            limits,
            http,
        })
    }

    pub fn id(&self) -> &ProviderId {
        &self.id
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Calls in flight right now (for the Providers page).
    pub fn in_flight(&self) -> usize {
        self.limits.concurrency - self.permits.available_permits()
    }

    /// One attempt. Waiting for a concurrency permit is not counted against
    /// the provider's timeouts: a queue of our own making is not the
    /// provider being slow (the caller bounds the wait with the run budget).
    pub async fn call(
        &self,
        model: &str,
        request: &ChatRequest,
        secrets: &dyn Secrets,
        clock: &SharedClock,
    ) -> Result<Completion, Failure> {
        let key = self.key(secrets)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let result = self.attempt(model, request, key.as_deref(), clock).await;
        result.map_err(|failure| redact(failure, key.as_deref()))
    }

    /// The API key from its `{env}` reference, read at call time, and only
    /// from a variable the server declared as a secret.
    fn key(&self, secrets: &dyn Secrets) -> Result<Option<String>, Failure> {
        let Some(env) = &self.api_key_env else {
            return Ok(None);
        };
        if let Some(why) = &self.key_refused {
            return Err(Failure::new(
                FailureClass::AuthMissing,
                format!("apiKey of provider `{}`: {why}", self.id),
            ));
        }
        secrets.get(env).map(Some).ok_or_else(|| {
            Failure::new(
                FailureClass::AuthMissing,
                format!(
                    "environment variable {env} (apiKey of provider `{}`) is not set",
                    self.id
                ),
            )
        })
    }

    /// The wire's model list (`GET {baseUrl}/models`, Ollama's `/api/tags`,
    /// Anthropic's `/v1/models`): whether the provider answers and accepts
    /// the key, without spending tokens or touching health (`switchyard
    /// doctor`). Returns the model ids (or Ollama names) it lists.
    pub async fn list_models(
        &self,
        secrets: &dyn Secrets,
        clock: &SharedClock,
    ) -> Result<Vec<String>, Failure> {
        let key = self.key(secrets)?;
        let deadline = after(self.limits.first_byte.min(self.limits.total));
        let builder = self.http.get(self.wire.models_url(&self.base_url));
        let result = async {
            let response = self.send(builder, key.as_deref(), deadline, clock).await?;
            let text = within(deadline, self.limits.idle, response.text(), "response body")
                .await?
                .unwrap_or_default();
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            Ok(value
                .get("data")
                .or_else(|| value.get("models"))
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|m| m.get("id").or_else(|| m.get("name")))
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default())
        }
        .await;
        result.map_err(|failure| redact(failure, key.as_deref()))
    }

    /// Sends a request (with the key) and waits for its headers; a status
    /// that is not a success is classified from its body.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        key: Option<&str>,
        deadline: Instant,
        clock: &SharedClock,
    ) -> Result<reqwest::Response, Failure> {
        let builder = self.wire.authorize(builder, key);
        let response = within(
            deadline,
            self.limits.first_byte,
            builder.send(),
            "response headers",
        )
        .await?
        .map_err(transport_failure)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let text = within(deadline, self.limits.idle, response.text(), "error body")
            .await?
            .unwrap_or_default();
        // Before classifying: the detail is cut to a log line's length, and
        // a key cut in half would no longer match.
        let text = redact_text(&text, key);
        Err(classify_http(status.as_u16(), &headers, &text, clock.now_ms()).into())
    }

    async fn attempt(
        &self,
        model: &str,
        request: &ChatRequest,
        key: Option<&str>,
        clock: &SharedClock,
    ) -> Result<Completion, Failure> {
        let deadline = after(self.limits.total);
        let builder = self
            .http
            .post(self.wire.completion_url(&self.base_url))
            .json(&self.wire.body(model, request));
        let response = self.send(builder, key, deadline, clock).await?;
        if request.stream {
            self.read_stream(response, self.wire.stream_state(), deadline, clock)
                .await
        } else {
            let text = within(
                deadline,
                self.limits.first_byte,
                response.text(),
                "response body",
            )
            .await?
            .map_err(transport_failure)?;
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                Failure::new(
                    FailureClass::ServerError,
                    format!("malformed response body: {e}"),
                )
            })?;
            if value.get("error").is_some_and(|e| !e.is_null()) {
                return Err(classify_stream_error(&value, clock.now_ms()).into());
            }
            self.wire.parse_full(&value)
        }
    }

    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        mut state: Box<dyn StreamState>,
        deadline: Instant,
        clock: &SharedClock,
    ) -> Result<Completion, Failure> {
        let mut decoder = self.wire.frames();
        let interrupted = |state: &dyn StreamState, failure: Failure| match state.partial() {
            Some(partial) => Failure {
                class: FailureClass::StreamInterrupted,
                detail: format!("after output: {}", failure.detail),
                partial: Some(partial),
                retry_after_ms: failure.retry_after_ms,
            },
            None => failure,
        };
        loop {
            let chunk = match within(
                deadline,
                self.limits.idle,
                response.chunk(),
                "next stream chunk",
            )
            .await
            {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => return Err(interrupted(&*state, stream_broken(&e.to_string()))),
                Err(timeout) => return Err(interrupted(&*state, timeout)),
            };
            let Some(bytes) = chunk else {
                // The server closed the stream without saying it was done.
                return Err(interrupted(
                    &*state,
                    stream_broken("connection closed before the end of the stream"),
                ));
            };
            for event in decoder.push(&bytes) {
                match state.feed(&event, clock.now_ms()) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Done) => return state.finish(),
                    Err(failure) => return Err(interrupted(&*state, failure)),
                }
            }
        }
    }
}

/// A stream event's (or NDJSON line's) JSON; a malformed one interrupts
/// the stream.
fn stream_json(data: &str) -> Result<Value, Failure> {
    serde_json::from_str(data).map_err(|e| {
        Failure::new(
            FailureClass::StreamInterrupted,
            format!("malformed stream event: {e}"),
        )
    })
}

fn stream_broken(detail: &str) -> Failure {
    Failure::new(
        FailureClass::StreamInterrupted,
        format!("stream broke: {detail}"),
    )
}

/// `Instant::now() + d`, saturating: `Instant + Duration` panics on overflow.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(crate::config::limits::MAX_SECONDS))
}

/// Awaits `future` for at most `stage`, and never past the total `deadline`.
async fn within<F: std::future::Future>(
    deadline: Instant,
    stage: Duration,
    future: F,
    waiting_for: &str,
) -> Result<F::Output, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    let (limit, which) = if stage < left {
        (stage, "")
    } else {
        (left, "total ")
    };
    tokio::time::timeout(limit, future).await.map_err(|_| {
        Failure::new(
            FailureClass::Timeout,
            format!(
                "no {waiting_for} within the {which}timeout of {} ms",
                limit.as_millis()
            ),
        )
    })
}

/// A provider that echoes the key back (some do, in 401 bodies) must not
/// put it in a detail, a log line or a transcript.
fn redact(mut failure: Failure, key: Option<&str>) -> Failure {
    failure.detail = redact_text(&failure.detail, key);
    failure.partial = failure.partial.map(|p| redact_text(&p, key));
    failure
}

const REDACTED: &str = "[redacted]";

/// `text` without the key, and without a start of it (4 characters or
/// more) where the text ends, or where a `…` marks it was cut: details are
/// shortened to a log line, which can cut a key in half.
fn redact_text(text: &str, key: Option<&str>) -> String {
    let Some(key) = key.filter(|k| k.len() >= 4) else {
        return text.to_owned();
    };
    let mut out = text.replace(key, REDACTED);
    for cut in ["…", ""] {
        let Some(body) = out.strip_suffix(cut) else {
            continue;
        };
        let longest = (4..key.len())
            .rev()
            .filter(|&n| key.is_char_boundary(n))
            .find(|&n| body.ends_with(&key[..n]));
        if let Some(n) = longest {
            out = format!("{}{REDACTED}{cut}", &body[..body.len() - n]);
            break;
        }
    }
    out
}

/// Resolves a provider's host and keeps only addresses the policy allows:
/// a host name that passed validation may later resolve to a link-local or
/// metadata address (DNS rebinding), and that connection is refused here.
struct GuardedResolver {
    policy: ServerPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            policy.check_host_name(&host)?;
            let resolved: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<std::net::SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| policy.check_ip(a.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                let why = resolved
                    .first()
                    .and_then(|a| policy.check_ip(a.ip()).err())
                    .unwrap_or_else(|| format!("{host} did not resolve"));
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn transport_failure(error: reqwest::Error) -> Failure {
    // reqwest's messages name the URL (no secrets in it) and the cause.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    let class = if error.is_timeout() {
        FailureClass::Timeout
    } else {
        // Connection refused or reset: the provider (or the path to it) is
        // down; treated like a 5xx.
        FailureClass::ServerError
    };
    Failure::new(class, detail)
}

/// Clients for every provider of the current config, rebuilt only when a
/// provider's settings change, so concurrency limits and connection pools
/// survive unrelated config edits.
#[derive(Default)]
pub struct Clients {
    by_id: Mutex<HashMap<ProviderId, Built>>,
}

/// A client with the settings it was built from, to notice changes.
struct Built {
    provider: Provider,
    base_url: Option<String>,
    client: Arc<ProviderClient>,
}

impl Clients {
    pub fn get(
        &self,
        id: &ProviderId,
        provider: &Provider,
        base_url: Option<String>,
        policy: &ServerPolicy,
    ) -> Result<Arc<ProviderClient>, String> {
        let mut by_id = self.by_id.lock().expect("clients lock");
        if let Some(built) = by_id.get(id) {
            if built.provider == *provider && built.base_url == base_url {
                return Ok(built.client.clone());
            }
        }
        let client = Arc::new(ProviderClient::new(
            id.clone(),
            provider,
            base_url.clone(),
            policy,
        )?);
        by_id.insert(
            id.clone(),
            Built {
                provider: provider.clone(),
                base_url,
                client: client.clone(),
            },
        );
        Ok(client)
    }

    pub fn in_flight(&self, id: &ProviderId) -> usize {
        let by_id = self.by_id.lock().expect("clients lock");
        by_id.get(id).map_or(0, |b| b.client.in_flight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_redacted_whole_and_where_a_cut_left_its_start() {
        let key = Some("sk-live-0123456789");
        assert_eq!(
            redact_text("bad key sk-live-0123456789 given", key),
            "bad key [redacted] given"
        );
        assert_eq!(
            redact_text("HTTP 401: key sk-live-01…", key),
            "HTTP 401: key [redacted]…"
        );
        assert_eq!(
            redact_text("stream broke: sk-li", key),
            "stream broke: [redacted]"
        );
        // Three characters say nothing about a key; words that merely
        // start like one stay.
        assert_eq!(redact_text("HTTP 401: sk-", key), "HTTP 401: sk-");
        assert_eq!(redact_text("no key here", None), "no key here");
    }
}

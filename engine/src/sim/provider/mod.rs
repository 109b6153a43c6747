//! The `sim` provider (DESIGN §9): a real HTTP server on loopback speaking
//! the OpenAI, Ollama and Anthropic wires, whose models are [`Script`]s, so
//! every failure class of DESIGN §3 can be produced on demand, over the
//! wire, exactly as the real providers send it (each wire's error bodies and
//! headers).
//!
//! A model's script comes from [`SimProvider::set_script`] (or
//! `PUT /sim/scripts/<model>`); a model without one whose name parses as a
//! script runs that, so `rate_limit(5)` or `server_error*2, ok` work as model
//! names with no setup.
//!
//! Endpoints: `POST /v1/chat/completions`, `POST /v1/responses`,
//! `POST /api/chat` (Ollama, NDJSON), `POST /v1/messages` (Anthropic; it
//! insists on `anthropic-version` and `max_tokens` as the real API does), all
//! streaming and not; `GET /v1/models` (Anthropic's shape when the request
//! names an `anthropic-version`), `GET /api/tags`; `GET /sim/scripts`,
//! `PUT /sim/scripts/<model>` and `GET /sim/requests` to drive and inspect it.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use engine::sim::provider::SimProvider;
//! let sim = SimProvider::start("127.0.0.1:0".parse().unwrap()).await?;
//! sim.set_script("gpt-sim", "server_error*2, ok".parse().unwrap());
//! // point an OpenAI client at sim.base_url() …
//! sim.wait_for_requests(3).await;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod anthropic;
mod api;
mod behaviour;
mod body;
mod chat;
mod fault;
mod ollama;
mod responses;
mod script;
mod server;
mod state;

pub use script::{Script, ScriptError, Step};

use state::State;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running sim provider. Serves until [`SimProvider::shutdown`] or drop;
/// either ends every connection, hanging requests included.
pub struct SimProvider {
    addr: SocketAddr,
    state: Arc<State>,
    /// Firing or dropping it stops the server.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// One completion request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub model: String,
    /// `/v1/chat/completions`, `/v1/responses`, `/api/chat` or `/v1/messages`.
    pub path: String,
    pub stream: bool,
    /// When the request arrived.
    pub at: Instant,
    /// The script step that answered, as text; `None` when the request was
    /// refused before reaching a script (wrong API key, unknown model).
    pub step: Option<String>,
}

impl SimProvider {
    /// Binds (port 0 picks a free port) and starts serving.
    pub async fn start(bind: SocketAddr) -> io::Result<SimProvider> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, state.clone(), stopped));
        Ok(SimProvider {
            addr,
            state,
            stop,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:PORT/v1`: what an OpenAI or
    /// Anthropic client takes, and an Ollama client too (it drops the
    /// `/v1`). A wildcard bind is reached through loopback.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        format!("http://{addr}/v1")
    }

    /// Sets `model`'s script, starting it from its first step.
    pub fn set_script(&self, model: &str, script: Script) {
        self.state.set_script(model, script);
    }

    /// The scripted models, by name.
    pub fn scripts(&self) -> Vec<(String, Script)> {
        self.state.scripts()
    }

    /// When `Some`, requests without `Authorization: Bearer <key>` (or
    /// Anthropic's `x-api-key: <key>`) get the wire's `auth` 401 and use up
    /// no step.
    pub fn require_api_key(&self, key: Option<String>) {
        self.state.set_api_key(key);
    }

    /// Every completion request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }

    /// Resolves once at least `n` completion requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        self.state.wait_for_requests(n).await;
    }

    /// Requests being answered right now, streams still sending included.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight()
    }

    /// Resolves once no request is being answered: every stream has ended and
    /// every hanging request's client has gone away.
    pub async fn wait_idle(&self) {
        self.state.wait_idle().await;
    }

    /// Stops accepting, ends every connection and waits until it is done.
    pub async fn shutdown(self) {
        let SimProvider { stop, task, .. } = self;
        let _ = stop.send(());
        // The task only ends by being stopped; a panic in it is already
        // reported by tokio.
        let _ = task.await;
    }
}

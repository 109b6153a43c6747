//! Provider calls against the `sim` server: a sim on loopback, a client of
//! any kind pointed at it, a request with one tool.

use engine::clock::{SharedClock, SystemClock};
use engine::config::policy::ServerPolicy;
use engine::config::{Provider, ProviderId};
use engine::provider::{ChatRequest, Message, ProviderClient, ToolSpec};
use engine::sim::provider::SimProvider;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub async fn sim() -> Arc<SimProvider> {
    Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    )
}

/// A client of provider `p` (its config as JSON).
pub fn client_for(provider: Value, policy: &ServerPolicy) -> ProviderClient {
    let provider: Provider = serde_json::from_value(provider).unwrap();
    ProviderClient::new(ProviderId::try_from("p").unwrap(), &provider, None, policy).unwrap()
}

/// A client of `kind` pointed at a new sim's base URL (`…/v1`, which an
/// Ollama client takes as the server's root), `extra` merged into its
/// config.
pub async fn client(kind: &str, extra: Value) -> (Arc<SimProvider>, ProviderClient) {
    let sim = sim().await;
    let mut p = json!({"kind": kind, "baseUrl": sim.base_url(), "models": []});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    (sim, client_for(p, &ServerPolicy::default()))
}

pub fn request(stream: bool) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user("hello")],
        tools: vec![ToolSpec {
            name: "write_file".into(),
            description: "write a file".into(),
            parameters: json!({"type": "object"}),
        }],
        max_tokens: Some(100),
        stream,
    }
}

pub fn clock() -> SharedClock {
    Arc::new(SystemClock)
}

pub fn no_secrets() -> HashMap<String, String> {
    HashMap::new()
}

//! Provider clients against the `sim` server over real HTTP: both wire
//! protocols, streaming and not, tool calls, the concurrency limit.

use engine::clock::{SharedClock, SystemClock};
use engine::config::{Provider, ProviderId};
use engine::failure::FailureClass;
use engine::provider::{ChatRequest, Message, ProviderClient, ToolSpec};
use engine::sim::provider::SimProvider;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

async fn client(kind: &str, extra: serde_json::Value) -> (Arc<SimProvider>, ProviderClient) {
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let mut p = json!({"kind": kind, "baseUrl": sim.base_url(), "models": []});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let provider: Provider = serde_json::from_value(p).unwrap();
    let client = ProviderClient::new(ProviderId::try_from("p").unwrap(), &provider, None).unwrap();
    (sim, client)
}

fn request(stream: bool) -> ChatRequest {
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

fn clock() -> SharedClock {
    Arc::new(SystemClock)
}

fn secrets() -> HashMap<String, String> {
    HashMap::new()
}

#[tokio::test]
async fn both_wires_stream_and_not_with_text_and_tool_calls() {
    for kind in ["openai-chat", "openai-responses"] {
        let (sim, client) = client(kind, json!({})).await;
        for stream in [true, false] {
            let done = client
                .call("ok", &request(stream), &secrets(), &clock())
                .await
                .unwrap_or_else(|f| panic!("{kind} {stream}: {f}"));
            assert_eq!(done.text, "sim ok ok", "{kind} stream={stream}");
            assert!(
                done.usage.output_tokens > 0,
                "{kind} stream={stream}: usage"
            );
            let tool = client
                .call(
                    r#"tool(write_file, {"path": "a.txt", "content": "x, y"})"#,
                    &request(stream),
                    &secrets(),
                    &clock(),
                )
                .await
                .unwrap_or_else(|f| panic!("{kind} {stream}: {f}"));
            assert_eq!(tool.tool_calls.len(), 1, "{kind} stream={stream}");
            assert_eq!(tool.tool_calls[0].name, "write_file");
            let args: serde_json::Value =
                serde_json::from_str(&tool.tool_calls[0].arguments).unwrap();
            assert_eq!(args, json!({"path": "a.txt", "content": "x, y"}));
            assert!(!tool.tool_calls[0].id.is_empty());
        }
        let paths: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
        let expected = if kind == "openai-chat" {
            "/v1/chat/completions"
        } else {
            "/v1/responses"
        };
        assert!(paths.iter().all(|p| p == expected), "{paths:?}");
    }
}

#[tokio::test]
async fn failures_are_classified_on_both_wires() {
    for kind in ["openai-chat", "openai-responses"] {
        let (_sim, client) = client(kind, json!({})).await;
        for (script, class) in [
            ("rate_limit(7)", FailureClass::RateLimit),
            ("context_overflow", FailureClass::ContextOverflow),
            ("stream_error_after(0)", FailureClass::ServerError),
            ("stream_error_after(2)", FailureClass::StreamInterrupted),
            ("stream_break_after(2)", FailureClass::StreamInterrupted),
            ("empty", FailureClass::EmptyResponse),
            ("auth_permanent", FailureClass::AuthPermanent),
            ("content_policy", FailureClass::ContentPolicy),
            ("format", FailureClass::Format),
            ("model_not_found", FailureClass::ModelNotFound),
        ] {
            let f = client
                .call(script, &request(true), &secrets(), &clock())
                .await
                .unwrap_err();
            assert_eq!(f.class, class, "{kind} {script}: {f}");
            if script == "rate_limit(7)" {
                assert_eq!(f.retry_after_ms, Some(7_000));
            }
            if script.ends_with("after(2)") {
                assert!(
                    f.partial.as_deref().is_some_and(|p| !p.is_empty()),
                    "{kind} {script}: partial kept"
                );
            }
        }
    }
}

/// The concurrency limit holds: with one permit, a second call waits for
/// the first instead of reaching the provider.
#[tokio::test]
async fn concurrency_limit_queues_calls() {
    let (sim, client) = client("openai-chat", json!({"concurrency": 1})).await;
    let client = Arc::new(client);
    let hanging = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call("hang", &request(true), &secrets(), &clock())
                .await
        })
    };
    sim.wait_for_requests(1).await;
    assert_eq!(client.in_flight(), 1);
    let req = request(true);
    let secrets = secrets();
    let clock = clock();
    let queued = client.call("ok", &req, &secrets, &clock);
    tokio::pin!(queued);
    // Bounded wait for something that must NOT happen: if the permit were
    // not held, the `ok` call would finish in a few ms.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut queued)
            .await
            .is_err()
    );
    assert_eq!(
        sim.requests().len(),
        1,
        "the queued call never reached the provider"
    );
    hanging.abort();
    let _ = hanging.await;
    let done = queued.await.unwrap();
    assert_eq!(done.text, "sim ok ok");
}

#[tokio::test]
async fn the_key_is_sent_and_never_echoed() {
    let (sim, _) = client("openai-chat", json!({})).await;
    sim.require_api_key(Some("sk-right".into()));
    let provider: Provider = serde_json::from_value(json!({
        "kind": "openai-chat", "baseUrl": sim.base_url(), "apiKey": {"env": "P_KEY"}, "models": []
    }))
    .unwrap();
    let client = ProviderClient::new(ProviderId::try_from("p").unwrap(), &provider, None).unwrap();
    let right: HashMap<String, String> = [("P_KEY".to_owned(), "sk-right".to_owned())].into();
    assert!(client
        .call("ok", &request(false), &right, &clock())
        .await
        .is_ok());
    let wrong: HashMap<String, String> =
        [("P_KEY".to_owned(), "sk-wrong-0123456789".to_owned())].into();
    let f = client
        .call("ok", &request(false), &wrong, &clock())
        .await
        .unwrap_err();
    assert_eq!(f.class, FailureClass::Auth);
    assert!(!f.detail.contains("sk-wrong-0123456789"), "{}", f.detail);
    let f = client
        .call("ok", &request(false), &HashMap::new(), &clock())
        .await
        .unwrap_err();
    assert_eq!(f.class, FailureClass::AuthMissing);
    assert!(f.detail.contains("P_KEY"));
}

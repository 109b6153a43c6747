//! Provider clients against the `sim` server over real HTTP: both wire
//! protocols, streaming and not, tool calls, the concurrency limit.

mod common;

use common::calls::{client, clock, no_secrets as secrets, request};
use engine::config::policy::ServerPolicy;
use engine::config::{Provider, ProviderId};
use engine::failure::FailureClass;
use engine::provider::ProviderClient;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Every wire, streamed and not, with text and with a tool call, at its
/// own path (the Ollama and Anthropic wires' failures: `tests/wires.rs`).
#[tokio::test]
async fn every_wire_streams_and_not_with_text_and_tool_calls() {
    for (kind, path) in [
        ("openai-chat", "/v1/chat/completions"),
        ("openai-responses", "/v1/responses"),
        ("ollama", "/api/chat"),
        ("anthropic-messages", "/v1/messages"),
    ] {
        let (sim, client) = client(kind, json!({})).await;
        for stream in [true, false] {
            let at = format!("{kind} stream={stream}");
            let done = client
                .call("ok", &request(stream), &secrets(), &clock())
                .await
                .unwrap_or_else(|f| panic!("{at}: {f}"));
            assert_eq!(done.text, "sim ok ok", "{at}");
            assert!(done.usage.input_tokens > 0, "{at}: {:?}", done.usage);
            assert!(done.usage.output_tokens > 0, "{at}: {:?}", done.usage);
            let tool = client
                .call(
                    r#"tool(write_file, {"path": "a.txt", "content": "x, y"})"#,
                    &request(stream),
                    &secrets(),
                    &clock(),
                )
                .await
                .unwrap_or_else(|f| panic!("{at}: {f}"));
            assert_eq!(tool.text, "", "{at}");
            assert_eq!(tool.tool_calls.len(), 1, "{at}");
            assert_eq!(tool.tool_calls[0].name, "write_file", "{at}");
            let args: serde_json::Value =
                serde_json::from_str(&tool.tool_calls[0].arguments).unwrap();
            assert_eq!(args, json!({"path": "a.txt", "content": "x, y"}), "{at}");
            assert!(!tool.tool_calls[0].id.is_empty(), "{at}");
        }
        let records = sim.requests();
        assert!(records.iter().all(|r| r.path == path), "{records:?}");
        let streamed: Vec<bool> = records.iter().map(|r| r.stream).collect();
        assert_eq!(streamed, [true, true, false, false], "{kind}");
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
    let policy = ServerPolicy::default().with_secret_env(["P_KEY"]).unwrap();
    let client =
        ProviderClient::new(ProviderId::try_from("p").unwrap(), &provider, None, &policy).unwrap();
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

/// A loopback HTTP server that records every request it gets (head and
/// body, as text) and answers each with `status` and `body`.
struct Capture {
    base_url: String,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Capture {
    async fn start(status: u16, body: String) -> Capture {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (log, body) = (log.clone(), body.clone());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Headers, then as much body as Content-Length says.
                    loop {
                        let n = conn.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&got).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if got.len() >= end + 4 + length {
                                log.lock().unwrap().push(text);
                                break;
                            }
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                });
            }
        });
        Capture { base_url, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn keyed(base_url: &str, env: &str) -> Provider {
    serde_json::from_value(json!({
        "kind": "openai-chat", "baseUrl": base_url, "apiKey": {"env": env}, "models": ["m"]
    }))
    .unwrap()
}

/// The exfiltration: a config naming any variable as its key and a base URL
/// of its choosing made a test call send that variable's value there.
#[tokio::test]
async fn an_undeclared_variable_is_never_read_or_sent() {
    let capture = Capture::start(200, json!({"data": []}).to_string()).await;
    let canary = "canary-9f8e7d6c5b4a";
    let env: HashMap<String, String> =
        [("SOME_UNDECLARED_VAR".to_owned(), canary.to_owned())].into();
    let provider = keyed(&capture.base_url, "SOME_UNDECLARED_VAR");
    let id = ProviderId::try_from("p").unwrap();
    let client =
        ProviderClient::new(id.clone(), &provider, None, &ServerPolicy::default()).unwrap();
    let f = client
        .call("m", &request(false), &env, &clock())
        .await
        .unwrap_err();
    assert_eq!(f.class, FailureClass::AuthMissing, "{f}");
    assert!(f.detail.contains("--secret-env SOME_UNDECLARED_VAR"), "{f}");
    let f = client.list_models(&env, &clock()).await.unwrap_err();
    assert_eq!(f.class, FailureClass::AuthMissing, "{f}");
    assert!(capture.requests().is_empty(), "{:?}", capture.requests());

    // Declared by the operator, the same key is sent: the capture works.
    let policy = ServerPolicy::default()
        .with_secret_env(["SOME_UNDECLARED_VAR"])
        .unwrap();
    let client = ProviderClient::new(id, &provider, None, &policy).unwrap();
    client.list_models(&env, &clock()).await.unwrap();
    let seen = capture.requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains(&format!("Bearer {canary}")), "{seen:?}");
}

#[tokio::test]
async fn file_and_metadata_base_urls_are_refused_when_the_client_is_built() {
    let policy = ServerPolicy::default();
    let id = ProviderId::try_from("p").unwrap();
    for (url, words) in [
        ("file:///etc/passwd", "scheme `file`"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254"),
        (
            "http://metadata.google.internal/computeMetadata/v1",
            "metadata",
        ),
    ] {
        let e = ProviderClient::new(id.clone(), &keyed(url, "OPENAI_API_KEY"), None, &policy)
            .err()
            .unwrap_or_else(|| panic!("{url} accepted"));
        assert!(e.contains(words), "{url}: {e}");
    }
}

/// The detail was cut to 300 characters before the key was redacted, so a
/// key echoed near the cut left its first characters in the detail.
#[tokio::test]
async fn a_key_cut_in_half_by_truncation_is_still_redacted() {
    let key = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz";
    // "HTTP 401: " + 280 characters, then the key: the 300-character cut
    // lands 10 characters into it.
    let message = format!("{} {key} is not valid", "x".repeat(279));
    let capture = Capture::start(401, json!({"error": {"message": message}}).to_string()).await;
    let policy = ServerPolicy::default().with_secret_env(["P_KEY"]).unwrap();
    let client = ProviderClient::new(
        ProviderId::try_from("p").unwrap(),
        &keyed(&capture.base_url, "P_KEY"),
        None,
        &policy,
    )
    .unwrap();
    let env: HashMap<String, String> = [("P_KEY".to_owned(), key.to_owned())].into();
    for failure in [
        client
            .call("m", &request(false), &env, &clock())
            .await
            .unwrap_err(),
        client.list_models(&env, &clock()).await.unwrap_err(),
    ] {
        assert_eq!(failure.class, FailureClass::Auth, "{failure}");
        assert!(!failure.detail.contains(&key[..4]), "{}", failure.detail);
        assert!(failure.detail.contains("[redacted]"), "{}", failure.detail);
    }
}

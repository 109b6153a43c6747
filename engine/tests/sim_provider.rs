//! The sim provider over real HTTP on loopback: what an OpenAI client sees for
//! every script step. Nothing here sleeps; tests wait on the server's events.

use engine::sim::provider::{Script, SimProvider, Step};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Bounds waits that should end at once, so a regression fails instead of
/// hanging the suite.
const GUARD: Duration = Duration::from_secs(10);

async fn start() -> SimProvider {
    SimProvider::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello, sim"}],
    })
}

fn responses_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "input": "hello, sim"})
}

async fn post(sim: &SimProvider, path: &str, body: &Value) -> reqwest::Response {
    Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn chat(sim: &SimProvider, model: &str, stream: bool) -> reqwest::Response {
    post(sim, "/chat/completions", &chat_body(model, stream)).await
}

/// The response's status, headers and JSON body.
async fn json_of(response: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap();
    (status, headers, body)
}

/// One server-sent event: its `event:` name, if any, and its data.
#[derive(Debug)]
struct Sse {
    event: Option<String>,
    data: String,
}

impl Sse {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

fn parse_sse(text: &str) -> Vec<Sse> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut sse = Sse {
                event: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    sse.event = Some(name.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    sse.data = data.to_owned();
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            sse
        })
        .collect()
}

/// Reads a body chunk by chunk: what arrived, and whether it ended in an error.
async fn read_until_end(mut response: reqwest::Response) -> (String, bool) {
    let mut text = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => text.extend_from_slice(&chunk),
            Ok(None) => return (String::from_utf8(text).unwrap(), false),
            Err(_) => return (String::from_utf8(text).unwrap(), true),
        }
    }
}

/// The chat stream's text deltas, in order.
fn chat_deltas(events: &[Sse]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|delta| !delta.is_empty())
        .collect()
}

#[tokio::test]
async fn ok_answers_whole() {
    let sim = start().await;
    let (status, headers, body) = json_of(chat(&sim, "ok", false).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "application/json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "ok");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "sim ok ok");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    // "user" + "hello, sim" = 14 characters ≈ 3 tokens; 3 words out.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6})
    );

    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].model, "ok");
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert!(!requests[0].stream);
    assert_eq!(requests[0].step.as_deref(), Some("ok"));
}

#[tokio::test]
async fn ok_streams_word_chunks_then_done() {
    let sim = start().await;
    sim.set_script("gpt-sim", Script::from(Step::Ok));
    let mut body = chat_body("gpt-sim", true);
    body["stream_options"] = json!({"include_usage": true});
    let response = post(&sim, "/chat/completions", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = parse_sse(&response.text().await.unwrap());

    assert_eq!(chat_deltas(&events), ["sim ", "gpt-sim ", "ok"]);
    let first = events[0].json();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let n = events.len();
    assert_eq!(events[n - 1].data, "[DONE]");
    let usage = events[n - 2].json();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 3);
    assert_eq!(events[n - 3].json()["choices"][0]["finish_reason"], "stop");
    assert!(sim.requests()[0].stream);
}

#[tokio::test]
async fn reply_and_empty_answer_exactly() {
    let sim = start().await;
    sim.set_script("m", "reply(Hello, (big) world!), empty".parse().unwrap());
    let (_, _, body) = json_of(chat(&sim, "m", false).await).await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello, (big) world!"
    );
    let (status, _, body) = json_of(chat(&sim, "m", false).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["choices"][0]["message"]["content"], "");
    assert!(body["choices"][0]["message"].get("tool_calls").is_none());

    let events = parse_sse(&chat(&sim, "m", true).await.text().await.unwrap());
    assert!(chat_deltas(&events).is_empty());
    assert_eq!(events.last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn tool_calls_in_openai_shape() {
    let sim = start().await;
    let script = r#"tool(write_file, {"path":"a.txt","content":"hi"})"#;
    sim.set_script("agent", script.parse().unwrap());

    let (_, _, body) = json_of(chat(&sim, "agent", false).await).await;
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "write_file");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"path": "a.txt", "content": "hi"}));

    let events = parse_sse(&chat(&sim, "agent", true).await.text().await.unwrap());
    let deltas: Vec<Value> = events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| e.json()["choices"][0].clone())
        .collect();
    let opening = &deltas[0]["delta"]["tool_calls"][0];
    assert!(opening["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(opening["function"]["name"], "write_file");
    let streamed: String = deltas
        .iter()
        .filter_map(|d| d["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&streamed).unwrap(), arguments);
    assert!(deltas.len() > 3, "arguments come in several deltas");
    assert_eq!(deltas.last().unwrap()["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn failures_look_like_the_real_providers() {
    let sim = start().await;
    // Headers a failure must carry, by script.
    let headers_of = |script: &str| -> &[(&str, &str)] {
        match script {
            "rate_limit(7)" => &[("retry-after", "7"), ("x-ratelimit-reset-requests", "7s")],
            _ => &[],
        }
    };
    let cases = [
        ("rate_limit(7)", 429, json!("rate_limit_exceeded")),
        ("rate_limit", 429, json!("rate_limit_exceeded")),
        ("auth", 401, json!("invalid_api_key")),
        ("usage_limit", 429, json!("insufficient_quota")),
        ("billing", 402, json!(402)),
        ("server_error", 500, Value::Null),
        ("overloaded", 503, json!("overloaded")),
        ("context_overflow", 400, json!("context_length_exceeded")),
        ("auth_permanent", 401, json!("account_deactivated")),
        ("content_policy", 400, json!("content_policy_violation")),
        ("format", 400, Value::Null),
        ("model_not_found", 404, json!("model_not_found")),
    ];
    for (script, status, code) in cases {
        for stream in [false, true] {
            let (got, got_headers, body) = json_of(chat(&sim, script, stream).await).await;
            assert_eq!(got.as_u16(), status, "{script}");
            assert_eq!(body["error"]["code"], code, "{script}: {body}");
            assert!(body["error"]["message"].is_string(), "{script}");
            for (name, value) in headers_of(script) {
                assert_eq!(got_headers[*name], *value, "{script}");
            }
        }
    }

    let (_, headers, body) = json_of(chat(&sim, "rate_limit", false).await).await;
    assert!(headers.get("retry-after").is_none());
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit reached for requests"));
    assert_eq!(body["error"]["type"], "requests");

    let (_, _, body) = json_of(chat(&sim, "usage_limit", false).await).await;
    assert_eq!(body["error"]["type"], "insufficient_quota");
    let (_, _, body) = json_of(chat(&sim, "billing", false).await).await;
    assert_eq!(
        body,
        json!({"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits", "code": 402}})
    );
    let (_, _, body) = json_of(chat(&sim, "context_overflow", false).await).await;
    assert_eq!(body["error"]["param"], "messages");
    let (_, _, body) = json_of(chat(&sim, "server_error", false).await).await;
    assert_eq!(body["error"]["type"], "server_error");

    // The Responses API fails the same way.
    let response = post(&sim, "/responses", &responses_body("rate_limit(3)", true)).await;
    let (status, headers, body) = json_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "3");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn a_sequence_runs_in_order_then_repeats_its_last_step() {
    let sim = start().await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            chat(&sim, "server_error*2, ok", false)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [500, 500, 200, 200]);
    let steps: Vec<_> = sim
        .requests()
        .into_iter()
        .map(|r| r.step.unwrap())
        .collect();
    assert_eq!(steps, ["server_error", "server_error", "ok", "ok"]);

    // Setting a script starts it over.
    sim.set_script("m", "auth, ok".parse().unwrap());
    assert_eq!(
        chat(&sim, "m", false).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(chat(&sim, "m", false).await.status(), StatusCode::OK);
    sim.set_script("m", "auth, ok".parse().unwrap());
    assert_eq!(
        chat(&sim, "m", false).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn stream_break_after_cuts_the_connection() {
    let sim = start().await;
    let response = chat(&sim, "stream_break_after(3)", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (text, failed) = read_until_end(response).await;
    assert!(failed, "the body ends in an error, not a clean end");
    let events = parse_sse(&text);
    assert_eq!(chat_deltas(&events).len(), 3);
    assert!(events.iter().all(|e| e.data != "[DONE]"));
    assert!(events
        .iter()
        .all(|e| e.json()["choices"][0]["finish_reason"].is_null()));

    // Whole: headers, then a truncated JSON body.
    let response = chat(&sim, "stream_break_after(3)", false).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (text, failed) = read_until_end(response).await;
    assert!(failed);
    assert!(text.starts_with('{'));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn stream_error_after_sends_an_in_stream_error() {
    let sim = start().await;
    let response = chat(&sim, "stream_error_after(2)", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (text, failed) = read_until_end(response).await;
    assert!(!failed, "the stream closes cleanly after the error event");
    let events = parse_sse(&text);
    assert_eq!(chat_deltas(&events).len(), 2);
    assert_eq!(
        events.last().unwrap().json(),
        json!({"error": {"message": "Provider returned error", "code": 502}})
    );

    let (status, _, body) = json_of(chat(&sim, "stream_error_after(2)", false).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["error"]["code"], 502);
}

#[tokio::test]
async fn hang_holds_until_the_client_gives_up() {
    let sim = start().await;
    let client = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let request = client
        .post(format!("{}/chat/completions", sim.base_url()))
        .json(&chat_body("hang", false))
        .send();
    let (result, ()) = tokio::join!(request, sim.wait_for_requests(1));
    let error = result.expect_err("a hanging request never gets headers");
    assert!(error.is_timeout(), "{error}");
    assert_eq!(sim.requests()[0].step.as_deref(), Some("hang"));
    // The client's connection closed, so the server let the request go.
    tokio::time::timeout(GUARD, sim.wait_idle())
        .await
        .expect("the hanging request ends with its connection");
    assert_eq!(sim.in_flight(), 0);
}

#[tokio::test]
async fn shutdown_ends_hanging_requests() {
    let sim = start().await;
    let url = format!("{}/chat/completions", sim.base_url());
    let request = tokio::spawn(async move {
        Client::new()
            .post(url)
            .json(&chat_body("hang", true))
            .send()
            .await
    });
    sim.wait_for_requests(1).await;
    tokio::time::timeout(GUARD, sim.shutdown())
        .await
        .expect("shutdown does not wait for hanging requests");
    let result = tokio::time::timeout(GUARD, request).await.unwrap().unwrap();
    assert!(result.is_err(), "the connection was closed");
}

#[tokio::test]
async fn slow_paces_its_chunks() {
    let sim = start().await;
    // 3 chunks at 20 per second: at least 150 ms, however fast the machine.
    let started = Instant::now();
    let events = parse_sse(&chat(&sim, "slow(20)", true).await.text().await.unwrap());
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(chat_deltas(&events), ["sim ", "slow(20) ", "ok"]);

    let started = Instant::now();
    let (status, _, body) = json_of(chat(&sim, "slow(20)", false).await).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["choices"][0]["message"]["content"], "sim slow(20) ok");
}

fn event_names(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn responses_stream_text() {
    let sim = start().await;
    let response = post(&sim, "/responses", &responses_body("ok", true)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = parse_sse(&response.text().await.unwrap());
    assert_eq!(
        event_names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, event) in events.iter().enumerate() {
        let data = event.json();
        assert_eq!(data["type"], event.event.as_deref().unwrap());
        assert_eq!(data["sequence_number"], i);
    }
    let delta = events[4].json();
    assert_eq!(delta["output_index"], 0);
    assert_eq!(delta["content_index"], 0);
    assert!(delta["item_id"].as_str().unwrap().starts_with("msg_"));
    let text: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("response.output_text.delta"))
        .map(|e| e.json()["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "sim ok ok");
    assert_eq!(events[7].json()["text"], "sim ok ok");

    let completed = &events[10].json()["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["content"][0]["text"], "sim ok ok");
    // "hello, sim" = 10 characters ≈ 2 tokens.
    assert_eq!(
        completed["usage"],
        json!({"input_tokens": 2, "output_tokens": 3, "total_tokens": 5})
    );
    assert_eq!(sim.requests()[0].path, "/v1/responses");
}

#[tokio::test]
async fn responses_stream_tool_calls_and_failures() {
    let sim = start().await;
    sim.set_script(
        "agent",
        r#"tool(write_file, {"path":"a.txt"}), stream_error_after(1)"#
            .parse()
            .unwrap(),
    );
    let body = responses_body("agent", true);
    let events = parse_sse(&post(&sim, "/responses", &body).await.text().await.unwrap());
    let added = events
        .iter()
        .find(|e| e.event.as_deref() == Some("response.output_item.added"))
        .unwrap()
        .json();
    assert_eq!(added["item"]["type"], "function_call");
    assert_eq!(added["item"]["name"], "write_file");
    assert!(added["item"]["call_id"]
        .as_str()
        .unwrap()
        .starts_with("call_"));
    let arguments: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("response.function_call_arguments.delta"))
        .map(|e| e.json()["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(arguments, r#"{"path":"a.txt"}"#);
    let done = events
        .iter()
        .find(|e| e.event.as_deref() == Some("response.function_call_arguments.done"))
        .unwrap();
    assert_eq!(done.json()["arguments"], arguments);
    let completed = events.last().unwrap().json();
    assert_eq!(completed["response"]["output"][0]["arguments"], arguments);

    let (text, failed) = read_until_end(post(&sim, "/responses", &body).await).await;
    assert!(!failed);
    let events = parse_sse(&text);
    let names = event_names(&events);
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count(),
        1
    );
    assert_eq!(*names.last().unwrap(), "response.failed");
    let failed = events.last().unwrap().json();
    assert_eq!(failed["type"], "response.failed");
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"]["code"], "server_error");
    assert_eq!(failed["sequence_number"], events.len() - 1);
}

#[tokio::test]
async fn responses_whole_and_broken() {
    let sim = start().await;
    let response = post(
        &sim,
        "/responses",
        &responses_body("reply(hi there)", false),
    )
    .await;
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["text"], "hi there");

    let body = responses_body("stream_break_after(2)", true);
    let (text, failed) = read_until_end(post(&sim, "/responses", &body).await).await;
    assert!(failed);
    let events = parse_sse(&text);
    assert_eq!(
        event_names(&events)
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count(),
        2
    );
    assert!(event_names(&events)
        .iter()
        .all(|n| *n != "response.completed"));
}

#[tokio::test]
async fn unknown_models_and_bad_requests() {
    let sim = start().await;
    let (status, _, body) = json_of(chat(&sim, "gpt-4o", false).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(
        body["error"]["message"],
        "The model `gpt-4o` does not exist or you do not have access to it."
    );
    assert_eq!(sim.requests()[0].step, None);

    let response = Client::new()
        .post(format!("{}/chat/completions", sim.base_url()))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let (status, _, body) = json_of(post(&sim, "/chat/completions", &json!({})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("model"));

    let response = Client::new()
        .get(format!("{}/nowhere", sim.base_url()))
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn an_api_key_can_be_required() {
    let sim = start().await;
    sim.require_api_key(Some("sk-sim".into()));
    sim.set_script("m", "ok".parse().unwrap());

    let (status, _, body) = json_of(chat(&sim, "m", false).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(
        sim.requests()[0].step,
        None,
        "a refused request uses no step"
    );

    let with_key = |key: &str| {
        Client::new()
            .post(format!("{}/chat/completions", sim.base_url()))
            .bearer_auth(key)
            .json(&chat_body("m", false))
            .send()
    };
    assert_eq!(
        with_key("sk-wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(with_key("sk-sim").await.unwrap().status(), StatusCode::OK);

    sim.require_api_key(None);
    assert_eq!(chat(&sim, "m", false).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn scripts_are_driven_and_inspected_over_http() {
    let sim = start().await;
    let client = Client::new();
    let root = sim.base_url().trim_end_matches("/v1").to_owned();

    let put = |model: &str, script: &str| {
        client
            .put(format!("{root}/sim/scripts/{model}"))
            .body(script.to_owned())
            .send()
    };
    let response = put("openrouter/deepseek%20v3", "rate_limit(5)*2 ,ok")
        .await
        .unwrap();
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"model": "openrouter/deepseek v3", "script": "rate_limit(5)*2, ok"})
    );

    let (status, _, body) = json_of(put("m", "ok, rate_limt").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown step \"rate_limt\" at position 2; known: ok,"),
        "{message}"
    );

    let scripts: Value = client
        .get(format!("{root}/sim/scripts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        scripts,
        json!({"openrouter/deepseek v3": "rate_limit(5)*2, ok"})
    );
    assert_eq!(
        sim.scripts(),
        [(
            "openrouter/deepseek v3".to_owned(),
            "rate_limit(5)*2, ok".parse().unwrap()
        )]
    );

    let models: Value = client
        .get(format!("{}/models", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "openrouter/deepseek v3");

    let status = chat(&sim, "openrouter/deepseek v3", true).await.status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let requests: Value = client
        .get(format!("{root}/sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requests[0]["model"], "openrouter/deepseek v3");
    assert_eq!(requests[0]["step"], "rate_limit(5)");
    assert_eq!(requests[0]["stream"], true);
    assert!(requests[0]["at_ms"].is_u64());
}

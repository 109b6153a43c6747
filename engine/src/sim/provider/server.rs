//! The HTTP side: the accept loop, routing, and the handlers of the
//! completion endpoints of every wire and the `/sim` control endpoints.

use super::anthropic::{self, Anthropic};
use super::api::{self, Api, Call};
use super::behaviour::Behaviour;
use super::body::{self, Body, Tracked};
use super::chat::Chat;
use super::fault::{self, Fault, Trouble};
use super::ollama::{self, Ollama};
use super::responses::Responses;
use super::script::Script;
use super::state::State;
use super::RequestRecord;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// Request bodies beyond this are refused; real prompts are far smaller.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Serves until `stop` fires or its sender is dropped, then ends every
/// connection, hanging requests included.
pub(super) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, state.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: don't spin on it.
                    tracing::warn!(error = %e, "sim provider: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn connection(stream: TcpStream, state: Arc<State>) {
    // Paced streams send small chunks that Nagle's algorithm would batch.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let state = state.clone();
        async move {
            // Created inside the future, so a hanging request stops counting
            // when hyper drops it because the client went away.
            let busy = state.busy();
            let response = route(&state, request).await;
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, busy)))
        }
    });
    let served = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        // Clients dropping streams is the sim's daily business.
        tracing::debug!(error = %e, "sim provider: connection ended");
    }
}

async fn route(state: &State, request: Request<Incoming>) -> Response<Body> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    match (method.as_str(), path.as_str()) {
        ("POST", "/v1/chat/completions") => complete(state, request, &Chat).await,
        ("POST", "/v1/responses") => complete(state, request, &Responses).await,
        ("POST", "/api/chat") => complete(state, request, &Ollama).await,
        ("POST", "/v1/messages") => complete(state, request, &Anthropic).await,
        ("GET", "/v1/models") => models(state, request.headers()),
        ("GET", "/api/tags") => tags(state, request.headers()),
        ("GET", "/sim/scripts") => body::json(StatusCode::OK, &scripts(state)),
        ("GET", "/sim/requests") => body::json(StatusCode::OK, &requests(state)),
        ("PUT", _) if path.starts_with("/sim/scripts/") => {
            put_script(state, &path["/sim/scripts/".len()..], request).await
        }
        _ => body::fault(Fault::no_route(&method, &path)),
    }
}

/// What a completion request asks for, whichever API it came through.
struct Asked {
    model: String,
    stream: bool,
    include_usage: bool,
    prompt_tokens: u64,
}

impl Asked {
    fn parse(bytes: &[u8], headers: &HeaderMap, api: &dyn Api) -> Result<Asked, Trouble> {
        let body: Value = serde_json::from_slice(bytes).map_err(|e| {
            Trouble::InvalidRequest(format!(
                "We could not parse the JSON body of your request: {e}"
            ))
        })?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| Trouble::InvalidRequest("you must provide a model parameter".into()))?;
        api.check(headers, &body)?;
        // Chat, Ollama and Anthropic send `messages` (Anthropic's system
        // prompt apart); Responses sends `input` and `instructions`.
        let prompt_chars: usize = ["messages", "input", "instructions", "system"]
            .iter()
            .filter_map(|field| body.get(field))
            .map(text_chars)
            .sum();
        Ok(Asked {
            model: model.to_owned(),
            stream: body
                .get("stream")
                .and_then(Value::as_bool)
                .unwrap_or(api.streams_by_default()),
            include_usage: body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            prompt_tokens: (prompt_chars / 4) as u64,
        })
    }
}

/// The characters of every string in a JSON value: a prompt-size estimate.
fn text_chars(value: &Value) -> usize {
    match value {
        Value::String(text) => text.chars().count(),
        Value::Array(items) => items.iter().map(text_chars).sum(),
        Value::Object(fields) => fields.values().map(text_chars).sum(),
        _ => 0,
    }
}

async fn complete(state: &State, request: Request<Incoming>, api: &dyn Api) -> Response<Body> {
    let arrived = Instant::now();
    let path = request.uri().path().to_owned();
    // Like OpenAI, a bad key is refused before the model is even looked at,
    // and it does not use up a step of the script.
    let authorized = state.authorized(request.headers());
    let headers = request.headers().clone();
    let asked = match read_body(request)
        .await
        .and_then(|b| Asked::parse(&b, &headers, api))
    {
        Ok(asked) => asked,
        Err(trouble) => return body::fault(api.fault(&trouble, "")),
    };
    let step = if authorized {
        state.next_step(&asked.model)
    } else {
        None
    };
    let seq = state.record(RequestRecord {
        model: asked.model.clone(),
        path,
        stream: asked.stream,
        at: arrived,
        step: step.as_ref().map(ToString::to_string),
    });
    if !authorized {
        return body::fault(api.fault(&Trouble::Auth, &asked.model));
    }
    let Some(step) = step else {
        return body::fault(api.fault(&Trouble::ModelNotFound, &asked.model));
    };
    let call = Call {
        model: asked.model,
        seq,
        created: unix_seconds(),
        prompt_tokens: asked.prompt_tokens,
        include_usage: asked.include_usage,
    };
    match Behaviour::of(&step, &call.model) {
        Behaviour::Fault(trouble) => body::fault(api.fault(&trouble, &call.model)),
        // Never answers: the connection's end (client gone, or shutdown)
        // drops this future.
        Behaviour::Hang => std::future::pending().await,
        Behaviour::Answer(answer, delivery) => {
            api::respond(api, &call, &answer, delivery, asked.stream).await
        }
    }
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, Trouble> {
    Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| Trouble::InvalidRequest(format!("could not read the request body: {e}")))
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// `GET /v1/models`: OpenAI's list, or Anthropic's when the request names
/// an `anthropic-version` (the two APIs share the path).
fn models(state: &State, headers: &HeaderMap) -> Response<Body> {
    let anthropic = headers.contains_key("anthropic-version");
    if !state.authorized(headers) {
        return body::fault(match anthropic {
            true => anthropic::fault(&Trouble::Auth, ""),
            false => fault::openai(&Trouble::Auth, ""),
        });
    }
    let names: Vec<String> = state
        .scripts()
        .into_iter()
        .map(|(model, _)| model)
        .collect();
    if anthropic {
        return body::json(StatusCode::OK, &anthropic::models(&names));
    }
    let data: Vec<Value> = names
        .iter()
        .map(|model| json!({"id": model, "object": "model", "created": 0, "owned_by": "sim"}))
        .collect();
    body::json(StatusCode::OK, &json!({"object": "list", "data": data}))
}

/// `GET /api/tags`: Ollama's list.
fn tags(state: &State, headers: &HeaderMap) -> Response<Body> {
    if !state.authorized(headers) {
        return body::fault(ollama::fault(&Trouble::Auth, ""));
    }
    let names: Vec<String> = state
        .scripts()
        .into_iter()
        .map(|(model, _)| model)
        .collect();
    body::json(StatusCode::OK, &ollama::tags(&names))
}

fn scripts(state: &State) -> Value {
    let scripts: serde_json::Map<String, Value> = state
        .scripts()
        .into_iter()
        .map(|(model, script)| (model, Value::String(script.to_string())))
        .collect();
    Value::Object(scripts)
}

fn requests(state: &State) -> Value {
    let started = state.started();
    let records: Vec<Value> = state
        .requests()
        .into_iter()
        .map(|record| {
            json!({
                "model": record.model,
                "path": record.path,
                "stream": record.stream,
                "step": record.step,
                "at_ms": record.at.saturating_duration_since(started).as_millis() as u64,
            })
        })
        .collect();
    Value::Array(records)
}

/// `PUT /sim/scripts/<model>` with the script as plain text. Model names may
/// contain `/`, and spaces or commas when percent-encoded.
async fn put_script(
    state: &State,
    encoded_model: &str,
    request: Request<Incoming>,
) -> Response<Body> {
    let Some(model) = percent_decode(encoded_model).filter(|model| !model.is_empty()) else {
        return body::fault(fault::openai(
            &Trouble::InvalidRequest(
                "the model name in the path is empty or not valid percent-encoded UTF-8".into(),
            ),
            "",
        ));
    };
    let text = match read_body(request).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(trouble) => return body::fault(fault::openai(&trouble, "")),
    };
    match text.parse::<Script>() {
        Ok(script) => {
            let answer = json!({"model": model, "script": script.to_string()});
            state.set_script(&model, script);
            body::json(StatusCode::OK, &answer)
        }
        Err(e) => body::fault(fault::openai(&Trouble::InvalidRequest(e.to_string()), "")),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a/b-c").as_deref(), Some("a/b-c"));
        assert_eq!(
            percent_decode("server_error*2%2C%20ok").as_deref(),
            Some("server_error*2, ok")
        );
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn prompt_size_counts_every_string() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"12345678"}]}"#;
        let asked = Asked::parse(body, &HeaderMap::new(), &Chat).unwrap();
        assert_eq!(asked.prompt_tokens, 3); // "user" + 8 chars = 12 → 3
        assert!(!asked.stream);
    }
}

//! Response bodies: whole JSON, timed stream playback (SSE or NDJSON), and
//! bodies that break the connection on purpose.

use super::fault::Fault;
use super::state::Busy;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Every response body. An error from it makes hyper drop the connection
/// mid-body, which is how broken streams are simulated.
pub(super) type Body = UnsyncBoxBody<Bytes, io::Error>;

/// A chunk to send once `delay` has passed.
pub(super) struct Timed {
    pub delay: Duration,
    pub data: Bytes,
}

/// How a played-back body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Finish,
    /// Drop the connection: no terminating chunk, so the client sees a body error.
    Abort,
}

pub(super) fn json(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(super) fn fault(fault: Fault) -> Response<Body> {
    let mut response = json(fault.status, &fault.body);
    for (name, value) in fault.headers {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// `text/event-stream`: SSE, as the OpenAI and Anthropic APIs stream.
pub(super) const SSE: &str = "text/event-stream; charset=utf-8";
/// `application/x-ndjson`: one JSON object a line, as Ollama streams.
pub(super) const NDJSON: &str = "application/x-ndjson";

/// A streamed response (`content_type` [`SSE`] or [`NDJSON`]) played back
/// in real time.
pub(super) fn stream(frames: Vec<Timed>, end: End, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(playback(frames, end));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Headers announcing the whole JSON, then half of it, then a dropped
/// connection.
pub(super) fn truncated_json(value: &Value) -> Response<Body> {
    let whole = Bytes::from(value.to_string());
    let half = whole.slice(..whole.len() / 2);
    let frames = vec![Timed {
        delay: Duration::ZERO,
        data: half,
    }];
    let mut response = Response::new(playback(frames, End::Abort));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(whole.len()));
    response
}

/// `data: <json>` — Chat Completions' events have no name.
pub(super) fn data_event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: <name>` + `data: <json>`, as the Responses and Messages APIs send.
pub(super) fn named_event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

/// One NDJSON line.
pub(super) fn json_line(value: &Value) -> Bytes {
    Bytes::from(format!("{value}\n"))
}

fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The frames, each after its delay, then the end. The stream is polled by the
/// connection's task, so a client going away or a shutdown stops it at once.
fn playback(frames: Vec<Timed>, end: End) -> Body {
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), Some(end)),
        |(mut frames, end)| async move {
            match frames.next() {
                Some(frame) => {
                    if !frame.delay.is_zero() {
                        tokio::time::sleep(frame.delay).await;
                    }
                    Some((Ok(Frame::data(frame.data)), (frames, end)))
                }
                None if end == Some(End::Abort) => {
                    // hyper drops its unflushed output when a body fails, and
                    // flushes when the body is pending: yield once so what was
                    // sent before the cut reaches the client.
                    tokio::task::yield_now().await;
                    let cut = io::Error::new(io::ErrorKind::ConnectionAborted, "sim: stream cut");
                    Some((Err(cut), (frames, None)))
                }
                None => None,
            }
        },
    );
    StreamBody::new(stream).boxed_unsync()
}

/// A body that counts its request as in flight until hyper has sent it all or
/// dropped it, so [`super::SimProvider::wait_idle`] covers streams too.
pub(super) struct Tracked {
    body: Body,
    _busy: Busy,
}

impl Tracked {
    pub fn new(body: Body, busy: Busy) -> Tracked {
        Tracked { body, _busy: busy }
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

//! What the wires have in common: each turns an answer into a list of
//! stream events (SSE, or NDJSON lines) or one JSON object, and renders
//! errors in its own shape; the delivery (pacing, cutting, breaking) is
//! applied here, the same way for all.

use super::behaviour::{Answer, Delivery};
use super::body::{self, Body, End, Timed};
use super::fault::{self, Fault, Trouble};
use bytes::Bytes;
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// The request being answered, as far as the answer's JSON needs it.
pub(super) struct Call {
    pub model: String,
    /// The request's number on this server; ids derive from it so that runs
    /// are reproducible.
    pub seq: usize,
    /// Unix seconds.
    pub created: u64,
    pub prompt_tokens: u64,
    /// Chat Completions' `stream_options.include_usage`.
    pub include_usage: bool,
}

impl Call {
    pub fn id(&self, prefix: &str) -> String {
        format!("{prefix}sim{:06}", self.seq)
    }
}

/// One stream event (an SSE event or an NDJSON line), ready to send. Content events carry the answer itself: they
/// are the ones a slow model paces and a broken stream counts.
pub(super) struct Event {
    pub data: Bytes,
    pub content: bool,
}

impl Event {
    pub fn control(data: Bytes) -> Event {
        Event {
            data,
            content: false,
        }
    }

    pub fn content(data: Bytes) -> Event {
        Event {
            data,
            content: true,
        }
    }
}

/// One endpoint's encoding of answers and errors.
pub(super) trait Api: Sync {
    /// Every event of the complete streamed answer.
    fn stream(&self, call: &Call, answer: &Answer) -> Vec<Event>;
    /// The in-stream error that ends a stream after `sent` events.
    fn stream_error(&self, call: &Call, sent: usize) -> Bytes;
    /// The non-streaming answer.
    fn object(&self, call: &Call, answer: &Answer) -> Value;
    /// A non-streaming answer that failed mid-generation, as the provider
    /// sends it (OpenAI-compatible servers: an error object with HTTP 200).
    fn interrupted(&self, call: &Call) -> Fault;
    /// `trouble` in this wire's error shape.
    fn fault(&self, trouble: &Trouble, model: &str) -> Fault {
        fault::openai(trouble, model)
    }
    /// The streamed body's content type.
    fn content_type(&self) -> &'static str {
        body::SSE
    }
    /// Whether a request that does not say streams (Ollama's default).
    fn streams_by_default(&self) -> bool {
        false
    }
    /// What the wire requires of a request beyond a model (Anthropic: its
    /// version header and `max_tokens`).
    fn check(&self, _headers: &HeaderMap, _body: &Value) -> Result<(), Trouble> {
        Ok(())
    }
}

/// Answers with `answer`, delivered as the script asks.
pub(super) async fn respond(
    api: &dyn Api,
    call: &Call,
    answer: &Answer,
    delivery: Delivery,
    stream: bool,
) -> Response<Body> {
    if stream {
        streamed(api, call, answer, delivery)
    } else {
        whole(api, call, answer, delivery).await
    }
}

fn streamed(api: &dyn Api, call: &Call, answer: &Answer, delivery: Delivery) -> Response<Body> {
    let events = api.stream(call, answer);
    let (events, interval, end) = match delivery {
        Delivery::Whole => (events, Duration::ZERO, End::Finish),
        Delivery::Paced(interval) => (events, interval, End::Finish),
        Delivery::BreakAfter(n) => (cut_after(events, n), Duration::ZERO, End::Abort),
        Delivery::ErrorAfter(n) => {
            let mut events = cut_after(events, n);
            let error = api.stream_error(call, events.len());
            events.push(Event::control(error));
            (events, Duration::ZERO, End::Finish)
        }
    };
    let frames = events
        .into_iter()
        .map(|event| Timed {
            delay: if event.content {
                interval
            } else {
                Duration::ZERO
            },
            data: event.data,
        })
        .collect();
    body::stream(frames, end, api.content_type())
}

/// The events before the (n+1)-th content event.
fn cut_after(events: Vec<Event>, n: usize) -> Vec<Event> {
    let mut content = 0;
    events
        .into_iter()
        .take_while(|event| {
            if event.content {
                content += 1;
            }
            content <= n
        })
        .collect()
}

async fn whole(api: &dyn Api, call: &Call, answer: &Answer, delivery: Delivery) -> Response<Body> {
    match delivery {
        Delivery::Whole => body::json(StatusCode::OK, &api.object(call, answer)),
        Delivery::Paced(interval) => {
            // A slow model takes as long to answer whole as to stream.
            let pieces = u32::try_from(answer.pieces().len()).unwrap_or(u32::MAX);
            tokio::time::sleep(interval.saturating_mul(pieces)).await;
            body::json(StatusCode::OK, &api.object(call, answer))
        }
        Delivery::BreakAfter(_) => body::truncated_json(&api.object(call, answer)),
        Delivery::ErrorAfter(_) => body::fault(api.interrupted(call)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(kinds: &str) -> Vec<Event> {
        kinds
            .chars()
            .map(|kind| {
                let data = Bytes::from(kind.to_string());
                if kind == 'c' {
                    Event::content(data)
                } else {
                    Event::control(data)
                }
            })
            .collect()
    }

    fn kinds(events: &[Event]) -> String {
        events
            .iter()
            .map(|e| String::from_utf8_lossy(&e.data).into_owned())
            .collect()
    }

    #[test]
    fn a_cut_keeps_the_events_before_the_next_content() {
        assert_eq!(kinds(&cut_after(events("hhcccfd"), 2)), "hhcc");
        assert_eq!(kinds(&cut_after(events("hhcccfd"), 0)), "hh");
        assert_eq!(kinds(&cut_after(events("hhcccfd"), 9)), "hhcccfd");
    }
}

//! What the two OpenAI APIs have in common: each turns an answer into a list
//! of SSE events or one JSON object, and the delivery (pacing, cutting,
//! breaking) is applied here, the same way for both.

use super::behaviour::{Answer, Delivery};
use super::body::{self, Body, End, Timed};
use bytes::Bytes;
use hyper::{Response, StatusCode};
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

/// One SSE event, ready to send. Content events carry the answer itself: they
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

/// One OpenAI-compatible endpoint's encoding of answers.
pub(super) trait Api: Sync {
    /// Every event of the complete streamed answer.
    fn stream(&self, call: &Call, answer: &Answer) -> Vec<Event>;
    /// The in-stream error that ends a stream after `sent` events.
    fn stream_error(&self, call: &Call, sent: usize) -> Bytes;
    /// The non-streaming answer.
    fn object(&self, call: &Call, answer: &Answer) -> Value;
    /// A non-streaming answer that failed mid-generation, sent with HTTP 200
    /// as the providers do once generation had started.
    fn object_error(&self, call: &Call) -> Value;
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
    body::sse(frames, end)
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
        Delivery::ErrorAfter(_) => body::json(StatusCode::OK, &api.object_error(call)),
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

//! Server-sent events, decoded incrementally from the byte chunks as they
//! arrive, so that every chunk resets the idle timer and a `data:` line split
//! across two TCP reads still parses.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; empty when the server sent none.
    pub event: String,
    pub data: String,
}

impl SseEvent {
    /// The event's type: the JSON's `type` field, else the `event:` name.
    pub fn kind<'a>(&'a self, json: &'a serde_json::Value) -> &'a str {
        json.get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(self.event.as_str())
    }
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the events completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    events.push(SseEvent {
                        event: std::mem::take(&mut self.event),
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                self.event.clear();
            } else if let Some(value) = field(line, "data") {
                self.data.push(value.to_owned());
            } else if let Some(value) = field(line, "event") {
                self.event = value.to_owned();
            }
            // Comments (`: keep-alive`), `id:` and `retry:` carry nothing we use.
        }
        events
    }
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?.strip_prefix(':')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"event: response.output_text.delta\nda").is_empty());
        assert!(d.push(b"ta: {\"delta\":\"hi\"}\r\n").is_empty());
        let events = d.push(b"\n: keep-alive\n\ndata: [DONE]\n\n");
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "response.output_text.delta".into(),
                    data: "{\"delta\":\"hi\"}".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "[DONE]".into()
                }
            ]
        );
    }
}

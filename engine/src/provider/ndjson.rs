//! Newline-delimited JSON (Ollama's streaming), decoded incrementally like
//! [`super::sse`]: every chunk resets the idle timer and a line split across
//! two reads still parses. Each line becomes an [`SseEvent`] without a name,
//! so a wire's [`super::StreamState`] reads both framings the same way.

use super::sse::SseEvent;

#[derive(Debug, Default)]
pub struct LineDecoder {
    buffer: Vec<u8>,
}

impl LineDecoder {
    /// Feeds bytes; returns the non-empty lines completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            if !line.is_empty() {
                lines.push(SseEvent {
                    event: String::new(),
                    data: line.to_owned(),
                });
            }
        }
        lines
    }
}

/// The framing of a streamed response body.
pub(crate) enum Frames {
    Sse(super::sse::SseDecoder),
    Lines(LineDecoder),
}

impl Frames {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        match self {
            Frames::Sse(d) => d.push(bytes),
            Frames::Lines(d) => d.push(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads() {
        let mut d = LineDecoder::default();
        assert!(d.push(b"{\"done\":fa").is_empty());
        let lines = d.push(b"lse}\r\n\n{\"error\":\"x\"}\n{\"par");
        let data: Vec<&str> = lines.iter().map(|l| l.data.as_str()).collect();
        assert_eq!(data, ["{\"done\":false}", "{\"error\":\"x\"}"]);
        assert!(lines.iter().all(|l| l.event.is_empty()));
    }
}

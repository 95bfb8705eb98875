//! JSON output: the report file and request bodies.

use serde::Serialize;

use crate::report::event::Event;
use crate::wire::ga4::Mode;

/// The events as a pretty-printed JSON array (the report file's content).
pub fn pretty(events: &[Event]) -> Vec<u8> {
    // Serialising owned strings and integers into a Vec cannot fail.
    serde_json::to_vec_pretty(events).unwrap_or_default()
}

/// One event, compact, as it appears inside a request body.
pub fn compact_event(event: &Event) -> Vec<u8> {
    let mut out = Vec::new();
    write_compact_event(&mut out, event);
    out
}

/// Appends one event, compact, to `out`.
pub fn write_compact_event(out: &mut Vec<u8>, event: &Event) {
    // Serialising owned strings and integers into a Vec cannot fail; should it ever, nothing
    // of the event is left behind.
    let start = out.len();
    if serde_json::to_writer(&mut *out, event).is_err() {
        out.truncate(start);
    }
}

/// An upper bound of [`body_head`]'s length for any valid client id (at most 128 characters
/// that need no escaping) in either mode.
pub const MAX_BODY_HEAD_BYTES: usize = 256;

#[derive(Serialize)]
struct BodyHead<'a> {
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_behavior: Option<&'a str>,
}

/// A request body from already-encoded events:
/// `{"client_id":..,["validation_behavior":"ENFORCE_RECOMMENDATIONS",]"events":[..]}`.
pub fn body(client_id: &str, mode: Mode, encoded_events: &[&[u8]]) -> Vec<u8> {
    let mut out = body_head(client_id, mode);
    for (i, e) in encoded_events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The bytes before the first event; its length plus the events, commas and `]}` is the body
/// size.
pub fn body_head(client_id: &str, mode: Mode) -> Vec<u8> {
    let head = BodyHead {
        client_id,
        validation_behavior: (mode == Mode::Validate).then_some("ENFORCE_RECOMMENDATIONS"),
    };
    let mut out = serde_json::to_vec(&head).unwrap_or_default();
    out.pop(); // the closing brace: events follow
    out.extend_from_slice(b",\"events\":[");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_head_is_within_the_bound() {
        let longest = "x".repeat(128);
        let head = body_head(&longest, Mode::Validate);
        assert!(head.len() <= MAX_BODY_HEAD_BYTES, "{}", head.len());
        assert!(
            head.len() > MAX_BODY_HEAD_BYTES / 2,
            "bound too loose: {}",
            head.len()
        );
    }
}

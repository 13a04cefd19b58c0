//! The events inside one Kafka message value.
//!
//! Producers put events in a message in three shapes, all accepted:
//!
//! - one JSON object (compact or pretty-printed);
//! - a JSON array of objects, one event each;
//! - NDJSON: one object per line.
//!
//! [`MessageEvents::split`] tells them apart and gives each event as one line
//! of JSON, ready for the [`EventParser`](crate::parse::EventParser) that HTTP
//! ingest uses. A pretty-printed object becomes one line by turning its line
//! breaks into spaces, which is safe because JSON strings cannot hold a raw
//! line break.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// The events of one message value, each as one line of JSON.
#[derive(Debug)]
pub enum MessageEvents<'a> {
    /// The value held these events (none for an empty value).
    Events(Vec<Cow<'a, [u8]>>),
    /// The value starts like a JSON array but is not one.
    BadArray(String),
}

impl<'a> MessageEvents<'a> {
    pub fn split(value: &'a [u8]) -> MessageEvents<'a> {
        let value = value.trim_ascii();
        if value.is_empty() {
            return MessageEvents::Events(Vec::new());
        }
        if value.first() == Some(&b'[') {
            return match serde_json::from_slice::<Vec<&RawValue>>(value) {
                Ok(elements) => MessageEvents::Events(
                    elements
                        .into_iter()
                        .map(|element| one_line(element.get().as_bytes()))
                        .map(|line| Cow::Owned(line.into_owned()))
                        .collect(),
                ),
                Err(error) => MessageEvents::BadArray(format!(
                    "the message starts with `[` but is not a JSON array of events: {error}"
                )),
            };
        }
        if !value.contains(&b'\n') {
            return MessageEvents::Events(vec![Cow::Borrowed(value)]);
        }
        if serde_json::from_slice::<IgnoredAny>(value).is_ok() {
            return MessageEvents::Events(vec![one_line(value)]);
        }
        MessageEvents::Events(
            value
                .split(|&byte| byte == b'\n')
                .map(|line| line.trim_ascii())
                .filter(|line| !line.is_empty())
                .map(Cow::Borrowed)
                .collect(),
        )
    }
}

/// `json` on one line: its line breaks, which can only be whitespace
/// between tokens, become spaces.
fn one_line(json: &[u8]) -> Cow<'_, [u8]> {
    if json.iter().any(|&byte| byte == b'\n' || byte == b'\r') {
        Cow::Owned(
            json.iter()
                .map(|&byte| {
                    if byte == b'\n' || byte == b'\r' {
                        b' '
                    } else {
                        byte
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(value: &str) -> Vec<String> {
        match MessageEvents::split(value.as_bytes()) {
            MessageEvents::Events(events) => events
                .iter()
                .map(|line| String::from_utf8(line.to_vec()).unwrap())
                .collect(),
            MessageEvents::BadArray(error) => panic!("{error}"),
        }
    }

    #[test]
    fn every_shape_gives_its_events_as_lines() {
        assert_eq!(lines(r#"{"a":1}"#), [r#"{"a":1}"#]);
        assert_eq!(lines("{\n  \"a\": \"x\"\n}\n"), [r#"{   "a": "x" }"#]);
        assert_eq!(lines(r#"[{"a":1}, {"a":2}]"#), [r#"{"a":1}"#, r#"{"a":2}"#]);
        assert_eq!(
            lines("{\"a\":1}\n\n{\"a\":2}\r\n"),
            [r#"{"a":1}"#, r#"{"a":2}"#]
        );
        assert!(lines("  \n").is_empty());
    }

    #[test]
    fn a_broken_array_is_one_error_and_a_broken_line_stays_a_line() {
        assert!(matches!(
            MessageEvents::split(b"[{\"a\":1},"),
            MessageEvents::BadArray(_)
        ));
        assert_eq!(lines("{\"a\":1}\nnot json"), [r#"{"a":1}"#, "not json"]);
    }
}

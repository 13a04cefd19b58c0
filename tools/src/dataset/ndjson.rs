//! NDJSON: one JSON object per line, keys in the dataset's column order.
//!
//! ```text
//! {"timestamp":"2024-01-01T00:00:00.123Z","service":"svc-00","region":"us-east-1",...,"status":200,...,"duration_ms":20.086,"bytes":2981,"retries":0,"message":"GET /api/v1/r0 -> 200 in 20.086ms user=12 w0 w3 w1 w17"}
//! ```
//!
//! `timestamp` is an ISO-8601 UTC string with milliseconds, `status`, `bytes` and `retries` are
//! JSON integers, `duration_ms` a JSON number with exactly three decimals (a non-finite duration,
//! which the generator never produces, is written as `null`). Lines end with `\n`.
//!
//! Lines are assembled in a staging buffer and handed to the sink in large chunks, so the sink
//! needs no buffering of its own.

use std::io::Write;

use super::event::{AccessEvent, FIELD_NAMES};
use super::text::{push_fixed3, push_i64, push_iso8601_millis, push_json_string};
use super::writer::{DatasetWriteError, EventWriter, StagedText};

/// Writes access events as NDJSON.
#[derive(Debug)]
pub struct NdjsonWriter<W: Write> {
    out: StagedText<W>,
}

impl<W: Write> NdjsonWriter<W> {
    /// A writer appending to `sink`.
    pub fn new(sink: W) -> Self {
        Self {
            out: StagedText::new(sink),
        }
    }
}

impl<W: Write> EventWriter for NdjsonWriter<W> {
    type Sink = W;

    fn write_event(&mut self, event: &AccessEvent) -> Result<(), DatasetWriteError> {
        let [
            timestamp,
            service,
            region,
            host,
            method,
            status,
            path,
            country,
            user_id,
            duration_ms,
            bytes,
            retries,
            message,
        ] = FIELD_NAMES;
        let out = self.out.buffer();
        out.push_str("{\"");
        out.push_str(timestamp);
        out.push_str("\":\"");
        push_iso8601_millis(out, event.timestamp_ms);
        out.push('"');
        push_string_field(out, service, &event.service);
        push_string_field(out, region, &event.region);
        push_string_field(out, host, &event.host);
        push_string_field(out, method, &event.method);
        push_integer_field(out, status, event.status);
        push_string_field(out, path, &event.path);
        push_string_field(out, country, &event.country);
        push_string_field(out, user_id, &event.user_id);
        push_key(out, duration_ms);
        if event.duration_ms.is_finite() {
            push_fixed3(out, event.duration_ms);
        } else {
            out.push_str("null");
        }
        push_integer_field(out, bytes, event.bytes);
        push_integer_field(out, retries, event.retries);
        push_string_field(out, message, &event.message);
        out.push_str("}\n");
        self.out.row_done()?;
        Ok(())
    }

    fn finish(self) -> Result<W, DatasetWriteError> {
        Ok(self.out.finish()?)
    }
}

/// Appends `,"key":`; keys are fixed identifiers that need no escaping.
fn push_key(out: &mut String, key: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
}

fn push_string_field(out: &mut String, key: &str, value: &str) {
    push_key(out, key);
    push_json_string(out, value);
}

fn push_integer_field(out: &mut String, key: &str, value: i64) {
    push_key(out, key);
    push_i64(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{AccessLogGenerator, write_events};

    fn ndjson(seed: u64, events: u64) -> Vec<u8> {
        let mut writer = NdjsonWriter::new(Vec::new());
        let mut generator = AccessLogGenerator::new(seed, events);
        let written = write_events(&mut generator, &mut writer, |_| {}).expect("in memory");
        assert_eq!(written, events);
        writer.finish().expect("in memory")
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
        let first = ndjson(11, 20_000);
        assert!(!first.is_empty());
        assert_eq!(first, ndjson(11, 20_000));
        assert_ne!(first, ndjson(12, 20_000));
    }

    #[test]
    fn each_line_is_a_json_object_with_the_event_fields_in_order() {
        let bytes = ndjson(5, 2_000);
        let text = String::from_utf8(bytes).expect("NDJSON is UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(text.ends_with('\n'));
        assert_eq!(lines.len(), 2_000);
        for (line, event) in lines.iter().zip(AccessLogGenerator::new(5, 2_000)) {
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).expect("each line is a JSON object");
            assert_eq!(object.len(), FIELD_NAMES.len(), "{line}");
            // serde_json's map sorts its keys, so the order is checked on the raw line.
            let key_offsets: Vec<Option<usize>> = FIELD_NAMES
                .iter()
                .map(|key| line.find(&format!("\"{key}\":")))
                .collect();
            assert!(key_offsets.iter().all(Option::is_some), "{line}");
            assert!(key_offsets.is_sorted(), "{line}");
            let mut timestamp = String::new();
            push_iso8601_millis(&mut timestamp, event.timestamp_ms);
            assert_eq!(object["timestamp"], timestamp.as_str());
            assert_eq!(object["service"], event.service.as_str());
            assert_eq!(object["region"], event.region.as_str());
            assert_eq!(object["host"], event.host.as_str());
            assert_eq!(object["method"], event.method.as_str());
            assert_eq!(object["status"], event.status);
            assert_eq!(object["path"], event.path.as_str());
            assert_eq!(object["country"], event.country.as_str());
            assert_eq!(object["user_id"], event.user_id.as_str());
            assert_eq!(object["duration_ms"].as_f64(), Some(event.duration_ms));
            assert_eq!(object["bytes"], event.bytes);
            assert_eq!(object["retries"], event.retries);
            assert_eq!(object["message"], event.message.as_str());
        }
    }

    #[test]
    fn durations_keep_three_decimals_in_the_line() {
        let event = AccessEvent {
            duration_ms: 7.1,
            ..AccessEvent::default()
        };
        let mut writer = NdjsonWriter::new(Vec::new());
        writer.write_event(&event).expect("in memory");
        let line = String::from_utf8(writer.finish().expect("in memory")).expect("UTF-8");
        assert!(line.contains(r#""duration_ms":7.100,"#), "{line}");
        assert!(
            line.starts_with(r#"{"timestamp":"1970-01-01T00:00:00.000Z","#),
            "{line}"
        );
    }
}

//! A small deterministic stream of web events for query tests, with the
//! values the oracle needs kept beside the NDJSON sent.
//!
//! Three days of events (`2024-01-01` to `2024-01-03`), three services and
//! statuses, eleven users, bytes and a duration that is a multiple of 1/8
//! (so sums of a few hundred are exact in `f64` whatever their order and can
//! be compared exactly). [`web_spec`] rolls them up by hour over `service`
//! and `status`, with `user` outside the rollup, so segments keep both an
//! events and a rollup table.

use serde_json::json;

/// One event as a test's oracle keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebEvent {
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub service: &'static str,
    pub status: i64,
    pub user: String,
    pub bytes: i64,
    pub duration: f64,
}

impl WebEvent {
    /// The event time as the NDJSON line and Druid's answers write it.
    pub fn timestamp(&self) -> String {
        format!(
            "2024-01-0{}T{:02}:{:02}:00.000Z",
            self.day, self.hour, self.minute
        )
    }
}

/// `count` events from `seed`.
pub fn web_events(seed: u64, count: usize) -> Vec<WebEvent> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..count)
        .map(|i| WebEvent {
            day: 1 + (next() % 3) as u32,
            hour: (next() % 24) as u32,
            minute: (i % 60) as u32,
            service: ["api", "web", "db"][(next() % 3) as usize],
            status: [200, 404, 500][(next() % 3) as usize],
            user: format!("u{}", next() % 11),
            bytes: (next() % 10_000) as i64,
            duration: (next() % 1000) as f64 / 8.0,
        })
        .collect()
}

/// The events as one NDJSON body.
pub fn web_body(events: &[WebEvent]) -> Vec<u8> {
    let mut body = Vec::new();
    for event in events {
        let line = json!({
            "timestamp": event.timestamp(),
            "service": event.service, "status": event.status, "user": event.user,
            "bytes": event.bytes, "duration_ms": event.duration,
        });
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
    }
    body
}

/// The spec of a datasource `name` for these events, rollup on or off:
/// metrics `count`, `bytes` (longSum), `duration` (doubleSum) and `slowest`
/// (doubleMax of `duration_ms`).
pub fn web_spec(name: &str, rollup: bool) -> String {
    json!({
        "dataSource": name,
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["service", {"type": "long", "name": "status"},
            {"type": "string", "name": "user", "rollup": false}]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
            {"type": "doubleSum", "name": "duration", "fieldName": "duration_ms"},
            {"type": "doubleMax", "name": "slowest", "fieldName": "duration_ms"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "hour", "rollup": rollup}
    })
    .to_string()
}

//! `POST /v1/datasources/{name}/search` over HTTP: the hits of a search are
//! the events an oracle (tokenizing the sent messages and scanning them)
//! finds, newest first, cut at the limit, within the intervals and the
//! filter; highlights tag the matching words; the total is exact when
//! every table was read or asked for, and a lower bound when the search
//! stopped early; mistakes are 400s (an unknown datasource a 404) in the
//! native error shape. All of it in the real-time index and after persist.

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::text_oracle::tokens;

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200_000;

/// Events a minute apart over four hours.
const EVENTS: i64 = 240;

const NAME: &str = "logs";

fn spec() -> String {
    json!({
        "dataSource": NAME,
        "timestampSpec": {"column": "timestamp", "format": "millis"},
        "dimensionsSpec": {"dimensions": [
            "service",
            {"type": "long", "name": "status"},
            {"type": "text", "name": "message"},
            {"type": "text", "name": "host"}
        ]},
        "metricsSpec": [{"type": "count", "name": "count"}],
        "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "none", "rollup": false}
    })
    .to_string()
}

/// One sent event.
#[derive(Debug, Clone)]
struct Sent {
    minute: i64,
    service: &'static str,
    status: i64,
    host: String,
    message: String,
}

impl Sent {
    fn time(&self) -> i64 {
        JAN_1 + self.minute * 60_000 + 123
    }

    /// Its time as the search writes it, spelled out independently.
    fn iso_time(&self) -> String {
        format!(
            "2024-01-01T{:02}:{:02}:00.123Z",
            self.minute / 60,
            self.minute % 60
        )
    }

    fn event(&self) -> Value {
        json!({"__time": self.iso_time(), "service": self.service, "status": self.status,
               "message": self.message, "host": self.host, "count": 1})
    }
}

fn events() -> Vec<Sent> {
    let services = ["web", "api", "db"];
    (0..EVENTS)
        .map(|i| {
            let message = if i % 40 == 7 {
                format!("GET /x -> 500 needle7f3a kernel panic at step {i}")
            } else if i % 10 == 3 {
                format!("read failed: connection reset by peer (attempt {i})")
            } else {
                format!("GET /api/items/{i} ok")
            };
            let service = services[(i % 3) as usize];
            Sent {
                minute: i,
                service,
                status: if i % 4 == 0 { 500 } else { 200 },
                host: format!("{service}-{}", i % 5),
                message,
            }
        })
        .collect()
}

fn body(events: &[Sent]) -> Vec<u8> {
    let mut body = String::new();
    for event in events {
        body.push_str(
            &json!({"timestamp": event.time(), "service": event.service, "status": event.status,
                    "host": event.host, "message": event.message})
            .to_string(),
        );
        body.push('\n');
    }
    body.into_bytes()
}

fn has(text: &str, word: &str) -> bool {
    tokens(text).iter().any(|token| token == word)
}

/// The sent events `keep` selects, newest first.
fn newest_first(sent: &[Sent], keep: impl Fn(&Sent) -> bool) -> Vec<&Sent> {
    let mut kept: Vec<&Sent> = sent.iter().filter(|e| keep(e)).collect();
    kept.sort_by_key(|e| std::cmp::Reverse(e.time()));
    kept
}

fn search(server: &StrataServer, body: Value) -> Value {
    let (status, answer) =
        server.post_json(&format!("/v1/datasources/{NAME}/search"), &body.to_string());
    assert_eq!(status, 200, "{body}: {answer}");
    answer
}

fn hit_events(answer: &Value) -> Vec<Value> {
    answer["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {answer}"))
        .iter()
        .map(|hit| hit["event"].clone())
        .collect()
}

fn expected_events(events: &[&Sent]) -> Vec<Value> {
    events.iter().map(|e| e.event()).collect()
}

/// A 400 (or `status`) in the native error shape whose message holds each
/// of `words`.
fn refused(server: &StrataServer, path: &str, body: &str, status: u16, words: &[&str]) {
    let (answered, error) = server.post_json(path, body);
    assert_eq!(answered, status, "{body}: {error}");
    let message = error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{error}"));
    assert!(error["error"].is_string(), "{error}");
    for word in words {
        assert!(message.contains(word), "{body}: {message} lacks {word}");
    }
}

fn check(server: &StrataServer, sent: &[Sent], persisted: bool) {
    let needles = newest_first(sent, |e| has(&e.message, "needle7f3a"));
    assert!(needles.len() > 3, "too few needles to test with");

    // Every needle, newest first; the scan read every table.
    let answer = search(server, json!({"query": "needle7f3a"}));
    assert_eq!(hit_events(&answer), expected_events(&needles), "{answer}");
    assert_eq!(
        answer["total"],
        json!({"value": needles.len(), "relation": "eq"})
    );
    assert!(
        answer["took_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{answer}"
    );
    assert!(answer["hits"][0].get("highlight").is_none(), "{answer}");

    // The event's members come in spec order (a JSON object read back
    // forgets it, so the text is looked at).
    let text = server
        .client()
        .post(server.url(&format!("/v1/datasources/{NAME}/search")))
        .body(json!({"query": "needle7f3a", "limit": 1}).to_string())
        .send()
        .and_then(|response| response.text())
        .unwrap_or_else(|error| panic!("search: {error}"));
    let at = |member: &str| {
        text.find(&format!("\"{member}\":"))
            .unwrap_or_else(|| panic!("{member} missing from {text}"))
    };
    let members = ["__time", "service", "status", "message", "host", "count"];
    assert!(
        members.windows(2).all(|pair| at(pair[0]) < at(pair[1])),
        "{text}"
    );

    // The limit keeps the newest; ascending, the oldest.
    let answer = search(server, json!({"query": "needle7f3a", "limit": 2}));
    assert_eq!(hit_events(&answer), expected_events(&needles[..2]));
    let mut oldest = needles.clone();
    oldest.reverse();
    let answer = search(
        server,
        json!({"query": "needle7f3a", "limit": 3, "order": "ascending"}),
    );
    assert_eq!(hit_events(&answer), expected_events(&oldest[..3]));

    // Intervals, and a Druid filter beside the text.
    let answer = search(
        server,
        json!({"query": "needle7f3a", "intervals": ["2024-01-01T01:00:00Z/2024-01-01T03:00:00Z"]}),
    );
    let within: Vec<&Sent> = needles
        .iter()
        .copied()
        .filter(|e| (60..180).contains(&e.minute))
        .collect();
    assert!(!within.is_empty() && within.len() < needles.len());
    assert_eq!(hit_events(&answer), expected_events(&within));
    let answer = search(
        server,
        json!({"query": "connection AND reset", "filter": {"type": "selector", "dimension": "service", "value": "web"}}),
    );
    let resets = newest_first(sent, |e| {
        has(&e.message, "connection") && has(&e.message, "reset") && e.service == "web"
    });
    assert!(!resets.is_empty());
    assert_eq!(hit_events(&answer), expected_events(&resets));
    assert_eq!(
        answer["total"],
        json!({"value": resets.len(), "relation": "eq"})
    );

    // Fields: a word looked for in `host` only, or in `message` only.
    let answer = search(
        server,
        json!({"query": "web", "fields": ["host"], "limit": 10000}),
    );
    let web = newest_first(sent, |e| has(&e.host, "web"));
    assert_eq!(hit_events(&answer), expected_events(&web));
    let answer = search(server, json!({"query": "web", "fields": ["message"]}));
    assert_eq!(answer["hits"], json!([]));
    assert_eq!(answer["total"], json!({"value": 0, "relation": "eq"}));

    // Highlights: the matched words tagged, per field; a negated word is not.
    let answer = search(
        server,
        json!({"query": "(needle7f3a kernel -reset) AND host:web*", "highlight": true}),
    );
    let web_needles: Vec<&Sent> = needles
        .iter()
        .copied()
        .filter(|e| has(&e.host, "web"))
        .collect();
    assert!(!web_needles.is_empty());
    assert_eq!(hit_events(&answer), expected_events(&web_needles));
    for (hit, event) in answer["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(&web_needles)
    {
        let message = event
            .message
            .replace("needle7f3a", "<em>needle7f3a</em>")
            .replace("kernel", "<em>kernel</em>");
        let host = event.host.replace("web", "<em>web</em>");
        assert_eq!(
            hit["highlight"],
            json!({"message": [message], "host": [host]}),
            "{hit}"
        );
    }
    let answer = search(
        server,
        json!({"query": "needle7f3a", "limit": 1, "highlight":
               {"pre_tag": "[", "post_tag": "]", "fragment_size": 20, "number_of_fragments": 1}}),
    );
    let fragments = answer["hits"][0]["highlight"]["message"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(fragments.len(), 1, "{answer}");
    let fragment = fragments[0].as_str().unwrap_or_default();
    assert!(fragment.contains("[needle7f3a]"), "{fragment}");
    let plain = fragment.replace(['[', ']'], "");
    assert_eq!(plain.chars().count(), 20, "{fragment}");
    assert!(needles[0].message.contains(&plain), "{fragment}");

    // Totals: a common word, one hit. Exact when every table was read, at
    // least the tables read otherwise; counted exactly when asked.
    let common = sent.iter().filter(|e| has(&e.message, "ok")).count();
    let answer = search(server, json!({"query": "ok", "limit": 1}));
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(1));
    let value = answer["total"]["value"].as_u64().unwrap_or_default() as usize;
    match answer["total"]["relation"].as_str() {
        Some("eq") => assert_eq!(value, common, "{answer}"),
        Some("gte") => assert!((1..common).contains(&value), "{answer}"),
        other => panic!("relation {other:?} in {answer}"),
    }
    if persisted {
        // Four hourly segments, the newest alone holds the newest hit.
        assert_eq!(answer["total"]["relation"], "gte", "{answer}");
    }
    let answer = search(
        server,
        json!({"query": "ok", "limit": 1, "track_total_hits": true}),
    );
    assert_eq!(answer["total"], json!({"value": common, "relation": "eq"}));

    // Mistakes.
    let path = format!("/v1/datasources/{NAME}/search");
    refused(server, &path, "{not json", 400, &["not JSON"]);
    refused(
        server,
        &path,
        r#"{"query": "a", "size": 3}"#,
        400,
        &["size", "limit"],
    );
    refused(
        server,
        &path,
        r#"{"query": "a", "limit": 0}"#,
        400,
        &["limit", "10000"],
    );
    refused(
        server,
        &path,
        r#"{"query": "a", "limit": 10001}"#,
        400,
        &["limit", "10000"],
    );
    refused(
        server,
        &path,
        r#"{"fields": ["message"]}"#,
        400,
        &["query", "missing"],
    );
    refused(
        server,
        &path,
        r#"{"query": "(needle AND"}"#,
        400,
        &["(needle AND", "position"],
    );
    refused(
        server,
        &path,
        r#"{"query": "a", "fields": ["service"]}"#,
        400,
        &["service", "message", "host"],
    );
    refused(
        server,
        &path,
        r#"{"query": "service:a"}"#,
        400,
        &["service", "message"],
    );
    refused(
        server,
        "/v1/datasources/nope/search",
        r#"{"query": "a"}"#,
        404,
        &["nope"],
    );
}

#[test]
fn searches_answer_what_an_oracle_finds_before_and_after_persist() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("data");
    let sent = events();
    {
        let server = StrataServer::start_in(&data_dir);
        server.create_datasource(&spec());
        server.ingest_all(NAME, body(&sent), sent.len());
        check(&server, &sent, false);
        assert!(server.terminate().success());
    }
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
    server.wait_until_persisted(NAME);
    check(&server, &sent, true);
}

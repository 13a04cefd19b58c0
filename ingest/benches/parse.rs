//! Parsing the reference access-log events (DATASET.md) into `ParsedEvent`s
//! with the reference spec, through serde_json and through sonic-rs.
//!
//! Every variant runs the same `EventParser` walk and produces the same events;
//! they differ only in the JSON parser underneath:
//!
//! - `serde_json_visitor`: `EventParser::parse_line`, serde_json's borrowing
//!   deserializer driving the parser's visitors, no JSON tree (the implementation);
//! - `sonic_rs_visitor`: the same visitors driven by sonic-rs's deserializer;
//! - `serde_json_value`: a `serde_json::Value` tree first, then the walk over it;
//! - `sonic_rs_value`: a `sonic_rs::Value` tree first, then the walk over it.
//!
//! The lines come from a small inline generator with the dataset's fields and
//! value shapes (strata-tools' generator sits above this crate), 100,000 of them.
//!
//! ```text
//! cargo bench -p strata-ingest --bench parse
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_ingest::parse::{EventParser, ParsedEvent};
use strata_storage::spec::DataSourceSpec;

const EVENTS: usize = 100_000;

const ACCESS_SPEC: &str = strata_storage::spec::ACCESS_SPEC_JSON;

const REGIONS: [&str; 9] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "sa-east-1",
];
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
const METHOD_WEIGHTS: [u32; 6] = [60, 20, 8, 5, 4, 3];
const STATUSES: [u32; 15] = [
    200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 409, 429, 500, 502, 503,
];

/// xorshift64*: deterministic, and enough to spread values like the dataset does.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Roughly Zipf-skewed over `0..count`: small indexes are the common ones.
    fn skewed(&mut self, count: usize) -> usize {
        ((self.unit().powi(3)) * count as f64) as usize
    }

    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut pick = (self.next() % u64::from(total)) as u32;
        for (index, weight) in weights.iter().enumerate() {
            if pick < *weight {
                return index;
            }
            pick -= weight;
        }
        0
    }

    fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (mu + sigma * normal).exp()
    }
}

/// `2024-01-01T00:00:00.000Z` plus `offset_ms`, for offsets within January 2024.
fn iso_january_2024(offset_ms: u64) -> String {
    let (day, rest) = (offset_ms / 86_400_000, offset_ms % 86_400_000);
    let (hour, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (minute, rest) = (rest / 60_000, rest % 60_000);
    let (second, millis) = (rest / 1_000, rest % 1_000);
    format!(
        "2024-01-{:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z",
        day + 1
    )
}

/// `count` access-log lines shaped like the reference dataset's NDJSON.
fn access_lines(count: usize) -> Vec<String> {
    let mut random = Random(42);
    let week_ms = 7 * 86_400_000_u64;
    (0..count)
        .map(|index| {
            let timestamp = iso_january_2024(index as u64 * week_ms / count as u64);
            let method = METHODS[random.weighted(&METHOD_WEIGHTS)];
            let status = if random.unit() < 0.7 {
                200
            } else {
                STATUSES[(random.next() % 15) as usize]
            };
            let path_index = random.skewed(10_000);
            let path = format!("/api/v{}/r{path_index}", path_index % 3 + 1);
            let user_id = random.skewed(1_000_000);
            let duration_ms = (random.lognormal(3.0, 1.0) * 1000.0).round() / 1000.0;
            let words: Vec<String> = (0..4)
                .map(|_| format!("w{}", random.skewed(50_000)))
                .collect();
            format!(
                concat!(
                    r#"{{"timestamp":"{}","service":"svc-{:02}","region":"{}","host":"host-{:04}","#,
                    r#""method":"{}","status":{},"path":"{}","country":"C{:03}","user_id":"{}","#,
                    r#""duration_ms":{:.3},"bytes":{},"retries":{},"message":"{} {} -> {} in {:.3}ms user={} {}"}}"#
                ),
                timestamp,
                random.skewed(20),
                REGIONS[(random.next() % 9) as usize],
                random.skewed(1_000),
                method,
                status,
                path,
                random.skewed(200),
                user_id,
                duration_ms,
                random.lognormal(8.0, 1.5).round() as u64,
                u64::from(random.unit() < 0.05),
                method,
                path,
                status,
                duration_ms,
                user_id,
                words.join(" "),
            )
        })
        .collect()
}

fn parse_all(lines: &[String], parse: impl Fn(&[u8]) -> ParsedEvent) -> usize {
    lines
        .iter()
        .map(|line| black_box(parse(line.as_bytes())).dimensions().len())
        .sum()
}

fn parse(criterion: &mut Criterion) {
    let spec = DataSourceSpec::from_json(ACCESS_SPEC).expect("the reference spec is valid");
    let parser = EventParser::new(&spec);
    let lines = access_lines(EVENTS);

    let expected: Vec<ParsedEvent> = lines
        .iter()
        .map(|line| {
            parser
                .parse_line(line.as_bytes())
                .expect("generated lines parse")
        })
        .collect();
    let through_sonic: Vec<ParsedEvent> = lines
        .iter()
        .map(|line| {
            parser
                .parse_from(&mut sonic_rs::Deserializer::from_slice(line.as_bytes()))
                .expect("sonic-rs reads the generated lines")
        })
        .collect();
    assert_eq!(
        expected, through_sonic,
        "both JSON parsers give the same events"
    );

    let mut group = criterion.benchmark_group("parse_access_events");
    group
        .throughput(Throughput::Elements(EVENTS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("serde_json_visitor", |bench| {
        bench.iter(|| {
            parse_all(&lines, |line| {
                parser.parse_line(line).expect("generated lines parse")
            })
        })
    });
    group.bench_function("sonic_rs_visitor", |bench| {
        bench.iter(|| {
            parse_all(&lines, |line| {
                let mut deserializer = sonic_rs::Deserializer::from_slice(line);
                let event = parser
                    .parse_from(&mut deserializer)
                    .expect("generated lines parse");
                deserializer.end().expect("one object per line");
                event
            })
        })
    });
    group.bench_function("serde_json_value", |bench| {
        bench.iter(|| {
            parse_all(&lines, |line| {
                let value: serde_json::Value =
                    serde_json::from_slice(line).expect("generated lines are JSON");
                parser.parse_from(&value).expect("generated lines parse")
            })
        })
    });
    group.bench_function("sonic_rs_value", |bench| {
        bench.iter(|| {
            parse_all(&lines, |line| {
                let value: sonic_rs::Value =
                    sonic_rs::from_slice(line).expect("generated lines are JSON");
                parser.parse_from(&value).expect("generated lines parse")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);

//! The seeded generator of the reference access-log dataset.
//!
//! [`AccessLogGenerator::new`]`(seed, events)` walks the dataset event by event. Everything comes
//! from one `ChaCha8Rng` seeded with `seed`, drawn in a fixed order, so the same seed and event
//! count always give the same events (no thread RNG, no hash-map order). The only
//! platform-dependent step is the C library's `ln`/`exp`, which are not correctly rounded
//! everywhere: another libm could, very rarely, move a value across a rounding boundary.
//! Changing `events` changes every event, because the timestamps are spread over the same week
//! whatever the count.
//!
//! How each field is drawn (see `shared/DATASET.md` beside the checkout, the contract):
//! - `timestamp`: the order statistics of `events` uniform instants in the week starting
//!   2024-01-01T00:00:00Z, produced already sorted by [`SortedUniform`](super::sorted_uniform),
//!   truncated to the millisecond;
//! - `service`, `host`, `path`, `country`, `user_id` and the four message words: finite Zipf
//!   distributions (rank 1 is the first value: `svc-00`, `host-0000`, `/api/v1/r0`, `C000`,
//!   user `0`, `w0`), sampled through alias tables built once per process and spelled from the
//!   drawn rank;
//! - `region` uniform, `method` and `status` from fixed weights ([`METHOD_WEIGHTS`],
//!   [`STATUS_WEIGHTS`]);
//! - `duration_ms` lognormal(3.0, 1.0) rounded to thousandths, `bytes` lognormal(8.0, 1.5)
//!   rounded to an integer, `retries` Poisson(0.05) by inversion;
//! - `message`: `"{method} {path} -> {status} in {duration_ms}ms user={user_id} w.. w.. w.. w.."`.
//!
//! Exactly [`NEEDLE_COUNT`] events (all of them when there are fewer), at distinct positions drawn
//! from the seed before any event, are needles: their `user_id` is [`NEEDLE_USER_ID`] and their
//! message ends with [`NEEDLE_MESSAGE_SUFFIX`]. Search benchmarks look for them.
//!
//! For speed the generator can refill one [`AccessEvent`] in place
//! ([`AccessLogGenerator::fill_next`]), reusing its string buffers; the [`Iterator`] impl
//! allocates a fresh event each time for callers that keep them.

use std::iter::FusedIterator;
use std::sync::LazyLock;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::alias::AliasTable;
use super::event::AccessEvent;
use super::sorted_uniform::SortedUniform;
use super::text::{push_thousandths, push_u64, push_zero_padded};

/// The seed the dataset is published with.
pub const DEFAULT_SEED: u64 = 42;
/// 2024-01-01T00:00:00Z, the first instant of the dataset, in epoch milliseconds.
pub const DATASET_START_MS: i64 = 1_704_067_200_000;
/// The dataset spans seven days: every timestamp lies in `[START, START + SPAN)`.
pub const DATASET_SPAN_MS: i64 = 7 * 86_400_000;
/// How many needle events a dataset holds (or all its events, if it has fewer).
pub const NEEDLE_COUNT: u64 = 7;
/// The `user_id` of every needle event.
pub const NEEDLE_USER_ID: &str = "needle-user";
/// The rare token that only needle messages contain.
pub const NEEDLE_TOKEN: &str = "needle7f3a";
/// Appended to a needle event's message.
pub const NEEDLE_MESSAGE_SUFFIX: &str = " needle7f3a kernel panic";

/// The nine cloud regions, drawn uniformly.
pub const REGIONS: [&str; 9] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "sa-east-1",
];
/// HTTP methods and their probabilities.
pub const METHOD_WEIGHTS: [(&str, f64); 6] = [
    ("GET", 0.60),
    ("POST", 0.20),
    ("PUT", 0.08),
    ("DELETE", 0.05),
    ("PATCH", 0.04),
    ("HEAD", 0.03),
];
/// HTTP status codes and their probabilities: 200 for 70%, the rest shaped like a healthy API
/// (cache hits and client errors more common than server errors).
pub const STATUS_WEIGHTS: [(i64, f64); 15] = [
    (200, 0.70),
    (201, 0.04),
    (204, 0.02),
    (301, 0.01),
    (302, 0.03),
    (304, 0.05),
    (400, 0.02),
    (401, 0.02),
    (403, 0.01),
    (404, 0.05),
    (429, 0.01),
    (500, 0.02),
    (502, 0.01),
    (503, 0.005),
    (504, 0.005),
];
/// Number of services `svc-00`.., and their Zipf exponent.
pub const SERVICE_COUNT: usize = 20;
const SERVICE_ZIPF: f64 = 1.0;
/// Number of hosts `host-0000`.., and their Zipf exponent.
pub const HOST_COUNT: usize = 1_000;
const HOST_ZIPF: f64 = 0.8;
/// Number of paths `/api/v{1..3}/r{i}`, and their Zipf exponent.
pub const PATH_COUNT: usize = 10_000;
const PATH_ZIPF: f64 = 1.1;
/// Number of countries `C000`.., and their Zipf exponent.
pub const COUNTRY_COUNT: usize = 200;
const COUNTRY_ZIPF: f64 = 1.3;
/// Number of users (decimal ids `0`..), and their Zipf exponent.
pub const USER_COUNT: usize = 1_000_000;
const USER_ZIPF: f64 = 0.9;
/// Size of the message vocabulary `w0`.., and its Zipf exponent.
pub const WORD_COUNT: usize = 50_000;
const WORD_ZIPF: f64 = 1.05;
/// How many vocabulary words each message carries.
pub const WORDS_PER_MESSAGE: usize = 4;

const DURATION_LOG_MEAN: f64 = 3.0;
const DURATION_LOG_STD_DEV: f64 = 1.0;
const BYTES_LOG_MEAN: f64 = 8.0;
const BYTES_LOG_STD_DEV: f64 = 1.5;
const RETRIES_MEAN: f64 = 0.05;

/// Appends the `service` value of Zipf rank `index + 1`: `svc-00`, `svc-01`, ...
pub fn push_service(out: &mut String, index: usize) {
    out.push_str("svc-");
    push_zero_padded(out, index as u64, 2);
}

/// Appends the `host` value of Zipf rank `index + 1`: `host-0000`, `host-0001`, ...
pub fn push_host(out: &mut String, index: usize) {
    out.push_str("host-");
    push_zero_padded(out, index as u64, 4);
}

/// Appends the `path` value of Zipf rank `index + 1`: `/api/v1/r0`, `/api/v2/r1`, ... (the API
/// version cycles through 1..=3).
pub fn push_path(out: &mut String, index: usize) {
    out.push_str("/api/v");
    push_u64(out, (index % 3 + 1) as u64);
    out.push_str("/r");
    push_u64(out, index as u64);
}

/// Appends the `country` value of Zipf rank `index + 1`: `C000`, `C001`, ...
pub fn push_country(out: &mut String, index: usize) {
    out.push('C');
    push_zero_padded(out, index as u64, 3);
}

/// Appends the `user_id` value of Zipf rank `index + 1`: `0`, `1`, ...
pub fn push_user_id(out: &mut String, index: usize) {
    push_u64(out, index as u64);
}

/// Appends the message word of Zipf rank `index + 1`: `w0`, `w1`, ...
pub fn push_word(out: &mut String, index: usize) {
    out.push('w');
    push_u64(out, index as u64);
}

/// The samplers of every drawn field; built once per process (about 30 ms, 9 MB, most of it
/// the million users). Values are spelled from the drawn index, so no value tables are kept.
struct Samplers {
    services: AliasTable,
    hosts: AliasTable,
    methods: AliasTable,
    statuses: AliasTable,
    paths: AliasTable,
    countries: AliasTable,
    users: AliasTable,
    words: AliasTable,
}

static SAMPLERS: LazyLock<Samplers> = LazyLock::new(|| {
    let weights_of = |weights: &[f64]| AliasTable::from_weights(weights);
    Samplers {
        services: AliasTable::zipf(SERVICE_COUNT, SERVICE_ZIPF),
        hosts: AliasTable::zipf(HOST_COUNT, HOST_ZIPF),
        methods: weights_of(&METHOD_WEIGHTS.map(|(_, weight)| weight)),
        statuses: weights_of(&STATUS_WEIGHTS.map(|(_, weight)| weight)),
        paths: AliasTable::zipf(PATH_COUNT, PATH_ZIPF),
        countries: AliasTable::zipf(COUNTRY_COUNT, COUNTRY_ZIPF),
        users: AliasTable::zipf(USER_COUNT, USER_ZIPF),
        words: AliasTable::zipf(WORD_COUNT, WORD_ZIPF),
    }
});

/// Generates the reference access-log dataset for a seed and an event count.
#[derive(Clone, Debug)]
pub struct AccessLogGenerator {
    rng: ChaCha8Rng,
    seed: u64,
    event_count: u64,
    position: u64,
    timestamps: SortedUniform,
    /// Sorted, distinct positions of the needle events.
    needle_positions: Vec<u64>,
    next_needle: usize,
    /// The buffers the [`Iterator`] impl fills before cloning out an event.
    scratch: AccessEvent,
}

impl AccessLogGenerator {
    /// The dataset of `events` events for `seed`.
    pub fn new(seed: u64, events: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let needle_positions = choose_needle_positions(&mut rng, events);
        Self {
            rng,
            seed,
            event_count: events,
            position: 0,
            timestamps: SortedUniform::new(events),
            needle_positions,
            next_needle: 0,
            scratch: AccessEvent::default(),
        }
    }

    /// The seed this dataset was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many events the whole dataset holds.
    pub fn event_count(&self) -> u64 {
        self.event_count
    }

    /// How many events are still to come.
    pub fn remaining(&self) -> u64 {
        self.event_count - self.position
    }

    /// The 0-based positions of the needle events, ascending.
    pub fn needle_positions(&self) -> &[u64] {
        &self.needle_positions
    }

    /// Overwrites `event` with the next event, reusing its string buffers; `false` once the
    /// dataset is exhausted (then `event` is left untouched).
    pub fn fill_next(&mut self, event: &mut AccessEvent) -> bool {
        let Some(fraction_of_span) = self.timestamps.next(&mut self.rng) else {
            return false;
        };
        let samplers = &*SAMPLERS;
        let rng = &mut self.rng;

        let offset_ms = (fraction_of_span * DATASET_SPAN_MS as f64) as i64;
        event.timestamp_ms = DATASET_START_MS + offset_ms.min(DATASET_SPAN_MS - 1);
        event.service.clear();
        push_service(&mut event.service, samplers.services.sample(rng));
        replace(
            &mut event.region,
            REGIONS[rng.random_range(0..REGIONS.len())],
        );
        event.host.clear();
        push_host(&mut event.host, samplers.hosts.sample(rng));
        // Both tables were built over exactly these arrays, so the indices are in range.
        let (method, _) = METHOD_WEIGHTS[samplers.methods.sample(rng)];
        replace(&mut event.method, method);
        (event.status, _) = STATUS_WEIGHTS[samplers.statuses.sample(rng)];
        event.path.clear();
        push_path(&mut event.path, samplers.paths.sample(rng));
        event.country.clear();
        push_country(&mut event.country, samplers.countries.sample(rng));
        let user = samplers.users.sample(rng);
        let duration_thousandths =
            (lognormal(rng, DURATION_LOG_MEAN, DURATION_LOG_STD_DEV) * 1000.0).round() as i64;
        event.duration_ms = duration_thousandths as f64 / 1000.0;
        event.bytes = lognormal(rng, BYTES_LOG_MEAN, BYTES_LOG_STD_DEV).round() as i64;
        event.retries = poisson(rng, RETRIES_MEAN);

        let is_needle = self.needle_positions.get(self.next_needle) == Some(&self.position);
        event.user_id.clear();
        if is_needle {
            self.next_needle += 1;
            event.user_id.push_str(NEEDLE_USER_ID);
        } else {
            push_user_id(&mut event.user_id, user);
        }

        let message = &mut event.message;
        message.clear();
        message.push_str(method);
        message.push(' ');
        message.push_str(&event.path);
        message.push_str(" -> ");
        push_u64(message, event.status.unsigned_abs());
        message.push_str(" in ");
        push_thousandths(message, duration_thousandths);
        message.push_str("ms user=");
        message.push_str(&event.user_id);
        for _ in 0..WORDS_PER_MESSAGE {
            message.push(' ');
            push_word(message, samplers.words.sample(rng));
        }
        if is_needle {
            message.push_str(NEEDLE_MESSAGE_SUFFIX);
        }

        self.position += 1;
        true
    }
}

impl Iterator for AccessLogGenerator {
    type Item = AccessEvent;

    fn next(&mut self) -> Option<AccessEvent> {
        // Filling a reused event then cloning it allocates each string once at its exact size,
        // where filling a fresh one would grow the message through several reallocations.
        let mut scratch = std::mem::take(&mut self.scratch);
        let produced = self.fill_next(&mut scratch).then(|| scratch.clone());
        self.scratch = scratch;
        produced
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match usize::try_from(self.remaining()) {
            Ok(remaining) => (remaining, Some(remaining)),
            Err(_) => (usize::MAX, None),
        }
    }
}

impl FusedIterator for AccessLogGenerator {}

/// Picks [`NEEDLE_COUNT`] distinct positions in `0..events`, or all of them if there are fewer.
fn choose_needle_positions(rng: &mut ChaCha8Rng, events: u64) -> Vec<u64> {
    if events <= NEEDLE_COUNT {
        return (0..events).collect();
    }
    let mut positions = Vec::with_capacity(NEEDLE_COUNT as usize);
    while (positions.len() as u64) < NEEDLE_COUNT {
        let candidate = rng.random_range(0..events);
        if !positions.contains(&candidate) {
            positions.push(candidate);
        }
    }
    positions.sort_unstable();
    positions
}

fn replace(target: &mut String, value: &str) {
    target.clear();
    target.push_str(value);
}

fn lognormal(rng: &mut ChaCha8Rng, log_mean: f64, log_std_dev: f64) -> f64 {
    let standard: f64 = rng.sample(StandardNormal);
    (log_mean + log_std_dev * standard).exp()
}

/// Poisson by inversion: one uniform draw, walking the CDF. With a small mean the walk almost
/// always stops at 0 or 1; it also stops once the probability terms underflow, so a draw
/// rounding above the summed CDF cannot loop forever.
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> i64 {
    let uniform: f64 = rng.random();
    let mut count = 0;
    let mut probability = (-mean).exp();
    let mut cumulative = probability;
    while uniform > cumulative && probability > 0.0 {
        count += 1;
        probability *= mean / count as f64;
        cumulative += probability;
    }
    count
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn events(seed: u64, count: u64) -> Vec<AccessEvent> {
        AccessLogGenerator::new(seed, count).collect()
    }

    fn share(events: &[AccessEvent], matches: impl Fn(&AccessEvent) -> bool) -> f64 {
        events.iter().filter(|event| matches(event)).count() as f64 / events.len() as f64
    }

    #[test]
    fn same_seed_gives_the_same_events_and_another_seed_does_not() {
        assert_eq!(events(7, 2_000), events(7, 2_000));
        assert_ne!(events(7, 2_000), events(8, 2_000));
    }

    #[test]
    fn fill_next_and_the_iterator_agree() {
        let mut generator = AccessLogGenerator::new(3, 500);
        let mut reused = AccessEvent::default();
        let mut refilled = Vec::new();
        while generator.fill_next(&mut reused) {
            refilled.push(reused.clone());
        }
        assert!(!generator.fill_next(&mut reused));
        assert_eq!(refilled, events(3, 500));
    }

    #[test]
    fn yields_exactly_the_requested_count() {
        for count in [0, 1, 6, 7, 8, 1_000] {
            let generator = AccessLogGenerator::new(1, count);
            assert_eq!(
                generator.size_hint(),
                (count as usize, Some(count as usize))
            );
            assert_eq!(generator.count() as u64, count);
        }
    }

    #[test]
    fn timestamps_are_sorted_inside_the_week_and_uniform_across_days() {
        let sample = events(DEFAULT_SEED, 100_000);
        assert!(
            sample
                .windows(2)
                .all(|pair| pair[0].timestamp_ms <= pair[1].timestamp_ms)
        );
        let end = DATASET_START_MS + DATASET_SPAN_MS;
        assert!(
            sample
                .iter()
                .all(|e| (DATASET_START_MS..end).contains(&e.timestamp_ms))
        );
        let mut per_day = [0usize; 7];
        for event in &sample {
            per_day[((event.timestamp_ms - DATASET_START_MS) / 86_400_000) as usize] += 1;
        }
        for (day, count) in per_day.iter().enumerate() {
            let day_share = *count as f64 / sample.len() as f64;
            assert!(
                (day_share - 1.0 / 7.0).abs() < 0.005,
                "day {day}: {day_share}"
            );
        }
    }

    #[test]
    fn exactly_seven_needles_with_user_and_suffix() {
        for seed in [1, 2, DEFAULT_SEED] {
            let sample = events(seed, 20_000);
            let needles: Vec<usize> = (0..sample.len())
                .filter(|&i| sample[i].user_id == NEEDLE_USER_ID)
                .collect();
            assert_eq!(needles.len(), NEEDLE_COUNT as usize);
            let expected: Vec<usize> = AccessLogGenerator::new(seed, 20_000)
                .needle_positions()
                .iter()
                .map(|&p| p as usize)
                .collect();
            assert_eq!(needles, expected);
            for event in &sample {
                let is_needle = event.user_id == NEEDLE_USER_ID;
                assert_eq!(event.message.ends_with(NEEDLE_MESSAGE_SUFFIX), is_needle);
                assert_eq!(event.message.contains(NEEDLE_TOKEN), is_needle);
            }
        }
    }

    #[test]
    fn tiny_datasets_are_all_needles() {
        for count in 0..=NEEDLE_COUNT {
            let sample = events(5, count);
            assert_eq!(sample.len() as u64, count);
            assert!(sample.iter().all(|e| e.user_id == NEEDLE_USER_ID));
        }
    }

    #[test]
    fn needle_positions_depend_on_the_seed() {
        let first = AccessLogGenerator::new(1, 1_000_000);
        let second = AccessLogGenerator::new(2, 1_000_000);
        assert_ne!(first.needle_positions(), second.needle_positions());
    }

    #[test]
    fn categorical_shares_match_the_contract() {
        let sample = events(DEFAULT_SEED, 100_000);
        for (method, weight) in METHOD_WEIGHTS {
            let got = share(&sample, |e| e.method == method);
            assert!((got - weight).abs() < 0.01, "{method}: {got}");
        }
        let ok_share = share(&sample, |e| e.status == 200);
        assert!((ok_share - 0.70).abs() < 0.01, "status 200: {ok_share}");
        for region in REGIONS {
            let got = share(&sample, |e| e.region == region);
            assert!((got - 1.0 / 9.0).abs() < 0.01, "{region}: {got}");
        }
        let retried = share(&sample, |e| e.retries > 0);
        assert!(
            (retried - (1.0 - (-RETRIES_MEAN).exp())).abs() < 0.005,
            "{retried}"
        );
    }

    #[test]
    fn zipf_fields_rank_their_first_value_highest() {
        let sample = events(DEFAULT_SEED, 100_000);
        let most_frequent = |field: fn(&AccessEvent) -> &str| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for event in &sample {
                *counts.entry(field(event)).or_default() += 1;
            }
            counts
                .into_iter()
                .max_by_key(|&(_, count)| count)
                .map(|(value, _)| value.to_owned())
        };
        assert_eq!(most_frequent(|e| &e.service).as_deref(), Some("svc-00"));
        assert_eq!(most_frequent(|e| &e.host).as_deref(), Some("host-0000"));
        assert_eq!(most_frequent(|e| &e.path).as_deref(), Some("/api/v1/r0"));
        assert_eq!(most_frequent(|e| &e.country).as_deref(), Some("C000"));
        assert_eq!(most_frequent(|e| &e.user_id).as_deref(), Some("0"));
        // Zipf s=1 over 20 values gives rank 1 a share of 1/H(20) ≈ 0.278.
        let svc00 = share(&sample, |e| e.service == "svc-00");
        assert!((svc00 - 0.278).abs() < 0.01, "{svc00}");
    }

    #[test]
    fn lognormal_fields_have_the_right_medians() {
        let sample = events(DEFAULT_SEED, 100_000);
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let duration_median = median(sample.iter().map(|e| e.duration_ms).collect());
        let bytes_median = median(sample.iter().map(|e| e.bytes as f64).collect());
        assert!((duration_median / DURATION_LOG_MEAN.exp() - 1.0).abs() < 0.03);
        assert!((bytes_median / BYTES_LOG_MEAN.exp() - 1.0).abs() < 0.05);
    }

    #[test]
    fn every_value_lies_in_its_domain_and_the_message_matches_the_fields() {
        let statuses: Vec<i64> = STATUS_WEIGHTS.iter().map(|&(code, _)| code).collect();
        let methods: Vec<&str> = METHOD_WEIGHTS.iter().map(|&(method, _)| method).collect();
        for event in events(DEFAULT_SEED, 100_000) {
            assert!(
                in_numbered_domain(&event.service, "svc-", 2, SERVICE_COUNT),
                "{event:?}"
            );
            assert!(
                in_numbered_domain(&event.host, "host-", 4, HOST_COUNT),
                "{event:?}"
            );
            assert!(
                in_numbered_domain(&event.country, "C", 3, COUNTRY_COUNT),
                "{event:?}"
            );
            assert!(REGIONS.contains(&event.region.as_str()));
            assert!(methods.contains(&event.method.as_str()));
            assert!(statuses.contains(&event.status));
            assert!(is_valid_path(&event.path), "{}", event.path);
            assert!(
                event.user_id == NEEDLE_USER_ID
                    || event
                        .user_id
                        .parse::<usize>()
                        .is_ok_and(|id| id < USER_COUNT && id.to_string() == event.user_id),
                "{}",
                event.user_id
            );
            assert!(event.duration_ms > 0.0);
            assert_eq!(
                (event.duration_ms * 1000.0).round() / 1000.0,
                event.duration_ms
            );
            assert!(event.bytes >= 0 && event.retries >= 0);

            let prefix = format!(
                "{} {} -> {} in {:.3}ms user={} ",
                event.method, event.path, event.status, event.duration_ms, event.user_id
            );
            let words = event
                .message
                .strip_prefix(&prefix)
                .map(|rest| rest.strip_suffix(NEEDLE_MESSAGE_SUFFIX).unwrap_or(rest));
            let words: Vec<&str> = words.map(|w| w.split(' ').collect()).unwrap_or_default();
            assert_eq!(words.len(), WORDS_PER_MESSAGE, "{}", event.message);
            assert!(
                words
                    .iter()
                    .all(|w| in_numbered_domain(w, "w", 0, WORD_COUNT))
            );
        }
    }

    /// `value` is `prefix` followed by a number below `count`, zero-padded to `width` digits
    /// (0 = no padding).
    fn in_numbered_domain(value: &str, prefix: &str, width: usize, count: usize) -> bool {
        value.strip_prefix(prefix).is_some_and(|digits| {
            digits.parse::<usize>().is_ok_and(|n| {
                n < count && (width == 0 && n.to_string() == digits || digits.len() == width)
            })
        })
    }

    fn is_valid_path(path: &str) -> bool {
        let Some(rest) = path.strip_prefix("/api/v") else {
            return false;
        };
        let Some((version, resource)) = rest.split_once("/r") else {
            return false;
        };
        resource
            .parse::<usize>()
            .is_ok_and(|index| index < PATH_COUNT && version == (index % 3 + 1).to_string())
    }
}

//! Persist: one time chunk of the real-time index written as a segment,
//! beside a peer writing the same events in the same run.
//!
//! `STRATA_BENCH_EVENTS` reference events (default 400,000 — what the
//! persister writes at half the default memory budget) are parsed with the
//! reference `access` spec into a real-time index, which holds them as one
//! chunk (`segmentGranularity` is forced to `all`). Timed, three passes each:
//!
//! - **Strata**: `persist::write_segment` of that chunk — sorting, the events
//!   table (every event, with the `message` text) and the rollup table
//!   (HLL and quantiles sketches serialized per row), dictionaries, bitmap
//!   indexes, compression, files on disk;
//! - **the peer**: the same events written as one Parquet file (arrow-rs,
//!   zstd) by `strata gen`'s Parquet writer — a columnar write of the raw
//!   events with no rollup table and no indexes.
//!
//! ```sh
//! cargo bench -p strata-benches --bench persist
//! ```

use std::time::{Duration, Instant};

use strata_ingest::parse::EventParser;
use strata_ingest::persist::write_segment;
use strata_ingest::realtime::RealtimeIndex;
use strata_storage::catalog::{Catalog, FileCatalog};
use strata_storage::spec::{ACCESS_SPEC_JSON, DataSourceSpec};
use strata_tools::dataset::{
    AccessEvent, AccessLogGenerator, DEFAULT_SEED, EventWriter, NdjsonWriter, ParquetWriter,
};

/// The server's allocator, so that the persist allocates as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 3;

fn events() -> u64 {
    std::env::var("STRATA_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(400_000)
}

/// The median of `RUNS` timings of `work`.
fn median(mut work: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS).map(|_| work()).collect();
    times.sort();
    times[RUNS / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then there is nothing to measure.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let count = events();
    let spec = DataSourceSpec::from_json(&ACCESS_SPEC_JSON.replace("\"day\"", "\"all\""))
        .expect("the access spec with segmentGranularity all");
    let mut generator = AccessLogGenerator::new(DEFAULT_SEED, count);
    let mut event = AccessEvent::default();
    let mut raw = Vec::new();
    let mut lines = NdjsonWriter::new(Vec::new());
    while generator.fill_next(&mut event) {
        lines.write_event(&event).expect("NDJSON into memory");
        raw.push(event.clone());
    }
    let lines = lines.finish().expect("NDJSON into memory");

    let started = Instant::now();
    let parser = EventParser::new(&spec);
    let mut index = RealtimeIndex::new(spec.clone()).expect("the access layout");
    for (seq, line) in lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let parsed = parser.parse_line(line).expect("reference events parse");
        index
            .add(parsed, seq as u64 + 1)
            .expect("reference events fit");
    }
    let chunk = index.chunks().next().expect("one chunk");
    println!(
        "{count} reference events: {} events rows, {} rollup rows, indexed in {:.2} s",
        chunk.stats().events,
        chunk.stats().rollup_rows,
        started.elapsed().as_secs_f64()
    );

    let strata = median(|| {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let catalog = FileCatalog::open(dir.path()).expect("a catalog");
        catalog
            .create_datasource(spec.clone())
            .expect("the datasource");
        let started = Instant::now();
        let segment = write_segment(&catalog, &spec, chunk).expect("the segment is written");
        let elapsed = started.elapsed();
        assert_eq!(segment.rows, chunk.stats().rollup_rows);
        elapsed
    });
    let parquet = median(|| {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let file = std::fs::File::create(dir.path().join("events.parquet")).expect("a file");
        let started = Instant::now();
        let mut writer = ParquetWriter::new(file).expect("a Parquet writer");
        for event in &raw {
            writer.write_event(event).expect("the event is written");
        }
        writer.finish().expect("the file is finished");
        started.elapsed()
    });
    let rate = |time: Duration| count as f64 / time.as_secs_f64();
    println!(
        "strata persist (events + rollup tables, indexes): {:.3} s, {:.0} events/s",
        strata.as_secs_f64(),
        rate(strata)
    );
    println!(
        "peer: Parquet file of the raw events (zstd): {:.3} s, {:.0} events/s",
        parquet.as_secs_f64(),
        rate(parquet)
    );
    println!(
        "ratio Strata/peer (rate): {:.2}",
        rate(strata) / rate(parquet)
    );
}

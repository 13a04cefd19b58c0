//! Segment benchmarks on the reference dataset, each beside a peer doing the
//! same work in the same run:
//!
//! - `segment_write`: building the events table of 1M events, against writing
//!   the same events to Parquet (arrow-rs, zstd);
//! - `scan_sum`: summing the `bytes` long column of the large table on one
//!   core, against summing the same values from a plain in-memory `Vec<i64>`
//!   (the memory-bandwidth bound);
//! - `bitmap_and`: the rows where `method = GET` and `country = C000`, as a
//!   roaring AND of two dimension values' bitmaps (and with the bitmaps read
//!   from the segment), against a scan comparing the two columns' codes.
//!
//! It also writes the large table (10M events) once, beside Parquet, and
//! prints both write rates and both sizes in bytes per event. `STRATA_BENCH_EVENTS` sets the large table's size (default
//! 10M); it is built once per run in a scratch directory under
//! `STRATA_BENCH_DIR` (default: the system temp directory), removed at the
//! end. See docs/benchmarks.md.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use roaring::RoaringBitmap;
use strata_benches::access_events_table;
use strata_storage::segment::{Column, StringColumn, Table};
use strata_tools::dataset::{AccessLogGenerator, DEFAULT_SEED, EventWriter, ParquetWriter};

fn bench_dir() -> PathBuf {
    std::env::var_os("STRATA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("strata-bench"))
}

fn large_events() -> u64 {
    std::env::var("STRATA_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(10_000_000)
}

fn segment_write(c: &mut Criterion) {
    const EVENTS: u64 = 1_000_000;
    let events: Vec<_> = AccessLogGenerator::new(DEFAULT_SEED, EVENTS).collect();
    let dir = scratch_dir();
    let mut group = c.benchmark_group("segment_write");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(EVENTS));
    group.bench_function("strata_events_table_1M", |b| {
        b.iter(|| {
            let path = dir.join("events.tbl");
            let _ = std::fs::remove_file(&path);
            access_events_table(&path, &events).expect("table writes")
        })
    });
    group.bench_function("parquet_zstd_1M", |b| {
        b.iter(|| {
            let mut writer = ParquetWriter::new(Vec::new()).expect("parquet writer");
            for e in &events {
                writer.write_event(e).expect("parquet writes");
            }
            writer.finish().expect("parquet finishes").len()
        })
    });
    group.finish();
}

/// This run's scratch directory, removed by `remove_scratch` at the end.
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = bench_dir().join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("bench scratch dir");
        dir
    })
}

/// The large reference table and its Parquet peer, both written once from
/// the same events held in memory, with how long each write took.
struct LargeTables {
    table: PathBuf,
    table_write: Duration,
    parquet: PathBuf,
    parquet_write: Duration,
}

fn large_tables() -> &'static LargeTables {
    static TABLES: OnceLock<LargeTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let events: Vec<_> = AccessLogGenerator::new(DEFAULT_SEED, large_events()).collect();
        let table = scratch_dir().join("access-events.tbl");
        let started = Instant::now();
        access_events_table(&table, &events).expect("reference table writes");
        let table_write = started.elapsed();

        let parquet = scratch_dir().join("access.parquet");
        let started = Instant::now();
        let file = std::fs::File::create(&parquet).expect("parquet file");
        let mut writer = ParquetWriter::new(file).expect("parquet writer");
        for e in &events {
            writer.write_event(e).expect("parquet writes");
        }
        writer
            .finish()
            .expect("parquet finishes")
            .sync_all()
            .expect("parquet syncs");
        let parquet_write = started.elapsed();
        LargeTables {
            table,
            table_write,
            parquet,
            parquet_write,
        }
    })
}

fn open_large() -> Table {
    Table::open(&large_tables().table).expect("reference table opens")
}

fn scan_sum(c: &mut Criterion) {
    let table = open_large();
    let Some(Column::Long(bytes)) = table.column("bytes") else {
        panic!("the reference table has a long `bytes` column")
    };
    let plain = bytes.values().expect("bytes decode");
    let mut group = c.benchmark_group("scan_sum");
    group
        .sample_size(20)
        .throughput(Throughput::Elements(table.rows()));
    group.bench_function("strata_long_column", |b| {
        let mut buffer = Vec::with_capacity(65536);
        b.iter(|| {
            let mut sum = 0i64;
            for block in 0..bytes.block_count() {
                bytes
                    .decode_block(block, &mut buffer)
                    .expect("block decodes");
                sum = sum.wrapping_add(buffer.iter().sum::<i64>());
            }
            black_box(sum)
        })
    });
    group.bench_function("plain_vec_i64", |b| {
        b.iter(|| black_box(plain.iter().sum::<i64>()))
    });
    group.finish();
}

fn string_column<'t>(table: &'t Table, name: &str) -> StringColumn<'t> {
    match table.column(name) {
        Some(Column::String(column)) => column,
        _ => panic!("the reference table has a string `{name}` column"),
    }
}

fn value_bitmap(column: &StringColumn<'_>, value: &str) -> RoaringBitmap {
    let id = column
        .dictionary()
        .and_then(|d| d.find(value))
        .expect("dictionary reads");
    column
        .bitmaps()
        .bitmap(id.expect("value present"))
        .expect("bitmap reads")
}

fn bitmap_and(c: &mut Criterion) {
    let table = open_large();
    let method = string_column(&table, "method");
    let country = string_column(&table, "country");
    let get = value_bitmap(&method, "GET");
    let c000 = value_bitmap(&country, "C000");
    let expected = (&get & &c000).len();
    let codes = |column: &StringColumn<'_>| {
        let mut all = Vec::new();
        let mut buffer = Vec::new();
        for b in 0..column.block_count() {
            column
                .decode_block_codes(b, &mut buffer)
                .expect("codes decode");
            all.extend_from_slice(&buffer);
        }
        all
    };
    let (method_codes, country_codes) = (codes(&method), codes(&country));
    let get_code = 1 + method.dictionary().unwrap().find("GET").unwrap().unwrap();
    let c000_code = 1 + country.dictionary().unwrap().find("C000").unwrap().unwrap();
    let naive = method_codes
        .iter()
        .zip(&country_codes)
        .filter(|&(&m, &c)| m == get_code && c == c000_code)
        .count() as u64;
    assert_eq!(
        naive, expected,
        "the bitmap AND and the column scan disagree"
    );

    let mut group = c.benchmark_group("bitmap_and");
    group.throughput(Throughput::Elements(table.rows()));
    group.bench_function("roaring_and_loaded", |b| {
        b.iter(|| black_box(&get & &c000).len())
    });
    group.bench_function("roaring_and_from_segment", |b| {
        b.iter(|| black_box(&value_bitmap(&method, "GET") & &value_bitmap(&country, "C000")).len())
    });
    group.bench_function("scan_decoded_codes", |b| {
        b.iter(|| {
            method_codes
                .iter()
                .zip(&country_codes)
                .filter(|&(&m, &c)| m == get_code && c == c000_code)
                .count()
        })
    });
    group.finish();
}

/// One write of the large table and of its Parquet peer, timed once (too
/// long for criterion's samples), and their sizes: printed, not asserted.
fn large_write_and_size(_: &mut Criterion) {
    let events = large_events() as f64;
    let large = large_tables();
    let rate = |d: Duration| events / d.as_secs_f64();
    println!(
        "large_write: {events} events: strata events table {:.2} s ({:.0} rows/s), parquet zstd {:.2} s ({:.0} rows/s); strata/parquet rate {:.3}",
        large.table_write.as_secs_f64(),
        rate(large.table_write),
        large.parquet_write.as_secs_f64(),
        rate(large.parquet_write),
        rate(large.table_write) / rate(large.parquet_write)
    );
    let size = |path: &Path| std::fs::metadata(path).expect("file exists").len();
    let (table_bytes, parquet_bytes) = (size(&large.table), size(&large.parquet));
    println!(
        "bytes_per_event: strata events table {:.2} B/event ({table_bytes} bytes); parquet zstd {:.2} B/event; strata/parquet {:.3}",
        table_bytes as f64 / events,
        parquet_bytes as f64 / events,
        table_bytes as f64 / parquet_bytes as f64
    );
    print_column_sizes(&open_large());
}

/// Removes this run's scratch directory.
fn remove_scratch(_: &mut Criterion) {
    let _ = std::fs::remove_dir_all(scratch_dir());
}

/// Bytes per event of each column, to see where the space goes.
fn print_column_sizes(table: &Table) {
    for (name, bytes) in table.column_bytes() {
        println!(
            "  {name:>12}: {:.2} B/event",
            bytes as f64 / table.rows() as f64
        );
    }
}

criterion_group!(
    benches,
    large_write_and_size,
    segment_write,
    scan_sum,
    bitmap_and,
    remove_scratch
);
criterion_main!(benches);

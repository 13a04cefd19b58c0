//! tantivy on its own, on the reference dataset's messages: the floor Strata's
//! full-text search is measured against.
//!
//! Strata keeps a tantivy index beside its columns, and a search in Strata is
//! a tantivy search plus the work of a database around it (time intervals,
//! other filters, reading the returned columns, HTTP and JSON). This program
//! does only the tantivy part, set up the way a tantivy user would set it up
//! for "the newest N messages matching a query":
//!
//! - one document per event: `timestamp` (epoch milliseconds) as an `i64`
//!   fast field, `message` indexed with tantivy's `default` tokenizer (split
//!   on non-alphanumerics, lowercase: the same terms as Strata's `default`
//!   analyzer) and stored, the document store compressed with zstd;
//! - indexed by two threads, then committed and its merges waited for;
//! - searched with a two-thread executor: `TopDocs` ordered by the
//!   `timestamp` fast field, descending, the matching documents fetched from
//!   the store.
//!
//! Each search is run once to warm up, then `--runs` times; the program prints
//! one JSON object on stdout: the answers (`[timestamp, message]` rows, newest
//! first), every run's seconds, and the index's bytes on disk, for
//! `benches/compare/compare.py` to check and report like any engine's.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMillisecondType;
use clap::Parser;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{FAST, Field, STORED, Schema, TEXT, Value as _};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{DocAddress, Index, IndexSettings, Order, Searcher, TantivyDocument};

/// Threads that index, and threads that search: the two cores every engine
/// of the comparison gets.
const THREADS: usize = 2;
/// Indexing memory shared by the indexing threads; tantivy flushes a segment
/// when a thread's share is full.
const INDEXING_BUDGET_BYTES: usize = 512 << 20;

#[derive(Parser)]
#[command(
    about = "Indexes the reference dataset's messages with tantivy alone and times the newest-N searches"
)]
struct Arguments {
    /// The dataset as Parquet (`strata gen --output x.parquet`).
    #[arg(long)]
    parquet: PathBuf,
    /// An empty or absent directory for the index.
    #[arg(long)]
    index: PathBuf,
    /// A search, `name=query` in tantivy's query syntax; repeatable.
    #[arg(long = "search", value_parser = parse_search)]
    searches: Vec<(String, String)>,
    /// Documents each search returns, newest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Timed runs of each search after the warm-up.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

fn parse_search(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, query)) if !name.is_empty() && !query.is_empty() => {
            Ok((name.to_owned(), query.to_owned()))
        }
        _ => Err(format!("`{text}` is not `name=query`")),
    }
}

#[derive(Debug, thiserror::Error)]
enum TantivyAloneError {
    #[error("reading the dataset: {0}")]
    Io(#[from] std::io::Error),
    #[error("reading the Parquet dataset: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("reading the Parquet dataset: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("the dataset has no `{0}` column of the reference type")]
    MissingColumn(&'static str),
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("the search `{name}`: {source}")]
    Query {
        name: String,
        source: tantivy::query::QueryParserError,
    },
    #[error("writing the answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("`--limit` must be at least 1")]
    ZeroLimit,
}

/// The index's two fields.
struct Fields {
    timestamp: Field,
    message: Field,
}

fn main() {
    if let Err(error) = run(Arguments::parse()) {
        eprintln!("tantivy_alone: {error}");
        std::process::exit(1);
    }
}

fn run(arguments: Arguments) -> Result<(), TantivyAloneError> {
    if arguments.limit == 0 {
        return Err(TantivyAloneError::ZeroLimit);
    }
    let mut schema = Schema::builder();
    let fields = Fields {
        timestamp: schema.add_i64_field("timestamp", FAST),
        message: schema.add_text_field("message", TEXT | STORED),
    };
    std::fs::create_dir_all(&arguments.index)?;
    let mut index = Index::builder()
        .schema(schema.build())
        .settings(IndexSettings {
            docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
            ..IndexSettings::default()
        })
        .create_in_dir(&arguments.index)?;

    let started = Instant::now();
    let documents = index_messages(&index, &fields, &arguments.parquet)?;
    let index_seconds = started.elapsed().as_secs_f64();

    index.set_multithread_executor(THREADS)?;
    let searcher = index.reader()?.searcher();
    let parser = QueryParser::for_index(&index, vec![fields.message]);
    let mut searches = Vec::new();
    for (name, text) in &arguments.searches {
        let query = parser
            .parse_query(text)
            .map_err(|source| TantivyAloneError::Query {
                name: name.clone(),
                source,
            })?;
        let collector = TopDocs::with_limit(arguments.limit)
            .order_by_fast_field::<i64>("timestamp", Order::Desc);
        let answer = || -> Result<Vec<Value>, TantivyAloneError> {
            let hits = searcher.search(&query, &collector)?;
            hits.into_iter()
                .map(|(timestamp, address)| row(&searcher, &fields, timestamp, address))
                .collect()
        };
        let rows = answer()?;
        let mut runs_seconds = Vec::with_capacity(arguments.runs);
        for _ in 0..arguments.runs {
            let started = Instant::now();
            answer()?;
            runs_seconds.push(started.elapsed().as_secs_f64());
        }
        searches
            .push(json!({"name": name, "query": text, "rows": rows, "runs_seconds": runs_seconds}));
    }
    let report = json!({
        "documents": documents,
        "segments": searcher.segment_readers().len(),
        "index_seconds": index_seconds,
        "index_bytes": directory_bytes(&arguments.index)?,
        "searches": searches,
    });
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Adds one document per event of the Parquet file, commits, and waits for
/// the merges the commit started; returns the documents added.
fn index_messages(
    index: &Index,
    fields: &Fields,
    parquet: &Path,
) -> Result<u64, TantivyAloneError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(parquet)?)?;
    let column = |name: &'static str| {
        builder
            .schema()
            .index_of(name)
            .map_err(|_| TantivyAloneError::MissingColumn(name))
    };
    let (timestamp_at, message_at) = (column("timestamp")?, column("message")?);
    let projection = ProjectionMask::roots(builder.parquet_schema(), [timestamp_at, message_at]);
    let reader = builder.with_projection(projection).build()?;
    let mut writer = index.writer_with_num_threads(THREADS, INDEXING_BUDGET_BYTES)?;
    let mut documents = 0u64;
    for batch in reader {
        let batch = batch?;
        // The projection keeps the columns in file order: timestamp first.
        let timestamps = batch
            .column(0)
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or(TantivyAloneError::MissingColumn("timestamp"))?;
        let messages = batch
            .column(1)
            .as_string_opt::<i32>()
            .ok_or(TantivyAloneError::MissingColumn("message"))?;
        for row in 0..batch.num_rows() {
            let mut document = TantivyDocument::new();
            document.add_i64(fields.timestamp, timestamps.value(row));
            if messages.is_valid(row) {
                document.add_text(fields.message, messages.value(row));
            }
            writer.add_document(document)?;
            documents += 1;
        }
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(documents)
}

/// One answer row, `[timestamp, message]`, the message read from the store.
fn row(
    searcher: &Searcher,
    fields: &Fields,
    timestamp: Option<i64>,
    address: DocAddress,
) -> Result<Value, TantivyAloneError> {
    let document: TantivyDocument = searcher.doc(address)?;
    let message = document
        .get_first(fields.message)
        .and_then(|value| value.as_str());
    Ok(json!([timestamp, message]))
}

/// Bytes of every file under `path`.
fn directory_bytes(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

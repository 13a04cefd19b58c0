//! The reference dataset: deterministic, seeded web access-log events, and writers for them.
//!
//! Benchmarks, examples and large tests all run on one dataset so that every figure is measured
//! on the same work and anyone can re-run it (the contract is `shared/DATASET.md` beside the checkout).
//! [`AccessLogGenerator`] produces it as an iterator of [`AccessEvent`]s: the same seed and event
//! count always give the same events, hence byte-identical files. Timestamps are spread
//! uniformly over the week from 2024-01-01T00:00:00Z and come out in time order; the categorical
//! fields follow Zipf or fixed weights; seven "needle" events carry a rare token for search
//! benchmarks to find.
//!
//! Three file formats, all with the columns in the order of [`FIELD_NAMES`]
//! (`timestamp, service, region, host, method, status, path, country, user_id, duration_ms,
//! bytes, retries, message`):
//!
//! - **NDJSON** ([`NdjsonWriter`]): one JSON object per line; `timestamp` is an ISO-8601 UTC
//!   string with milliseconds (`2024-01-01T00:00:00.123Z`), `duration_ms` a number with three
//!   decimals, `status`/`bytes`/`retries` integers.
//! - **CSV** ([`CsvWriter`]): a header row, then the same spellings as NDJSON, RFC 4180 quoting
//!   where a field needs it, `\n` line ends.
//! - **Parquet** ([`ParquetWriter`]): typed columns; `timestamp` is a real
//!   `Timestamp(Millisecond, "UTC")` column, not a string. Zstd, row groups of about a million
//!   rows.
//!
//! A writer takes events one at a time ([`EventWriter::write_event`]) and must be finished
//! ([`EventWriter::finish`]); [`write_events`] drives a generator into a writer with a
//! progress callback.

mod alias;
mod csv;
mod event;
mod generator;
mod ndjson;
mod parquet;
mod sorted_uniform;
mod text;
mod writer;

pub use self::csv::CsvWriter;
pub use self::parquet::{
    DEFAULT_BATCH_ROWS, DEFAULT_ROW_GROUP_ROWS, ParquetWriter, ZSTD_LEVEL, access_event_schema,
};
pub use event::{AccessEvent, FIELD_NAMES};
pub use generator::{
    AccessLogGenerator, COUNTRY_COUNT, DATASET_SPAN_MS, DATASET_START_MS, DEFAULT_SEED, HOST_COUNT,
    METHOD_WEIGHTS, NEEDLE_COUNT, NEEDLE_MESSAGE_SUFFIX, NEEDLE_TOKEN, NEEDLE_USER_ID, PATH_COUNT,
    REGIONS, SERVICE_COUNT, STATUS_WEIGHTS, USER_COUNT, WORD_COUNT, WORDS_PER_MESSAGE,
    push_country, push_host, push_path, push_service, push_user_id, push_word,
};
pub use ndjson::NdjsonWriter;
pub use writer::{DatasetWriteError, EventWriter, PROGRESS_INTERVAL, write_events};

//! Parquet: the dataset as a typed, columnar, zstd-compressed file.
//!
//! Unlike the text formats, Parquet keeps the types: `timestamp` is an Arrow
//! `Timestamp(Millisecond, "UTC")` column (a Parquet `TIMESTAMP(MILLIS, isAdjustedToUTC=true)`),
//! not an ISO string; `status`, `bytes` and `retries` are `Int64`, `duration_ms` is `Float64`
//! (already rounded to three decimals) and every other field is `Utf8`. No column is nullable.
//! The Arrow schema ([`access_event_schema`]) is embedded in the file, so Arrow readers get the
//! same types back.
//!
//! Events are gathered into record batches of [`DEFAULT_BATCH_ROWS`] and encoded by arrow-rs's
//! `ArrowWriter` into row groups of [`DEFAULT_ROW_GROUP_ROWS`] rows, zstd level
//! [`ZSTD_LEVEL`], with Parquet's default dictionary encoding, which suits the many
//! low-cardinality string columns.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::event::{AccessEvent, FIELD_NAMES};
use super::writer::{DatasetWriteError, EventWriter};

/// Events per Arrow record batch handed to the Parquet encoder.
pub const DEFAULT_BATCH_ROWS: NonZeroUsize = NonZeroUsize::new(65_536).unwrap();
/// Rows per Parquet row group (16 batches).
pub const DEFAULT_ROW_GROUP_ROWS: NonZeroUsize = NonZeroUsize::new(1_048_576).unwrap();
/// The zstd compression level of every column.
pub const ZSTD_LEVEL: i32 = 3;

/// The timezone of the `timestamp` column.
const UTC: &str = "UTC";

static ACCESS_EVENT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let data_type = |name: &str| match name {
        "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into())),
        "status" | "bytes" | "retries" => DataType::Int64,
        "duration_ms" => DataType::Float64,
        _ => DataType::Utf8,
    };
    let fields: Vec<Field> = FIELD_NAMES
        .iter()
        .map(|&name| Field::new(name, data_type(name), false))
        .collect();
    Arc::new(Schema::new(fields))
});

/// The Arrow schema of the dataset's Parquet files, columns in the dataset's order.
pub fn access_event_schema() -> SchemaRef {
    Arc::clone(&ACCESS_EVENT_SCHEMA)
}

/// Writes access events as a Parquet file.
pub struct ParquetWriter<W: Write + Send> {
    encoder: ArrowWriter<W>,
    columns: ColumnBuilders,
    batch_rows: usize,
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer with the default batch and row-group sizes.
    pub fn new(sink: W) -> Result<Self, DatasetWriteError> {
        Self::with_row_counts(sink, DEFAULT_BATCH_ROWS, DEFAULT_ROW_GROUP_ROWS)
    }

    /// A writer gathering `batch_rows` events per Arrow batch into row groups of
    /// `row_group_rows` rows.
    pub fn with_row_counts(
        sink: W,
        batch_rows: NonZeroUsize,
        row_group_rows: NonZeroUsize,
    ) -> Result<Self, DatasetWriteError> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
            .set_max_row_group_row_count(Some(row_group_rows.get()))
            .build();
        let encoder = ArrowWriter::try_new(sink, access_event_schema(), Some(properties))?;
        Ok(Self {
            encoder,
            columns: ColumnBuilders::with_capacity(batch_rows.get()),
            batch_rows: batch_rows.get(),
        })
    }

    fn write_batch(&mut self) -> Result<(), DatasetWriteError> {
        let batch = RecordBatch::try_new(access_event_schema(), self.columns.finish())?;
        self.encoder.write(&batch)?;
        Ok(())
    }
}

impl<W: Write + Send> EventWriter for ParquetWriter<W> {
    type Sink = W;

    fn write_event(&mut self, event: &AccessEvent) -> Result<(), DatasetWriteError> {
        self.columns.append(event);
        if self.columns.rows >= self.batch_rows {
            self.write_batch()?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<W, DatasetWriteError> {
        if self.columns.rows > 0 {
            self.write_batch()?;
        }
        let mut sink = self.encoder.into_inner()?;
        sink.flush()?;
        Ok(sink)
    }
}

/// One Arrow builder per column, filled row by row until the batch is complete.
struct ColumnBuilders {
    rows: usize,
    timestamp: TimestampMillisecondBuilder,
    service: StringBuilder,
    region: StringBuilder,
    host: StringBuilder,
    method: StringBuilder,
    status: Int64Builder,
    path: StringBuilder,
    country: StringBuilder,
    user_id: StringBuilder,
    duration_ms: Float64Builder,
    bytes: Int64Builder,
    retries: Int64Builder,
    message: StringBuilder,
}

impl ColumnBuilders {
    fn with_capacity(rows: usize) -> Self {
        // Byte capacities are the typical value lengths, so a batch rarely reallocates.
        let strings =
            |bytes_per_value: usize| StringBuilder::with_capacity(rows, rows * bytes_per_value);
        Self {
            rows: 0,
            timestamp: TimestampMillisecondBuilder::with_capacity(rows).with_timezone(UTC),
            service: strings(6),
            region: strings(10),
            host: strings(9),
            method: strings(4),
            status: Int64Builder::with_capacity(rows),
            path: strings(13),
            country: strings(4),
            user_id: strings(6),
            duration_ms: Float64Builder::with_capacity(rows),
            bytes: Int64Builder::with_capacity(rows),
            retries: Int64Builder::with_capacity(rows),
            message: strings(72),
        }
    }

    fn append(&mut self, event: &AccessEvent) {
        self.timestamp.append_value(event.timestamp_ms);
        self.service.append_value(&event.service);
        self.region.append_value(&event.region);
        self.host.append_value(&event.host);
        self.method.append_value(&event.method);
        self.status.append_value(event.status);
        self.path.append_value(&event.path);
        self.country.append_value(&event.country);
        self.user_id.append_value(&event.user_id);
        self.duration_ms.append_value(event.duration_ms);
        self.bytes.append_value(event.bytes);
        self.retries.append_value(event.retries);
        self.message.append_value(&event.message);
        self.rows += 1;
    }

    /// The columns in schema order; the builders are left empty for the next batch.
    fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        vec![
            Arc::new(self.timestamp.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.path.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.retries.finish()),
            Arc::new(self.message.finish()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom};

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::dataset::{AccessLogGenerator, write_events};

    fn read_back(file: std::fs::File) -> (usize, SchemaRef, Vec<AccessEvent>) {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("a Parquet file");
        let row_groups = builder.metadata().num_row_groups();
        let schema = Arc::clone(builder.schema());
        let mut events = Vec::new();
        for batch in builder.build().expect("a reader") {
            let batch = batch.expect("a readable batch");
            let strings = |index: usize| batch.column(index).as_string::<i32>().clone();
            let longs = |index: usize| batch.column(index).as_primitive::<Int64Type>().clone();
            let timestamp = batch.column(0).as_primitive::<TimestampMillisecondType>();
            let (service, region, host, method) = (strings(1), strings(2), strings(3), strings(4));
            let (path, country, user_id, message) =
                (strings(6), strings(7), strings(8), strings(12));
            let (status, bytes, retries) = (longs(5), longs(10), longs(11));
            let duration = batch.column(9).as_primitive::<Float64Type>();
            assert!(
                batch
                    .columns()
                    .iter()
                    .all(|column| column.null_count() == 0)
            );
            for row in 0..batch.num_rows() {
                events.push(AccessEvent {
                    timestamp_ms: timestamp.value(row),
                    service: service.value(row).to_owned(),
                    region: region.value(row).to_owned(),
                    host: host.value(row).to_owned(),
                    method: method.value(row).to_owned(),
                    status: status.value(row),
                    path: path.value(row).to_owned(),
                    country: country.value(row).to_owned(),
                    user_id: user_id.value(row).to_owned(),
                    duration_ms: duration.value(row),
                    bytes: bytes.value(row),
                    retries: retries.value(row),
                    message: message.value(row).to_owned(),
                });
            }
        }
        (row_groups, schema, events)
    }

    fn round_trip(
        writer: ParquetWriter<std::fs::File>,
        events: u64,
    ) -> (usize, SchemaRef, Vec<AccessEvent>) {
        let mut writer = writer;
        let mut generator = AccessLogGenerator::new(21, events);
        write_events(&mut generator, &mut writer, |_| {}).expect("a writable file");
        let mut file = writer.finish().expect("a finished file");
        file.seek(SeekFrom::Start(0)).expect("a seekable file");
        read_back(file)
    }

    #[test]
    fn round_trip_gives_back_the_generated_events_with_typed_columns() {
        let file = tempfile::tempfile().expect("a temporary file");
        let writer = ParquetWriter::new(file).expect("a writer");
        let (row_groups, schema, events) = round_trip(writer, 10_000);
        assert_eq!(row_groups, 1);
        assert_eq!(schema, access_event_schema());
        assert_eq!(
            schema.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(
            events,
            AccessLogGenerator::new(21, 10_000).collect::<Vec<_>>()
        );
    }

    #[test]
    fn batches_and_row_groups_split_where_asked() {
        let file = tempfile::tempfile().expect("a temporary file");
        let (batch_rows, group_rows) = (NonZeroUsize::new(1_024), NonZeroUsize::new(3_000));
        let writer = batch_rows
            .zip(group_rows)
            .map(|(batch, group)| ParquetWriter::with_row_counts(file, batch, group))
            .expect("non-zero row counts")
            .expect("a writer");
        let (row_groups, _, events) = round_trip(writer, 10_000);
        assert_eq!(row_groups, 4);
        assert_eq!(
            events,
            AccessLogGenerator::new(21, 10_000).collect::<Vec<_>>()
        );
    }

    #[test]
    fn empty_dataset_is_a_valid_file_with_the_schema() {
        let file = tempfile::tempfile().expect("a temporary file");
        let writer = ParquetWriter::new(file).expect("a writer");
        let (_, schema, events) = round_trip(writer, 0);
        assert_eq!(schema, access_event_schema());
        assert!(events.is_empty());
    }
}

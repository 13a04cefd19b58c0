//! Reading: each input file cut into `Piece`s of work — blocks of whole
//! NDJSON lines, Arrow record batches — that the build threads parse.
//!
//! One thread reads the files in order (decompression and NDJSON line
//! splitting are sequential by nature; Parquet and Arrow decoding is cheap
//! beside parsing and building) and hands pieces to the build threads through
//! a bounded queue, so that reading never runs more than a few pieces ahead.
//! Each piece remembers where its rows start, so that a rejected row is
//! reported at its line, or its row group and row.
//!
//! Only the columns the spec reads are decoded from Parquet and Arrow files
//! (every column under schema discovery). CSV columns are read as text and
//! take their types from the spec, as JSON strings would.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::errors::ParquetError;
use strata_storage::spec::DataSourceSpec;

use super::input::{Compression, InputFile, InputFormat};
use super::report::{LoadProgress, RowPosition};

/// Bytes of NDJSON handed to a build thread at a time.
const LINE_BLOCK_BYTES: usize = 1 << 20;

/// Rows per record batch read from CSV, Parquet and Arrow files.
const BATCH_ROWS: usize = 8_192;

/// A piece of one input file, for a build thread to parse.
pub(super) struct Piece {
    /// The file's index among the load's inputs.
    pub file: usize,
    pub content: PieceContent,
}

pub(super) enum PieceContent {
    /// Whole NDJSON lines; the first is line `first_line` of its file.
    Lines { first_line: u64, bytes: Vec<u8> },
    /// Rows of a record batch; `start` places its first row.
    Rows {
        start: BatchStart,
        batch: RecordBatch,
    },
}

/// Where a record batch's first row lies in its file.
#[derive(Debug, Clone, Copy)]
pub(super) enum BatchStart {
    /// A CSV line (one record per line).
    Line(u64),
    /// Row `first_row` of a Parquet row group.
    RowGroup { group: usize, first_row: usize },
    /// An Arrow IPC record batch.
    Batch(usize),
}

impl BatchStart {
    /// The position of the batch's row `row`.
    pub(super) fn position(self, row: usize) -> RowPosition {
        match self {
            BatchStart::Line(line) => RowPosition::Line(line + row as u64),
            BatchStart::RowGroup { group, first_row } => RowPosition::RowGroup {
                group,
                row: first_row + row,
            },
            BatchStart::Batch(batch) => RowPosition::Batch { batch, row },
        }
    }
}

/// Why a file could not be read: the whole load stops, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading {} as Parquet: {source}; is the file complete and really Parquet?", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    #[error("reading {} as {format}: {source}", path.display())]
    Arrow {
        path: PathBuf,
        format: InputFormat,
        #[source]
        source: ArrowError,
    },
}

/// The top-level columns of a file that a spec reads.
pub(super) struct ColumnChoice {
    /// Schema discovery: every column may become a dimension.
    all: bool,
    roots: HashSet<String>,
}

impl ColumnChoice {
    pub(super) fn for_spec(spec: &DataSourceSpec) -> ColumnChoice {
        let names = std::iter::once(spec.timestamp_spec().column())
            .chain(spec.dimensions().iter().map(|dimension| dimension.name()))
            .chain(
                spec.metrics()
                    .iter()
                    .filter_map(|metric| metric.aggregator().field_name()),
            );
        // A dotted name reads a field inside a nested column, or a top-level
        // column named with the dots: keep every prefix.
        let mut roots = HashSet::new();
        for name in names {
            for (end, _) in name.match_indices('.') {
                roots.insert(name[..end].to_owned());
            }
            roots.insert(name.to_owned());
        }
        ColumnChoice {
            all: spec.is_schema_discovery(),
            roots,
        }
    }

    pub(super) fn wants(&self, column: &str) -> bool {
        self.all || self.roots.contains(column)
    }
}

/// Reads file `index` and hands its pieces to `send`, which returns `false`
/// when the load is stopping; reading then stops too.
pub(super) fn read_file(
    index: usize,
    input: &InputFile,
    columns: &ColumnChoice,
    progress: &LoadProgress,
    send: &mut dyn FnMut(Piece) -> bool,
    max_line_bytes: usize,
) -> Result<(), ReadError> {
    let io_error = |source| ReadError::Io {
        path: input.path.clone(),
        source,
    };
    let arrow_error = |source| ReadError::Arrow {
        path: input.path.clone(),
        format: input.format,
        source,
    };
    let mut send_rows = |start, batch| {
        send(Piece {
            file: index,
            content: PieceContent::Rows { start, batch },
        })
    };
    match input.format {
        InputFormat::Ndjson => {
            let reader = open(input, progress).map_err(io_error)?;
            let mut send_lines = |first_line, bytes| {
                send(Piece {
                    file: index,
                    content: PieceContent::Lines { first_line, bytes },
                })
            };
            read_lines(reader, max_line_bytes, &mut send_lines).map_err(io_error)
        }
        InputFormat::Csv => {
            let mut reader =
                BufReader::with_capacity(1 << 16, open(input, progress).map_err(io_error)?);
            let Some(schema) = csv_header(&mut reader).map_err(arrow_error)? else {
                return Ok(());
            };
            let batches = arrow::csv::ReaderBuilder::new(Arc::new(schema))
                .with_header(false)
                .with_batch_size(BATCH_ROWS)
                .build_buffered(reader)
                .map_err(arrow_error)?;
            let mut line = 2;
            for batch in batches {
                let batch = batch.map_err(arrow_error)?;
                let rows = batch.num_rows() as u64;
                if !send_rows(BatchStart::Line(line), batch) {
                    break;
                }
                line += rows;
            }
            Ok(())
        }
        InputFormat::ArrowStream => {
            let reader = open(input, progress).map_err(io_error)?;
            let batches =
                arrow::ipc::reader::StreamReader::try_new(reader, None).map_err(arrow_error)?;
            for (number, batch) in batches.enumerate() {
                if !send_rows(BatchStart::Batch(number), batch.map_err(arrow_error)?) {
                    break;
                }
            }
            Ok(())
        }
        InputFormat::ArrowFile => {
            let file = File::open(&input.path).map_err(io_error)?;
            let schema = arrow::ipc::reader::FileReader::try_new(file, None)
                .map_err(arrow_error)?
                .schema();
            let projection = wanted_roots(&schema, columns);
            let file = File::open(&input.path).map_err(io_error)?;
            let batches = arrow::ipc::reader::FileReader::try_new(file, Some(projection))
                .map_err(arrow_error)?;
            let count = batches.num_batches().max(1) as u64;
            for (number, batch) in batches.enumerate() {
                progress.add_bytes(input.bytes / count);
                if !send_rows(BatchStart::Batch(number), batch.map_err(arrow_error)?) {
                    break;
                }
            }
            progress.add_bytes(input.bytes % count);
            Ok(())
        }
        InputFormat::Parquet => read_parquet(input, columns, progress, &mut send_rows),
    }
}

fn read_parquet(
    input: &InputFile,
    columns: &ColumnChoice,
    progress: &LoadProgress,
    send_rows: &mut dyn FnMut(BatchStart, RecordBatch) -> bool,
) -> Result<(), ReadError> {
    let parquet_error = |source| ReadError::Parquet {
        path: input.path.clone(),
        source,
    };
    let file = File::open(&input.path).map_err(|source| ReadError::Io {
        path: input.path.clone(),
        source,
    })?;
    let metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(parquet_error)?;
    let roots = wanted_roots(metadata.schema(), columns);
    let mask = ProjectionMask::roots(metadata.parquet_schema(), roots);
    let mut counted = 0;
    for group in 0..metadata.metadata().num_row_groups() {
        let clone = file.try_clone().map_err(|source| ReadError::Io {
            path: input.path.clone(),
            source,
        })?;
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(clone, metadata.clone())
            .with_projection(mask.clone())
            .with_row_groups(vec![group])
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(parquet_error)?;
        let mut first_row = 0;
        for batch in batches {
            let batch = batch.map_err(|error| parquet_error(ParquetError::from(error)))?;
            let rows = batch.num_rows();
            if !send_rows(BatchStart::RowGroup { group, first_row }, batch) {
                return Ok(());
            }
            first_row += rows;
        }
        let bytes = metadata
            .metadata()
            .row_group(group)
            .compressed_size()
            .max(0) as u64;
        let bytes = bytes.min(input.bytes - counted);
        progress.add_bytes(bytes);
        counted += bytes;
    }
    progress.add_bytes(input.bytes - counted);
    Ok(())
}

/// The indexes of the top-level columns of `schema` that `columns` wants.
fn wanted_roots(schema: &Schema, columns: &ColumnChoice) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| columns.wants(field.name()))
        .map(|(index, _)| index)
        .collect()
}

/// Reads a CSV header row into a schema of text columns; `None` for an
/// empty file.
fn csv_header(reader: &mut impl BufRead) -> Result<Option<Schema>, ArrowError> {
    let mut header = Vec::new();
    reader.read_until(b'\n', &mut header)?;
    if header.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let (names, _) = arrow::csv::reader::Format::default()
        .with_header(true)
        .infer_schema(header.as_slice(), Some(0))?;
    let fields: Vec<Field> = names
        .fields()
        .iter()
        .map(|field| Field::new(field.name(), DataType::Utf8, true))
        .collect();
    Ok(Some(Schema::new(fields)))
}

/// The file's content, decompressed, with its bytes on disk counted into
/// `progress` as they are read.
fn open<'p>(input: &InputFile, progress: &'p LoadProgress) -> io::Result<Box<dyn Read + 'p>> {
    let file = CountedRead {
        inner: File::open(&input.path)?,
        progress,
    };
    Ok(match input.compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    })
}

struct CountedRead<'p, R> {
    inner: R,
    progress: &'p LoadProgress,
}

impl<R: Read> Read for CountedRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.progress.add_bytes(read as u64);
        Ok(read)
    }
}

/// Cuts an NDJSON stream into blocks of whole lines. A line longer than
/// `max_line_bytes` is cut short (the parser then rejects it for its length)
/// and the rest of it skipped, so that one huge line cannot take the memory.
fn read_lines(
    mut reader: impl Read,
    max_line_bytes: usize,
    send: &mut dyn FnMut(u64, Vec<u8>) -> bool,
) -> io::Result<()> {
    let mut first_line = 1;
    let mut block: Vec<u8> = Vec::with_capacity(LINE_BLOCK_BYTES);
    let mut skipping = false;
    loop {
        let start = block.len();
        block.resize(start + LINE_BLOCK_BYTES, 0);
        let read = read_full(&mut reader, &mut block[start..])?;
        block.truncate(start + read);
        if skipping {
            match memchr::memchr(b'\n', &block[start..]) {
                Some(end) => {
                    block.drain(start..=start + end);
                    skipping = false;
                }
                None => {
                    block.truncate(start);
                    if read == 0 {
                        break;
                    }
                    continue;
                }
            }
        }
        let at_end = read == 0;
        let cut = if at_end {
            block.len()
        } else {
            match memchr::memrchr(b'\n', &block) {
                Some(end) => end + 1,
                None if block.len() > max_line_bytes => {
                    // Keep a too-long line's first bytes and a line end, so
                    // that it is rejected as too long at its own line.
                    block.truncate(max_line_bytes + 1);
                    block.push(b'\n');
                    skipping = true;
                    block.len()
                }
                None => continue,
            }
        };
        if cut > 0 {
            let rest = block.split_off(cut);
            let lines = memchr::memchr_iter(b'\n', &block).count() as u64;
            let full = std::mem::replace(&mut block, rest);
            if !send(first_line, full) {
                return Ok(());
            }
            first_line += lines;
        }
        if at_end {
            return Ok(());
        }
    }
    if !block.is_empty() {
        send(first_line, block);
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str, max_line_bytes: usize) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        read_lines(text.as_bytes(), max_line_bytes, &mut |line, bytes| {
            out.push((line, String::from_utf8(bytes).unwrap()));
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_keep_their_numbers_across_blocks() {
        let line = format!("{{\"a\": \"{}\"}}\n", "x".repeat(100));
        let text = line.repeat(25_000);
        let got = blocks(&text, 1 << 20);
        assert!(got.len() > 1, "several blocks");
        let mut expected_line = 1;
        for (first_line, block) in &got {
            assert_eq!(*first_line, expected_line);
            assert!(block.ends_with('\n'));
            expected_line += block.matches('\n').count() as u64;
        }
        assert_eq!(expected_line, 25_001);
        assert_eq!(got.iter().map(|(_, b)| b.len()).sum::<usize>(), text.len());
    }

    #[test]
    fn a_last_line_without_an_end_is_kept() {
        assert_eq!(
            blocks("{}\n{}", 100),
            vec![(1, "{}\n".to_owned()), (2, "{}".to_owned())]
        );
    }

    #[test]
    fn a_line_over_the_limit_is_cut_and_the_next_lines_keep_their_numbers() {
        let long = "y".repeat(3 * LINE_BLOCK_BYTES);
        let text = format!("{{}}\n{long}\n{{\"b\": 1}}\n");
        let got = blocks(&text, 1_000);
        let lines: Vec<(u64, &str)> = got
            .iter()
            .flat_map(|(first, block)| {
                block
                    .lines()
                    .enumerate()
                    .map(move |(i, line)| (first + i as u64, line))
            })
            .collect();
        assert_eq!(
            lines.len(),
            3,
            "{:?}",
            lines.iter().map(|l| l.0).collect::<Vec<_>>()
        );
        assert_eq!(lines[0], (1, "{}"));
        assert_eq!(lines[1].0, 2);
        assert_eq!(lines[1].1.len(), 1_001, "cut just past the limit");
        assert_eq!(lines[2], (3, "{\"b\": 1}"));
    }
}

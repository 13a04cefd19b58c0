//! Building segments: [`TableWriter`] streams rows into a table file,
//! [`SegmentWriter`] gathers a segment's tables and seals it with a manifest.
//!
//! Rows must arrive in `__time` order (ingest sorts and rolls them up before
//! they get here). Numeric, text and complex columns are encoded block by
//! block as rows arrive; string columns keep provisional ids until
//! [`TableWriter::finish`], because a sorted dictionary needs every value
//! before the first id can be written.
//!
//! An events table with text columns also feeds the segment's full-text
//! index (`text/`, see [`crate::text_index`]) as its rows arrive, so every
//! segment written — persisted, compacted, bulk-loaded — is searchable.
//!
//! A segment directory is complete only once its `SEGMENT` manifest exists:
//! files are fsync'd before the manifest is written, and the manifest before
//! the directory is fsync'd, so a crash leaves either a sealed segment or a
//! directory without a manifest, which the catalog sweeps away.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::background_encoder::{BackgroundEncoder, EncodeJob, EncodedBlock};
use super::bitmap_index::encode_bitmap_groups;
use super::codec::{self, BlockGoal, COMPLEX_ZSTD_LEVEL, TEXT_ZSTD_LEVEL};
use super::dictionary::encode_dictionary;
use super::layout::{
    BLOCK_ALIGN, BlockIndex, BlockRef, ColumnMeta, DoubleBlockMeta, Footer, IdBlockMeta,
    LongBlockMeta, PlainBlockMeta, encode_header, encode_trailer,
};
use super::schema::{ColumnKind, TableKind, TableSchema};
use super::{ROWS_PER_BLOCK, SegmentError};
use crate::text_index::{TextField, TextIndexWriter};
use crate::time::Millis;

/// One value of one row, as handed to [`TableWriter::append_row`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellValue<'a> {
    Null,
    Long(i64),
    Double(f64),
    /// A string, text or single value of a multi-value column.
    Str(&'a str),
    /// The values of a multi-value string column (empty means null).
    Strs(&'a [&'a str]),
    /// The bytes of a complex column.
    Bytes(&'a [u8]),
}

impl CellValue<'_> {
    /// Whether a column of `kind` can hold this cell: null fits any column,
    /// a long also fits a double column, and several strings fit only a
    /// multi-value string column.
    pub fn fits(&self, kind: &ColumnKind) -> bool {
        match (kind, self) {
            (_, CellValue::Null) => true,
            (ColumnKind::Long, CellValue::Long(_)) => true,
            (ColumnKind::Double, CellValue::Double(_) | CellValue::Long(_)) => true,
            (ColumnKind::String { .. }, CellValue::Str(_)) => true,
            (ColumnKind::String { multi_value }, CellValue::Strs(v)) => {
                *multi_value || v.len() <= 1
            }
            (ColumnKind::Text, CellValue::Str(_)) => true,
            (ColumnKind::Complex { .. }, CellValue::Bytes(_)) => true,
            _ => false,
        }
    }
}

/// The blocks written so far, with the file offset and checksums.
struct BlockSink {
    path: PathBuf,
    file: BufWriter<File>,
    offset: u64,
    blocks: Vec<BlockRef>,
}

impl BlockSink {
    fn write_block(&mut self, bytes: &[u8]) -> Result<BlockIndex, SegmentError> {
        let padding = (BLOCK_ALIGN - (self.offset as usize % BLOCK_ALIGN)) % BLOCK_ALIGN;
        self.write_raw(&[0u8; BLOCK_ALIGN][..padding])?;
        let index = self.blocks.len() as BlockIndex;
        self.blocks.push(BlockRef(
            self.offset,
            bytes.len() as u64,
            crc32fast::hash(bytes),
        ));
        self.write_raw(bytes)?;
        Ok(index)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), SegmentError> {
        self.file
            .write_all(bytes)
            .map_err(|e| SegmentError::io(&self.path, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn write_bitmap(&mut self, bitmap: &RoaringBitmap) -> Result<Option<BlockIndex>, SegmentError> {
        if bitmap.is_empty() {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(bitmap.serialized_size());
        // Writing into a Vec cannot fail.
        let _ = bitmap.serialize_into(&mut bytes);
        self.write_block(&bytes).map(Some)
    }
}

/// The column being built, by storage kind.
enum ColumnBuilder {
    Long {
        pending: Vec<i64>,
        blocks: Vec<LongBlockMeta>,
    },
    Double {
        pending: Vec<f64>,
        blocks: Vec<DoubleBlockMeta>,
    },
    String(StringBuilder),
    VarBinary {
        text: bool,
        pending: Vec<u8>,
        ends: Vec<usize>,
        blocks: Vec<PlainBlockMeta>,
    },
}

/// A string column's values under provisional ids (first-seen order),
/// renumbered into dictionary order at the end.
#[derive(Default)]
struct StringBuilder {
    multi_value: bool,
    ids: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    values: Vec<Box<str>>,
    /// Single-value: 0 for null, provisional id + 1 otherwise.
    /// Multi-value: the provisional ids of every row, back to back.
    codes: Vec<u32>,
    /// Multi-value only: how many values each row has.
    lengths: Vec<u32>,
}

impl StringBuilder {
    fn provisional_id(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.into());
        self.ids.insert(value.into(), id);
        id
    }

    fn push_null(&mut self) {
        if self.multi_value {
            self.lengths.push(0);
        } else {
            self.codes.push(0);
        }
    }

    fn push(&mut self, value: &str) {
        let id = self.provisional_id(value);
        if self.multi_value {
            self.codes.push(id);
            self.lengths.push(1);
        } else {
            self.codes.push(id + 1);
        }
    }

    fn push_many(&mut self, values: &[&str]) {
        for v in values {
            let id = self.provisional_id(v);
            self.codes.push(id);
        }
        self.lengths.push(values.len() as u32);
    }
}

/// What a finished table file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSummary {
    pub kind: TableKind,
    pub rows: u64,
    pub bytes: u64,
    pub time_range: Option<(Millis, Millis)>,
}

/// Streams rows, in `__time` order, into one table file.
pub struct TableWriter {
    kind: TableKind,
    schema: TableSchema,
    sink: BlockSink,
    time: Vec<i64>,
    time_blocks: Vec<LongBlockMeta>,
    columns: Vec<ColumnBuilder>,
    nulls: Vec<RoaringBitmap>,
    rows: u64,
    time_range: Option<(Millis, Millis)>,
    scratch: Vec<u8>,
    /// Started with the first text or complex block.
    encoder: Option<BackgroundEncoder>,
    /// The full-text index an events table with text columns feeds.
    text: Option<TextColumns>,
}

/// The full-text index of an events table's text columns, fed row by row.
struct TextColumns {
    writer: TextIndexWriter,
    /// The schema position of each text column, in index field order.
    columns: Vec<usize>,
}

impl TextColumns {
    /// The index `<table dir>/text/` of `schema`'s text columns, when the
    /// table is an events table and has some.
    fn for_table(
        path: &Path,
        kind: TableKind,
        schema: &TableSchema,
    ) -> Result<Option<Self>, SegmentError> {
        let fields = TextField::of_table(schema);
        if kind != TableKind::Events || fields.is_empty() {
            return Ok(None);
        }
        let dir = path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(TEXT_INDEX_DIR);
        let columns = fields
            .iter()
            .filter_map(|f| schema.position(&f.name))
            .collect();
        Ok(Some(Self {
            writer: TextIndexWriter::create(&dir, &fields)?,
            columns,
        }))
    }

    fn add_row(&mut self, row: u32, values: &[CellValue<'_>]) -> Result<(), SegmentError> {
        let text: Vec<Option<&str>> = self
            .columns
            .iter()
            .map(|&i| match values.get(i) {
                Some(CellValue::Str(s)) => Some(*s),
                _ => None,
            })
            .collect();
        Ok(self.writer.add_row(row, &text)?)
    }
}

/// What a table's blocks are encoded for: the rollup table is what
/// dashboards scan, again and again, so it decodes fast; the events table,
/// the larger, is kept small.
fn block_goal(kind: TableKind) -> BlockGoal {
    match kind {
        TableKind::Events => BlockGoal::Compact,
        TableKind::Rollup => BlockGoal::FastScan,
    }
}

fn stopped(path: &Path) -> SegmentError {
    SegmentError::invalid_write(path, "the background block encoder stopped unexpectedly")
}

impl TableWriter {
    /// Creates the table file at `path` (which must not exist).
    pub fn create(path: &Path, kind: TableKind, schema: TableSchema) -> Result<Self, SegmentError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| SegmentError::io(path, e))?;
        let mut sink = BlockSink {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            blocks: Vec::new(),
        };
        sink.write_raw(&encode_header())?;
        let columns = schema
            .columns()
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Long => ColumnBuilder::Long {
                    pending: Vec::new(),
                    blocks: Vec::new(),
                },
                ColumnKind::Double => ColumnBuilder::Double {
                    pending: Vec::new(),
                    blocks: Vec::new(),
                },
                ColumnKind::String { multi_value } => ColumnBuilder::String(StringBuilder {
                    multi_value: *multi_value,
                    ..StringBuilder::default()
                }),
                ColumnKind::Text | ColumnKind::Complex { .. } => ColumnBuilder::VarBinary {
                    text: c.kind == ColumnKind::Text,
                    pending: Vec::new(),
                    ends: Vec::new(),
                    blocks: Vec::new(),
                },
            })
            .collect();
        let text = TextColumns::for_table(path, kind, &schema)?;
        Ok(Self {
            kind,
            nulls: vec![RoaringBitmap::new(); schema.columns().len()],
            schema,
            sink,
            time: Vec::with_capacity(ROWS_PER_BLOCK),
            time_blocks: Vec::new(),
            columns,
            rows: 0,
            time_range: None,
            scratch: Vec::new(),
            encoder: None,
            text,
        })
    }

    pub fn schema(&self) -> &TableSchema {
        &self.schema
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends one row: its time and one value per schema column, in order.
    pub fn append_row(
        &mut self,
        time: Millis,
        values: &[CellValue<'_>],
    ) -> Result<(), SegmentError> {
        if values.len() != self.columns.len() {
            return Err(self.invalid(format!(
                "row {} has {} values, the schema has {} columns",
                self.rows,
                values.len(),
                self.columns.len()
            )));
        }
        if self.rows == u64::from(u32::MAX) {
            return Err(self.invalid(format!(
                "a table holds at most {} rows; split the data into more partitions",
                u32::MAX
            )));
        }
        if let Some((_, last)) = self.time_range
            && time < last
        {
            return Err(self.invalid(format!(
                "row {} has __time {time}, before the previous row's {last}: rows must be sorted by time",
                self.rows
            )));
        }
        for (i, value) in values.iter().enumerate() {
            self.check_cell(i, value)?;
        }
        let row = self.rows as u32;
        if let Some(text) = &mut self.text {
            text.add_row(row, values)?;
        }
        for (i, value) in values.iter().enumerate() {
            let is_null = matches!(value, CellValue::Null)
                || matches!(value, CellValue::Strs(v) if v.is_empty());
            if is_null {
                self.nulls[i].insert(row);
            }
            match (&mut self.columns[i], value) {
                (ColumnBuilder::Long { pending, .. }, CellValue::Long(v)) => pending.push(*v),
                (ColumnBuilder::Long { pending, .. }, _) => pending.push(0),
                (ColumnBuilder::Double { pending, .. }, CellValue::Double(v)) => pending.push(*v),
                (ColumnBuilder::Double { pending, .. }, CellValue::Long(v)) => {
                    pending.push(*v as f64)
                }
                (ColumnBuilder::Double { pending, .. }, _) => pending.push(0.0),
                (ColumnBuilder::String(b), CellValue::Str(s)) => b.push(s),
                (ColumnBuilder::String(b), CellValue::Strs(v)) if b.multi_value => b.push_many(v),
                (ColumnBuilder::String(b), CellValue::Strs([s])) => b.push(s),
                (ColumnBuilder::String(b), _) => b.push_null(),
                (ColumnBuilder::VarBinary { pending, ends, .. }, value) => {
                    match value {
                        CellValue::Str(s) => pending.extend_from_slice(s.as_bytes()),
                        CellValue::Bytes(b) => pending.extend_from_slice(b),
                        _ => {}
                    }
                    ends.push(pending.len());
                }
            }
        }
        self.time.push(time);
        self.time_range = Some(match self.time_range {
            Some((first, _)) => (first, time),
            None => (time, time),
        });
        self.rows += 1;
        if self.time.len() == ROWS_PER_BLOCK {
            self.flush_block()?;
        }
        Ok(())
    }

    fn invalid(&self, detail: String) -> SegmentError {
        SegmentError::invalid_write(&self.sink.path, detail)
    }

    fn check_cell(&self, i: usize, value: &CellValue<'_>) -> Result<(), SegmentError> {
        let column = &self.schema.columns()[i];
        if value.fits(&column.kind) {
            Ok(())
        } else {
            Err(self.invalid(format!(
                "row {}: column {:?} is {:?} and cannot hold {value:?}",
                self.rows, column.name, column.kind
            )))
        }
    }

    /// Encodes the rows gathered since the last block, for every column that
    /// streams.
    fn flush_block(&mut self) -> Result<(), SegmentError> {
        if self.time.is_empty() {
            return Ok(());
        }
        let rows = self.time.len() as u32;
        let first_row = self.rows as u32 - rows;
        let goal = block_goal(self.kind);
        let meta = write_longs(
            &mut self.sink,
            &mut self.scratch,
            &self.time,
            None,
            rows,
            goal,
        )?;
        self.time_blocks.push(meta);
        self.time.clear();
        for (i, column) in self.columns.iter_mut().enumerate() {
            let nulls = &self.nulls[i];
            let is_null = |j: usize| nulls.contains(first_row + j as u32);
            match column {
                ColumnBuilder::Long { pending, blocks } => {
                    blocks.push(write_longs(
                        &mut self.sink,
                        &mut self.scratch,
                        pending,
                        Some(&is_null),
                        rows,
                        goal,
                    )?);
                    pending.clear();
                }
                ColumnBuilder::Double { pending, blocks } => {
                    self.scratch.clear();
                    codec::encode_doubles(pending, goal, &mut self.scratch);
                    let block = self.sink.write_block(&self.scratch)?;
                    let present = pending
                        .iter()
                        .enumerate()
                        .filter(|&(j, v)| !is_null(j) && !v.is_nan())
                        .map(|(_, v)| *v);
                    let (min, max) =
                        present.fold((None, None), |(min, max): (Option<f64>, Option<f64>), v| {
                            (
                                Some(min.map_or(v, |m| m.min(v))),
                                Some(max.map_or(v, |m| m.max(v))),
                            )
                        });
                    blocks.push(DoubleBlockMeta {
                        block,
                        rows,
                        min,
                        max,
                    });
                    pending.clear();
                }
                ColumnBuilder::VarBinary {
                    text,
                    pending,
                    ends,
                    ..
                } => {
                    let job = EncodeJob {
                        column: i,
                        rows,
                        data: std::mem::replace(pending, Vec::with_capacity(pending.capacity())),
                        ends: std::mem::replace(ends, Vec::with_capacity(ROWS_PER_BLOCK)),
                        text: *text,
                        level: if *text {
                            TEXT_ZSTD_LEVEL
                        } else {
                            COMPLEX_ZSTD_LEVEL
                        },
                    };
                    let encoder = self.encoder.get_or_insert_with(BackgroundEncoder::start);
                    encoder.submit(job).map_err(|_| stopped(&self.sink.path))?;
                }
                ColumnBuilder::String(_) => {}
            }
        }
        if let Some(encoder) = &mut self.encoder {
            let finished = encoder.finished();
            self.write_encoded(finished)?;
        }
        Ok(())
    }

    /// Writes blocks the background encoder has finished.
    fn write_encoded(&mut self, finished: Vec<EncodedBlock>) -> Result<(), SegmentError> {
        for encoded in finished {
            let block = self.sink.write_block(&encoded.bytes)?;
            if let Some(ColumnBuilder::VarBinary { blocks, .. }) =
                self.columns.get_mut(encoded.column)
            {
                blocks.push(PlainBlockMeta {
                    block,
                    rows: encoded.rows,
                });
            }
        }
        Ok(())
    }

    /// Writes what is left, the string columns and the footer, and fsyncs the
    /// file; then commits the full-text index, if the table has one.
    pub fn finish(mut self) -> Result<TableSummary, SegmentError> {
        self.flush_block()?;
        let text = self.text.take();
        if let Some(encoder) = self.encoder.take() {
            let finished = encoder.finish().map_err(|_| stopped(&self.sink.path))?;
            self.write_encoded(finished)?;
        }
        let mut metas = Vec::with_capacity(self.columns.len() + 1);
        metas.push(Some(ColumnMeta::Long {
            blocks: std::mem::take(&mut self.time_blocks),
            null_bitmap: None,
        }));
        let mut string_columns = Vec::new();
        let columns = std::mem::take(&mut self.columns);
        for (i, column) in columns.into_iter().enumerate() {
            let null_bitmap = self.sink.write_bitmap(&self.nulls[i])?;
            let meta = match column {
                ColumnBuilder::Long { blocks, .. } => ColumnMeta::Long {
                    blocks,
                    null_bitmap,
                },
                ColumnBuilder::Double { blocks, .. } => ColumnMeta::Double {
                    blocks,
                    null_bitmap,
                },
                ColumnBuilder::VarBinary {
                    text: true, blocks, ..
                } => ColumnMeta::Text {
                    blocks,
                    null_bitmap,
                },
                ColumnBuilder::VarBinary {
                    text: false,
                    blocks,
                    ..
                } => ColumnMeta::Complex {
                    blocks,
                    null_bitmap,
                },
                ColumnBuilder::String(builder) => {
                    string_columns.push((metas.len(), builder, null_bitmap));
                    metas.push(None);
                    continue;
                }
            };
            metas.push(Some(meta));
        }
        // Sorting dictionaries and building bitmaps is most of the work left;
        // string columns are independent, so they are encoded on every core
        // and written one after the other.
        let rows = self.rows;
        let goal = block_goal(self.kind);
        let encoded = std::thread::scope(|scope| {
            let workers: Vec<_> = string_columns
                .into_iter()
                .map(|(slot, builder, null_bitmap)| {
                    scope.spawn(move || {
                        let mut blocks = EncodedBlocks::default();
                        let meta =
                            encode_string_column(&mut blocks, builder, rows, null_bitmap, goal);
                        (slot, blocks, meta)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
        });
        for worker in encoded {
            let (slot, blocks, mut meta) = worker.map_err(|_| {
                SegmentError::invalid_write(
                    &self.sink.path,
                    "a string column encoder stopped unexpectedly",
                )
            })?;
            let base = self.sink.blocks.len() as BlockIndex;
            for block in &blocks.0 {
                self.sink.write_block(block)?;
            }
            meta.shift_encoded_blocks(base);
            metas[slot] = Some(meta);
        }
        let metas: Vec<ColumnMeta> = metas.into_iter().flatten().collect();
        let footer = Footer {
            table: self.kind,
            rows: self.rows,
            rows_per_block: ROWS_PER_BLOCK as u32,
            time_range: self.time_range,
            schema: self.schema,
            blocks: std::mem::take(&mut self.sink.blocks),
            columns: metas,
        };
        let footer_bytes = serde_json::to_vec(&footer)
            .map_err(|e| SegmentError::invalid_write(&self.sink.path, format!("footer: {e}")))?;
        let footer_offset = self.sink.offset;
        self.sink.write_raw(&footer_bytes)?;
        self.sink
            .write_raw(&encode_trailer(footer_offset, &footer_bytes))?;
        let path = self.sink.path.clone();
        let file = self
            .sink
            .file
            .into_inner()
            .map_err(|e| SegmentError::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| SegmentError::io(&path, e))?;
        if let Some(text) = text {
            text.writer.finish()?;
        }
        Ok(TableSummary {
            kind: footer.table,
            rows: footer.rows,
            bytes: self.sink.offset,
            time_range: footer.time_range,
        })
    }
}

fn write_longs(
    sink: &mut BlockSink,
    scratch: &mut Vec<u8>,
    values: &[i64],
    is_null: Option<&dyn Fn(usize) -> bool>,
    rows: u32,
    goal: BlockGoal,
) -> Result<LongBlockMeta, SegmentError> {
    scratch.clear();
    codec::encode_longs(values, goal, scratch);
    let block = sink.write_block(scratch)?;
    let present = values
        .iter()
        .enumerate()
        .filter(|&(j, _)| is_null.is_none_or(|f| !f(j)))
        .map(|(_, v)| *v);
    let (min, max) = present.fold((None, None), |(min, max): (Option<i64>, Option<i64>), v| {
        (
            Some(min.map_or(v, |m| m.min(v))),
            Some(max.map_or(v, |m| m.max(v))),
        )
    });
    Ok(LongBlockMeta {
        block,
        rows,
        min,
        max,
    })
}

/// Blocks encoded away from the file, numbered from 0 in the order they
/// must be written.
#[derive(Default)]
struct EncodedBlocks(Vec<Vec<u8>>);

impl EncodedBlocks {
    fn push(&mut self, bytes: &[u8]) -> BlockIndex {
        self.0.push(bytes.to_vec());
        (self.0.len() - 1) as BlockIndex
    }
}

/// Sorts the dictionary, renumbers the rows, and encodes id blocks, the
/// dictionary and the bitmap groups into `out`. Block indexes in the meta
/// count from 0 in `out`, except `null_bitmap`, which is already written.
fn encode_string_column(
    out: &mut EncodedBlocks,
    builder: StringBuilder,
    rows: u64,
    null_bitmap: Option<BlockIndex>,
    goal: BlockGoal,
) -> ColumnMeta {
    let scratch = &mut Vec::new();
    let mut order: Vec<u32> = (0..builder.values.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| builder.values[a as usize].cmp(&builder.values[b as usize]));
    let mut rank = vec![0u32; order.len()];
    for (sorted, &provisional) in order.iter().enumerate() {
        rank[provisional as usize] = sorted as u32;
    }
    let blocks = encode_id_blocks(out, scratch, &builder, &rank, rows, goal);

    scratch.clear();
    let sorted: Vec<&str> = order
        .iter()
        .map(|&p| &*builder.values[p as usize])
        .collect();
    encode_dictionary(&sorted, scratch);
    let dictionary = out.push(scratch);

    // The rows of every value, grouped by value with a counting sort: one
    // flat array instead of a bitmap object per value.
    let mut starts = vec![0usize; order.len() + 1];
    for_each_occurrence(&builder, &rank, |_, id| starts[id as usize + 1] += 1);
    for id in 0..order.len() {
        starts[id + 1] += starts[id];
    }
    let mut cursor = starts.clone();
    let mut rows_of = vec![0u32; starts[order.len()]];
    for_each_occurrence(&builder, &rank, |row, id| {
        rows_of[cursor[id as usize]] = row;
        cursor[id as usize] += 1;
    });
    let lists = (0..order.len()).map(|id| &rows_of[starts[id]..starts[id + 1]]);
    let bitmap_groups = encode_bitmap_groups(lists, |block| Ok::<_, Infallible>(out.push(block)))
        .unwrap_or_else(|never| match never {});
    ColumnMeta::String {
        blocks,
        null_bitmap,
        cardinality: order.len() as u32,
        dictionary,
        bitmap_groups,
    }
}

/// Encodes the column's id blocks in dictionary order.
fn encode_id_blocks(
    out: &mut EncodedBlocks,
    scratch: &mut Vec<u8>,
    builder: &StringBuilder,
    rank: &[u32],
    rows: u64,
    goal: BlockGoal,
) -> Vec<IdBlockMeta> {
    let mut blocks = Vec::new();
    let mut ids = Vec::with_capacity(ROWS_PER_BLOCK);
    let mut flat_at = 0usize;
    for block_start in (0..rows as usize).step_by(ROWS_PER_BLOCK) {
        let block_rows = (rows as usize - block_start).min(ROWS_PER_BLOCK);
        scratch.clear();
        ids.clear();
        if builder.multi_value {
            let lengths = &builder.lengths[block_start..block_start + block_rows];
            let count = lengths.iter().map(|&l| l as usize).sum::<usize>();
            ids.extend(
                builder.codes[flat_at..flat_at + count]
                    .iter()
                    .map(|&p| rank[p as usize]),
            );
            flat_at += count;
            scratch.extend_from_slice(&[0; 8]);
            codec::encode_packed(lengths, false, scratch);
            codec::encode_packed(&ids, false, scratch);
        } else {
            ids.extend(
                builder.codes[block_start..block_start + block_rows]
                    .iter()
                    .map(|&code| {
                        if code == 0 {
                            0
                        } else {
                            rank[code as usize - 1] + 1
                        }
                    }),
            );
            codec::encode_codes(&ids, goal, scratch);
            // Codes are ids shifted by one, 0 being null.
            ids.retain(|&code| code != 0);
            ids.iter_mut().for_each(|code| *code -= 1);
        }
        blocks.push(IdBlockMeta {
            block: out.push(scratch),
            rows: block_rows as u32,
            min_id: ids.iter().copied().min(),
            max_id: ids.iter().copied().max(),
        });
    }
    blocks
}

/// Calls `f(row, id)` for every row and each distinct dictionary id it holds,
/// in row order.
fn for_each_occurrence(builder: &StringBuilder, rank: &[u32], mut f: impl FnMut(u32, u32)) {
    if builder.multi_value {
        let mut row_ids = Vec::new();
        let mut at = 0usize;
        for (row, &len) in builder.lengths.iter().enumerate() {
            row_ids.clear();
            row_ids.extend(
                builder.codes[at..at + len as usize]
                    .iter()
                    .map(|&p| rank[p as usize]),
            );
            at += len as usize;
            row_ids.sort_unstable();
            row_ids.dedup();
            row_ids.iter().for_each(|&id| f(row as u32, id));
        }
    } else {
        for (row, &code) in builder.codes.iter().enumerate() {
            if code != 0 {
                f(row as u32, rank[code as usize - 1]);
            }
        }
    }
}

/// The `SEGMENT` manifest: what a sealed segment directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSummary {
    pub tables: Vec<TableSummary>,
    /// Whether `text/` holds a full-text index.
    pub text_index: bool,
    /// Bytes of the table files and the text index (the manifest aside).
    pub bytes: u64,
}

impl SegmentSummary {
    pub fn table(&self, kind: TableKind) -> Option<&TableSummary> {
        self.tables.iter().find(|t| t.kind == kind)
    }
}

pub(crate) const MANIFEST_FILE: &str = "SEGMENT";
pub(crate) const MANIFEST_MAGIC: &str = "strata-segment";
pub(crate) const TEXT_INDEX_DIR: &str = "text";

/// Builds one segment directory.
pub struct SegmentWriter {
    dir: PathBuf,
    tables: Vec<TableSummary>,
}

impl SegmentWriter {
    /// Starts a segment in `dir`, which must not exist yet (the catalog hands
    /// out a fresh directory per segment).
    pub fn create(dir: &Path) -> Result<Self, SegmentError> {
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(|e| SegmentError::io(parent, e))?;
        }
        fs::create_dir(dir).map_err(|e| SegmentError::io(dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tables: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A writer for the segment's `kind` table.
    pub fn table(&self, kind: TableKind, schema: TableSchema) -> Result<TableWriter, SegmentError> {
        if self.tables.iter().any(|t| t.kind == kind) {
            return Err(SegmentError::invalid_write(
                &self.dir,
                format!("the segment already has an {} table", kind.name()),
            ));
        }
        TableWriter::create(&self.dir.join(kind.file_name()), kind, schema)
    }

    /// Records a table written with [`SegmentWriter::table`].
    pub fn add_table(&mut self, summary: TableSummary) {
        self.tables.push(summary);
    }

    /// Where the full-text index is built.
    pub fn text_index_dir(&self) -> PathBuf {
        self.dir.join(TEXT_INDEX_DIR)
    }

    /// Writes the manifest and fsyncs the directory: the segment is sealed.
    pub fn finish(self) -> Result<SegmentSummary, SegmentError> {
        let text_dir = self.text_index_dir();
        let text_index = text_dir.is_dir();
        let text_bytes = if text_index { dir_bytes(&text_dir)? } else { 0 };
        let summary = SegmentSummary {
            bytes: self.tables.iter().map(|t| t.bytes).sum::<u64>() + text_bytes,
            tables: self.tables,
            text_index,
        };
        let body = serde_json::to_string(&summary)
            .map_err(|e| SegmentError::invalid_write(&self.dir, format!("manifest: {e}")))?;
        let manifest = format!(
            "{MANIFEST_MAGIC} {} crc32={:08x}\n{body}",
            super::FORMAT_VERSION,
            crc32fast::hash(body.as_bytes())
        );
        let path = self.dir.join(MANIFEST_FILE);
        let mut file = File::create(&path).map_err(|e| SegmentError::io(&path, e))?;
        file.write_all(manifest.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| SegmentError::io(&path, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SegmentError::io(&self.dir, e))?;
        Ok(summary)
    }
}

fn dir_bytes(dir: &Path) -> Result<u64, SegmentError> {
    let mut total = 0;
    for entry in fs::read_dir(dir).map_err(|e| SegmentError::io(dir, e))? {
        let entry = entry.map_err(|e| SegmentError::io(dir, e))?;
        let meta = entry
            .metadata()
            .map_err(|e| SegmentError::io(&entry.path(), e))?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

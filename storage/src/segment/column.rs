//! Column readers: typed views of one column of a mapped [`Table`].
//!
//! Readers work a block at a time — block `b` holds rows
//! `[b * ROWS_PER_BLOCK, (b + 1) * ROWS_PER_BLOCK)` — decoding into buffers
//! the caller owns and reuses, so a scan allocates nothing per row. Per-block
//! statistics (min/max, dictionary id range) come from the footer without
//! touching the block, which is how filters skip blocks.

use roaring::RoaringBitmap;

use super::bitmap_index::BitmapIndex;
use super::codec::{self, VarBinaryBlock};
use super::dictionary::Dictionary;
use super::layout::{
    BitmapGroupRef, BlockIndex, ColumnMeta, DoubleBlockMeta, IdBlockMeta, LongBlockMeta,
    PlainBlockMeta,
};
use super::reader::Table;
use super::{ColumnKind, SegmentError};

/// A column of a table, by storage kind.
#[derive(Debug, Clone, Copy)]
pub enum Column<'t> {
    Long(LongColumn<'t>),
    Double(DoubleColumn<'t>),
    String(StringColumn<'t>),
    Text(TextColumn<'t>),
    Complex(ComplexColumn<'t>),
}

impl<'t> Column<'t> {
    pub(crate) fn new(table: &'t Table, meta: &'t ColumnMeta, kind: &ColumnKind) -> Self {
        match meta {
            ColumnMeta::Long {
                blocks,
                null_bitmap,
            } => Column::Long(NumericColumn {
                table,
                blocks,
                null_bitmap: *null_bitmap,
            }),
            ColumnMeta::Double {
                blocks,
                null_bitmap,
            } => Column::Double(NumericColumn {
                table,
                blocks,
                null_bitmap: *null_bitmap,
            }),
            ColumnMeta::String {
                blocks,
                null_bitmap,
                cardinality,
                dictionary,
                bitmap_groups,
            } => Column::String(StringColumn {
                table,
                blocks,
                null_bitmap: *null_bitmap,
                cardinality: *cardinality,
                dictionary: *dictionary,
                bitmap_groups,
                multi_value: matches!(kind, ColumnKind::String { multi_value: true }),
            }),
            ColumnMeta::Text {
                blocks,
                null_bitmap,
            } => Column::Text(TextColumn(VarBinaryColumn {
                table,
                blocks,
                null_bitmap: *null_bitmap,
            })),
            ColumnMeta::Complex {
                blocks,
                null_bitmap,
            } => Column::Complex(ComplexColumn(VarBinaryColumn {
                table,
                blocks,
                null_bitmap: *null_bitmap,
            })),
        }
    }

    /// Decodes every block, surfacing any corruption.
    pub fn verify(&self) -> Result<(), SegmentError> {
        match self {
            Column::Long(c) => c.values().map(drop),
            Column::Double(c) => c.values().map(drop),
            Column::String(c) => c.verify(),
            Column::Text(c) => c.values().map(drop),
            Column::Complex(c) => c.values().map(drop),
        }
    }

    /// The rows where the column is null.
    pub fn nulls(&self) -> Result<RoaringBitmap, SegmentError> {
        let (table, index) = match self {
            Column::Long(c) => (c.table, c.null_bitmap),
            Column::Double(c) => (c.table, c.null_bitmap),
            Column::String(c) => (c.table, c.null_bitmap),
            Column::Text(c) => (c.0.table, c.0.null_bitmap),
            Column::Complex(c) => (c.0.table, c.0.null_bitmap),
        };
        read_bitmap(table, index)
    }
}

fn read_bitmap(table: &Table, index: Option<BlockIndex>) -> Result<RoaringBitmap, SegmentError> {
    let Some(index) = index else {
        return Ok(RoaringBitmap::new());
    };
    let bitmap = RoaringBitmap::deserialize_from(table.block(index)?)
        .map_err(|e| SegmentError::corrupt(table.path(), format!("null bitmap: {e}")))?;
    if bitmap
        .max()
        .is_some_and(|max| u64::from(max) >= table.rows())
    {
        return Err(SegmentError::corrupt(
            table.path(),
            "a null bitmap names rows past the end of the table",
        ));
    }
    Ok(bitmap)
}

fn decode_error(table: &Table, block: BlockIndex, detail: String) -> SegmentError {
    SegmentError::corrupt(table.path(), format!("block {block}: {detail}"))
}

/// A value type of numeric columns, with the footer statistics of its
/// blocks and its block decoder.
pub trait NumericValue: Copy + 'static {
    type BlockMeta: RowBlock + std::fmt::Debug + 'static;
    /// Appends the `rows` values of an encoded block to `out`.
    fn decode(block: &[u8], rows: usize, out: &mut Vec<Self>) -> Result<(), String>;
}

/// Footer statistics of one row block.
pub trait RowBlock {
    fn block(&self) -> BlockIndex;
    fn rows(&self) -> u32;
}

impl RowBlock for LongBlockMeta {
    fn block(&self) -> BlockIndex {
        self.block
    }
    fn rows(&self) -> u32 {
        self.rows
    }
}

impl RowBlock for DoubleBlockMeta {
    fn block(&self) -> BlockIndex {
        self.block
    }
    fn rows(&self) -> u32 {
        self.rows
    }
}

impl NumericValue for i64 {
    type BlockMeta = LongBlockMeta;
    fn decode(block: &[u8], rows: usize, out: &mut Vec<Self>) -> Result<(), String> {
        codec::decode_longs(block, rows, out)
    }
}

impl NumericValue for f64 {
    type BlockMeta = DoubleBlockMeta;
    fn decode(block: &[u8], rows: usize, out: &mut Vec<Self>) -> Result<(), String> {
        codec::decode_doubles(block, rows, out)
    }
}

/// A column of numbers: `i64` ([`LongColumn`], `__time` is one) or `f64`
/// ([`DoubleColumn`]).
#[derive(Debug)]
pub struct NumericColumn<'t, T: NumericValue> {
    table: &'t Table,
    blocks: &'t [T::BlockMeta],
    null_bitmap: Option<BlockIndex>,
}

impl<T: NumericValue> Clone for NumericColumn<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: NumericValue> Copy for NumericColumn<'_, T> {}

pub type LongColumn<'t> = NumericColumn<'t, i64>;
pub type DoubleColumn<'t> = NumericColumn<'t, f64>;

impl<T: NumericValue> NumericColumn<'_, T> {
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Rows, min and max of block `b`, from the footer.
    pub fn block_meta(&self, b: usize) -> Option<&T::BlockMeta> {
        self.blocks.get(b)
    }

    /// Replaces `out` with the values of block `b` (null rows hold 0).
    pub fn decode_block(&self, b: usize, out: &mut Vec<T>) -> Result<(), SegmentError> {
        out.clear();
        let meta = self.blocks.get(b).ok_or_else(|| {
            SegmentError::corrupt(self.table.path(), format!("row block {b} does not exist"))
        })?;
        let bytes = self.table.block(meta.block())?;
        T::decode(bytes, meta.rows() as usize, out)
            .map_err(|e| decode_error(self.table, meta.block(), e))
    }

    /// Appends the values of block `b` to `out` (null rows hold 0): a
    /// reader gathering several blocks decodes each straight into place.
    pub fn append_block(&self, b: usize, out: &mut Vec<T>) -> Result<(), SegmentError> {
        let meta = self.blocks.get(b).ok_or_else(|| {
            SegmentError::corrupt(self.table.path(), format!("row block {b} does not exist"))
        })?;
        let bytes = self.table.block(meta.block())?;
        let before = out.len();
        T::decode(bytes, meta.rows() as usize, out)
            .map_err(|e| decode_error(self.table, meta.block(), e))?;
        if out.len() - before != meta.rows() as usize {
            out.truncate(before);
            return Err(decode_error(
                self.table,
                meta.block(),
                "value count differs from the footer's".into(),
            ));
        }
        Ok(())
    }

    /// Every value, in row order.
    pub fn values(&self) -> Result<Vec<T>, SegmentError> {
        let mut all = Vec::with_capacity(self.table.rows() as usize);
        let mut buffer = Vec::new();
        for b in 0..self.blocks.len() {
            self.decode_block(b, &mut buffer)?;
            all.extend_from_slice(&buffer);
        }
        Ok(all)
    }

    pub fn nulls(&self) -> Result<RoaringBitmap, SegmentError> {
        read_bitmap(self.table, self.null_bitmap)
    }
}

/// A dictionary-encoded, bitmap-indexed string column.
///
/// Single-value blocks decode to *codes*: 0 for null, `id + 1` for
/// dictionary id `id` — ready to index a dense group-by array whose slot 0
/// is the null group.
#[derive(Debug, Clone, Copy)]
pub struct StringColumn<'t> {
    table: &'t Table,
    blocks: &'t [IdBlockMeta],
    null_bitmap: Option<BlockIndex>,
    cardinality: u32,
    dictionary: BlockIndex,
    bitmap_groups: &'t [BitmapGroupRef],
    multi_value: bool,
}

impl<'t> StringColumn<'t> {
    pub fn is_multi_value(&self) -> bool {
        self.multi_value
    }

    /// Number of distinct values.
    pub fn cardinality(&self) -> u32 {
        self.cardinality
    }

    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Rows and dictionary id range of block `b`, from the footer.
    pub fn block_meta(&self, b: usize) -> Option<&IdBlockMeta> {
        self.blocks.get(b)
    }

    pub fn dictionary(&self) -> Result<Dictionary<'t>, SegmentError> {
        let dictionary =
            Dictionary::parse(self.table.block_body(self.dictionary)?, self.table.path())?;
        if dictionary.len() != self.cardinality as usize {
            return Err(SegmentError::corrupt(
                self.table.path(),
                "the dictionary's size differs from the column's cardinality",
            ));
        }
        Ok(dictionary)
    }

    pub fn bitmaps(&self) -> BitmapIndex<'t> {
        BitmapIndex::new(self.table, self.bitmap_groups, self.cardinality)
    }

    pub fn nulls(&self) -> Result<RoaringBitmap, SegmentError> {
        read_bitmap(self.table, self.null_bitmap)
    }

    fn block_bytes(&self, b: usize) -> Result<(&'t [u8], &'t IdBlockMeta), SegmentError> {
        let meta = self.blocks.get(b).ok_or_else(|| {
            SegmentError::corrupt(self.table.path(), format!("row block {b} does not exist"))
        })?;
        Ok((self.table.block(meta.block)?, meta))
    }

    /// Replaces `out` with the codes of block `b` of a single-value column.
    pub fn decode_block_codes(&self, b: usize, out: &mut Vec<u32>) -> Result<(), SegmentError> {
        out.clear();
        let (bytes, meta) = self.block_bytes(b)?;
        let fail = |e| decode_error(self.table, meta.block, e);
        if self.multi_value {
            return Err(fail("codes requested from a multi-value column".into()));
        }
        codec::decode_codes(bytes, meta.rows as usize, out).map_err(fail)?;
        if out.iter().any(|&c| c > self.cardinality) {
            return Err(fail("dictionary codes out of range".into()));
        }
        Ok(())
    }

    /// Replaces `lengths` with the number of values of each row of block `b`
    /// and `ids` with those values' dictionary ids, back to back.
    pub fn decode_block_multi(
        &self,
        b: usize,
        lengths: &mut Vec<u32>,
        ids: &mut Vec<u32>,
    ) -> Result<(), SegmentError> {
        lengths.clear();
        ids.clear();
        let (bytes, meta) = self.block_bytes(b)?;
        let fail = |e| decode_error(self.table, meta.block, e);
        if !self.multi_value {
            return Err(fail(
                "multi-value rows requested from a single-value column".into(),
            ));
        }
        let next = codec::decode_packed(bytes, 8, false, lengths).map_err(fail)?;
        codec::decode_packed(bytes, next, false, ids).map_err(fail)?;
        let total: u64 = lengths.iter().map(|&l| u64::from(l)).sum();
        if lengths.len() != meta.rows as usize
            || total != ids.len() as u64
            || ids.iter().any(|&id| id >= self.cardinality)
        {
            return Err(fail("multi-value rows are inconsistent".into()));
        }
        Ok(())
    }

    /// Every row's values as dictionary ids (an empty list for null).
    pub fn rows_as_ids(&self) -> Result<Vec<Vec<u32>>, SegmentError> {
        let mut rows = Vec::with_capacity(self.table.rows() as usize);
        let (mut lengths, mut ids) = (Vec::new(), Vec::new());
        for b in 0..self.blocks.len() {
            if self.multi_value {
                self.decode_block_multi(b, &mut lengths, &mut ids)?;
                let mut at = 0;
                for &len in &lengths {
                    rows.push(ids[at..at + len as usize].to_vec());
                    at += len as usize;
                }
            } else {
                self.decode_block_codes(b, &mut ids)?;
                rows.extend(
                    ids.iter()
                        .map(|&c| if c == 0 { vec![] } else { vec![c - 1] }),
                );
            }
        }
        Ok(rows)
    }

    fn verify(&self) -> Result<(), SegmentError> {
        let dictionary = self.dictionary()?;
        dictionary.iter().try_for_each(|v| v.map(drop))?;
        self.rows_as_ids()?;
        let bitmaps = self.bitmaps();
        (0..self.cardinality).try_for_each(|id| bitmaps.bitmap(id).map(drop))?;
        self.nulls().map(drop)
    }
}

/// Variable-length values in compressed blocks.
#[derive(Debug, Clone, Copy)]
struct VarBinaryColumn<'t> {
    table: &'t Table,
    blocks: &'t [PlainBlockMeta],
    null_bitmap: Option<BlockIndex>,
}

impl VarBinaryColumn<'_> {
    fn decode_block(&self, b: usize) -> Result<VarBinaryBlock, SegmentError> {
        let meta = self.blocks.get(b).ok_or_else(|| {
            SegmentError::corrupt(self.table.path(), format!("row block {b} does not exist"))
        })?;
        let decoded = VarBinaryBlock::decode(self.table.block(meta.block)?)
            .map_err(|e| decode_error(self.table, meta.block, e))?;
        if decoded.len() != meta.rows as usize {
            return Err(decode_error(
                self.table,
                meta.block,
                "value count differs from the footer's".into(),
            ));
        }
        Ok(decoded)
    }
}

/// Raw full-text values (the tokens live in the segment's tantivy index).
#[derive(Debug, Clone, Copy)]
pub struct TextColumn<'t>(VarBinaryColumn<'t>);

impl TextColumn<'_> {
    pub fn block_count(&self) -> usize {
        self.0.blocks.len()
    }

    /// The rows of block `b`, from the footer.
    pub fn block_rows(&self, b: usize) -> Option<u32> {
        self.0.blocks.get(b).map(|meta| meta.rows)
    }

    /// The decoded values of block `b`; read them with [`TextBlock::get`].
    pub fn decode_block(&self, b: usize) -> Result<TextBlock, SegmentError> {
        let block = self.0.decode_block(b)?;
        self.checked_text(b, 0, block)
    }

    /// The values of rows `rows` of block `b` (rows counted from the
    /// block's first): `get(i)` is row `rows.start + i` of the block. Only
    /// those rows are rebuilt and checked, which is what a scan returning a
    /// few rows of a block wants.
    pub fn decode_block_rows(
        &self,
        b: usize,
        rows: std::ops::Range<usize>,
    ) -> Result<TextBlock, SegmentError> {
        let meta = self.0.blocks.get(b).ok_or_else(|| {
            SegmentError::corrupt(self.0.table.path(), format!("row block {b} does not exist"))
        })?;
        if rows.end > meta.rows as usize {
            return Err(SegmentError::corrupt(
                self.0.table.path(),
                format!("row block {b} has {} rows, not {}", meta.rows, rows.end),
            ));
        }
        let first = rows.start;
        let decoded = VarBinaryBlock::decode_rows(self.0.table.block(meta.block)?, rows)
            .map_err(|e| decode_error(self.0.table, meta.block, e))?;
        self.checked_text(b, first, decoded)
    }

    fn checked_text(
        &self,
        b: usize,
        first: usize,
        block: VarBinaryBlock,
    ) -> Result<TextBlock, SegmentError> {
        for i in 0..block.len() {
            if block.get(i).is_none_or(|v| std::str::from_utf8(v).is_err()) {
                return Err(SegmentError::corrupt(
                    self.0.table.path(),
                    format!("row block {b}: text value {} is not UTF-8", first + i),
                ));
            }
        }
        Ok(TextBlock(block))
    }

    /// Every value in row order (null rows are empty strings).
    pub fn values(&self) -> Result<Vec<String>, SegmentError> {
        let mut all = Vec::with_capacity(self.0.table.rows() as usize);
        for b in 0..self.block_count() {
            let block = self.decode_block(b)?;
            all.extend((0..block.len()).map(|i| block.get(i).to_string()));
        }
        Ok(all)
    }

    pub fn nulls(&self) -> Result<RoaringBitmap, SegmentError> {
        read_bitmap(self.0.table, self.0.null_bitmap)
    }
}

/// A decoded block of text values, checked to be UTF-8.
#[derive(Debug, Clone)]
pub struct TextBlock(VarBinaryBlock);

impl TextBlock {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Value `i` of the block (`""` past the end).
    pub fn get(&self, i: usize) -> &str {
        self.0
            .get(i)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default()
    }
}

/// Opaque bytes per row, such as serialized sketches.
#[derive(Debug, Clone, Copy)]
pub struct ComplexColumn<'t>(VarBinaryColumn<'t>);

impl ComplexColumn<'_> {
    pub fn block_count(&self) -> usize {
        self.0.blocks.len()
    }

    /// The rows of block `b`, from the footer.
    pub fn block_rows(&self, b: usize) -> Option<u32> {
        self.0.blocks.get(b).map(|meta| meta.rows)
    }

    /// The decoded values of block `b`; `get(i)` is row `b * ROWS_PER_BLOCK + i`.
    pub fn decode_block(&self, b: usize) -> Result<VarBinaryBlock, SegmentError> {
        self.0.decode_block(b)
    }

    /// Every value in row order (null rows are empty).
    pub fn values(&self) -> Result<Vec<Vec<u8>>, SegmentError> {
        let mut all = Vec::with_capacity(self.0.table.rows() as usize);
        for b in 0..self.block_count() {
            let block = self.decode_block(b)?;
            all.extend((0..block.len()).map(|i| block.get(i).unwrap_or_default().to_vec()));
        }
        Ok(all)
    }

    pub fn nulls(&self) -> Result<RoaringBitmap, SegmentError> {
        read_bitmap(self.0.table, self.0.null_bitmap)
    }
}

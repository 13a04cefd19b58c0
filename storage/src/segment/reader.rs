//! Reading segments: [`Segment`] opens a sealed segment directory, [`Table`]
//! maps one table file.
//!
//! Opening a table reads and checks only the header, trailer and footer; the
//! blocks stay in the page cache and are read in place from the mapping. Each
//! block's checksum is verified the first time the block is touched and the
//! result remembered, so a warm scan pays nothing for it while a flipped bit
//! still surfaces as an error naming the file, never as a wrong answer.
//!
//! What a table derives from its immutable bytes and queries ask for again
//! and again — decompressed dictionaries and bitmaps, a string column's
//! values as strings and their HLL coupons — is computed on first use and
//! kept with the table, for as long as the segment stays open.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use memmap2::Mmap;

use super::codec;
use super::column::{Column, LongColumn, StringColumn};
use super::layout::{
    self, BitmapGroupRef, BlockIndex, ColumnMeta, Footer, HEADER_LEN, HEADER_MAGIC, TRAILER_LEN,
};
use super::schema::{ColumnKind, TIME_COLUMN, TableKind, TableSchema};
use super::writer::{MANIFEST_FILE, MANIFEST_MAGIC, SegmentSummary, TEXT_INDEX_DIR};
use super::{FORMAT_VERSION, ROWS_PER_BLOCK, SegmentError};
use crate::metric_cell::distinct::DictionaryCoupons;
use crate::text_index::{TextField, TextIndex};
use crate::time::Millis;

/// One memory-mapped table file.
pub struct Table {
    path: PathBuf,
    map: Mmap,
    footer: Footer,
    verified: Box<[AtomicBool]>,
    /// Compressed dictionaries and bitmap groups, decompressed on first use.
    decompressed: Box<[OnceLock<Vec<u8>>]>,
    /// Per column (`__time` first), a string column's dictionary coupons,
    /// computed on first use.
    coupons: Box<[OnceLock<Arc<DictionaryCoupons>>]>,
    /// Per column, a string column's dictionary as owned strings, made on
    /// first use.
    string_values: Box<[OnceLock<Arc<[String]>>]>,
    by_name: HashMap<String, usize>,
    /// A segment's events table: where its full-text index is, opened on
    /// first use.
    text_index: Option<(PathBuf, OnceLock<TextIndex>)>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("kind", &self.footer.table)
            .field("rows", &self.footer.rows)
            .finish()
    }
}

impl Table {
    /// Maps `path` and checks its frame and footer.
    pub fn open(path: &Path) -> Result<Self, SegmentError> {
        let file = File::open(path).map_err(|e| SegmentError::io(path, e))?;
        // SAFETY: segment files are immutable once written: writers create
        // new files and the catalog only deletes whole segments after they
        // are retired, so the mapping never sees its bytes change.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| SegmentError::io(path, e))?;
        let footer = read_footer(path, &map)?;
        let by_name = footer
            .schema
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i + 1))
            .chain(std::iter::once((TIME_COLUMN.to_string(), 0)))
            .collect();
        let footer_blocks = footer.blocks.len();
        let column_count = footer.columns.len();
        let verified = (0..footer.blocks.len())
            .map(|_| AtomicBool::new(false))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            map,
            footer,
            decompressed: (0..footer_blocks).map(|_| OnceLock::new()).collect(),
            coupons: (0..column_count).map(|_| OnceLock::new()).collect(),
            string_values: (0..column_count).map(|_| OnceLock::new()).collect(),
            verified,
            by_name,
            text_index: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> TableKind {
        self.footer.table
    }

    pub fn rows(&self) -> u64 {
        self.footer.rows
    }

    pub fn schema(&self) -> &TableSchema {
        &self.footer.schema
    }

    /// Smallest and largest `__time`; `None` for an empty table.
    pub fn time_range(&self) -> Option<(Millis, Millis)> {
        self.footer.time_range
    }

    /// Number of row blocks.
    pub fn block_count(&self) -> usize {
        (self.footer.rows as usize).div_ceil(ROWS_PER_BLOCK)
    }

    /// Size of the file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// The `__time` column.
    pub fn time(&self) -> LongColumn<'_> {
        match self.column_at(0) {
            Column::Long(column) => column,
            // read_footer checked that column 0 is a long column.
            _ => unreachable!("the footer check guarantees __time is a long column"),
        }
    }

    /// Bytes each column takes in the file (its blocks, dictionary, bitmaps
    /// and null bitmap), `__time` first: where a table's space goes.
    pub fn column_bytes(&self) -> Vec<(&str, u64)> {
        let names = std::iter::once(TIME_COLUMN)
            .chain(self.footer.schema.columns().iter().map(|c| c.name.as_str()));
        names
            .zip(&self.footer.columns)
            .map(|(name, meta)| {
                let bytes = meta
                    .block_indexes()
                    .iter()
                    .filter_map(|&b| self.footer.blocks.get(b as usize))
                    .map(|b| b.len())
                    .sum();
                (name, bytes)
            })
            .collect()
    }

    /// The column called `name` (`__time` included).
    pub fn column(&self, name: &str) -> Option<Column<'_>> {
        self.by_name.get(name).map(|&i| self.column_at(i))
    }

    /// Every column after `__time`, in schema order.
    pub fn columns(&self) -> impl Iterator<Item = (&str, Column<'_>)> {
        self.footer
            .schema
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), self.column_at(i + 1)))
    }

    /// The HLL coupon of each dictionary value of string column `name`
    /// (see [`DictionaryCoupons`]), hashed the first time it is asked for
    /// and kept; `None` when the table has no string column of that name.
    pub fn string_coupons(
        &self,
        name: &str,
    ) -> Result<Option<Arc<DictionaryCoupons>>, SegmentError> {
        self.kept_for_string_column(name, &self.coupons, |column| {
            Ok(Arc::new(DictionaryCoupons::try_from_values(
                column.dictionary()?.iter(),
            )?))
        })
    }

    /// The dictionary of string column `name` as strings, value `id` at
    /// index `id`: copied out the first time it is asked for and kept, so
    /// that a query returning a few rows does not copy a dictionary of
    /// millions of values; `None` when the table has no string column of
    /// that name.
    pub fn string_values(&self, name: &str) -> Result<Option<Arc<[String]>>, SegmentError> {
        self.kept_for_string_column(name, &self.string_values, |column| {
            let dictionary = column.dictionary()?;
            (0..column.cardinality())
                .map(|id| dictionary.value(id).map(str::to_owned))
                .collect()
        })
    }

    /// What `make` derives from string column `name`, made once and kept in
    /// the column's slot of `slots`.
    fn kept_for_string_column<T: Clone>(
        &self,
        name: &str,
        slots: &[OnceLock<T>],
        make: impl FnOnce(StringColumn<'_>) -> Result<T, SegmentError>,
    ) -> Result<Option<T>, SegmentError> {
        let Some(&index) = self.by_name.get(name) else {
            return Ok(None);
        };
        let (Column::String(column), Some(slot)) = (self.column_at(index), slots.get(index)) else {
            return Ok(None);
        };
        if let Some(kept) = slot.get() {
            return Ok(Some(kept.clone()));
        }
        // Two readers asking at once may both make it; one result is kept,
        // and both are the same.
        let made = make(column)?;
        Ok(Some(slot.get_or_init(|| made).clone()))
    }

    /// The full-text index over the table's text columns: the events table
    /// of a segment that has one, opened (and its checksums verified) on
    /// first use and kept; `None` for any other table.
    pub fn text_index(&self) -> Result<Option<&TextIndex>, SegmentError> {
        let Some((dir, slot)) = &self.text_index else {
            return Ok(None);
        };
        if let Some(index) = slot.get() {
            return Ok(Some(index));
        }
        let index = TextIndex::open(dir)?;
        if index.fields() != TextField::of_table(self.schema()) {
            return Err(SegmentError::corrupt(
                dir,
                "the full-text index does not cover the text columns of its table",
            ));
        }
        if index.row_bound() > self.rows() {
            return Err(SegmentError::corrupt(
                dir,
                format!(
                    "the full-text index holds row {}, its table has {} rows",
                    index.row_bound() - 1,
                    self.rows()
                ),
            ));
        }
        // Two readers asking at once may both open the index; one is kept.
        Ok(Some(slot.get_or_init(|| index)))
    }

    fn column_at(&self, i: usize) -> Column<'_> {
        let kind = match i {
            0 => &ColumnKind::Long,
            _ => &self.footer.schema.columns()[i - 1].kind,
        };
        Column::new(self, &self.footer.columns[i], kind)
    }

    /// The bytes of block `index`, checksum verified.
    pub(crate) fn block(&self, index: BlockIndex) -> Result<&[u8], SegmentError> {
        let i = index as usize;
        let (Some(block), Some(verified)) = (self.footer.blocks.get(i), self.verified.get(i))
        else {
            return Err(SegmentError::corrupt(
                &self.path,
                format!("block {index} does not exist"),
            ));
        };
        // Bounds were checked against the file when the footer was read.
        let bytes = &self.map[block.offset() as usize..(block.offset() + block.len()) as usize];
        if !verified.load(Ordering::Acquire) {
            if crc32fast::hash(bytes) != block.crc32() {
                return Err(SegmentError::corrupt(
                    &self.path,
                    format!(
                        "block {index} at byte {} fails its checksum",
                        block.offset()
                    ),
                ));
            }
            verified.store(true, Ordering::Release);
        }
        Ok(bytes)
    }

    /// The body of the maybe-compressed block `index` (a dictionary or a
    /// bitmap group): read in place when stored plain, decompressed once
    /// and kept when stored compressed.
    pub(crate) fn block_body(&self, index: BlockIndex) -> Result<&[u8], SegmentError> {
        let block = self.block(index)?;
        let corrupt =
            |detail: String| SegmentError::corrupt(&self.path, format!("block {index}: {detail}"));
        if let Some(plain) = codec::plain_framed(block).map_err(corrupt)? {
            return Ok(plain);
        }
        let slot = self
            .decompressed
            .get(index as usize)
            .ok_or_else(|| corrupt("no such block".into()))?;
        if let Some(body) = slot.get() {
            return Ok(body);
        }
        let body = codec::decompress_framed(block).map_err(corrupt)?;
        Ok(slot.get_or_init(|| body))
    }

    /// Verifies every block's checksum and decodes every column: the full
    /// check `strata inspect --verify` runs.
    pub fn verify(&self) -> Result<(), SegmentError> {
        for index in 0..self.footer.blocks.len() {
            self.block(index as BlockIndex)?;
        }
        self.time().values()?;
        for (_, column) in self.columns() {
            column.verify()?;
        }
        Ok(())
    }
}

fn read_footer(path: &Path, file: &[u8]) -> Result<Footer, SegmentError> {
    let corrupt = |detail: String| SegmentError::corrupt(path, detail);
    if file.len() < HEADER_LEN || &file[..8] != HEADER_MAGIC {
        return Err(corrupt(
            "the header's magic bytes are wrong: not a Strata table file".into(),
        ));
    }
    let version = layout::read_u32(file, 8).unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err(SegmentError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if layout::read_u32(file, 12) != Some(0) {
        return Err(corrupt("the header's reserved bytes are not zero".into()));
    }
    let trailer = layout::decode_trailer(file).map_err(corrupt)?;
    let footer_end = trailer
        .footer_offset
        .checked_add(trailer.footer_len)
        .filter(|&end| {
            trailer.footer_offset >= HEADER_LEN as u64 && end == (file.len() - TRAILER_LEN) as u64
        })
        .ok_or_else(|| {
            corrupt("the trailer points outside the file: truncated or overwritten".into())
        })?;
    let footer_bytes = &file[trailer.footer_offset as usize..footer_end as usize];
    if crc32fast::hash(footer_bytes) != trailer.footer_crc32 {
        return Err(corrupt("the footer fails its checksum".into()));
    }
    let footer: Footer = serde_json::from_slice(footer_bytes)
        .map_err(|e| corrupt(format!("the footer does not parse: {e}")))?;
    check_footer(&footer, trailer.footer_offset).map_err(corrupt)?;
    Ok(footer)
}

/// Checks that the footer is self-consistent, so that readers can index by
/// it without further bounds checks.
fn check_footer(footer: &Footer, data_end: u64) -> Result<(), String> {
    if footer.rows_per_block as usize != ROWS_PER_BLOCK {
        return Err(format!(
            "rows per block is {}, this build reads {ROWS_PER_BLOCK}",
            footer.rows_per_block
        ));
    }
    for (i, block) in footer.blocks.iter().enumerate() {
        let end = block.offset().checked_add(block.len());
        if block.offset() < HEADER_LEN as u64 || end.is_none_or(|end| end > data_end) {
            return Err(format!("block {i} lies outside the data region"));
        }
    }
    let schema = footer.schema.columns();
    if footer.columns.len() != schema.len() + 1 {
        return Err(format!(
            "the footer describes {} columns, the schema has {}",
            footer.columns.len(),
            schema.len() + 1
        ));
    }
    let blocks = (footer.rows as usize).div_ceil(ROWS_PER_BLOCK);
    let expected_rows =
        |b: usize| (footer.rows as usize - b * ROWS_PER_BLOCK).min(ROWS_PER_BLOCK) as u32;
    for (i, meta) in footer.columns.iter().enumerate() {
        let kind = if i == 0 {
            &ColumnKind::Long
        } else {
            &schema[i - 1].kind
        };
        let name = if i == 0 {
            TIME_COLUMN
        } else {
            &schema[i - 1].name
        };
        let kind_matches = matches!(
            (kind, meta),
            (ColumnKind::Long, ColumnMeta::Long { .. })
                | (ColumnKind::Double, ColumnMeta::Double { .. })
                | (ColumnKind::String { .. }, ColumnMeta::String { .. })
                | (ColumnKind::Text, ColumnMeta::Text { .. })
                | (ColumnKind::Complex { .. }, ColumnMeta::Complex { .. })
        );
        if !kind_matches {
            return Err(format!(
                "column {name:?} is stored as another type than its schema says"
            ));
        }
        let rows = meta.block_rows();
        if rows.len() != blocks || rows.iter().enumerate().any(|(b, &r)| r != expected_rows(b)) {
            return Err(format!(
                "column {name:?} does not cover the table's {} rows",
                footer.rows
            ));
        }
        if meta
            .block_indexes()
            .iter()
            .any(|&b| b as usize >= footer.blocks.len())
        {
            return Err(format!(
                "column {name:?} refers to a block that does not exist"
            ));
        }
        if let ColumnMeta::String {
            cardinality,
            bitmap_groups,
            ..
        } = meta
            && !groups_tile_ids(bitmap_groups, *cardinality)
        {
            return Err(format!(
                "column {name:?} has the wrong number of bitmap groups"
            ));
        }
    }
    Ok(())
}

/// Whether bitmap groups start at id 0 and at strictly increasing ids below
/// `cardinality` (none when the column has no values).
fn groups_tile_ids(groups: &[BitmapGroupRef], cardinality: u32) -> bool {
    let starts_at_zero =
        groups.first().map(BitmapGroupRef::first_id) == (cardinality > 0).then_some(0);
    starts_at_zero
        && groups.windows(2).all(|w| w[0].first_id() < w[1].first_id())
        && groups.last().is_none_or(|g| g.first_id() < cardinality)
}

/// A sealed segment directory: its manifest and its tables.
#[derive(Debug)]
pub struct Segment {
    dir: PathBuf,
    summary: SegmentSummary,
    events: Option<Table>,
    rollup: Option<Table>,
}

impl Segment {
    /// Opens the segment in `dir`: reads its manifest and maps its tables.
    pub fn open(dir: &Path) -> Result<Self, SegmentError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = fs::read(&manifest_path).map_err(|e| SegmentError::io(&manifest_path, e))?;
        let summary = parse_manifest(&manifest_path, &text)?;
        let mut segment = Self {
            dir: dir.to_path_buf(),
            summary,
            events: None,
            rollup: None,
        };
        for table in &segment.summary.tables {
            let path = dir.join(table.kind.file_name());
            let mut opened = Table::open(&path)?;
            if opened.kind() != table.kind || opened.rows() != table.rows {
                return Err(SegmentError::corrupt(
                    &path,
                    "the table does not match the segment's manifest",
                ));
            }
            match table.kind {
                TableKind::Events => {
                    if segment.summary.text_index {
                        opened.text_index = Some((dir.join(TEXT_INDEX_DIR), OnceLock::new()));
                    }
                    segment.events = Some(opened)
                }
                TableKind::Rollup => segment.rollup = Some(opened),
            }
        }
        Ok(segment)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn summary(&self) -> &SegmentSummary {
        &self.summary
    }

    pub fn table(&self, kind: TableKind) -> Option<&Table> {
        match kind {
            TableKind::Events => self.events.as_ref(),
            TableKind::Rollup => self.rollup.as_ref(),
        }
    }

    /// The tantivy directory, when the segment has a full-text index.
    pub fn text_index_dir(&self) -> Option<PathBuf> {
        self.summary
            .text_index
            .then(|| self.dir.join(TEXT_INDEX_DIR))
    }

    /// Checks every block of every table, and every file of the full-text
    /// index.
    pub fn verify(&self) -> Result<(), SegmentError> {
        self.events
            .iter()
            .chain(&self.rollup)
            .try_for_each(Table::verify)?;
        if let Some(events) = &self.events {
            events.text_index()?;
        }
        Ok(())
    }
}

fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<SegmentSummary, SegmentError> {
    let corrupt = |detail: &str| SegmentError::corrupt(path, detail);
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("the manifest is not UTF-8"))?;
    let (header, body) = text
        .split_once('\n')
        .ok_or_else(|| corrupt("the manifest has no header line"))?;
    let mut fields = header.split(' ');
    if fields.next() != Some(MANIFEST_MAGIC) {
        return Err(corrupt(
            "the manifest's header is not a Strata segment header",
        ));
    }
    let version: u32 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt("the manifest's version is unreadable"))?;
    if version != FORMAT_VERSION {
        return Err(SegmentError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let crc = fields
        .next()
        .and_then(|f| f.strip_prefix("crc32="))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| corrupt("the manifest's checksum is unreadable"))?;
    if crc32fast::hash(body.as_bytes()) != crc {
        return Err(corrupt("the manifest fails its checksum"));
    }
    serde_json::from_str(body).map_err(|e| corrupt(&format!("the manifest does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric_cell::DistinctKey;
    use crate::segment::{CellValue, ColumnSchema, SegmentWriter};

    /// A string column's coupons are its dictionary's, hashed once; other
    /// columns have none.
    #[test]
    fn a_string_column_keeps_the_coupons_of_its_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let schema = TableSchema::new(vec![
            ColumnSchema::new("user", ColumnKind::String { multi_value: false }),
            ColumnSchema::new("n", ColumnKind::Long),
        ])
        .unwrap();
        let mut segment = SegmentWriter::create(&dir.path().join("s")).unwrap();
        let mut writer = segment.table(TableKind::Events, schema).unwrap();
        for (time, user) in [(1, "u2"), (2, ""), (3, "u1"), (4, "u2")] {
            writer
                .append_row(time, &[CellValue::Str(user), CellValue::Long(time)])
                .unwrap();
        }
        writer
            .append_row(5, &[CellValue::Null, CellValue::Null])
            .unwrap();
        segment.add_table(writer.finish().unwrap());
        segment.finish().unwrap();
        let segment = Segment::open(&dir.path().join("s")).unwrap();
        let table = segment.table(TableKind::Events).unwrap();

        let coupons = table.string_coupons("user").unwrap().unwrap();
        let Some(Column::String(column)) = table.column("user") else {
            panic!("user is a string column");
        };
        let dictionary: Vec<&str> = column
            .dictionary()
            .unwrap()
            .iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(dictionary, ["", "u1", "u2"]);
        let expected: Vec<_> = dictionary
            .iter()
            .map(|value| DistinctKey::text(value).map(DistinctKey::coupon))
            .collect();
        let found: Vec<_> = (0..3).map(|id| coupons.get(id)).collect();
        assert_eq!(found, expected);
        // Kept: asked again, the same coupons come back.
        let again = table.string_coupons("user").unwrap().unwrap();
        assert!(Arc::ptr_eq(&coupons, &again));
        assert!(table.string_coupons("n").unwrap().is_none());
        assert!(table.string_coupons("nope").unwrap().is_none());
        assert!(table.string_coupons(TIME_COLUMN).unwrap().is_none());
    }
}

//! The frame of a table file: header, block references, footer and trailer.
//!
//! ```text
//! offset 0     header   16 B  magic "STRATATB", u32 format version, u32 zero
//! offset 16    blocks         each starts 8-byte aligned; zero padding between
//! footer_off   footer         UTF-8 JSON: a `Footer`
//! end - 32     trailer  32 B  u64 footer offset, u64 footer length,
//!                             u32 crc32 of the footer, u32 zero, magic "STRATAFT"
//! ```
//!
//! All integers are little-endian. The footer lists every block once, as
//! `[offset, length, crc32]`, and the columns refer to blocks by their index
//! in that list. Block checksums are verified the first time a block is read
//! (see [`reader`](super::reader)), the footer's when the file is opened.

use serde::{Deserialize, Serialize};

use super::schema::{TableKind, TableSchema};

pub const HEADER_MAGIC: &[u8; 8] = b"STRATATB";
pub const TRAILER_MAGIC: &[u8; 8] = b"STRATAFT";
pub const HEADER_LEN: usize = 16;
pub const TRAILER_LEN: usize = 32;
pub const BLOCK_ALIGN: usize = 8;

/// A block's place in the file and its checksum (serialized as a 3-array).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRef(pub u64, pub u64, pub u32);

impl BlockRef {
    pub fn offset(&self) -> u64 {
        self.0
    }
    pub fn len(&self) -> u64 {
        self.1
    }
    pub fn crc32(&self) -> u32 {
        self.2
    }
}

/// Index of a block in [`Footer::blocks`].
pub type BlockIndex = u32;

/// The table's self-description, stored as JSON at the end of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footer {
    pub table: TableKind,
    pub rows: u64,
    pub rows_per_block: u32,
    /// Smallest and largest `__time`, absent when the table is empty.
    pub time_range: Option<(i64, i64)>,
    pub schema: TableSchema,
    pub blocks: Vec<BlockRef>,
    /// `__time` first, then the schema's columns in order.
    pub columns: Vec<ColumnMeta>,
}

/// Where one column's data lives, with per-block statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ColumnMeta {
    Long {
        blocks: Vec<LongBlockMeta>,
        null_bitmap: Option<BlockIndex>,
    },
    Double {
        blocks: Vec<DoubleBlockMeta>,
        null_bitmap: Option<BlockIndex>,
    },
    String {
        blocks: Vec<IdBlockMeta>,
        null_bitmap: Option<BlockIndex>,
        cardinality: u32,
        dictionary: BlockIndex,
        /// The bitmap groups, by increasing first dictionary id.
        bitmap_groups: Vec<BitmapGroupRef>,
    },
    Text {
        blocks: Vec<PlainBlockMeta>,
        null_bitmap: Option<BlockIndex>,
    },
    Complex {
        blocks: Vec<PlainBlockMeta>,
        null_bitmap: Option<BlockIndex>,
    },
}

/// A bitmap group: the first dictionary id it holds and its block
/// (serialized as a 2-array).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitmapGroupRef(pub u32, pub BlockIndex);

impl BitmapGroupRef {
    pub fn first_id(&self) -> u32 {
        self.0
    }
    pub fn block(&self) -> BlockIndex {
        self.1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongBlockMeta {
    pub block: BlockIndex,
    pub rows: u32,
    /// Over the non-null values; absent when every value is null.
    pub min: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DoubleBlockMeta {
    pub block: BlockIndex,
    pub rows: u32,
    /// Over the non-null, non-NaN values; absent when there are none.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdBlockMeta {
    pub block: BlockIndex,
    pub rows: u32,
    /// Smallest and largest dictionary id in the block; absent when every
    /// row is null.
    pub min_id: Option<u32>,
    pub max_id: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlainBlockMeta {
    pub block: BlockIndex,
    pub rows: u32,
}

impl ColumnMeta {
    pub fn null_bitmap(&self) -> Option<BlockIndex> {
        match self {
            ColumnMeta::Long { null_bitmap, .. }
            | ColumnMeta::Double { null_bitmap, .. }
            | ColumnMeta::String { null_bitmap, .. }
            | ColumnMeta::Text { null_bitmap, .. }
            | ColumnMeta::Complex { null_bitmap, .. } => *null_bitmap,
        }
    }

    /// Rows per block, in block order.
    pub fn block_rows(&self) -> Vec<u32> {
        match self {
            ColumnMeta::Long { blocks, .. } => blocks.iter().map(|b| b.rows).collect(),
            ColumnMeta::Double { blocks, .. } => blocks.iter().map(|b| b.rows).collect(),
            ColumnMeta::String { blocks, .. } => blocks.iter().map(|b| b.rows).collect(),
            ColumnMeta::Text { blocks, .. } | ColumnMeta::Complex { blocks, .. } => {
                blocks.iter().map(|b| b.rows).collect()
            }
        }
    }

    /// Moves a string column's id blocks, dictionary and bitmap groups by
    /// `base`: they were numbered from 0 while encoded apart from the file
    /// (the null bitmap was written in place and keeps its index).
    pub fn shift_encoded_blocks(&mut self, base: BlockIndex) {
        if let ColumnMeta::String {
            blocks,
            dictionary,
            bitmap_groups,
            ..
        } = self
        {
            blocks.iter_mut().for_each(|b| b.block += base);
            *dictionary += base;
            bitmap_groups.iter_mut().for_each(|g| g.1 += base);
        }
    }

    /// Every block index this column refers to.
    pub fn block_indexes(&self) -> Vec<BlockIndex> {
        let mut out: Vec<BlockIndex> = match self {
            ColumnMeta::Long { blocks, .. } => blocks.iter().map(|b| b.block).collect(),
            ColumnMeta::Double { blocks, .. } => blocks.iter().map(|b| b.block).collect(),
            ColumnMeta::String {
                blocks,
                dictionary,
                bitmap_groups,
                ..
            } => blocks
                .iter()
                .map(|b| b.block)
                .chain(std::iter::once(*dictionary))
                .chain(bitmap_groups.iter().map(BitmapGroupRef::block))
                .collect(),
            ColumnMeta::Text { blocks, .. } | ColumnMeta::Complex { blocks, .. } => {
                blocks.iter().map(|b| b.block).collect()
            }
        };
        out.extend(self.null_bitmap());
        out
    }
}

pub fn encode_header() -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(HEADER_MAGIC);
    header[8..12].copy_from_slice(&super::FORMAT_VERSION.to_le_bytes());
    header
}

pub fn encode_trailer(footer_offset: u64, footer: &[u8]) -> [u8; TRAILER_LEN] {
    let mut trailer = [0u8; TRAILER_LEN];
    trailer[..8].copy_from_slice(&footer_offset.to_le_bytes());
    trailer[8..16].copy_from_slice(&(footer.len() as u64).to_le_bytes());
    trailer[16..20].copy_from_slice(&crc32fast::hash(footer).to_le_bytes());
    trailer[24..32].copy_from_slice(TRAILER_MAGIC);
    trailer
}

/// The fields of a trailer, before they are checked against the file.
pub struct Trailer {
    pub footer_offset: u64,
    pub footer_len: u64,
    pub footer_crc32: u32,
}

/// Reads a little-endian integer at `at`, `None` past the end.
pub fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let slice = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(slice.try_into().ok()?))
}

pub fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let slice = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(slice.try_into().ok()?))
}

pub fn read_i64(bytes: &[u8], at: usize) -> Option<i64> {
    read_u64(bytes, at).map(|v| v as i64)
}

/// Splits the trailer off a file's bytes; `Err` says what is wrong.
pub fn decode_trailer(file: &[u8]) -> Result<Trailer, String> {
    if file.len() < HEADER_LEN + TRAILER_LEN {
        return Err(format!(
            "file is {} bytes, shorter than a header and a trailer ({} bytes): truncated",
            file.len(),
            HEADER_LEN + TRAILER_LEN
        ));
    }
    let at = file.len() - TRAILER_LEN;
    let trailer = &file[at..];
    if &trailer[24..32] != TRAILER_MAGIC || read_u32(trailer, 20) != Some(0) {
        return Err(
            "the trailer's magic bytes are wrong: the file is truncated or not a Strata table"
                .into(),
        );
    }
    let missing = || "trailer is unreadable".to_string();
    Ok(Trailer {
        footer_offset: read_u64(trailer, 0).ok_or_else(missing)?,
        footer_len: read_u64(trailer, 8).ok_or_else(missing)?,
        footer_crc32: read_u32(trailer, 16).ok_or_else(missing)?,
    })
}

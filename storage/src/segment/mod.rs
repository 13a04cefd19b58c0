//! Segments: the immutable, memory-mapped files that hold a datasource's rows.
//!
//! A segment covers one time chunk of one datasource (one partition of it, at
//! one version — the [`catalog`](crate::catalog) decides which segments are
//! visible). On disk it is a directory:
//!
//! ```text
//! <segment dir>/
//!   SEGMENT        manifest: which tables the segment holds (checksummed JSON)
//!   events.tbl     the events table: one row per event        (optional)
//!   rollup.tbl     the rollup table: one row per rolled-up key (optional)
//!   text/          the tantivy index over the events table's text columns
//! ```
//!
//! A *table file* is a header, a run of checksummed blocks and a footer that
//! says which block holds what. Rows are sorted by `__time` and cut into blocks
//! of [`ROWS_PER_BLOCK`] rows — the same 65,536 rows a roaring bitmap container
//! covers, so container `k` of a filter bitmap selects rows of block `k`.
//! Every column stores one block per row block:
//!
//! - `long` and `double` columns in light encodings (frame-of-reference or
//!   delta bit-packing, exact decimals) or zstd, chosen per block by
//!   `codec`, with min/max per block in the footer so a range filter can skip
//!   blocks without reading them;
//! - `string` columns (multi-value included) as a sorted [`dictionary`], a
//!   column of bit-packed dictionary ids, and a [`bitmap_index`] with one
//!   roaring bitmap per value;
//! - `text` columns (raw full-text values) and `complex` columns (opaque bytes
//!   such as sketches) as zstd-compressed runs of variable-length values.
//!
//! Start with [`writer::SegmentWriter`] and [`reader::Segment`]; the byte layout
//! is specified in `docs/segment-format.md`.

pub mod arrow_export;
mod background_encoder;
pub mod bitmap_index;
mod codec;
pub mod column;
pub mod dictionary;
mod layout;
pub mod reader;
pub mod schema;
mod text_codec;
pub mod writer;

use std::path::{Path, PathBuf};

pub use codec::VarBinaryBlock;
pub use column::{
    Column, ComplexColumn, DoubleColumn, LongColumn, NumericColumn, NumericValue, RowBlock,
    StringColumn, TextBlock, TextColumn,
};
pub use dictionary::Dictionary;
pub use layout::{DoubleBlockMeta, IdBlockMeta, LongBlockMeta};
pub use reader::{Segment, Table};
pub use schema::{ColumnKind, ColumnSchema, TIME_COLUMN, TableKind, TableSchema};
pub use text_codec::FRAME_ROWS as TEXT_FRAME_ROWS;
pub use writer::{CellValue, SegmentSummary, SegmentWriter, TableWriter};

/// Rows per block: one roaring container's worth, so bitmaps and blocks align.
pub const ROWS_PER_BLOCK: usize = 1 << 16;

/// The table-file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What can go wrong writing or reading a segment. Every variant names the
/// file it is about.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "segment file {path} is corrupt: {detail}; restore it from a replica or re-load its time chunk"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "segment file {path} has format version {found}, this build reads version {supported}; upgrade Strata to read it"
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: {detail}")]
    InvalidWrite { path: PathBuf, detail: String },
    #[error("exporting {path} to Arrow: {detail}")]
    Export { path: PathBuf, detail: String },
}

impl SegmentError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SegmentError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, detail: impl Into<String>) -> Self {
        SegmentError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_write(path: &Path, detail: impl Into<String>) -> Self {
        SegmentError::InvalidWrite {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests;

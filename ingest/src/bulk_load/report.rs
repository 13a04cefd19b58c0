//! What a load tells its user: progress while it runs, and a report at the
//! end that accounts for every row read.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata_storage::catalog::{SegmentDescriptor, Version};

/// How many rejected rows a report shows with their reasons; the rest are
/// only counted.
pub const MAX_REPORTED_REJECTIONS: usize = 20;

/// Counters a load advances as it goes, for a progress bar to read from
/// another thread.
#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Bytes of the input files read so far (compressed bytes, as on disk).
    pub bytes_read: AtomicU64,
    /// Rows read so far, accepted or not.
    pub rows_read: AtomicU64,
    /// Rows rejected so far.
    pub rows_rejected: AtomicU64,
}

impl LoadProgress {
    pub(super) fn add_bytes(&self, bytes: u64) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Where in its file a row was: the place a user opens to fix it. Ordered
/// as the rows lie in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowPosition {
    /// A line of an NDJSON or CSV file, counting from 1 (a CSV header is
    /// line 1).
    Line(u64),
    /// A row of a Parquet row group, both counting from 0.
    RowGroup { group: usize, row: usize },
    /// A row of an Arrow IPC record batch, both counting from 0.
    Batch { batch: usize, row: usize },
}

impl fmt::Display for RowPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowPosition::Line(line) => write!(f, "line {line}"),
            RowPosition::RowGroup { group, row } => write!(f, "row group {group}, row {row}"),
            RowPosition::Batch { batch, row } => write!(f, "record batch {batch}, row {row}"),
        }
    }
}

/// A row the load could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub file: PathBuf,
    pub position: RowPosition,
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.file.display(),
            self.position,
            self.reason
        )
    }
}

/// What a finished load did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub datasource: String,
    /// Input files read, and their bytes on disk.
    pub files: usize,
    pub bytes: u64,
    /// Rows read from the files, accepted or not.
    pub rows_read: u64,
    /// Rows not taken; the first [`MAX_REPORTED_REJECTIONS`] are in
    /// `rejections`.
    pub rows_rejected: u64,
    pub rejections: Vec<RejectedRow>,
    /// Events stored, one per accepted row.
    pub events: u64,
    /// Rows of the segments published: rollup rows where the datasource
    /// rolls up, events otherwise.
    pub rows_after_rollup: u64,
    /// The segments published, by id.
    pub segments: Vec<SegmentDescriptor>,
    /// The versions the segments were published at.
    pub versions: Vec<Version>,
    /// Visible segments the load replaced.
    pub replaced: usize,
    pub elapsed: Duration,
}

impl LoadReport {
    /// Events per second of wall time.
    pub fn rows_per_second(&self) -> f64 {
        self.rows_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "loaded datasource `{}` from {} file(s), {} bytes, in {:.1} s ({:.0} rows/s)",
            self.datasource,
            self.files,
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.rows_per_second()
        )?;
        writeln!(
            f,
            "rows read: {}, rejected: {}, events stored: {}, rows after rollup: {}",
            self.rows_read, self.rows_rejected, self.events, self.rows_after_rollup
        )?;
        let versions: Vec<String> = self.versions.iter().map(Version::to_string).collect();
        writeln!(
            f,
            "segments published: {} at version(s) {}; segments replaced: {}",
            self.segments.len(),
            if versions.is_empty() {
                "-".to_owned()
            } else {
                versions.join(", ")
            },
            self.replaced
        )?;
        if !self.rejections.is_empty() {
            writeln!(f, "first rejected rows:")?;
            for rejection in &self.rejections {
                writeln!(f, "  {rejection}")?;
            }
            if self.rows_rejected > self.rejections.len() as u64 {
                writeln!(
                    f,
                    "  ... and {} more",
                    self.rows_rejected - self.rejections.len() as u64
                )?;
            }
        }
        Ok(())
    }
}

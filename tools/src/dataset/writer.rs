//! The common shape of the dataset's file writers.
//!
//! Each format ([`NdjsonWriter`](super::NdjsonWriter), [`CsvWriter`](super::CsvWriter),
//! [`ParquetWriter`](super::ParquetWriter)) takes events one at a time and must be finished
//! explicitly: finishing flushes what is staged (and, for Parquet, writes the footer) and hands
//! the underlying sink back so the caller can sync or rename it. Dropping a writer unfinished
//! leaves an incomplete file, which is why the `gen` command writes to a temporary path.

use std::io::{self, Write};

use super::event::AccessEvent;
use super::generator::AccessLogGenerator;

/// Why a dataset could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetWriteError {
    /// The output could not be written (disk full, closed pipe, ...).
    #[error("could not write the dataset: {0}")]
    Io(#[from] io::Error),
    /// A batch of events could not be assembled into Arrow arrays.
    #[error("could not assemble a batch of access events for Parquet: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The Parquet encoder failed.
    #[error("could not encode the dataset as Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

impl DatasetWriteError {
    /// Whether the reader of the output went away (e.g. `strata gen | head`), which a command
    /// writing to a pipe treats as a normal end rather than a failure.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Self::Io(error) => error.kind() == io::ErrorKind::BrokenPipe,
            Self::Parquet(parquet::errors::ParquetError::External(error)) => error
                .downcast_ref::<io::Error>()
                .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe),
            Self::Arrow(_) | Self::Parquet(_) => false,
        }
    }
}

/// A writer of access events in one file format.
pub trait EventWriter: Sized {
    /// What the writer writes into, handed back by [`EventWriter::finish`].
    type Sink;

    /// Appends one event.
    fn write_event(&mut self, event: &AccessEvent) -> Result<(), DatasetWriteError>;

    /// Completes the output and returns the sink it was written into.
    fn finish(self) -> Result<Self::Sink, DatasetWriteError>;
}

/// Events between two calls of the progress callback in [`write_events`].
pub const PROGRESS_INTERVAL: u64 = 16_384;

/// Writes every remaining event of `generator` into `writer` (reusing one event buffer) and
/// returns how many were written. `on_progress` receives the number of events written since its
/// previous call, every [`PROGRESS_INTERVAL`] events and once at the end.
pub fn write_events<W: EventWriter>(
    generator: &mut AccessLogGenerator,
    writer: &mut W,
    mut on_progress: impl FnMut(u64),
) -> Result<u64, DatasetWriteError> {
    let mut event = AccessEvent::default();
    let mut written = 0;
    let mut unreported = 0;
    while generator.fill_next(&mut event) {
        writer.write_event(&event)?;
        written += 1;
        unreported += 1;
        if unreported == PROGRESS_INTERVAL {
            on_progress(unreported);
            unreported = 0;
        }
    }
    if unreported > 0 {
        on_progress(unreported);
    }
    Ok(written)
}

/// Text rows assembled in memory and handed to the sink in large pieces, so
/// an unbuffered sink (stdout, a pipe) sees few, big writes.
#[derive(Debug)]
pub(super) struct StagedText<W: Write> {
    sink: W,
    staged: String,
}

/// Staged text goes to the sink once it passes this many bytes.
const STAGING_FLUSH_BYTES: usize = 256 * 1024;

impl<W: Write> StagedText<W> {
    pub(super) fn new(sink: W) -> Self {
        Self {
            sink,
            staged: String::with_capacity(STAGING_FLUSH_BYTES + 4096),
        }
    }

    /// The buffer to append the next row to.
    pub(super) fn buffer(&mut self) -> &mut String {
        &mut self.staged
    }

    /// Passes the staged text on once there is enough of it.
    pub(super) fn row_done(&mut self) -> std::io::Result<()> {
        if self.staged.len() >= STAGING_FLUSH_BYTES {
            self.sink.write_all(self.staged.as_bytes())?;
            self.staged.clear();
        }
        Ok(())
    }

    /// Writes what is staged, flushes, and returns the sink.
    pub(super) fn finish(mut self) -> std::io::Result<W> {
        self.sink.write_all(self.staged.as_bytes())?;
        self.sink.flush()?;
        Ok(self.sink)
    }
}

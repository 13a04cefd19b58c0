//! Why a WAL operation failed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::SequenceNumber;
use super::format::Corruption;

/// Why a WAL operation failed. Every variant names the file or the limit
/// involved and says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    #[error("WAL I/O failed while {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "WAL directory {} is already open (the lock on {}/{} is held, by this process or \
         another); open each datasource's WAL once",
        dir.display(), dir.display(), super::format::LOCK_FILE
    )]
    InUse { dir: PathBuf },

    #[error(
        "WAL file {} is corrupt at byte {offset}: {problem}. The log was damaged after it was \
         written (a disk fault or an outside edit), and Strata will not guess which acknowledged \
         events were lost. Restore the WAL directory from a backup, or move it away to start \
         without the events it holds that are not yet in published segments",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        problem: Corruption,
    },

    #[error(
        "{} is named like a WAL segment but is not `<20 digits>.wal`; move it out of the WAL \
         directory",
        path.display()
    )]
    StrayFile { path: PathBuf },

    #[error(
        "a WAL record of {size} bytes (payload and metadata) is larger than the limit of \
         {max} bytes; split it into smaller records"
    )]
    RecordTooLarge { size: usize, max: usize },

    #[error(
        "Kafka topic name of {len} bytes is longer than the WAL can store ({max} bytes); Kafka \
         itself allows at most 249 characters"
    )]
    TopicTooLong { len: usize, max: usize },

    #[error(
        "cannot truncate the WAL through record {requested}: only records through {durable} \
         are durable; truncate only through records that were appended and published"
    )]
    TruncateBeyondDurable {
        requested: SequenceNumber,
        durable: SequenceNumber,
    },

    #[error(
        "the WAL in {} refuses appends since an earlier write or fsync failed ({cause}); what \
         reached the disk is unknown, so restart to recover from the files",
        dir.display()
    )]
    Unusable { dir: PathBuf, cause: Arc<WalError> },

    #[error("the thread writing a WAL group commit panicked")]
    WriterPanicked,
}

/// Wraps an I/O error with what was being done to which path.
pub(super) fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> WalError {
    let path = path.to_path_buf();
    move |source| WalError::Io {
        action,
        path,
        source,
    }
}

//! The write-ahead log: an accepted event is on disk before it is
//! acknowledged.
//!
//! The real-time index lives in memory. To survive a crash, every event is
//! first appended to the datasource's WAL and fsync'd; only then is the
//! ingest request answered. After a restart the WAL is replayed into a fresh
//! real-time index, and once the index has been persisted as segments and
//! published, the WAL is truncated up to the last record those segments hold.
//!
//! ```text
//!   Wal::open ──> Replay (every record not yet truncated, in order)
//!       │
//!   append(batch) ──> SequenceRange        (durable when it returns)
//!       │
//!   truncate_through(seq)                   (records ≤ seq are published)
//! ```
//!
//! ```
//! use strata_ingest::wal::{Batch, Wal, WalOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let data = tempfile::tempdir()?;
//! let dir = data.path().join("wal").join("weblogs");
//! let (wal, replay) = Wal::open(&dir, WalOptions::default())?;
//! for record in replay {
//!     let record = record?;
//!     // ... apply record.payload to the real-time index ...
//!     # let _ = record;
//! }
//!
//! let mut batch = Batch::new();
//! batch.push(br#"{"timestamp":"2024-01-01T00:00:00Z","host":"a","bytes":512}"#)?;
//! let range = wal.append(batch)?; // durable now: acknowledge the request
//!
//! // ... later, once segments holding these records are published:
//! wal.truncate_through(range.last().expect("one record"))?;
//! # Ok(())
//! # }
//! ```
//!
//! # Records and sequence numbers
//!
//! A record is an opaque payload — the raw NDJSON line or lines of an event,
//! or any encoding the caller likes — and optionally the Kafka
//! `(topic, partition, offset)` it was read from ([`KafkaOffset`]). That one
//! piece of metadata is typed rather than left to the payload because the WAL
//! itself makes use of it: [`Replay::last_kafka_offsets`] tells the Kafka
//! connector where to resume after a crash without decoding payloads.
//!
//! Every record gets a [`SequenceNumber`], from 1 up, one more for each
//! record, never reused once durable. The caller tracks which sequence
//! numbers its persisted segments hold and truncates through them.
//!
//! # Files
//!
//! A WAL is a directory of segment files named after their first sequence
//! number (`00000000000000000001.wal`, ...), rolled when the next record
//! would take a file past [`WalOptions::segment_bytes`]. The byte layout is
//! in [`format`](mod@format); the rules for telling a torn write from damage
//! when opening are in [`recovery`].
//!
//! # Group commit
//!
//! An fsync costs about as much for one record as for a thousand, so
//! concurrent appends share them. [`Wal::append`] is blocking and callable
//! from any number of threads. The first caller to find no commit in flight
//! becomes the *leader*: it takes every batch queued so far, writes them
//! with as few `write` calls as there are batches, fsyncs once, and wakes the
//! others. Callers that arrive meanwhile queue their batch and wait on a
//! condition variable; when the commit in flight ends, one of them leads the
//! next commit, carrying every batch queued during the previous fsync. Under
//! load, commits grow to match the fsync latency by themselves; an idle log
//! commits a lone append at once.
//!
//! Leader/follower rather than a dedicated writer thread: the waiting caller
//! has nothing else to do, so it may as well do the I/O, which saves a thread
//! hand-off per commit and leaves no background thread to start, stop and
//! report errors from. The API is blocking rather than `async` because fsync
//! is: an async version would hand the same work to a blocking thread pool.
//! The HTTP server calls `append` from `tokio::task::spawn_blocking`.
//!
//! Sequence numbers are handed out when a batch is queued (so commits, and
//! the file, are always in sequence order); the leader fills them into the
//! already-encoded records (see [`Batch`]).
//!
//! # Durability
//!
//! - a commit's records are written, then the file is fsync'd (`fdatasync`)
//!   before any of its appends return;
//! - rolling to a new file fsyncs the old one first, then creates the new
//!   one, writes its header, fsyncs it and fsyncs the directory — so only the
//!   last file can ever end in a torn write;
//! - truncation first replaces the checkpoint file (write, fsync, rename,
//!   fsync the directory), then deletes the files it frees and fsyncs the
//!   directory;
//! - files are not preallocated: the end of a file is the end of the log.
//!
//! If a write or an fsync fails, what reached the disk is unknown (a failed
//! fsync may even have dropped the dirty pages), so the WAL refuses every
//! later append with [`WalError::Unusable`]; reopening it recovers from what
//! the files hold. Appends that failed were not acknowledged, yet their
//! records may still be replayed: as with any log, a client that retries can
//! cause a duplicate, never a loss.

mod batch;
mod error;
pub mod format;
pub mod recovery;

#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

pub use batch::Batch;
pub use error::WalError;
pub use format::{Corruption, FrameDefect};
pub use recovery::{Replay, ReplayedRecord};

use error::io_error;
use format::HEADER_LEN;
use recovery::ClosedFile;

/// The position of a record in its WAL: 1 for the first record, one more
/// for each record after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(pub u64);

impl SequenceNumber {
    /// The sequence number after this one. It saturates at `u64::MAX`,
    /// which no log reaches (a damaged file may claim it).
    pub fn next(self) -> SequenceNumber {
        SequenceNumber(self.0.saturating_add(1))
    }

    /// The sequence number before this one, if this is not 0.
    pub fn previous(self) -> Option<SequenceNumber> {
        self.0.checked_sub(1).map(SequenceNumber)
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The sequence numbers one [`Wal::append`] gave its records: `start`
/// included, `end` excluded (empty for an empty batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceRange {
    start: SequenceNumber,
    end: SequenceNumber,
}

impl SequenceRange {
    /// The first record's sequence number, or where it would have been.
    pub fn start(&self) -> SequenceNumber {
        self.start
    }

    /// One past the last record's sequence number.
    pub fn end(&self) -> SequenceNumber {
        self.end
    }

    /// The last record's sequence number, unless the range is empty.
    pub fn last(&self) -> Option<SequenceNumber> {
        (!self.is_empty()).then(|| SequenceNumber(self.end.0 - 1))
    }

    pub fn len(&self) -> u64 {
        self.end.0 - self.start.0
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn contains(&self, seq: SequenceNumber) -> bool {
        self.start <= seq && seq < self.end
    }

    /// Every sequence number in the range, in order.
    pub fn iter(&self) -> impl Iterator<Item = SequenceNumber> + use<> {
        (self.start.0..self.end.0).map(SequenceNumber)
    }
}

/// Where a record was read from Kafka.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaOffset {
    pub topic: String,
    pub partition: u32,
    /// The message's offset in its partition.
    pub offset: u64,
}

/// How a WAL lays out its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// A new file is started when the next record would make the current
    /// one larger than this (a larger record gets a file to itself). Smaller
    /// files let truncation free space sooner; each costs a few fsyncs.
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    /// 64 MiB files.
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
        }
    }
}

/// Counters since the WAL was opened, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalStats {
    /// Group commits: one write-and-fsync round each.
    pub commits: u64,
    /// fsync calls of any kind: commits, file rolls, directory updates.
    pub fsyncs: u64,
    /// Records appended.
    pub records: u64,
    /// Bytes of records appended, framing included.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    fsyncs: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}

/// A datasource's write-ahead log. Share it between threads with an `Arc`.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segment_bytes: u64,
    state: Mutex<CommitState>,
    /// Signalled whenever a commit ends, successful or not.
    committed: Condvar,
    /// The file being appended to; locked only by the commit leader.
    writer: Mutex<Writer>,
    /// Files the writer has rolled away from, oldest first.
    closed: Mutex<Vec<ClosedFile>>,
    /// Records up to this sequence number are truncated. The lock also
    /// keeps truncations one at a time.
    checkpoint: Mutex<SequenceNumber>,
    counters: Counters,
    /// Holds the directory's lock for as long as the WAL is open.
    _lock: File,
}

#[derive(Debug)]
struct CommitState {
    /// The sequence number the next queued record gets.
    next: SequenceNumber,
    /// Every record before this one is durable.
    durable_end: SequenceNumber,
    /// Batches waiting for the next commit, in sequence order.
    queue: Vec<QueuedBatch>,
    /// Whether a leader is writing a commit.
    leading: bool,
    /// The failure that made the WAL refuse appends.
    failure: Option<Arc<WalError>>,
}

#[derive(Debug)]
struct QueuedBatch {
    first: SequenceNumber,
    batch: Batch,
}

#[derive(Debug)]
struct Writer {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Writer {
    /// Creates the file for records from `base` on, header written and
    /// fsync'd, and the directory fsync'd.
    fn create(dir: &Path, base: SequenceNumber, counters: &Counters) -> Result<Writer, WalError> {
        let path = dir.join(format::segment_file_name(base));
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("creating", &path))?;
        file.write_all(&format::encode_segment_header(base))
            .map_err(io_error("writing the header of", &path))?;
        file.sync_data().map_err(io_error("syncing", &path))?;
        sync_dir(dir)?;
        Counters::add(&counters.fsyncs, 2);
        Ok(Writer {
            file,
            path,
            len: HEADER_LEN as u64,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), WalError> {
        self.file
            .write_all(bytes)
            .map_err(io_error("writing to", &self.path))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn sync(&self, counters: &Counters) -> Result<(), WalError> {
        self.file
            .sync_data()
            .map_err(io_error("syncing", &self.path))?;
        Counters::add(&counters.fsyncs, 1);
        Ok(())
    }
}

impl Wal {
    /// Opens the WAL in `dir`, creating the directory if needed, and returns
    /// it with the records to replay.
    ///
    /// Every file is verified first. A torn write at the end of the last
    /// file — a crash during a commit that was never acknowledged — is cut
    /// off with a warning; damage anywhere else is a [`WalError::Corrupt`]
    /// naming the file and the byte offset. Appends continue the sequence
    /// after the last intact record.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<(Wal, Replay), WalError> {
        let dir = dir.as_ref().to_path_buf();
        create_dir(&dir)?;
        let lock = lock_dir(&dir)?;
        let recovered = recovery::recover(&dir)?;
        let counters = Counters::default();
        let writer = match recovered.active {
            Some(active) => Writer {
                file: OpenOptions::new()
                    .append(true)
                    .open(&active.path)
                    .map_err(io_error("opening for appends", &active.path))?,
                path: active.path,
                len: active.len,
            },
            None => Writer::create(&dir, recovered.next, &counters)?,
        };
        let wal = Wal {
            dir,
            segment_bytes: options.segment_bytes,
            state: Mutex::new(CommitState {
                next: recovered.next,
                durable_end: recovered.next,
                queue: Vec::new(),
                leading: false,
                failure: None,
            }),
            committed: Condvar::new(),
            writer: Mutex::new(writer),
            closed: Mutex::new(recovered.closed),
            checkpoint: Mutex::new(recovered.checkpoint),
            counters,
            _lock: lock,
        };
        Ok((wal, recovered.replay))
    }

    /// Appends `batch` and returns once its records are written and
    /// fsync'd, with the sequence numbers they got. Concurrent calls share
    /// commits (see the module docs). An empty batch returns at once with an
    /// empty range.
    pub fn append(&self, batch: Batch) -> Result<SequenceRange, WalError> {
        let mut state = self.lock_state();
        self.check_usable(&state)?;
        let start = state.next;
        let end = SequenceNumber(start.0.saturating_add(batch.len() as u64));
        let range = SequenceRange { start, end };
        if batch.is_empty() {
            return Ok(range);
        }
        state.next = end;
        state.queue.push(QueuedBatch {
            first: start,
            batch,
        });
        loop {
            if state.durable_end >= end {
                return Ok(range);
            }
            self.check_usable(&state)?;
            if state.leading {
                state = self
                    .committed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Our batch is still queued: a leader that took it would have
            // made it durable, or failed, before giving up leadership.
            state.leading = true;
            let queue = mem::take(&mut state.queue);
            drop(state);
            let leadership = Leadership {
                wal: self,
                finished: false,
            };
            let outcome = self.commit(queue);
            state = leadership.finish(outcome);
        }
    }

    /// The sequence number the next record will get: every record below it
    /// that an append returned for is durable.
    pub fn next_seq(&self) -> SequenceNumber {
        self.lock_state().next
    }

    /// Forgets the records up to and including `through`, which must be
    /// durable: they are never replayed again, and every file that holds
    /// only such records is deleted (the file being appended to never is).
    /// Returns the number of files deleted.
    ///
    /// Call it once the segments holding those records are published. A
    /// crash between publishing and truncating replays them again: record
    /// the last published sequence number with the segments to skip them.
    pub fn truncate_through(&self, through: SequenceNumber) -> Result<usize, WalError> {
        let durable_end = self.lock_state().durable_end;
        if through >= durable_end {
            return Err(WalError::TruncateBeyondDurable {
                requested: through,
                durable: durable_end.previous().unwrap_or(SequenceNumber(0)),
            });
        }
        let mut checkpoint = self
            .checkpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if through <= *checkpoint {
            return Ok(0);
        }
        write_checkpoint(&self.dir, through)?;
        Counters::add(&self.counters.fsyncs, 2);
        *checkpoint = through;

        let freed: Vec<ClosedFile> = {
            let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
            let count = closed
                .iter()
                .take_while(|file| file.end <= through.next())
                .count();
            closed.drain(..count).collect()
        };
        for file in &freed {
            fs::remove_file(&file.path)
                .map_err(io_error("deleting truncated WAL file", &file.path))?;
        }
        if !freed.is_empty() {
            sync_dir(&self.dir)?;
            Counters::add(&self.counters.fsyncs, 1);
        }
        Ok(freed.len())
    }

    /// The directory the WAL lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The counters since the WAL was opened.
    pub fn stats(&self) -> WalStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WalStats {
            commits: load(&self.counters.commits),
            fsyncs: load(&self.counters.fsyncs),
            records: load(&self.counters.records),
            bytes: load(&self.counters.bytes),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, CommitState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_usable(&self, state: &CommitState) -> Result<(), WalError> {
        match &state.failure {
            Some(cause) => Err(WalError::Unusable {
                dir: self.dir.clone(),
                cause: Arc::clone(cause),
            }),
            None => Ok(()),
        }
    }

    /// Writes and fsyncs `queue` as one group commit; returns one past the
    /// last sequence number written, or `None` if there was nothing to write.
    fn commit(&self, mut queue: Vec<QueuedBatch>) -> Result<Option<SequenceNumber>, WalError> {
        let Some(commit_start) = queue.first().map(|queued| queued.first) else {
            return Ok(None);
        };
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut end = commit_start;
        let (mut records, mut bytes) = (0, 0);
        for queued in &mut queue {
            queued.batch.seal(queued.first, commit_start);
            let encoded = queued.batch.bytes();
            // Consecutive records that go to the same file are written with
            // one call; `run_start` is where the unwritten ones begin.
            let mut run_start = 0;
            let mut seq = queued.first;
            for (start, len) in queued.batch.frame_spans() {
                let len_with_run = writer.len + (start - run_start) as u64;
                if len_with_run > HEADER_LEN as u64
                    && len_with_run + len as u64 > self.segment_bytes
                {
                    writer.write(encoded.get(run_start..start).unwrap_or_default())?;
                    self.roll(&mut writer, seq)?;
                    run_start = start;
                }
                seq = seq.next();
            }
            writer.write(encoded.get(run_start..).unwrap_or_default())?;
            end = seq;
            records += queued.batch.len() as u64;
            bytes += encoded.len() as u64;
        }
        writer.sync(&self.counters)?;
        Counters::add(&self.counters.commits, 1);
        Counters::add(&self.counters.records, records);
        Counters::add(&self.counters.bytes, bytes);
        Ok(Some(end))
    }

    /// Closes the current file (fsync'd) and continues in a new one whose
    /// first record is `next`.
    fn roll(&self, writer: &mut Writer, next: SequenceNumber) -> Result<(), WalError> {
        writer.sync(&self.counters)?;
        let old = mem::replace(writer, Writer::create(&self.dir, next, &self.counters)?);
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ClosedFile {
                path: old.path,
                end: next,
            });
        Ok(())
    }
}

/// The role of the thread writing a commit. Dropping it without
/// [`Leadership::finish`] — the commit panicked — marks the WAL unusable and
/// wakes the waiting appenders, who would otherwise wait forever.
struct Leadership<'a> {
    wal: &'a Wal,
    finished: bool,
}

impl<'a> Leadership<'a> {
    /// Publishes the outcome of the commit to the waiting appenders.
    fn finish(
        mut self,
        outcome: Result<Option<SequenceNumber>, WalError>,
    ) -> MutexGuard<'a, CommitState> {
        self.finished = true;
        let mut state = self.wal.lock_state();
        state.leading = false;
        match outcome {
            Ok(Some(end)) => state.durable_end = state.durable_end.max(end),
            Ok(None) => {}
            Err(error) => state.failure = Some(Arc::new(error)),
        }
        self.wal.committed.notify_all();
        state
    }
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let mut state = self.wal.lock_state();
            state.leading = false;
            state
                .failure
                .get_or_insert_with(|| Arc::new(WalError::WriterPanicked));
            self.wal.committed.notify_all();
        }
    }
}

/// Creates `dir` if it does not exist, durably.
fn create_dir(dir: &Path) -> Result<(), WalError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io_error("creating the WAL directory", dir))?;
    let parent = dir
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_dir(parent)
}

/// Takes the exclusive lock on the WAL directory.
fn lock_dir(dir: &Path) -> Result<File, WalError> {
    let path = dir.join(format::LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error("opening", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(WalError::InUse {
            dir: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(error)) => Err(io_error("locking", &path)(error)),
    }
}

/// Durably replaces the checkpoint file.
fn write_checkpoint(dir: &Path, through: SequenceNumber) -> Result<(), WalError> {
    let tmp = dir.join(format::CHECKPOINT_TMP_FILE);
    let path = dir.join(format::CHECKPOINT_FILE);
    let mut file = File::create(&tmp).map_err(io_error("creating", &tmp))?;
    file.write_all(&format::encode_checkpoint(through))
        .map_err(io_error("writing", &tmp))?;
    file.sync_all().map_err(io_error("syncing", &tmp))?;
    fs::rename(&tmp, &path).map_err(io_error("renaming the new checkpoint to", &path))?;
    sync_dir(dir)
}

/// fsyncs a directory, so that files created, renamed or deleted in it stay
/// so after a crash.
fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error("syncing the directory", dir))
}

//! Opening a WAL directory after a clean stop or a crash: verifying every
//! file, repairing a torn tail, and replaying the records.
//!
//! # Torn writes versus damage
//!
//! A crash in the middle of a group commit leaves the last file ending in a
//! *torn write*: a record cut short, or — after a power loss, when the disk
//! kept some pages of the write and not others — a record that fails its
//! checksum, possibly followed by intact records of the same commit. None of
//! those records was acknowledged (the commit's fsync never returned), so
//! cutting the file at the first bad record loses nothing that was promised.
//! That is the normal crash case: it is repaired with a warning.
//!
//! Damage is different: a record that was fsync'd and acknowledged, and then
//! changed on disk. It must stop the server rather than be skipped silently.
//! Two facts tell them apart:
//!
//! - a writer rolls to a new file only after the old one is fsync'd, so a bad
//!   record in any file but the last is damage;
//! - a writer starts a group commit only after the previous one is fsync'd,
//!   and every record carries the first sequence number of its commit. So if
//!   an intact record of a *later* commit follows a bad record, the bad
//!   record had been acknowledged: damage. If nothing but records of the same
//!   commit (or nothing intact) follows, it is a torn write.
//!
//! Damage to the very last commit of the log cannot be told from a torn
//! write — no later record vouches for it — and is treated as one.
//!
//! A last file shorter than its header (a crash while the file was being
//! created) holds no records; it is given a fresh header.
//!
//! # Replay
//!
//! Verification reads each file once; [`Replay`] then reads them again, one
//! file at a time, so that replaying a large log does not need it all in
//! memory. Records the checkpoint says were truncated are verified but not
//! replayed. Files whose records are all truncated — left behind by a crash
//! during [`Wal::truncate_through`](super::Wal::truncate_through) — are
//! deleted.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::io_error;
use super::format::{self, Corruption, FrameDefect, HEADER_LEN};
use super::{KafkaOffset, SequenceNumber, WalError, sync_dir};

/// A file the writer no longer appends to.
#[derive(Debug)]
pub(super) struct ClosedFile {
    pub path: PathBuf,
    /// One past its last record's sequence number.
    pub end: SequenceNumber,
}

/// The file appends continue in, ready to be opened for writing.
pub(super) struct ActiveFile {
    pub path: PathBuf,
    pub len: u64,
}

/// What opening a WAL directory found.
pub(super) struct Recovered {
    /// Files before the last one, oldest first.
    pub closed: Vec<ClosedFile>,
    /// The last file, if there is any file at all.
    pub active: Option<ActiveFile>,
    /// The sequence number the next record gets.
    pub next: SequenceNumber,
    pub checkpoint: SequenceNumber,
    pub replay: Replay,
}

/// Verifies and repairs the WAL in `dir` (already locked by the caller).
pub(super) fn recover(dir: &Path) -> Result<Recovered, WalError> {
    let checkpoint = read_checkpoint(dir)?;
    let segments = list_segments(dir)?;
    let mut kafka = BTreeMap::new();
    let mut scans = Vec::with_capacity(segments.len());
    let mut expected_base = None;
    for (index, (name_base, path)) in segments.iter().enumerate() {
        let is_last = index + 1 == segments.len();
        let bytes = fs::read(path).map_err(io_error("reading", path))?;
        let scan = scan_file(&bytes, *name_base, is_last, checkpoint, &mut kafka)
            .map_err(|(offset, problem)| corrupt(path, offset, problem))?;
        check_base(path, scan.base, expected_base, checkpoint)?;
        expected_base = Some(scan.end);
        scans.push((path.clone(), scan));
    }

    let next = expected_base.unwrap_or(checkpoint.next());
    if checkpoint >= next {
        return Err(corrupt(
            &dir.join(format::CHECKPOINT_FILE),
            BASE_FIELD_OFFSET,
            Corruption::CheckpointBeyondLog {
                checkpoint,
                last: next.previous(),
            },
        ));
    }

    let mut replay_files = VecDeque::new();
    let mut closed = Vec::new();
    let mut active = None;
    let mut deleted_any = false;
    let count = scans.len();
    for (index, (path, scan)) in scans.into_iter().enumerate() {
        let is_last = index + 1 == count;
        if is_last {
            repair_last_file(&path, &scan)?;
        }
        if scan.end > checkpoint.next() {
            replay_files.push_back(ReplayFile {
                path: path.clone(),
                valid_len: scan.valid_len,
                base: scan.base,
            });
        }
        if is_last {
            active = Some(ActiveFile {
                path,
                len: scan.valid_len as u64,
            });
        } else if scan.end <= checkpoint.next() {
            fs::remove_file(&path).map_err(io_error("deleting truncated WAL file", &path))?;
            deleted_any = true;
        } else {
            closed.push(ClosedFile {
                path,
                end: scan.end,
            });
        }
    }
    if deleted_any {
        sync_dir(dir)?;
    }

    Ok(Recovered {
        closed,
        active,
        next,
        checkpoint,
        replay: Replay {
            files: replay_files,
            current: None,
            skip_through: checkpoint,
            remaining: next.0 - checkpoint.next().0,
            kafka: kafka
                .into_iter()
                .map(|((topic, partition), offset)| KafkaOffset {
                    topic,
                    partition,
                    offset,
                })
                .collect(),
            failed: false,
        },
    })
}

fn corrupt(path: &Path, offset: usize, problem: Corruption) -> WalError {
    WalError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        problem,
    }
}

/// Where the header's base sequence sits, for errors about it.
const BASE_FIELD_OFFSET: usize = 12;

/// Checks that a file starts where the previous one ended (or, for the
/// first file, no later than just after the checkpoint).
fn check_base(
    path: &Path,
    base: SequenceNumber,
    expected: Option<SequenceNumber>,
    checkpoint: SequenceNumber,
) -> Result<(), WalError> {
    let gap = match expected {
        Some(expected) => base != expected,
        None => base > checkpoint.next(),
    };
    if gap {
        return Err(corrupt(
            path,
            BASE_FIELD_OFFSET,
            Corruption::SequenceGap {
                expected: expected.unwrap_or(checkpoint.next()),
                found: base,
            },
        ));
    }
    Ok(())
}

fn read_checkpoint(dir: &Path) -> Result<SequenceNumber, WalError> {
    let path = dir.join(format::CHECKPOINT_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            format::decode_checkpoint(&bytes).map_err(|problem| corrupt(&path, 0, problem))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(SequenceNumber(0)),
        Err(error) => Err(io_error("reading", &path)(error)),
    }
}

/// The segment files in `dir`, by base sequence.
fn list_segments(dir: &Path) -> Result<Vec<(SequenceNumber, PathBuf)>, WalError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("listing", dir))? {
        let path = entry.map_err(io_error("listing", dir))?.path();
        if path
            .extension()
            .is_none_or(|ext| ext != format::SEGMENT_EXTENSION)
        {
            continue;
        }
        let base = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(format::parse_segment_file_name)
            .ok_or_else(|| WalError::StrayFile { path: path.clone() })?;
        segments.push((base, path));
    }
    segments.sort();
    Ok(segments)
}

/// What verifying one file found.
#[derive(Debug, PartialEq, Eq)]
struct FileScan {
    base: SequenceNumber,
    /// One past the last intact record's sequence number.
    end: SequenceNumber,
    /// The length of the intact part once repaired: header and intact
    /// records.
    valid_len: usize,
    tail: Tail,
}

#[derive(Debug, PartialEq, Eq)]
enum Tail {
    Intact,
    /// The file is shorter than its header, or its header is all there is
    /// and is damaged: a crash while the file was being created.
    TornHeader,
    /// The records from `valid_len` on are a torn write.
    TornWrite {
        defect: FrameDefect,
    },
}

/// Verifies the bytes of one segment file; an error is `(offset, problem)`.
/// Adds the Kafka offsets of records after `checkpoint` to `kafka`.
fn scan_file(
    bytes: &[u8],
    name_base: SequenceNumber,
    is_last: bool,
    checkpoint: SequenceNumber,
    kafka: &mut BTreeMap<(String, u32), u64>,
) -> Result<FileScan, (usize, Corruption)> {
    let torn_header = FileScan {
        base: name_base,
        end: name_base,
        valid_len: HEADER_LEN,
        tail: Tail::TornHeader,
    };
    let header = bytes.get(..HEADER_LEN).unwrap_or(bytes);
    let base = match format::decode_segment_header(header) {
        Ok(base) if base == name_base => base,
        Ok(in_header) => {
            return Err((
                BASE_FIELD_OFFSET,
                Corruption::BaseMismatch {
                    in_name: name_base,
                    in_header,
                },
            ));
        }
        Err(
            Corruption::HeaderTruncated { .. }
            | Corruption::HeaderChecksum { .. }
            | Corruption::NotAWalFile,
        ) if is_last && bytes.len() <= HEADER_LEN => return Ok(torn_header),
        Err(problem) => return Err((0, problem)),
    };

    let mut at = HEADER_LEN;
    let mut expected = base;
    let mut previous_commit = None;
    while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
        let frame = match format::decode_frame(rest) {
            Ok(frame) => frame,
            Err(Corruption::Frame(defect)) if is_last => {
                let later = (1..rest.len()).find(|&skip| {
                    rest.get(skip..).is_some_and(|candidate| {
                        format::later_commit_starts_at(candidate, expected)
                    })
                });
                if let Some(skip) = later {
                    let later_at = (at + skip) as u64;
                    return Err((
                        at,
                        Corruption::DamagedBeforeLaterCommit { defect, later_at },
                    ));
                }
                return Ok(FileScan {
                    base,
                    end: expected,
                    valid_len: at,
                    tail: Tail::TornWrite { defect },
                });
            }
            Err(problem) => return Err((at, problem)),
        };
        if frame.seq != expected {
            let found = frame.seq;
            return Err((at, Corruption::SequenceGap { expected, found }));
        }
        if let Some(previous) = previous_commit.filter(|&previous| frame.commit_start < previous) {
            let commit_start = frame.commit_start;
            return Err((
                at,
                Corruption::CommitOutOfOrder {
                    commit_start,
                    previous,
                },
            ));
        }
        previous_commit = Some(frame.commit_start);
        if let Some(source) = frame.kafka.filter(|_| frame.seq > checkpoint) {
            let last = kafka
                .entry((source.topic, source.partition))
                .or_insert(source.offset);
            *last = (*last).max(source.offset);
        }
        expected = expected.next();
        at += frame.len;
    }
    Ok(FileScan {
        base,
        end: expected,
        valid_len: at,
        tail: Tail::Intact,
    })
}

/// Cuts a torn write off the last file, or gives it a fresh header.
fn repair_last_file(path: &Path, scan: &FileScan) -> Result<(), WalError> {
    let file = || {
        OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error("opening for repair", path))
    };
    match &scan.tail {
        Tail::Intact => {}
        Tail::TornWrite { defect } => {
            let file = file()?;
            tracing::warn!(
                file = %path.display(),
                offset = scan.valid_len,
                %defect,
                "the WAL ends in a torn write (a crash during a group commit that was never \
                 acknowledged); truncating the file there"
            );
            file.set_len(scan.valid_len as u64)
                .map_err(io_error("truncating a torn write off", path))?;
            file.sync_all().map_err(io_error("syncing", path))?;
        }
        Tail::TornHeader => {
            let mut file = file()?;
            tracing::warn!(
                file = %path.display(),
                "the last WAL file has no complete header (a crash while it was created); \
                 writing a fresh one"
            );
            file.set_len(0)
                .map_err(io_error("truncating a torn header off", path))?;
            file.write_all(&format::encode_segment_header(scan.base))
                .map_err(io_error("writing a header to", path))?;
            file.sync_all().map_err(io_error("syncing", path))?;
        }
    }
    Ok(())
}

/// The records a WAL held when it was opened, in sequence order, for the
/// real-time index to apply again. An iterator of
/// `Result<ReplayedRecord, WalError>`: an error (a file that changed or
/// vanished since it was verified) ends the iteration.
///
/// Replay reads the files again after [`Wal::open`](super::Wal::open)
/// returns; finish it before calling
/// [`Wal::truncate_through`](super::Wal::truncate_through), which may delete
/// them.
#[derive(Debug)]
pub struct Replay {
    files: VecDeque<ReplayFile>,
    current: Option<LoadedFile>,
    skip_through: SequenceNumber,
    remaining: u64,
    kafka: Vec<KafkaOffset>,
    failed: bool,
}

/// One record given back by [`Replay`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRecord {
    pub seq: SequenceNumber,
    /// Where the record was read from Kafka, if it was.
    pub kafka: Option<KafkaOffset>,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct ReplayFile {
    path: PathBuf,
    valid_len: usize,
    base: SequenceNumber,
}

#[derive(Debug)]
struct LoadedFile {
    path: PathBuf,
    bytes: Vec<u8>,
    at: usize,
    next: SequenceNumber,
}

impl Replay {
    /// The number of records still to be replayed.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// For each Kafka `(topic, partition)` that records to replay came from,
    /// the highest offset among them, sorted by topic then partition.
    /// Consumption of a partition resumes after the larger of this offset
    /// and the one committed in the catalog.
    pub fn last_kafka_offsets(&self) -> &[KafkaOffset] {
        &self.kafka
    }

    fn load(file: ReplayFile) -> Result<LoadedFile, WalError> {
        let mut bytes = fs::read(&file.path).map_err(io_error("reading", &file.path))?;
        if bytes.len() < file.valid_len {
            // The file shrank since it was verified.
            return Err(corrupt(
                &file.path,
                bytes.len(),
                Corruption::Frame(FrameDefect::Incomplete { available: 0 }),
            ));
        }
        bytes.truncate(file.valid_len);
        Ok(LoadedFile {
            path: file.path,
            bytes,
            at: HEADER_LEN,
            next: file.base,
        })
    }

    fn next_record(&mut self) -> Result<Option<ReplayedRecord>, WalError> {
        loop {
            let current = match &mut self.current {
                Some(current) => current,
                None => match self.files.pop_front() {
                    Some(file) => self.current.insert(Replay::load(file)?),
                    None => return Ok(None),
                },
            };
            let Some(rest) = current
                .bytes
                .get(current.at..)
                .filter(|rest| !rest.is_empty())
            else {
                self.current = None;
                continue;
            };
            let frame = format::decode_frame(rest)
                .map_err(|problem| corrupt(&current.path, current.at, problem))?;
            if frame.seq != current.next {
                let problem = Corruption::SequenceGap {
                    expected: current.next,
                    found: frame.seq,
                };
                return Err(corrupt(&current.path, current.at, problem));
            }
            current.at += frame.len;
            current.next = current.next.next();
            if frame.seq > self.skip_through {
                self.remaining = self.remaining.saturating_sub(1);
                return Ok(Some(ReplayedRecord {
                    seq: frame.seq,
                    kafka: frame.kafka,
                    payload: frame.payload.to_vec(),
                }));
            }
        }
    }
}

impl Iterator for Replay {
    type Item = Result<ReplayedRecord, WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.next_record().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (0, Some(remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::Batch;

    /// A file holding `commits`, each a list of payloads, starting at `base`.
    fn file_with(base: u64, commits: &[&[&[u8]]]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = format::encode_segment_header(SequenceNumber(base)).to_vec();
        let mut starts = Vec::new();
        let mut seq = SequenceNumber(base);
        for commit in commits {
            let mut batch = Batch::new();
            for payload in *commit {
                batch.push(payload).unwrap();
            }
            batch.seal(seq, seq);
            for (start, _) in batch.frame_spans() {
                starts.push(bytes.len() + start);
            }
            bytes.extend_from_slice(batch.bytes());
            seq = SequenceNumber(seq.0 + commit.len() as u64);
        }
        (bytes, starts)
    }

    fn scan(bytes: &[u8], is_last: bool) -> Result<FileScan, (usize, Corruption)> {
        scan_file(
            bytes,
            SequenceNumber(1),
            is_last,
            SequenceNumber(0),
            &mut BTreeMap::new(),
        )
    }

    #[test]
    fn a_lost_page_inside_the_last_commit_is_a_torn_write() {
        let (mut bytes, starts) = file_with(1, &[&[b"a"], &[b"b", b"c", b"d"]]);
        // The disk kept the end of the last commit but not its start.
        bytes[starts[1]..starts[2]].fill(0);
        let scan = scan(&bytes, true).unwrap();
        assert_eq!(scan.end, SequenceNumber(2));
        assert_eq!(scan.valid_len, starts[1]);
        assert!(matches!(scan.tail, Tail::TornWrite { .. }));
    }

    #[test]
    fn damage_followed_by_a_later_commit_is_corruption() {
        let (mut bytes, starts) = file_with(1, &[&[b"a"], &[b"bb"], &[b"c"]]);
        bytes[starts[1] + 26] ^= 0x10;
        let (offset, problem) = scan(&bytes, true).unwrap_err();
        assert_eq!(offset, starts[1]);
        assert_eq!(
            problem,
            Corruption::DamagedBeforeLaterCommit {
                defect: FrameDefect::Checksum {
                    stored: u32::from_le_bytes(
                        bytes[starts[1] + 4..starts[1] + 8].try_into().unwrap()
                    ),
                    computed: crc32fast::hash(&bytes[starts[1] + 8..starts[2]]),
                },
                later_at: starts[2] as u64,
            }
        );
    }

    #[test]
    fn a_bad_record_in_a_file_that_is_not_the_last_is_corruption() {
        let (mut bytes, starts) = file_with(1, &[&[b"a"], &[b"b"]]);
        bytes.truncate(bytes.len() - 1);
        let (offset, problem) = scan(&bytes, false).unwrap_err();
        assert_eq!(offset, starts[1]);
        assert!(matches!(
            problem,
            Corruption::Frame(FrameDefect::Incomplete { .. })
        ));
    }

    #[test]
    fn a_short_header_in_the_last_file_is_torn_and_elsewhere_corrupt() {
        let (bytes, _) = file_with(1, &[]);
        for len in 0..=HEADER_LEN {
            let mut header = bytes[..len].to_vec();
            if len == HEADER_LEN {
                header[21] ^= 1;
            }
            assert_eq!(scan(&header, true).unwrap().tail, Tail::TornHeader, "{len}");
            assert!(scan(&header, false).is_err(), "{len}");
        }
    }

    #[test]
    fn records_must_carry_consecutive_sequence_numbers() {
        let (mut bytes, _) = file_with(1, &[&[b"a"]]);
        let (second, _) = file_with(3, &[&[b"c"]]);
        bytes.extend_from_slice(&second[HEADER_LEN..]);
        let (_, problem) = scan(&bytes, true).unwrap_err();
        assert_eq!(
            problem,
            Corruption::SequenceGap {
                expected: SequenceNumber(2),
                found: SequenceNumber(3)
            }
        );
    }
}

//! The bytes of a WAL directory, and every way they can be wrong.
//!
//! All integers are little-endian. Every checksum is the CRC-32 (IEEE, as
//! computed by `crc32fast`).
//!
//! # Segment files
//!
//! A WAL directory holds segment files named after the sequence number of
//! their first record, in twenty decimal digits (every `u64` fits), so that
//! name order is sequence order: `00000000000000000001.wal`,
//! `00000000000000004097.wal`, ... A file starts with a 24-byte header:
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 8 | magic `STRATWAL` (ASCII) |
//! | 8 | 4 | format version, `u32`, currently 1 |
//! | 12 | 8 | base sequence, `u64`: the sequence number of the file's first record, equal to the file name |
//! | 20 | 4 | CRC-32 of bytes 0..20 |
//!
//! Records follow back to back until the end of the file; there is no
//! footer and no padding (files are not preallocated, so the end of the
//! file is the end of the log).
//!
//! # Records
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 4 | body length `L`, `u32` |
//! | 4 | 4 | CRC-32 of the body (bytes 8..8+L) |
//! | 8 | L | body |
//!
//! The body:
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 8 | sequence number, `u64` |
//! | 8 | 8 | commit start, `u64`: the sequence number of the first record of the group commit this record was written in |
//! | 16 | 1 | source tag: `0` = none, `1` = Kafka |
//! | 17 | 4 | (Kafka only) partition, `u32` |
//! | 21 | 8 | (Kafka only) offset of the message in its partition, `u64` |
//! | 29 | 2 | (Kafka only) topic length `T` in bytes, `u16` |
//! | 31 | T | (Kafka only) topic, UTF-8 |
//! | ... | rest | payload, opaque to the WAL |
//!
//! The checksum covers the whole body, not only the payload: a flipped bit
//! in a sequence number or a Kafka offset would otherwise pass unnoticed.
//! The length is not covered; a damaged length frames the wrong bytes, whose
//! checksum then fails (or runs past the end of the file).
//!
//! Sequence numbers start at 1 and increase by exactly one from record to
//! record, across files: a file's base sequence is one more than the last
//! sequence of the file before it.
//!
//! The commit start is what tells a torn write from damage (see
//! [`recovery`](super::recovery)): the writer starts a group commit only
//! after the previous one is fsync'd, so an intact record whose commit
//! started after a damaged record proves that the damaged record had been
//! fsync'd, and acknowledged.
//!
//! # The checkpoint file
//!
//! `checkpoint` remembers how far the log was truncated, so that a restart
//! does not replay records that are already published but still share a file
//! with unpublished ones. It is 24 bytes, replaced atomically (written to
//! `checkpoint.tmp`, fsync'd, renamed):
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 8 | magic `STRATWCP` (ASCII) |
//! | 8 | 4 | format version, `u32`, currently 1 |
//! | 12 | 8 | truncated through, `u64`: records up to this sequence number are never replayed |
//! | 20 | 4 | CRC-32 of bytes 0..20 |
//!
//! # The lock file
//!
//! `lock` is empty; a process holds an exclusive `flock` on it while the WAL
//! is open, so two writers never interleave their records.

use std::fmt;

use super::{KafkaOffset, SequenceNumber};

/// The magic at the start of every segment file.
const SEGMENT_MAGIC: [u8; 8] = *b"STRATWAL";
/// The magic at the start of the checkpoint file.
const CHECKPOINT_MAGIC: [u8; 8] = *b"STRATWCP";
/// The format version this build writes and reads.
pub(super) const FORMAT_VERSION: u32 = 1;

/// Bytes in a segment file header, and in the checkpoint file.
pub(super) const HEADER_LEN: usize = 24;
/// Bytes before a record's body: its length and its checksum.
pub(super) const FRAME_PREFIX_LEN: usize = 8;
/// Bytes of a body that are known only at commit time: sequence, commit start.
pub(super) const SEALED_FIELDS_LEN: usize = 16;
/// Bytes of a body before its source metadata: the sealed fields and the tag.
pub(super) const BODY_FIXED_LEN: usize = SEALED_FIELDS_LEN + 1;
/// The smallest possible record: no source, empty payload.
pub(super) const MIN_FRAME_LEN: usize = FRAME_PREFIX_LEN + BODY_FIXED_LEN;
/// Bytes of Kafka metadata before the topic: partition, offset, topic length.
const KAFKA_FIXED_LEN: usize = 14;

const SOURCE_NONE: u8 = 0;
const SOURCE_KAFKA: u8 = 1;

/// The extension of segment files.
pub(super) const SEGMENT_EXTENSION: &str = "wal";
/// The name of the checkpoint file.
pub(super) const CHECKPOINT_FILE: &str = "checkpoint";
/// Where a new checkpoint is written before it replaces the old one.
pub(super) const CHECKPOINT_TMP_FILE: &str = "checkpoint.tmp";
/// The name of the lock file.
pub(super) const LOCK_FILE: &str = "lock";

/// The file name of the segment whose first record is `base`.
pub(super) fn segment_file_name(base: SequenceNumber) -> String {
    format!("{:020}.{SEGMENT_EXTENSION}", base.0)
}

/// The base sequence a segment file name stands for, if it is one.
pub(super) fn parse_segment_file_name(name: &str) -> Option<SequenceNumber> {
    let digits = name.strip_suffix(SEGMENT_EXTENSION)?.strip_suffix('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SequenceNumber)
}

/// A segment file header for a file whose first record is `base`.
pub(super) fn encode_segment_header(base: SequenceNumber) -> [u8; HEADER_LEN] {
    encode_header(SEGMENT_MAGIC, base.0)
}

/// The base sequence in a segment file header.
pub(super) fn decode_segment_header(bytes: &[u8]) -> Result<SequenceNumber, Corruption> {
    decode_header(SEGMENT_MAGIC, bytes).map(SequenceNumber)
}

/// The checkpoint file for a log truncated through `through`.
pub(super) fn encode_checkpoint(through: SequenceNumber) -> [u8; HEADER_LEN] {
    encode_header(CHECKPOINT_MAGIC, through.0)
}

/// The sequence a checkpoint file says the log was truncated through.
pub(super) fn decode_checkpoint(bytes: &[u8]) -> Result<SequenceNumber, Corruption> {
    if bytes.len() != HEADER_LEN {
        return Err(Corruption::CheckpointLength { found: bytes.len() });
    }
    decode_header(CHECKPOINT_MAGIC, bytes).map(SequenceNumber)
}

fn encode_header(magic: [u8; 8], value: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let mut at = 0;
    for field in [
        &magic[..],
        &FORMAT_VERSION.to_le_bytes()[..],
        &value.to_le_bytes()[..],
    ] {
        put(&mut header, &mut at, field);
    }
    let crc = crc32fast::hash(&header[..at]);
    put(&mut header, &mut at, &crc.to_le_bytes());
    header
}

fn put(buffer: &mut [u8; HEADER_LEN], at: &mut usize, field: &[u8]) {
    let end = *at + field.len();
    buffer[*at..end].copy_from_slice(field);
    *at = end;
}

fn decode_header(magic: [u8; 8], bytes: &[u8]) -> Result<u64, Corruption> {
    let mut reader = Reader::new(bytes);
    let (Some(found_magic), Some(version), Some(value), Some(stored)) = (
        reader.array::<8>(),
        reader.u32(),
        reader.u64(),
        reader.u32(),
    ) else {
        return Err(Corruption::HeaderTruncated { found: bytes.len() });
    };
    if found_magic != magic {
        return Err(Corruption::NotAWalFile);
    }
    let computed = crc32fast::hash(bytes.get(..20).unwrap_or_default());
    if stored != computed {
        return Err(Corruption::HeaderChecksum { stored, computed });
    }
    if version != FORMAT_VERSION {
        return Err(Corruption::UnsupportedVersion { found: version });
    }
    Ok(value)
}

/// The encoded size of a record's source metadata.
pub(super) fn source_len(source: Option<&KafkaOffset>) -> usize {
    source.map_or(0, |kafka| KAFKA_FIXED_LEN + kafka.topic.len())
}

/// Appends a record frame to `out` with a zero sequence number, commit start
/// and checksum (they are known only when the record is committed; see
/// [`seal_frame`]), and returns the CRC-32 of the body after those fields.
///
/// The caller checks beforehand that the body length fits in a `u32` and
/// the topic length in a `u16`.
pub(super) fn encode_unsealed_frame(
    out: &mut Vec<u8>,
    body_len: u32,
    source: Option<&KafkaOffset>,
    payload: &[u8],
) -> u32 {
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&[0; 4 + SEALED_FIELDS_LEN]);
    let tail_start = out.len();
    match source {
        None => out.push(SOURCE_NONE),
        Some(kafka) => {
            out.push(SOURCE_KAFKA);
            out.extend_from_slice(&kafka.partition.to_le_bytes());
            out.extend_from_slice(&kafka.offset.to_le_bytes());
            let topic_len = u16::try_from(kafka.topic.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&topic_len.to_le_bytes());
            out.extend_from_slice(kafka.topic.as_bytes());
        }
    }
    out.extend_from_slice(payload);
    crc32fast::hash(out.get(tail_start..).unwrap_or_default())
}

/// Fills in the sequence number, commit start and checksum of the frame that
/// starts `frame` (the slice runs at least to the end of the frame's first
/// 24 bytes). `tail_crc` and `tail_len` describe the body after the commit
/// start, as [`encode_unsealed_frame`] returned them: the checksum of the
/// whole body is combined from it instead of hashing the payload again while
/// the writer holds up a group commit.
pub(super) fn seal_frame(
    frame: &mut [u8],
    seq: SequenceNumber,
    commit_start: SequenceNumber,
    tail_crc: u32,
    tail_len: u64,
) {
    let mut numbers = [0u8; 16];
    numbers[..8].copy_from_slice(&seq.0.to_le_bytes());
    numbers[8..].copy_from_slice(&commit_start.0.to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&numbers);
    crc.combine(&crc32fast::Hasher::new_with_initial_len(tail_crc, tail_len));
    if let Some(slot) = frame.get_mut(4..8) {
        slot.copy_from_slice(&crc.finalize().to_le_bytes());
    }
    if let Some(slot) = frame.get_mut(8..24) {
        slot.copy_from_slice(&numbers);
    }
}

/// One intact record, borrowed from the bytes it was decoded from.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DecodedFrame<'a> {
    pub seq: SequenceNumber,
    pub commit_start: SequenceNumber,
    pub kafka: Option<KafkaOffset>,
    pub payload: &'a [u8],
    /// The frame's size in the file, prefix included.
    pub len: usize,
}

/// Decodes the record at the start of `bytes` (which run to the end of the
/// file).
pub(super) fn decode_frame(bytes: &[u8]) -> Result<DecodedFrame<'_>, Corruption> {
    let mut prefix = Reader::new(bytes);
    let incomplete = Corruption::Frame(FrameDefect::Incomplete {
        available: bytes.len(),
    });
    let body_len = prefix.u32().ok_or(incomplete.clone())?;
    let stored = prefix.u32().ok_or(incomplete.clone())?;
    let body_len = usize::try_from(body_len).unwrap_or(usize::MAX);
    if body_len < BODY_FIXED_LEN {
        return Err(Corruption::Frame(FrameDefect::TooShort { body_len }));
    }
    let body = prefix.bytes(body_len).ok_or(incomplete)?;
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(Corruption::Frame(FrameDefect::Checksum {
            stored,
            computed,
        }));
    }
    decode_body(body, FRAME_PREFIX_LEN + body_len)
}

fn decode_body(body: &[u8], len: usize) -> Result<DecodedFrame<'_>, Corruption> {
    let mut reader = Reader::new(body);
    let (Some(seq), Some(commit_start), Some(tag)) = (reader.u64(), reader.u64(), reader.u8())
    else {
        return Err(Corruption::Frame(FrameDefect::TooShort {
            body_len: body.len(),
        }));
    };
    if commit_start > seq {
        return Err(Corruption::CommitAfterRecord { seq, commit_start });
    }
    let kafka = match tag {
        SOURCE_NONE => None,
        SOURCE_KAFKA => Some(decode_kafka(&mut reader)?),
        other => return Err(Corruption::UnknownSource { tag: other }),
    };
    Ok(DecodedFrame {
        seq: SequenceNumber(seq),
        commit_start: SequenceNumber(commit_start),
        kafka,
        payload: reader.rest(),
        len,
    })
}

fn decode_kafka(reader: &mut Reader<'_>) -> Result<KafkaOffset, Corruption> {
    let (Some(partition), Some(offset), Some(topic_len)) =
        (reader.u32(), reader.u64(), reader.u16())
    else {
        return Err(Corruption::KafkaMetadataTruncated);
    };
    let topic = reader
        .bytes(usize::from(topic_len))
        .ok_or(Corruption::KafkaMetadataTruncated)?;
    let topic = std::str::from_utf8(topic).map_err(|_| Corruption::TopicNotUtf8)?;
    Ok(KafkaOffset {
        topic: topic.to_owned(),
        partition,
        offset,
    })
}

/// Whether an intact record of a group commit that started after `torn_seq`
/// begins at `bytes`: the cheap field checks come first, so that scanning a
/// torn tail byte by byte computes a checksum only where a record is likely.
pub(super) fn later_commit_starts_at(bytes: &[u8], torn_seq: SequenceNumber) -> bool {
    let mut fields = Reader::new(bytes);
    let (Some(body_len), Some(_crc), Some(seq), Some(commit_start)) =
        (fields.u32(), fields.u32(), fields.u64(), fields.u64())
    else {
        return false;
    };
    let fits = usize::try_from(body_len).is_ok_and(|body_len| {
        body_len >= BODY_FIXED_LEN && body_len <= bytes.len().saturating_sub(FRAME_PREFIX_LEN)
    });
    // A record later in the same torn tail cannot be further ahead in the
    // sequence than the number of records that fit in the tail.
    let max_ahead = (bytes.len() / MIN_FRAME_LEN) as u64;
    fits && commit_start > torn_seq.0
        && commit_start <= seq
        && seq - torn_seq.0 <= max_ahead
        && decode_frame(bytes).is_ok()
}

/// Reads little-endian fields from a byte slice, answering `None` when the
/// slice ends too soon.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N).and_then(|bytes| bytes.try_into().ok())
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[byte]| byte)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

/// A record that cannot be read: the ways a write cut short by a crash
/// shows, and also the ways damage shows. Which of the two it was is decided
/// by what follows it (see [`recovery`](super::recovery)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameDefect {
    /// The record runs past the end of the file.
    Incomplete { available: usize },
    /// The length is smaller than the smallest body.
    TooShort { body_len: usize },
    /// The body does not match its checksum.
    Checksum { stored: u32, computed: u32 },
}

impl fmt::Display for FrameDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameDefect::Incomplete { available } => write!(
                f,
                "the record runs past the end of the file ({available} bytes are left)"
            ),
            FrameDefect::TooShort { body_len } => write!(
                f,
                "the record length {body_len} is shorter than the smallest record body \
                 ({BODY_FIXED_LEN} bytes)"
            ),
            FrameDefect::Checksum { stored, computed } => write!(
                f,
                "the record has CRC-32 {computed:08x} but says {stored:08x}"
            ),
        }
    }
}

/// What is wrong with the bytes of a WAL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corruption {
    /// A file header (or the checkpoint file) is shorter than 24 bytes.
    HeaderTruncated { found: usize },
    /// The file does not start with the WAL's magic.
    NotAWalFile,
    /// A header does not match its checksum.
    HeaderChecksum { stored: u32, computed: u32 },
    /// A well-formed header announces a version this build cannot read.
    UnsupportedVersion { found: u32 },
    /// The base sequence in the header differs from the file name.
    BaseMismatch {
        in_name: SequenceNumber,
        in_header: SequenceNumber,
    },
    /// The checkpoint file has the wrong size.
    CheckpointLength { found: usize },
    /// A record cannot be read (in a file that is not the last one, or
    /// followed by records that prove it had been acknowledged).
    Frame(FrameDefect),
    /// A record in the last file cannot be read, and an intact record of a
    /// later group commit follows it at `later_at`: so the damaged record
    /// had been fsync'd and acknowledged; this is damage, not a torn write.
    DamagedBeforeLaterCommit { defect: FrameDefect, later_at: u64 },
    /// A record's group commit starts after the record itself.
    CommitAfterRecord { seq: u64, commit_start: u64 },
    /// A record's group commit starts before the previous record's.
    CommitOutOfOrder {
        commit_start: SequenceNumber,
        previous: SequenceNumber,
    },
    /// The source tag is neither 0 (none) nor 1 (Kafka).
    UnknownSource { tag: u8 },
    /// The Kafka metadata runs past the end of the record body.
    KafkaMetadataTruncated,
    /// The Kafka topic is not UTF-8.
    TopicNotUtf8,
    /// A record (or a file's first record) does not carry the next sequence
    /// number: records are missing or repeated.
    SequenceGap {
        expected: SequenceNumber,
        found: SequenceNumber,
    },
    /// The checkpoint says records were truncated that the log never held.
    CheckpointBeyondLog {
        checkpoint: SequenceNumber,
        last: Option<SequenceNumber>,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::HeaderTruncated { found } => {
                write!(f, "the header is {found} bytes instead of {HEADER_LEN}")
            }
            Corruption::NotAWalFile => f.write_str(
                "it does not start with the magic `STRATWAL`/`STRATWCP`: it is not a Strata WAL file",
            ),
            Corruption::HeaderChecksum { stored, computed } => write!(
                f,
                "the header has CRC-32 {computed:08x} but says {stored:08x}"
            ),
            Corruption::UnsupportedVersion { found } => write!(
                f,
                "it is in WAL format version {found}, but this build of Strata reads only version \
                 {FORMAT_VERSION}; run the Strata release that wrote it"
            ),
            Corruption::BaseMismatch { in_name, in_header } => write!(
                f,
                "its name says its first record is {in_name} but its header says {in_header}"
            ),
            Corruption::CheckpointLength { found } => {
                write!(f, "the checkpoint is {found} bytes instead of {HEADER_LEN}")
            }
            Corruption::Frame(defect) => defect.fmt(f),
            Corruption::DamagedBeforeLaterCommit { defect, later_at } => write!(
                f,
                "{defect}, and an intact record of a later group commit follows at byte \
                 {later_at}, so the damaged record had been acknowledged"
            ),
            Corruption::CommitAfterRecord { seq, commit_start } => write!(
                f,
                "record {seq} says its group commit started at {commit_start}, after the record"
            ),
            Corruption::CommitOutOfOrder {
                commit_start,
                previous,
            } => write!(
                f,
                "a record says its group commit started at {commit_start}, before the previous \
                 record's ({previous})"
            ),
            Corruption::UnknownSource { tag } => {
                write!(f, "unknown record source tag {tag} (0 = none, 1 = Kafka)")
            }
            Corruption::KafkaMetadataTruncated => {
                f.write_str("the record's Kafka metadata runs past the end of the record")
            }
            Corruption::TopicNotUtf8 => f.write_str("the record's Kafka topic is not UTF-8"),
            Corruption::SequenceGap { expected, found } => write!(
                f,
                "expected record {expected} but found {found}: records are missing or repeated"
            ),
            Corruption::CheckpointBeyondLog { checkpoint, last } => match last {
                Some(last) => write!(
                    f,
                    "the checkpoint says the log was truncated through {checkpoint}, but the log \
                     ends at {last}"
                ),
                None => write!(
                    f,
                    "the checkpoint says the log was truncated through {checkpoint}, but the log \
                     starts after it"
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sealed_frame(
        seq: u64,
        commit_start: u64,
        source: Option<&KafkaOffset>,
        payload: &[u8],
    ) -> Vec<u8> {
        let body_len = BODY_FIXED_LEN + source_len(source) + payload.len();
        let mut bytes = Vec::new();
        let tail_crc = encode_unsealed_frame(
            &mut bytes,
            u32::try_from(body_len).unwrap(),
            source,
            payload,
        );
        let tail_len = (body_len - 16) as u64;
        seal_frame(
            &mut bytes,
            SequenceNumber(seq),
            SequenceNumber(commit_start),
            tail_crc,
            tail_len,
        );
        bytes
    }

    #[test]
    fn header_is_24_bytes_laid_out_as_documented() {
        let header = encode_segment_header(SequenceNumber(0x0102_0304_0506_0708));
        assert_eq!(&header[..8], b"STRATWAL");
        assert_eq!(&header[8..12], &1u32.to_le_bytes());
        assert_eq!(&header[12..20], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&header[20..], &crc32fast::hash(&header[..20]).to_le_bytes());
        assert_eq!(
            decode_segment_header(&header),
            Ok(SequenceNumber(0x0102_0304_0506_0708))
        );
        assert_eq!(
            decode_checkpoint(&header),
            Err(Corruption::NotAWalFile),
            "a segment header is not a checkpoint"
        );
    }

    #[test]
    fn record_is_laid_out_as_documented() {
        let kafka = KafkaOffset {
            topic: "clicks".into(),
            partition: 3,
            offset: 77,
        };
        let frame = sealed_frame(9, 7, Some(&kafka), b"{\"a\":1}");
        let body = &frame[8..];
        assert_eq!(&frame[..4], &(body.len() as u32).to_le_bytes());
        assert_eq!(&frame[4..8], &crc32fast::hash(body).to_le_bytes());
        assert_eq!(&body[..8], &9u64.to_le_bytes());
        assert_eq!(&body[8..16], &7u64.to_le_bytes());
        assert_eq!(body[16], SOURCE_KAFKA);
        assert_eq!(&body[17..21], &3u32.to_le_bytes());
        assert_eq!(&body[21..29], &77u64.to_le_bytes());
        assert_eq!(&body[29..31], &6u16.to_le_bytes());
        assert_eq!(&body[31..37], b"clicks");
        assert_eq!(&body[37..], b"{\"a\":1}");
    }

    #[test]
    fn segment_file_names_are_twenty_digits() {
        assert_eq!(
            segment_file_name(SequenceNumber(1)),
            "00000000000000000001.wal"
        );
        assert_eq!(
            parse_segment_file_name(&segment_file_name(SequenceNumber(u64::MAX))),
            Some(SequenceNumber(u64::MAX))
        );
        for name in [
            "1.wal",
            "0000000000000000000x.wal",
            "00000000000000000001.log",
        ] {
            assert_eq!(parse_segment_file_name(name), None, "{name}");
        }
    }

    fn kafka_strategy() -> impl Strategy<Value = Option<KafkaOffset>> {
        proptest::option::of(("[a-z.\u{e9}]{0,40}", any::<u32>(), any::<u64>()).prop_map(
            |(topic, partition, offset)| KafkaOffset {
                topic,
                partition,
                offset,
            },
        ))
    }

    proptest! {
        #[test]
        fn frames_round_trip(
            seq in 1u64..u64::MAX,
            back in 0u64..1000,
            kafka in kafka_strategy(),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let commit_start = seq.saturating_sub(back).max(1);
            let mut bytes = sealed_frame(seq, commit_start, kafka.as_ref(), &payload);
            let len = bytes.len();
            bytes.extend_from_slice(b"next record");
            let frame = decode_frame(&bytes).unwrap();
            prop_assert_eq!(frame, DecodedFrame {
                seq: SequenceNumber(seq),
                commit_start: SequenceNumber(commit_start),
                kafka,
                payload: &payload,
                len,
            });
        }

        #[test]
        fn every_bit_flip_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            bit in any::<usize>(),
        ) {
            let mut bytes = sealed_frame(5, 5, None, &payload);
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode_frame(&bytes).is_err());
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode_frame(&bytes);
            let _ = decode_segment_header(&bytes);
            let _ = decode_checkpoint(&bytes);
            let _ = later_commit_starts_at(&bytes, SequenceNumber(1));
        }
    }
}

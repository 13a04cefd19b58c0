//! A batch: the records one caller appends together, encoded as it is built.
//!
//! Records are encoded into their final bytes as they are pushed, by the
//! caller's thread, so the thread that writes a group commit only copies
//! bytes to the file. Two fields are unknown until the batch joins a group
//! commit — its sequence numbers and the commit's first sequence number —
//! so they are left zero, together with the checksum that covers them, and
//! [`Batch::seal`] fills them in. The checksum is not computed again then:
//! the CRC-32 of the rest of the body is kept from encoding time and combined
//! with the CRC-32 of the sixteen new bytes.

use super::format::{self, BODY_FIXED_LEN, FRAME_PREFIX_LEN, SEALED_FIELDS_LEN};
use super::{KafkaOffset, SequenceNumber, WalError};

/// Records to append in one call, with their encoded bytes.
///
/// ```
/// use strata_ingest::wal::{Batch, KafkaOffset};
///
/// let mut batch = Batch::new();
/// batch.push(br#"{"timestamp":"2024-01-01T00:00:00Z","host":"a"}"#)?;
/// let source = KafkaOffset { topic: "weblogs".into(), partition: 3, offset: 1_204 };
/// batch.push_from_kafka(&source, br#"{"timestamp":"2024-01-01T00:00:01Z","host":"b"}"#)?;
/// assert_eq!(batch.len(), 2);
/// # Ok::<(), strata_ingest::wal::WalError>(())
/// ```
#[derive(Debug, Default)]
pub struct Batch {
    /// The records' frames, back to back, as they go to the file.
    bytes: Vec<u8>,
    frames: Vec<UnsealedFrame>,
}

#[derive(Debug)]
struct UnsealedFrame {
    /// Where the frame starts in `Batch::bytes`.
    start: usize,
    /// The frame's size, prefix included.
    len: usize,
    /// CRC-32 of the body after its sequence number and commit start.
    tail_crc: u32,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// A batch with room for `records` records of `payload_bytes` payload
    /// bytes in total, without reallocating.
    pub fn with_capacity(records: usize, payload_bytes: usize) -> Batch {
        Batch {
            bytes: Vec::with_capacity(
                payload_bytes + records * (FRAME_PREFIX_LEN + BODY_FIXED_LEN),
            ),
            frames: Vec::with_capacity(records),
        }
    }

    /// Adds a record whose payload came from an HTTP request or a file.
    pub fn push(&mut self, payload: &[u8]) -> Result<(), WalError> {
        self.push_record(None, payload)
    }

    /// Adds a record read from Kafka, remembering where it was read so that
    /// consumption can resume after it (see
    /// [`Replay::last_kafka_offsets`](super::Replay::last_kafka_offsets)).
    pub fn push_from_kafka(
        &mut self,
        source: &KafkaOffset,
        payload: &[u8],
    ) -> Result<(), WalError> {
        let max = usize::from(u16::MAX);
        if source.topic.len() > max {
            return Err(WalError::TopicTooLong {
                len: source.topic.len(),
                max,
            });
        }
        self.push_record(Some(source), payload)
    }

    fn push_record(
        &mut self,
        source: Option<&KafkaOffset>,
        payload: &[u8],
    ) -> Result<(), WalError> {
        let size = BODY_FIXED_LEN + format::source_len(source) + payload.len();
        let body_len = u32::try_from(size).map_err(|_| WalError::RecordTooLarge {
            size,
            max: u32::MAX as usize,
        })?;
        let start = self.bytes.len();
        let tail_crc = format::encode_unsealed_frame(&mut self.bytes, body_len, source, payload);
        self.frames.push(UnsealedFrame {
            start,
            len: FRAME_PREFIX_LEN + size,
            tail_crc,
        });
        Ok(())
    }

    /// Adds the records of `other` after this batch's, in their order: a
    /// batch built in parts on several threads becomes one append.
    pub fn append(&mut self, other: Batch) {
        let shift = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.frames
            .extend(other.frames.into_iter().map(|frame| UnsealedFrame {
                start: frame.start + shift,
                ..frame
            }));
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The bytes the batch takes in the log.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Gives the records the sequence numbers from `first` on, as part of
    /// the group commit that starts at `commit_start`, and checksums them.
    pub(super) fn seal(&mut self, first: SequenceNumber, commit_start: SequenceNumber) {
        let mut seq = first;
        for frame in &self.frames {
            if let Some(bytes) = self.bytes.get_mut(frame.start..frame.start + frame.len) {
                let tail_len = (frame.len - FRAME_PREFIX_LEN - SEALED_FIELDS_LEN) as u64;
                format::seal_frame(bytes, seq, commit_start, frame.tail_crc, tail_len);
            }
            seq = seq.next();
        }
    }

    /// The encoded bytes, back to back.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Each record's `(start, len)` in [`Batch::bytes`], in order.
    pub(super) fn frame_spans(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.frames.iter().map(|frame| (frame.start, frame.len))
    }
}

//! Text blocks stored as token streams.
//!
//! Log messages are made of fields in fixed places: `GET /api/v1/r33 -> 200
//! in 154.891ms user=308223 ...`. Compressed row after row, zstd sees a verb,
//! then a path, then a status, and its matches rarely reach back to the same
//! field of the previous row. Split into streams — every row's first token,
//! then every row's second token, ... — each stream holds one kind of field
//! and compresses several bytes a row smaller, the way columnar storage beats
//! row storage. Each token is split once more, into its *shape* — the token
//! with every run of ASCII digits replaced by a placeholder — and its digit
//! runs: shapes repeat (`/api/v#/r#`, `#.#ms`, `user=#`) and cost almost
//! nothing, and the numbers of one field sit together. Splitting is lossless:
//! a value is cut at its first `MAX_TOKENS - 1` spaces and joined back with
//! single spaces.
//!
//! Layout after the 8-byte codec header (tag [`TOKENIZED`]): `u32` row
//! count, `u32` stream count s, then s streams, each `u8` form (0 raw,
//! 1 zstd), `u64` length of its content, `u64` stored length, and the stored
//! bytes. Stream 0 holds one byte per row: how many tokens the row has.
//! Stream `2k + 1` holds the shape of token k of every row that has one,
//! where the byte `0xFE` stands for a digit run, each shape followed by
//! `0xFF`; stream `2k + 2` holds token k's digit runs, each followed by
//! `0xFF`. Neither byte ever occurs in UTF-8.
//!
//! # Frames
//!
//! A needle search returns a handful of rows, each from a different block;
//! decompressing a whole block of 65,536 messages (megabytes) to return one
//! of them is what such a search would spend its time on. A block is
//! therefore cut into *frames* of [`FRAME_ROWS`] rows, each frame the token
//! streams of its rows alone, so that reading a row decompresses only its
//! frame — tantivy's doc store answers a point read the same way, from
//! blocks of a few kilobytes. Frames cost a little size (each frame's streams
//! start their zstd window afresh), far less than the shapes save.
//!
//! Layout of a framed block (tag [`FRAMED`]): the 8-byte codec header, `u32`
//! row count n, `u32` rows per frame f, `u32` frame count m = ⌈n / f⌉, then
//! m `u32` offsets — where frame k ends, counted from the end of the offsets
//! — then the frames, each a block of tag [`TOKENIZED`] of the next f rows
//! (the last frame the rest).

use super::codec::DecodeError;
use super::layout::{read_u32, read_u64};

pub const TOKENIZED: u8 = 2;
pub const FRAMED: u8 = 3;
/// Rows per frame of a text block (a divisor of a row block's rows): about
/// 64 KB of log messages, decompressed in a few tens of microseconds.
pub const FRAME_ROWS: usize = 1024;
/// Tokens per value; the last one takes the rest of a longer value.
const MAX_TOKENS: usize = 16;
const TERMINATOR: u8 = 0xFF;
const DIGITS: u8 = 0xFE;

/// Encodes UTF-8 `values` as token streams, each zstd-compressed at `level`.
pub fn encode_tokenized<'v>(
    values: impl ExactSizeIterator<Item = &'v [u8]>,
    level: i32,
    out: &mut Vec<u8>,
) {
    let rows = values.len();
    let mut counts = Vec::with_capacity(rows);
    let mut streams: Vec<Vec<u8>> = Vec::new();
    for value in values {
        let mut count = 0u8;
        for (k, token) in value.splitn(MAX_TOKENS, |&b| b == b' ').enumerate() {
            if streams.len() <= 2 * k {
                streams.resize_with(2 * k + 2, Vec::new);
            }
            let (shapes, digits) = streams.split_at_mut(2 * k + 1);
            split_token(token, &mut shapes[2 * k], &mut digits[0]);
            count += 1;
        }
        counts.push(count);
    }
    out.extend_from_slice(&[TOKENIZED, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(rows as u32).to_le_bytes());
    out.extend_from_slice(&(streams.len() as u32 + 1).to_le_bytes());
    for stream in std::iter::once(&counts).chain(&streams) {
        let compressed = zstd::bulk::compress(stream, level)
            .ok()
            .filter(|c| c.len() < stream.len());
        out.push(u8::from(compressed.is_some()));
        out.extend_from_slice(&(stream.len() as u64).to_le_bytes());
        let stored = compressed.as_deref().unwrap_or(stream);
        out.extend_from_slice(&(stored.len() as u64).to_le_bytes());
        out.extend_from_slice(stored);
    }
}

/// Encodes UTF-8 `values` in frames of `frame_rows` rows, each frame as
/// [`encode_tokenized`] makes it.
pub fn encode_framed<'v>(
    values: impl ExactSizeIterator<Item = &'v [u8]>,
    frame_rows: usize,
    level: i32,
    out: &mut Vec<u8>,
) {
    let frame_rows = frame_rows.max(1);
    let values: Vec<&[u8]> = values.collect();
    let frames: Vec<Vec<u8>> = values
        .chunks(frame_rows)
        .map(|rows| {
            let mut frame = Vec::new();
            encode_tokenized(rows.iter().copied(), level, &mut frame);
            frame
        })
        .collect();
    out.extend_from_slice(&[FRAMED, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    out.extend_from_slice(&(frame_rows as u32).to_le_bytes());
    out.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    let mut end = 0u32;
    for frame in &frames {
        end += frame.len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
    frames.iter().for_each(|frame| out.extend_from_slice(frame));
}

/// The frames of a framed block: its row count, rows per frame, and each
/// frame's bytes.
struct Frames<'b> {
    rows: usize,
    frame_rows: usize,
    offsets: &'b [u8],
    data: &'b [u8],
}

impl<'b> Frames<'b> {
    fn parse(block: &'b [u8]) -> Result<Self, DecodeError> {
        let rows = read_u32(block, 8).ok_or("row count is cut off")? as usize;
        let frame_rows = read_u32(block, 12).ok_or("frame size is cut off")? as usize;
        let count = read_u32(block, 16).ok_or("frame count is cut off")? as usize;
        if frame_rows == 0 || count != rows.div_ceil(frame_rows) {
            return Err(format!(
                "{count} frames of {frame_rows} rows for {rows} rows"
            ));
        }
        let offsets = block
            .get(20..20 + 4 * count)
            .ok_or("frame offsets are cut off")?;
        Ok(Self {
            rows,
            frame_rows,
            offsets,
            data: &block[20 + 4 * count..],
        })
    }

    /// Frame `k`'s bytes.
    fn frame(&self, k: usize) -> Result<&'b [u8], DecodeError> {
        let end_of = |k: usize| read_u32(self.offsets, 4 * k).map(|end| end as usize);
        let start = if k == 0 {
            0
        } else {
            end_of(k - 1).ok_or("no such frame")?
        };
        let end = end_of(k).ok_or("no such frame")?;
        self.data
            .get(start..end)
            .ok_or_else(|| "a frame is cut off".into())
    }
}

/// Appends `token`'s shape to `shapes` and its digit runs to `digits`.
fn split_token(token: &[u8], shapes: &mut Vec<u8>, digits: &mut Vec<u8>) {
    let mut in_digits = false;
    for &byte in token {
        if byte.is_ascii_digit() {
            if !in_digits {
                shapes.push(DIGITS);
                in_digits = true;
            }
            digits.push(byte);
        } else {
            if in_digits {
                digits.push(TERMINATOR);
                in_digits = false;
            }
            shapes.push(byte);
        }
    }
    if in_digits {
        digits.push(TERMINATOR);
    }
    shapes.push(TERMINATOR);
}

/// Takes the bytes up to the next terminator from `stream` at `cursor`.
fn next_piece<'s>(stream: &'s [u8], cursor: &mut usize) -> Result<&'s [u8], DecodeError> {
    let start = *cursor;
    let rest = stream.get(start..).ok_or("a token stream is cut off")?;
    let length = memchr::memchr(TERMINATOR, rest).ok_or("a token stream is cut off")?;
    *cursor = start + length + 1;
    Ok(&rest[..length])
}

/// Where the `n`th piece of `stream` ends: just past its terminator.
fn nth_end(stream: &[u8], n: usize) -> Result<usize, DecodeError> {
    let terminator = memchr::memchr_iter(TERMINATOR, stream)
        .nth(n - 1)
        .ok_or("a token stream is cut off")?;
    Ok(terminator + 1)
}

/// Decodes token streams, framed or not, back into values: `(ends, data)`
/// where value `i` ends at `ends[i]` in `data`.
pub fn decode_tokenized(block: &[u8]) -> Result<(Vec<u32>, Vec<u8>), DecodeError> {
    let rows = read_u32(block, 8).ok_or("row count is cut off")? as usize;
    decode_tokenized_rows(block, 0..rows)
}

/// [`decode_tokenized`] of the values in `rows` only (value `i` of the
/// answer is row `rows.start + i`): a framed block decompresses only the
/// frames that hold them.
pub fn decode_tokenized_rows(
    block: &[u8],
    rows: std::ops::Range<usize>,
) -> Result<(Vec<u32>, Vec<u8>), DecodeError> {
    if block.first() != Some(&FRAMED) {
        return decode_frame_rows(block, rows);
    }
    let frames = Frames::parse(block)?;
    if rows.end > frames.rows || rows.start > rows.end {
        return Err(format!("rows {rows:?} of a block of {}", frames.rows));
    }
    let (mut ends, mut data) = (Vec::with_capacity(rows.len()), Vec::new());
    let mut row = rows.start;
    while row < rows.end {
        let k = row / frames.frame_rows;
        let frame_start = k * frames.frame_rows;
        let frame_end = (frame_start + frames.frame_rows).min(rows.end);
        let frame = frames.frame(k)?;
        if frame.first() != Some(&TOKENIZED) {
            return Err("a frame is not a block of token streams".into());
        }
        let (frame_ends, frame_data) =
            decode_frame_rows(frame, row - frame_start..frame_end - frame_start)?;
        let base = u32::try_from(data.len()).map_err(|_| "values overflow the block")?;
        for end in frame_ends {
            ends.push(base.checked_add(end).ok_or("values overflow the block")?);
        }
        data.extend_from_slice(&frame_data);
        row = frame_end;
    }
    Ok((ends, data))
}

/// The values in `rows` of one block of token streams (tag [`TOKENIZED`]):
/// the rows before them are skipped over without being rebuilt, those after
/// them not looked at.
fn decode_frame_rows(
    block: &[u8],
    rows: std::ops::Range<usize>,
) -> Result<(Vec<u32>, Vec<u8>), DecodeError> {
    let row_count = read_u32(block, 8).ok_or("row count is cut off")? as usize;
    if rows.end > row_count || rows.start > rows.end {
        return Err(format!("rows {rows:?} of a block of {row_count}"));
    }
    let stream_count = read_u32(block, 12).ok_or("stream count is cut off")? as usize;
    if stream_count.is_multiple_of(2) || stream_count > 2 * MAX_TOKENS + 1 {
        return Err(format!("{stream_count} token streams"));
    }
    let mut at = 16;
    let mut streams = Vec::with_capacity(stream_count);
    for _ in 0..stream_count {
        let form = *block.get(at).ok_or("stream header is cut off")?;
        let len = read_u64(block, at + 1).ok_or("stream header is cut off")? as usize;
        let stored_len = read_u64(block, at + 9).ok_or("stream header is cut off")? as usize;
        let stored = block
            .get(at + 17..at + 17 + stored_len)
            .ok_or("stream is cut off")?;
        let content = match form {
            0 => stored.to_vec(),
            1 => super::codec::decompress(stored, len).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown stream form {other}")),
        };
        if content.len() != len {
            return Err("a stream's length differs from its header".into());
        }
        streams.push(content);
        at += 17 + stored_len;
    }
    let (counts, tokens) = streams.split_first().ok_or("no count stream")?;
    if counts.len() != row_count {
        return Err("token counts do not match the row count".into());
    }
    let mut cursors = vec![0usize; tokens.len()];
    let streams_of = |k: usize| match (tokens.get(2 * k), tokens.get(2 * k + 1)) {
        (Some(shapes), Some(digits)) => Ok((shapes.as_slice(), digits.as_slice())),
        _ => Err(DecodeError::from("a row has more tokens than streams")),
    };
    // Skipping the rows before `rows`: token k's streams hold one shape for
    // each of those rows with more than k tokens, and one digit run for each
    // placeholder in those shapes — found by scanning each stream once.
    let skipped = counts.get(..rows.start).unwrap_or_default();
    for k in 0..tokens.len() / 2 {
        let pieces = skipped.iter().filter(|&&count| count as usize > k).count();
        if pieces == 0 {
            continue;
        }
        let (shapes, digits) = streams_of(k)?;
        let shapes_end = nth_end(shapes, pieces)?;
        let runs = memchr::memchr_iter(DIGITS, &shapes[..shapes_end]).count();
        cursors[2 * k] = shapes_end;
        cursors[2 * k + 1] = if runs == 0 { 0 } else { nth_end(digits, runs)? };
    }
    let mut ends = Vec::with_capacity(rows.len());
    let mut data = Vec::new();
    for &count in counts.get(rows).unwrap_or_default() {
        for k in 0..count as usize {
            let (shapes, digits) = streams_of(k)?;
            if k > 0 {
                data.push(b' ');
            }
            let mut shape = next_piece(shapes, &mut cursors[2 * k])?;
            while let Some(digit_run) = memchr::memchr(DIGITS, shape) {
                data.extend_from_slice(&shape[..digit_run]);
                data.extend_from_slice(next_piece(digits, &mut cursors[2 * k + 1])?);
                shape = &shape[digit_run + 1..];
            }
            data.extend_from_slice(shape);
        }
        ends.push(u32::try_from(data.len()).map_err(|_| "values overflow the block")?);
    }
    Ok((ends, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `values` encoded in one block of token streams, or in frames of
    /// `frame_rows` rows.
    fn encode(values: &[String], frame_rows: Option<usize>) -> Vec<u8> {
        let mut bytes = Vec::new();
        let values = values.iter().map(|v| v.as_bytes());
        match frame_rows {
            None => encode_tokenized(values, 3, &mut bytes),
            Some(frame_rows) => encode_framed(values, frame_rows, 3, &mut bytes),
        }
        bytes
    }

    fn strings((ends, data): (Vec<u32>, Vec<u8>)) -> Vec<String> {
        let mut start = 0;
        ends.iter()
            .map(|&end| {
                let value = String::from_utf8(data[start..end as usize].to_vec()).unwrap();
                start = end as usize;
                value
            })
            .collect()
    }

    fn roundtrip(values: &[String], frame_rows: Option<usize>) -> Vec<String> {
        strings(decode_tokenized(&encode(values, frame_rows)).unwrap())
    }

    proptest! {
        #[test]
        fn any_text_roundtrips(
            values in prop::collection::vec("[a-z0-9 é\n\t.=/]{0,60}", 0..60),
            frame_rows in prop::option::of(1usize..20),
        ) {
            prop_assert_eq!(roundtrip(&values, frame_rows), values);
        }

        #[test]
        fn any_rows_decode_as_the_same_rows_of_the_whole_block(
            values in prop::collection::vec("[a-z0-9 é.=/]{0,40}", 1..60),
            a in 0usize..60,
            b in 0usize..60,
            frame_rows in prop::option::of(1usize..20),
        ) {
            let (start, end) = (a.min(b).min(values.len()), a.max(b).min(values.len()));
            let bytes = encode(&values, frame_rows);
            let decoded = strings(decode_tokenized_rows(&bytes, start..end).unwrap());
            prop_assert_eq!(decoded, values[start..end].to_vec());
            prop_assert!(decode_tokenized_rows(&bytes, 0..values.len() + 1).is_err());
        }

        #[test]
        fn garbage_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            tag in prop_oneof![Just(TOKENIZED), Just(FRAMED)],
        ) {
            let mut block = vec![tag, 0, 0, 0, 0, 0, 0, 0];
            block.extend_from_slice(&bytes);
            let _ = decode_tokenized(&block);
        }

        #[test]
        fn damaged_frames_never_panic(
            values in prop::collection::vec("[a-z0-9 .=/]{0,30}", 1..40),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = encode(&values, Some(4));
            let at = at.index(bytes.len());
            bytes[at] = byte;
            let _ = decode_tokenized(&bytes);
            let _ = decode_tokenized_rows(&bytes, 1..values.len());
        }
    }

    #[test]
    fn long_values_keep_their_tail_in_the_last_stream() {
        let long = (0..40)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let values = vec![long, "  leading and  double spaces ".into(), String::new()];
        assert_eq!(roundtrip(&values, None), values);
        assert_eq!(roundtrip(&values, Some(2)), values);
    }
}

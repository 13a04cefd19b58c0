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

use super::codec::DecodeError;
use super::layout::{read_u32, read_u64};

pub const TOKENIZED: u8 = 2;
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

/// Decodes token streams back into values: `(ends, data)` where value `i`
/// ends at `ends[i]` in `data`.
pub fn decode_tokenized(block: &[u8]) -> Result<(Vec<u32>, Vec<u8>), DecodeError> {
    let rows = read_u32(block, 8).ok_or("row count is cut off")? as usize;
    decode_tokenized_rows(block, 0..rows)
}

/// [`decode_tokenized`] of the values in `rows` only (value `i` of the
/// answer is row `rows.start + i`): the rows before them are skipped over
/// without being rebuilt, those after them not looked at — what reading a
/// few rows of a block costs.
pub fn decode_tokenized_rows(
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

    fn roundtrip(values: &[String]) -> Vec<String> {
        let mut bytes = Vec::new();
        encode_tokenized(values.iter().map(|v| v.as_bytes()), 3, &mut bytes);
        let (ends, data) = decode_tokenized(&bytes).unwrap();
        let mut start = 0;
        ends.iter()
            .map(|&end| {
                let value = String::from_utf8(data[start..end as usize].to_vec()).unwrap();
                start = end as usize;
                value
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_text_roundtrips(values in prop::collection::vec("[a-z0-9 é\n\t.=/]{0,60}", 0..60)) {
            prop_assert_eq!(roundtrip(&values), values);
        }

        #[test]
        fn any_rows_decode_as_the_same_rows_of_the_whole_block(
            values in prop::collection::vec("[a-z0-9 é.=/]{0,40}", 1..60),
            a in 0usize..60,
            b in 0usize..60,
        ) {
            let (start, end) = (a.min(b).min(values.len()), a.max(b).min(values.len()));
            let mut bytes = Vec::new();
            encode_tokenized(values.iter().map(|v| v.as_bytes()), 3, &mut bytes);
            let (ends, data) = decode_tokenized_rows(&bytes, start..end).unwrap();
            let mut from = 0;
            let decoded: Vec<String> = ends
                .iter()
                .map(|&to| {
                    let value = String::from_utf8(data[from..to as usize].to_vec()).unwrap();
                    from = to as usize;
                    value
                })
                .collect();
            prop_assert_eq!(decoded, values[start..end].to_vec());
            prop_assert!(decode_tokenized_rows(&bytes, 0..values.len() + 1).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut block = vec![TOKENIZED, 0, 0, 0, 0, 0, 0, 0];
            block.extend_from_slice(&bytes);
            let _ = decode_tokenized(&block);
        }
    }

    #[test]
    fn long_values_keep_their_tail_in_the_last_stream() {
        let long = (0..40)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let values = vec![long, "  leading and  double spaces ".into(), String::new()];
        assert_eq!(roundtrip(&values), values);
    }
}

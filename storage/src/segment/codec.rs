//! Block codecs: how one block of a column's values becomes bytes.
//!
//! Every numeric block begins with an 8-byte codec header — `u8` codec tag,
//! `u8` parameter, six zero bytes — then the codec's body. The writer chooses
//! the codec per block, preferring the light encodings because they decode
//! several times faster than zstd:
//!
//! | tag | long block | double block |
//! |-----|------------|--------------|
//! | 0 | `CONSTANT`: one `i64` | `CONSTANT`: one `f64` |
//! | 1 | `FOR`: `i64` base, packed `u32` offsets from it | `DECIMAL` (param = scale s): `i64` base, packed `u32` offsets of `v·10^s` |
//! | 2 | `DELTA`: `i64` base, packed non-decreasing `u32` offsets, delta-coded | — |
//! | 3 | `RAW`: `i64` values | `RAW`: `f64` values |
//! | 4 | `ZSTD` (param = planes p): `i64` base, zstd frame of the offsets' p low bytes as byte planes | `ZSTD`: zstd frame of the values' 8 bytes as byte planes |
//!
//! zstd is chosen over the light encoding only when it is at most
//! [`ZSTD_WORTH_IT`] of its size, and only in a table whose blocks are
//! encoded for size ([`BlockGoal::Compact`]): a table encoded for scans
//! ([`BlockGoal::FastScan`], the rollup table, which dashboards read whole
//! again and again) keeps the light encodings, which on the reference
//! dataset make its scans about a third cheaper for a few percent more
//! bytes. A `DECIMAL` block is used only when every value survives the
//! round trip bit for bit.
//!
//! *Packed `u32` runs* (dictionary ids, row lengths and the light encodings
//! above) are: `u32` count n, then one bit-width byte per 128-value miniblock,
//! then the miniblocks bit-packed with the `bitpacking` crate's `BitPacker4x`
//! (the last miniblock padded to 128 values). A sorted run delta-codes each
//! miniblock from the last value of the previous one.
//!
//! *Byte planes* regroup values by byte position (every value's byte 0,
//! then every value's byte 1, ...), so zstd sees like bytes together.
//!
//! *Id blocks* of single-value string columns hold a packed run of codes, or
//! a zstd frame of their byte planes when that saves
//! [`CODES_ZSTD_WORTH_IT`] (skewed columns).
//!
//! *Variable-length blocks* of complex columns are `u8` tag (0 raw, 1 zstd),
//! seven zero bytes, a packed run of the n values' byte lengths, `u64`
//! length of the concatenated values, then the concatenated values — raw, or
//! as one zstd frame. Text columns use the token streams of `text_codec`.
//!
//! *Maybe-compressed blocks* (dictionaries, bitmap groups) are a form byte
//! and seven zero bytes, then the body as it is or zstd-compressed.

use bitpacking::{BitPacker, BitPacker4x};

use super::layout::{read_i64, read_u32, read_u64};
use super::text_codec::{FRAMED, TOKENIZED, decode_tokenized, decode_tokenized_rows};

/// What a table's numeric and id blocks are encoded for; the reader needs
/// no telling, as every block names its codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockGoal {
    /// The fewest bytes: zstd where it pays (see the module docs).
    Compact,
    /// The cheapest decoding: light encodings only.
    FastScan,
}

/// zstd must shrink a block to this fraction of the light encoding to win.
pub const ZSTD_WORTH_IT: f64 = 0.7;
/// Dictionary codes decode from zstd fast enough to take smaller gains.
pub const CODES_ZSTD_WORTH_IT: f64 = 0.9;
const ZSTD_LEVEL: i32 = 1;
/// Text is written once and read rarely, so it is worth compressing harder;
/// it is compressed on a background thread (see `background_encoder`).
pub const TEXT_ZSTD_LEVEL: i32 = 5;
pub const COMPLEX_ZSTD_LEVEL: i32 = 3;
const MINI: usize = BitPacker4x::BLOCK_LEN;

const CONSTANT: u8 = 0;
const FOR: u8 = 1;
const DELTA: u8 = 2;
const RAW: u8 = 3;
const ZSTD: u8 = 4;

/// A decoding failure; the reader adds the file name.
pub type DecodeError = String;

fn codec_header(tag: u8, param: u8) -> [u8; 8] {
    [tag, param, 0, 0, 0, 0, 0, 0]
}

/// Appends a packed run of `values`; `sorted` values must be non-decreasing.
pub fn encode_packed(values: &[u32], sorted: bool, out: &mut Vec<u8>) {
    let packer = BitPacker4x::new();
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    let widths_at = out.len();
    let minis = values.len().div_ceil(MINI);
    out.resize(widths_at + minis, 0);
    let mut scratch = [0u8; 4 * MINI];
    let mut padded = [0u32; MINI];
    let mut previous = 0u32;
    for (k, chunk) in values.chunks(MINI).enumerate() {
        let pad = if sorted { chunk[chunk.len() - 1] } else { 0 };
        padded[..chunk.len()].copy_from_slice(chunk);
        padded[chunk.len()..].fill(pad);
        let (width, len) = if sorted {
            let width = packer.num_bits_sorted(previous, &padded);
            (
                width,
                packer.compress_sorted(previous, &padded, &mut scratch, width),
            )
        } else {
            let width = packer.num_bits(&padded);
            (width, packer.compress(&padded, &mut scratch, width))
        };
        previous = pad;
        out[widths_at + k] = width;
        out.extend_from_slice(&scratch[..len]);
    }
}

/// Decodes a packed run starting at `at`, appending to `out`; returns the
/// offset just past it.
pub fn decode_packed(
    bytes: &[u8],
    at: usize,
    sorted: bool,
    out: &mut Vec<u32>,
) -> Result<usize, DecodeError> {
    let count = read_u32(bytes, at).ok_or("packed run header is cut off")? as usize;
    out.reserve(count);
    decode_packed_with(bytes, at, sorted, |values| out.extend_from_slice(values))
}

/// Decodes the packed run at `at`, handing each miniblock's values to
/// `take` as they come, so that a caller converting them (a base added, a
/// scale undone) writes its values once, without a run of offsets between.
/// Returns the position after the run.
fn decode_packed_with(
    bytes: &[u8],
    at: usize,
    sorted: bool,
    mut take: impl FnMut(&[u32]),
) -> Result<usize, DecodeError> {
    let count = read_u32(bytes, at).ok_or("packed run header is cut off")? as usize;
    let minis = count.div_ceil(MINI);
    let widths = bytes
        .get(at + 4..at + 4 + minis)
        .ok_or("packed run widths are cut off")?;
    let packer = BitPacker4x::new();
    let mut pos = at + 4 + minis;
    let mut mini = [0u32; MINI];
    let mut previous = 0u32;
    for (k, &width) in widths.iter().enumerate() {
        if width > 32 {
            return Err(format!("bit width {width} is over 32"));
        }
        let len = BitPacker4x::compressed_block_size(width);
        let packed = bytes
            .get(pos..pos + len)
            .ok_or("packed run data is cut off")?;
        if sorted {
            packer.decompress_sorted(previous, packed, &mut mini, width);
            previous = mini[MINI - 1];
        } else {
            packer.decompress(packed, &mut mini, width);
        }
        let count_here = (count - k * MINI).min(MINI);
        take(&mini[..count_here]);
        pos += len;
    }
    Ok(pos)
}

/// How many values the packed run at `at` holds.
fn packed_count(bytes: &[u8], at: usize) -> Result<usize, DecodeError> {
    Ok(read_u32(bytes, at).ok_or("packed run header is cut off")? as usize)
}

/// Encodes a block of longs with the best codec for it.
pub fn encode_longs(values: &[i64], goal: BlockGoal, out: &mut Vec<u8>) {
    let Some((&min, &max)) = values.iter().min().zip(values.iter().max()) else {
        out.extend_from_slice(&codec_header(RAW, 0));
        return;
    };
    if min == max {
        out.extend_from_slice(&codec_header(CONSTANT, 0));
        out.extend_from_slice(&min.to_le_bytes());
        return;
    }
    let start = out.len();
    let fits_u32 = (max as i128 - min as i128) <= u32::MAX as i128;
    if fits_u32 {
        let offsets: Vec<u32> = values.iter().map(|&v| (v - min) as u32).collect();
        let sorted = values.windows(2).all(|w| w[0] <= w[1]);
        out.extend_from_slice(&codec_header(if sorted { DELTA } else { FOR }, 0));
        out.extend_from_slice(&min.to_le_bytes());
        encode_packed(&offsets, sorted, out);
    } else {
        out.extend_from_slice(&codec_header(RAW, 0));
        values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    let range = max.wrapping_sub(min) as u64;
    let planes = plane_count(range);
    let offsets = values.iter().map(|&v| v.wrapping_sub(min) as u64);
    let zstd_params = (planes as u8, Some(min));
    if goal == BlockGoal::Compact {
        try_zstd(&to_planes(offsets, planes), zstd_params, start, out);
    }
}

/// Bytes needed for values up to `max`.
fn plane_count(max: u64) -> usize {
    (64 - max.leading_zeros() as usize).div_ceil(8).max(1)
}

/// The low `planes` bytes of each value, regrouped by position: every
/// value's byte 0, then every value's byte 1, ... Like bytes compress
/// together, so zstd finds far more to work with than in interleaved values.
fn to_planes(values: impl ExactSizeIterator<Item = u64>, planes: usize) -> Vec<u8> {
    let rows = values.len();
    let mut out = vec![0u8; rows * planes];
    for (i, v) in values.enumerate() {
        for (p, byte) in v.to_le_bytes().into_iter().take(planes).enumerate() {
            out[p * rows + i] = byte;
        }
    }
    out
}

/// A zstd frame decompressed into a new buffer of at most `capacity` bytes.
///
/// Each thread keeps one decompression context: creating one per block
/// (what `zstd::bulk::decompress` does) allocates and clears its window
/// every time, which showed as a fifth of a filtered scan's time.
pub(crate) fn decompress(frame: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    with_decompressor(|decompressor| decompressor.decompress(frame, capacity))
}

/// This thread's zstd context, made on first use: a context holds buffers
/// worth keeping between the blocks of a scan.
fn with_decompressor<R>(
    work: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<R>,
) -> std::io::Result<R> {
    thread_local! {
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let decompressor = match cell.as_mut() {
            Some(decompressor) => decompressor,
            None => cell.insert(zstd::bulk::Decompressor::new()?),
        };
        work(decompressor)
    })
}

/// Decompresses `frame`, the byte planes of `rows` values of `planes`
/// bytes each, and appends the values to `out`: each starts as `initial`
/// and takes in each of its bytes, already shifted to its place, through
/// `add`. The planes go to a buffer kept by the thread and are added to the
/// values plane by plane — sequential passes the compiler vectorizes,
/// where gathering one value's bytes from every plane would stride across
/// them all — straight into `out`, without an intermediate vector.
fn append_planes<T: Copy>(
    frame: &[u8],
    rows: usize,
    planes: usize,
    out: &mut Vec<T>,
    initial: T,
    add: impl Fn(T, u64) -> T,
) -> Result<(), DecodeError> {
    thread_local! {
        static PLANES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    PLANES.with(|buffer| {
        let mut bytes = buffer.borrow_mut();
        bytes.clear();
        bytes.reserve(rows * planes);
        with_decompressor(|decompressor| decompressor.decompress_to_buffer(frame, &mut *bytes))
            .map_err(|e| e.to_string())?;
        check_count(bytes.len(), rows * planes)?;
        let start = out.len();
        out.resize(start + rows, initial);
        let values = out.get_mut(start..).unwrap_or_default();
        for (p, plane) in bytes.chunks_exact(rows.max(1)).take(planes).enumerate() {
            let shift = 8 * p as u32;
            for (value, &byte) in values.iter_mut().zip(plane) {
                *value = add(*value, u64::from(byte) << shift);
            }
        }
        Ok(())
    })
}

/// Replaces the light encoding written from `start` with a zstd frame of
/// `planes` when that is worth it. `params` are the codec parameter byte
/// and the base value written before the frame, if any.
fn try_zstd(planes: &[u8], params: (u8, Option<i64>), start: usize, out: &mut Vec<u8>) {
    let light = out.len() - start;
    let values = planes.len() / usize::from(params.0.max(1));
    // A light encoding already under 2 bits a value cannot lose enough.
    if light * 4 < values {
        return;
    }
    if let Ok(compressed) = zstd::bulk::compress(planes, ZSTD_LEVEL)
        && ((compressed.len() + 16) as f64) <= light as f64 * ZSTD_WORTH_IT
    {
        out.truncate(start);
        out.extend_from_slice(&codec_header(ZSTD, params.0));
        if let Some(base) = params.1 {
            out.extend_from_slice(&base.to_le_bytes());
        }
        out.extend_from_slice(&compressed);
    }
}

/// Decodes a block of `rows` longs, appending to `out`.
pub fn decode_longs(block: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<(), DecodeError> {
    let tag = *block.first().ok_or("empty long block")?;
    let body = block.get(8..).ok_or("long block header is cut off")?;
    match tag {
        CONSTANT => {
            let v = read_i64(body, 0).ok_or("constant block is cut off")?;
            out.extend(std::iter::repeat_n(v, rows));
        }
        FOR | DELTA => {
            let base = read_i64(body, 0).ok_or("block base is cut off")?;
            check_count(packed_count(body, 8)?, rows)?;
            out.reserve(rows);
            decode_packed_with(body, 8, tag == DELTA, |offsets| {
                out.extend(offsets.iter().map(|&o| base.wrapping_add(i64::from(o))));
            })?;
        }
        RAW => decode_raw_longs(body, rows, out)?,
        ZSTD => {
            let planes = usize::from(block[1]);
            if !(1..=8).contains(&planes) {
                return Err(format!("{planes} byte planes"));
            }
            let base = read_i64(body, 0).ok_or("block base is cut off")?;
            let frame = body.get(8..).ok_or("block base is cut off")?;
            // The offset's bytes are disjoint bit ranges: adding them one
            // by one to the base adds the whole offset.
            append_planes(frame, rows, planes, out, base, |value, part| {
                value.wrapping_add(part as i64)
            })?;
        }
        other => return Err(format!("unknown long codec {other}")),
    }
    Ok(())
}

fn check_count(found: usize, rows: usize) -> Result<(), DecodeError> {
    if found != rows {
        return Err(format!(
            "block holds {found} values, the footer says {rows}"
        ));
    }
    Ok(())
}

fn decode_raw_longs(bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<(), DecodeError> {
    let data = bytes.get(..rows * 8).ok_or("raw block is cut off")?;
    out.extend(
        data.chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
    );
    Ok(())
}

/// The smallest decimal scale (0..=6) at which every value is an exact
/// integer that converts back to the same bits.
fn decimal_scale(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    'scale: for scale in 0u8..=6 {
        let factor = 10f64.powi(scale as i32);
        let mut scaled = Vec::with_capacity(values.len());
        for &v in values {
            let s = (v * factor).round();
            if !s.is_finite() || s.abs() >= 2f64.powi(53) {
                return None;
            }
            let n = s as i64;
            if (n as f64 / factor).to_bits() != v.to_bits() {
                continue 'scale;
            }
            scaled.push(n);
        }
        return Some((scale, scaled));
    }
    None
}

/// Encodes a block of doubles with the best codec for it.
pub fn encode_doubles(values: &[f64], goal: BlockGoal, out: &mut Vec<u8>) {
    let start = out.len();
    if let Some(first) = values.first()
        && values.iter().all(|v| v.to_bits() == first.to_bits())
    {
        out.extend_from_slice(&codec_header(CONSTANT, 0));
        out.extend_from_slice(&first.to_le_bytes());
        return;
    }
    match decimal_scale(values) {
        Some((scale, scaled))
            if scaled
                .iter()
                .max()
                .zip(scaled.iter().min())
                .is_some_and(|(&max, &min)| (max as i128 - min as i128) <= u32::MAX as i128) =>
        {
            let min = scaled.iter().copied().min().unwrap_or(0);
            let offsets: Vec<u32> = scaled.iter().map(|&v| (v - min) as u32).collect();
            out.extend_from_slice(&codec_header(FOR, scale));
            out.extend_from_slice(&min.to_le_bytes());
            encode_packed(&offsets, false, out);
        }
        _ => {
            out.extend_from_slice(&codec_header(RAW, 0));
            values
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        }
    }
    let bits = values.iter().map(|v| v.to_bits());
    if goal == BlockGoal::Compact {
        try_zstd(&to_planes(bits, 8), (8, None), start, out);
    }
}

/// Decodes a block of `rows` doubles, appending to `out`.
pub fn decode_doubles(block: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<(), DecodeError> {
    let tag = *block.first().ok_or("empty double block")?;
    let param = *block.get(1).ok_or("double block header is cut off")?;
    let body = block.get(8..).ok_or("double block header is cut off")?;
    match tag {
        CONSTANT => {
            let v = read_u64(body, 0).ok_or("constant block is cut off")?;
            out.extend(std::iter::repeat_n(f64::from_bits(v), rows));
        }
        FOR => {
            if param > 6 {
                return Err(format!("decimal scale {param} is over 6"));
            }
            let factor = 10f64.powi(param as i32);
            let base = read_i64(body, 0).ok_or("block base is cut off")?;
            check_count(packed_count(body, 8)?, rows)?;
            out.reserve(rows);
            decode_packed_with(body, 8, false, |offsets| {
                out.extend(
                    offsets
                        .iter()
                        .map(|&o| base.wrapping_add(i64::from(o)) as f64 / factor),
                );
            })?;
        }
        RAW => {
            let data = body.get(..rows * 8).ok_or("raw block is cut off")?;
            out.extend(
                data.chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            );
        }
        ZSTD => {
            append_planes(body, rows, 8, out, 0.0, |value, part| {
                f64::from_bits(value.to_bits() | part)
            })?;
        }
        other => return Err(format!("unknown double codec {other}")),
    }
    Ok(())
}

/// Appends `body` framed as a *maybe-compressed* block: a `u8` form and
/// seven zero bytes, then the body as it is (form 0) or a `u64` body length
/// and one zstd frame of it (form 1), when that takes at most `worth_it` of
/// the body. Dictionaries and bitmap groups are stored this way.
pub fn encode_maybe_compressed(body: &[u8], level: i32, worth_it: f64, out: &mut Vec<u8>) {
    match zstd::bulk::compress(body, level) {
        Ok(compressed) if (compressed.len() + 8) as f64 <= body.len() as f64 * worth_it => {
            out.extend_from_slice(&codec_header(1, 0));
            out.extend_from_slice(&(body.len() as u64).to_le_bytes());
            out.extend_from_slice(&compressed);
        }
        _ => {
            out.extend_from_slice(&codec_header(0, 0));
            out.extend_from_slice(body);
        }
    }
}

/// A maybe-compressed block's body: `Ok(Some(body))` when stored as it is,
/// `Ok(None)` when it must go through [`decompress_framed`].
pub fn plain_framed(block: &[u8]) -> Result<Option<&[u8]>, DecodeError> {
    match block.first() {
        Some(0) => Ok(Some(block.get(8..).ok_or("block header is cut off")?)),
        Some(1) => Ok(None),
        _ => Err("unknown block form".into()),
    }
}

/// Decompresses a maybe-compressed block's zstd body.
pub fn decompress_framed(block: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let len = read_u64(block, 8).ok_or("block header is cut off")? as usize;
    let frame = block.get(16..).ok_or("block header is cut off")?;
    let body = decompress(frame, len).map_err(|e| e.to_string())?;
    check_count(body.len(), len)?;
    Ok(body)
}

/// Encodes a single-value string column's codes: packed, or — for skewed
/// columns, where a few values fill most rows — zstd over the codes' byte
/// planes, whose Huffman stage gets close to the values' entropy. zstd is
/// taken only when it saves at least [`CODES_ZSTD_WORTH_IT`].
pub fn encode_codes(codes: &[u32], goal: BlockGoal, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&codec_header(0, 0));
    encode_packed(codes, false, out);
    let packed = out.len() - start;
    let Some(&max) = codes.iter().max() else {
        return;
    };
    if goal == BlockGoal::FastScan {
        return;
    }
    let planes = plane_count(u64::from(max));
    let bytes = to_planes(codes.iter().map(|&c| u64::from(c)), planes);
    if let Ok(compressed) = zstd::bulk::compress(&bytes, ZSTD_LEVEL)
        && ((compressed.len() + 8) as f64) <= packed as f64 * CODES_ZSTD_WORTH_IT
    {
        out.truncate(start);
        out.extend_from_slice(&codec_header(1, planes as u8));
        out.extend_from_slice(&compressed);
    }
}

/// Decodes `rows` codes encoded by [`encode_codes`], appending to `out`.
pub fn decode_codes(block: &[u8], rows: usize, out: &mut Vec<u32>) -> Result<(), DecodeError> {
    let (form, planes) = (
        *block.first().ok_or("empty id block")?,
        *block.get(1).ok_or("id block header is cut off")?,
    );
    match form {
        0 => {
            decode_packed(block, 8, false, out)?;
        }
        1 if (1..=4).contains(&planes) => {
            let planes = planes as usize;
            let frame = block.get(8..).ok_or("id block header is cut off")?;
            append_planes(frame, rows, planes, out, 0u32, |code, part| {
                code | part as u32
            })?;
        }
        other => {
            return Err(format!(
                "unknown id block form {other} with {planes} planes"
            ));
        }
    }
    check_count(out.len(), rows)
}

/// Encodes variable-length values (text, sketches): their lengths as a
/// packed run, then their bytes, zstd-compressed at `level` when that saves
/// space. Lengths stay outside the zstd frame because bit-packing already
/// takes them to a byte or two and they decode without decompressing.
pub fn encode_var_binary<'v>(
    values: impl ExactSizeIterator<Item = &'v [u8]> + Clone,
    level: i32,
    out: &mut Vec<u8>,
) {
    let lengths: Vec<u32> = values.clone().map(|v| v.len() as u32).collect();
    let mut data = Vec::with_capacity(lengths.iter().map(|&l| l as usize).sum());
    values.for_each(|v| data.extend_from_slice(v));
    let compressed = zstd::bulk::compress(&data, level)
        .ok()
        .filter(|c| c.len() < data.len());
    out.extend_from_slice(&codec_header(u8::from(compressed.is_some()), 0));
    encode_packed(&lengths, false, out);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(compressed.as_deref().unwrap_or(&data));
}

/// A decoded block of variable-length values.
#[derive(Debug, Clone)]
pub struct VarBinaryBlock {
    /// `ends[i]` is where value `i` ends in `data`; value 0 starts at 0.
    ends: Vec<u32>,
    data: Vec<u8>,
}

impl VarBinaryBlock {
    pub fn decode(block: &[u8]) -> Result<Self, DecodeError> {
        let tag = *block.first().ok_or("empty variable-length block")?;
        if tag == TOKENIZED || tag == FRAMED {
            let (ends, data) = decode_tokenized(block)?;
            return Ok(Self { ends, data });
        }
        let mut ends = Vec::new();
        let at = decode_packed(block, 8, false, &mut ends)?;
        let len = read_u64(block, at).ok_or("data length is cut off")? as usize;
        let stored = block.get(at + 8..).ok_or("data is cut off")?;
        let data = match tag {
            0 => stored.to_vec(),
            1 => decompress(stored, len).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown variable-length codec {other}")),
        };
        check_count(data.len(), len)?;
        let mut end = 0u64;
        for length in &mut ends {
            end += u64::from(*length);
            *length = u32::try_from(end).map_err(|_| "values overflow the block")?;
        }
        if end != data.len() as u64 {
            return Err("value lengths do not add up to the block's data".into());
        }
        Ok(Self { ends, data })
    }

    /// [`decode`](Self::decode) of the values in `rows` only: value `i` of
    /// the answer is row `rows.start + i` of the block. A block of token
    /// streams rebuilds those rows alone; any other is decoded whole.
    pub fn decode_rows(block: &[u8], rows: std::ops::Range<usize>) -> Result<Self, DecodeError> {
        if matches!(block.first(), Some(&(TOKENIZED | FRAMED))) {
            let (ends, data) = decode_tokenized_rows(block, rows)?;
            return Ok(Self { ends, data });
        }
        let whole = Self::decode(block)?;
        if rows.end > whole.len() || rows.start > rows.end {
            return Err(format!("rows {rows:?} of a block of {}", whole.len()));
        }
        let first = match rows.start {
            0 => 0,
            start => whole.ends[start - 1],
        };
        let ends = whole.ends[rows.clone()]
            .iter()
            .map(|end| end - first)
            .collect();
        let last = whole
            .ends
            .get(rows.end.wrapping_sub(1))
            .copied()
            .unwrap_or(first);
        let data = whole.data[first as usize..last.max(first) as usize].to_vec();
        Ok(Self { ends, data })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Value `i`, `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.data.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip_longs(values: &[i64]) -> Vec<i64> {
        let mut bytes = Vec::new();
        encode_longs(values, BlockGoal::Compact, &mut bytes);
        let mut out = Vec::new();
        decode_longs(&bytes, values.len(), &mut out).unwrap();
        out
    }

    fn roundtrip_doubles(values: &[f64]) -> Vec<f64> {
        let mut bytes = Vec::new();
        encode_doubles(values, BlockGoal::Compact, &mut bytes);
        let mut out = Vec::new();
        decode_doubles(&bytes, values.len(), &mut out).unwrap();
        out
    }

    proptest! {
        #[test]
        fn longs_roundtrip(values in prop::collection::vec(any::<i64>(), 0..700)) {
            prop_assert_eq!(roundtrip_longs(&values), values);
        }

        #[test]
        fn narrow_longs_roundtrip(values in prop::collection::vec(-1000i64..1000, 0..700)) {
            prop_assert_eq!(roundtrip_longs(&values), values);
        }

        #[test]
        fn sorted_longs_roundtrip(mut values in prop::collection::vec(0i64..1 << 40, 0..700)) {
            values.sort();
            prop_assert_eq!(roundtrip_longs(&values), values);
        }

        #[test]
        fn doubles_roundtrip_bit_for_bit(values in prop::collection::vec(any::<f64>(), 0..500)) {
            let out = roundtrip_doubles(&values);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&out), bits(&values));
        }

        #[test]
        fn decimals_roundtrip(values in prop::collection::vec(0u32..10_000_000, 1..500)) {
            let values: Vec<f64> = values.iter().map(|&v| v as f64 / 1000.0).collect();
            let out = roundtrip_doubles(&values);
            prop_assert_eq!(out, values);
        }

        #[test]
        fn packed_roundtrip(values in prop::collection::vec(any::<u32>(), 0..1000), sorted in any::<bool>()) {
            let mut values = values;
            if sorted { values.sort(); }
            let mut bytes = Vec::new();
            encode_packed(&values, sorted, &mut bytes);
            let mut out = Vec::new();
            let end = decode_packed(&bytes, 0, sorted, &mut out).unwrap();
            prop_assert_eq!(end, bytes.len());
            prop_assert_eq!(out, values);
        }

        #[test]
        fn codes_roundtrip(codes in prop::collection::vec(prop_oneof![0u32..3, any::<u32>()], 0..2000)) {
            let mut bytes = Vec::new();
            encode_codes(&codes, BlockGoal::Compact, &mut bytes);
            let mut out = Vec::new();
            decode_codes(&bytes, codes.len(), &mut out).unwrap();
            prop_assert_eq!(out, codes);
        }

        #[test]
        fn var_binary_roundtrip(values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..100)) {
            let mut bytes = Vec::new();
            encode_var_binary(values.iter().map(|v| v.as_slice()), 3, &mut bytes);
            let block = VarBinaryBlock::decode(&bytes).unwrap();
            prop_assert_eq!(block.len(), values.len());
            for (i, v) in values.iter().enumerate() {
                prop_assert_eq!(block.get(i).unwrap(), v.as_slice());
            }
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), rows in 0usize..300) {
            let _ = decode_longs(&bytes, rows, &mut Vec::new());
            let _ = decode_doubles(&bytes, rows, &mut Vec::new());
            let _ = decode_packed(&bytes, 0, rows % 2 == 0, &mut Vec::new());
            let _ = decode_codes(&bytes, rows, &mut Vec::new());
            let _ = VarBinaryBlock::decode(&bytes);
        }
    }

    #[test]
    fn skewed_codes_take_zstd_and_uniform_codes_stay_packed() {
        // One value in almost every row, as a Zipf-distributed country.
        let skewed: Vec<u32> = (0..65536u32)
            .map(|i| if i % 50 == 0 { 1 + i % 200 } else { 1 })
            .collect();
        let mut bytes = Vec::new();
        encode_codes(&skewed, BlockGoal::Compact, &mut bytes);
        assert_eq!(bytes[0], 1, "skewed codes are zstd-coded");
        let mut out = Vec::new();
        decode_codes(&bytes, skewed.len(), &mut out).unwrap();
        assert_eq!(out, skewed);

        let mut state = 42u64;
        let uniform: Vec<u32> = (0..65536)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) % 1000) as u32
            })
            .collect();
        let mut bytes = Vec::new();
        encode_codes(&uniform, BlockGoal::Compact, &mut bytes);
        assert_eq!(bytes[0], 0, "uniform codes stay bit-packed");
    }

    /// A table encoded for scans keeps the light encodings even where zstd
    /// would be smaller, and its blocks read back the same.
    #[test]
    fn blocks_encoded_for_scans_never_take_zstd() {
        let skewed: Vec<u32> = (0..65536u32)
            .map(|i| if i % 50 == 0 { 1 + i % 200 } else { 1 })
            .collect();
        let mut bytes = Vec::new();
        encode_codes(&skewed, BlockGoal::FastScan, &mut bytes);
        assert_eq!(bytes[0], 0, "codes stay bit-packed");
        let mut out = Vec::new();
        decode_codes(&bytes, skewed.len(), &mut out).unwrap();
        assert_eq!(out, skewed);

        // Mostly small values with rare large ones: zstd's kind of block.
        let longs: Vec<i64> = (0..65536i64)
            .map(|i| if i % 97 == 0 { 1 << 40 } else { i % 3 })
            .collect();
        let doubles: Vec<f64> = longs.iter().map(|&v| v as f64 + 0.123_456_789).collect();
        let mut compact = Vec::new();
        encode_longs(&longs, BlockGoal::Compact, &mut compact);
        assert_eq!(compact[0], ZSTD, "the compact goal takes zstd here");
        let mut fast = Vec::new();
        encode_longs(&longs, BlockGoal::FastScan, &mut fast);
        assert_ne!(fast[0], ZSTD);
        let mut out = Vec::new();
        decode_longs(&fast, longs.len(), &mut out).unwrap();
        assert_eq!(out, longs);
        let mut fast = Vec::new();
        encode_doubles(&doubles, BlockGoal::FastScan, &mut fast);
        assert_ne!(fast[0], ZSTD);
        let mut out = Vec::new();
        decode_doubles(&fast, doubles.len(), &mut out).unwrap();
        assert_eq!(out, doubles);
    }

    #[test]
    fn picks_light_encodings_for_typical_columns() {
        // Event times with irregular gaps of 0..120 ms.
        let mut state = 7u64;
        let mut t = 1_704_067_200_000i64;
        let time: Vec<i64> = (0..65536)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                t += ((state >> 33) % 120) as i64;
                t
            })
            .collect();
        let mut bytes = Vec::new();
        encode_longs(&time, BlockGoal::Compact, &mut bytes);
        assert_eq!(bytes[0], DELTA);
        assert!(
            bytes.len() < 65536,
            "sorted time deltas pack under a byte each"
        );

        let durations: Vec<f64> = (0..1000)
            .map(|i| (i * 7919 % 100_000) as f64 / 1000.0)
            .collect();
        let mut bytes = Vec::new();
        encode_doubles(&durations, BlockGoal::Compact, &mut bytes);
        assert_eq!(
            (bytes[0], bytes[1]),
            (FOR, 3),
            "3-decimal doubles are exact decimals"
        );
    }
}

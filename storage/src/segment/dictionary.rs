//! The sorted dictionary of a string column.
//!
//! Each distinct value of a string column is stored once, in byte order, and
//! rows refer to values by their position in that order, the *dictionary id*.
//! Sorted ids make range and prefix filters a binary search, and group-by
//! results come out already ordered by value.
//!
//! Block layout: a `u8` form and seven zero bytes, then the body — as it is
//! (form 0) or as a `u64` body length and one zstd frame (form 1, chosen when
//! it saves at least a third). The body: `u32` count n, `n + 1` `u32` end
//! offsets (the first is 0), then the UTF-8 values back to back. A plain
//! dictionary is read in place from the memory-mapped file; a compressed
//! one is decompressed once, the first time the table needs it.

use std::path::Path;

use super::SegmentError;
use super::codec;
use super::layout::read_u32;

const ZSTD_LEVEL: i32 = 3;
/// zstd must save at least a third to be worth decompressing on first use.
const ZSTD_WORTH_IT: f64 = 2.0 / 3.0;

/// Serializes `values`, which must be sorted and distinct.
pub(crate) fn encode_dictionary(values: &[&str], out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(values.iter().map(|v| v.len() + 4).sum::<usize>() + 8);
    body.extend_from_slice(&(values.len() as u32).to_le_bytes());
    let mut end = 0u32;
    body.extend_from_slice(&end.to_le_bytes());
    for v in values {
        end += v.len() as u32;
        body.extend_from_slice(&end.to_le_bytes());
    }
    for v in values {
        body.extend_from_slice(v.as_bytes());
    }
    codec::encode_maybe_compressed(&body, ZSTD_LEVEL, ZSTD_WORTH_IT, out);
}

/// A string column's dictionary, borrowed from the mapped file.
#[derive(Debug, Clone, Copy)]
pub struct Dictionary<'t> {
    bytes: &'t [u8],
    len: usize,
    path: &'t Path,
}

impl<'t> Dictionary<'t> {
    /// Checks the block's framing once so that lookups cannot go out of
    /// bounds.
    pub(crate) fn parse(bytes: &'t [u8], path: &'t Path) -> Result<Self, SegmentError> {
        let corrupt = |what: &str| SegmentError::corrupt(path, format!("dictionary: {what}"));
        let len = read_u32(bytes, 0).ok_or_else(|| corrupt("count is cut off"))? as usize;
        let data_start = len
            .checked_add(2)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| corrupt("count is absurd"))?;
        let last = read_u32(bytes, 4 + len * 4).ok_or_else(|| corrupt("offsets are cut off"))?;
        if data_start + last as usize != bytes.len() {
            return Err(corrupt("offsets do not match the block's length"));
        }
        let mut previous = 0;
        for i in 0..=len {
            let end = read_u32(bytes, 4 + i * 4).ok_or_else(|| corrupt("offsets are cut off"))?;
            if end < previous {
                return Err(corrupt("offsets go backwards"));
            }
            previous = end;
        }
        std::str::from_utf8(&bytes[data_start..]).map_err(|_| corrupt("values are not UTF-8"))?;
        Ok(Self { bytes, len, path })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of dictionary id `id`.
    pub fn value(&self, id: u32) -> Result<&'t str, SegmentError> {
        let id = id as usize;
        let corrupt =
            || SegmentError::corrupt(self.path, format!("dictionary id {id} is out of range"));
        if id >= self.len {
            return Err(corrupt());
        }
        let data_start = 4 + (self.len + 1) * 4;
        let start = read_u32(self.bytes, 4 + id * 4).ok_or_else(corrupt)? as usize;
        let end = read_u32(self.bytes, 8 + id * 4).ok_or_else(corrupt)? as usize;
        let raw = self
            .bytes
            .get(data_start + start..data_start + end)
            .ok_or_else(corrupt)?;
        // The whole value region was checked to be UTF-8 at parse time, but a
        // value boundary could still split a character in a crafted file.
        std::str::from_utf8(raw).map_err(|_| {
            SegmentError::corrupt(self.path, format!("dictionary value {id} is not UTF-8"))
        })
    }

    /// The id of `value`, if the column holds it.
    pub fn find(&self, value: &str) -> Result<Option<u32>, SegmentError> {
        Ok(self.search(value)?.ok())
    }

    /// Binary search: `Ok(id)` when found, `Err(id)` where it would be
    /// inserted (so `[Err(a), Err(b))` is the id range between two bounds).
    pub fn search(&self, value: &str) -> Result<Result<u32, u32>, SegmentError> {
        let (mut low, mut high) = (0usize, self.len);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.value(mid as u32)?.cmp(value) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(Ok(mid as u32)),
            }
        }
        Ok(Err(low as u32))
    }

    /// Every value in id order.
    pub fn iter(&self) -> impl Iterator<Item = Result<&'t str, SegmentError>> + '_ {
        (0..self.len as u32).map(|id| self.value(id))
    }
}

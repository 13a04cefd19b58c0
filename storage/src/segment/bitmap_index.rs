//! The bitmap index of a string column: one roaring bitmap of row ids per
//! dictionary value.
//!
//! A filter on a string dimension never reads the column itself: it looks the
//! value (or every value in a range or matching a pattern) up in the
//! [`Dictionary`](super::Dictionary) and unions the bitmaps of the ids it
//! finds. Intersecting filters is then a roaring AND.
//!
//! Bitmaps are stored in groups of consecutive dictionary ids, one
//! checksummed block per group. A group closes at [`GROUP_VALUES`] values or
//! once it holds [`GROUP_BYTES`], so reading one bitmap never means reading
//! much more than it. A group block is maybe-compressed (see
//! `codec::encode_maybe_compressed`): zstd when that saves enough, since
//! row lists and sparse bitmaps still hold entropy zstd's Huffman stage
//! removes. The body: `u32` count n, `n + 1` `u32` end offsets (the first is 0), then the
//! n entries. An entry is a tag byte and the bitmap in whichever of two
//! forms is smaller:
//!
//! - tag 0, *roaring*: the roaring portable serialization format (the one
//!   CRoaring and Java's RoaringBitmap share), best for values that many
//!   rows hold;
//! - tag 1, *row list*: the row ids as LEB128 varints, the first as is and
//!   each next one as its distance from the previous, as a search engine
//!   stores a posting list. A value held by a few rows scattered over the
//!   table (a user id) costs 2-3 bytes a row this way, against 8 or more in
//!   roaring, whose array containers each carry their own header.

use roaring::RoaringBitmap;

use super::SegmentError;
use super::codec;
use super::layout::{BitmapGroupRef, BlockIndex, read_u32};
use super::reader::Table;

/// Most values in one group.
pub const GROUP_VALUES: usize = 1024;
/// A group closes once its entries reach this many bytes.
pub const GROUP_BYTES: usize = 256 << 10;
/// zstd must shrink a group to this fraction of its size to be used; a
/// compressed group is decompressed once, the first time one of its bitmaps
/// is read, and kept with the table.
pub const GROUP_ZSTD_WORTH_IT: f64 = 0.92;
const GROUP_ZSTD_LEVEL: i32 = 3;

const ROARING: u8 = 0;
const ROW_LIST: u8 = 1;

/// Bytes of `rows` as a delta-varint row list.
fn row_list_len(rows: &[u32]) -> usize {
    let mut previous = 0;
    rows.iter()
        .map(|&row| {
            let gap = row - previous;
            previous = row;
            varint_len(gap)
        })
        .sum()
}

fn varint_len(v: u32) -> usize {
    (32 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

fn push_varint(mut v: u32, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The size of `rows` in roaring's portable format with array and bitmap
/// containers (run containers can only make it smaller): a cookie and a
/// container count, then per container a key, a cardinality and an offset,
/// and 2 bytes a row for up to 4096 rows or an 8 KiB bitmap beyond.
fn roaring_len_without_runs(rows: &[u32]) -> usize {
    let mut len = 8;
    let mut at = 0;
    while at < rows.len() {
        let key = rows[at] >> 16;
        let count = rows[at..].iter().take_while(|&&r| r >> 16 == key).count();
        len += 8 + if count <= 4096 { 2 * count } else { 8192 };
        at += count;
    }
    len
}

/// Appends the entry for one value, held by `rows` (sorted, distinct).
fn encode_entry(rows: &[u32], out: &mut Vec<u8>) {
    let list_len = row_list_len(rows);
    // Only a value dense enough for long runs can make roaring smaller than
    // the estimate; building the bitmap is worth it only then.
    if list_len > roaring_len_without_runs(rows) || list_len > 4 * rows.len() / 3 {
        let mut bitmap = RoaringBitmap::from_sorted_iter(rows.iter().copied()).unwrap_or_default();
        bitmap.optimize();
        if bitmap.serialized_size() < list_len {
            out.push(ROARING);
            // Writing into a Vec cannot fail.
            let _ = bitmap.serialize_into(&mut *out);
            return;
        }
    }
    out.push(ROW_LIST);
    let mut previous = 0;
    for &row in rows {
        push_varint(row - previous, out);
        previous = row;
    }
}

/// Encodes the bitmaps of every dictionary id, in id order, from each id's
/// sorted rows, handing each finished group block to `write_block`; returns
/// where each group starts.
pub(crate) fn encode_bitmap_groups<'r, E>(
    lists: impl Iterator<Item = &'r [u32]>,
    mut write_block: impl FnMut(&[u8]) -> Result<BlockIndex, E>,
) -> Result<Vec<BitmapGroupRef>, E> {
    let mut groups = Vec::new();
    let mut entries = Vec::new();
    let mut ends: Vec<u32> = Vec::new();
    let mut first_id = 0u32;
    let mut block = Vec::new();
    let mut flush = |first_id: u32, entries: &mut Vec<u8>, ends: &mut Vec<u32>| -> Result<(), E> {
        block.clear();
        encode_group(entries, ends, &mut block);
        groups.push(BitmapGroupRef(first_id, write_block(&block)?));
        entries.clear();
        ends.clear();
        Ok(())
    };
    for (id, rows) in lists.enumerate() {
        if ends.len() == GROUP_VALUES || entries.len() >= GROUP_BYTES {
            flush(first_id, &mut entries, &mut ends)?;
            first_id = id as u32;
        }
        encode_entry(rows, &mut entries);
        ends.push(entries.len() as u32);
    }
    if !ends.is_empty() {
        flush(first_id, &mut entries, &mut ends)?;
    }
    Ok(groups)
}

/// One group block from its entries and their end offsets.
fn encode_group(entries: &[u8], ends: &[u32], out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(4 + (ends.len() + 1) * 4 + entries.len());
    body.extend_from_slice(&(ends.len() as u32).to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    ends.iter()
        .for_each(|end| body.extend_from_slice(&end.to_le_bytes()));
    body.extend_from_slice(entries);
    codec::encode_maybe_compressed(&body, GROUP_ZSTD_LEVEL, GROUP_ZSTD_WORTH_IT, out);
}

/// Decodes a delta-varint row list; `None` if it is malformed.
fn decode_row_list(mut bytes: &[u8]) -> Option<RoaringBitmap> {
    let mut rows = Vec::new();
    let mut previous: Option<u32> = None;
    while !bytes.is_empty() {
        let (mut value, mut shift) = (0u32, 0u32);
        loop {
            let (&byte, rest) = bytes.split_first()?;
            bytes = rest;
            value |= u32::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
        let row = match previous {
            None => value,
            Some(p) if value > 0 => p.checked_add(value)?,
            Some(_) => return None,
        };
        rows.push(row);
        previous = Some(row);
    }
    RoaringBitmap::from_sorted_iter(rows).ok()
}

/// The bitmaps of one string column.
#[derive(Debug, Clone, Copy)]
pub struct BitmapIndex<'t> {
    table: &'t Table,
    groups: &'t [BitmapGroupRef],
    cardinality: u32,
}

impl<'t> BitmapIndex<'t> {
    pub(crate) fn new(table: &'t Table, groups: &'t [BitmapGroupRef], cardinality: u32) -> Self {
        Self {
            table,
            groups,
            cardinality,
        }
    }

    /// The rows holding dictionary id `id`.
    pub fn bitmap(&self, id: u32) -> Result<RoaringBitmap, SegmentError> {
        let path = self.table.path();
        if id >= self.cardinality {
            return Err(SegmentError::corrupt(
                path,
                format!(
                    "bitmap for dictionary id {id} requested, the column has {}",
                    self.cardinality
                ),
            ));
        }
        // Groups start at increasing ids, the first at 0 (checked at open).
        let group = self
            .groups
            .partition_point(|g| g.first_id() <= id)
            .saturating_sub(1);
        let Some(group_ref) = self.groups.get(group) else {
            return Err(SegmentError::corrupt(
                path,
                format!("bitmap group {group} is missing"),
            ));
        };
        let index = (id - group_ref.first_id()) as usize;
        let corrupt =
            |detail: &str| SegmentError::corrupt(path, format!("bitmap group {group}: {detail}"));
        let body = self.table.block_body(group_ref.block())?;
        let count = read_u32(body, 0).ok_or_else(|| corrupt("count is cut off"))? as usize;
        if index >= count {
            return Err(corrupt("it holds fewer values than the footer says"));
        }
        let data_start = 4 + (count + 1) * 4;
        let start =
            read_u32(body, 4 + index * 4).ok_or_else(|| corrupt("offsets are cut off"))? as usize;
        let end =
            read_u32(body, 8 + index * 4).ok_or_else(|| corrupt("offsets are cut off"))? as usize;
        let bytes = body
            .get(data_start + start..data_start + end)
            .ok_or_else(|| corrupt("an entry lies outside the group"))?;
        let bad = |detail: String| {
            SegmentError::corrupt(path, format!("bitmap of dictionary id {id}: {detail}"))
        };
        let bitmap = match bytes.split_first() {
            Some((&ROARING, roaring)) => {
                RoaringBitmap::deserialize_from(roaring).map_err(|e| bad(e.to_string()))?
            }
            Some((&ROW_LIST, list)) => {
                decode_row_list(list).ok_or_else(|| bad("malformed row list".into()))?
            }
            _ => return Err(bad("unknown encoding".into())),
        };
        if bitmap
            .max()
            .is_some_and(|max| u64::from(max) >= self.table.rows())
        {
            return Err(SegmentError::corrupt(
                path,
                format!("bitmap of dictionary id {id} names rows past the end of the table"),
            ));
        }
        Ok(bitmap)
    }

    /// The union of the bitmaps of ids in `[start, end)`: a range or prefix
    /// filter over sorted values.
    pub fn union_range(&self, start: u32, end: u32) -> Result<RoaringBitmap, SegmentError> {
        let mut union = RoaringBitmap::new();
        for id in start..end.min(self.cardinality) {
            union |= self.bitmap(id)?;
        }
        Ok(union)
    }
}

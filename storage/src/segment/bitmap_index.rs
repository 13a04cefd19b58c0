//! The bitmap index of a string column: one roaring bitmap of row ids per
//! dictionary value.
//!
//! A filter on a string dimension never reads the column itself: it looks the
//! value (or every value in a range or matching a pattern) up in the
//! [`Dictionary`](super::Dictionary) and unions the bitmaps of the ids it
//! finds. Intersecting filters is then a roaring AND.
//!
//! Bitmaps are stored in groups of [`BITMAP_GROUP`] consecutive dictionary
//! ids, one checksummed block per group: `u32` count n, `n + 1` `u32` end
//! offsets (the first is 0), then each bitmap in the roaring portable
//! serialization format (the one CRoaring and Java's RoaringBitmap share).

use roaring::RoaringBitmap;

use super::SegmentError;
use super::layout::{BITMAP_GROUP, read_u32};
use super::reader::Table;

/// Serializes one group of bitmaps.
pub(crate) fn encode_bitmap_group(bitmaps: &[RoaringBitmap], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bitmaps.len() as u32).to_le_bytes());
    let offsets_at = out.len();
    out.resize(offsets_at + (bitmaps.len() + 1) * 4, 0);
    let data_start = out.len();
    for (i, bitmap) in bitmaps.iter().enumerate() {
        // Writing into a Vec cannot fail.
        let _ = bitmap.serialize_into(&mut *out);
        let end = (out.len() - data_start) as u32;
        out[offsets_at + (i + 1) * 4..offsets_at + (i + 2) * 4].copy_from_slice(&end.to_le_bytes());
    }
}

/// The bitmaps of one string column.
#[derive(Debug, Clone, Copy)]
pub struct BitmapIndex<'t> {
    table: &'t Table,
    groups: &'t [u32],
    cardinality: u32,
}

impl<'t> BitmapIndex<'t> {
    pub(crate) fn new(table: &'t Table, groups: &'t [u32], cardinality: u32) -> Self {
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
        let group = (id as usize) / BITMAP_GROUP;
        let index = (id as usize) % BITMAP_GROUP;
        let block_index = *self.groups.get(group).ok_or_else(|| {
            SegmentError::corrupt(path, format!("bitmap group {group} is missing"))
        })?;
        let block = self.table.block(block_index)?;
        let corrupt = || SegmentError::corrupt(path, format!("bitmap group {group} is malformed"));
        let count = read_u32(block, 0).ok_or_else(corrupt)? as usize;
        if index >= count {
            return Err(corrupt());
        }
        let data_start = 4 + (count + 1) * 4;
        let start = read_u32(block, 4 + index * 4).ok_or_else(corrupt)? as usize;
        let end = read_u32(block, 8 + index * 4).ok_or_else(corrupt)? as usize;
        let bytes = block
            .get(data_start + start..data_start + end)
            .ok_or_else(corrupt)?;
        let bitmap = RoaringBitmap::deserialize_from(bytes).map_err(|e| {
            SegmentError::corrupt(path, format!("bitmap of dictionary id {id}: {e}"))
        })?;
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

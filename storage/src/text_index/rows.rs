//! From matching documents to table rows.
//!
//! Every document carries its table row in a `u64` fast field, so a match
//! becomes a row by one lookup in a bit-packed column, whichever tantivy
//! segment the document landed in and wherever merges moved it. The
//! collector takes every match — no scores, no top-k — in blocks, and hands
//! back a roaring bitmap: one more bitmap for the query engine to intersect.

use roaring::RoaringBitmap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Collects the rows of every matching document.
pub(super) struct RowCollector<'a> {
    /// The name of the fast field holding each document's row.
    pub(super) row_field: &'a str,
}

pub(super) struct SegmentRows {
    rows: Column<u64>,
    found: Vec<u32>,
    scratch: Vec<Option<u64>>,
}

impl Collector for RowCollector<'_> {
    type Fruit = RoaringBitmap;
    type Child = SegmentRows;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentRows> {
        Ok(SegmentRows {
            rows: reader.fast_fields().u64(self.row_field)?,
            found: Vec::new(),
            scratch: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<RoaringBitmap>) -> tantivy::Result<RoaringBitmap> {
        let mut segments = segments.into_iter();
        let mut rows = segments.next().unwrap_or_default();
        for more in segments {
            rows |= more;
        }
        Ok(rows)
    }
}

impl SegmentCollector for SegmentRows {
    type Fruit = RoaringBitmap;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.scratch.clear();
        self.scratch.resize(docs.len(), None);
        self.rows.first_vals(docs, &mut self.scratch);
        // Rows were checked to fit in a u32 when the index was opened.
        self.found
            .extend(self.scratch.iter().flatten().map(|&row| row as u32));
    }

    fn harvest(mut self) -> RoaringBitmap {
        // Documents are added in row order, so the rows of one segment come
        // sorted unless merges interleaved them.
        if !self.found.is_sorted() {
            self.found.sort_unstable();
        }
        self.found.dedup();
        RoaringBitmap::from_sorted_iter(self.found).unwrap_or_default()
    }
}

//! Building: one build thread's share of a load. Its events are parsed,
//! rolled up in memory by time chunk — the real-time index's own structure,
//! without a WAL — and, whenever they reach the thread's share of the memory
//! budget, written out as one unpublished segment partition per time chunk.
//!
//! Rollup is therefore exact within a run and best-effort across runs: two
//! runs holding the same time chunk give two partitions whose rollup rows
//! may share a key, which queries merge (Druid's "best-effort rollup" under
//! dynamic partitioning). A budget that holds a whole time chunk gives one
//! partition per chunk and thread.

use std::sync::Arc;

use strata_storage::catalog::SegmentDescriptor;
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::Millis;

use super::arrow_row::PreparedBatch;
use super::piece::{Piece, PieceContent};
use super::report::{RejectedRow, RowPosition};
use super::{LoadContext, LoadError};
use crate::parse::{EventParser, ParseError, ParsedEvent, ndjson_lines};
use crate::persist::write_segment_at;
use crate::realtime::RealtimeIndex;

/// See the [module docs](self).
pub(super) struct PartitionBuilder<'l, 'c> {
    load: &'l LoadContext<'c>,
    spec: DataSourceSpec,
    parser: Arc<EventParser>,
    generation: u64,
    index: RealtimeIndex,
    budget: usize,
    written: Vec<SegmentDescriptor>,
    events: u64,
}

impl<'l, 'c> PartitionBuilder<'l, 'c> {
    pub(super) fn new(load: &'l LoadContext<'c>, budget: usize) -> Result<Self, LoadError> {
        let (spec, parser, generation) = load.schema();
        let index = RealtimeIndex::new(spec.clone()).map_err(|source| LoadError::Layout {
            datasource: spec.name().to_owned(),
            source,
        })?;
        Ok(PartitionBuilder {
            load,
            spec,
            parser,
            generation,
            index,
            budget,
            written: Vec::new(),
            events: 0,
        })
    }

    /// Parses and adds the rows of `piece`, writing partitions out whenever
    /// the budget is full.
    pub(super) fn take(&mut self, piece: Piece) -> Result<(), LoadError> {
        self.refresh_schema()?;
        let file = piece.file;
        // Counted once a piece, not once a row: the build threads share the
        // counter.
        let mut rows = 0;
        match piece.content {
            PieceContent::Lines { first_line, bytes } => {
                for (number, line) in ndjson_lines(&bytes) {
                    let position = RowPosition::Line(first_line + number as u64 - 1);
                    self.add_row(file, position, &|parser| parser.parse_line(line))?;
                    rows += 1;
                }
            }
            PieceContent::Rows { start, batch } => {
                let prepared = PreparedBatch::new(
                    &batch,
                    self.load.columns(),
                    self.spec.timestamp_spec().column(),
                )
                .map_err(|source| LoadError::Column {
                    file: self.load.inputs[file].path.clone(),
                    source,
                })?;
                for row in 0..prepared.rows() {
                    self.add_row(file, start.position(row), &|parser| {
                        prepared.parse(parser, row)
                    })?;
                }
                rows = prepared.rows() as u64;
            }
        }
        self.load
            .progress
            .rows_read
            .fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Writes what is left in memory.
    pub(super) fn finish(&mut self) -> Result<(), LoadError> {
        self.write_partitions()
    }

    /// The unpublished segments written, to publish or, when the load
    /// stops, to remove.
    pub(super) fn into_partitions(self) -> BuiltPartitions {
        BuiltPartitions {
            segments: self.written,
            events: self.events,
        }
    }

    fn add_row(
        &mut self,
        file: usize,
        position: RowPosition,
        parse: &dyn Fn(&EventParser) -> Result<ParsedEvent, ParseError>,
    ) -> Result<(), LoadError> {
        let mut parsed = parse(&self.parser).map_err(|error| error.to_string());
        if let Ok(event) = &parsed
            && !event.discovered().is_empty()
        {
            match self.load.discover(event.discovered()) {
                Ok(()) => {
                    self.refresh_schema()?;
                    parsed = parse(&self.parser).map_err(|error| error.to_string());
                }
                Err(reason) => parsed = Err(reason),
            }
        }
        let added =
            parsed.and_then(|event| self.index.add(event, 0).map_err(|error| error.to_string()));
        match added {
            Ok(_) => {
                self.events += 1;
                if self.index.approx_bytes() >= self.budget {
                    self.write_partitions()?;
                }
                Ok(())
            }
            Err(reason) => {
                self.load.reject(RejectedRow {
                    file: self.load.inputs[file].path.clone(),
                    position,
                    reason,
                });
                Ok(())
            }
        }
    }

    /// Picks up dimensions that schema discovery added since the last look.
    fn refresh_schema(&mut self) -> Result<(), LoadError> {
        if self.load.generation() == self.generation {
            return Ok(());
        }
        let (spec, parser, generation) = self.load.schema();
        self.index.widen(spec.clone()).map_err(LoadError::Widen)?;
        self.spec = spec;
        self.parser = parser;
        self.generation = generation;
        Ok(())
    }

    /// Writes every time chunk held as the next partition of its version.
    fn write_partitions(&mut self) -> Result<(), LoadError> {
        let starts: Vec<Millis> = self
            .index
            .chunks()
            .map(|chunk| chunk.interval().start())
            .collect();
        for start in starts {
            let Some(chunk) = self.index.take_chunk(start) else {
                continue;
            };
            let (version, partition) = self.load.next_partition(&self.spec, chunk.interval())?;
            let segment =
                write_segment_at(self.load.catalog, &self.spec, &chunk, version, partition)?;
            self.written.push(segment);
        }
        Ok(())
    }
}

/// What one build thread wrote.
#[derive(Default)]
pub(super) struct BuiltPartitions {
    pub segments: Vec<SegmentDescriptor>,
    pub events: u64,
}

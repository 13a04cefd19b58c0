//! All the metrics of one rolled-up row, handled together.
//!
//! [`Aggregators`] is a datasource's `metricsSpec` made ready to aggregate:
//! it builds empty rows, reads stored ones back and names their columns. A
//! [`RollupRow`] is one row's states in `metricsSpec` order — a flat array of
//! [`AggregatorState`] values, so adding an event walks the array once, with no
//! dynamic dispatch and no allocation for numeric metrics.

use strata_storage::segment::CellValue;
use strata_storage::spec::Metric;
use strata_storage::time::Millis;

use super::{
    AggregatorState, IgnoredInput, InputCountMismatch, MergeError, MetricCell, MetricInput,
    RowCellsError,
};

/// A `metricsSpec`, ready to aggregate rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregators {
    metrics: Box<[Metric]>,
}

impl Aggregators {
    pub fn new(metrics: &[Metric]) -> Self {
        Aggregators {
            metrics: metrics.into(),
        }
    }

    /// The metrics, in `metricsSpec` order: the order of a row's inputs,
    /// states and cells.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// A row that has seen no event.
    pub fn new_row(&self) -> RollupRow {
        RollupRow {
            states: self
                .metrics
                .iter()
                .map(|metric| AggregatorState::new(metric.aggregator()))
                .collect(),
        }
    }

    /// A row read back from the metric cells of a stored rollup-table row,
    /// in `metricsSpec` order.
    pub fn row_from_cells(&self, cells: &[CellValue<'_>]) -> Result<RollupRow, RowCellsError> {
        if cells.len() != self.metrics.len() {
            return Err(RowCellsError::CellCount {
                expected: self.metrics.len(),
                found: cells.len(),
            });
        }
        let states = self
            .metrics
            .iter()
            .zip(cells)
            .map(|(metric, cell)| {
                AggregatorState::from_cell(metric.aggregator(), cell).map_err(|source| {
                    RowCellsError::Metric {
                        metric: metric.name().to_owned(),
                        source,
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(RollupRow { states })
    }
}

/// The metric states of one rolled-up row, in `metricsSpec` order.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    states: Box<[AggregatorState]>,
}

impl RollupRow {
    /// Aggregates one event: `inputs` holds one value per metric, in
    /// `metricsSpec` order (`count` reads none; pass [`MetricInput::Null`]).
    ///
    /// Returns the metrics that left their value out (see
    /// [`AggregatorState::add`]); the event counts in all the others. An empty
    /// list costs no allocation.
    pub fn add(
        &mut self,
        inputs: &[MetricInput<'_>],
        event_time: Millis,
    ) -> Result<Vec<IgnoredInput>, InputCountMismatch> {
        if inputs.len() != self.states.len() {
            return Err(InputCountMismatch {
                expected: self.states.len(),
                found: inputs.len(),
            });
        }
        let mut ignored = Vec::new();
        for (metric_index, (state, input)) in self.states.iter_mut().zip(inputs).enumerate() {
            if let Err(problem) = state.add(*input, event_time) {
                ignored.push(IgnoredInput {
                    metric_index,
                    problem,
                });
            }
        }
        Ok(ignored)
    }

    /// Absorbs `later`, a row of the same key and `metricsSpec` over events
    /// that arrived after this row's. Checked before anything changes: on a
    /// shape or kind mismatch this row is left as it was.
    pub fn merge(&mut self, later: &RollupRow) -> Result<(), MergeError> {
        if later.states.len() != self.states.len() {
            return Err(MergeError::MetricCount {
                expected: self.states.len(),
                found: later.states.len(),
            });
        }
        if let Some((this, other)) = self
            .states
            .iter()
            .zip(&later.states)
            .find(|(this, other)| this.druid_type() != other.druid_type())
        {
            return Err(MergeError::Mismatch {
                this: this.druid_type(),
                other: other.druid_type(),
            });
        }
        self.states
            .iter_mut()
            .zip(&later.states)
            .try_for_each(|(state, other)| state.merge(other))
    }

    /// Replaces `out`'s contents with this row's rollup-table cells, reusing
    /// its allocation.
    pub fn write_cells(&self, out: &mut Vec<MetricCell>) {
        out.clear();
        out.extend(self.states.iter().map(AggregatorState::to_cell));
    }

    /// The states, in `metricsSpec` order.
    pub fn states(&self) -> &[AggregatorState] {
        &self.states
    }

    /// An estimate of the memory the row's metrics hold, for the real-time
    /// index's memory budget.
    pub fn approx_bytes(&self) -> usize {
        size_of::<RollupRow>()
            + self
                .states
                .iter()
                .map(AggregatorState::approx_bytes)
                .sum::<usize>()
    }
}

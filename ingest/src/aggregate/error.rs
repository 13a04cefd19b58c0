//! What can go wrong feeding, merging and reloading aggregator states.
//!
//! Only [`InputProblem`] is about the data an event sent; it never stops the
//! event (see [`input`](super::input)). The others mean that two states do not
//! belong together or that stored bytes are damaged, and stop the operation.

/// Why one event's value was left out of one metric. The event is kept; the
/// message is meant for whoever sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputProblem {
    #[error(
        "{found:?} is not a number; {aggregator} reads numbers such as 42 or 1.5, so the value was left out of the metric (send a number, or null when there is none)"
    )]
    NotANumber {
        aggregator: &'static str,
        found: String,
    },
    #[error(
        "NaN is not a value {aggregator} can aggregate; it was left out of the metric (send null when there is no value)"
    )]
    NaN { aggregator: &'static str },
    #[error(
        "the {aggregator} sketch already holds the most values it can count (2^64 - 1); the value was left out of the metric"
    )]
    SketchFull { aggregator: &'static str },
}

/// One metric of a rolled-up row that left an event's value out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metric #{metric_index} of the metricsSpec: {problem}")]
pub struct IgnoredInput {
    /// The metric's position in the datasource's `metricsSpec`.
    pub metric_index: usize,
    pub problem: InputProblem,
}

/// A row was given a number of inputs that does not match its metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a rolled-up row has {expected} metrics but was given {found} inputs; pass one input per metric of the metricsSpec, in order (null for count)"
)]
pub struct InputCountMismatch {
    pub expected: usize,
    pub found: usize,
}

/// Two states that cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error(
        "cannot merge a {other} state into a {this} state; merge states built from the same metric of the same metricsSpec"
    )]
    Mismatch {
        this: &'static str,
        other: &'static str,
    },
    #[error(
        "cannot merge a row of {found} metrics into a row of {expected}; both rows must come from the same metricsSpec"
    )]
    MetricCount { expected: usize, found: usize },
    #[error("merging {aggregator} sketches: {detail}")]
    Sketch {
        aggregator: &'static str,
        detail: String,
    },
}

/// A stored cell that cannot be read back as a metric's state.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    #[error(
        "a {aggregator} column holds {expected}, but the stored value is {found}; the table was not written for this metricsSpec"
    )]
    WrongKind {
        aggregator: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "the stored {aggregator} value is damaged: {detail}; restore the segment from a replica or re-load its time chunk"
    )]
    Corrupt {
        aggregator: &'static str,
        detail: String,
    },
}

/// A stored rollup row that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum RowCellsError {
    #[error(
        "a rollup row of this metricsSpec has {expected} metric columns, but {found} cells were given"
    )]
    CellCount { expected: usize, found: usize },
    #[error("metric {metric:?}: {source}")]
    Metric {
        metric: String,
        #[source]
        source: CellError,
    },
}

//! The logical plan: what a query asks for, independent of how it was written.
//!
//! Front-ends (Druid native JSON, the Elasticsearch DSL) lower a
//! request into a [`QueryPlan`]; the planner and executor never see JSON.
//! A plan names the datasource's *logical* columns — dimensions and metrics
//! by the names the spec gives them — and says nothing of tables: which
//! table of a segment answers (the rollup table when that is exact, else the
//! events table) is the executor's choice.
//!
//! ```text
//! {"queryType": "timeseries", ...}  ─┐
//! {"queryType": "groupBy", ...}     ─┼─ lower ─> QueryPlan ─ execute ─> rows ─ front-end shapes the answer
//! ES _search, _msearch              ─┘
//! ```

use std::sync::Arc;

use strata_storage::granularity::Granularity;
use strata_storage::metric_cell::{HllSketch, QuantilesState};
use strata_storage::spec::{HllLgK, HllTargetType, QuantilesK};
use strata_storage::time::{Interval, Millis};

/// One query over one datasource.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub datasource: String,
    /// The rows whose `__time` lies in any of these; never empty.
    pub intervals: Vec<Interval>,
    /// Rows the query reads; `None` reads every row in the intervals.
    pub filter: Option<Filter>,
    pub aggregate: AggregatePlan,
}

impl QueryPlan {
    /// The plan that counts the events `filter` selects in `intervals`:
    /// one row, one `Count`; read its answer with [`counted_events`].
    pub fn event_count(
        datasource: String,
        intervals: Vec<Interval>,
        filter: Option<Filter>,
    ) -> QueryPlan {
        QueryPlan {
            datasource,
            intervals,
            filter,
            aggregate: AggregatePlan {
                granularity: Granularity::All,
                group_by: Vec::new(),
                aggregations: vec![Aggregation {
                    name: "count".to_owned(),
                    function: AggregateFunction::Count,
                }],
                post_aggregations: Vec::new(),
                zero_fill: false,
                having: None,
                grand_total: false,
            },
        }
    }
}

/// The events an [`QueryPlan::event_count`] plan counted.
pub fn counted_events(rows: &[ResultRow]) -> u64 {
    rows.iter()
        .filter_map(|row| match row.values.first() {
            Some(ResultValue::Long(count)) => u64::try_from(*count).ok(),
            _ => None,
        })
        .sum()
}

/// Grouping and aggregation: timeseries, topN and groupBy all lower into it.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatePlan {
    /// How `__time` is bucketed; [`Granularity::All`] makes one bucket.
    pub granularity: Granularity,
    /// The dimensions rows are grouped by, besides the time bucket.
    pub group_by: Vec<GroupKey>,
    pub aggregations: Vec<Aggregation>,
    pub post_aggregations: Vec<PostAggregation>,
    /// Whether every time bucket of the intervals appears, empty ones with
    /// their aggregators' empty values (Druid's timeseries without
    /// `skipEmptyBuckets`); only when there is no `group_by`.
    pub zero_fill: bool,
    /// Which result rows are kept, judged on their keys, aggregations and
    /// post-aggregations once all are computed; `None` keeps every row.
    pub having: Option<Having>,
    /// Whether the result ends with one more row, the grand total: every
    /// aggregation's accumulators of all the groups merged (so sums add up,
    /// minima and maxima and first/last pick across groups, sketches union)
    /// and the post-aggregations computed over those totals, as Druid's
    /// timeseries `grandTotal` does. That row has no keys and the earliest
    /// group's timestamp (0 with no group); having does not apply to it.
    pub grand_total: bool,
}

/// A dimension to group by, and the name its values take in the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub column: String,
    pub output_name: String,
}

/// One named aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub name: String,
    pub function: AggregateFunction,
}

/// The number type an aggregation computes in and returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberType {
    Long,
    Double,
    /// Druid's `float*` aggregators: computed and returned as 32-bit floats.
    Float,
}

/// The value type of a first/last aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Long,
    Double,
    /// Computed and returned as a 32-bit float, widened to a double.
    Float,
    String,
}

/// What an aggregation computes. A metric column of a rollup table holds
/// per-row partial results, so `Count` over a rollup table is the sum of its
/// stored count, as in Druid — that is the executor's business.
#[derive(Debug, Clone, PartialEq)]
pub enum AggregateFunction {
    /// Druid's `count`: the number of events (rows of the events table).
    Count,
    Sum {
        column: String,
        number: NumberType,
    },
    Min {
        column: String,
        number: NumberType,
    },
    Max {
        column: String,
        number: NumberType,
    },
    /// The sum of the squares of a column's values, as a double (for
    /// Elasticsearch's `extended_stats`: variance and standard deviation).
    /// A rollup row holds no squares, so the events table answers.
    SumOfSquares {
        column: String,
    },
    /// The value of the earliest event by event `__time` (Druid's
    /// `longFirst`, `doubleFirst`, `floatFirst`, `stringFirst`), of a
    /// dimension or a metric's input; null values are skipped (unlike Druid's
    /// native aggregators, which may take a null). Ties go by reading order,
    /// as in Druid: the first value read among equal times is kept. Over a
    /// first/last metric of a rollup table, its stored pairs are combined by
    /// their event times.
    First {
        column: String,
        kind: ValueKind,
        /// Druid's `timeColumn`: order by this long column instead of
        /// `__time` (`None`); rows where it is null are skipped, as in Druid.
        /// Only an events table holds it per event, so it is read there.
        time_column: Option<String>,
    },
    /// The value of the latest event by event `__time` (`longLast`...,
    /// `stringLast`), or by `time_column` as for `First`; ties go to the
    /// last value read, as in Druid.
    Last {
        column: String,
        kind: ValueKind,
        time_column: Option<String>,
    },
    /// A distinct-count HLL sketch of a dimension's values or an HLL
    /// metric's (Druid's `HLLSketchBuild` and `HLLSketchMerge`): stored
    /// sketches are unioned, raw values hashed as ingest hashes them (see
    /// [`strata_storage::metric_cell::distinct`]). The result is the sketch,
    /// finalized to its estimate (a double, or a long when `round`). Relative
    /// standard error about 1.04 / sqrt(2^lgK): 1.6% at `lg_k` 12.
    DistinctSketch {
        column: String,
        lg_k: HllLgK,
        target_type: HllTargetType,
        round: bool,
    },
    /// A quantiles sketch of a column's doubles (Druid's
    /// `quantilesDoublesSketch`, kept as KLL, see
    /// [`strata_storage::metric_cell::quantiles`]); finalized to the number
    /// of values it saw, as Druid does. Quantiles come from post-aggregations.
    QuantilesSketch {
        column: String,
        k: QuantilesK,
    },
    /// Druid's `cardinality`: the distinct values of `columns` (dimensions),
    /// estimated with the same HLL as [`DistinctSketch`](Self::DistinctSketch)
    /// at `lgK` 12 (Druid's own HLL has 2048 buckets, about 2.3% error; this
    /// one about 1.6%). `by_row` false: every value of every column counts,
    /// unioned; `by_row` true: each distinct combination of the columns' values
    /// in a row counts once. Finalized like `DistinctSketch`.
    Cardinality {
        columns: Vec<String>,
        by_row: bool,
        round: bool,
    },
    /// `inner` over only the rows `filter` is TRUE for, among the rows the
    /// query reads (Druid's `filtered` aggregator).
    Filtered {
        filter: Filter,
        inner: Box<AggregateFunction>,
    },
}

impl AggregateFunction {
    /// The filters of every `Filtered` around the function, outermost
    /// first: a row counts when each of them is TRUE for it.
    pub fn filters(&self) -> Vec<&Filter> {
        let mut function = self;
        let mut filters = Vec::new();
        while let AggregateFunction::Filtered { filter, inner } = function {
            filters.push(filter);
            function = inner;
        }
        filters
    }
}

/// A condition on one result row (Druid's `having`): which groups the
/// answer keeps. Conditions are true or false, never unknown: a comparison
/// with a null value is false, and `Not` of it true, as in Druid.
#[derive(Debug, Clone, PartialEq)]
pub enum Having {
    /// An aggregation's or post-aggregation's value compared with `value`.
    Compare {
        field: String,
        comparison: HavingComparison,
        value: f64,
    },
    /// A group key, by its output name, whose text equals `value` (`None`:
    /// the key is null).
    DimensionEquals {
        dimension: String,
        value: Option<String>,
    },
    /// A row filter over the result row, whose columns are its keys (by
    /// output name), its values (by name) and `__time`, the bucket start.
    Filter(Filter),
    And(Vec<Having>),
    Or(Vec<Having>),
    Not(Box<Having>),
}

/// How [`Having::Compare`] compares a row's value with its constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HavingComparison {
    GreaterThan,
    LessThan,
    EqualTo,
}

/// A value computed from the aggregations of one result row.
#[derive(Debug, Clone, PartialEq)]
pub struct PostAggregation {
    pub name: String,
    pub expression: PostExpression,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PostExpression {
    /// The value of an aggregation or an earlier post-aggregation.
    Field(String),
    /// The *finalized* value of an aggregation (Druid's
    /// `finalizingFieldAccess`): a sketch's estimate or count, where
    /// [`Field`](Self::Field) gives the sketch itself.
    FinalizedField(String),
    Constant(f64),
    /// The estimate of the HLL sketch `field` evaluates to (Druid's
    /// `HLLSketchEstimate`): a double, or a long when `round`.
    HllEstimate {
        field: Box<PostExpression>,
        round: bool,
    },
    /// `[estimate, lower bound, upper bound]` of an HLL sketch, the bounds at
    /// `std_devs` (1, 2 or 3) standard deviations (Druid's
    /// `HLLSketchEstimateWithBounds`).
    HllEstimateWithBounds {
        field: Box<PostExpression>,
        std_devs: u8,
    },
    /// The value at rank `fraction` (0..=1) of a quantiles sketch (Druid's
    /// `quantilesDoublesSketchToQuantile`); null for an empty sketch.
    Quantile {
        field: Box<PostExpression>,
        fraction: f64,
    },
    /// The values at several ranks, an array (Druid's
    /// `quantilesDoublesSketchToQuantiles`); null for an empty sketch.
    Quantiles {
        field: Box<PostExpression>,
        fractions: Vec<f64>,
    },
    /// `+ - * / quotient pow` over two or more operands, left to right;
    /// Druid's `/` gives 0 on division by zero, `quotient` does not.
    Arithmetic {
        operator: ArithmeticOperator,
        operands: Vec<PostExpression>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithmeticOperator {
    Add,
    Subtract,
    Multiply,
    Divide,
    Quotient,
    Power,
}

/// A condition on a row. Columns are logical: a dimension, `__time`, or a
/// metric's input.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The column equals `value` (`None`: the column is null). On a
    /// multi-value row, any of its values.
    Equals {
        column: String,
        value: Option<String>,
    },
    /// The column equals one of `values` (`None` among them matches null).
    In {
        column: String,
        values: Vec<Option<String>>,
    },
    /// The column lies between the bounds.
    Range {
        column: String,
        lower: Option<RangeBound>,
        upper: Option<RangeBound>,
        ordering: RangeOrdering,
    },
    /// SQL `LIKE`: `%` any run of characters, `_` one character, `\` escapes.
    Like {
        column: String,
        pattern: String,
    },
    /// A regular expression that must match somewhere in the value.
    Regex {
        column: String,
        pattern: String,
    },
    /// The value contains `text` (`case_sensitive` or not).
    Contains {
        column: String,
        text: String,
        case_sensitive: bool,
    },
    /// `__time` (or a long column) in any of these intervals.
    Intervals {
        column: String,
        intervals: Vec<Interval>,
    },
    /// The rows whose text dimensions match `query`, in Lucene syntax
    /// (terms, `"phrases"`, AND/OR/NOT, `field:value`, `prefix*`, grouping;
    /// terms without an operator are OR'ed), searched in the events table's
    /// full-text index over `fields` (none: every text dimension). True or
    /// false on every row, never unknown; a table without a text index has
    /// no matching row.
    FullText {
        query: String,
        fields: Vec<String>,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RangeBound {
    pub value: String,
    pub strict: bool,
}

/// How a range compares values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOrdering {
    /// By UTF-8 bytes, as strings.
    Lexicographic,
    /// As numbers; values that are not numbers never match.
    Numeric,
}

/// One result row of an aggregate plan, before the front-end shapes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// The start of the row's time bucket.
    pub timestamp: Millis,
    /// One value per group key, in plan order. A multi-value row counts in
    /// the group of each of its values, as in Druid.
    pub keys: Vec<KeyValue>,
    /// One value per aggregation, then one per post-aggregation, in plan order.
    pub values: Vec<ResultValue>,
}

/// A group key's value: a string dimension's value, or a number of a long
/// or double dimension.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Null,
    Long(i64),
    Double(f64),
    String(String),
}

impl KeyValue {
    /// The value as text, as a dimension filter or an ordering by dimension
    /// reads it; `None` for null.
    pub fn text(&self) -> Option<String> {
        match self {
            KeyValue::Null => None,
            KeyValue::Long(value) => Some(value.to_string()),
            KeyValue::Double(value) => Some(value.to_string()),
            KeyValue::String(value) => Some(value.clone()),
        }
    }
}

/// An aggregated or computed value.
///
/// Sketches stay sketches while post-aggregations are computed (a
/// `fieldAccess` reads the sketch); an aggregation's own value is then
/// finalized (an HLL to its estimate, a quantiles sketch to its count), and
/// a post-aggregation that returns a sketch keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultValue {
    Null,
    Long(i64),
    Double(f64),
    /// `stringFirst`, `stringLast`.
    String(String),
    /// Quantiles, an estimate with its bounds.
    Doubles(Vec<f64>),
    Sketch(SketchValue),
}

/// A sketch as a result value; shared, as post-aggregations copy values.
/// A quantiles state may still be the values the query kept, answered and
/// serialized as their sketch would be.
#[derive(Debug, Clone, PartialEq)]
pub enum SketchValue {
    /// An HLL sketch, and whether its estimate is rounded to a long.
    Hll {
        sketch: Arc<HllSketch>,
        round: bool,
    },
    Quantiles(Arc<QuantilesState>),
}

impl SketchValue {
    /// What the sketch finalizes to: an HLL's estimate (rounded to a long
    /// when asked), a quantiles sketch's number of values.
    pub fn finalized(&self) -> ResultValue {
        match self {
            SketchValue::Hll { sketch, round } => {
                let estimate = sketch.estimate();
                if *round {
                    ResultValue::Long(estimate.round() as i64)
                } else {
                    ResultValue::Double(estimate)
                }
            }
            SketchValue::Quantiles(state) => {
                ResultValue::Long(i64::try_from(state.count()).unwrap_or(i64::MAX))
            }
        }
    }

    /// The sketch's DataSketches serialization.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SketchValue::Hll { sketch, .. } => sketch.serialize(),
            SketchValue::Quantiles(state) => state.to_bytes(),
        }
    }
}

impl ResultValue {
    /// The value with any sketch finalized.
    pub fn finalized(self) -> ResultValue {
        match self {
            ResultValue::Sketch(sketch) => sketch.finalized(),
            other => other,
        }
    }

    /// The value as a number, as arithmetic and comparisons read it: a
    /// sketch by its finalized value; null for null, strings and arrays.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ResultValue::Long(value) => Some(*value as f64),
            ResultValue::Double(value) => Some(*value),
            ResultValue::Sketch(sketch) => sketch.finalized().as_f64(),
            ResultValue::Null | ResultValue::String(_) | ResultValue::Doubles(_) => None,
        }
    }
}

/// A scan: the selected rows themselves, not aggregated — Druid's `scan`
/// query. A sibling of [`QueryPlan`]: it shares the datasource, intervals
/// and filter, and replaces the aggregation by the columns to return and how
/// the rows are ordered and cut.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPlan {
    pub datasource: String,
    /// The rows whose `__time` lies in any of these; never empty.
    pub intervals: Vec<Interval>,
    /// Rows the scan reads; `None` reads every row in the intervals.
    pub filter: Option<Filter>,
    /// The columns of each returned row, in this order (`__time` among them
    /// when wanted); `None` returns `__time` and every column of the tables
    /// read. A column no table has is null.
    pub columns: Option<Vec<String>>,
    pub order: ScanOrder,
    /// At most this many rows, after `offset`; `None`: every row.
    pub limit: Option<usize>,
    /// Rows skipped, in the scan's order, before any is returned.
    pub offset: usize,
}

/// How a scan orders its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOrder {
    /// In storage order: table by table, each table's rows in its order.
    None,
    /// By `__time`, oldest first; rows of equal time in storage order.
    Ascending,
    /// By `__time`, newest first; rows of equal time in storage order.
    Descending,
}

/// A search: which values of some dimensions match a text, and how many
/// events hold each — Druid's `search` query. A sibling of [`QueryPlan`]: it
/// shares the datasource, intervals, filter and time granularity, and
/// replaces the aggregation by the dimensions searched and the match.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPlan {
    pub datasource: String,
    /// The rows whose `__time` lies in any of these; never empty.
    pub intervals: Vec<Interval>,
    /// Rows the search reads; `None` reads every row in the intervals.
    pub filter: Option<Filter>,
    /// How `__time` is bucketed; [`Granularity::All`] makes one bucket.
    pub granularity: Granularity,
    /// The dimensions searched, and the name each hit gives its dimension;
    /// `None` searches every string dimension of the spec.
    pub dimensions: Option<Vec<GroupKey>>,
    pub matching: SearchMatch,
    pub sort: SearchSort,
    /// At most this many hits per time bucket, the first in `sort` order.
    pub limit: usize,
}

/// Which dimension values a search hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchMatch {
    /// The value contains `text`.
    Contains { text: String, case_sensitive: bool },
    /// The value contains every one of `fragments` (none: every value).
    Fragments {
        fragments: Vec<String>,
        case_sensitive: bool,
    },
}

/// How the hits of a time bucket are ordered before the limit cuts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// By value (UTF-8 bytes), then dimension.
    Lexicographic,
    /// By value length in characters, then value, then dimension.
    Strlen,
    /// By value with runs of digits compared as numbers ("a2" before
    /// "a10"), then dimension.
    Alphanumeric,
}

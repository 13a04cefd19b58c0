//! What can be wrong with a datasource spec, and where.
//!
//! A [`SpecError`] names the place in the JSON (`metricsSpec[2] ("bytes").lgK`) and
//! the [`SpecProblem`] found there, which says what was expected and how to fix it.

use crate::granularity::GranularityError;

use super::name::InvalidDataSourceName;

/// Why a datasource spec was rejected.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The text is not JSON at all; the message carries serde_json's line and column.
    #[error("the datasource spec is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The JSON is well-formed but describes an invalid spec.
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: SpecProblem },
}

impl SpecError {
    /// Where in the spec the problem is, such as `granularitySpec.queryGranularity`.
    pub fn path(&self) -> Option<&str> {
        match self {
            SpecError::Json(_) => None,
            SpecError::Invalid { path, .. } => Some(path),
        }
    }

    pub fn problem(&self) -> Option<&SpecProblem> {
        match self {
            SpecError::Json(_) => None,
            SpecError::Invalid { problem, .. } => Some(problem),
        }
    }
}

/// One thing wrong with a spec, phrased so that the user knows what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecProblem {
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("the required field \"{field}\" is missing")]
    MissingField { field: &'static str },
    #[error("unknown field \"{field}\"; the fields accepted here are {accepted}", accepted = accepted.join(", "))]
    UnknownField {
        field: String,
        accepted: &'static [&'static str],
    },
    #[error("Strata does not support \"{field}\": {hint}")]
    UnsupportedField { field: String, hint: &'static str },
    #[error("unknown aggregator type \"{found}\"; known types: {known}")]
    UnknownAggregatorType { found: String, known: String },
    #[error("unknown dimension type \"{found}\"; known types: string, long, double, float, text")]
    UnknownDimensionType { found: String },
    #[error(
        "unknown timestamp format \"{found}\"; known formats: iso, millis, posix, micro, nano, auto"
    )]
    UnknownTimestampFormat { found: String },
    #[error(
        "unknown multiValueHandling \"{found}\"; use SORTED_ARRAY (the default), SORTED_SET or ARRAY"
    )]
    UnknownMultiValueHandling { found: String },
    #[error("unknown analyzer \"{found}\"; use default, raw or english")]
    UnknownAnalyzer { found: String },
    #[error("unknown tgtHllType \"{found}\"; use HLL_4 (the default), HLL_6 or HLL_8")]
    UnknownHllType { found: String },
    #[error("lgK must be between 4 and 21, not {found}; 12 (the default) suits most data")]
    LgKOutOfRange { found: i64 },
    #[error(
        "k must be a power of 2 between 2 and 32768, not {found}; 128 (the default) suits most data"
    )]
    InvalidQuantilesK { found: i64 },
    #[error("\"{field}\" applies to {applies_to} dimensions only; remove it")]
    FieldNotForType {
        field: &'static str,
        applies_to: &'static str,
    },
    #[error(
        "a text dimension cannot take part in rollup (its text is kept per event, in the events table); remove \"rollup\": true"
    )]
    TextInRollup,
    #[error(transparent)]
    InvalidDataSourceName(InvalidDataSourceName),
    #[error("a name must not be empty")]
    EmptyName,
    #[error(
        "\"{name}\" is reserved: names starting with \"__\" belong to Strata's own columns such as __time; rename it"
    )]
    ReservedName { name: String },
    #[error(
        "\"{name}\" is the timestamp column (timestampSpec.column), so it cannot also be a dimension or a metric; rename one of them"
    )]
    TimestampColumnReused { name: String },
    #[error(
        "\"{name}\" is already the name of {first}; dimension and metric names must all differ"
    )]
    DuplicateName { name: String, first: String },
    #[error(
        "\"{name}\" is listed in dimensions, so it cannot be excluded; remove it from one of the two lists"
    )]
    ExcludedDimension { name: String },
    #[error(
        "\"useSchemaDiscovery\": false with no declared dimensions would leave the datasource with no dimensions; list them in \"dimensions\", or remove \"useSchemaDiscovery\" to discover them from the events"
    )]
    NoDimensions,
    #[error(
        "datasource \"{data_source}\" declares its dimensions without schema discovery, so none can be discovered; set \"useSchemaDiscovery\": true in its dimensionsSpec to discover the fields it does not declare"
    )]
    NotSchemaDiscovery { data_source: String },
    #[error(transparent)]
    Granularity(GranularityError),
    #[error(
        "segmentGranularity cannot be \"none\" (a segment per millisecond); use \"hour\", \"day\" or another period"
    )]
    SegmentGranularityNone,
    #[error(
        "\"{query}\" is coarser than segmentGranularity \"{segment}\": each query bucket must fit inside one segment time chunk; choose a finer queryGranularity (such as \"minute\") or a coarser segmentGranularity"
    )]
    QueryCoarserThanSegment { query: String, segment: String },
    #[error(
        "granularitySpec type \"{found}\" is not supported; use \"uniform\" or leave \"type\" out"
    )]
    UnsupportedGranularitySpecType { found: String },
    #[error(
        "invalid interval \"{text}\": {reason}; write intervals as \"2024-01-01T00:00:00Z/2024-01-08T00:00:00Z\""
    )]
    InvalidInterval { text: String, reason: &'static str },
    #[error("invalid time \"{text}\"; write an ISO-8601 time such as \"2024-01-01T00:00:00Z\"")]
    InvalidTime { text: String },
}

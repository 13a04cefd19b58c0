//! Why a line is not an event, in words the client can act on.
//!
//! Each [`ParseError`] is one sentence that goes back to the client next to the
//! line number: it names the field, shows the value (as JSON, cut to about 100
//! characters), says what the spec wanted instead, and how to fix it.

use std::fmt;

/// How many characters of an offending value an error message shows.
const SHOWN_VALUE_CHARS: usize = 100;

/// A value as an error message shows it: JSON text, cut to [`SHOWN_VALUE_CHARS`].
pub(super) fn shown(json_text: &str) -> String {
    match json_text.char_indices().nth(SHOWN_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &json_text[..cut]),
        None => json_text.to_owned(),
    }
}

/// What a field's value was meant to become: a dimension or a metric input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Dimension {
        name: String,
        /// `string`, `long`, `double` or `text`.
        type_name: &'static str,
    },
    Metric {
        name: String,
        /// The Druid aggregator type, such as `longSum`.
        aggregator: &'static str,
    },
}

impl Target {
    /// How to make a non-integral number acceptable.
    fn integer_hint(&self) -> String {
        match self {
            Target::Dimension { name, .. } => format!("declare the dimension `{name}` as `double`"),
            Target::Metric { name, aggregator } => {
                let double = aggregator
                    .strip_prefix("long")
                    .map(|operation| format!("double{operation}"))
                    .unwrap_or_else(|| "doubleSum".to_owned());
                format!("declare the metric `{name}` as `{double}`")
            }
        }
    }

    /// How to make a non-numeric value acceptable.
    fn number_hint(&self) -> String {
        match self {
            Target::Dimension { name, .. } => {
                format!(
                    "send a number or a numeric string, or declare the dimension `{name}` as `string`"
                )
            }
            Target::Metric { .. } => "send a number or a numeric string".to_owned(),
        }
    }

    /// How to make an array of several values acceptable.
    fn array_hint(&self) -> String {
        match self {
            Target::Dimension { name, .. } => format!(
                "send one value, or declare the dimension `{name}` as `string` to keep several"
            ),
            Target::Metric { .. } => "send one value per event".to_owned(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Dimension { name, type_name } => write!(f, "{type_name} dimension `{name}`"),
            Target::Metric { name, aggregator } => write!(f, "metric `{name}` ({aggregator})"),
        }
    }
}

/// Why a timestamp value is not a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampProblem {
    /// Text that is not ISO-8601, under format `iso`.
    NotIso,
    /// A number under format `iso`.
    NumberForIso,
    /// Text that is neither ISO-8601 nor a number, under format `auto`.
    NotIsoOrNumber,
    /// Not a number, under a numeric format.
    NotANumber {
        format: &'static str,
        unit: &'static str,
    },
    /// A boolean, an array or an object.
    NotATime,
    /// A time outside the years 0000 to 9999: usually the wrong unit.
    OutOfRange { format: &'static str },
    /// A typed timestamp column (Parquet, Arrow) outside the years 0000 to 9999.
    TypedOutOfRange,
}

impl fmt::Display for TimestampProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampProblem::NotIso => f.write_str(
                "which is not an ISO-8601 time (timestampSpec format `iso`); send times such as 2024-01-01T00:00:00.000Z",
            ),
            TimestampProblem::NumberForIso => f.write_str(
                "a number, but timestampSpec format `iso` takes ISO-8601 text; set the format to `millis`, `posix`, `micro`, `nano` or `auto`",
            ),
            TimestampProblem::NotIsoOrNumber => f.write_str(
                "which is neither an ISO-8601 time nor epoch milliseconds (timestampSpec format `auto`); send times such as 2024-01-01T00:00:00.000Z",
            ),
            TimestampProblem::NotANumber { format, unit } => write!(
                f,
                "which is not a number of {unit} since the epoch (timestampSpec format `{format}`); send a number, or set the format to `iso` or `auto` for ISO-8601 text",
            ),
            TimestampProblem::NotATime => f.write_str(
                "which is not a time; send ISO-8601 text or a number since the epoch",
            ),
            TimestampProblem::TypedOutOfRange => f.write_str(
                "epoch milliseconds outside the years 0000 to 9999 that an event may have",
            ),
            TimestampProblem::OutOfRange { format } => write!(
                f,
                "which read as timestampSpec format `{format}` lies outside the years 0000 to 9999; check that the format matches the unit of the numbers",
            ),
        }
    }
}

/// Why one line was rejected: one sentence for the client, sent next to the
/// line number, that names the field, shows the value (as JSON, cut to about
/// 100 characters), says what the spec wanted instead and how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "the line is {length} bytes long, over the line length limit of {limit} bytes; send smaller events"
    )]
    LineTooLong { length: usize, limit: usize },
    #[error(
        "the event nests objects and arrays more than {limit} levels deep, over the nesting depth limit; flatten the event"
    )]
    TooDeep { limit: usize },
    #[error(
        "the line is not valid UTF-8 (an invalid byte sequence starts at byte {offset}); send UTF-8 text"
    )]
    InvalidUtf8 { offset: usize },
    #[error("the line is not valid JSON ({message}); send one JSON object per line")]
    InvalidJson { message: String },
    #[error("the line is a JSON {found}, not an object; send one JSON object per line")]
    NotAnObject { found: &'static str },
    #[error(
        "the event has no timestamp field `{column}`; add it, or set `missingValue` in the spec's timestampSpec"
    )]
    MissingTimestamp { column: String },
    #[error("timestamp field `{column}` holds {value}, {problem}")]
    InvalidTimestamp {
        column: String,
        value: String,
        problem: TimestampProblem,
    },
    #[error("field `{field}` holds {value}, which is not an integer as {target} needs; {}", target.integer_hint())]
    NotAnInteger {
        field: String,
        value: String,
        target: Target,
    },
    #[error("field `{field}` holds {value}, which is not a number as {target} needs; {}", target.number_hint())]
    NotANumber {
        field: String,
        value: String,
        target: Target,
    },
    #[error("field `{field}` holds {value}, which is beyond the 64-bit integers {target} can hold; {}", target.integer_hint())]
    OutOfRange {
        field: String,
        value: String,
        target: Target,
    },
    #[error(
        "field `{field}` holds an object, but {target} takes a single value; to read a field inside it, name that field with a dot, such as `{field}.name`"
    )]
    UnexpectedObject { field: String, target: Target },
    #[error("field `{field}` holds an array of {count} values, but {target} takes one value; {}", target.array_hint())]
    UnexpectedArray {
        field: String,
        count: usize,
        target: Target,
    },
    #[error(
        "field `{field}` holds an array with {found} in it, which {target} cannot hold; send an array of strings, numbers or booleans"
    )]
    BadArrayElement {
        field: String,
        found: &'static str,
        target: Target,
    },
    #[error(
        "field `{field}` holds an array with {found} in it, which schema discovery cannot make a dimension of; list `{field}` in dimensionsSpec.dimensionExclusions to skip it"
    )]
    UndiscoverableArray { field: String, found: &'static str },
}

/// Why a parser could not take more dimensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WidenError {
    #[error(
        "datasource `{data_source}` declares its dimensions, so it discovers none; add dimensions to its spec instead"
    )]
    NotSchemaDiscovery { data_source: String },
    #[error(
        "the event was parsed when the parser knew {parsed_with} dimensions, but it now knows {now}; parse the line again with the widened parser"
    )]
    StaleEvent { parsed_with: usize, now: usize },
    #[error("dimension `{name}` is already known to the parser")]
    AlreadyKnown { name: String },
    #[error(
        "field `{name}` cannot be a discovered dimension: it is the timestamp, a metric's name or input, excluded, empty, or starts with `__`"
    )]
    NotDiscoverable { name: String },
}

//! Row selection: which rows of a table a query reads.
//!
//! A row is selected when its `__time` lies in one of the plan's intervals
//! and the plan's [`Filter`] is TRUE for it. Filters follow Druid's native
//! filters with SQL-compatible null handling (Druid's default since v28).
//!
//! # Three-valued logic
//!
//! A condition on a null value is neither true nor false but UNKNOWN, as in
//! SQL: `status = 200` says nothing about a row without a status. Only the
//! null tests themselves (`Equals` with no value, `In` with `None` among its
//! values) are true or false on null rows. `Not` turns true into false and
//! false into true and leaves UNKNOWN alone, so `NOT (host = 'a')` does *not*
//! select rows without a host; `And` and `Or` follow Kleene's logic (false
//! wins an `And`, true wins an `Or`). Each node of the filter therefore
//! evaluates to two disjoint row bitmaps — the TRUE rows and the UNKNOWN
//! rows, every other row being FALSE — and the selection is the TRUE rows.
//! A column the table lacks is null in every row.
//!
//! # Strings are matched once per distinct value
//!
//! A string column is dictionary-encoded, so a leaf condition runs once per
//! dictionary value (an equality or `IN` list only looks its values up),
//! giving the set of matching ids; the table then answers with the rows
//! holding them — a segment by unioning its stored bitmaps, without decoding
//! the column ([`TableSource::string_value_rows`]). A range or a pattern
//! costs per distinct value, not per row. A multi-value row matches when any
//! of its values does.
//!
//! The time intervals, likewise, are the table's to answer
//! ([`TableSource::rows_in_intervals`]): a segment takes or skips whole
//! blocks by their recorded time range. `__time` is decoded only when a
//! condition names it.
//!
//! # Numbers
//!
//! On long and double columns (and `__time`), equality and numeric ranges
//! compare numbers: the filter's text is parsed once, as an exact `i64` when
//! it is one, else as an `f64`, and longs and doubles compare exactly (no
//! rounding of large longs through `f64`). A value that is not a number
//! matches nothing. Lexicographic ranges and the text conditions (`Like`,
//! `Regex`, `Contains`) see a number's decimal text. An `Intervals`
//! condition is a numeric range `[start, end)` per interval, as Druid's
//! interval filter is a numeric bound filter.
//!
//! # Full text
//!
//! A [`Filter::FullText`] leaf is answered by the table's full-text index
//! ([`TableSource::fulltext_rows`]), whose document ids are row ids: the rows
//! it finds are TRUE, every other row FALSE — a row without text simply
//! does not match, so the leaf is never UNKNOWN and `Not` of it selects every
//! row the search did not find. A table without a text index (a rollup
//! table, a table of no text dimension) finds no row.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;

use regex::Regex;
use roaring::RoaringBitmap;
use strata_storage::segment::{ColumnKind, TIME_COLUMN, TableSchema};
use strata_storage::spec::DataSourceSpec;
use strata_storage::text_index::{TextQueryError, check_query};
use strata_storage::time::{Interval, Millis};

use crate::plan::{Filter, RangeBound, RangeOrdering};
use crate::table::{
    BlockVerdict, ColumnValues, NumberTest, TableError, TableSource, ValueRows, ValueTest,
};

/// Why rows could not be selected.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "column `{column}` is a complex column (sketches, first/last pairs) and cannot be filtered; \
         filter on a dimension, `__time` or a numeric column instead"
    )]
    ComplexColumn { column: String },
    #[error(
        "the regex filter on column `{column}` has an invalid pattern `{pattern}`: {reason}; \
         write the pattern in the syntax of Rust's `regex` crate"
    )]
    InvalidRegex {
        column: String,
        pattern: String,
        reason: regex::Error,
    },
    #[error(
        "the LIKE pattern `{pattern}` on column `{column}` cannot be evaluated: {reason}; \
         use a shorter pattern"
    )]
    UnevaluableLike {
        column: String,
        pattern: String,
        reason: regex::Error,
    },
    #[error(
        "column `{column}` has {found} rows but its table has {expected}; the table is corrupt"
    )]
    ColumnLength {
        column: String,
        expected: usize,
        found: usize,
    },
    #[error("the table has {rows} rows, more than a row bitmap can address ({max})", max = u32::MAX)]
    TooManyRows { rows: usize },
    /// The query of a `fulltext` filter does not parse, or names a field
    /// that is not a text dimension.
    #[error("fulltext filter: {0}")]
    FullText(TextQueryError),
}

/// Refuses a `fulltext` filter within `filter` whose query does not parse
/// or whose fields are not text dimensions of `spec` — before any table is
/// read, so that a bad query is refused even over a range without text.
pub fn check_fulltext(filter: &Filter, spec: &DataSourceSpec) -> Result<(), SelectError> {
    match filter {
        Filter::And(filters) | Filter::Or(filters) => filters
            .iter()
            .try_for_each(|filter| check_fulltext(filter, spec)),
        Filter::Not(filter) => check_fulltext(filter, spec),
        Filter::FullText { query, fields } => {
            let text_fields: Vec<String> = spec
                .text_dimensions()
                .map(|dimension| dimension.name().to_owned())
                .collect();
            if let Some(field) = fields.iter().find(|field| !text_fields.contains(field)) {
                return Err(SelectError::FullText(TextQueryError::UnknownField {
                    field: field.clone(),
                    text_fields,
                }));
            }
            check_query(query, &text_fields).map_err(SelectError::FullText)
        }
        _ => Ok(()),
    }
}

impl SelectError {
    /// A failed full-text search: the query's mistake apart from the
    /// table's failure to search.
    fn of_search(error: TableError) -> Self {
        match error {
            TableError::TextQuery(
                error @ (TextQueryError::Syntax { .. } | TextQueryError::UnknownField { .. }),
            ) => SelectError::FullText(error),
            other => SelectError::Table(other),
        }
    }

    /// Whether a table could not be read, or read back damaged: the
    /// server's fault, not the query's.
    pub fn is_table_damage(&self) -> bool {
        matches!(
            self,
            SelectError::Table(_) | SelectError::ColumnLength { .. }
        )
    }
}

/// The rows of `table` whose `__time` lies in one of `intervals` and for
/// which `filter` is TRUE (see the [module docs](self)).
pub fn select_rows(
    table: &dyn TableSource,
    intervals: &[Interval],
    filter: Option<&Filter>,
) -> Result<RoaringBitmap, SelectError> {
    select_with_times(table, None, intervals, filter)
}

/// [`select_rows`] for a caller that has read the table's `__time` already
/// (`times`, one per row) and needs it again: the column is decoded once.
pub fn select_rows_at(
    table: &dyn TableSource,
    times: &[Millis],
    intervals: &[Interval],
    filter: Option<&Filter>,
) -> Result<RoaringBitmap, SelectError> {
    select_with_times(table, Some(times), intervals, filter)
}

fn select_with_times(
    table: &dyn TableSource,
    times: Option<&[Millis]>,
    intervals: &[Interval],
    filter: Option<&Filter>,
) -> Result<RoaringBitmap, SelectError> {
    // Compiled before anything is read, so a bad pattern or a complex column
    // is reported whether or not the table has rows in the intervals.
    let condition = filter
        .map(|filter| Condition::compile(filter, table.schema()))
        .transpose()?;
    let rows = table.rows();
    let row_count = u32::try_from(rows).map_err(|_| SelectError::TooManyRows { rows })?;
    let in_intervals = table.rows_in_intervals(intervals)?;
    let Some(condition) = condition else {
        return Ok(in_intervals);
    };
    if in_intervals.is_empty() {
        return Ok(in_intervals);
    }
    let mut all_rows = RoaringBitmap::new();
    all_rows.insert_range(0..row_count);
    let mut reader = ColumnReader {
        table,
        rows,
        times: times.map(Cow::Borrowed),
        columns: HashMap::new(),
    };
    let truth = condition.evaluate(&mut reader, &all_rows)?;
    Ok(truth.true_rows & in_intervals)
}

/// A filter with its values parsed and its patterns compiled, ready to run.
enum Condition<'f> {
    Leaf {
        column: &'f str,
        matcher: Matcher,
    },
    /// Parsed by the table's text index when evaluated.
    FullText {
        query: &'f str,
        fields: &'f [String],
    },
    And(Vec<Condition<'f>>),
    Or(Vec<Condition<'f>>),
    Not(Box<Condition<'f>>),
}

impl<'f> Condition<'f> {
    fn compile(filter: &'f Filter, schema: &TableSchema) -> Result<Self, SelectError> {
        let leaf = |column: &'f String, matcher: Matcher| {
            let is_complex = schema
                .position(column)
                .and_then(|position| schema.columns().get(position))
                .is_some_and(|schema| matches!(schema.kind, ColumnKind::Complex { .. }));
            if is_complex {
                return Err(SelectError::ComplexColumn {
                    column: column.clone(),
                });
            }
            Ok(Condition::Leaf { column, matcher })
        };
        match filter {
            Filter::Equals { column, value } => {
                leaf(column, Matcher::one_of(std::slice::from_ref(value)))
            }
            Filter::In { column, values } => leaf(column, Matcher::one_of(values)),
            Filter::Range {
                column,
                lower,
                upper,
                ordering: RangeOrdering::Lexicographic,
            } => leaf(
                column,
                Matcher::TextRange {
                    lower: lower.as_ref().map(Bound::of_text),
                    upper: upper.as_ref().map(Bound::of_text),
                },
            ),
            Filter::Range {
                column,
                lower,
                upper,
                ordering: RangeOrdering::Numeric,
            } => leaf(
                column,
                Matcher::NumberRanges(
                    NumberRange::parse(lower.as_ref(), upper.as_ref())
                        .into_iter()
                        .collect(),
                ),
            ),
            Filter::Like { column, pattern } => {
                let regex = Regex::new(&like_to_regex(pattern)).map_err(|reason| {
                    SelectError::UnevaluableLike {
                        column: column.clone(),
                        pattern: pattern.clone(),
                        reason,
                    }
                })?;
                leaf(column, Matcher::Pattern(regex))
            }
            Filter::Regex { column, pattern } => {
                let regex = Regex::new(pattern).map_err(|reason| SelectError::InvalidRegex {
                    column: column.clone(),
                    pattern: pattern.clone(),
                    reason,
                })?;
                leaf(column, Matcher::Pattern(regex))
            }
            Filter::Contains {
                column,
                text,
                case_sensitive,
            } => leaf(
                column,
                Matcher::Contains {
                    text: if *case_sensitive {
                        text.clone()
                    } else {
                        text.to_lowercase()
                    },
                    case_sensitive: *case_sensitive,
                },
            ),
            Filter::Intervals { column, intervals } => leaf(
                column,
                Matcher::NumberRanges(intervals.iter().map(NumberRange::of_interval).collect()),
            ),
            Filter::FullText { query, fields } => Ok(Condition::FullText { query, fields }),
            Filter::And(filters) => Ok(Condition::And(Self::compile_all(filters, schema)?)),
            Filter::Or(filters) => Ok(Condition::Or(Self::compile_all(filters, schema)?)),
            Filter::Not(filter) => Ok(Condition::Not(Box::new(Self::compile(filter, schema)?))),
        }
    }

    fn compile_all(filters: &'f [Filter], schema: &TableSchema) -> Result<Vec<Self>, SelectError> {
        filters
            .iter()
            .map(|filter| Self::compile(filter, schema))
            .collect()
    }

    fn evaluate(
        &self,
        reader: &mut ColumnReader<'_, 'f>,
        all_rows: &RoaringBitmap,
    ) -> Result<Truth, SelectError> {
        match self {
            Condition::Leaf { column, matcher } => reader.evaluate_leaf(column, matcher),
            Condition::FullText { query, fields } => Ok(Truth {
                true_rows: match reader
                    .table
                    .fulltext_rows(query, fields)
                    .map_err(SelectError::of_search)?
                {
                    Some(found) => found & all_rows,
                    None => RoaringBitmap::new(),
                },
                unknown_rows: RoaringBitmap::new(),
            }),
            Condition::And(conditions) => {
                let mut truth = Truth::all_true(all_rows);
                for condition in conditions {
                    truth = truth.and(condition.evaluate(reader, all_rows)?);
                }
                Ok(truth)
            }
            Condition::Or(conditions) => {
                let mut truth = Truth::all_false();
                for condition in conditions {
                    truth = truth.or(condition.evaluate(reader, all_rows)?);
                }
                Ok(truth)
            }
            Condition::Not(condition) => Ok(condition.evaluate(reader, all_rows)?.not(all_rows)),
        }
    }
}

/// What a leaf condition asks of one non-null value.
enum Matcher {
    /// `Equals` and `In`: the values as text, the same values as numbers
    /// (those that parse), and whether null is among them.
    OneOf {
        texts: HashSet<String>,
        numbers: Vec<Number>,
        null: bool,
    },
    /// A lexicographic range, over UTF-8 bytes.
    TextRange {
        lower: Option<Bound<String>>,
        upper: Option<Bound<String>>,
    },
    /// Any of these numeric ranges; none matches nothing.
    NumberRanges(Vec<NumberRange>),
    /// `Like` and `Regex`, both compiled to a regular expression.
    Pattern(Regex),
    /// A substring; when not `case_sensitive`, `text` is already lowercase.
    Contains { text: String, case_sensitive: bool },
}

impl Matcher {
    fn one_of(values: &[Option<String>]) -> Self {
        let texts: HashSet<String> = values.iter().flatten().cloned().collect();
        let numbers = texts
            .iter()
            .filter_map(|text| Number::parse(text))
            .collect();
        Matcher::OneOf {
            texts,
            numbers,
            null: values.iter().any(Option::is_none),
        }
    }

    /// Whether a null value matches: TRUE if so, else UNKNOWN — never FALSE.
    fn matches_null(&self) -> bool {
        matches!(self, Matcher::OneOf { null: true, .. })
    }

    fn matches_text(&self, value: &str) -> bool {
        match self {
            Matcher::OneOf { texts, .. } => texts.contains(value),
            Matcher::TextRange { lower, upper } => {
                let order = |bound: &Bound<String>| Some(value.cmp(bound.value.as_str()));
                lower
                    .as_ref()
                    .is_none_or(|bound| bound.admits_above(order(bound)))
                    && upper
                        .as_ref()
                        .is_none_or(|bound| bound.admits_below(order(bound)))
            }
            Matcher::NumberRanges(ranges) => Number::parse(value)
                .is_some_and(|number| ranges.iter().any(|range| range.contains(number))),
            Matcher::Pattern(regex) => regex.is_match(value),
            Matcher::Contains {
                text,
                case_sensitive: true,
            } => value.contains(text.as_str()),
            Matcher::Contains {
                text,
                case_sensitive: false,
            } => value.to_lowercase().contains(text.as_str()),
        }
    }

    /// The longs this accepts, as inclusive ranges, when that is all it
    /// asks of a long — equalities and ranges whose bounds are longs — so a
    /// long column is tested by comparing integers; `None` otherwise.
    /// The intervals an `interval` filter's ranges are, when they all are.
    fn time_intervals(&self) -> Option<Vec<Interval>> {
        match self {
            Matcher::NumberRanges(ranges) => ranges.iter().map(NumberRange::as_interval).collect(),
            _ => None,
        }
    }

    fn long_ranges(&self) -> Option<Vec<std::ops::RangeInclusive<i64>>> {
        match self {
            Matcher::OneOf { numbers, .. } => numbers
                .iter()
                .map(|number| match number {
                    Number::Long(value) => Some(*value..=*value),
                    Number::Double(_) => None,
                })
                .collect(),
            Matcher::NumberRanges(ranges) => ranges
                .iter()
                .map(|range| {
                    let low = match &range.lower {
                        None => i64::MIN,
                        Some(Bound {
                            value: Number::Long(low),
                            strict,
                        }) if *strict => low.checked_add(1)?,
                        Some(Bound {
                            value: Number::Long(low),
                            ..
                        }) => *low,
                        Some(_) => return None,
                    };
                    let high = match &range.upper {
                        None => i64::MAX,
                        Some(Bound {
                            value: Number::Long(high),
                            strict,
                        }) if *strict => high.checked_sub(1)?,
                        Some(Bound {
                            value: Number::Long(high),
                            ..
                        }) => *high,
                        Some(_) => return None,
                    };
                    Some(low..=high)
                })
                .collect(),
            Matcher::TextRange { .. } | Matcher::Pattern(_) | Matcher::Contains { .. } => None,
        }
    }

    /// What this says of a block of numbers from its smallest and largest
    /// value: conditions on text (patterns, text ranges) read every value.
    fn judge_block(&self, min: Number, max: Number) -> BlockVerdict {
        let within = |value: Number| {
            min.compare(value).is_some_and(Ordering::is_le)
                && max.compare(value).is_some_and(Ordering::is_ge)
        };
        match self {
            Matcher::OneOf { numbers, .. } => {
                if !numbers.iter().any(|number| within(*number)) {
                    BlockVerdict::NoValue
                } else if min.compare(max) == Some(Ordering::Equal) {
                    BlockVerdict::EveryValue
                } else {
                    BlockVerdict::Undecided
                }
            }
            Matcher::NumberRanges(ranges) => {
                if ranges
                    .iter()
                    .any(|range| range.contains(min) && range.contains(max))
                {
                    BlockVerdict::EveryValue
                } else if ranges.iter().any(|range| range.meets(min, max)) {
                    BlockVerdict::Undecided
                } else {
                    BlockVerdict::NoValue
                }
            }
            Matcher::TextRange { .. } | Matcher::Pattern(_) | Matcher::Contains { .. } => {
                BlockVerdict::Undecided
            }
        }
    }

    fn matches_number(&self, value: Number) -> bool {
        match self {
            Matcher::OneOf { numbers, .. } => numbers
                .iter()
                .any(|number| value.compare(*number) == Some(Ordering::Equal)),
            Matcher::NumberRanges(ranges) => ranges.iter().any(|range| range.contains(value)),
            Matcher::TextRange { .. } | Matcher::Pattern(_) | Matcher::Contains { .. } => {
                self.matches_text(&value.to_string())
            }
        }
    }
}

/// What a string column is asked about `matcher`: `accepts` is its test on
/// one value.
fn value_test<'a>(matcher: &'a Matcher, accepts: &'a dyn Fn(&str) -> bool) -> ValueTest<'a> {
    ValueTest {
        exactly: match matcher {
            Matcher::OneOf { texts, .. } => Some(texts.iter().map(String::as_str).collect()),
            _ => None,
        },
        accepts,
    }
}

/// One end of a range.
struct Bound<T> {
    value: T,
    strict: bool,
}

impl<T> Bound<T> {
    /// Whether a value that compares `order` to this lower bound is above it.
    fn admits_above(&self, order: Option<Ordering>) -> bool {
        match order {
            Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => !self.strict,
            Some(Ordering::Less) | None => false,
        }
    }

    /// Whether a value that compares `order` to this upper bound is below it.
    fn admits_below(&self, order: Option<Ordering>) -> bool {
        match order {
            Some(Ordering::Less) => true,
            Some(Ordering::Equal) => !self.strict,
            Some(Ordering::Greater) | None => false,
        }
    }
}

impl Bound<String> {
    fn of_text(bound: &RangeBound) -> Self {
        Bound {
            value: bound.value.clone(),
            strict: bound.strict,
        }
    }
}

/// A numeric range; an absent bound is open.
struct NumberRange {
    lower: Option<Bound<Number>>,
    upper: Option<Bound<Number>>,
}

impl NumberRange {
    /// The range as a time interval, when it is one: `[start, end)` of
    /// longs.
    fn as_interval(&self) -> Option<Interval> {
        match (&self.lower, &self.upper) {
            (
                Some(Bound {
                    value: Number::Long(start),
                    strict: false,
                }),
                Some(Bound {
                    value: Number::Long(end),
                    strict: true,
                }),
            ) => Interval::new(*start, *end).ok(),
            _ => None,
        }
    }

    /// The range between `lower` and `upper`; `None` when a bound is not a
    /// number, for such a range holds no value.
    fn parse(lower: Option<&RangeBound>, upper: Option<&RangeBound>) -> Option<Self> {
        let parse = |bound: Option<&RangeBound>| match bound {
            None => Some(None),
            Some(bound) => Number::parse(&bound.value).map(|value| {
                Some(Bound {
                    value,
                    strict: bound.strict,
                })
            }),
        };
        Some(NumberRange {
            lower: parse(lower)?,
            upper: parse(upper)?,
        })
    }

    /// `[start, end)`.
    fn of_interval(interval: &Interval) -> Self {
        NumberRange {
            lower: Some(Bound {
                value: Number::Long(interval.start()),
                strict: false,
            }),
            upper: Some(Bound {
                value: Number::Long(interval.end()),
                strict: true,
            }),
        }
    }

    /// Whether some number between `min` and `max` lies in the range.
    fn meets(&self, min: Number, max: Number) -> bool {
        self.lower
            .as_ref()
            .is_none_or(|bound| bound.admits_above(max.compare(bound.value)))
            && self
                .upper
                .as_ref()
                .is_none_or(|bound| bound.admits_below(min.compare(bound.value)))
    }

    fn contains(&self, value: Number) -> bool {
        self.lower
            .as_ref()
            .is_none_or(|bound| bound.admits_above(value.compare(bound.value)))
            && self
                .upper
                .as_ref()
                .is_none_or(|bound| bound.admits_below(value.compare(bound.value)))
    }
}

/// A number from a column or a filter: longs stay exact.
#[derive(Debug, Clone, Copy)]
enum Number {
    Long(i64),
    Double(f64),
}

impl Number {
    /// `text` as an `i64` when it is one, else as an `f64`.
    fn parse(text: &str) -> Option<Self> {
        text.parse::<i64>()
            .map(Number::Long)
            .or_else(|_| text.parse::<f64>().map(Number::Double))
            .ok()
    }

    /// How `self` compares to `other`, exactly; `None` when either is NaN.
    fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Long(a), Number::Long(b)) => Some(a.cmp(&b)),
            (Number::Double(a), Number::Double(b)) => a.partial_cmp(&b),
            (Number::Long(a), Number::Double(b)) => compare_long_to_double(a, b),
            (Number::Double(a), Number::Long(b)) => {
                compare_long_to_double(b, a).map(Ordering::reverse)
            }
        }
    }
}

/// `long` against `double` without rounding `long` to the nearest `f64`,
/// which would make 2^53 + 1 equal 2^53.
fn compare_long_to_double(long: i64, double: f64) -> Option<Ordering> {
    // 2^63, exactly representable: every i64 is below it and at or above its
    // negation.
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    if double.is_nan() {
        return None;
    }
    if double >= TWO_TO_63 {
        return Some(Ordering::Less);
    }
    if double < -TWO_TO_63 {
        return Some(Ordering::Greater);
    }
    let whole = double.trunc();
    // In range and integral, so the cast is exact.
    let order = long.cmp(&(whole as i64));
    if order != Ordering::Equal {
        return Some(order);
    }
    0.0.partial_cmp(&(double - whole))
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Long(value) => value.fmt(f),
            Number::Double(value) => value.fmt(f),
        }
    }
}

/// A SQL `LIKE` pattern as an anchored regular expression: `%` is any run
/// of characters, `_` one character, `\` makes the next character literal
/// (a trailing `\` is itself literal).
fn like_to_regex(pattern: &str) -> String {
    let mut regex = String::from("(?s)^");
    let mut characters = pattern.chars();
    while let Some(character) = characters.next() {
        match character {
            '%' => regex.push_str(".*"),
            '_' => regex.push('.'),
            '\\' => push_literal(&mut regex, characters.next().unwrap_or('\\')),
            literal => push_literal(&mut regex, literal),
        }
    }
    regex.push('$');
    regex
}

fn push_literal(regex: &mut String, literal: char) {
    regex.push_str(&regex::escape(literal.encode_utf8(&mut [0; 4])));
}

/// A condition's value on every row: the TRUE rows and the UNKNOWN rows,
/// disjoint; every other row is FALSE.
struct Truth {
    true_rows: RoaringBitmap,
    unknown_rows: RoaringBitmap,
}

impl Truth {
    fn all_true(all_rows: &RoaringBitmap) -> Self {
        Truth {
            true_rows: all_rows.clone(),
            unknown_rows: RoaringBitmap::new(),
        }
    }

    fn all_false() -> Self {
        Truth {
            true_rows: RoaringBitmap::new(),
            unknown_rows: RoaringBitmap::new(),
        }
    }

    fn not(self, all_rows: &RoaringBitmap) -> Self {
        Truth {
            true_rows: all_rows - &self.true_rows - &self.unknown_rows,
            unknown_rows: self.unknown_rows,
        }
    }

    /// TRUE where both are, FALSE where either is, else UNKNOWN.
    fn and(self, other: Truth) -> Self {
        let true_rows = &self.true_rows & &other.true_rows;
        let not_false =
            (self.true_rows | self.unknown_rows) & (other.true_rows | other.unknown_rows);
        Truth {
            unknown_rows: not_false - &true_rows,
            true_rows,
        }
    }

    /// TRUE where either is, FALSE where both are, else UNKNOWN.
    fn or(self, other: Truth) -> Self {
        let true_rows = self.true_rows | other.true_rows;
        Truth {
            unknown_rows: (self.unknown_rows | other.unknown_rows) - &true_rows,
            true_rows,
        }
    }
}

/// Builds a leaf's [`Truth`] from its rows, in row order.
struct LeafTruth {
    null_matches: bool,
}

impl LeafTruth {
    fn new(matcher: &Matcher) -> Self {
        LeafTruth {
            null_matches: matcher.matches_null(),
        }
    }

    /// From the rows holding an accepted value and the null rows.
    fn of_value_rows(self, value_rows: ValueRows) -> Truth {
        if self.null_matches {
            Truth {
                true_rows: value_rows.matching | value_rows.null,
                unknown_rows: RoaringBitmap::new(),
            }
        } else {
            Truth {
                true_rows: value_rows.matching,
                unknown_rows: value_rows.null,
            }
        }
    }

    /// The truth of every row of `cells`, in row order: `None` when the row
    /// is null, else whether it matches.
    ///
    /// Rows are gathered in order and the bitmaps built from the sorted
    /// lists at the end, which costs far less than inserting row by row.
    fn extend(self, cells: impl Iterator<Item = Option<bool>>) -> Truth {
        let (mut true_rows, mut unknown_rows) = (Vec::new(), Vec::new());
        for (row, matches) in (0..=u32::MAX).zip(cells) {
            match matches {
                Some(true) => true_rows.push(row),
                Some(false) => {}
                None if self.null_matches => true_rows.push(row),
                None => unknown_rows.push(row),
            }
        }
        let bitmap = |rows: Vec<u32>| {
            RoaringBitmap::from_sorted_iter(rows).unwrap_or_else(|_| RoaringBitmap::new())
        };
        Truth {
            true_rows: bitmap(true_rows),
            unknown_rows: bitmap(unknown_rows),
        }
    }
}

/// Reads the columns a filter names, each once, checked against the table's
/// row count; `__time` only when a condition names it.
struct ColumnReader<'t, 'f> {
    table: &'t dyn TableSource,
    rows: usize,
    times: Option<Cow<'t, [Millis]>>,
    columns: HashMap<&'f str, Option<ColumnValues>>,
}

impl<'f> ColumnReader<'_, 'f> {
    fn evaluate_leaf(&mut self, column: &'f str, matcher: &Matcher) -> Result<Truth, SelectError> {
        let leaf = LeafTruth::new(matcher);
        if column == TIME_COLUMN {
            // Time intervals are what a table judges by its blocks' time
            // ranges, decoding only the blocks an interval bound cuts.
            if let Some(intervals) = matcher.time_intervals() {
                return Ok(Truth {
                    true_rows: self.table.rows_in_intervals(&intervals)?,
                    unknown_rows: RoaringBitmap::new(),
                });
            }
            let times = match &self.times {
                Some(times) => times,
                None => self.times.insert(Cow::Owned(self.table.read_time()?)),
            };
            return Ok(leaf.extend(
                times
                    .iter()
                    .map(|time| Some(matcher.matches_number(Number::Long(*time)))),
            ));
        }
        if let Some(truth) = self.evaluate_by_value(column, matcher)? {
            return Ok(truth);
        }
        if let Some(truth) = self.evaluate_numbers(column, matcher)? {
            return Ok(truth);
        }
        let rows = self.rows;
        let Some(values) = self.column(column)? else {
            return Ok(leaf.extend(std::iter::repeat_n(None, rows)));
        };
        Ok(match values {
            ColumnValues::Long(values) => leaf.extend(
                values
                    .iter()
                    .map(|value| value.map(|value| matcher.matches_number(Number::Long(value)))),
            ),
            ColumnValues::Double(values) => leaf.extend(
                values
                    .iter()
                    .map(|value| value.map(|value| matcher.matches_number(Number::Double(value)))),
            ),
            ColumnValues::Text(values) => leaf.extend(
                values
                    .iter()
                    .map(|value| value.as_deref().map(|value| matcher.matches_text(value))),
            ),
            ColumnValues::String { dictionary, rows } => {
                let accepts = |value: &str| matcher.matches_text(value);
                let test = value_test(matcher, &accepts);
                leaf.of_value_rows(ValueRows::of_ids(dictionary, rows, &test))
            }
            ColumnValues::Complex(_) => {
                return Err(SelectError::ComplexColumn {
                    column: column.to_owned(),
                });
            }
        })
    }

    /// A leaf on a long or double column, answered by the table, which may
    /// judge whole blocks by their smallest and largest values; `None` when
    /// the column is not a numeric column of this table.
    fn evaluate_numbers(
        &mut self,
        column: &str,
        matcher: &Matcher,
    ) -> Result<Option<Truth>, SelectError> {
        let is_number = self
            .table
            .schema()
            .position(column)
            .and_then(|position| self.table.schema().columns().get(position))
            .is_some_and(|schema| matches!(schema.kind, ColumnKind::Long | ColumnKind::Double));
        if !is_number {
            return Ok(None);
        }
        let long_block =
            |min: i64, max: i64| matcher.judge_block(Number::Long(min), Number::Long(max));
        let double_block =
            |min: f64, max: f64| matcher.judge_block(Number::Double(min), Number::Double(max));
        let long_ranges = matcher.long_ranges();
        let long = |value: i64| match &long_ranges {
            Some(ranges) => ranges.iter().any(|range| range.contains(&value)),
            None => matcher.matches_number(Number::Long(value)),
        };
        let double = |value: f64| matcher.matches_number(Number::Double(value));
        let test = NumberTest {
            long_block: &long_block,
            double_block: &double_block,
            long: &long,
            double: &double,
            long_ranges: long_ranges.as_deref(),
        };
        let value_rows = self.table.number_rows(column, &test)?;
        Ok(value_rows.map(|value_rows| LeafTruth::new(matcher).of_value_rows(value_rows)))
    }

    /// A leaf on a string column, answered by the table from its values'
    /// rows (an index, when it has one) without decoding the column; `None`
    /// when the column is not a string column of this table.
    fn evaluate_by_value(
        &mut self,
        column: &str,
        matcher: &Matcher,
    ) -> Result<Option<Truth>, SelectError> {
        let is_string = self
            .table
            .schema()
            .position(column)
            .and_then(|position| self.table.schema().columns().get(position))
            .is_some_and(|schema| matches!(schema.kind, ColumnKind::String { .. }));
        if !is_string {
            return Ok(None);
        }
        let accepts = |value: &str| matcher.matches_text(value);
        let test = value_test(matcher, &accepts);
        let value_rows = self.table.string_value_rows(column, &test)?;
        Ok(value_rows.map(|value_rows| LeafTruth::new(matcher).of_value_rows(value_rows)))
    }

    /// Column `name`, read on first use; `None` when the table lacks it.
    fn column(&mut self, name: &'f str) -> Result<Option<&ColumnValues>, SelectError> {
        let values = match self.columns.entry(name) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let values = self.table.read_column(name)?;
                if let Some(values) = &values
                    && values.len() != self.rows
                {
                    return Err(SelectError::ColumnLength {
                        column: name.to_owned(),
                        expected: self.rows,
                        found: values.len(),
                    });
                }
                entry.insert(values)
            }
        };
        Ok(values.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_storage::segment::{CellValue, Segment, SegmentWriter, TableKind};
    use strata_storage::time::MILLIS_PER_MINUTE;

    use super::*;
    use crate::mem_table::{MemTable, MemTableBuilder};
    use crate::segment_table::SegmentTable;

    /// A bad `fulltext` filter is refused from the spec alone, anywhere in
    /// the filter tree, before a table is read.
    #[test]
    fn fulltext_filters_are_checked_against_the_spec() {
        let spec = DataSourceSpec::from_json(
            r#"{"dataSource": "logs", "dimensionsSpec": {"dimensions": [
                "host", {"type": "text", "name": "message"}]}}"#,
        )
        .unwrap();
        let text = |query: &str, fields: &[&str]| Filter::FullText {
            query: query.to_owned(),
            fields: fields.iter().map(|field| field.to_string()).collect(),
        };
        let nested = |filter| {
            Filter::Not(Box::new(Filter::And(vec![
                Filter::Equals {
                    column: "host".into(),
                    value: Some("a".into()),
                },
                filter,
            ])))
        };
        assert!(
            check_fulltext(
                &nested(text("\"kernel panic\" OR needle*", &["message"])),
                &spec
            )
            .is_ok()
        );
        assert!(check_fulltext(&text("needle", &[]), &spec).is_ok());
        match check_fulltext(&nested(text("(kernel AND", &[])), &spec) {
            Err(SelectError::FullText(TextQueryError::Syntax { query, .. })) => {
                assert_eq!(query, "(kernel AND")
            }
            other => panic!("{other:?}"),
        }
        match check_fulltext(&nested(text("kernel", &["message", "host"])), &spec) {
            Err(SelectError::FullText(TextQueryError::UnknownField { field, text_fields })) => {
                assert_eq!(
                    (field.as_str(), text_fields),
                    ("host", vec!["message".to_owned()])
                )
            }
            other => panic!("{other:?}"),
        }
        // A field named inside the query is checked as those listed are.
        match check_fulltext(&nested(text("kernel AND host:web", &[])), &spec) {
            Err(SelectError::FullText(TextQueryError::UnknownField { field, .. })) => {
                assert_eq!(field, "host")
            }
            other => panic!("{other:?}"),
        }
    }

    const BASE: Millis = 1_700_000_000_000;
    const STEP: Millis = 15 * MILLIS_PER_MINUTE;

    const HOSTS: &[&str] = &["a", "b", "ab", "10", "9", "", "a%b", "axb", "a\\b", "b\\"];
    const TAGS: &[&str] = &["x", "y", "X", "1.5", "x_y"];
    const STATUSES: &[i64] = &[-1, 0, 9, 10, 100, 200, 404];
    const LATENCIES: &[f64] = &[-2.25, 0.5, 1.0, 1.5, 10.0];
    const MESSAGES: &[&str] = &["GET /a", "get /b", "POST 50%", "a_b", "", "Ünïcode"];
    const COLUMNS: &[&str] = &[
        "__time", "host", "tags", "status", "latency", "message", "missing",
    ];

    /// One row as the test writes it, before any table encodes it.
    #[derive(Debug, Clone)]
    struct Row {
        time: Millis,
        host: Option<&'static str>,
        tags: Vec<&'static str>,
        status: Option<i64>,
        latency: Option<f64>,
        message: Option<&'static str>,
    }

    impl Row {
        fn cells(&self) -> Vec<CellValue<'_>> {
            vec![
                self.host.map_or(CellValue::Null, CellValue::Str),
                CellValue::Strs(&self.tags),
                self.status.map_or(CellValue::Null, CellValue::Long),
                self.latency.map_or(CellValue::Null, CellValue::Double),
                self.message.map_or(CellValue::Null, CellValue::Str),
                CellValue::Null,
            ]
        }

        /// The row's values in `column`, as the oracle sees them; empty is null.
        fn values(&self, column: &str) -> Vec<Scalar> {
            match column {
                "__time" => vec![Scalar::Long(self.time)],
                "host" => self.host.map(Scalar::text).into_iter().collect(),
                "tags" => self.tags.iter().copied().map(Scalar::text).collect(),
                "status" => self.status.map(Scalar::Long).into_iter().collect(),
                "latency" => self.latency.map(Scalar::Double).into_iter().collect(),
                "message" => self.message.map(Scalar::text).into_iter().collect(),
                _ => Vec::new(),
            }
        }
    }

    use crate::mem_table::tests::schema;

    fn mem_table(rows: &[Row]) -> MemTable {
        let mut builder = MemTableBuilder::new(TableKind::Events, schema());
        for row in rows {
            builder.append_row(row.time, &row.cells()).unwrap();
        }
        builder.finish()
    }

    // ---- The oracle: every row on its own, in plain three-valued logic. ----

    #[derive(Debug, Clone)]
    enum Scalar {
        Long(i64),
        Double(f64),
        Text(String),
    }

    impl Scalar {
        fn text(value: &str) -> Self {
            Scalar::Text(value.to_owned())
        }

        fn as_text(&self) -> String {
            match self {
                Scalar::Long(value) => value.to_string(),
                Scalar::Double(value) => value.to_string(),
                Scalar::Text(value) => value.clone(),
            }
        }

        /// The test's numbers are small, so `f64` is exact for them.
        fn as_number(&self) -> Option<f64> {
            match self {
                Scalar::Long(value) => Some(*value as f64),
                Scalar::Double(value) => Some(*value),
                Scalar::Text(value) => value.parse().ok(),
            }
        }

        fn equals(&self, value: &str) -> bool {
            match self {
                Scalar::Text(text) => text == value,
                number => value
                    .parse::<f64>()
                    .is_ok_and(|value| number.as_number() == Some(value)),
            }
        }
    }

    fn oracle(filter: &Filter, row: &Row) -> Option<bool> {
        match filter {
            // Kleene: FALSE wins an AND, TRUE wins an OR, else any UNKNOWN makes UNKNOWN.
            Filter::And(filters) => {
                let values: Vec<_> = filters.iter().map(|filter| oracle(filter, row)).collect();
                if values.contains(&Some(false)) {
                    Some(false)
                } else {
                    values
                        .iter()
                        .all(|value| *value == Some(true))
                        .then_some(true)
                }
            }
            Filter::Or(filters) => {
                let values: Vec<_> = filters.iter().map(|filter| oracle(filter, row)).collect();
                if values.contains(&Some(true)) {
                    Some(true)
                } else {
                    values
                        .iter()
                        .all(|value| *value == Some(false))
                        .then_some(false)
                }
            }
            Filter::Not(filter) => oracle(filter, row).map(|value| !value),
            Filter::FullText { .. } => unreachable!("the properties search no text"),
            Filter::Equals { column, value } => {
                oracle_one_of(&row.values(column), std::slice::from_ref(value))
            }
            Filter::In { column, values } => oracle_one_of(&row.values(column), values),
            Filter::Range { column, .. }
            | Filter::Like { column, .. }
            | Filter::Regex { column, .. }
            | Filter::Contains { column, .. }
            | Filter::Intervals { column, .. } => {
                let values = row.values(column);
                (!values.is_empty())
                    .then(|| values.iter().any(|value| oracle_matches(filter, value)))
            }
        }
    }

    fn oracle_one_of(values: &[Scalar], wanted: &[Option<String>]) -> Option<bool> {
        if values.is_empty() {
            return wanted.contains(&None).then_some(true);
        }
        Some(
            wanted
                .iter()
                .flatten()
                .any(|wanted| values.iter().any(|value| value.equals(wanted))),
        )
    }

    fn oracle_matches(filter: &Filter, value: &Scalar) -> bool {
        match filter {
            Filter::Range {
                lower,
                upper,
                ordering: RangeOrdering::Numeric,
                ..
            } => {
                let Some(number) = value.as_number() else {
                    return false;
                };
                let admits = |bound: &RangeBound, above: bool| {
                    bound.value.parse::<f64>().is_ok_and(|bound_value| {
                        (if above {
                            number > bound_value
                        } else {
                            number < bound_value
                        }) || (!bound.strict && number == bound_value)
                    })
                };
                lower.as_ref().is_none_or(|bound| admits(bound, true))
                    && upper.as_ref().is_none_or(|bound| admits(bound, false))
            }
            Filter::Range {
                lower,
                upper,
                ordering: RangeOrdering::Lexicographic,
                ..
            } => {
                let text = value.as_text();
                lower.as_ref().is_none_or(|bound| {
                    text.as_str() > bound.value.as_str() || (!bound.strict && text == bound.value)
                }) && upper.as_ref().is_none_or(|bound| {
                    text.as_str() < bound.value.as_str() || (!bound.strict && text == bound.value)
                })
            }
            Filter::Like { pattern, .. } => like(
                &pattern.chars().collect::<Vec<_>>(),
                &value.as_text().chars().collect::<Vec<_>>(),
            ),
            Filter::Regex { pattern, .. } => {
                Regex::new(pattern).unwrap().is_match(&value.as_text())
            }
            Filter::Contains {
                text,
                case_sensitive,
                ..
            } => {
                if *case_sensitive {
                    value.as_text().contains(text.as_str())
                } else {
                    value
                        .as_text()
                        .to_lowercase()
                        .contains(&text.to_lowercase())
                }
            }
            Filter::Intervals { intervals, .. } => value.as_number().is_some_and(|number| {
                intervals.iter().any(|interval| {
                    interval.start() as f64 <= number && number < interval.end() as f64
                })
            }),
            other => unreachable!("not a value condition: {other:?}"),
        }
    }

    /// SQL LIKE by backtracking, independent of the regex translation.
    fn like(pattern: &[char], text: &[char]) -> bool {
        match pattern {
            [] => text.is_empty(),
            ['%', rest @ ..] => (0..=text.len()).any(|skip| like(rest, &text[skip..])),
            ['_', rest @ ..] => !text.is_empty() && like(rest, &text[1..]),
            ['\\', literal, rest @ ..] => text.first() == Some(literal) && like(rest, &text[1..]),
            [literal, rest @ ..] => text.first() == Some(literal) && like(rest, &text[1..]),
        }
    }

    fn oracle_rows(rows: &[Row], intervals: &[Interval], filter: Option<&Filter>) -> RoaringBitmap {
        (0u32..)
            .zip(rows)
            .filter(|(_, row)| intervals.iter().any(|interval| interval.contains(row.time)))
            .filter(|(_, row)| filter.is_none_or(|filter| oracle(filter, row) == Some(true)))
            .map(|(index, _)| index)
            .collect()
    }

    // ---- Generators. ----

    fn row() -> impl Strategy<Value = Row> {
        (
            0..16i64,
            prop::sample::select(vec![0, 1]),
            prop::option::weighted(0.8, prop::sample::select(HOSTS)),
            prop::collection::vec(prop::sample::select(TAGS), 0..4),
            prop::option::weighted(0.8, prop::sample::select(STATUSES)),
            prop::option::weighted(0.8, prop::sample::select(LATENCIES)),
            prop::option::weighted(0.8, prop::sample::select(MESSAGES)),
        )
            .prop_map(|(step, offset, host, tags, status, latency, message)| Row {
                time: BASE + step * STEP + offset,
                host,
                tags,
                status,
                latency,
                message,
            })
    }

    fn rows() -> impl Strategy<Value = Vec<Row>> {
        prop::collection::vec(row(), 0..40).prop_map(|mut rows| {
            rows.sort_by_key(|row| row.time);
            rows
        })
    }

    /// Values to compare with: the table's own, near misses, and other kinds.
    /// The values column `column` holds, as filter text.
    fn values_of(column: &str) -> Vec<String> {
        let texts = |values: &[&str]| values.iter().map(|value| value.to_string()).collect();
        match column {
            "__time" => (0..16)
                .map(|step| (BASE + step * STEP).to_string())
                .collect(),
            "host" => texts(HOSTS),
            "tags" => texts(TAGS),
            "status" => STATUSES.iter().map(i64::to_string).collect(),
            "latency" => LATENCIES.iter().map(f64::to_string).collect(),
            "message" => texts(MESSAGES),
            _ => texts(&["a"]),
        }
    }

    /// A value to compare column `column` with: mostly one it holds, else
    /// another column's, a near miss or another kind of value.
    fn value_for(column: &str) -> impl Strategy<Value = String> + use<> {
        let mut others: Vec<String> = COLUMNS
            .iter()
            .flat_map(|column| values_of(column))
            .collect();
        others
            .extend(["zzz", "1", "10.0", "1e1", "-1.0", "0.50", "A", "x_", "~"].map(String::from));
        prop_oneof![
            3 => prop::sample::select(values_of(column)),
            1 => prop::sample::select(others),
        ]
    }

    fn interval() -> impl Strategy<Value = Interval> {
        let mut ends: Vec<Millis> = (-2..34)
            .map(|half_step| BASE + half_step * STEP / 2)
            .collect();
        ends.extend([-5, 0, 1, 9, 10, 11, 200, 500]);
        let ends = prop::sample::select(ends);
        (ends.clone(), ends).prop_map(|(a, b)| Interval::new(a.min(b), a.max(b)).unwrap())
    }

    /// The query's intervals: half the time all of time, so the filter
    /// decides alone.
    fn query_intervals() -> impl Strategy<Value = Vec<Interval>> {
        prop_oneof![
            Just(vec![Interval::ETERNITY]),
            prop::collection::vec(interval(), 0..3),
        ]
    }

    fn bound(column: &str) -> impl Strategy<Value = Option<RangeBound>> + use<> {
        prop::option::of(
            (value_for(column), any::<bool>())
                .prop_map(|(value, strict)| RangeBound { value, strict }),
        )
    }

    /// A LIKE pattern: either random pieces, or a value of the column with
    /// some characters turned into wildcards or escaped.
    fn like_pattern(column: &str) -> impl Strategy<Value = String> + use<> {
        let pieces = prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "x", "1", "0", "%", "_", "\\", "/", " ", "G", "Ü",
            ]),
            0..6,
        )
        .prop_map(|pieces| pieces.concat());
        let from_value =
            (value_for(column), prop::collection::vec(0..6u8, 8)).prop_map(|(value, choices)| {
                value
                    .chars()
                    .zip(choices.iter().cycle())
                    .map(|(character, choice)| match choice {
                        0 => "_".to_owned(),
                        1 => "%".to_owned(),
                        2 => format!("\\{character}"),
                        _ => character.to_string(),
                    })
                    .collect()
            });
        prop_oneof![pieces, from_value]
    }

    fn leaf() -> impl Strategy<Value = Filter> {
        prop::sample::select(COLUMNS).prop_flat_map(|column| {
            let name = move || column.to_owned();
            prop_oneof![
                prop::option::weighted(0.85, value_for(column)).prop_map(move |value| {
                    Filter::Equals {
                        column: name(),
                        value,
                    }
                }),
                prop::collection::vec(prop::option::weighted(0.85, value_for(column)), 0..4)
                    .prop_map(move |values| Filter::In {
                        column: name(),
                        values
                    }),
                (bound(column), bound(column), any::<bool>()).prop_map(
                    move |(lower, upper, numeric)| Filter::Range {
                        column: name(),
                        lower,
                        upper,
                        ordering: if numeric {
                            RangeOrdering::Numeric
                        } else {
                            RangeOrdering::Lexicographic
                        },
                    }
                ),
                like_pattern(column).prop_map(move |pattern| Filter::Like {
                    column: name(),
                    pattern
                }),
                prop::sample::select(vec![
                    "a", "^a", "b$", "[0-9]+", "^$", "G.T", "(?i)get", "\\.", "x|y", "^-", "\\\\$"
                ])
                .prop_map(move |pattern| Filter::Regex {
                    column: name(),
                    pattern: pattern.to_owned(),
                }),
                (
                    prop::sample::select(vec![
                        "a", "A", "get", "GET", "Post", "%", "", "1", ".5", "/", "ü", "Ü", "x"
                    ]),
                    any::<bool>()
                )
                    .prop_map(move |(text, case_sensitive)| Filter::Contains {
                        column: name(),
                        text: text.to_owned(),
                        case_sensitive,
                    }),
                prop::collection::vec(interval(), 0..3).prop_map(move |intervals| {
                    Filter::Intervals {
                        column: name(),
                        intervals,
                    }
                }),
            ]
        })
    }

    fn filter() -> impl Strategy<Value = Filter> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
                inner.prop_map(|filter| Filter::Not(Box::new(filter))),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn selection_matches_the_row_by_row_oracle(
            rows in rows(),
            intervals in query_intervals(),
            filter in prop::option::weighted(0.9, filter()),
        ) {
            let table = mem_table(&rows);
            let selected = select_rows(&table, &intervals, filter.as_ref()).unwrap();
            prop_assert_eq!(selected, oracle_rows(&rows, &intervals, filter.as_ref()));
        }
    }

    // ---- A segment of the same rows selects the same rows. ----

    fn fixed_rows() -> Vec<Row> {
        (0..48usize)
            .map(|i| Row {
                time: BASE + i as Millis * STEP / 3,
                host: (i % 7 != 3).then(|| HOSTS[i % HOSTS.len()]),
                tags: TAGS.iter().copied().skip(i % 5).take(i % 3).collect(),
                status: (i % 5 != 1).then(|| STATUSES[i % STATUSES.len()]),
                latency: (i % 4 != 2).then(|| LATENCIES[i % LATENCIES.len()]),
                message: (i % 6 != 0).then(|| MESSAGES[i % MESSAGES.len()]),
            })
            .collect()
    }

    fn equals(column: &str, value: &str) -> Filter {
        Filter::Equals {
            column: column.into(),
            value: Some(value.into()),
        }
    }

    fn is_null(column: &str) -> Filter {
        Filter::Equals {
            column: column.into(),
            value: None,
        }
    }

    fn not(filter: Filter) -> Filter {
        Filter::Not(Box::new(filter))
    }

    fn range(
        column: &str,
        lower: Option<(&str, bool)>,
        upper: Option<(&str, bool)>,
        ordering: RangeOrdering,
    ) -> Filter {
        let bound = |(value, strict): (&str, bool)| RangeBound {
            value: value.into(),
            strict,
        };
        Filter::Range {
            column: column.into(),
            lower: lower.map(bound),
            upper: upper.map(bound),
            ordering,
        }
    }

    #[test]
    fn a_segment_and_a_mem_table_of_the_same_rows_select_the_same_rows() {
        let rows = fixed_rows();
        let dir = tempfile::tempdir().unwrap();
        let mut segment = SegmentWriter::create(&dir.path().join("s")).unwrap();
        let mut writer = segment.table(TableKind::Events, schema()).unwrap();
        for row in &rows {
            writer.append_row(row.time, &row.cells()).unwrap();
        }
        segment.add_table(writer.finish().unwrap());
        segment.finish().unwrap();
        let stored = Segment::open(&dir.path().join("s")).unwrap();
        let stored = SegmentTable::new(stored.table(TableKind::Events).unwrap());
        let memory = mem_table(&rows);

        let intervals = [Interval::new(BASE + STEP, BASE + 12 * STEP).unwrap()];
        let filters = [
            equals("host", "a"),
            not(equals("host", "a")),
            is_null("host"),
            equals("tags", "y"),
            not(equals("tags", "x")),
            Filter::In {
                column: "status".into(),
                values: vec![Some("200".into()), Some("9.0".into()), None],
            },
            range(
                "status",
                Some(("0", true)),
                Some(("100", false)),
                RangeOrdering::Numeric,
            ),
            range(
                "status",
                None,
                Some(("2", true)),
                RangeOrdering::Lexicographic,
            ),
            range("host", Some(("0", false)), None, RangeOrdering::Numeric),
            range(
                "latency",
                Some(("0.5", false)),
                Some(("1.5", true)),
                RangeOrdering::Numeric,
            ),
            Filter::Like {
                column: "message".into(),
                pattern: "%/_".into(),
            },
            Filter::Regex {
                column: "tags".into(),
                pattern: "^[0-9.]+$".into(),
            },
            Filter::Contains {
                column: "message".into(),
                text: "GET".into(),
                case_sensitive: false,
            },
            Filter::Intervals {
                column: "__time".into(),
                intervals: vec![Interval::new(BASE + 2 * STEP, BASE + 5 * STEP).unwrap()],
            },
            Filter::Or(vec![
                Filter::And(vec![equals("host", "b"), not(is_null("status"))]),
                not(Filter::Or(vec![
                    equals("tags", "X"),
                    equals("latency", "1"),
                ])),
            ]),
        ];
        for filter in &filters {
            let from_memory = select_rows(&memory, &intervals, Some(filter)).unwrap();
            let from_segment = select_rows(&stored, &intervals, Some(filter)).unwrap();
            assert_eq!(from_memory, from_segment, "{filter:?}");
            assert_eq!(
                from_memory,
                oracle_rows(&rows, &intervals, Some(filter)),
                "{filter:?}"
            );
            assert!(
                !from_memory.is_empty(),
                "a filter that selects nothing tests little: {filter:?}"
            );
        }
    }

    // ---- Semantics pinned by hand. ----

    fn at(time: Millis) -> Row {
        Row {
            time,
            host: None,
            tags: Vec::new(),
            status: None,
            latency: None,
            message: None,
        }
    }

    fn select(rows: &[Row], filter: &Filter) -> Vec<u32> {
        select_rows(&mem_table(rows), &[Interval::ETERNITY], Some(filter))
            .unwrap()
            .into_iter()
            .collect()
    }

    #[test]
    fn not_leaves_null_rows_out() {
        let rows = [
            Row {
                host: Some("a"),
                ..at(0)
            },
            at(1),
            Row {
                host: Some("b"),
                ..at(2)
            },
        ];
        assert_eq!(select(&rows, &equals("host", "a")), [0]);
        assert_eq!(select(&rows, &not(equals("host", "a"))), [2]);
        assert_eq!(select(&rows, &is_null("host")), [1]);
        assert_eq!(select(&rows, &not(is_null("host"))), [0, 2]);
        assert_eq!(select(&rows, &not(not(equals("host", "a")))), [0]);
    }

    #[test]
    fn and_or_follow_kleene_logic_on_unknown() {
        // Row 0 has no host: `host = 'a'` is UNKNOWN there, `status = 999` FALSE.
        let rows = [Row {
            status: Some(1),
            ..at(0)
        }];
        let unknown = equals("host", "a");
        let false_ = equals("status", "999");
        let true_ = equals("status", "1");
        assert_eq!(
            select(
                &rows,
                &not(Filter::And(vec![unknown.clone(), false_.clone()]))
            ),
            [0]
        );
        assert_eq!(
            select(&rows, &Filter::Or(vec![unknown.clone(), true_.clone()])),
            [0]
        );
        assert!(select(&rows, &not(Filter::Or(vec![unknown.clone(), false_]))).is_empty());
        assert!(select(&rows, &not(Filter::And(vec![unknown, true_]))).is_empty());
        assert_eq!(select(&rows, &Filter::And(Vec::new())), [0]);
        assert!(select(&rows, &Filter::Or(Vec::new())).is_empty());
    }

    #[test]
    fn a_multi_value_row_matches_when_any_value_does() {
        let rows = [
            Row {
                tags: vec!["x", "y"],
                ..at(0)
            },
            Row {
                tags: vec!["y"],
                ..at(1)
            },
            at(2),
        ];
        assert_eq!(select(&rows, &equals("tags", "y")), [0, 1]);
        assert_eq!(select(&rows, &equals("tags", "x")), [0]);
        assert_eq!(select(&rows, &not(equals("tags", "x"))), [1]);
        assert_eq!(select(&rows, &is_null("tags")), [2]);
        let like_x = Filter::Like {
            column: "tags".into(),
            pattern: "x".into(),
        };
        assert_eq!(select(&rows, &like_x), [0]);
    }

    #[test]
    fn like_escapes_wildcards_with_a_backslash() {
        let rows = [
            Row {
                host: Some("a%b"),
                ..at(0)
            },
            Row {
                host: Some("axb"),
                ..at(1)
            },
            Row {
                host: Some("a\\b"),
                ..at(2)
            },
            Row {
                host: Some("ab"),
                ..at(3)
            },
            Row {
                host: Some("a\nb"),
                ..at(4)
            },
        ];
        let like = |pattern: &str| Filter::Like {
            column: "host".into(),
            pattern: pattern.into(),
        };
        assert_eq!(select(&rows, &like("a\\%b")), [0]);
        assert_eq!(select(&rows, &like("a%b")), [0, 1, 2, 3, 4]);
        assert_eq!(select(&rows, &like("a_b")), [0, 1, 2, 4]);
        assert_eq!(select(&rows, &like("a\\\\b")), [2]);
        assert_eq!(select(&rows, &like("a\\_b")), Vec::<u32>::new());
        // Anchored at both ends, and regex syntax means nothing.
        assert_eq!(select(&rows, &like("a")), Vec::<u32>::new());
        assert_eq!(select(&rows, &like("a.b")), Vec::<u32>::new());
        // A trailing backslash is itself literal.
        let trailing = [Row {
            host: Some("a\\"),
            ..at(0)
        }];
        assert_eq!(select(&trailing, &like("a\\")), [0]);
    }

    #[test]
    fn a_long_column_orders_by_number_or_by_decimal_text() {
        let rows = [
            Row {
                status: Some(9),
                ..at(0)
            },
            Row {
                status: Some(10),
                ..at(1)
            },
            Row {
                status: Some(100),
                ..at(2)
            },
        ];
        let below_9 = |ordering| range("status", None, Some(("9", true)), ordering);
        // "10" < "100" < "9" as text.
        assert_eq!(
            select(&rows, &below_9(RangeOrdering::Lexicographic)),
            [1, 2]
        );
        assert!(select(&rows, &below_9(RangeOrdering::Numeric)).is_empty());
        let from_10 = |ordering| range("status", Some(("10", false)), None, ordering);
        assert_eq!(select(&rows, &from_10(RangeOrdering::Numeric)), [1, 2]);
        assert_eq!(
            select(&rows, &from_10(RangeOrdering::Lexicographic)),
            [0, 1, 2]
        );
        // A bound that is not a number holds no number.
        assert!(
            select(
                &rows,
                &range("status", Some(("ten", false)), None, RangeOrdering::Numeric)
            )
            .is_empty()
        );
    }

    #[test]
    fn numeric_equality_parses_the_value_and_a_non_number_is_false_not_unknown() {
        let rows = [
            Row {
                status: Some(10),
                ..at(0)
            },
            at(1),
            Row {
                status: Some(9_007_199_254_740_993),
                ..at(2)
            },
        ];
        assert_eq!(select(&rows, &equals("status", "10")), [0]);
        assert_eq!(select(&rows, &equals("status", "10.0")), [0]);
        assert_eq!(select(&rows, &equals("status", "1e1")), [0]);
        assert!(select(&rows, &equals("status", "ten")).is_empty());
        assert_eq!(select(&rows, &not(equals("status", "ten"))), [0, 2]);
        // 2^53 + 1 is not rounded to 2^53.
        assert_eq!(select(&rows, &equals("status", "9007199254740993")), [2]);
        assert!(select(&rows, &equals("status", "9007199254740992")).is_empty());
        assert!(select(&rows, &equals("status", "9007199254740992.0")).is_empty());
    }

    #[test]
    fn numbers_compare_exactly_across_longs_and_doubles() {
        let order = |a: Number, b: Number| a.compare(b);
        let two_to_53 = 9_007_199_254_740_992_i64;
        assert_eq!(
            order(
                Number::Long(two_to_53 + 1),
                Number::Double(two_to_53 as f64)
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(
                Number::Double(two_to_53 as f64),
                Number::Long(two_to_53 + 1)
            ),
            Some(Ordering::Less)
        );
        assert_eq!(
            order(Number::Long(2), Number::Double(2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            order(Number::Long(-2), Number::Double(-2.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(Number::Long(-3), Number::Double(-3.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            order(Number::Long(i64::MAX), Number::Double(f64::INFINITY)),
            Some(Ordering::Less)
        );
        assert_eq!(
            order(Number::Long(i64::MAX), Number::Double(i64::MAX as f64)),
            Some(Ordering::Less)
        );
        assert_eq!(
            order(Number::Long(i64::MIN), Number::Double(i64::MIN as f64)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            order(Number::Long(i64::MIN), Number::Double(f64::NEG_INFINITY)),
            Some(Ordering::Greater)
        );
        assert_eq!(order(Number::Long(0), Number::Double(f64::NAN)), None);
    }

    #[test]
    fn an_invalid_regex_is_an_error_naming_the_pattern_and_the_reason() {
        let filter = Filter::Regex {
            column: "host".into(),
            pattern: "a(b".into(),
        };
        let error = select_rows(&mem_table(&[]), &[], Some(&filter)).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, SelectError::InvalidRegex { .. }),
            "{error:?}"
        );
        assert!(message.contains("`a(b`"), "{message}");
        assert!(message.contains("`host`"), "{message}");
        assert!(message.contains("unclosed group"), "{message}");
    }

    #[test]
    fn a_filter_on_a_complex_column_is_an_error() {
        let error = select_rows(
            &mem_table(&[at(0)]),
            &[Interval::ETERNITY],
            Some(&not(is_null("users"))),
        )
        .unwrap_err();
        assert!(
            matches!(&error, SelectError::ComplexColumn { column } if column == "users"),
            "{error:?}"
        );
        assert!(error.to_string().contains("cannot be filtered"), "{error}");
    }

    #[test]
    fn a_column_the_table_lacks_is_null_everywhere() {
        let rows = [
            Row {
                host: Some("a"),
                ..at(0)
            },
            at(1),
        ];
        assert!(select(&rows, &equals("nope", "a")).is_empty());
        assert!(select(&rows, &not(equals("nope", "a"))).is_empty());
        assert!(
            select(
                &rows,
                &range("nope", None, None, RangeOrdering::Lexicographic)
            )
            .is_empty()
        );
        assert_eq!(select(&rows, &is_null("nope")), [0, 1]);
        let in_null = Filter::In {
            column: "nope".into(),
            values: vec![Some("a".into()), None],
        };
        assert_eq!(select(&rows, &in_null), [0, 1]);
    }

    /// A table whose text index finds `found`, or that has none.
    struct Searched {
        table: MemTable,
        found: Option<RoaringBitmap>,
    }

    impl TableSource for Searched {
        fn kind(&self) -> TableKind {
            self.table.kind()
        }
        fn schema(&self) -> &TableSchema {
            self.table.schema()
        }
        fn rows(&self) -> usize {
            self.table.rows()
        }
        fn time_range(&self) -> Option<(Millis, Millis)> {
            self.table.time_range()
        }
        fn read_time(&self) -> Result<Vec<Millis>, TableError> {
            self.table.read_time()
        }
        fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError> {
            self.table.read_column(name)
        }
        fn fulltext_rows(
            &self,
            _query: &str,
            _fields: &[String],
        ) -> Result<Option<RoaringBitmap>, TableError> {
            Ok(self.found.clone())
        }
    }

    #[test]
    fn a_fulltext_leaf_is_true_on_the_rows_found_and_false_elsewhere() {
        let rows: Vec<Row> = (0..5)
            .map(|step| Row {
                host: (step != 1).then_some(if step % 2 == 0 { "a" } else { "b" }),
                ..at(BASE + step * STEP)
            })
            .collect();
        let text = Filter::FullText {
            query: "needle".into(),
            fields: Vec::new(),
        };
        let selected = |found: Option<&[u32]>, intervals: &[Interval], filter: &Filter| {
            let table = Searched {
                table: mem_table(&rows),
                found: found.map(|rows| rows.iter().copied().collect()),
            };
            select_rows(&table, intervals, Some(filter))
                .unwrap()
                .into_iter()
                .collect::<Vec<u32>>()
        };
        let everything = [Interval::ETERNITY];
        let found = Some(&[1, 2, 4][..]);
        assert_eq!(selected(found, &everything, &text), [1, 2, 4]);
        // Never unknown: NOT selects every other row, null host or not.
        assert_eq!(selected(found, &everything, &not(text.clone())), [0, 3]);
        assert_eq!(
            selected(
                found,
                &everything,
                &Filter::And(vec![text.clone(), equals("host", "a")])
            ),
            [2, 4]
        );
        // Row 1 has no host: UNKNOWN OR TRUE is TRUE.
        assert_eq!(
            selected(
                found,
                &everything,
                &Filter::Or(vec![text.clone(), equals("host", "b")])
            ),
            [1, 2, 3, 4]
        );
        let later = [Interval::new(BASE + 2 * STEP, BASE + 10 * STEP).unwrap()];
        assert_eq!(selected(found, &later, &text), [2, 4]);
        assert_eq!(selected(found, &later, &not(text.clone())), [3]);
        // Without a text index nothing is found.
        assert!(selected(None, &everything, &text).is_empty());
        assert_eq!(selected(None, &everything, &not(text)), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_real_time_table_searches_its_text_and_query_mistakes_are_the_querys() {
        let rows: Vec<Row> = ["GET /a", "get /b", "POST 50%", "a_b"]
            .iter()
            .zip(0..)
            .map(|(message, step)| Row {
                message: Some(message),
                ..at(BASE + step * STEP)
            })
            .chain([at(BASE + 4 * STEP)])
            .collect();
        let table = mem_table(&rows);
        let search = |query: &str, fields: &[&str]| {
            let filter = Filter::FullText {
                query: query.into(),
                fields: fields.iter().map(|field| (*field).to_owned()).collect(),
            };
            select_rows(&table, &[Interval::ETERNITY], Some(&filter))
                .map(|rows| rows.into_iter().collect::<Vec<u32>>())
        };
        assert_eq!(search("get", &[]).unwrap(), [0, 1]);
        assert_eq!(search("message:\"get b\"", &[]).unwrap(), [1]);
        assert_eq!(search("b OR 50", &["message"]).unwrap(), [1, 2, 3]);
        assert_eq!(search("get AND NOT a", &[]).unwrap(), [1]);

        let error = search("(get AND", &[]).unwrap_err();
        assert!(
            matches!(error, SelectError::FullText(TextQueryError::Syntax { .. })),
            "{error:?}"
        );
        assert!(!error.is_table_damage());
        assert!(error.to_string().contains("(get AND"), "{error}");

        let error = search("get", &["body"]).unwrap_err();
        assert!(
            matches!(
                error,
                SelectError::FullText(TextQueryError::UnknownField { .. })
            ),
            "{error:?}"
        );
        assert!(!error.is_table_damage());
        let message = error.to_string();
        assert!(
            message.contains("body") && message.contains("message"),
            "{message}"
        );
    }

    #[test]
    fn intervals_restrict_every_selection_and_their_ends_are_exclusive() {
        let rows: Vec<Row> = (0..4).map(|step| at(BASE + step * STEP)).collect();
        let table = mem_table(&rows);
        let first_two = Interval::new(BASE, BASE + 2 * STEP).unwrap();
        let selected = |intervals: &[Interval], filter: Option<&Filter>| -> Vec<u32> {
            select_rows(&table, intervals, filter)
                .unwrap()
                .into_iter()
                .collect()
        };
        assert_eq!(selected(&[first_two], None), [0, 1]);
        assert!(selected(&[], None).is_empty());
        assert!(selected(&[], Some(&is_null("host"))).is_empty());
        // Not never reaches outside the query's intervals.
        assert_eq!(
            selected(&[first_two], Some(&not(equals("host", "a")))),
            Vec::<u32>::new()
        );
        assert_eq!(
            selected(&[first_two], Some(&not(is_null("host")))),
            Vec::<u32>::new()
        );
        assert_eq!(selected(&[first_two], Some(&is_null("host"))), [0, 1]);
        let later = Filter::Intervals {
            column: "__time".into(),
            intervals: vec![Interval::new(BASE + STEP, BASE + 3 * STEP).unwrap()],
        };
        assert_eq!(selected(&[Interval::ETERNITY], Some(&later)), [1, 2]);
        assert_eq!(selected(&[first_two], Some(&later)), [1]);
        assert_eq!(selected(&[Interval::ETERNITY], Some(&not(later))), [0, 3]);
    }
}

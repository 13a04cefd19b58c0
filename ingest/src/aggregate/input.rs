//! One event's input to one metric, and how it becomes a number.
//!
//! The parser hands each metric the value of its `fieldName` as a
//! [`MetricInput`]: null (field missing or JSON `null`), a long, a double or a
//! string. Numeric aggregators coerce it to their type by Druid's ingest
//! rules, made explicit here:
//!
//! | input | long aggregators | double aggregators |
//! | --- | --- | --- |
//! | null, `""`, blank string | null (left out) | null (left out) |
//! | `Long(v)` | `v` | `v as f64` (nearest double) |
//! | `Double(d)` | `d` truncated toward zero, saturating at the long range (Java's `(long) d`) | `d` |
//! | `Double(NaN)` | ignored, reported | ignored, reported |
//! | `Str("42")`, `Str(" 1.5e3 ")` | parsed (a decimal is truncated) | parsed |
//! | `Str("abc")`, `Str("NaN")`, `Str("inf")` | ignored, reported | ignored, reported |
//!
//! "Ignored, reported" means the value is left out of the metric — the event
//! itself is kept and every other metric still sees it — and the caller gets an
//! [`InputProblem`] to pass back to whoever sent the event, so nothing is
//! dropped silently. Druid records the same case as a parse exception and keeps
//! the row. NaN is refused rather than propagated (as Java's arithmetic would)
//! because one NaN would poison a rolled-up sum forever; strings that spell a
//! non-finite number are refused for the same reason.

use super::error::InputProblem;

/// The value one event gives one metric: the event's `fieldName` field, as
/// parsed. Borrowed from the parsed event, so building one never allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricInput<'a> {
    /// The field is missing or JSON `null`.
    Null,
    Long(i64),
    Double(f64),
    Str(&'a str),
}

/// The longest prefix of an offending string quoted back in an
/// [`InputProblem`], so one huge bad value does not make a huge error report.
const QUOTED_PREFIX_CHARS: usize = 64;

/// `value` cut to [`QUOTED_PREFIX_CHARS`] characters, for an error message.
pub(super) fn quoted_prefix(value: &str) -> String {
    match value.char_indices().nth(QUOTED_PREFIX_CHARS) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_owned(),
    }
}

/// A string's number, or `Ok(None)` if it is blank (a blank field is null).
fn parse_number(value: &str, aggregator: &'static str) -> Result<Option<Number>, InputProblem> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if let Ok(long) = trimmed.parse::<i64>() {
        return Ok(Some(Number::Long(long)));
    }
    match trimmed.parse::<f64>() {
        Ok(double) if double.is_finite() => Ok(Some(Number::Double(double))),
        _ => Err(InputProblem::NotANumber {
            aggregator,
            found: quoted_prefix(value),
        }),
    }
}

/// A parsed numeric input, before it is converted to the aggregator's type.
enum Number {
    Long(i64),
    Double(f64),
}

/// The input as a long for a `long*` aggregator; `Ok(None)` for null.
pub(super) fn coerce_long(
    input: MetricInput<'_>,
    aggregator: &'static str,
) -> Result<Option<i64>, InputProblem> {
    let number = match input {
        MetricInput::Null => return Ok(None),
        MetricInput::Long(value) => Number::Long(value),
        MetricInput::Double(value) => Number::Double(value),
        MetricInput::Str(value) => match parse_number(value, aggregator)? {
            Some(number) => number,
            None => return Ok(None),
        },
    };
    match number {
        Number::Long(value) => Ok(Some(value)),
        Number::Double(value) if value.is_nan() => Err(InputProblem::NaN { aggregator }),
        // `as` truncates toward zero and saturates, exactly Java's `(long) d`.
        Number::Double(value) => Ok(Some(value as i64)),
    }
}

/// The input as a double for a `double*` or quantiles aggregator; `Ok(None)`
/// for null.
pub(super) fn coerce_double(
    input: MetricInput<'_>,
    aggregator: &'static str,
) -> Result<Option<f64>, InputProblem> {
    let value = match input {
        MetricInput::Null => return Ok(None),
        MetricInput::Long(value) => value as f64,
        MetricInput::Double(value) => value,
        MetricInput::Str(value) => match parse_number(value, aggregator)? {
            Some(Number::Long(value)) => value as f64,
            Some(Number::Double(value)) => value,
            None => return Ok(None),
        },
    };
    if value.is_nan() {
        Err(InputProblem::NaN { aggregator })
    } else {
        Ok(Some(value))
    }
}

//! Coercion: a JSON value into the type its dimension or metric declares.
//!
//! The JSON readers hand over each field's value as a [`Scalar`] (or, for an
//! array, a list of [`Element`]s); the rules here turn it into a
//! [`DimensionValue`] or [`MetricInput`], or into a [`ParseError`] that names the
//! field, the value and the fix. The rules are the table in the
//! [parent module's docs](super).

use strata_storage::spec::MultiValueHandling;

use super::error::{ParseError, Target, shown};
use super::event::{DimensionType, DimensionValue, MetricInput};

/// A JSON value that is not a container, borrowed from the line where it can be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(&'a str),
}

/// One non-null element of a JSON array, owned: arrays are collected whole
/// before they are coerced, because their length decides what they may become.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Element {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
}

impl Element {
    pub(super) fn as_scalar(&self) -> Scalar<'_> {
        match self {
            Element::Bool(value) => Scalar::Bool(*value),
            Element::Int(value) => Scalar::Int(*value),
            Element::UInt(value) => Scalar::UInt(*value),
            Element::Float(value) => Scalar::Float(*value),
            Element::Str(value) => Scalar::Str(value),
        }
    }

    fn into_string(self) -> String {
        match self {
            Element::Str(value) => value,
            other => printed(other.as_scalar()).unwrap_or_default(),
        }
    }
}

/// What a JSON value is called in messages, for values that cannot be shown whole.
pub(super) const AN_OBJECT: &str = "an object";
pub(super) const AN_ARRAY: &str = "an array";

impl Scalar<'_> {
    /// The value as JSON text, cut for an error message.
    pub(super) fn shown(self) -> String {
        let text = match self {
            Scalar::Null => "null".to_owned(),
            Scalar::Bool(value) => value.to_string(),
            Scalar::Int(value) => value.to_string(),
            Scalar::UInt(value) => value.to_string(),
            Scalar::Float(value) => value.to_string(),
            Scalar::Str(value) => serde_json::Value::from(value).to_string(),
        };
        shown(&text)
    }

    /// The type schema discovery gives a field holding this value; `None` for null.
    pub(super) fn discovered_type(self) -> Option<DimensionType> {
        match self {
            Scalar::Null => None,
            Scalar::Bool(_) | Scalar::Str(_) => Some(DimensionType::String),
            Scalar::Int(_) => Some(DimensionType::Long),
            Scalar::UInt(_) | Scalar::Float(_) => Some(DimensionType::Double),
        }
    }
}

/// Prints a non-string scalar the way a string dimension stores it: integers
/// without `.0`, other numbers in their shortest exact form, booleans as words.
fn printed(value: Scalar<'_>) -> Option<String> {
    match value {
        Scalar::Null => None,
        Scalar::Bool(value) => Some(value.to_string()),
        Scalar::Int(value) => Some(value.to_string()),
        Scalar::UInt(value) => Some(value.to_string()),
        Scalar::Float(value) => Some(value.to_string()),
        Scalar::Str(value) => Some(value.to_owned()),
    }
}

/// How one dimension reads its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DimensionRule {
    String(MultiValueHandling),
    Long,
    Double,
    Text,
}

impl DimensionRule {
    pub(super) fn type_name(self) -> &'static str {
        match self {
            DimensionRule::String(_) => "string",
            DimensionRule::Long => "long",
            DimensionRule::Double => "double",
            DimensionRule::Text => "text",
        }
    }

    pub(super) fn discovered(value_type: DimensionType) -> DimensionRule {
        match value_type {
            DimensionType::String => DimensionRule::String(MultiValueHandling::default()),
            DimensionType::Long => DimensionRule::Long,
            DimensionType::Double => DimensionRule::Double,
        }
    }

    pub(super) fn scalar(
        self,
        value: Scalar<'_>,
        field: &str,
        target: impl FnOnce() -> Target,
    ) -> Result<DimensionValue, ParseError> {
        Ok(match self {
            DimensionRule::String(_) | DimensionRule::Text => match printed(value) {
                Some(text) => DimensionValue::String(text),
                None => DimensionValue::Null,
            },
            DimensionRule::Long => match to_long(value, field, target)? {
                Some(long) => DimensionValue::Long(long),
                None => DimensionValue::Null,
            },
            DimensionRule::Double => match to_double(value, field, target)? {
                Some(double) => DimensionValue::Double(double),
                None => DimensionValue::Null,
            },
        })
    }

    /// An array's non-null elements: several values for a string dimension, one
    /// value for any dimension.
    pub(super) fn array(
        self,
        elements: Vec<Element>,
        field: &str,
        target: impl FnOnce() -> Target,
    ) -> Result<DimensionValue, ParseError> {
        let DimensionRule::String(handling) = self else {
            return match elements.as_slice() {
                [] => Ok(DimensionValue::Null),
                [single] => self.scalar(single.as_scalar(), field, target),
                several => Err(ParseError::UnexpectedArray {
                    field: field.to_owned(),
                    count: several.len(),
                    target: target(),
                }),
            };
        };
        let mut values: Vec<String> = elements.into_iter().map(Element::into_string).collect();
        match handling {
            MultiValueHandling::SortedArray => values.sort_unstable(),
            MultiValueHandling::SortedSet => {
                values.sort_unstable();
                values.dedup();
            }
            MultiValueHandling::Array => {}
        }
        Ok(match values.len() {
            0 => DimensionValue::Null,
            1 => DimensionValue::String(values.swap_remove(0)),
            _ => DimensionValue::Strings(values),
        })
    }
}

/// How one metric reads its input field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InputRule {
    Long,
    Double,
    /// The value as the event typed it: sketches of distinct values hash it.
    AsTyped,
}

impl InputRule {
    pub(super) fn scalar(
        self,
        value: Scalar<'_>,
        field: &str,
        target: impl FnOnce() -> Target,
    ) -> Result<MetricInput, ParseError> {
        Ok(match self {
            InputRule::Long => {
                to_long(value, field, target)?.map_or(MetricInput::Null, MetricInput::Long)
            }
            InputRule::Double => {
                to_double(value, field, target)?.map_or(MetricInput::Null, MetricInput::Double)
            }
            InputRule::AsTyped => match value {
                Scalar::Null => MetricInput::Null,
                Scalar::Int(long) => MetricInput::Long(long),
                Scalar::UInt(_) | Scalar::Float(_) => {
                    to_double(value, field, target)?.map_or(MetricInput::Null, MetricInput::Double)
                }
                Scalar::Bool(_) | Scalar::Str(_) => {
                    printed(value).map_or(MetricInput::Null, MetricInput::String)
                }
            },
        })
    }

    pub(super) fn array(
        self,
        elements: &[Element],
        field: &str,
        target: impl FnOnce() -> Target,
    ) -> Result<MetricInput, ParseError> {
        match elements {
            [] => Ok(MetricInput::Null),
            [single] => self.scalar(single.as_scalar(), field, target),
            several => Err(ParseError::UnexpectedArray {
                field: field.to_owned(),
                count: several.len(),
                target: target(),
            }),
        }
    }
}

/// The smallest and the first too-large `f64` that converts to `i64` exactly.
const I64_MIN_AS_F64: f64 = -9_223_372_036_854_775_808.0;
const I64_END_AS_F64: f64 = 9_223_372_036_854_775_808.0;

/// An integral `f64` in `i64` range, as `i64`.
fn integral(value: f64) -> Option<i64> {
    if value.fract() == 0.0 && (I64_MIN_AS_F64..I64_END_AS_F64).contains(&value) {
        // Exact: the value is integral and in range.
        Some(value as i64)
    } else {
        None
    }
}

/// A finite number parsed from text, trimmed; `None` for anything else.
pub(super) fn parse_finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// Long coercion; `Ok(None)` for null and empty text.
fn to_long(
    value: Scalar<'_>,
    field: &str,
    target: impl FnOnce() -> Target,
) -> Result<Option<i64>, ParseError> {
    let not_integer = |target: Target| ParseError::NotAnInteger {
        field: field.to_owned(),
        value: value.shown(),
        target,
    };
    match value {
        Scalar::Null => Ok(None),
        Scalar::Int(long) => Ok(Some(long)),
        Scalar::UInt(_) => Err(ParseError::OutOfRange {
            field: field.to_owned(),
            value: value.shown(),
            target: target(),
        }),
        Scalar::Float(double) if double.fract() != 0.0 => Err(not_integer(target())),
        Scalar::Float(double) => integral(double)
            .map(Some)
            .ok_or_else(|| ParseError::OutOfRange {
                field: field.to_owned(),
                value: value.shown(),
                target: target(),
            }),
        Scalar::Str(text) => {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            if let Ok(long) = text.parse::<i64>() {
                return Ok(Some(long));
            }
            match parse_finite(text) {
                Some(double) if double.fract() != 0.0 => Err(not_integer(target())),
                Some(double) => integral(double)
                    .map(Some)
                    .ok_or_else(|| ParseError::OutOfRange {
                        field: field.to_owned(),
                        value: value.shown(),
                        target: target(),
                    }),
                None => Err(ParseError::NotANumber {
                    field: field.to_owned(),
                    value: value.shown(),
                    target: target(),
                }),
            }
        }
        Scalar::Bool(_) => Err(ParseError::NotANumber {
            field: field.to_owned(),
            value: value.shown(),
            target: target(),
        }),
    }
}

/// Double coercion; `Ok(None)` for null and empty text. `-0.0` becomes `0.0`,
/// so equal numbers have equal bits.
fn to_double(
    value: Scalar<'_>,
    field: &str,
    target: impl FnOnce() -> Target,
) -> Result<Option<f64>, ParseError> {
    let double = match value {
        Scalar::Null => return Ok(None),
        Scalar::Int(long) => long as f64,
        Scalar::UInt(long) => long as f64,
        Scalar::Float(double) => double,
        Scalar::Str(text) if text.trim().is_empty() => return Ok(None),
        Scalar::Str(text) => match parse_finite(text.trim()) {
            Some(double) => double,
            None => {
                return Err(ParseError::NotANumber {
                    field: field.to_owned(),
                    value: value.shown(),
                    target: target(),
                });
            }
        },
        Scalar::Bool(_) => {
            return Err(ParseError::NotANumber {
                field: field.to_owned(),
                value: value.shown(),
                target: target(),
            });
        }
    };
    Ok(Some(double + 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dimension(name: &str, type_name: &'static str) -> impl FnOnce() -> Target {
        let name = name.to_owned();
        move || Target::Dimension { name, type_name }
    }

    fn string_dim(value: Scalar<'_>) -> DimensionValue {
        DimensionRule::String(MultiValueHandling::SortedArray)
            .scalar(value, "s", dimension("s", "string"))
            .unwrap()
    }

    fn long_dim(value: Scalar<'_>) -> Result<DimensionValue, ParseError> {
        DimensionRule::Long.scalar(value, "n", dimension("n", "long"))
    }

    fn double_dim(value: Scalar<'_>) -> Result<DimensionValue, ParseError> {
        DimensionRule::Double.scalar(value, "d", dimension("d", "double"))
    }

    #[test]
    fn strings_print_numbers_canonically_and_booleans_as_words() {
        let text = |s: &str| DimensionValue::String(s.to_owned());
        assert_eq!(string_dim(Scalar::Str("GET")), text("GET"));
        assert_eq!(string_dim(Scalar::Int(200)), text("200"));
        assert_eq!(string_dim(Scalar::Float(1.0)), text("1"));
        assert_eq!(string_dim(Scalar::Float(20.086)), text("20.086"));
        assert_eq!(string_dim(Scalar::Float(-0.5)), text("-0.5"));
        assert_eq!(
            string_dim(Scalar::UInt(u64::MAX)),
            text("18446744073709551615")
        );
        assert_eq!(string_dim(Scalar::Bool(true)), text("true"));
        assert_eq!(string_dim(Scalar::Bool(false)), text("false"));
        assert_eq!(string_dim(Scalar::Null), DimensionValue::Null);
        assert_eq!(string_dim(Scalar::Str("")), text(""));
    }

    #[test]
    fn longs_take_integers_integral_doubles_and_numeric_strings() {
        assert_eq!(long_dim(Scalar::Int(-7)).unwrap(), DimensionValue::Long(-7));
        assert_eq!(
            long_dim(Scalar::Float(3.0)).unwrap(),
            DimensionValue::Long(3)
        );
        assert_eq!(
            long_dim(Scalar::Str(" 42 ")).unwrap(),
            DimensionValue::Long(42)
        );
        assert_eq!(
            long_dim(Scalar::Str("1e3")).unwrap(),
            DimensionValue::Long(1000)
        );
        assert_eq!(long_dim(Scalar::Str("")).unwrap(), DimensionValue::Null);
        assert_eq!(long_dim(Scalar::Null).unwrap(), DimensionValue::Null);
    }

    #[test]
    fn a_fraction_into_a_long_says_to_declare_double() {
        let message = long_dim(Scalar::Float(3.5)).unwrap_err().to_string();
        assert_eq!(
            message,
            "field `n` holds 3.5, which is not an integer as long dimension `n` needs; declare the dimension `n` as `double`"
        );
        let message = long_dim(Scalar::Str("3.5")).unwrap_err().to_string();
        assert!(
            message.contains("holds \"3.5\", which is not an integer"),
            "{message}"
        );
    }

    #[test]
    fn non_numbers_and_huge_integers_are_refused_by_longs() {
        let message = long_dim(Scalar::Str("abc")).unwrap_err().to_string();
        assert_eq!(
            message,
            "field `n` holds \"abc\", which is not a number as long dimension `n` needs; send a number or a numeric string, or declare the dimension `n` as `string`"
        );
        assert!(matches!(
            long_dim(Scalar::Bool(true)),
            Err(ParseError::NotANumber { .. })
        ));
        assert!(matches!(
            long_dim(Scalar::UInt(u64::MAX)),
            Err(ParseError::OutOfRange { .. })
        ));
        assert!(matches!(
            long_dim(Scalar::Float(1e19)),
            Err(ParseError::OutOfRange { .. })
        ));
        assert!(matches!(
            long_dim(Scalar::Str("NaN")),
            Err(ParseError::NotANumber { .. })
        ));
    }

    #[test]
    fn doubles_take_any_number_and_numeric_strings() {
        assert_eq!(
            double_dim(Scalar::Int(2)).unwrap(),
            DimensionValue::Double(2.0)
        );
        assert_eq!(
            double_dim(Scalar::Float(2.5)).unwrap(),
            DimensionValue::Double(2.5)
        );
        assert_eq!(
            double_dim(Scalar::Str("-1.25")).unwrap(),
            DimensionValue::Double(-1.25)
        );
        assert_eq!(double_dim(Scalar::Str("  ")).unwrap(), DimensionValue::Null);
        let zero = double_dim(Scalar::Float(-0.0)).unwrap();
        assert_eq!(zero, DimensionValue::Double(0.0));
        assert!(matches!(
            double_dim(Scalar::Str("inf")),
            Err(ParseError::NotANumber { .. })
        ));
        assert!(matches!(
            double_dim(Scalar::Bool(false)),
            Err(ParseError::NotANumber { .. })
        ));
    }

    #[test]
    fn text_takes_strings_and_printed_numbers() {
        let text = DimensionRule::Text
            .scalar(Scalar::Float(1.5), "m", dimension("m", "text"))
            .unwrap();
        assert_eq!(text, DimensionValue::String("1.5".to_owned()));
    }

    #[test]
    fn multi_value_handling_orders_and_deduplicates() {
        let elements = || {
            vec![
                Element::Str("b".to_owned()),
                Element::Int(1),
                Element::Str("b".to_owned()),
                Element::Bool(true),
            ]
        };
        let strings = |values: &[&str]| {
            DimensionValue::Strings(values.iter().map(|value| (*value).to_owned()).collect())
        };
        let with = |handling| {
            DimensionRule::String(handling)
                .array(elements(), "tags", dimension("tags", "string"))
                .unwrap()
        };
        assert_eq!(
            with(MultiValueHandling::SortedArray),
            strings(&["1", "b", "b", "true"])
        );
        assert_eq!(
            with(MultiValueHandling::SortedSet),
            strings(&["1", "b", "true"])
        );
        assert_eq!(
            with(MultiValueHandling::Array),
            strings(&["b", "1", "b", "true"])
        );
    }

    #[test]
    fn arrays_of_none_or_one_value_are_null_or_that_value() {
        let rule = DimensionRule::String(MultiValueHandling::SortedArray);
        let target = || dimension("t", "string");
        assert_eq!(
            rule.array(vec![], "t", target()).unwrap(),
            DimensionValue::Null
        );
        assert_eq!(
            rule.array(vec![Element::Float(2.0)], "t", target())
                .unwrap(),
            DimensionValue::String("2".to_owned())
        );
        assert_eq!(
            DimensionRule::Long
                .array(
                    vec![Element::Str("5".to_owned())],
                    "n",
                    dimension("n", "long")
                )
                .unwrap(),
            DimensionValue::Long(5)
        );
    }

    #[test]
    fn an_array_of_several_values_into_a_single_value_dimension_is_refused() {
        let error = DimensionRule::Long
            .array(
                vec![Element::Int(1), Element::Int(2)],
                "n",
                dimension("n", "long"),
            )
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "field `n` holds an array of 2 values, but long dimension `n` takes one value; send one value, or declare the dimension `n` as `string` to keep several"
        );
    }

    #[test]
    fn metric_inputs_follow_their_aggregator_type() {
        let metric = |aggregator: &'static str| {
            move || Target::Metric {
                name: "m".to_owned(),
                aggregator,
            }
        };
        assert_eq!(
            InputRule::Long
                .scalar(Scalar::Str("12"), "f", metric("longSum"))
                .unwrap(),
            MetricInput::Long(12)
        );
        assert_eq!(
            InputRule::Double
                .scalar(Scalar::Int(3), "f", metric("doubleSum"))
                .unwrap(),
            MetricInput::Double(3.0)
        );
        assert_eq!(
            InputRule::AsTyped
                .scalar(Scalar::Int(3), "f", metric("HLLSketchBuild"))
                .unwrap(),
            MetricInput::Long(3)
        );
        assert_eq!(
            InputRule::AsTyped
                .scalar(Scalar::Float(0.5), "f", metric("HLLSketchBuild"))
                .unwrap(),
            MetricInput::Double(0.5)
        );
        assert_eq!(
            InputRule::AsTyped
                .scalar(Scalar::Str("u1"), "f", metric("HLLSketchBuild"))
                .unwrap(),
            MetricInput::String("u1".to_owned())
        );
        assert_eq!(
            InputRule::AsTyped
                .scalar(Scalar::Bool(true), "f", metric("HLLSketchBuild"))
                .unwrap(),
            MetricInput::String("true".to_owned())
        );
        let message = InputRule::Long
            .scalar(Scalar::Float(2.5), "bytes", metric("longSum"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "field `bytes` holds 2.5, which is not an integer as metric `m` (longSum) needs; declare the metric `m` as `doubleSum`"
        );
        let message = InputRule::Double
            .scalar(Scalar::Str("x"), "f", metric("doubleMax"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "field `f` holds \"x\", which is not a number as metric `m` (doubleMax) needs; send a number or a numeric string"
        );
    }

    #[test]
    fn long_values_are_shown_cut_to_a_hundred_characters() {
        let long_text = "x".repeat(500);
        let shown = Scalar::Str(&long_text).shown();
        assert_eq!(shown.chars().count(), 101);
        assert!(shown.starts_with("\"xxx") && shown.ends_with('…'));
    }
}

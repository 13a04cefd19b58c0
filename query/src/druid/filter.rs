//! Druid filters into the plan's [`Filter`].
//!
//! | Druid filter | plan |
//! |---|---|
//! | `selector` (`dimension`, `value`), `equals` (`column`, `matchValue`) | [`Filter::Equals`] |
//! | `in` (`dimension`, `values`) | [`Filter::In`] |
//! | `bound` (`lower`/`upper`, `lowerStrict`/`upperStrict`, `ordering`), `range` (`column`, `lower`/`upper`, `lowerOpen`/`upperOpen`, `matchValueType`) | [`Filter::Range`] |
//! | `like` (`pattern`), `regex` (`pattern`) | [`Filter::Like`], [`Filter::Regex`] |
//! | `search` with `contains` / `insensitive_contains` | [`Filter::Contains`] |
//! | `interval` (`dimension`, `intervals`) | [`Filter::Intervals`] |
//! | `null` (`column`) | [`Filter::Equals`] with no value |
//! | `and`, `or` (`fields`), `not` (`field`) | [`Filter::And`], [`Filter::Or`], [`Filter::Not`] |
//! | `true`, `false` | [`Filter::And`] of nothing, [`Filter::Or`] of nothing |
//!
//! `true` and `false` need no plan node of their own: an `And` of no
//! condition holds for every row and an `Or` of no condition for none, the
//! usual identities of conjunction and disjunction, which the row selection
//! evaluates that way.

use strata_storage::time::parse_iso_interval;

use super::json::{Field, JsonError};
use crate::plan::{Filter, RangeBound, RangeOrdering};

/// Reads one Druid filter.
pub fn parse(field: &Field<'_>) -> Result<Filter, JsonError> {
    let kind = field.required("type")?.string()?;
    let column = |name: &str| field.required(name)?.string();
    Ok(match kind.as_str() {
        "selector" => Filter::Equals {
            column: column("dimension")?,
            value: field
                .optional("value")
                .map(|value| value.text_or_null())
                .transpose()?
                .flatten(),
        },
        "equals" => Filter::Equals {
            column: column("column")?,
            value: Some(
                field
                    .required("matchValue")?
                    .text_or_null()?
                    .ok_or_else(|| {
                        field.invalid("`matchValue` must not be null; use a null filter")
                    })?,
            ),
        },
        "null" => Filter::Equals {
            column: column("column")?,
            value: None,
        },
        "in" => Filter::In {
            column: column("dimension")?,
            values: field
                .required("values")?
                .elements()?
                .iter()
                .map(Field::text_or_null)
                .collect::<Result<_, _>>()?,
        },
        "bound" => {
            let ordering = match field.optional("ordering") {
                Some(ordering) => {
                    let name = if ordering.is_string() {
                        ordering.string()?
                    } else {
                        ordering.required("type")?.string()?
                    };
                    match name.as_str() {
                        "lexicographic" => RangeOrdering::Lexicographic,
                        "numeric" => RangeOrdering::Numeric,
                        other => {
                            return Err(ordering.invalid(format!(
                                "ordering `{other}` is not supported; use lexicographic or numeric"
                            )));
                        }
                    }
                }
                None => RangeOrdering::Lexicographic,
            };
            Filter::Range {
                column: column("dimension")?,
                lower: range_bound(field, "lower", "lowerStrict")?,
                upper: range_bound(field, "upper", "upperStrict")?,
                ordering,
            }
        }
        "range" => {
            let ordering = match field.optional("matchValueType") {
                Some(kind) => match kind.string()?.to_ascii_uppercase().as_str() {
                    "STRING" => RangeOrdering::Lexicographic,
                    "LONG" | "DOUBLE" | "FLOAT" => RangeOrdering::Numeric,
                    other => {
                        return Err(kind.invalid(format!(
                            "matchValueType `{other}` is not supported; use STRING, LONG or DOUBLE"
                        )));
                    }
                },
                None => RangeOrdering::Lexicographic,
            };
            Filter::Range {
                column: column("column")?,
                lower: range_bound(field, "lower", "lowerOpen")?,
                upper: range_bound(field, "upper", "upperOpen")?,
                ordering,
            }
        }
        "like" => Filter::Like {
            column: column("dimension")?,
            pattern: field.required("pattern")?.string()?,
        },
        "regex" => Filter::Regex {
            column: column("dimension")?,
            pattern: field.required("pattern")?.string()?,
        },
        "search" => {
            let query = field.required("query")?;
            let (text, case_sensitive) = match query.required("type")?.string()?.as_str() {
                "contains" => {
                    let case_sensitive = match query.optional("caseSensitive") {
                        Some(flag) => flag.boolean()?,
                        None => false,
                    };
                    (query.required("value")?.string()?, case_sensitive)
                }
                "insensitive_contains" => (query.required("value")?.string()?, false),
                other => {
                    return Err(query.required("type")?.invalid(format!(
                        "search query `{other}` is not supported; use contains or insensitive_contains"
                    )));
                }
            };
            Filter::Contains {
                column: column("dimension")?,
                text,
                case_sensitive,
            }
        }
        "interval" => Filter::Intervals {
            column: column("dimension")?,
            intervals: field
                .required("intervals")?
                .elements()?
                .iter()
                .map(|item| {
                    let text = item.string()?;
                    parse_iso_interval(&text).map_err(|reason| {
                        item.invalid(format!("`{text}` is not an interval: {reason}"))
                    })
                })
                .collect::<Result<_, _>>()?,
        },
        "and" | "or" => {
            let fields = field
                .required("fields")?
                .elements()?
                .iter()
                .map(parse)
                .collect::<Result<Vec<_>, _>>()?;
            if kind == "and" {
                Filter::And(fields)
            } else {
                Filter::Or(fields)
            }
        }
        "not" => Filter::Not(Box::new(parse(&field.required("field")?)?)),
        "true" => Filter::And(Vec::new()),
        "false" => Filter::Or(Vec::new()),
        other => {
            return Err(field.required("type")?.invalid(format!(
                "filter type `{other}` is not supported; use selector, equals, in, bound, range, like, regex, search, interval, null, true, false, and, or or not"
            )));
        }
    })
}

/// One bound of a `bound` or `range` filter: its value at `value`, and
/// whether it excludes that value at `strict` (`lowerStrict`, `lowerOpen`).
fn range_bound(
    field: &Field<'_>,
    value: &str,
    strict: &str,
) -> Result<Option<RangeBound>, JsonError> {
    let Some(text) = field
        .optional(value)
        .map(|v| v.text_or_null())
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let strict = match field.optional(strict) {
        Some(flag) => flag.boolean()?,
        None => false,
    };
    Ok(Some(RangeBound {
        value: text,
        strict,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(filter: serde_json::Value) -> Filter {
        parse(&Field::root(&filter)).unwrap()
    }

    #[test]
    fn true_and_false_become_the_empty_and_and_the_empty_or() {
        assert_eq!(parsed(json!({"type": "true"})), Filter::And(Vec::new()));
        assert_eq!(parsed(json!({"type": "false"})), Filter::Or(Vec::new()));
        assert_eq!(
            parsed(json!({"type": "not", "field": {"type": "false"}})),
            Filter::Not(Box::new(Filter::Or(Vec::new())))
        );
    }
}

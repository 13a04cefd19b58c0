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
//! | `fulltext` (`query`, optional `fields`) | [`Filter::FullText`] |
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
        "fulltext" => {
            let query = field.required("query")?;
            let text = query.string()?;
            if text.trim().is_empty() {
                return Err(query.invalid(
                    "the full-text query is empty; write terms, \"phrases\", AND/OR/NOT, field:value or prefix*",
                ));
            }
            Filter::FullText {
                query: text,
                fields: match field.optional("fields") {
                    Some(fields) if !fields.is_null() => fields
                        .elements()?
                        .iter()
                        .map(Field::string)
                        .collect::<Result<_, _>>()?,
                    _ => Vec::new(),
                },
            }
        }
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
                "filter type `{other}` is not supported; use selector, equals, in, bound, range, like, regex, search, interval, null, fulltext, true, false, and, or or not"
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

    #[test]
    fn fulltext_takes_a_query_and_optional_fields() {
        assert_eq!(
            parsed(json!({"type": "fulltext", "query": "\"kernel panic\" AND host-17"})),
            Filter::FullText {
                query: "\"kernel panic\" AND host-17".into(),
                fields: Vec::new(),
            }
        );
        assert_eq!(
            parsed(json!({"type": "fulltext", "query": "needle*", "fields": ["message", "url"]})),
            Filter::FullText {
                query: "needle*".into(),
                fields: vec!["message".into(), "url".into()],
            }
        );
        assert_eq!(
            parsed(json!({"type": "fulltext", "query": "a", "fields": null})),
            Filter::FullText {
                query: "a".into(),
                fields: Vec::new(),
            }
        );
    }

    #[test]
    fn a_fulltext_filter_without_a_query_or_with_bad_fields_names_the_field() {
        let error =
            |filter: serde_json::Value| parse(&Field::root(&filter)).unwrap_err().to_string();
        let missing = error(json!({"type": "fulltext", "fields": ["message"]}));
        assert!(missing.contains("query"), "{missing}");
        let empty = error(json!({"type": "fulltext", "query": "  "}));
        assert!(
            empty.contains("query") && empty.contains("empty"),
            "{empty}"
        );
        let not_text = error(json!({"type": "fulltext", "query": 7}));
        assert!(not_text.contains("query"), "{not_text}");
        let bad_fields = error(json!({"type": "fulltext", "query": "a", "fields": "message"}));
        assert!(bad_fields.contains("fields"), "{bad_fields}");
        let bad_field = error(json!({"type": "fulltext", "query": "a", "fields": ["message", 3]}));
        assert!(bad_field.contains("fields[1]"), "{bad_field}");
    }
}

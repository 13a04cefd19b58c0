//! The query DSL — the `query` of a search — lowered into a plan [`Filter`].
//!
//! | DSL | filter |
//! | --- | --- |
//! | `match_all`, `match_none` | every row (`And []`), none (`Or []`) |
//! | `bool` | `must` and `filter` AND'ed, each `must_not` negated, `should` with `minimum_should_match` (default 1 without `must`/`filter`, else 0) |
//! | `term`, `terms` | `Equals`, `In` on a keyword or number; the full-text index on `text` |
//! | `range` | `Intervals` on the time field (date math, `format: epoch_millis`), numeric or lexicographic `Range` otherwise |
//! | `exists` | not null |
//! | `prefix`, `wildcard`, `regexp` | `Like`, `Like`, an anchored `Regex` on a keyword; a prefix query on `text` |
//! | `match`, `match_phrase` | the full-text index on `text` (words OR'ed, or AND'ed with `operator: and`; a phrase); equality on a keyword |
//! | `query_string`, `simple_query_string` | Lucene syntax, see [`query_string`] |
//! | `constant_score` | its `filter` |
//!
//! Scores are not computed: every query is a filter, as in Elasticsearch's
//! filter context, and hits come back in the order the search sorts them.

use serde_json::Value;
use strata_storage::segment::TIME_COLUMN;
use strata_storage::time::{Interval, Millis};

use super::dates::{RoundDirection, parse_instant};
use super::fields::{FieldType, IndexField, IndexFields};
use super::query_string;
use crate::druid::json::{Field, JsonError};
use crate::plan::{Filter, RangeBound, RangeOrdering};

/// Every row: an empty conjunction.
pub fn match_all() -> Filter {
    Filter::And(Vec::new())
}

/// No row: an empty disjunction.
pub fn match_none() -> Filter {
    Filter::Or(Vec::new())
}

/// `filters` AND'ed, nested conjunctions flattened.
pub fn all_of(filters: Vec<Filter>) -> Filter {
    let mut flat = Vec::new();
    for filter in filters {
        match filter {
            Filter::And(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    if flat.len() == 1 {
        flat.pop().expect("one filter")
    } else {
        Filter::And(flat)
    }
}

/// `filters` OR'ed.
pub fn any_of(mut filters: Vec<Filter>) -> Filter {
    if filters.len() == 1 {
        filters.pop().expect("one filter")
    } else {
        Filter::Or(filters)
    }
}

/// Lowers queries of one index; `now` anchors date math.
#[derive(Debug, Clone, Copy)]
pub struct QueryLowering<'a> {
    pub fields: &'a IndexFields,
    pub now: Millis,
}

impl QueryLowering<'_> {
    /// The filter `query` means.
    pub fn lower(&self, query: &Field<'_>) -> Result<Filter, JsonError> {
        let Some(object) = query.value().as_object() else {
            return Err(query.invalid("a query is an object such as {\"match_all\": {}}"));
        };
        let mut members = object.keys();
        let (Some(kind), None) = (members.next(), members.next()) else {
            return Err(query.invalid(
                "a query has exactly one member, its type (bool, term, range, query_string, ...)",
            ));
        };
        let body = query.required(kind)?;
        match kind.as_str() {
            "match_all" => Ok(match_all()),
            "match_none" => Ok(match_none()),
            "bool" => self.bool_query(&body),
            "constant_score" => self.lower(&body.required("filter")?),
            "term" => self.leaf(&body, |field, value| self.term(field, value.value(), &value)),
            "terms" => self.terms(&body),
            "range" => self.leaf(&body, |field, bounds| self.range(field, &bounds)),
            "exists" => {
                let field = self.field(&body.required("field")?)?;
                Ok(not_null(field))
            }
            "prefix" => self.leaf(&body, |field, value| {
                let prefix = text_of(&unwrap_value(&value)?)?;
                self.prefix(field, &prefix, &value)
            }),
            "wildcard" => self.leaf(&body, |field, value| {
                let pattern = text_of(&unwrap_value(&value)?)?;
                self.wildcard(field, &pattern, &value)
            }),
            "regexp" => self.leaf(&body, |field, value| {
                let pattern = text_of(&unwrap_value(&value)?)?;
                self.keyword_only(field, &value, "regexp")?;
                Ok(Filter::Regex {
                    column: field.column.clone(),
                    pattern: format!("^(?:{pattern})$"),
                })
            }),
            "match" => self.leaf(&body, |field, value| self.match_query(field, &value, false)),
            "match_phrase" => {
                self.leaf(&body, |field, value| self.match_query(field, &value, true))
            }
            "query_string" | "simple_query_string" => query_string::lower(self, &body),
            other => Err(query.required(other)?.invalid(format!(
                "unknown query [{other}]; Strata answers match_all, match_none, bool, term, terms, range, exists, prefix, wildcard, regexp, match, match_phrase, query_string, simple_query_string and constant_score"
            ))),
        }
    }

    /// A field of the index, or an error naming those there are.
    pub fn field(&self, name: &Field<'_>) -> Result<&IndexField, JsonError> {
        let text = name.string()?;
        self.fields
            .require(&text)
            .map_err(|message| name.invalid(message))
    }

    /// A query of the form `{"<field>": <value or options>}`.
    fn leaf(
        &self,
        body: &Field<'_>,
        lower: impl FnOnce(&IndexField, Field<'_>) -> Result<Filter, JsonError>,
    ) -> Result<Filter, JsonError> {
        let Some((name, _)) = body
            .value()
            .as_object()
            .and_then(|object| object.iter().next())
        else {
            return Err(body.invalid("expected {\"<field>\": ...}"));
        };
        let field = self
            .fields
            .require(name)
            .map_err(|message| body.invalid(message))?;
        lower(field, body.required(name)?)
    }

    fn bool_query(&self, body: &Field<'_>) -> Result<Filter, JsonError> {
        let clauses = |name: &str| -> Result<Vec<Filter>, JsonError> {
            match body.optional(name).filter(|field| !field.is_null()) {
                None => Ok(Vec::new()),
                Some(field) if field.is_array() => field
                    .elements()?
                    .iter()
                    .map(|clause| self.lower(clause))
                    .collect(),
                Some(field) => Ok(vec![self.lower(&field)?]),
            }
        };
        let mut required = clauses("must")?;
        required.extend(clauses("filter")?);
        let should = clauses("should")?;
        let minimum = match body
            .optional("minimum_should_match")
            .filter(|field| !field.is_null())
        {
            Some(field) => minimum_should_match(&field, should.len())?,
            None if required.is_empty() && !should.is_empty() => 1,
            None => 0,
        };
        if minimum > 0 {
            required.push(at_least(minimum, should, body)?);
        }
        for excluded in clauses("must_not")? {
            required.push(Filter::Not(Box::new(excluded)));
        }
        Ok(all_of(required))
    }

    pub(super) fn term(
        &self,
        field: &IndexField,
        value: &Value,
        at: &Field<'_>,
    ) -> Result<Filter, JsonError> {
        let value = match value {
            Value::Object(_) => unwrap_value(at)?.value().clone(),
            other => other.clone(),
        };
        match field.field_type {
            FieldType::Date => {
                let time = parse_instant(&value, false, self.now, RoundDirection::Down)
                    .map_err(|message| at.invalid(message))?;
                Ok(time_filter(time, time.saturating_add(1)))
            }
            FieldType::Text => Ok(Filter::FullText {
                query: quote(&text_of_value(&value, at)?),
                fields: vec![field.name.clone()],
            }),
            _ => Ok(Filter::Equals {
                column: field.column.clone(),
                value: Some(text_of_value(&value, at)?),
            }),
        }
    }

    fn terms(&self, body: &Field<'_>) -> Result<Filter, JsonError> {
        let object = body
            .value()
            .as_object()
            .ok_or_else(|| body.invalid("expected {\"<field>\": [values]}"))?;
        let (name, _) = object
            .iter()
            .find(|(name, _)| name.as_str() != "boost")
            .ok_or_else(|| body.invalid("expected {\"<field>\": [values]}"))?;
        let field = self
            .fields
            .require(name)
            .map_err(|message| body.invalid(message))?;
        let values = body.required(name)?;
        let elements = values.elements()?;
        if field.field_type == FieldType::Text || field.field_type == FieldType::Date {
            return Ok(any_of(
                elements
                    .iter()
                    .map(|element| self.term(field, element.value(), element))
                    .collect::<Result<_, _>>()?,
            ));
        }
        Ok(Filter::In {
            column: field.column.clone(),
            values: elements
                .iter()
                .map(|element| text_of_value(element.value(), element).map(Some))
                .collect::<Result<_, _>>()?,
        })
    }

    fn range(&self, field: &IndexField, bounds: &Field<'_>) -> Result<Filter, JsonError> {
        let bound = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| bounds.optional(name).filter(|field| !field.is_null()))
        };
        // The legacy from/to are inclusive unless include_lower/upper say not.
        let inclusive = |name: &str| {
            bounds
                .optional(name)
                .map_or(Ok(true), |field| field.boolean())
        };
        let lower = match (bound(&["gt"]), bound(&["gte"]), bound(&["from"])) {
            (Some(gt), _, _) => Some((gt, true)),
            (None, Some(gte), _) => Some((gte, false)),
            (None, None, Some(from)) => Some((from, !inclusive("include_lower")?)),
            _ => None,
        };
        let upper = match (bound(&["lt"]), bound(&["lte"]), bound(&["to"])) {
            (Some(lt), _, _) => Some((lt, true)),
            (None, Some(lte), _) => Some((lte, false)),
            (None, None, Some(to)) => Some((to, !inclusive("include_upper")?)),
            _ => None,
        };
        match field.field_type {
            FieldType::Date => {
                let seconds = match bounds.optional("format").filter(|f| !f.is_null()) {
                    Some(format) => format.string()?.split("||").any(|f| f == "epoch_second"),
                    None => false,
                };
                let instant = |bound: &Field<'_>, round| {
                    parse_instant(bound.value(), seconds, self.now, round)
                        .map_err(|message| bound.invalid(message))
                };
                let start = match &lower {
                    Some((bound, true)) => instant(bound, RoundDirection::Up)?.saturating_add(1),
                    Some((bound, false)) => instant(bound, RoundDirection::Down)?,
                    None => Millis::MIN,
                };
                let end = match &upper {
                    Some((bound, true)) => instant(bound, RoundDirection::Down)?,
                    Some((bound, false)) => instant(bound, RoundDirection::Up)?.saturating_add(1),
                    None => Millis::MAX,
                };
                Ok(if end <= start {
                    match_none()
                } else {
                    time_filter(start, end)
                })
            }
            FieldType::Text => Err(bounds.invalid(format!(
                "a range over the text field [{}] is not answered; range over a keyword, number or the time",
                field.name
            ))),
            field_type => {
                let ordering = if field_type.is_number() {
                    RangeOrdering::Numeric
                } else {
                    RangeOrdering::Lexicographic
                };
                let bound = |bound: Option<(Field<'_>, bool)>| {
                    bound
                        .map(|(value, strict)| {
                            text_of_value(value.value(), &value)
                                .map(|value| RangeBound { value, strict })
                        })
                        .transpose()
                };
                Ok(Filter::Range {
                    column: field.column.clone(),
                    lower: bound(lower)?,
                    upper: bound(upper)?,
                    ordering,
                })
            }
        }
    }

    pub(super) fn prefix(
        &self,
        field: &IndexField,
        prefix: &str,
        at: &Field<'_>,
    ) -> Result<Filter, JsonError> {
        if field.field_type == FieldType::Text {
            return Ok(Filter::FullText {
                query: format!("{}*", quote(prefix)),
                fields: vec![field.name.clone()],
            });
        }
        self.keyword_only(field, at, "prefix")?;
        Ok(Filter::Like {
            column: field.column.clone(),
            pattern: format!("{}%", escape_like(prefix)),
        })
    }

    /// `*` any run of characters, `?` one; on text only a trailing `*`.
    pub(super) fn wildcard(
        &self,
        field: &IndexField,
        pattern: &str,
        at: &Field<'_>,
    ) -> Result<Filter, JsonError> {
        if pattern == "*" {
            return Ok(not_null(field));
        }
        if field.field_type == FieldType::Text {
            return match pattern.strip_suffix('*') {
                Some(prefix) if !prefix.contains(['*', '?']) => self.prefix(field, prefix, at),
                _ => Err(at.invalid(format!(
                    "the text field [{}] is searched by words: a wildcard may only end a word (err*); match other patterns on a keyword field",
                    field.name
                ))),
            };
        }
        self.keyword_only(field, at, "wildcard")?;
        let mut like = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => like.push('%'),
                '?' => like.push('_'),
                '\\' => like.push_str(&escape_like(
                    &chars.next().map(String::from).unwrap_or_default(),
                )),
                other => like.push_str(&escape_like(&other.to_string())),
            }
        }
        Ok(Filter::Like {
            column: field.column.clone(),
            pattern: like,
        })
    }

    fn keyword_only(
        &self,
        field: &IndexField,
        at: &Field<'_>,
        query: &str,
    ) -> Result<(), JsonError> {
        if matches!(field.field_type, FieldType::Keyword) {
            Ok(())
        } else {
            Err(at.invalid(format!(
                "a {query} query needs a keyword field; [{}] is {}",
                field.name,
                field.field_type.name()
            )))
        }
    }

    fn match_query(
        &self,
        field: &IndexField,
        at: &Field<'_>,
        phrase: bool,
    ) -> Result<Filter, JsonError> {
        let (query, and) = match at.value() {
            Value::Object(_) => {
                let query = at.required("query")?;
                let and = match at.optional("operator").filter(|f| !f.is_null()) {
                    Some(operator) => operator.string()?.eq_ignore_ascii_case("and"),
                    None => false,
                };
                (text_of_value(query.value(), &query)?, and)
            }
            value => (text_of_value(value, at)?, false),
        };
        if field.field_type != FieldType::Text {
            return self.term(field, &Value::String(query), at);
        }
        let query = if phrase {
            quote(&query)
        } else {
            let words: Vec<String> = query.split_whitespace().map(quote).collect();
            if words.is_empty() {
                return Ok(match_none());
            }
            words.join(if and { " AND " } else { " OR " })
        };
        Ok(Filter::FullText {
            query,
            fields: vec![field.name.clone()],
        })
    }
}

/// Rows whose time lies in `[start, end)`.
pub fn time_filter(start: Millis, end: Millis) -> Filter {
    Filter::Intervals {
        column: TIME_COLUMN.to_owned(),
        intervals: vec![Interval::new(start, end).unwrap_or(Interval::ETERNITY)],
    }
}

/// Rows where the field holds a value.
pub fn not_null(field: &IndexField) -> Filter {
    match field.field_type {
        FieldType::Date => match_all(),
        FieldType::Text => Filter::Not(Box::new(Filter::In {
            column: field.column.clone(),
            values: vec![None, Some(String::new())],
        })),
        _ => Filter::Not(Box::new(Filter::Equals {
            column: field.column.clone(),
            value: None,
        })),
    }
}

/// At least `minimum` of `filters`: for one, any of them; for all, every
/// one; in between, any conjunction of `minimum` of them (refused past 12
/// clauses, whose combinations would be too many).
fn at_least(minimum: usize, filters: Vec<Filter>, at: &Field<'_>) -> Result<Filter, JsonError> {
    if minimum > filters.len() {
        return Ok(match_none());
    }
    if minimum <= 1 {
        return Ok(any_of(filters));
    }
    if minimum == filters.len() {
        return Ok(all_of(filters));
    }
    if filters.len() > 12 {
        return Err(at.invalid(
            "minimum_should_match between 2 and all is answered for at most 12 should clauses",
        ));
    }
    let mut choices = Vec::new();
    for mask in 0u32..(1 << filters.len()) {
        if mask.count_ones() as usize == minimum {
            choices.push(all_of(
                (0..filters.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| filters[i].clone())
                    .collect(),
            ));
        }
    }
    Ok(any_of(choices))
}

/// `minimum_should_match`: `2`, `"2"`, `"-1"`, `"75%"`, `"-25%"`, of `clauses`.
fn minimum_should_match(field: &Field<'_>, clauses: usize) -> Result<usize, JsonError> {
    let text = match field.value() {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.trim().to_owned(),
        _ => return Err(field.invalid("expected a number or a percentage such as \"75%\"")),
    };
    let bad = || {
        field.invalid(format!(
            "`{text}` is not a number or a percentage such as \"75%\""
        ))
    };
    let count = if let Some(percent) = text.strip_suffix('%') {
        let percent: i64 = percent.parse().map_err(|_| bad())?;
        let part = (clauses as i64 * percent.abs()) / 100;
        if percent < 0 {
            clauses as i64 - part
        } else {
            part
        }
    } else {
        let count: i64 = text.parse().map_err(|_| bad())?;
        if count < 0 {
            clauses as i64 + count
        } else {
            count
        }
    };
    Ok(usize::try_from(count.max(0)).unwrap_or(0))
}

/// The `value` of `{"value": ...}`, or the field itself.
fn unwrap_value<'v>(at: &Field<'v>) -> Result<Field<'v>, JsonError> {
    if at.value().is_object() {
        at.required("value")
    } else {
        Ok(at.clone())
    }
}

fn text_of(field: &Field<'_>) -> Result<String, JsonError> {
    text_of_value(field.value(), field)
}

/// A term's text: a string as it is, a number or boolean as written.
fn text_of_value(value: &Value, at: &Field<'_>) -> Result<String, JsonError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(at.invalid(format!(
            "expected a string, a number or a boolean, found {other}"
        ))),
    }
}

/// A Lucene phrase of `text`, with quotes and backslashes escaped.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `text` with LIKE's special characters escaped.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

//! Strata's native search: `POST /v1/datasources/{name}/search` — the
//! newest events whose text matches a Lucene query, each with the words
//! that matched tagged, as an Elasticsearch search answers a log search.
//!
//! ```json
//! {"query": "needle7f3a AND host:web*", "fields": ["message"],
//!  "intervals": ["2024-01-01/2024-01-08"], "filter": {"type": "selector", ...},
//!  "limit": 100, "order": "descending", "highlight": true, "track_total_hits": false}
//! ```
//!
//! A search is no new engine: it is a [`ScanPlan`] whose filter is the
//! `fulltext` condition (`query` over `fields`) and the optional Druid
//! `filter`, ordered by `__time` and cut at `limit`, every column returned.
//! The scan reads the newest tables first and stops once the rows it
//! returns are certain, so the total it can report is the matches in the
//! tables it read: `{"relation": "eq"}` when it read them all, `"gte"` (at
//! least) when it stopped early. `track_total_hits: true` counts every match
//! with an aggregate plan (a count over all time, same intervals and
//! filter) — exact, at the price of reading every table.
//!
//! Each hit is the event (`__time` in ISO-8601 UTC with milliseconds, then
//! every column in spec order, values as Druid's scan writes them) and,
//! when asked, the fragments of each text dimension where the query's words
//! are, tagged ([`Highlighter`]). Values are shown as stored, not
//! HTML-escaped.

use std::time::Instant;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use strata_storage::catalog::Catalog;
use strata_storage::segment::TIME_COLUMN;
use strata_storage::spec::{DataSourceSpec, DimensionKind};
use strata_storage::text_index::{HighlightOptions, Highlighter, TextField};
use strata_storage::time::{Interval, format_millis};

use crate::druid::json::{Field, JsonError};
use crate::druid::{filter, intervals, response::scan_value_json};
use crate::plan::{Filter, QueryPlan, ScanOrder, ScanPlan, counted_events};
use crate::query_limits::QueryLimits;
use crate::scan_query::ScanValue;
use crate::select::SelectError;
use crate::snapshot::{DataSourceSnapshot, QueryError};

/// How many hits a search returns when it does not say.
pub const DEFAULT_LIMIT: usize = 100;

/// The most hits a search may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// The members a search body may have.
const MEMBERS: [&str; 8] = [
    "query",
    "fields",
    "intervals",
    "filter",
    "limit",
    "order",
    "highlight",
    "track_total_hits",
];

/// The members a `highlight` object may have.
const HIGHLIGHT_MEMBERS: [&str; 4] = [
    "pre_tag",
    "post_tag",
    "fragment_size",
    "number_of_fragments",
];

/// A search, read from its body. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct TextSearchRequest {
    pub datasource: String,
    /// Lucene syntax, as the `fulltext` filter takes it.
    pub query: String,
    /// The text dimensions a word without `field:` is looked for in; empty:
    /// every text dimension.
    pub fields: Vec<String>,
    pub intervals: Vec<Interval>,
    /// A Druid filter every hit must also pass.
    pub filter: Option<Filter>,
    pub limit: usize,
    /// [`ScanOrder::Descending`] (newest first) or [`ScanOrder::Ascending`].
    pub order: ScanOrder,
    /// How to highlight; `None`: no highlighting.
    pub highlight: Option<HighlightOptions>,
    /// Whether the total is counted exactly, reading every table.
    pub track_total_hits: bool,
}

impl TextSearchRequest {
    /// Reads the body of a search of `datasource`; an error names the
    /// member that is wrong and what it takes.
    pub fn parse(datasource: &str, body: &Value) -> Result<TextSearchRequest, JsonError> {
        let root = Field::root(body);
        refuse_unknown(&root, &MEMBERS)?;
        let present = |name: &str| root.optional(name).filter(|field| !field.is_null());
        let fields = match present("fields") {
            Some(field) => field
                .elements()?
                .iter()
                .map(Field::string)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let limit = match present("limit") {
            Some(field) => {
                let limit = field.value().as_u64().unwrap_or(0);
                match usize::try_from(limit) {
                    Ok(limit @ 1..=MAX_LIMIT) => limit,
                    _ => {
                        return Err(field.invalid(format!(
                            "expected a whole number from 1 to {MAX_LIMIT}, found {}",
                            field.value()
                        )));
                    }
                }
            }
            None => DEFAULT_LIMIT,
        };
        let order = match present("order") {
            Some(field) => match field.string()?.as_str() {
                "descending" => ScanOrder::Descending,
                "ascending" => ScanOrder::Ascending,
                other => {
                    return Err(field.invalid(format!(
                        "order `{other}` is not one of \"descending\" (newest first), \"ascending\""
                    )));
                }
            },
            None => ScanOrder::Descending,
        };
        Ok(TextSearchRequest {
            datasource: datasource.to_owned(),
            query: root.required("query")?.string()?,
            fields,
            intervals: match present("intervals") {
                Some(field) => intervals(&field)?,
                None => vec![Interval::ETERNITY],
            },
            filter: present("filter")
                .map(|field| filter::parse(&field))
                .transpose()?,
            limit,
            order,
            highlight: present("highlight")
                .map(|field| highlight_options(&field))
                .transpose()?
                .flatten(),
            track_total_hits: present("track_total_hits")
                .map(|field| field.boolean())
                .transpose()?
                .unwrap_or(false),
        })
    }

    /// The condition every hit passes: the text query, and the filter.
    fn hit_filter(&self) -> Filter {
        let fulltext = Filter::FullText {
            query: self.query.clone(),
            fields: self.fields.clone(),
        };
        match &self.filter {
            Some(filter) => Filter::And(vec![fulltext, filter.clone()]),
            None => fulltext,
        }
    }
}

/// Refuses a member of `object` not among `known`, naming those that are.
fn refuse_unknown(object: &Field<'_>, known: &[&str]) -> Result<(), JsonError> {
    let Some(members) = object.value().as_object() else {
        return Err(object.invalid(format!("expected an object with {}", known.join(", "))));
    };
    match members.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(object.required(key).map_or_else(
            |error| error,
            |field| {
                field.invalid(format!(
                    "is not a member of a search; the members are {}",
                    known.join(", ")
                ))
            },
        )),
        None => Ok(()),
    }
}

/// `highlight`: `false`, `true` (the defaults) or an object of options.
fn highlight_options(field: &Field<'_>) -> Result<Option<HighlightOptions>, JsonError> {
    if !field.value().is_object() {
        return Ok(field.boolean()?.then(HighlightOptions::default));
    }
    refuse_unknown(field, &HIGHLIGHT_MEMBERS)?;
    let defaults = HighlightOptions::default();
    let present = |name: &str| field.optional(name).filter(|member| !member.is_null());
    let text = |name: &str, default: String| -> Result<String, JsonError> {
        present(name).map_or(Ok(default), |member| member.string())
    };
    let count = |name: &str, default: usize| -> Result<usize, JsonError> {
        present(name).map_or(Ok(default), |member| member.count())
    };
    let options = HighlightOptions {
        pre_tag: text("pre_tag", defaults.pre_tag)?,
        post_tag: text("post_tag", defaults.post_tag)?,
        fragment_size: count("fragment_size", defaults.fragment_size)?,
        number_of_fragments: count("number_of_fragments", defaults.number_of_fragments)?,
    };
    if options.fragment_size == 0 {
        return Err(field
            .optional("fragment_size")
            .unwrap_or_else(|| field.clone())
            .invalid("must be at least 1 character"));
    }
    Ok(Some(options))
}

/// A search's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextSearchResponse {
    /// How long the search took, in milliseconds.
    pub took_ms: f64,
    pub total: TotalHits,
    pub hits: Vec<Hit>,
}

/// How many events match: exactly, or at least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TotalHits {
    pub value: u64,
    pub relation: TotalRelation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TotalRelation {
    /// Every match was counted.
    Eq,
    /// At least this many match: the search stopped before reading every
    /// table.
    Gte,
}

/// One matching event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub event: Members<Value>,
    /// The fragments of each text dimension holding a word of the query;
    /// present when highlighting was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Members<Vec<String>>>,
}

/// A JSON object whose members keep their order (spec order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Members<T>(pub Vec<(String, T)>);

impl<T> Members<T> {
    /// The value of member `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0
            .iter()
            .find(|(member, _)| member == name)
            .map(|(_, value)| value)
    }
}

impl<T: Serialize> Serialize for Members<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Runs `request` on `snapshot` within `limits`. A query that does not
/// parse, or names a field that is not a text dimension, fails as the
/// `fulltext` filter does (the request's mistake, not the server's).
pub fn search(
    request: &TextSearchRequest,
    snapshot: &DataSourceSnapshot,
    catalog: &dyn Catalog,
    limits: &QueryLimits,
) -> Result<TextSearchResponse, QueryError> {
    let started = Instant::now();
    let spec = &snapshot.state.spec;
    let highlighter = request
        .highlight
        .as_ref()
        .map(|options| {
            Highlighter::new(
                &request.query,
                &text_fields(spec),
                &request.fields,
                options.clone(),
            )
        })
        .transpose()
        .map_err(|error| QueryError::Select(SelectError::FullText(error)))?;
    let filter = request.hit_filter();
    let plan = ScanPlan {
        datasource: request.datasource.clone(),
        intervals: request.intervals.clone(),
        filter: Some(filter.clone()),
        columns: None,
        order: request.order,
        limit: Some(request.limit),
        offset: 0,
    };
    let result = snapshot.scan(&plan, catalog, limits)?;
    let total = if request.track_total_hits {
        TotalHits {
            value: count(request, filter, snapshot, catalog, limits)?,
            relation: TotalRelation::Eq,
        }
    } else {
        TotalHits {
            value: result.matched,
            relation: if result.complete {
                TotalRelation::Eq
            } else {
                TotalRelation::Gte
            },
        }
    };
    let hits = result
        .rows
        .iter()
        .map(|row| {
            let event = result
                .columns
                .iter()
                .zip(&row.values)
                .map(|(column, value)| {
                    let value = if column == TIME_COLUMN {
                        Value::String(format_millis(row.time))
                    } else {
                        scan_value_json(value)
                    };
                    (column.clone(), value)
                })
                .collect();
            let highlight = highlighter.as_ref().map(|highlighter| {
                Members(
                    result
                        .columns
                        .iter()
                        .zip(&row.values)
                        .filter_map(|(column, value)| match value {
                            ScanValue::String(text) => {
                                let fragments = highlighter.highlight(column, text);
                                (!fragments.is_empty()).then(|| (column.clone(), fragments))
                            }
                            _ => None,
                        })
                        .collect(),
                )
            });
            Hit {
                event: Members(event),
                highlight,
            }
        })
        .collect();
    Ok(TextSearchResponse {
        took_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        total,
        hits,
    })
}

/// The text dimensions of `spec`, in spec order, with their analyzers.
pub(crate) fn text_fields(spec: &DataSourceSpec) -> Vec<TextField> {
    spec.text_dimensions()
        .filter_map(|dimension| match dimension.kind() {
            DimensionKind::Text { analyzer } => Some(TextField {
                name: dimension.name().to_owned(),
                analyzer: *analyzer,
            }),
            _ => None,
        })
        .collect()
}

/// Every event `filter` selects in the request's intervals: a count over
/// all time.
fn count(
    request: &TextSearchRequest,
    filter: Filter,
    snapshot: &DataSourceSnapshot,
    catalog: &dyn Catalog,
    limits: &QueryLimits,
) -> Result<u64, QueryError> {
    let plan = QueryPlan::event_count(
        request.datasource.clone(),
        request.intervals.clone(),
        Some(filter),
    );
    Ok(counted_events(&snapshot.execute(&plan, catalog, limits)?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use strata_storage::time::parse_iso_interval;

    use super::{DEFAULT_LIMIT, Members, TextSearchRequest};
    use crate::plan::{Filter, ScanOrder};

    fn parse(body: serde_json::Value) -> Result<TextSearchRequest, String> {
        TextSearchRequest::parse("web", &body).map_err(|error| error.to_string())
    }

    #[test]
    fn a_bare_query_takes_the_defaults() {
        let request = parse(json!({"query": "needle"})).expect("parses");
        assert_eq!(request.datasource, "web");
        assert_eq!(request.query, "needle");
        assert!(request.fields.is_empty());
        assert_eq!(request.intervals.len(), 1);
        assert_eq!(request.filter, None);
        assert_eq!(request.limit, DEFAULT_LIMIT);
        assert_eq!(request.order, ScanOrder::Descending);
        assert_eq!(request.highlight, None);
        assert!(!request.track_total_hits);
        assert_eq!(
            request.hit_filter(),
            Filter::FullText {
                query: "needle".into(),
                fields: Vec::new()
            }
        );
    }

    #[test]
    fn every_member_is_read() {
        let request = parse(json!({
            "query": "a", "fields": ["message"], "intervals": ["2024-01-01/2024-01-08"],
            "filter": {"type": "selector", "dimension": "service", "value": "api"},
            "limit": 7, "order": "ascending", "track_total_hits": true,
            "highlight": {"pre_tag": "[", "post_tag": "]", "fragment_size": 20, "number_of_fragments": 2}
        }))
        .expect("parses");
        assert_eq!(request.fields, ["message"]);
        assert_eq!(
            request.intervals,
            [parse_iso_interval("2024-01-01/2024-01-08").expect("an interval")]
        );
        let selector = Filter::Equals {
            column: "service".into(),
            value: Some("api".into()),
        };
        assert_eq!(request.filter, Some(selector.clone()));
        assert_eq!((request.limit, request.order), (7, ScanOrder::Ascending));
        assert!(request.track_total_hits);
        let options = request.highlight.clone().expect("highlighting");
        assert_eq!(
            (options.pre_tag.as_str(), options.post_tag.as_str()),
            ("[", "]")
        );
        assert_eq!(
            (options.fragment_size, options.number_of_fragments),
            (20, 2)
        );
        assert_eq!(
            request.hit_filter(),
            Filter::And(vec![
                Filter::FullText {
                    query: "a".into(),
                    fields: vec!["message".into()]
                },
                selector
            ])
        );
        let on = parse(json!({"query": "a", "highlight": true})).expect("parses");
        assert_eq!(on.highlight, Some(Default::default()));
        let off = parse(json!({"query": "a", "highlight": false})).expect("parses");
        assert_eq!(off.highlight, None);
    }

    #[test]
    fn mistakes_name_the_member() {
        for (body, expected) in [
            (json!({}), "query: is missing"),
            (json!({"query": 3}), "query: expected a string"),
            (json!({"query": "a", "size": 3}), "size: is not a member"),
            (
                json!({"query": "a", "limit": 0}),
                "limit: expected a whole number from 1 to 10000",
            ),
            (
                json!({"query": "a", "limit": 10001}),
                "limit: expected a whole number from 1",
            ),
            (
                json!({"query": "a", "limit": 2.5}),
                "limit: expected a whole number from 1",
            ),
            (
                json!({"query": "a", "order": "none"}),
                "order: order `none` is not one of",
            ),
            (
                json!({"query": "a", "intervals": ["yesterday"]}),
                "intervals[0]: `yesterday` is not an interval",
            ),
            (json!({"query": "a", "filter": {"type": "nope"}}), "filter"),
            (
                json!({"query": "a", "highlight": {"tags": 1}}),
                "highlight.tags: is not a member",
            ),
            (
                json!({"query": "a", "highlight": {"fragment_size": 0}}),
                "highlight.fragment_size: must be at least 1",
            ),
            (
                json!({"query": "a", "highlight": "yes"}),
                "highlight: expected true or false",
            ),
            (json!(["a"]), "(the query): expected an object"),
        ] {
            let error = parse(body.clone()).expect_err("refused");
            assert!(error.starts_with(expected), "{body}: {error}");
        }
    }

    #[test]
    fn members_keep_their_order() {
        let members = Members(vec![("z".to_owned(), 1), ("a".to_owned(), 2)]);
        assert_eq!(
            serde_json::to_string(&members).expect("serializes"),
            r#"{"z":1,"a":2}"#
        );
        assert_eq!(members.get("a"), Some(&2));
    }
}

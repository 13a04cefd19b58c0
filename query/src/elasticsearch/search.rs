//! `_search` (and each search of `_msearch`, and `_count`): a request body
//! read against one index's fields, and run as scan and aggregate plans.
//!
//! - The `query` becomes the plan's filter; the time conditions AND'ed at
//!   its top (Grafana's `range` on the time field) become the plan's
//!   intervals, so only the segments of that time are opened.
//! - The hits are a [`ScanPlan`]: `sort` by the time field (`asc`/`desc`;
//!   `_doc` is storage order, and so is no sort: there are no scores),
//!   `from` and `size` its offset and limit, `search_after` a time bound.
//!   Each hit carries `_source` (the event, time as ISO-8601), the `fields`
//!   and `docvalue_fields` asked (values in arrays, dates in the asked
//!   `format`), `highlight` (the fragments where the query's words are) and
//!   `sort` (its time in epoch milliseconds). `_id` is made of the event's
//!   time and position in the answer: events have no id of their own.
//! - `hits.total` is exact (`"relation": "eq"`) when the aggregations or a
//!   count plan counted every event, or the scan read every table; a lower
//!   bound (`"gte"`) when the scan stopped early and `track_total_hits` did
//!   not ask for the exact count.
//! - The `aggs` run as [`aggs::run`] describes.

use std::time::Instant;

use serde_json::{Map, Value, json};
use strata_storage::segment::TIME_COLUMN;
use strata_storage::spec::DataSourceSpec;
use strata_storage::text_index::{HighlightOptions, Highlighter};
use strata_storage::time::{Interval, Millis};

use super::aggs::run::{AggScope, PlanRunner};
use super::aggs::{self, AggRequest, DateFormat};
use super::error::EsError;
use super::fields::{FieldType, IndexFields};
use super::query_dsl::{QueryLowering, all_of, match_all, time_filter};
use crate::druid::json::{Field, JsonError};
use crate::druid::response::scan_value_json;
use crate::plan::{Filter, QueryPlan, ScanOrder, ScanPlan, counted_events};
use crate::scan_query::{ScanResult, ScanValue};
use crate::snapshot::QueryError;
use crate::text_search::text_fields;

/// The members of a search body that Strata reads.
const MEMBERS: [&str; 12] = [
    "query",
    "aggs",
    "aggregations",
    "size",
    "from",
    "sort",
    "search_after",
    "_source",
    "fields",
    "docvalue_fields",
    "highlight",
    "track_total_hits",
];

/// Members accepted and without effect here: no scores, no versions, one
/// shard, no scripts (an empty `script_fields`, as Grafana sends).
const IGNORED_MEMBERS: [&str; 9] = [
    "script_fields",
    "stored_fields",
    "timeout",
    "version",
    "seq_no_primary_term",
    "explain",
    "track_scores",
    "runtime_mappings",
    "profile",
];

/// The most hits one search returns (`index.max_result_window`).
pub const MAX_RESULT_WINDOW: usize = 10_000;

/// A search, read against one index.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The rows whose time lies in any of these.
    pub intervals: Vec<Interval>,
    /// The rest of the query; `None`: every row in the intervals.
    pub filter: Option<Filter>,
    pub size: usize,
    pub from: usize,
    pub order: ScanOrder,
    /// Whether hits carry their time as `sort`.
    pub sorted_by_time: bool,
    pub search_after: Option<Millis>,
    pub source: SourceFilter,
    /// `fields` and `docvalue_fields`: patterns and the date format of each.
    pub fields: Vec<(String, DateFormat)>,
    pub highlight: Option<HighlightRequest>,
    pub track_total_hits: TrackTotalHits,
    pub aggs: Vec<AggRequest>,
}

/// Which fields `_source` shows.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceFilter {
    None,
    /// Fields matching any `includes` (none: all) and no `excludes`.
    Patterns {
        includes: Vec<String>,
        excludes: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct HighlightRequest {
    pub options: HighlightOptions,
    /// Field patterns whose fragments are returned.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackTotalHits {
    /// Exactly (`true`).
    Exact,
    /// As far as the search read (the default, and numbers).
    AsRead,
    /// Not reported (`false`).
    Off,
}

impl SearchRequest {
    /// Reads a search body against `fields`; `now` anchors date math.
    pub fn parse(
        body: &Value,
        fields: &IndexFields,
        now: Millis,
    ) -> Result<SearchRequest, EsError> {
        parse(body, fields, now).map_err(EsError::parsing)
    }

    /// Reads a `_count` body: its query only.
    pub fn parse_count(
        body: &Value,
        fields: &IndexFields,
        now: Millis,
    ) -> Result<SearchRequest, EsError> {
        let query = body.get("query").cloned();
        let mut body = json!({"size": 0});
        if let Some(query) = query {
            body["query"] = query;
        }
        SearchRequest::parse(&body, fields, now)
    }
}

fn present<'v>(root: &Field<'v>, name: &str) -> Option<Field<'v>> {
    root.optional(name).filter(|field| !field.is_null())
}

fn parse(body: &Value, fields: &IndexFields, now: Millis) -> Result<SearchRequest, JsonError> {
    let root = Field::root(body);
    let object = body
        .as_object()
        .ok_or_else(|| root.invalid("a search body is a JSON object"))?;
    if let Some(key) = object
        .keys()
        .find(|key| !MEMBERS.contains(&key.as_str()) && !IGNORED_MEMBERS.contains(&key.as_str()))
    {
        return Err(root.required(key)?.invalid(format!(
            "unknown key [{key}] of a search; Strata reads {}",
            MEMBERS.join(", ")
        )));
    }
    let lowering = QueryLowering { fields, now };
    let query = match present(&root, "query") {
        Some(query) => lowering.lower(&query)?,
        None => match_all(),
    };
    let (intervals, filter) = split_time(query);
    let count = |name: &str, default: usize| -> Result<usize, JsonError> {
        present(&root, name).map_or(Ok(default), |field| field.count())
    };
    let size = count("size", 10)?;
    let from = count("from", 0)?;
    if size + from > MAX_RESULT_WINDOW {
        return Err(root.invalid(format!(
            "from + size is {}, above the result window of {MAX_RESULT_WINDOW}; page with search_after",
            size + from
        )));
    }
    let (order, sorted_by_time) = match present(&root, "sort") {
        Some(sort) => sort_order(&sort, fields)?,
        None => (ScanOrder::None, false),
    };
    let search_after = match present(&root, "search_after") {
        Some(after) => {
            let first =
                after.elements()?.into_iter().next().ok_or_else(|| {
                    after.invalid("search_after holds the last hit's sort values")
                })?;
            if !sorted_by_time {
                return Err(after.invalid("search_after needs a sort on the time field"));
            }
            Some(
                super::dates::parse_instant(
                    first.value(),
                    false,
                    now,
                    super::dates::RoundDirection::Down,
                )
                .map_err(|message| first.invalid(message))?,
            )
        }
        None => None,
    };
    let mut requested = Vec::new();
    for name in ["fields", "docvalue_fields"] {
        if let Some(list) = present(&root, name) {
            for item in list.elements()? {
                requested.push(if item.is_string() {
                    (item.string()?, DateFormat::Iso)
                } else {
                    let format = match present(&item, "format") {
                        Some(format) => DateFormat::parse(&format.string()?)
                            .map_err(|message| format.invalid(message))?,
                        None => DateFormat::Iso,
                    };
                    (item.required("field")?.string()?, format)
                });
            }
        }
    }
    let aggs = match present(&root, "aggs").or_else(|| present(&root, "aggregations")) {
        Some(aggs) => aggs::parse_aggs(&aggs, &lowering)?,
        None => Vec::new(),
    };
    Ok(SearchRequest {
        intervals,
        filter,
        size,
        from,
        order,
        sorted_by_time,
        search_after,
        source: match present(&root, "_source") {
            Some(source) => source_filter(&source)?,
            None => SourceFilter::Patterns {
                includes: Vec::new(),
                excludes: Vec::new(),
            },
        },
        fields: requested,
        highlight: present(&root, "highlight")
            .map(|h| highlight(&h))
            .transpose()?,
        track_total_hits: match present(&root, "track_total_hits") {
            Some(track) if track.value().is_boolean() => {
                if track.boolean()? {
                    TrackTotalHits::Exact
                } else {
                    TrackTotalHits::Off
                }
            }
            Some(track) => {
                track.count()?;
                TrackTotalHits::AsRead
            }
            None => TrackTotalHits::AsRead,
        },
        aggs,
    })
}

/// `sort`: `"field"`, `{"field": "desc"}`, `{"field": {"order": "desc"}}`,
/// or an array of those (Grafana's logs query sorts by the time field,
/// then `_doc`).
fn sort_order(sort: &Field<'_>, fields: &IndexFields) -> Result<(ScanOrder, bool), JsonError> {
    let keys: Vec<(String, Field<'_>)> = if sort.is_array() {
        let mut keys = Vec::new();
        for item in sort.elements()? {
            keys.extend(sort_keys(&item)?);
        }
        keys
    } else {
        sort_keys(sort)?
    };
    // Hits are in storage order but for the time: `_doc` and `_score`
    // (every hit scores alike) change nothing, wherever they are listed.
    let Some((name, spec)) = keys
        .into_iter()
        .find(|(name, _)| name != "_doc" && name != "_score")
    else {
        return Ok((ScanOrder::None, false));
    };
    let field = fields
        .require(&name)
        .map_err(|message| spec.invalid(message))?;
    if field.field_type != FieldType::Date {
        return Err(spec.invalid(format!(
            "hits are sorted by the time field [{}] only; [{name}] is {}",
            fields.time_field().name,
            field.field_type.name()
        )));
    }
    // A bare name (`"sort": "timestamp"`) is no direction.
    let direction = match spec.value() {
        Value::String(text) if *text == name => "asc".to_owned(),
        other => sort_direction(other),
    };
    let order = match direction.to_ascii_lowercase().as_str() {
        "desc" => ScanOrder::Descending,
        "asc" => ScanOrder::Ascending,
        other => return Err(spec.invalid(format!("sort order `{other}` is neither asc nor desc"))),
    };
    Ok((order, true))
}

/// The direction a sort key gives: `"desc"`, `{"order": "desc"}`;
/// ascending by default.
pub(crate) fn sort_direction(value: &Value) -> String {
    match value {
        Value::String(direction) => direction.clone(),
        Value::Object(options) => options
            .get("order")
            .and_then(Value::as_str)
            .unwrap_or("asc")
            .to_owned(),
        _ => "asc".to_owned(),
    }
}

fn sort_keys<'v>(item: &Field<'v>) -> Result<Vec<(String, Field<'v>)>, JsonError> {
    if item.is_string() {
        // A bare name sorts ascending; its own text is no direction.
        return Ok(vec![(item.string()?, item.clone())]);
    }
    let object = item
        .value()
        .as_object()
        .ok_or_else(|| item.invalid("a sort is a field name or {\"<field>\": \"desc\"}"))?;
    object
        .keys()
        .map(|key| Ok((key.clone(), item.required(key)?)))
        .collect()
}

fn source_filter(source: &Field<'_>) -> Result<SourceFilter, JsonError> {
    let list = |field: Option<Field<'_>>| -> Result<Vec<String>, JsonError> {
        match field.filter(|field| !field.is_null()) {
            None => Ok(Vec::new()),
            Some(field) if field.is_string() => Ok(vec![field.string()?]),
            Some(field) => field.elements()?.iter().map(Field::string).collect(),
        }
    };
    match source.value() {
        Value::Bool(false) => Ok(SourceFilter::None),
        Value::Bool(true) => Ok(SourceFilter::Patterns {
            includes: Vec::new(),
            excludes: Vec::new(),
        }),
        Value::Object(_) => Ok(SourceFilter::Patterns {
            includes: list(source.optional("includes"))?,
            excludes: list(source.optional("excludes"))?,
        }),
        _ => Ok(SourceFilter::Patterns {
            includes: list(Some(source.clone()))?,
            excludes: Vec::new(),
        }),
    }
}

fn highlight(field: &Field<'_>) -> Result<HighlightRequest, JsonError> {
    let defaults = HighlightOptions::default();
    let tag = |name: &str, default: String| -> Result<String, JsonError> {
        match present(field, name) {
            Some(tags) if tags.is_array() => Ok(tags
                .elements()?
                .first()
                .map(Field::string)
                .transpose()?
                .unwrap_or(default)),
            Some(tag) => tag.string(),
            None => Ok(default),
        }
    };
    let number = |name: &str, default: usize| -> Result<usize, JsonError> {
        match present(field, name) {
            Some(number) => number
                .value()
                .as_u64()
                .map(|n| n.min(1 << 20) as usize)
                .ok_or_else(|| number.invalid("expected a whole number")),
            None => Ok(default),
        }
    };
    let fields = match present(field, "fields") {
        Some(fields) if fields.is_array() => {
            let mut names = Vec::new();
            for item in fields.elements()? {
                match item.value().as_object() {
                    Some(object) => names.extend(object.keys().cloned()),
                    None => names.push(item.string()?),
                }
            }
            names
        }
        Some(fields) => fields
            .value()
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default(),
        None => vec!["*".to_owned()],
    };
    let fragment_size = number("fragment_size", defaults.fragment_size)?.max(1);
    Ok(HighlightRequest {
        options: HighlightOptions {
            pre_tag: tag("pre_tags", defaults.pre_tag)?,
            post_tag: tag("post_tags", defaults.post_tag)?,
            fragment_size,
            number_of_fragments: number("number_of_fragments", defaults.number_of_fragments)?,
        },
        fields,
    })
}

/// The time conditions AND'ed at the top of `filter`, as intervals (their
/// intersection), and what is left.
pub fn split_time(filter: Filter) -> (Vec<Interval>, Option<Filter>) {
    let parts = match filter {
        Filter::And(parts) => parts,
        other => vec![other],
    };
    let mut intervals = vec![Interval::ETERNITY];
    let mut rest = Vec::new();
    for part in parts {
        match part {
            Filter::Intervals {
                column,
                intervals: these,
            } if column == TIME_COLUMN => {
                intervals = intersect(&intervals, &these);
            }
            other => rest.push(other),
        }
    }
    let rest = match all_of(rest) {
        Filter::And(parts) if parts.is_empty() => None,
        other => Some(other),
    };
    if intervals.is_empty() {
        // Nothing can match: an empty interval keeps the plan valid.
        return (
            vec![Interval::new(0, 0).unwrap_or(Interval::ETERNITY)],
            Some(super::query_dsl::match_none()),
        );
    }
    (intervals, rest)
}

fn intersect(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let start = x.start().max(y.start());
            let end = x.end().min(y.end());
            if start < end
                && let Ok(interval) = Interval::new(start, end)
            {
                out.push(interval);
            }
        }
    }
    out
}

/// Runs scans and aggregate plans over one index.
pub trait IndexReader: PlanRunner {
    fn scan(&self, plan: &ScanPlan) -> Result<ScanResult, QueryError>;
}

/// A search's answer for one index, before several are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexAnswer {
    /// The hits with their time, in the search's order.
    pub hits: Vec<(Millis, Value)>,
    pub total: Option<(u64, bool)>,
    pub aggregations: Option<Map<String, Value>>,
}

/// Runs `request` over the index `name`.
pub fn run(
    request: &SearchRequest,
    name: &str,
    fields: &IndexFields,
    reader: &dyn IndexReader,
    now: Millis,
) -> Result<IndexAnswer, EsError> {
    let lowering = QueryLowering { fields, now };
    let mut total = None;
    let aggregations = if request.aggs.is_empty() {
        None
    } else {
        let scope = AggScope {
            lowering: &lowering,
            datasource: name,
            intervals: &request.intervals,
            filter: request.filter.as_ref(),
            runner: reader,
        };
        let answer = aggs::run::run(&request.aggs, &scope)?;
        total = answer.total.map(|count| (count, true));
        Some(answer.aggregations)
    };
    let mut hits = Vec::new();
    if request.size > 0 {
        let (found, scanned_total) = scan_hits(request, name, fields, reader)?;
        hits = found;
        if total.is_none() {
            total = Some(scanned_total);
        }
    }
    let needs_count = match total {
        None => request.track_total_hits != TrackTotalHits::Off,
        Some((_, exact)) => !exact && request.track_total_hits == TrackTotalHits::Exact,
    };
    if needs_count {
        total = Some((count(request, name, reader)?, true));
    }
    if request.track_total_hits == TrackTotalHits::Off {
        total = None;
    }
    Ok(IndexAnswer {
        hits,
        total,
        aggregations,
    })
}

/// Every event the request's query matches.
pub fn count(
    request: &SearchRequest,
    name: &str,
    reader: &dyn IndexReader,
) -> Result<u64, EsError> {
    let plan = QueryPlan::event_count(
        name.to_owned(),
        request.intervals.clone(),
        request.filter.clone(),
    );
    let rows = reader.aggregate(&plan).map_err(EsError::from_query)?;
    Ok(counted_events(&rows))
}

/// The hits of a scan with their times, and how many events it matched
/// (exactly, or at least).
type ScannedHits = (Vec<(Millis, Value)>, (u64, bool));

fn scan_hits(
    request: &SearchRequest,
    name: &str,
    fields: &IndexFields,
    reader: &dyn IndexReader,
) -> Result<ScannedHits, EsError> {
    let mut filter = request.filter.clone();
    if let Some(after) = request.search_after {
        let bound = match request.order {
            ScanOrder::Descending => time_filter(Millis::MIN, after),
            _ => time_filter(after.saturating_add(1), Millis::MAX),
        };
        filter = Some(all_of(filter.into_iter().chain([bound]).collect()));
    }
    let columns: Vec<String> = fields
        .fields()
        .iter()
        .map(|field| field.column.clone())
        .collect();
    let plan = ScanPlan {
        datasource: name.to_owned(),
        intervals: request.intervals.clone(),
        filter: filter.clone(),
        columns: Some(columns),
        order: request.order,
        limit: Some(request.size),
        offset: request.from,
    };
    let result = reader.scan(&plan).map_err(EsError::from_query)?;
    let highlighters = match &request.highlight {
        Some(highlight) => highlighters(filter.as_ref(), fields.spec(), &highlight.options)?,
        None => Vec::new(),
    };
    let hits = result
        .rows
        .iter()
        .enumerate()
        .map(|(position, row)| {
            let hit = render_hit(
                request,
                name,
                fields,
                &highlighters,
                row.time,
                &row.values,
                request.from + position,
            );
            (row.time, hit)
        })
        .collect();
    Ok((hits, (result.matched, result.complete)))
}

/// One highlighter per full-text condition the hits passed (those not
/// under a `Not`).
fn highlighters(
    filter: Option<&Filter>,
    spec: &DataSourceSpec,
    options: &HighlightOptions,
) -> Result<Vec<Highlighter>, EsError> {
    fn collect<'f>(filter: &'f Filter, found: &mut Vec<(&'f str, &'f [String])>) {
        match filter {
            Filter::FullText { query, fields } => found.push((query, fields)),
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().for_each(|part| collect(part, found))
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Some(filter) = filter {
        collect(filter, &mut found);
    }
    let fields = text_fields(spec);
    found
        .into_iter()
        .map(|(query, defaults)| {
            Highlighter::new(query, &fields, defaults, options.clone())
                .map_err(|error| EsError::illegal_argument(error.to_string()))
        })
        .collect()
}

fn render_hit(
    request: &SearchRequest,
    name: &str,
    fields: &IndexFields,
    highlighters: &[Highlighter],
    time: Millis,
    values: &[ScanValue],
    position: usize,
) -> Value {
    let mut hit = Map::new();
    hit.insert("_index".to_owned(), json!(name));
    hit.insert("_id".to_owned(), json!(format!("{time}-{position}")));
    hit.insert(
        "_score".to_owned(),
        if request.sorted_by_time {
            Value::Null
        } else {
            json!(1.0)
        },
    );
    let mut source = Map::new();
    let mut asked = Map::new();
    let mut highlight = Map::new();
    for (field, value) in fields.fields().iter().zip(values) {
        let json_value = if field.column == TIME_COLUMN {
            json!(DateFormat::Iso.format(time, chrono_tz::Tz::UTC))
        } else {
            scan_value_json(value)
        };
        if let SourceFilter::Patterns { includes, excludes } = &request.source
            && (includes.is_empty() || includes.iter().any(|p| glob(p, &field.name)))
            && !excludes.iter().any(|p| glob(p, &field.name))
        {
            source.insert(field.name.clone(), json_value.clone());
        }
        if let Some((_, format)) = request
            .fields
            .iter()
            .find(|(pattern, _)| glob(pattern, &field.name))
        {
            let shown = if field.column == TIME_COLUMN {
                vec![json!(format.format(time, chrono_tz::Tz::UTC))]
            } else {
                match json_value.clone() {
                    Value::Null => Vec::new(),
                    Value::Array(values) => values,
                    other => vec![other],
                }
            };
            if !shown.is_empty() {
                asked.insert(field.name.clone(), Value::Array(shown));
            }
        }
        if let (Some(request), ScanValue::String(text)) = (&request.highlight, value)
            && field.field_type == FieldType::Text
            && request
                .fields
                .iter()
                .any(|pattern| glob(pattern, &field.name))
        {
            let mut fragments: Vec<String> = Vec::new();
            for highlighter in highlighters {
                for fragment in highlighter.highlight(&field.name, text) {
                    if !fragments.contains(&fragment) {
                        fragments.push(fragment);
                    }
                }
            }
            if !fragments.is_empty() {
                highlight.insert(field.name.clone(), json!(fragments));
            }
        }
    }
    if request.source != SourceFilter::None {
        hit.insert("_source".to_owned(), Value::Object(source));
    }
    if !asked.is_empty() {
        hit.insert("fields".to_owned(), Value::Object(asked));
    }
    if request.highlight.is_some() && !highlight.is_empty() {
        hit.insert("highlight".to_owned(), Value::Object(highlight));
    }
    if request.sorted_by_time {
        hit.insert("sort".to_owned(), json!([time]));
    }
    Value::Object(hit)
}

/// A field name pattern: `*` any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len()
                && name.starts_with(head)
                && (0..=name.len() - head.len()).any(|skip| {
                    name.is_char_boundary(head.len() + skip)
                        && glob(tail, &name[head.len() + skip..])
                })
        }
    }
}

/// The answers of one search over several indices, merged: hits in the
/// search's order, the first `skip` left out, cut at `size`; totals added.
pub fn merge(
    request: &SearchRequest,
    answers: Vec<IndexAnswer>,
    skip: usize,
    started: Instant,
) -> Value {
    let mut hits: Vec<(Millis, Value)> = Vec::new();
    let mut total: Option<(u64, bool)> = None;
    let mut aggregations = None;
    for answer in answers {
        hits.extend(answer.hits);
        if let Some((count, exact)) = answer.total {
            total = Some(match total {
                Some((sum, all_exact)) => (sum + count, all_exact && exact),
                None => (count, exact),
            });
        }
        if answer.aggregations.is_some() {
            aggregations = answer.aggregations;
        }
    }
    match request.order {
        ScanOrder::Descending => hits.sort_by_key(|hit| std::cmp::Reverse(hit.0)),
        ScanOrder::Ascending => hits.sort_by_key(|hit| hit.0),
        ScanOrder::None => {}
    }
    let hits: Vec<(Millis, Value)> = hits
        .into_iter()
        .skip(skip)
        .take(request.size.saturating_sub(skip))
        .collect();
    let mut hits_object = Map::new();
    if let Some((value, exact)) = total {
        hits_object.insert(
            "total".to_owned(),
            json!({"value": value, "relation": if exact { "eq" } else { "gte" }}),
        );
    }
    hits_object.insert(
        "max_score".to_owned(),
        if request.sorted_by_time {
            Value::Null
        } else {
            json!(1.0)
        },
    );
    hits_object.insert(
        "hits".to_owned(),
        Value::Array(hits.into_iter().map(|(_, hit)| hit).collect()),
    );
    let mut answer = json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": hits_object,
    });
    if let Some(aggregations) = aggregations {
        answer["aggregations"] = Value::Object(aggregations);
    }
    answer
}

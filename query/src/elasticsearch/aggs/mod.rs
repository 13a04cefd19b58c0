//! Aggregations: the `aggs` of a search, read into a tree of [`AggRequest`]s,
//! run as logical plans ([`run`]) and answered in Elasticsearch's shape.
//!
//! Three kinds, as in Elasticsearch:
//!
//! - **bucket** aggregations cut the events into buckets, each with a
//!   `doc_count` and its own sub-aggregations: `terms`, `date_histogram`,
//!   `histogram`, `filters`, `range`;
//! - **metric** aggregations compute values over a bucket's events
//!   ([`metric`]): `avg`, `sum`, `min`, `max`, `value_count`, `cardinality`,
//!   `percentiles`, `stats`, `extended_stats`, `top_metrics`;
//! - **pipeline** aggregations compute from the values of sibling buckets
//!   ([`pipeline`]): `derivative`, `cumulative_sum`, `moving_fn`,
//!   `bucket_script`.
//!
//! Each bucket aggregation is one [`QueryPlan`](crate::plan::QueryPlan):
//! grouped by the `terms` fields from the root down to it, bucketed in time
//! by the `date_histogram` on that path, filtered by the query and by the
//! `filters`/`range`/`histogram` buckets above it (one plan per such
//! bucket), computing `doc_count` and the metrics directly under it. A
//! `terms` aggregation's chosen values (its `size` best by its `order`)
//! filter the plans below it, so a `terms` → `date_histogram` asks for the
//! histogram of five services, not of all of them.

pub mod metric;
pub mod pipeline;
pub mod run;

use chrono_tz::Tz;
use serde_json::Value;
use strata_storage::granularity::Granularity;
use strata_storage::time::Millis;

use super::dates::{
    HistogramInterval, IntervalKind, RoundDirection, parse_instant, parse_offset, parse_time_zone,
};
use super::fields::{FieldType, IndexField};
use super::query_dsl::QueryLowering;
use crate::druid::json::{Field, JsonError};
use crate::plan::Filter;
use metric::MetricAgg;
use pipeline::PipelineAgg;

/// The most buckets one aggregation may answer with
/// (Elasticsearch's `search.max_buckets`).
pub const MAX_BUCKETS: usize = 65_536;

/// One named aggregation and those under it.
#[derive(Debug, Clone, PartialEq)]
pub struct AggRequest {
    pub name: String,
    pub kind: AggKind,
    pub children: Vec<AggRequest>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggKind {
    Bucket(BucketAgg),
    Metric(MetricAgg),
    Pipeline(PipelineAgg),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BucketAgg {
    Terms(Terms),
    DateHistogram(DateHistogram),
    Histogram(Histogram),
    /// Named (`keyed`, answered as an object) or anonymous filters.
    Filters {
        buckets: Vec<(String, Filter)>,
        keyed: bool,
        other_bucket: Option<String>,
    },
    Range {
        field: IndexField,
        ranges: Vec<RangeBucket>,
        keyed: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    pub field: IndexField,
    pub size: usize,
    pub order: Vec<TermsOrder>,
    pub min_doc_count: u64,
    /// The key events without the field count under; `None`: they are left out.
    pub missing: Option<String>,
}

/// One key of a `terms` order.
#[derive(Debug, Clone, PartialEq)]
pub struct TermsOrder {
    pub by: OrderBy,
    pub ascending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrderBy {
    Key,
    Count,
    /// A metric directly under the terms, by its buckets path (`"1"`,
    /// `"stats.max"`, `"p[99.0]"`).
    Metric(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DateHistogram {
    pub interval: HistogramInterval,
    pub granularity: Granularity,
    pub zone: Tz,
    pub min_doc_count: u64,
    /// Empty buckets are answered over at least this range (inclusive).
    pub extended_bounds: Option<(Millis, Millis)>,
    pub format: DateFormat,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub field: IndexField,
    pub interval: f64,
    pub offset: f64,
    pub min_doc_count: u64,
    pub extended_bounds: Option<(f64, f64)>,
}

impl Histogram {
    /// The bucket holding `value`, counted from `offset` in intervals.
    pub fn step(&self, value: f64) -> i64 {
        ((value - self.offset) / self.interval).floor() as i64
    }

    /// The key (the least value) of bucket `step`.
    pub fn key(&self, step: i64) -> f64 {
        step as f64 * self.interval + self.offset
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RangeBucket {
    pub key: Option<String>,
    pub from: Option<f64>,
    pub to: Option<f64>,
}

/// How a date is written as text: `key_as_string`, `fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// ISO-8601 with milliseconds (Elasticsearch's default for a `date`).
    Iso,
    /// ISO-8601 with nanoseconds (`strict_date_optional_time_nanos`).
    IsoNanos,
    EpochMillis,
    EpochSecond,
    /// A Java date pattern (`yyyy-MM-dd HH:mm`), as a chrono format.
    Pattern(String),
}

impl DateFormat {
    pub fn parse(text: &str) -> Result<DateFormat, String> {
        let first = text.split("||").next().unwrap_or_default().trim();
        Ok(match first {
            ""
            | "strict_date_optional_time"
            | "date_optional_time"
            | "strict_date_time"
            | "date_time" => DateFormat::Iso,
            "strict_date_optional_time_nanos" | "date_nanos" => DateFormat::IsoNanos,
            "epoch_millis" => DateFormat::EpochMillis,
            "epoch_second" => DateFormat::EpochSecond,
            pattern => DateFormat::Pattern(java_pattern(pattern)?),
        })
    }

    /// `t` (epoch milliseconds) as text, local to `zone` for a pattern.
    pub fn format(&self, t: Millis, zone: Tz) -> String {
        use chrono::{DateTime, SecondsFormat, Utc};
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(t) else {
            return t.to_string();
        };
        match self {
            DateFormat::Iso if zone == Tz::UTC => utc.to_rfc3339_opts(SecondsFormat::Millis, true),
            DateFormat::Iso => utc
                .with_timezone(&zone)
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            DateFormat::IsoNanos => utc
                .with_timezone(&zone)
                .to_rfc3339_opts(SecondsFormat::Nanos, true),
            DateFormat::EpochMillis => t.to_string(),
            DateFormat::EpochSecond => t.div_euclid(1000).to_string(),
            DateFormat::Pattern(pattern) => utc.with_timezone(&zone).format(pattern).to_string(),
        }
    }
}

/// A Java date pattern as a chrono format: the letters Grafana and Kibana
/// users write.
fn java_pattern(pattern: &str) -> Result<String, String> {
    const LETTERS: [(&str, &str); 14] = [
        ("yyyy", "%Y"),
        ("yy", "%y"),
        ("MMM", "%b"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("hh", "%I"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("SSS", "%3f"),
        ("a", "%p"),
        ("EEE", "%a"),
        ("Z", "%z"),
        ("XXX", "%:z"),
    ];
    let mut format = String::new();
    let mut rest = pattern;
    'outer: while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted
                .find('\'')
                .ok_or_else(|| format!("date format [{pattern}]: a quote is not closed"))?;
            format.push_str(&quoted[..end].replace('%', "%%"));
            rest = &quoted[end + 1..];
            continue;
        }
        for (letters, chrono) in LETTERS {
            if let Some(after) = rest.strip_prefix(letters) {
                format.push_str(chrono);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("not empty");
        if c.is_ascii_alphabetic() {
            return Err(format!(
                "date format [{pattern}]: the letter `{c}` is not a pattern Strata writes; use yyyy MM dd HH mm ss SSS, epoch_millis or strict_date_optional_time"
            ));
        }
        if c == '%' {
            format.push('%');
        }
        format.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(format)
}

/// Reads the `aggs` (or `aggregations`) object of a search or a bucket.
pub fn parse_aggs(
    aggs: &Field<'_>,
    lowering: &QueryLowering<'_>,
) -> Result<Vec<AggRequest>, JsonError> {
    let Some(object) = aggs.value().as_object() else {
        return Err(aggs.invalid("aggs is an object of named aggregations"));
    };
    object
        .keys()
        .map(|name| parse_agg(name, &aggs.required(name)?, lowering))
        .collect()
}

fn parse_agg(
    name: &str,
    body: &Field<'_>,
    lowering: &QueryLowering<'_>,
) -> Result<AggRequest, JsonError> {
    let Some(object) = body.value().as_object() else {
        return Err(
            body.invalid("an aggregation is an object such as {\"avg\": {\"field\": \"x\"}}")
        );
    };
    let mut children = Vec::new();
    let mut kind = None;
    for key in object.keys() {
        let member = body.required(key)?;
        match key.as_str() {
            "aggs" | "aggregations" => children = parse_aggs(&member, lowering)?,
            "meta" => {}
            type_name => {
                if kind.is_some() {
                    return Err(member.invalid(format!(
                        "aggregation [{name}] has two types; one aggregation has one type, and its sub-aggregations go under aggs"
                    )));
                }
                kind = Some(parse_kind(type_name, &member, lowering)?);
            }
        }
    }
    let kind = kind.ok_or_else(|| body.invalid(format!("aggregation [{name}] has no type")))?;
    if !children.is_empty() && !matches!(kind, AggKind::Bucket(_)) {
        return Err(body.invalid(format!(
            "aggregation [{name}] is not a bucket aggregation and cannot have sub-aggregations"
        )));
    }
    Ok(AggRequest {
        name: name.to_owned(),
        kind,
        children,
    })
}

fn parse_kind(
    type_name: &str,
    body: &Field<'_>,
    lowering: &QueryLowering<'_>,
) -> Result<AggKind, JsonError> {
    let field = |body: &Field<'_>| -> Result<IndexField, JsonError> {
        lowering.field(&body.required("field")?).cloned()
    };
    Ok(match type_name {
        "terms" => AggKind::Bucket(BucketAgg::Terms(terms(body, lowering)?)),
        "date_histogram" => {
            AggKind::Bucket(BucketAgg::DateHistogram(date_histogram(body, lowering)?))
        }
        "histogram" => {
            let field = field(body)?;
            if !field.field_type.is_number() {
                return Err(body.invalid(format!(
                    "a histogram needs a numeric field; [{}] is {}",
                    field.name,
                    field.field_type.name()
                )));
            }
            let interval = body.required("interval")?;
            let interval_value = number(&interval)?;
            if interval_value.is_nan() || interval_value <= 0.0 {
                return Err(interval.invalid("the interval must be above 0"));
            }
            let extended_bounds = match present(body, "extended_bounds") {
                Some(bounds) => Some((
                    number(&bounds.required("min")?)?,
                    number(&bounds.required("max")?)?,
                )),
                None => None,
            };
            AggKind::Bucket(BucketAgg::Histogram(Histogram {
                field,
                interval: interval_value,
                offset: present(body, "offset")
                    .map(|f| number(&f))
                    .transpose()?
                    .unwrap_or(0.0),
                min_doc_count: min_doc_count(body, 0)?,
                extended_bounds,
            }))
        }
        "filters" => {
            let filters = body.required("filters")?;
            let (buckets, keyed) = if filters.is_array() {
                let buckets = filters
                    .elements()?
                    .iter()
                    .enumerate()
                    .map(|(i, query)| Ok((i.to_string(), lowering.lower(query)?)))
                    .collect::<Result<_, JsonError>>()?;
                (buckets, false)
            } else {
                let object = filters.value().as_object().ok_or_else(|| {
                    filters.invalid("filters is an object of named queries or an array")
                })?;
                let buckets = object
                    .keys()
                    .map(|key| Ok((key.clone(), lowering.lower(&filters.required(key)?)?)))
                    .collect::<Result<_, JsonError>>()?;
                (buckets, true)
            };
            let other_bucket = match (
                present(body, "other_bucket_key"),
                present(body, "other_bucket"),
            ) {
                (Some(key), _) => Some(key.string()?),
                (None, Some(flag)) if flag.boolean()? => Some("_other_".to_owned()),
                _ => None,
            };
            AggKind::Bucket(BucketAgg::Filters {
                buckets,
                keyed,
                other_bucket,
            })
        }
        "range" => {
            let field = field(body)?;
            if !field.field_type.is_number() {
                return Err(body.invalid(format!(
                    "a range aggregation needs a numeric field; [{}] is {}",
                    field.name,
                    field.field_type.name()
                )));
            }
            let ranges = body
                .required("ranges")?
                .elements()?
                .iter()
                .map(|range| {
                    Ok(RangeBucket {
                        key: present(range, "key").map(|key| key.string()).transpose()?,
                        from: present(range, "from").map(|f| number(&f)).transpose()?,
                        to: present(range, "to").map(|f| number(&f)).transpose()?,
                    })
                })
                .collect::<Result<_, JsonError>>()?;
            AggKind::Bucket(BucketAgg::Range {
                field,
                ranges,
                keyed: present(body, "keyed")
                    .map(|f| f.boolean())
                    .transpose()?
                    .unwrap_or(false),
            })
        }
        "derivative" | "cumulative_sum" | "moving_fn" | "bucket_script" | "moving_avg" => {
            AggKind::Pipeline(pipeline::parse(type_name, body)?)
        }
        other => AggKind::Metric(metric::parse(other, body, lowering)?),
    })
}

fn terms(body: &Field<'_>, lowering: &QueryLowering<'_>) -> Result<Terms, JsonError> {
    let field_name = body.required("field")?;
    let field = lowering
        .fields
        .groupable(&field_name.string()?)
        .map_err(|message| field_name.invalid(message))?
        .clone();
    let size = match present(body, "size") {
        Some(size) => count(&size)?,
        None => 10,
    };
    let order = match present(body, "order") {
        Some(order) if order.is_array() => order
            .elements()?
            .iter()
            .map(terms_order)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect(),
        Some(order) => terms_order(&order)?,
        None => vec![
            TermsOrder {
                by: OrderBy::Count,
                ascending: false,
            },
            TermsOrder {
                by: OrderBy::Key,
                ascending: true,
            },
        ],
    };
    Ok(Terms {
        field,
        size,
        order,
        min_doc_count: min_doc_count(body, 1)?,
        missing: present(body, "missing")
            .map(|missing| match missing.value() {
                Value::String(text) => Ok(text.clone()),
                Value::Number(number) => Ok(number.to_string()),
                _ => Err(missing.invalid("expected a string or a number")),
            })
            .transpose()?,
    })
}

fn terms_order(order: &Field<'_>) -> Result<Vec<TermsOrder>, JsonError> {
    let object = order.value().as_object().ok_or_else(|| {
        order.invalid(
            "an order is {\"_count\": \"desc\"}, {\"_key\": \"asc\"} or {\"<metric>\": \"desc\"}",
        )
    })?;
    object
        .keys()
        .map(|key| {
            let direction = order.required(key)?;
            let ascending = match direction.string()?.to_ascii_lowercase().as_str() {
                "asc" => true,
                "desc" => false,
                other => {
                    return Err(direction.invalid(format!("`{other}` is neither asc nor desc")));
                }
            };
            let by = match key.as_str() {
                "_key" | "_term" => OrderBy::Key,
                "_count" => OrderBy::Count,
                path => OrderBy::Metric(path.to_owned()),
            };
            Ok(TermsOrder { by, ascending })
        })
        .collect()
}

fn date_histogram(
    body: &Field<'_>,
    lowering: &QueryLowering<'_>,
) -> Result<DateHistogram, JsonError> {
    let field_name = body.required("field")?;
    let field = lowering.field(&field_name)?;
    if field.field_type != FieldType::Date {
        return Err(field_name.invalid(format!(
            "a date_histogram needs the time field [{}]; [{}] is {}",
            lowering.fields.time_field().name,
            field.name,
            field.field_type.name()
        )));
    }
    let (interval_field, kind) = match (
        present(body, "fixed_interval"),
        present(body, "calendar_interval"),
        present(body, "interval"),
    ) {
        (Some(fixed), _, _) => (fixed, IntervalKind::Fixed),
        (None, Some(calendar), _) => (calendar, IntervalKind::Calendar),
        (None, None, Some(legacy)) => (legacy, IntervalKind::Legacy),
        _ => {
            return Err(body.invalid(
                "a date_histogram needs fixed_interval (30s, 10m, 1h), calendar_interval (1d, 1w, 1M) or interval",
            ));
        }
    };
    let interval_text = match interval_field.value() {
        Value::Number(millis) => format!("{millis}ms"),
        _ => interval_field.string()?,
    };
    let interval = HistogramInterval::parse(&interval_text, kind)
        .map_err(|message| interval_field.invalid(message))?;
    let zone = match present(body, "time_zone") {
        Some(zone) => parse_time_zone(&zone.string()?).map_err(|message| zone.invalid(message))?,
        None => Tz::UTC,
    };
    let offset = match present(body, "offset") {
        Some(offset) => {
            parse_offset(&offset.string()?).map_err(|message| offset.invalid(message))?
        }
        None => 0,
    };
    let granularity = interval
        .granularity(zone, offset)
        .map_err(|message| interval_field.invalid(message))?;
    let format = match present(body, "format") {
        Some(format) => {
            DateFormat::parse(&format.string()?).map_err(|message| format.invalid(message))?
        }
        None => DateFormat::Iso,
    };
    let extended_bounds = match present(body, "extended_bounds") {
        Some(bounds) => {
            let instant = |name: &str, round| -> Result<Millis, JsonError> {
                let bound = bounds.required(name)?;
                parse_instant(
                    bound.value(),
                    format == DateFormat::EpochSecond,
                    lowering.now,
                    round,
                )
                .map_err(|message| bound.invalid(message))
            };
            Some((
                instant("min", RoundDirection::Down)?,
                instant("max", RoundDirection::Up)?,
            ))
        }
        None => None,
    };
    Ok(DateHistogram {
        interval,
        granularity,
        zone,
        min_doc_count: min_doc_count(body, 0)?,
        extended_bounds,
        format,
    })
}

/// A member that is present and not null.
fn present<'v>(body: &Field<'v>, name: &str) -> Option<Field<'v>> {
    body.optional(name).filter(|field| !field.is_null())
}

/// `min_doc_count`, a number or a string of one.
fn min_doc_count(body: &Field<'_>, default: u64) -> Result<u64, JsonError> {
    match present(body, "min_doc_count") {
        Some(field) => Ok(count(&field)? as u64),
        None => Ok(default),
    }
}

/// A whole number ≥ 0, written as a number or a string (Grafana writes both).
fn count(field: &Field<'_>) -> Result<usize, JsonError> {
    match field.value() {
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|_| field.invalid(format!("`{text}` is not a whole number"))),
        _ => field.count(),
    }
}

/// A number, written as a number or a string.
fn number(field: &Field<'_>) -> Result<f64, JsonError> {
    match field.value() {
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|_| field.invalid(format!("`{text}` is not a number"))),
        _ => field.number(),
    }
}

//! Fixtures the executor's tests share: a datasource spec with every kind
//! of dimension the executor treats apart, its events and rollup tables
//! built from a list of events, and an *oracle* — the plan computed
//! straight from the events, with none of the executor's machinery — to
//! compare answers against.

use std::collections::BTreeMap;

use std::collections::BTreeSet;

use strata_storage::granularity::Granularity;
use strata_storage::metric_cell::{DistinctKey, HllState, QuantilesState, Timed};
use strata_storage::segment::{
    CellValue, ColumnKind, ColumnSchema, Segment, SegmentWriter, TableKind, TableSchema,
};
use strata_storage::spec::{DataSourceSpec, HllLgK, HllTargetType, QuantilesK};
use strata_storage::time::{Interval, MILLIS_PER_HOUR, MILLIS_PER_MINUTE, Millis};

use super::TableSet;
use super::fold::{Fold, Number};
use crate::mem_table::{MemTable, MemTableBuilder};
use crate::plan::{
    AggregateFunction, AggregatePlan, Aggregation, ArithmeticOperator, Filter, GroupKey, Having,
    HavingComparison, KeyValue, NumberType, PostExpression, QueryPlan, RangeOrdering, ResultRow,
    ResultValue, ValueKind,
};

/// Every kind of dimension the executor treats apart: a string one, a
/// multi-value one, one outside rollup, a long one, a text one (never in
/// rollup, searched through a text index); and every kind of
/// metric: numbers, first/last pairs, an HLL sketch (of the dimension
/// outside rollup, which the events table keeps as its raw input) and a
/// quantiles sketch.
pub(super) const SPEC: &str = r#"{
    "dataSource": "web",
    "dimensionsSpec": {"dimensions": [
        "host",
        "tags",
        {"type": "string", "name": "user", "rollup": false},
        {"type": "long", "name": "status"},
        {"type": "text", "name": "message"}
    ]},
    "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
        {"type": "doubleSum", "name": "latency_sum", "fieldName": "latency"},
        {"type": "longMin", "name": "bytes_min", "fieldName": "bytes"},
        {"type": "doubleMax", "name": "latency_max", "fieldName": "latency"},
        {"type": "longFirst", "name": "bytes_first", "fieldName": "bytes"},
        {"type": "longLast", "name": "bytes_last", "fieldName": "bytes"},
        {"type": "doubleFirst", "name": "latency_first", "fieldName": "latency"},
        {"type": "doubleLast", "name": "latency_last", "fieldName": "latency"},
        {"type": "HLLSketchBuild", "name": "users", "fieldName": "user"},
        {"type": "quantilesDoublesSketch", "name": "latency_sketch", "fieldName": "latency"}
    ],
    "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}
}"#;

/// 2024-01-01T00:00:00Z.
pub(super) const T0: Millis = 1_704_067_200_000;

pub(super) fn spec() -> DataSourceSpec {
    DataSourceSpec::from_json(SPEC).unwrap()
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Event {
    pub(super) time: Millis,
    pub(super) host: Option<String>,
    /// Sorted, duplicates kept: the spec's default `SORTED_ARRAY`.
    pub(super) tags: Vec<String>,
    pub(super) user: Option<String>,
    pub(super) status: Option<i64>,
    pub(super) bytes: Option<i64>,
    pub(super) latency: Option<f64>,
    pub(super) message: Option<String>,
}

pub(super) fn event(time: Millis, host: Option<&str>, tags: &[&str], user: Option<&str>) -> Event {
    Event {
        time,
        host: host.map(str::to_owned),
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        user: user.map(str::to_owned),
        status: Some(200),
        bytes: Some(10),
        latency: Some(1.5),
        message: None,
    }
}

pub(super) fn string(kind_multi_value: bool) -> ColumnKind {
    ColumnKind::String {
        multi_value: kind_multi_value,
    }
}

/// `ingest::table_layout`'s events table for [`SPEC`]: every dimension,
/// then one raw input column per metric input field.
pub(super) fn events_table(events: &[Event]) -> MemTable {
    let mut builder = MemTableBuilder::new(TableKind::Events, events_schema());
    for event in events {
        let tags: Vec<&str> = event.tags.iter().map(String::as_str).collect();
        builder
            .append_row(event.time, &event_cells(event, &tags))
            .unwrap();
    }
    builder.finish()
}

/// [`events_table`] written as a segment in `dir`: a table of several row
/// blocks when there are many events.
pub(super) fn events_segment(events: &[Event], dir: &std::path::Path) -> Segment {
    let mut segment = SegmentWriter::create(dir).unwrap();
    let mut writer = segment.table(TableKind::Events, events_schema()).unwrap();
    for event in events {
        let tags: Vec<&str> = event.tags.iter().map(String::as_str).collect();
        writer
            .append_row(event.time, &event_cells(event, &tags))
            .unwrap();
    }
    segment.add_table(writer.finish().unwrap());
    segment.finish().unwrap();
    Segment::open(dir).unwrap()
}

fn events_schema() -> TableSchema {
    TableSchema::new(vec![
        ColumnSchema::new("host", string(false)),
        ColumnSchema::new("tags", string(true)),
        ColumnSchema::new("user", string(false)),
        ColumnSchema::new("status", ColumnKind::Long),
        ColumnSchema::new("bytes", ColumnKind::Long),
        ColumnSchema::new("latency", ColumnKind::Double),
        ColumnSchema::new("message", ColumnKind::Text),
    ])
    .unwrap()
}

fn event_cells<'e>(event: &'e Event, tags: &'e [&'e str]) -> [CellValue<'e>; 7] {
    [
        str_cell(&event.host),
        CellValue::Strs(tags),
        str_cell(&event.user),
        long_cell(event.status),
        long_cell(event.bytes),
        double_cell(event.latency),
        str_cell(&event.message),
    ]
}

/// One rollup row's metrics.
struct RolledUp {
    count: i64,
    bytes: Option<i64>,
    latency_sum: Option<f64>,
    bytes_min: Option<i64>,
    latency_max: Option<f64>,
    bytes_first: Option<Timed<i64>>,
    bytes_last: Option<Timed<i64>>,
    latency_first: Option<Timed<f64>>,
    latency_last: Option<Timed<f64>>,
    users: HllState,
    latency_sketch: QuantilesState,
}

impl Default for RolledUp {
    fn default() -> Self {
        RolledUp {
            count: 0,
            bytes: None,
            latency_sum: None,
            bytes_min: None,
            latency_max: None,
            bytes_first: None,
            bytes_last: None,
            latency_first: None,
            latency_last: None,
            users: HllState::new(HllLgK::DEFAULT, HllTargetType::Hll4),
            latency_sketch: QuantilesState::new(QuantilesK::DEFAULT),
        }
    }
}

/// Ingest's first and last: the earliest time wins, the first to arrive
/// among equal times; the latest, the last to arrive.
fn keep_first<T>(slot: &mut Option<Timed<T>>, time: Millis, value: T) {
    if slot.as_ref().is_none_or(|current| time < current.time) {
        *slot = Some(Timed { time, value });
    }
}

fn keep_last<T>(slot: &mut Option<Timed<T>>, time: Millis, value: T) {
    if slot.as_ref().is_none_or(|current| time >= current.time) {
        *slot = Some(Timed { time, value });
    }
}

/// `ingest::table_layout`'s rollup table for [`SPEC`]: the events
/// grouped by (minute, host, tags, status), one column per metric.
pub(super) fn rollup_table(events: &[Event]) -> MemTable {
    type Key = (Millis, Option<String>, Vec<String>, Option<i64>);
    let mut rows: BTreeMap<Key, RolledUp> = BTreeMap::new();
    for event in events {
        let minute = event.time - event.time.rem_euclid(MILLIS_PER_MINUTE);
        let key = (minute, event.host.clone(), event.tags.clone(), event.status);
        let row = rows.entry(key).or_default();
        row.count += 1;
        if let Some(bytes) = event.bytes {
            row.bytes = Some(row.bytes.unwrap_or(0).wrapping_add(bytes));
            row.bytes_min = Some(row.bytes_min.map_or(bytes, |min| min.min(bytes)));
            keep_first(&mut row.bytes_first, event.time, bytes);
            keep_last(&mut row.bytes_last, event.time, bytes);
        }
        if let Some(latency) = event.latency {
            row.latency_sum = Some(row.latency_sum.unwrap_or(0.0) + latency);
            row.latency_max = Some(row.latency_max.map_or(latency, |max| max.max(latency)));
            keep_first(&mut row.latency_first, event.time, latency);
            keep_last(&mut row.latency_last, event.time, latency);
            row.latency_sketch.add(latency).unwrap();
        }
        if let Some(key) = event.user.as_deref().and_then(DistinctKey::text) {
            row.users.add(key);
        }
    }
    let schema = TableSchema::new(vec![
        ColumnSchema::new("host", string(false)),
        ColumnSchema::new("tags", string(true)),
        ColumnSchema::new("status", ColumnKind::Long),
        ColumnSchema::new("count", ColumnKind::Long),
        ColumnSchema::new("bytes", ColumnKind::Long),
        ColumnSchema::new("latency_sum", ColumnKind::Double),
        ColumnSchema::new("bytes_min", ColumnKind::Long),
        ColumnSchema::new("latency_max", ColumnKind::Double),
        ColumnSchema::new("bytes_first", complex("serializablePairLongLong")),
        ColumnSchema::new("bytes_last", complex("serializablePairLongLong")),
        ColumnSchema::new("latency_first", complex("serializablePairLongDouble")),
        ColumnSchema::new("latency_last", complex("serializablePairLongDouble")),
        ColumnSchema::new("users", complex("HLLSketch")),
        ColumnSchema::new("latency_sketch", complex("quantilesDoublesSketch")),
    ])
    .unwrap();
    let mut builder = MemTableBuilder::new(TableKind::Rollup, schema);
    for ((time, host, tags, status), row) in &rows {
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let pairs = [
            row.bytes_first.map(|pair| pair.to_bytes()),
            row.bytes_last.map(|pair| pair.to_bytes()),
            row.latency_first.map(|pair| pair.to_bytes()),
            row.latency_last.map(|pair| pair.to_bytes()),
        ];
        fn pair_cell(pair: &Option<[u8; 16]>) -> CellValue<'_> {
            pair.as_ref()
                .map_or(CellValue::Null, |bytes| CellValue::Bytes(bytes))
        }
        let (users, latency_sketch) = (row.users.to_bytes(), row.latency_sketch.to_bytes());
        builder
            .append_row(
                *time,
                &[
                    str_cell(host),
                    CellValue::Strs(&tags),
                    long_cell(*status),
                    CellValue::Long(row.count),
                    long_cell(row.bytes),
                    double_cell(row.latency_sum),
                    long_cell(row.bytes_min),
                    double_cell(row.latency_max),
                    pair_cell(&pairs[0]),
                    pair_cell(&pairs[1]),
                    pair_cell(&pairs[2]),
                    pair_cell(&pairs[3]),
                    CellValue::Bytes(&users),
                    CellValue::Bytes(&latency_sketch),
                ],
            )
            .unwrap();
    }
    builder.finish()
}

fn complex(type_name: &str) -> ColumnKind {
    ColumnKind::Complex {
        type_name: type_name.to_owned(),
    }
}

fn str_cell(value: &Option<String>) -> CellValue<'_> {
    value.as_deref().map_or(CellValue::Null, CellValue::Str)
}

fn long_cell(value: Option<i64>) -> CellValue<'static> {
    value.map_or(CellValue::Null, CellValue::Long)
}

fn double_cell(value: Option<f64>) -> CellValue<'static> {
    value.map_or(CellValue::Null, CellValue::Double)
}

// ---- The oracle: the plan computed straight from the events. ----

/// A group key value, ordered as the result is: null, numbers, strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum OracleKey {
    Null,
    Long(i64),
    String(String),
}

fn dimension_values(event: &Event, column: &str) -> Vec<OracleKey> {
    let one = |value: Option<OracleKey>| vec![value.unwrap_or(OracleKey::Null)];
    match column {
        "host" => one(event.host.clone().map(OracleKey::String)),
        "user" => one(event.user.clone().map(OracleKey::String)),
        "status" => one(event.status.map(OracleKey::Long)),
        "tags" if event.tags.is_empty() => vec![OracleKey::Null],
        "tags" => event.tags.iter().cloned().map(OracleKey::String).collect(),
        _ => vec![OracleKey::Null],
    }
}

/// What one event contributes to a sum, min or max of `column`.
fn event_value(event: &Event, column: &str) -> Option<Number> {
    match column {
        "count" => Some(Number::Long(1)),
        "bytes" | "bytes_min" => event.bytes.map(Number::Long),
        "latency" | "latency_sum" | "latency_max" => event.latency.map(Number::Double),
        "status" => event.status.map(Number::Long),
        "__time" => Some(Number::Long(event.time)),
        _ => None,
    }
}

/// A value first/last can pick, or a distinct count count, for `column`.
#[derive(Debug, Clone, PartialEq)]
enum OracleScalar {
    Long(i64),
    Double(f64),
    Str(String),
}

/// What one event holds in `column`: a metric by its input field, a
/// multi-value dimension by its values.
fn event_scalars(event: &Event, column: &str) -> Vec<OracleScalar> {
    let long = |value: Option<i64>| value.map(OracleScalar::Long).into_iter().collect();
    let double = |value: Option<f64>| value.map(OracleScalar::Double).into_iter().collect();
    let text = |value: &Option<String>| value.clone().map(OracleScalar::Str).into_iter().collect();
    match column {
        "count" => vec![OracleScalar::Long(1)],
        "bytes" | "bytes_min" | "bytes_first" | "bytes_last" => long(event.bytes),
        "latency" | "latency_sum" | "latency_max" | "latency_first" | "latency_last"
        | "latency_sketch" => double(event.latency),
        "status" => long(event.status),
        "host" => text(&event.host),
        "user" | "users" => text(&event.user),
        "tags" => event.tags.iter().cloned().map(OracleScalar::Str).collect(),
        _ => Vec::new(),
    }
}

/// The text a distinct count hashes: a double in Rust's shortest form.
fn scalar_text(scalar: &OracleScalar) -> String {
    match scalar {
        OracleScalar::Long(value) => value.to_string(),
        OracleScalar::Double(value) => (value + 0.0).to_string(),
        OracleScalar::Str(value) => value.clone(),
    }
}

fn pick_as(scalar: &OracleScalar, kind: ValueKind) -> Option<ResultValue> {
    let number = match scalar {
        OracleScalar::Long(value) => Some(*value as f64),
        OracleScalar::Double(value) => Some(*value),
        OracleScalar::Str(text) => text.trim().parse::<f64>().ok(),
    };
    Some(match (kind, scalar) {
        (ValueKind::String, _) => ResultValue::String(scalar_text_for_string(scalar)),
        (ValueKind::Long, OracleScalar::Long(value)) => ResultValue::Long(*value),
        (ValueKind::Long, _) => ResultValue::Long(number?.trunc() as i64),
        (ValueKind::Double, _) => ResultValue::Double(number?),
        (ValueKind::Float, _) => ResultValue::Double(f64::from(number? as f32)),
    })
}

fn scalar_text_for_string(scalar: &OracleScalar) -> String {
    match scalar {
        OracleScalar::Double(value) => value.to_string(),
        other => scalar_text(other),
    }
}

/// The estimate an HLL sketch of lgK 12 gives for exactly these distinct
/// texts — which must be within 5% (three standard errors) of their number.
fn oracle_distinct(texts: BTreeSet<String>, round: bool) -> ResultValue {
    let mut sketch = HllState::new(HllLgK::DEFAULT, HllTargetType::Hll4);
    for text in texts.iter().filter(|text| !text.is_empty()) {
        sketch.add(DistinctKey::text(text).unwrap());
    }
    let exact = texts.iter().filter(|text| !text.is_empty()).count() as f64;
    let estimate = sketch.sketch().estimate();
    assert!(
        (estimate - exact).abs() <= 0.05 * exact.max(1.0),
        "estimate {estimate} of {exact}"
    );
    if round {
        ResultValue::Long(estimate.round() as i64)
    } else {
        ResultValue::Double(estimate)
    }
}

fn oracle_aggregate(function: &AggregateFunction, events: &[&Event]) -> ResultValue {
    let (fold, column, number) = match function {
        AggregateFunction::Count => return ResultValue::Long(events.len() as i64),
        AggregateFunction::First { column, kind, .. }
        | AggregateFunction::Last { column, kind, .. } => {
            let is_first = matches!(function, AggregateFunction::First { .. });
            let mut picked: Option<(Millis, ResultValue)> = None;
            for event in events {
                let Some(value) = event_scalars(event, column)
                    .first()
                    .and_then(|scalar| pick_as(scalar, *kind))
                else {
                    continue;
                };
                let replaces = picked.as_ref().is_none_or(|(time, _)| {
                    if is_first {
                        event.time < *time
                    } else {
                        event.time >= *time
                    }
                });
                if replaces {
                    picked = Some((event.time, value));
                }
            }
            return picked.map_or(ResultValue::Null, |(_, value)| value);
        }
        AggregateFunction::DistinctSketch { column, round, .. } => {
            let texts = events
                .iter()
                .flat_map(|event| event_scalars(event, column))
                .map(|scalar| scalar_text(&scalar))
                .collect();
            return oracle_distinct(texts, *round);
        }
        AggregateFunction::Cardinality {
            columns,
            by_row,
            round,
        } => {
            let texts = if *by_row {
                events
                    .iter()
                    .filter_map(|event| {
                        let parts: Vec<Vec<String>> = columns
                            .iter()
                            .map(|column| {
                                let mut texts: Vec<String> = event_scalars(event, column)
                                    .iter()
                                    .map(scalar_text)
                                    .filter(|text| !text.is_empty())
                                    .collect();
                                texts.sort();
                                texts
                            })
                            .collect();
                        parts.iter().any(|part| !part.is_empty()).then(|| {
                            parts
                                .iter()
                                .map(|part| part.join("\u{1}"))
                                .collect::<Vec<_>>()
                                .join("\u{0}")
                        })
                    })
                    .collect()
            } else {
                events
                    .iter()
                    .flat_map(|event| {
                        columns
                            .iter()
                            .flat_map(|column| event_scalars(event, column))
                            .collect::<Vec<_>>()
                    })
                    .map(|scalar| scalar_text(&scalar))
                    .collect()
            };
            return oracle_distinct(texts, *round);
        }
        AggregateFunction::QuantilesSketch { column, .. } => {
            let values = events
                .iter()
                .flat_map(|event| event_scalars(event, column))
                .filter(|scalar| !matches!(scalar, OracleScalar::Str(_)))
                .count();
            return ResultValue::Long(values as i64);
        }
        AggregateFunction::Filtered { filter, inner } => {
            let passing: Vec<&Event> = events
                .iter()
                .copied()
                .filter(|event| oracle_filter(filter, event) == Some(true))
                .collect();
            return oracle_aggregate(inner, &passing);
        }
        AggregateFunction::SumOfSquares { column } => {
            let squares: Vec<f64> = events
                .iter()
                .filter_map(|event| event_value(event, column))
                .map(|value| match value {
                    Number::Long(long) => (long as f64) * (long as f64),
                    Number::Double(double) => double * double,
                })
                .collect();
            return if squares.is_empty() {
                ResultValue::Null
            } else {
                ResultValue::Double(squares.iter().sum())
            };
        }
        AggregateFunction::Sum { column, number } => (Fold::Sum, column, number),
        AggregateFunction::Min { column, number } => (Fold::Min, column, number),
        AggregateFunction::Max { column, number } => (Fold::Max, column, number),
    };
    let values: Vec<Number> = events
        .iter()
        .filter_map(|event| event_value(event, column))
        .collect();
    if values.is_empty() {
        return ResultValue::Null;
    }
    match number {
        NumberType::Long => {
            let longs = values.iter().map(|value| match *value {
                Number::Long(long) => long,
                Number::Double(double) => double.trunc() as i64,
            });
            ResultValue::Long(match fold {
                Fold::Sum => longs.fold(0, i64::wrapping_add),
                Fold::Min => longs.min().unwrap(),
                Fold::Max => longs.max().unwrap(),
            })
        }
        NumberType::Double => {
            let doubles = values.iter().map(|value| match *value {
                Number::Long(long) => long as f64,
                Number::Double(double) => double,
            });
            ResultValue::Double(match fold {
                Fold::Sum => doubles.sum(),
                Fold::Min => doubles.fold(f64::INFINITY, f64::min),
                Fold::Max => doubles.fold(f64::NEG_INFINITY, f64::max),
            })
        }
        NumberType::Float => {
            let floats = values.iter().map(|value| match *value {
                Number::Long(long) => long as f32,
                Number::Double(double) => double as f32,
            });
            ResultValue::Double(f64::from(match fold {
                Fold::Sum => floats.sum::<f32>(),
                Fold::Min => floats.fold(f32::INFINITY, f32::min),
                Fold::Max => floats.fold(f32::NEG_INFINITY, f32::max),
            }))
        }
    }
}

fn oracle_post(expression: &PostExpression, named: &BTreeMap<String, ResultValue>) -> ResultValue {
    match expression {
        PostExpression::Field(name) | PostExpression::FinalizedField(name) => named[name].clone(),
        PostExpression::Constant(value) => ResultValue::Double(*value),
        PostExpression::Arithmetic { operator, operands } => {
            let mut numbers = Vec::new();
            for operand in operands {
                match oracle_post(operand, named).as_f64() {
                    None => return ResultValue::Null,
                    Some(value) => numbers.push(value),
                }
            }
            let result = numbers[1..]
                .iter()
                .fold(numbers[0], |left, &right| match operator {
                    ArithmeticOperator::Add => left + right,
                    ArithmeticOperator::Subtract => left - right,
                    ArithmeticOperator::Multiply => left * right,
                    ArithmeticOperator::Divide => {
                        if right == 0.0 {
                            0.0
                        } else {
                            left / right
                        }
                    }
                    ArithmeticOperator::Quotient => left / right,
                    ArithmeticOperator::Power => left.powf(right),
                });
            ResultValue::Double(result)
        }
        other => unreachable!("the properties use no {other:?}"),
    }
}

/// Every granularity the properties use but `all`, as the length of
/// its buckets on a grid anchored at the epoch.
pub(super) fn granularities() -> [(Granularity, i64); 4] {
    let ninety_seconds =
        Granularity::from_json(&serde_json::json!({"type": "duration", "duration": 90_000}))
            .unwrap();
    [
        (Granularity::SECOND, 1_000),
        (Granularity::MINUTE, MILLIS_PER_MINUTE),
        (ninety_seconds, 90_000),
        (Granularity::HOUR, MILLIS_PER_HOUR),
    ]
}

fn bucket_length(granularity: &Granularity) -> i64 {
    granularities()
        .into_iter()
        .chain([
            (Granularity::FIVE_MINUTE, 5 * MILLIS_PER_MINUTE),
            (Granularity::None, 1),
        ])
        .find(|(known, _)| known == granularity)
        .map(|(_, length)| length)
        .unwrap()
}

fn oracle_truncate(granularity: &Granularity, time: Millis) -> Millis {
    time - time.rem_euclid(bucket_length(granularity))
}

fn oracle_buckets(granularity: &Granularity, interval: Interval) -> Vec<Millis> {
    let step = bucket_length(granularity);
    let mut start = oracle_truncate(granularity, interval.start());
    let mut buckets = Vec::new();
    while start < interval.end() {
        buckets.push(start);
        start += step;
    }
    buckets
}

/// The filters the tests use, in SQL's three-valued logic: `None` is
/// UNKNOWN, which a condition on a null value is.
fn oracle_filter(filter: &Filter, event: &Event) -> Option<bool> {
    match filter {
        Filter::Equals { column, value } => {
            let values: Vec<String> = dimension_values(event, column)
                .into_iter()
                .filter_map(|value| match value {
                    OracleKey::Null => None,
                    OracleKey::Long(long) => Some(long.to_string()),
                    OracleKey::String(string) => Some(string),
                })
                .collect();
            match value {
                None => Some(values.is_empty()),
                Some(_) if values.is_empty() => None,
                Some(wanted) => Some(values.contains(wanted)),
            }
        }
        Filter::Not(filter) => oracle_filter(filter, event).map(|passes| !passes),
        Filter::And(filters) => {
            let truths: Vec<Option<bool>> = filters
                .iter()
                .map(|filter| oracle_filter(filter, event))
                .collect();
            if truths.contains(&Some(false)) {
                Some(false)
            } else if truths.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        Filter::FullText { query, fields } => Some(oracle_fulltext(query, fields, event)),
        Filter::Intervals { column, intervals } if column == "__time" => Some(
            intervals
                .iter()
                .any(|interval| interval.contains(event.time)),
        ),
        other => unreachable!("the tests use no {other:?}"),
    }
}

pub(super) fn oracle(plan: &QueryPlan, events: &[Event]) -> Vec<ResultRow> {
    let aggregate = &plan.aggregate;
    let all_start = plan.intervals.iter().map(Interval::start).min().unwrap();
    let mut groups: BTreeMap<(Millis, Vec<OracleKey>), Vec<&Event>> = BTreeMap::new();
    if aggregate.zero_fill && aggregate.group_by.is_empty() {
        if aggregate.granularity == Granularity::All {
            groups.insert((all_start, Vec::new()), Vec::new());
        }
        for interval in &plan.intervals {
            if aggregate.granularity != Granularity::All {
                for bucket in oracle_buckets(&aggregate.granularity, *interval) {
                    groups.entry((bucket, Vec::new())).or_default();
                }
            }
        }
    }
    for event in events {
        let passes = plan
            .filter
            .as_ref()
            .is_none_or(|filter| oracle_filter(filter, event) == Some(true));
        if !passes
            || !plan
                .intervals
                .iter()
                .any(|interval| interval.contains(event.time))
        {
            continue;
        }
        let bucket = if aggregate.granularity == Granularity::All {
            all_start
        } else {
            oracle_truncate(&aggregate.granularity, event.time)
        };
        let mut combinations: Vec<Vec<OracleKey>> = vec![Vec::new()];
        for key in &aggregate.group_by {
            combinations = combinations
                .into_iter()
                .flat_map(|prefix| {
                    dimension_values(event, &key.column)
                        .into_iter()
                        .map(move |value| {
                            let mut keys = prefix.clone();
                            keys.push(value);
                            keys
                        })
                })
                .collect();
        }
        for keys in combinations {
            groups.entry((bucket, keys)).or_default().push(event);
        }
    }
    let rows = groups
        .into_iter()
        .map(|((timestamp, keys), events)| {
            let mut named = BTreeMap::new();
            let mut values = Vec::new();
            for aggregation in &aggregate.aggregations {
                let value = oracle_aggregate(&aggregation.function, &events);
                named.insert(aggregation.name.clone(), value.clone());
                values.push(value);
            }
            for post in &aggregate.post_aggregations {
                let value = oracle_post(&post.expression, &named);
                named.insert(post.name.clone(), value.clone());
                values.push(value);
            }
            ResultRow {
                timestamp,
                keys: keys
                    .into_iter()
                    .map(|key| match key {
                        OracleKey::Null => KeyValue::Null,
                        OracleKey::Long(value) => KeyValue::Long(value),
                        OracleKey::String(value) => KeyValue::String(value),
                    })
                    .collect(),
                values,
            }
        })
        .collect::<Vec<_>>();
    match &aggregate.having {
        Some(having) => rows
            .into_iter()
            .filter(|row| oracle_having(having, aggregate, row))
            .collect(),
        None => rows,
    }
}

/// A key's text, as having's dimension selector compares it.
fn oracle_key_text(key: &KeyValue) -> Option<String> {
    match key {
        KeyValue::Null => None,
        KeyValue::Long(value) => Some(value.to_string()),
        KeyValue::Double(value) => Some(value.to_string()),
        KeyValue::String(value) => Some(value.clone()),
    }
}

fn oracle_value(aggregate: &AggregatePlan, row: &ResultRow, name: &str) -> ResultValue {
    aggregate
        .aggregations
        .iter()
        .map(|aggregation| &aggregation.name)
        .chain(aggregate.post_aggregations.iter().map(|post| &post.name))
        .position(|known| known == name)
        .map_or(ResultValue::Null, |position| row.values[position].clone())
}

fn oracle_key(aggregate: &AggregatePlan, row: &ResultRow, name: &str) -> Option<KeyValue> {
    aggregate
        .group_by
        .iter()
        .position(|key| key.output_name == name)
        .map(|position| row.keys[position].clone())
}

fn oracle_number(value: ResultValue) -> Option<f64> {
    value.as_f64()
}

/// The having specs the tests use, two-valued as Druid's are.
fn oracle_having(having: &Having, aggregate: &AggregatePlan, row: &ResultRow) -> bool {
    match having {
        Having::Compare {
            field,
            comparison,
            value,
        } => {
            let Some(found) = oracle_number(oracle_value(aggregate, row, field)) else {
                return false;
            };
            match comparison {
                HavingComparison::GreaterThan => found > *value,
                HavingComparison::LessThan => found < *value,
                HavingComparison::EqualTo => found == *value,
            }
        }
        Having::DimensionEquals { dimension, value } => {
            oracle_key(aggregate, row, dimension).is_some_and(|key| oracle_key_text(&key) == *value)
        }
        Having::Filter(filter) => oracle_row_filter(filter, aggregate, row) == Some(true),
        Having::And(havings) => havings
            .iter()
            .all(|having| oracle_having(having, aggregate, row)),
        Having::Or(havings) => havings
            .iter()
            .any(|having| oracle_having(having, aggregate, row)),
        Having::Not(having) => !oracle_having(having, aggregate, row),
    }
}

/// The filters the tests run over result rows: equality on a key, a
/// numeric range on a value, and their negation, three-valued.
fn oracle_row_filter(filter: &Filter, aggregate: &AggregatePlan, row: &ResultRow) -> Option<bool> {
    match filter {
        Filter::Equals { column, value } => {
            let text = oracle_key(aggregate, row, column)
                .as_ref()
                .and_then(oracle_key_text);
            match (text, value) {
                (None, None) => Some(true),
                (None, Some(_)) => None,
                (Some(_), None) => Some(false),
                (Some(text), Some(wanted)) => Some(text == *wanted),
            }
        }
        Filter::Range {
            column,
            lower,
            upper,
            ordering: RangeOrdering::Numeric,
        } => {
            let found = oracle_number(oracle_value(aggregate, row, column))?;
            let above = lower.as_ref().is_none_or(|bound| {
                let limit: f64 = bound.value.parse().unwrap();
                if bound.strict {
                    found > limit
                } else {
                    found >= limit
                }
            });
            let below = upper.as_ref().is_none_or(|bound| {
                let limit: f64 = bound.value.parse().unwrap();
                if bound.strict {
                    found < limit
                } else {
                    found <= limit
                }
            });
            Some(above && below)
        }
        Filter::Not(filter) => oracle_row_filter(filter, aggregate, row).map(|passes| !passes),
        other => unreachable!("the tests run no {other:?} over result rows"),
    }
}

fn close(actual: f64, expected: f64) -> bool {
    actual == expected
        || (actual.is_nan() && expected.is_nan())
        || (actual - expected).abs() <= 1e-9 * actual.abs().max(expected.abs()).max(1.0)
}

pub(super) fn rows_match(actual: &[ResultRow], expected: &[ResultRow]) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{} rows, expected {}:\n{actual:#?}\nexpected:\n{expected:#?}",
            actual.len(),
            expected.len()
        ));
    }
    for (actual, expected) in actual.iter().zip(expected) {
        let values_match = actual.values.len() == expected.values.len()
            && actual
                .values
                .iter()
                .zip(&expected.values)
                .all(|pair| match pair {
                    (ResultValue::Double(a), ResultValue::Double(b)) => close(*a, *b),
                    (a, b) => a == b,
                });
        if actual.timestamp != expected.timestamp || actual.keys != expected.keys || !values_match {
            return Err(format!("row {actual:?}, expected {expected:?}"));
        }
    }
    Ok(())
}

pub(super) fn plan(
    granularity: Granularity,
    intervals: Vec<Interval>,
    group_by: &[&str],
    aggregations: Vec<AggregateFunction>,
) -> QueryPlan {
    QueryPlan {
        datasource: "web".into(),
        intervals,
        filter: None,
        aggregate: AggregatePlan {
            granularity,
            group_by: group_by
                .iter()
                .map(|column| GroupKey {
                    column: (*column).to_owned(),
                    output_name: (*column).to_owned(),
                })
                .collect(),
            aggregations: aggregations
                .into_iter()
                .enumerate()
                .map(|(i, function)| Aggregation {
                    name: format!("a{i}"),
                    function,
                })
                .collect(),
            post_aggregations: Vec::new(),
            zero_fill: false,
            having: None,
            grand_total: false,
        },
    }
}

pub(super) fn sum(column: &str, number: NumberType) -> AggregateFunction {
    AggregateFunction::Sum {
        column: column.into(),
        number,
    }
}

pub(super) fn min(column: &str, number: NumberType) -> AggregateFunction {
    AggregateFunction::Min {
        column: column.into(),
        number,
    }
}

pub(super) fn max(column: &str, number: NumberType) -> AggregateFunction {
    AggregateFunction::Max {
        column: column.into(),
        number,
    }
}

pub(super) fn interval(start: Millis, end: Millis) -> Interval {
    Interval::new(start, end).unwrap()
}

pub(super) fn hours(from: i64, to: i64) -> Vec<Interval> {
    vec![interval(
        T0 + from * MILLIS_PER_HOUR,
        T0 + to * MILLIS_PER_HOUR,
    )]
}

pub(super) fn plan_keys(columns: &[&str]) -> Vec<GroupKey> {
    columns
        .iter()
        .map(|column| GroupKey {
            column: (*column).to_owned(),
            output_name: (*column).to_owned(),
        })
        .collect()
}

pub(super) fn events_only(table: &MemTable) -> [TableSet<'_>; 1] {
    [TableSet {
        events: Some(table),
        rollup: None,
    }]
}

pub(super) fn values_of(rows: &[ResultRow]) -> Vec<Vec<ResultValue>> {
    rows.iter().map(|row| row.values.clone()).collect()
}

// ---- The full-text oracle: every message tokenized and matched apart. ----

/// The default analyzer as the oracle sees it: lowercase, split on every
/// character that is not alphanumeric.
fn oracle_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|character: char| !character.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The text fields of an event, by name.
fn oracle_text_fields(event: &Event) -> Vec<(&'static str, Option<&str>)> {
    vec![("message", event.message.as_deref())]
}

/// Whether `event` matches a Lucene `query` over `fields` (none: every text
/// field): terms, "phrases", `prefix*`, `field:` restrictions, AND / OR /
/// NOT (and `+`/`-`), parentheses, clauses OR'ed by default, as Lucene's
/// classic parser combines them.
pub(super) fn oracle_fulltext(query: &str, fields: &[String], event: &Event) -> bool {
    let tokens = lex(query);
    let mut position = 0;
    let expression = parse_clauses(&tokens, &mut position);
    assert_eq!(
        position,
        tokens.len(),
        "the oracle could not parse {query:?}"
    );
    let searched: Vec<(&str, Vec<String>)> = oracle_text_fields(event)
        .into_iter()
        .filter(|(name, _)| fields.is_empty() || fields.iter().any(|field| field == name))
        .map(|(name, value)| (name, value.map(oracle_tokens).unwrap_or_default()))
        .collect();
    expression.matches(&searched)
}

#[derive(Debug, Clone, PartialEq)]
enum Lexeme {
    Word(String),
    Phrase(String),
    Open,
    Close,
    And,
    Or,
    Not,
    Must,
    MustNot,
}

fn lex(query: &str) -> Vec<Lexeme> {
    let mut lexemes = Vec::new();
    let mut characters = query.chars().peekable();
    while let Some(&character) = characters.peek() {
        match character {
            ' ' => {
                characters.next();
            }
            '(' | ')' | '+' | '-' => {
                characters.next();
                lexemes.push(match character {
                    '(' => Lexeme::Open,
                    ')' => Lexeme::Close,
                    '+' => Lexeme::Must,
                    _ => Lexeme::MustNot,
                });
            }
            '"' => {
                characters.next();
                let phrase: String = characters.by_ref().take_while(|c| *c != '"').collect();
                lexemes.push(Lexeme::Phrase(phrase));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = characters.peek() {
                    if c == ' ' || c == '(' || c == ')' {
                        break;
                    }
                    word.push(c);
                    characters.next();
                    if c == ':' && characters.peek() == Some(&'"') {
                        characters.next();
                        word.push('"');
                        word.extend(characters.by_ref().take_while(|c| *c != '"'));
                        break;
                    }
                }
                lexemes.push(match word.as_str() {
                    "AND" => Lexeme::And,
                    "OR" => Lexeme::Or,
                    "NOT" => Lexeme::Not,
                    _ => Lexeme::Word(word),
                });
            }
        }
    }
    lexemes
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Occur {
    Must,
    Should,
    MustNot,
}

/// A parsed query.
#[derive(Debug)]
enum TextExpression {
    /// Consecutive tokens in one field (one token: a term); `prefix`: the
    /// last token is a prefix.
    Phrase {
        field: Option<String>,
        tokens: Vec<String>,
        prefix: bool,
    },
    Boolean(Vec<(Occur, TextExpression)>),
}

impl TextExpression {
    fn matches(&self, fields: &[(&str, Vec<String>)]) -> bool {
        match self {
            TextExpression::Phrase {
                field,
                tokens,
                prefix,
            } => fields
                .iter()
                .filter(|(name, _)| field.as_deref().is_none_or(|field| field == *name))
                .any(|(_, words)| {
                    !tokens.is_empty()
                        && words.windows(tokens.len()).any(|window| {
                            window
                                .iter()
                                .zip(tokens)
                                .enumerate()
                                .all(|(i, (word, token))| {
                                    if *prefix && i + 1 == tokens.len() {
                                        word.starts_with(token.as_str())
                                    } else {
                                        word == token
                                    }
                                })
                        })
                }),
            TextExpression::Boolean(clauses) => {
                let has_positive = clauses.iter().any(|(occur, _)| *occur != Occur::MustNot);
                let has_must = clauses.iter().any(|(occur, _)| *occur == Occur::Must);
                has_positive
                    && clauses.iter().all(|(occur, clause)| match occur {
                        Occur::Must => clause.matches(fields),
                        Occur::MustNot => !clause.matches(fields),
                        Occur::Should => true,
                    })
                    && (has_must
                        || clauses.iter().any(|(occur, clause)| {
                            *occur == Occur::Should && clause.matches(fields)
                        }))
            }
        }
    }
}

/// Clauses until a `)` or the end, combined as Lucene's classic parser
/// does: `a AND b` makes both required, `NOT a` / `-a` prohibits `a`,
/// `+a` requires it, anything else is optional.
fn parse_clauses(lexemes: &[Lexeme], position: &mut usize) -> TextExpression {
    let mut clauses: Vec<(Occur, TextExpression)> = Vec::new();
    let mut conjunction_and = false;
    while let Some(lexeme) = lexemes.get(*position) {
        match lexeme {
            Lexeme::Close => break,
            Lexeme::And => {
                conjunction_and = true;
                *position += 1;
                if let Some((occur, _)) = clauses.last_mut()
                    && *occur == Occur::Should
                {
                    *occur = Occur::Must;
                }
                continue;
            }
            Lexeme::Or => {
                *position += 1;
                continue;
            }
            _ => {}
        }
        let mut occur = if conjunction_and {
            Occur::Must
        } else {
            Occur::Should
        };
        conjunction_and = false;
        match lexemes.get(*position) {
            Some(Lexeme::Not | Lexeme::MustNot) => {
                occur = Occur::MustNot;
                *position += 1;
            }
            Some(Lexeme::Must) => {
                occur = Occur::Must;
                *position += 1;
            }
            _ => {}
        }
        let clause = match lexemes.get(*position) {
            Some(Lexeme::Open) => {
                *position += 1;
                let inner = parse_clauses(lexemes, position);
                assert_eq!(lexemes.get(*position), Some(&Lexeme::Close));
                *position += 1;
                inner
            }
            Some(Lexeme::Phrase(text)) => {
                *position += 1;
                phrase(None, text)
            }
            Some(Lexeme::Word(word)) => {
                *position += 1;
                match word.split_once(':') {
                    Some((field, value)) => phrase(Some(field.to_owned()), value.trim_matches('"')),
                    None => phrase(None, word),
                }
            }
            other => panic!("the oracle cannot read {other:?}"),
        };
        clauses.push((occur, clause));
    }
    TextExpression::Boolean(clauses)
}

fn phrase(field: Option<String>, text: &str) -> TextExpression {
    let prefix = text.ends_with('*');
    TextExpression::Phrase {
        field,
        tokens: oracle_tokens(text.trim_end_matches('*')),
        prefix,
    }
}

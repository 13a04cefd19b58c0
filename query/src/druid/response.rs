//! The executor's rows in Druid's response shapes.
//!
//! - `timeseries`: `[{"timestamp": ..., "result": {name: value, ...}}]`, one
//!   per time bucket, newest first when `descending`;
//! - `topN`: `[{"timestamp": ..., "result": [{dimension: value, name: value, ...}]}]`,
//!   one per time bucket, each ranked by the topN metric and cut at `threshold`;
//! - `groupBy`: `[{"version": "v1", "timestamp": ..., "event": {...}}]`, ordered by
//!   `limitSpec.columns` (then by time and keys) and cut by its offset and limit
//!   (the rows `having` rejects were dropped by the executor, before this).
//! - `segmentMetadata`: `[{"id": ..., "columns": {...}, "numRows": ...}]`
//!   ([`render_segment_metadata`]);
//! - `scan`: `[{"segmentId": ..., "columns": [...], "events": [...]}]`, one batch
//!   holding every returned row ([`render_scan`]).
//! - `search`: `[{"timestamp": ..., "result": [{"dimension", "value", "count"}]}]`,
//!   one per time bucket with a hit ([`render_search`]).
//!
//! Timestamps are ISO-8601 UTC with milliseconds, as Druid writes them;
//! the buckets of a period granularity with a time zone in that zone, with
//! its offset (`2013-08-30T00:00:00.000-07:00`), as Druid writes those.
//! A timeseries `grandTotal` row, the executor's last, has a null timestamp.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};
use strata_storage::granularity::Granularity;
use strata_storage::time::{Millis, format_millis, format_millis_in};

use super::{DimensionOrder, DruidQuery, OrderBy, QueryKind, TimeBound, TopNMetric};
use crate::plan::{KeyValue, ResultRow, ResultValue};

/// Druid's answer to `query` from the executor's `rows`.
pub fn render(query: &DruidQuery, mut rows: Vec<ResultRow>) -> Value {
    let aggregate = &query.plan.aggregate;
    let value_names: Vec<&str> = aggregate
        .aggregations
        .iter()
        .map(|a| a.name.as_str())
        .chain(aggregate.post_aggregations.iter().map(|p| p.name.as_str()))
        .collect();
    let key_names: Vec<&str> = aggregate
        .group_by
        .iter()
        .map(|key| key.output_name.as_str())
        .collect();
    let object = |row: &ResultRow| -> Map<String, Value> {
        key_names
            .iter()
            .zip(&row.keys)
            .map(|(name, key)| ((*name).to_owned(), key_json(key)))
            .chain(
                value_names
                    .iter()
                    .zip(&row.values)
                    .map(|(name, value)| ((*name).to_owned(), value_json(value))),
            )
            .collect()
    };
    let timestamp = |time: Millis| bucket_time(&aggregate.granularity, time);
    match &query.kind {
        QueryKind::Timeseries { descending } => {
            let total = if aggregate.grand_total {
                rows.pop()
            } else {
                None
            };
            if *descending {
                rows.reverse();
            }
            let buckets = rows
                .iter()
                .map(|row| json!({"timestamp": timestamp(row.timestamp), "result": object(row)}));
            let total = total.map(|row| json!({"timestamp": null, "result": object(&row)}));
            Value::Array(buckets.chain(total).collect())
        }
        QueryKind::TopN { threshold, metric } => {
            let mut buckets: Vec<(i64, Vec<ResultRow>)> = Vec::new();
            for row in rows {
                match buckets.last_mut() {
                    Some((time, bucket)) if *time == row.timestamp => bucket.push(row),
                    _ => buckets.push((row.timestamp, vec![row])),
                }
            }
            Value::Array(
                buckets
                    .into_iter()
                    .map(|(time, mut bucket)| {
                        bucket.sort_by(|a, b| topn_order(metric, &value_names, a, b));
                        bucket.truncate(*threshold);
                        let result: Vec<Value> = bucket
                            .iter()
                            .map(|row| Value::Object(object(row)))
                            .collect();
                        json!({"timestamp": timestamp(time), "result": result})
                    })
                    .collect(),
            )
        }
        QueryKind::GroupBy {
            limit,
            offset,
            order_by,
            sort_by_dims_first,
        } => {
            // Druid: time first, then the limitSpec columns, or those first
            // and time second with sortByDimsFirst (with no columns, then the
            // dimensions). The sort is stable: rows equal in all of that keep
            // the executor's order, by time and keys.
            let by_time = |a: &ResultRow, b: &ResultRow| a.timestamp.cmp(&b.timestamp);
            let by_columns = |a: &ResultRow, b: &ResultRow| {
                if order_by.is_empty() && *sort_by_dims_first {
                    return a
                        .keys
                        .iter()
                        .zip(&b.keys)
                        .map(|(x, y)| match (x, y) {
                            (KeyValue::Long(x), KeyValue::Long(y)) => x.cmp(y),
                            (KeyValue::Double(x), KeyValue::Double(y)) => x.total_cmp(y),
                            _ => compare_dimension_values(DimensionOrder::Lexicographic, x, y),
                        })
                        .find(|ordering| ordering.is_ne())
                        .unwrap_or(Ordering::Equal);
                }
                order_by
                    .iter()
                    .map(|order| groupby_order(order, &key_names, &value_names, a, b))
                    .find(|ordering| ordering.is_ne())
                    .unwrap_or(Ordering::Equal)
            };
            if *sort_by_dims_first {
                rows.sort_by(|a, b| by_columns(a, b).then_with(|| by_time(a, b)));
            } else if !order_by.is_empty() {
                rows.sort_by(|a, b| by_time(a, b).then_with(|| by_columns(a, b)));
            }
            let limit = limit.unwrap_or(usize::MAX);
            Value::Array(
                rows.iter()
                    .skip(*offset)
                    .take(limit)
                    .map(|row| {
                        json!({"version": "v1", "timestamp": timestamp(row.timestamp), "event": object(row)})
                    })
                    .collect(),
            )
        }
    }
}

/// Druid's `timeBoundary` answer from the earliest and latest event times
/// (`None`: no events); an empty list when there are none.
pub fn render_time_boundary(bound: TimeBound, times: Option<(i64, i64)>) -> Value {
    let Some((min, max)) = times else {
        return json!([]);
    };
    let (timestamp, result) = match bound {
        TimeBound::Both => (
            min,
            json!({"minTime": format_millis(min), "maxTime": format_millis(max)}),
        ),
        TimeBound::MinTime => (min, json!({"minTime": format_millis(min)})),
        TimeBound::MaxTime => (max, json!({"maxTime": format_millis(max)})),
    };
    json!([{"timestamp": format_millis(timestamp), "result": result}])
}

/// Druid's `dataSourceMetadata` answer from the latest event time.
pub fn render_datasource_metadata(max_time: Option<i64>) -> Value {
    match max_time {
        Some(max) => json!([{
            "timestamp": format_millis(max),
            "result": {"maxIngestedEventTime": format_millis(max)}
        }]),
        None => json!([]),
    }
}

/// `segmentMetadata`: one object per analysis, in Druid's shape (see
/// [`crate::segment_metadata`] for which fields are `null` and why).
pub fn render_segment_metadata(analyses: &[crate::segment_metadata::SegmentAnalysis]) -> Value {
    Value::Array(
        analyses
            .iter()
            .map(|analysis| {
                let columns: Map<String, Value> = analysis
                    .columns
                    .iter()
                    .map(|(name, column)| {
                        let object = json!({
                            "typeSignature": column.type_name,
                            "type": column.type_name,
                            "hasMultipleValues": column.has_multiple_values,
                            "hasNulls": column.has_nulls,
                            "size": column.size,
                            "cardinality": column.cardinality,
                            "minValue": null,
                            "maxValue": null,
                            "errorMessage": column.error_message,
                        });
                        (name.clone(), object)
                    })
                    .collect();
                json!({
                    "id": analysis.id,
                    "intervals": analysis
                        .intervals
                        .as_ref()
                        .map(|intervals| intervals.iter().map(ToString::to_string).collect::<Vec<_>>()),
                    "columns": columns,
                    "size": analysis.size,
                    "numRows": analysis.num_rows,
                    "aggregators": analysis.aggregators,
                    "timestampSpec": analysis.timestamp_spec,
                    "queryGranularity": analysis
                        .query_granularity
                        .as_ref()
                        .and_then(|granularity| serde_json::to_value(granularity).ok()),
                    "rollup": analysis.rollup,
                })
            })
            .collect(),
    )
}

fn key_json(key: &KeyValue) -> Value {
    match key {
        KeyValue::Null => Value::Null,
        KeyValue::Long(value) => json!(value),
        KeyValue::Double(value) => number_json(*value),
        KeyValue::String(value) => json!(value),
    }
}

/// A result value as Druid writes it: numbers and strings as themselves,
/// quantiles and bounds as an array of numbers, a sketch left unfinalized
/// (a `fieldAccess` post-aggregation of one) as its bytes in base64.
fn value_json(value: &ResultValue) -> Value {
    match value {
        ResultValue::Null => Value::Null,
        ResultValue::Long(value) => json!(value),
        ResultValue::Double(value) => number_json(*value),
        ResultValue::String(value) => json!(value),
        ResultValue::Doubles(values) => {
            Value::Array(values.iter().map(|value| number_json(*value)).collect())
        }
        ResultValue::Sketch(sketch) => Value::String(base64(&sketch.to_bytes())),
    }
}

/// A double as JSON; NaN and infinities, which JSON cannot hold, as null.
fn number_json(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// Larger first; nulls last.
fn descending_numbers(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn topn_order(metric: &TopNMetric, names: &[&str], a: &ResultRow, b: &ResultRow) -> Ordering {
    match metric {
        TopNMetric::Numeric(name) => {
            let position = names.iter().position(|n| n == name);
            let value = |row: &ResultRow| {
                position
                    .and_then(|p| row.values.get(p))
                    .and_then(ResultValue::as_f64)
            };
            descending_numbers(value(a), value(b))
        }
        TopNMetric::Dimension => a
            .keys
            .first()
            .map(KeyValue::text)
            .cmp(&b.keys.first().map(KeyValue::text)),
        TopNMetric::Inverted(inner) => topn_order(inner, names, a, b).reverse(),
    }
}

fn groupby_order(
    order: &OrderBy,
    key_names: &[&str],
    value_names: &[&str],
    a: &ResultRow,
    b: &ResultRow,
) -> Ordering {
    let ascending = if let Some(position) = key_names.iter().position(|n| *n == order.column) {
        compare_dimension_values(order.order, &a.keys[position], &b.keys[position])
    } else if let Some(position) = value_names.iter().position(|n| *n == order.column) {
        let value = |row: &ResultRow| row.values.get(position).and_then(ResultValue::as_f64);
        descending_numbers(value(b), value(a))
    } else {
        Ordering::Equal
    };
    if order.descending {
        ascending.reverse()
    } else {
        ascending
    }
}

/// Two values of a dimension in ascending `order`, null first (for numeric,
/// text that is not a number comes after every number).
fn compare_dimension_values(order: DimensionOrder, x: &KeyValue, y: &KeyValue) -> Ordering {
    let (x, y) = (x.text(), y.text());
    match (order, x.as_deref(), y.as_deref()) {
        (DimensionOrder::Numeric, x, y) => {
            let number = |text: Option<&str>| text.and_then(|text| text.parse::<f64>().ok());
            match (x, y) {
                (Some(_), Some(_)) => descending_numbers(number(y), number(x)),
                _ => x.cmp(&y),
            }
        }
        (_, None, None) => Ordering::Equal,
        (_, None, Some(_)) => Ordering::Less,
        (_, Some(_), None) => Ordering::Greater,
        (DimensionOrder::Lexicographic, Some(x), Some(y)) => x.cmp(y),
        (DimensionOrder::Alphanumeric, Some(x), Some(y)) => crate::search_query::alphanumeric(x, y),
        (DimensionOrder::Strlen, Some(x), Some(y)) => x
            .chars()
            .count()
            .cmp(&y.chars().count())
            .then_with(|| x.cmp(y)),
    }
}

/// How Druid writes a bucket's start: in the time zone of a period
/// granularity (UTC's reads `...Z` as always), else in UTC.
fn bucket_time(granularity: &Granularity, time: Millis) -> String {
    match granularity {
        Granularity::Period(period) => format_millis_in(time, period.time_zone()),
        _ => format_millis(time),
    }
}

/// Druid's `scan` answer: one batch `{"segmentId", "columns", "events"}`
/// holding every returned row, its `segmentId` the datasource name (Druid
/// answers one batch per segment; clients concatenate the batches' events,
/// so one batch reads the same). No rows: an empty list, as Druid answers.
/// `list` writes each row as an object, `compactedList` as an array in
/// `columns` order; a complex value (a sketch) is its bytes in base64, as
/// Druid writes a serialized sketch.
pub fn render_scan(query: &super::ScanQuery, result: &crate::scan_query::ScanResult) -> Value {
    if result.rows.is_empty() {
        return json!([]);
    }
    let events: Vec<Value> = result
        .rows
        .iter()
        .map(|row| {
            let values = row.values.iter().map(scan_value_json);
            match query.format {
                super::ScanResultFormat::List => {
                    Value::Object(result.columns.iter().cloned().zip(values).collect())
                }
                super::ScanResultFormat::CompactedList => Value::Array(values.collect()),
            }
        })
        .collect();
    json!([{
        "segmentId": query.plan.datasource,
        "columns": result.columns,
        "events": events,
    }])
}

pub(crate) fn scan_value_json(value: &crate::scan_query::ScanValue) -> Value {
    use crate::scan_query::ScanValue;
    match value {
        ScanValue::Null => Value::Null,
        ScanValue::Long(value) => json!(value),
        ScanValue::Double(value) => number_json(*value),
        ScanValue::String(value) => json!(value),
        ScanValue::Strings(values) => json!(values),
        ScanValue::Bytes(bytes) => Value::String(base64(bytes)),
    }
}

/// Standard base64 with padding (RFC 4648), as Druid writes complex values.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let symbol = |index: u32| char::from(ALPHABET[(index & 63) as usize]);
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let triple = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        text.push(symbol(triple >> 18));
        text.push(symbol(triple >> 12));
        text.push(if chunk.len() > 1 {
            symbol(triple >> 6)
        } else {
            '='
        });
        text.push(if chunk.len() > 2 { symbol(triple) } else { '=' });
    }
    text
}

#[cfg(test)]
mod scan_tests {
    use serde_json::json;

    use super::{base64, render_scan};
    use crate::druid::{ScanQuery, ScanResultFormat};
    use crate::plan::{ScanOrder, ScanPlan};
    use crate::scan_query::{ScanResult, ScanRow, ScanValue};

    fn query(format: ScanResultFormat) -> ScanQuery {
        ScanQuery {
            plan: ScanPlan {
                datasource: "web".into(),
                intervals: Vec::new(),
                filter: None,
                columns: None,
                order: ScanOrder::None,
                limit: None,
                offset: 0,
            },
            format,
        }
    }

    #[test]
    fn scan_rows_render_as_one_batch_of_objects_or_arrays() {
        let result = ScanResult {
            columns: vec![
                "__time".into(),
                "tags".into(),
                "bytes".into(),
                "sketch".into(),
            ],
            rows: vec![ScanRow {
                time: 7,
                values: vec![
                    ScanValue::Long(7),
                    ScanValue::Strings(vec!["a".into(), "b".into()]),
                    ScanValue::Double(f64::NAN),
                    ScanValue::Bytes(b"hi!?".to_vec()),
                ],
            }],
            matched: 1,
            complete: true,
        };
        assert_eq!(
            render_scan(&query(ScanResultFormat::List), &result),
            json!([{"segmentId": "web", "columns": ["__time", "tags", "bytes", "sketch"],
                    "events": [{"__time": 7, "tags": ["a", "b"], "bytes": null, "sketch": "aGkhPw=="}]}])
        );
        assert_eq!(
            render_scan(&query(ScanResultFormat::CompactedList), &result),
            json!([{"segmentId": "web", "columns": ["__time", "tags", "bytes", "sketch"],
                    "events": [[7, ["a", "b"], null, "aGkhPw=="]]}])
        );
        let empty = ScanResult {
            columns: vec!["__time".into()],
            rows: Vec::new(),
            matched: 0,
            complete: true,
        };
        assert_eq!(
            render_scan(&query(ScanResultFormat::List), &empty),
            json!([])
        );
    }

    #[test]
    fn base64_pads_like_rfc_4648() {
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(bytes), text);
        }
    }
}

/// Druid's `search` answer: one `{"timestamp", "result"}` per time bucket
/// with a hit, oldest first, each hit `{"dimension", "value", "count"}` in
/// the order the search left them.
pub fn render_search(buckets: &[crate::search_query::SearchBucket]) -> Value {
    Value::Array(
        buckets
            .iter()
            .map(|bucket| {
                let result: Vec<Value> = bucket
                    .hits
                    .iter()
                    .map(|hit| json!({"dimension": hit.dimension, "value": hit.value, "count": hit.count}))
                    .collect();
                json!({"timestamp": format_millis(bucket.timestamp), "result": result})
            })
            .collect(),
    )
}

#[cfg(test)]
mod search_tests {
    use serde_json::json;

    use super::render_search;
    use crate::search_query::{SearchBucket, SearchHit};

    #[test]
    fn search_buckets_render_with_iso_timestamps_and_their_hits() {
        let buckets = [SearchBucket {
            timestamp: 1_704_067_200_000,
            hits: vec![SearchHit {
                dimension: "service".into(),
                value: "api".into(),
                count: 3,
            }],
        }];
        assert_eq!(
            render_search(&buckets),
            json!([{"timestamp": "2024-01-01T00:00:00.000Z",
                    "result": [{"dimension": "service", "value": "api", "count": 3}]}])
        );
        assert_eq!(render_search(&[]), json!([]));
    }
}

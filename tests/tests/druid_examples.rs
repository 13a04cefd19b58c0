//! Druid's documented query examples, sent as the documentation writes them,
//! against the real server.
//!
//! A Druid user's first queries are the ones in Druid's documentation, so
//! each test here copies an example literally (a raw string, with a comment
//! naming the page and section it comes from), creates a datasource holding
//! the dimensions and metrics the example names, ingests a small set of
//! events covering its `intervals` (most examples are dated 2012–2014), and
//! checks the documented shape of the answer — `[{timestamp, result}]` for
//! timeseries and topN, `[{version, timestamp, event}]` for groupBy,
//! `[{segmentId, columns, events}]` for scan — and its values, computed here
//! from the events sent.
//!
//! Where the documentation gives a grammar with placeholders
//! (`<aggregate_metric>`) rather than a runnable query, the placeholders are
//! filled in and everything else is kept as written; where its JSON cannot
//! be parsed (a comment inside it), the comment says what was changed.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use strata_tests::StrataServer;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day number (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Milliseconds since the epoch of midnight UTC on a date.
fn at(year: i64, month: i64, day: i64) -> i64 {
    days_from_civil(year, month, day) * DAY
}

/// A time as Druid writes it: `2012-01-01T00:00:00.000Z`.
fn iso(millis: i64) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(DAY));
    let of_day = millis.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / HOUR,
        of_day % HOUR / MINUTE,
        of_day % MINUTE / SECOND,
        of_day % SECOND
    )
}

fn day_of(millis: i64) -> i64 {
    millis.div_euclid(DAY) * DAY
}

/// POSTs a Druid query and returns its answer; panics unless it is `200`.
fn druid(server: &StrataServer, query: &str) -> Value {
    let (status, answer) = server.post_json("/druid/v2", query);
    assert_eq!(status, 200, "the query\n{query}\nwas answered {answer}");
    answer
}

/// Creates the datasource `spec` describes and ingests `events`, every one
/// of which must be accepted.
fn load(server: &StrataServer, spec: &Value, events: &[Value]) {
    server.create_datasource(&spec.to_string());
    let name = spec["dataSource"]
        .as_str()
        .expect("the spec names its datasource");
    let mut body = Vec::new();
    for event in events {
        body.extend_from_slice(event.to_string().as_bytes());
        body.push(b'\n');
    }
    server.ingest_all(name, body, events.len());
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, found {value}"))
}

fn rows(answer: &Value) -> &Vec<Value> {
    answer
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of results, found {answer}"))
}

/// Druid's `/` post-aggregator: 0 when dividing by 0.
fn druid_divide(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

// ---------------------------------------------------------------------------
// Timeseries (querying/timeseriesquery.md)

/// An event of the timeseries examples' `sample_datasource`.
struct SampleEvent {
    time: i64,
    dimension1: &'static str,
    dimension2: &'static str,
    dimension3: &'static str,
    field1: i64,
    field2: f64,
}

/// Two-hourly events from 2011-12-31 to 2012-01-03: a day before and after
/// the examples' interval, so an interval ignored shows.
fn timeseries_events() -> Vec<SampleEvent> {
    (0..48usize)
        .map(|i| SampleEvent {
            time: at(2011, 12, 31) + i as i64 * 2 * HOUR,
            dimension1: if i % 3 == 0 {
                "other1"
            } else {
                "sample_value1"
            },
            dimension2: ["sample_value2", "y", "z"][(i / 2) % 3],
            dimension3: ["sample_value3", "w"][(i / 3) % 2],
            field1: (i as i64 * 7) % 50,
            // Multiples of 1/4: sums are exact whatever their order.
            field2: (i % 9) as f64 * 0.25 + 0.5,
        })
        .collect()
}

fn sample_timeseries_server(events: &[SampleEvent], segment_granularity: &str) -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["sample_dimension1", "sample_dimension2", "sample_dimension3"]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "sample_fieldName1", "fieldName": "sample_fieldName1"},
            {"type": "doubleSum", "name": "sample_fieldName2", "fieldName": "sample_fieldName2"}
        ],
        "granularitySpec": {"segmentGranularity": segment_granularity, "queryGranularity": "hour"}
    });
    let sent: Vec<Value> = events
        .iter()
        .map(|event| {
            json!({
                "timestamp": iso(event.time),
                "sample_dimension1": event.dimension1,
                "sample_dimension2": event.dimension2,
                "sample_dimension3": event.dimension3,
                "sample_fieldName1": event.field1,
                "sample_fieldName2": event.field2,
            })
        })
        .collect();
    load(&server, &spec, &sent);
    server
}

/// The sums of the two sample fields per UTC day over the events `keep` selects.
fn sums_by_day(
    events: &[SampleEvent],
    keep: impl Fn(&SampleEvent) -> bool,
) -> BTreeMap<i64, (i64, f64)> {
    let mut sums = BTreeMap::new();
    for event in events.iter().filter(|event| keep(event)) {
        let entry: &mut (i64, f64) = sums.entry(day_of(event.time)).or_default();
        entry.0 += event.field1;
        entry.1 += event.field2;
    }
    sums
}

#[test]
fn timeseries_example_answers_one_point_per_day_newest_first() {
    let events = timeseries_events();
    let server = sample_timeseries_server(&events, "day");
    // querying/timeseriesquery.md, the example timeseries query object.
    let answer = druid(
        &server,
        r#"{
  "queryType": "timeseries",
  "dataSource": "sample_datasource",
  "granularity": "day",
  "descending": "true",
  "filter": {
    "type": "and",
    "fields": [
      { "type": "selector", "dimension": "sample_dimension1", "value": "sample_value1" },
      { "type": "or",
        "fields": [
          { "type": "selector", "dimension": "sample_dimension2", "value": "sample_value2" },
          { "type": "selector", "dimension": "sample_dimension3", "value": "sample_value3" }
        ]
      }
    ]
  },
  "aggregations": [
    { "type": "longSum", "name": "sample_name1", "fieldName": "sample_fieldName1" },
    { "type": "doubleSum", "name": "sample_name2", "fieldName": "sample_fieldName2" }
  ],
  "postAggregations": [
    { "type": "arithmetic",
      "name": "sample_divide",
      "fn": "/",
      "fields": [
        { "type": "fieldAccess", "name": "postAgg__sample_name1", "fieldName": "sample_name1" },
        { "type": "fieldAccess", "name": "postAgg__sample_name2", "fieldName": "sample_name2" }
      ]
    }
  ],
  "intervals": [ "2012-01-01T00:00:00.000/2012-01-03T00:00:00.000" ]
}"#,
    );
    let sums = sums_by_day(&events, |event| {
        event.dimension1 == "sample_value1"
            && (event.dimension2 == "sample_value2" || event.dimension3 == "sample_value3")
    });
    // "2 data points, one for each day", newest first as `descending` asks.
    let expected: Vec<Value> = [at(2012, 1, 2), at(2012, 1, 1)]
        .iter()
        .map(|day| {
            let (sum1, sum2) = sums[day];
            json!({"timestamp": iso(*day), "result": {
                "sample_name1": sum1, "sample_name2": sum2,
                "sample_divide": druid_divide(sum1 as f64, sum2)}})
        })
        .collect();
    assert_eq!(answer, Value::Array(expected));
}

#[test]
fn timeseries_grand_total_example_appends_a_total_row_without_timestamp() {
    let events = timeseries_events();
    let server = sample_timeseries_server(&events, "day");
    // querying/timeseriesquery.md, "Grand totals".
    let answer = druid(
        &server,
        r#"{
  "queryType": "timeseries",
  "dataSource": "sample_datasource",
  "intervals": [ "2012-01-01T00:00:00.000/2012-01-03T00:00:00.000" ],
  "granularity": "day",
  "aggregations": [
    { "type": "longSum", "name": "sample_name1", "fieldName": "sample_fieldName1" },
    { "type": "doubleSum", "name": "sample_name2", "fieldName": "sample_fieldName2" }
  ],
  "context": {
    "grandTotal": true
  }
}"#,
    );
    let sums = sums_by_day(&events, |_| true);
    let days = [at(2012, 1, 1), at(2012, 1, 2)];
    let answered = rows(&answer);
    assert_eq!(answered.len(), 3, "two days and the grand total: {answer}");
    let (mut total1, mut total2) = (0, 0.0);
    for (row, day) in answered.iter().zip(days) {
        let (sum1, sum2) = sums[&day];
        total1 += sum1;
        total2 += sum2;
        assert_eq!(
            row,
            &json!({"timestamp": iso(day), "result": {"sample_name1": sum1, "sample_name2": sum2}})
        );
    }
    // "The grand totals row will appear as the last row in the result array,
    // and will have no timestamp."
    let total = &answered[2];
    assert!(
        total.get("timestamp").is_none_or(Value::is_null),
        "the grand total has no timestamp: {total}"
    );
    assert_eq!(
        total["result"],
        json!({"sample_name1": total1, "sample_name2": total2})
    );
}

#[test]
fn timeseries_empty_bucket_examples_fill_with_null_unless_skipped() {
    // Data on 2012-01-01 and 2012-01-03, none on 2012-01-02 — inside one
    // month-long segment, so the empty day is an interior bucket.
    let events: Vec<SampleEvent> = (0..10i64)
        .map(|i| SampleEvent {
            time: if i < 6 {
                at(2012, 1, 1) + 3 * HOUR * i
            } else {
                at(2012, 1, 3) + 5 * HOUR * (i - 6)
            },
            dimension1: "a",
            dimension2: "b",
            dimension3: "c",
            field1: i * 11 + 1,
            field2: 0.5,
        })
        .collect();
    let server = sample_timeseries_server(&events, "month");
    let sum_on = |day: i64| -> i64 {
        events
            .iter()
            .filter(|event| day_of(event.time) == day)
            .map(|event| event.field1)
            .sum()
    };
    let (first, third) = (sum_on(at(2012, 1, 1)), sum_on(at(2012, 1, 3)));
    // querying/timeseriesquery.md, "Empty bucket values": the page describes
    // this query ("a day granularity timeseries query for the interval
    // 2012-01-01/2012-01-04 using the SUM aggregator") and writes it out with
    // the skipEmptyBuckets context below; this is that query without it.
    let filled = druid(
        &server,
        r#"{
  "queryType": "timeseries",
  "dataSource": "sample_datasource",
  "granularity": "day",
  "aggregations": [
    { "type": "longSum", "name": "sample_name1", "fieldName": "sample_fieldName1" }
  ],
  "intervals": [ "2012-01-01T00:00:00.000/2012-01-04T00:00:00.000" ]
}"#,
    );
    assert_eq!(
        filled,
        json!([
            {"timestamp": "2012-01-01T00:00:00.000Z", "result": {"sample_name1": first}},
            {"timestamp": "2012-01-02T00:00:00.000Z", "result": {"sample_name1": null}},
            {"timestamp": "2012-01-03T00:00:00.000Z", "result": {"sample_name1": third}}
        ])
    );
    // The same section, with "skipEmptyBuckets".
    let skipped = druid(
        &server,
        r#"{
  "queryType": "timeseries",
  "dataSource": "sample_datasource",
  "granularity": "day",
  "aggregations": [
    { "type": "longSum", "name": "sample_name1", "fieldName": "sample_fieldName1" }
  ],
  "intervals": [ "2012-01-01T00:00:00.000/2012-01-04T00:00:00.000" ],
  "context" : {
    "skipEmptyBuckets": "true"
  }
}"#,
    );
    assert_eq!(
        skipped,
        json!([
            {"timestamp": "2012-01-01T00:00:00.000Z", "result": {"sample_name1": first}},
            {"timestamp": "2012-01-03T00:00:00.000Z", "result": {"sample_name1": third}}
        ])
    );
}

// ---------------------------------------------------------------------------
// TopN (querying/topnquery.md)

#[test]
fn topn_example_ranks_the_dimension_by_the_metric() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_data",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["sample_dim", "dim1", "dim2"]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "doubleSum", "name": "some_metric", "fieldName": "some_metric"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}
    });
    // (sample_dim, dim1, dim2, time, some_metric)
    let mut events: Vec<(String, &str, &str, i64, f64)> = Vec::new();
    let start = at(2013, 8, 31);
    // v0..v7 match the filter 1..8 times, inside the interval.
    for i in 0..8i64 {
        for j in 0..=i {
            let time = start + (i * 9 + j) * HOUR;
            events.push((
                format!("v{i}"),
                "some_value",
                "some_other_val",
                time,
                (i * 3 + j) as f64 + 0.5,
            ));
        }
    }
    // Events that would change the ranking if the filter or the interval
    // were ignored.
    for k in 0..20i64 {
        let time = start + k * MINUTE;
        events.push(("v0".into(), "some_value", "nope", time, 100.0));
        events.push(("v1".into(), "other", "some_other_val", time, 100.0));
    }
    for k in 0..15i64 {
        events.push((
            "v2".into(),
            "some_value",
            "some_other_val",
            at(2013, 9, 3) + k * MINUTE,
            1.0,
        ));
        events.push((
            "v2".into(),
            "some_value",
            "some_other_val",
            at(2013, 8, 30) + k * MINUTE,
            1.0,
        ));
    }
    let sent: Vec<Value> = events
        .iter()
        .map(|(sample_dim, dim1, dim2, time, some_metric)| {
            json!({"timestamp": iso(*time), "sample_dim": sample_dim, "dim1": dim1,
                   "dim2": dim2, "some_metric": some_metric})
        })
        .collect();
    load(&server, &spec, &sent);

    // querying/topnquery.md, the topN query object.
    let answer = druid(
        &server,
        r#"{
  "queryType": "topN",
  "dataSource": "sample_data",
  "dimension": "sample_dim",
  "threshold": 5,
  "metric": "count",
  "granularity": "all",
  "filter": {
    "type": "and",
    "fields": [
      {
        "type": "selector",
        "dimension": "dim1",
        "value": "some_value"
      },
      {
        "type": "selector",
        "dimension": "dim2",
        "value": "some_other_val"
      }
    ]
  },
  "aggregations": [
    {
      "type": "longSum",
      "name": "count",
      "fieldName": "count"
    },
    {
      "type": "doubleSum",
      "name": "some_metric",
      "fieldName": "some_metric"
    }
  ],
  "postAggregations": [
    {
      "type": "arithmetic",
      "name": "average",
      "fn": "/",
      "fields": [
        {
          "type": "fieldAccess",
          "name": "some_metric",
          "fieldName": "some_metric"
        },
        {
          "type": "fieldAccess",
          "name": "count",
          "fieldName": "count"
        }
      ]
    }
  ],
  "intervals": [
    "2013-08-31T00:00:00.000/2013-09-03T00:00:00.000"
  ]
}"#,
    );
    let (from, to) = (at(2013, 8, 31), at(2013, 9, 3));
    let mut groups: BTreeMap<&str, (i64, f64)> = BTreeMap::new();
    for (sample_dim, dim1, dim2, time, some_metric) in &events {
        if *dim1 == "some_value" && *dim2 == "some_other_val" && (from..to).contains(time) {
            let entry = groups.entry(sample_dim).or_default();
            entry.0 += 1;
            entry.1 += some_metric;
        }
    }
    let mut ranked: Vec<(&str, (i64, f64))> = groups.into_iter().collect();
    ranked.sort_by_key(|(_, (count, _))| Reverse(*count));
    // The page's sample result names the dimension "dim1" and a metric
    // "some_metrics", which the query does not ask for; Druid names them
    // after the query's dimension and aggregators.
    let expected: Vec<Value> = ranked[..5]
        .iter()
        .map(|(value, (count, some_metric))| {
            json!({"sample_dim": value, "count": count, "some_metric": some_metric,
                   "average": some_metric / *count as f64})
        })
        .collect();
    assert_eq!(
        answer,
        json!([{"timestamp": "2013-08-31T00:00:00.000Z", "result": expected}])
    );
}

/// An order's quantity, tax, discount and extended price sums, and its line
/// item count.
type OrderTotals = (i64, f64, f64, f64, i64);

#[test]
fn topn_exact_aggregates_examples_run_the_two_queries() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "tpch_year",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["l_orderkey"]},
        "metricsSpec": [
            {"type": "longSum", "name": "L_QUANTITY_longSum", "fieldName": "l_quantity"},
            {"type": "doubleSum", "name": "L_TAX_doubleSum", "fieldName": "l_tax"},
            {"type": "doubleSum", "name": "L_DISCOUNT_doubleSum", "fieldName": "l_discount"},
            {"type": "doubleSum", "name": "L_EXTENDEDPRICE_doubleSum", "fieldName": "l_extendedprice"}
        ],
        "granularitySpec": {"segmentGranularity": "year", "queryGranularity": "none"}
    });
    // (l_orderkey, quantity, tax, discount, extended price), one line item
    // per event, each at its own millisecond so rows are events.
    let keys = ["103136", "1648672", "5", "77"];
    let items: Vec<(&str, i64, f64, f64, f64)> = (0..24usize)
        .map(|i| {
            (
                keys[i % 4],
                (i as i64 * 5) % 17 + 1 + (i % 4) as i64 * 3,
                (i % 5) as f64 * 0.25,
                (i % 3) as f64 * 0.5,
                (i * 40 + 100) as f64,
            )
        })
        .collect();
    let sent: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (key, quantity, tax, discount, price))| {
            json!({"timestamp": iso(at(1995, 3, 15) + i as i64 * HOUR), "l_orderkey": key,
                   "l_quantity": quantity, "l_tax": tax, "l_discount": discount,
                   "l_extendedprice": price})
        })
        .collect();
    load(&server, &spec, &sent);
    let mut totals: BTreeMap<&str, OrderTotals> = BTreeMap::new();
    for (key, quantity, tax, discount, price) in &items {
        let entry = totals.entry(key).or_default();
        entry.0 += quantity;
        entry.1 += tax;
        entry.2 += discount;
        entry.3 += price;
        entry.4 += 1;
    }
    let mut by_quantity: Vec<(&str, i64)> = totals.iter().map(|(k, t)| (*k, t.0)).collect();
    by_quantity.sort_by_key(|(_, quantity)| Reverse(*quantity));
    assert!(
        by_quantity[1].1 > by_quantity[2].1,
        "the data ranks a clear top 2"
    );

    // querying/topnquery.md, "Aliasing", "Example First query".
    let first = druid(
        &server,
        r#"{
    "aggregations": [
         {
             "fieldName": "L_QUANTITY_longSum",
             "name": "L_QUANTITY_",
             "type": "longSum"
         }
    ],
    "dataSource": "tpch_year",
    "dimension":"l_orderkey",
    "granularity": "all",
    "intervals": [
        "1900-01-09T00:00:00.000Z/2992-01-10T00:00:00.000Z"
    ],
    "metric": "L_QUANTITY_",
    "queryType": "topN",
    "threshold": 2
}"#,
    );
    let first_rows = rows(&first);
    assert_eq!(first_rows.len(), 1, "{first}");
    assert!(first_rows[0]["timestamp"].is_string(), "{first}");
    let expected: Vec<Value> = by_quantity[..2]
        .iter()
        .map(|(key, quantity)| json!({"l_orderkey": key, "L_QUANTITY_": quantity}))
        .collect();
    assert_eq!(first_rows[0]["result"], Value::Array(expected));

    // The same section, "Example second query".
    let second = druid(
        &server,
        r#"{
    "aggregations": [
         {
             "fieldName": "L_TAX_doubleSum",
             "name": "L_TAX_",
             "type": "doubleSum"
         },
         {
             "fieldName": "L_DISCOUNT_doubleSum",
             "name": "L_DISCOUNT_",
             "type": "doubleSum"
         },
         {
             "fieldName": "L_EXTENDEDPRICE_doubleSum",
             "name": "L_EXTENDEDPRICE_",
             "type": "doubleSum"
         },
         {
             "fieldName": "L_QUANTITY_longSum",
             "name": "L_QUANTITY_",
             "type": "longSum"
         },
         {
             "name": "count",
             "type": "count"
         }
    ],
    "dataSource": "tpch_year",
    "dimension":"l_orderkey",
    "filter": {
        "fields": [
            {
                "dimension": "l_orderkey",
                "type": "selector",
                "value": "103136"
            },
            {
                "dimension": "l_orderkey",
                "type": "selector",
                "value": "1648672"
            }
        ],
        "type": "or"
    },
    "granularity": "all",
    "intervals": [
        "1900-01-09T00:00:00.000Z/2992-01-10T00:00:00.000Z"
    ],
    "metric": "L_QUANTITY_",
    "queryType": "topN",
    "threshold": 2
}"#,
    );
    let mut chosen: Vec<(&str, &OrderTotals)> = totals
        .iter()
        .filter(|(key, _)| ["103136", "1648672"].contains(key))
        .map(|(key, total)| (*key, total))
        .collect();
    chosen.sort_by_key(|(_, total)| Reverse(total.0));
    let expected: Vec<Value> = chosen
        .iter()
        .map(|(key, (quantity, tax, discount, price, count))| {
            json!({"l_orderkey": key, "L_TAX_": tax, "L_DISCOUNT_": discount,
                   "L_EXTENDEDPRICE_": price, "L_QUANTITY_": quantity, "count": count})
        })
        .collect();
    assert_eq!(rows(&second)[0]["result"], Value::Array(expected));
}

// ---------------------------------------------------------------------------
// GroupBy, having and limitSpec (querying/groupbyquery.md, having.md,
// limitspec.md)

/// An event of the groupBy examples' `sample_datasource`.
struct UsageEvent {
    time: i64,
    country: &'static str,
    device: &'static str,
    carrier: &'static str,
    make: &'static str,
    plan: &'static str,
    user_count: i64,
    data_transfer: f64,
}

/// 600 events every 9 minutes from 2011-12-31T12:00 to 2012-01-04.
fn usage_events() -> Vec<UsageEvent> {
    (0..600usize)
        .map(|i| UsageEvent {
            time: at(2011, 12, 31) + 12 * HOUR + i as i64 * 9 * MINUTE,
            country: ["US", "FR", "JP"][i % 3],
            device: if i % 10 == 0 { "tablet" } else { "phone" },
            carrier: if (i * 7) % 5 < 3 { "AT&T" } else { "Verizon" },
            make: ["Apple", "Samsung", "Nokia"][(i / 3) % 3],
            plan: ["9", "10", "100"][(i / 7) % 3],
            user_count: (i as i64 * 13) % 40 + 1,
            data_transfer: ((i * 17) % 23) as f64 * 0.5 + 0.25,
        })
        .collect()
}

fn usage_server(events: &[UsageEvent]) -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["country", "device", "carrier", "make", "plan"]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "user_count", "fieldName": "user_count"},
            {"type": "doubleSum", "name": "data_transfer", "fieldName": "data_transfer"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute"}
    });
    let sent: Vec<Value> = events
        .iter()
        .map(|event| {
            json!({"timestamp": iso(event.time), "country": event.country,
                   "device": event.device, "carrier": event.carrier, "make": event.make,
                   "plan": event.plan, "user_count": event.user_count,
                   "data_transfer": event.data_transfer})
        })
        .collect();
    load(&server, &spec, &sent);
    server
}

/// The events of 2012-01-01 and 2012-01-02, the groupBy examples' interval.
fn in_usage_interval(event: &UsageEvent) -> bool {
    (at(2012, 1, 1)..at(2012, 1, 3)).contains(&event.time)
}

/// A groupBy row of `sample_datasource`: total_usage and data_transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Usage {
    total_usage: i64,
    data_transfer: f64,
}

/// (country, device) → usage over the examples' interval, all time in one
/// bucket.
fn usage_by_country_and_device(events: &[UsageEvent]) -> BTreeMap<(&str, &str), Usage> {
    let mut groups: BTreeMap<(&str, &str), Usage> = BTreeMap::new();
    for event in events.iter().filter(|event| in_usage_interval(event)) {
        let usage = groups.entry((event.country, event.device)).or_default();
        usage.total_usage += event.user_count;
        usage.data_transfer += event.data_transfer;
    }
    groups
}

#[test]
fn groupby_example_answers_versioned_events_ordered_by_time_then_limit_columns() {
    let events = usage_events();
    let server = usage_server(&events);
    // querying/groupbyquery.md, the example groupBy query object.
    let answer = druid(
        &server,
        r#"{
  "queryType": "groupBy",
  "dataSource": "sample_datasource",
  "granularity": "day",
  "dimensions": ["country", "device"],
  "limitSpec": { "type": "default", "limit": 5000, "columns": ["country", "data_transfer"] },
  "filter": {
    "type": "and",
    "fields": [
      { "type": "selector", "dimension": "carrier", "value": "AT&T" },
      { "type": "or",
        "fields": [
          { "type": "selector", "dimension": "make", "value": "Apple" },
          { "type": "selector", "dimension": "make", "value": "Samsung" }
        ]
      }
    ]
  },
  "aggregations": [
    { "type": "longSum", "name": "total_usage", "fieldName": "user_count" },
    { "type": "doubleSum", "name": "data_transfer", "fieldName": "data_transfer" }
  ],
  "postAggregations": [
    { "type": "arithmetic",
      "name": "avg_usage",
      "fn": "/",
      "fields": [
        { "type": "fieldAccess", "fieldName": "data_transfer" },
        { "type": "fieldAccess", "fieldName": "total_usage" }
      ]
    }
  ],
  "intervals": [ "2012-01-01T00:00:00.000/2012-01-03T00:00:00.000" ],
  "having": {
    "type": "greaterThan",
    "aggregation": "total_usage",
    "value": 100
  }
}"#,
    );
    let mut groups: BTreeMap<(i64, &str, &str), Usage> = BTreeMap::new();
    for event in events.iter().filter(|event| {
        in_usage_interval(event)
            && event.carrier == "AT&T"
            && (event.make == "Apple" || event.make == "Samsung")
    }) {
        let usage = groups
            .entry((day_of(event.time), event.country, event.device))
            .or_default();
        usage.total_usage += event.user_count;
        usage.data_transfer += event.data_transfer;
    }
    let before_having = groups.len();
    groups.retain(|_, usage| usage.total_usage > 100);
    assert!(
        !groups.is_empty() && groups.len() < before_having,
        "the having keeps some groups and drops others"
    );
    // Druid orders a groupBy with a granularity other than "all" by time
    // first, then by the limitSpec columns (querying/groupbyquery.md,
    // context `sortByDimsFirst`: "Sort the results first by dimension values
    // and then by timestamp", default false).
    let mut ordered: Vec<(&(i64, &str, &str), &Usage)> = groups.iter().collect();
    ordered.sort_by(|(a, a_usage), (b, b_usage)| {
        a.0.cmp(&b.0).then(a.1.cmp(b.1)).then(
            a_usage
                .data_transfer
                .partial_cmp(&b_usage.data_transfer)
                .unwrap_or(Ordering::Equal),
        )
    });
    let expected: Vec<Value> = ordered
        .iter()
        .map(|((day, country, device), usage)| {
            json!({"version": "v1", "timestamp": iso(*day), "event": {
                "country": country, "device": device,
                "total_usage": usage.total_usage, "data_transfer": usage.data_transfer,
                "avg_usage": usage.data_transfer / usage.total_usage as f64}})
        })
        .collect();
    assert_eq!(answer, Value::Array(expected));
}

/// The groupBy the having and limitSpec examples complete: `sample_datasource`
/// by country and device over the examples' interval.
fn usage_group_by(having_or_limit: &str) -> String {
    format!(
        r#"{{
    "queryType": "groupBy",
    "dataSource": "sample_datasource",
    "granularity": "all",
    "dimensions": ["country", "device"],
    "aggregations": [
        {{ "type": "longSum", "name": "total_usage", "fieldName": "user_count" }},
        {{ "type": "doubleSum", "name": "data_transfer", "fieldName": "data_transfer" }}
    ],
    "intervals": [ "2012-01-01T00:00:00.000/2012-01-03T00:00:00.000" ],
    {having_or_limit}
}}"#
    )
}

/// The (country, device) keys of groupBy rows, in answer order, with the
/// usage each row reports.
fn usage_rows(answer: &Value) -> Vec<((String, String), Usage)> {
    rows(answer)
        .iter()
        .map(|row| {
            let event = &row["event"];
            let key = (
                event["country"].as_str().unwrap_or_default().to_owned(),
                event["device"].as_str().unwrap_or_default().to_owned(),
            );
            let usage = Usage {
                total_usage: event["total_usage"].as_i64().unwrap_or(i64::MIN),
                data_transfer: number(&event["data_transfer"]),
            };
            (key, usage)
        })
        .collect()
}

#[test]
fn having_examples_keep_the_groups_they_describe() {
    let events = usage_events();
    let server = usage_server(&events);
    let groups = usage_by_country_and_device(&events);
    let mut totals: Vec<i64> = groups.values().map(|usage| usage.total_usage).collect();
    totals.sort_unstable();
    let middle = totals[totals.len() / 2];
    let low = totals[1];
    let exact = totals[totals.len() - 2];
    type Keep = Box<dyn Fn(&str, &str, &Usage) -> bool>;
    // querying/having.md: each grammar with its placeholders filled in.
    let cases: Vec<(&str, String, Keep)> = vec![
        (
            "Query filters (a selector filter)",
            r#"{
            "type" : "filter",
            "filter" : {
              "type": "selector",
              "dimension" : "country",
              "value" : "FR"
            }
        }"#
            .into(),
            Box::new(|country: &str, _: &str, _: &Usage| country == "FR"),
        ),
        (
            "Numeric filters, Equal To",
            format!(
                r#"{{
            "type": "equalTo",
            "aggregation": "total_usage",
            "value": {exact}
        }}"#
            ),
            Box::new(move |_: &str, _: &str, usage: &Usage| usage.total_usage == exact),
        ),
        (
            "Numeric filters, Greater Than",
            format!(
                r#"{{
            "type": "greaterThan",
            "aggregation": "total_usage",
            "value": {middle}
        }}"#
            ),
            Box::new(move |_: &str, _: &str, usage: &Usage| usage.total_usage > middle),
        ),
        (
            "Numeric filters, Less Than",
            format!(
                r#"{{
            "type": "lessThan",
            "aggregation": "total_usage",
            "value": {middle}
        }}"#
            ),
            Box::new(move |_: &str, _: &str, usage: &Usage| usage.total_usage < middle),
        ),
        (
            "dimSelector",
            r#"{
            "type": "dimSelector",
            "dimension": "device",
            "value": "tablet"
        }"#
            .into(),
            Box::new(|_: &str, device: &str, _: &Usage| device == "tablet"),
        ),
        (
            "Logical expression filters, AND",
            format!(
                r#"{{
            "type": "and",
            "havingSpecs": [
                {{
                    "type": "greaterThan",
                    "aggregation": "total_usage",
                    "value": {low}
                }},
                {{
                    "type": "lessThan",
                    "aggregation": "total_usage",
                    "value": {middle}
                }}
            ]
        }}"#
            ),
            Box::new(move |_: &str, _: &str, usage: &Usage| {
                usage.total_usage > low && usage.total_usage < middle
            }),
        ),
        (
            "Logical expression filters, OR",
            format!(
                r#"{{
            "type": "or",
            "havingSpecs": [
                {{
                    "type": "greaterThan",
                    "aggregation": "total_usage",
                    "value": {middle}
                }},
                {{
                    "type": "equalTo",
                    "aggregation": "total_usage",
                    "value": {low}
                }}
            ]
        }}"#
            ),
            Box::new(move |_: &str, _: &str, usage: &Usage| {
                usage.total_usage > middle || usage.total_usage == low
            }),
        ),
        (
            "Logical expression filters, NOT",
            format!(
                r#"{{
        "type": "not",
        "havingSpec":
            {{
                "type": "equalTo",
                "aggregation": "total_usage",
                "value": {exact}
            }}
        }}"#
            ),
            Box::new(move |_: &str, _: &str, usage: &Usage| usage.total_usage != exact),
        ),
    ];
    let mut failures = Vec::new();
    for (section, having, keep) in &cases {
        let query = usage_group_by(&format!(r#""having": {having}"#));
        let expected: BTreeMap<(String, String), Usage> = groups
            .iter()
            .filter(|((country, device), usage)| keep(country, device, usage))
            .map(|((country, device), usage)| ((country.to_string(), device.to_string()), *usage))
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < groups.len(),
            "{section}: the data makes the having select"
        );
        let (status, answer) = server.post_json("/druid/v2", &query);
        if status != 200 {
            failures.push(format!("{section}: {status} {answer}"));
            continue;
        }
        let answered: BTreeMap<(String, String), Usage> = usage_rows(&answer).into_iter().collect();
        if answered != expected {
            failures.push(format!(
                "{section}: expected {expected:?}, answered {answer}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // "You can use "filter" HavingSpecs to filter on the timestamp of result
    // rows by applying a filter to the "__time" column."
    let by_day = druid(
        &server,
        r#"{
    "queryType": "groupBy",
    "dataSource": "sample_datasource",
    "granularity": "day",
    "dimensions": ["country"],
    "aggregations": [{ "type": "longSum", "name": "total_usage", "fieldName": "user_count" }],
    "intervals": [ "2012-01-01T00:00:00.000/2012-01-03T00:00:00.000" ],
    "having": {
        "type" : "filter",
        "filter" : {
            "type" : "interval",
            "dimension" : "__time",
            "intervals" : [ "2012-01-02T00:00:00.000Z/2012-01-03T00:00:00.000Z" ]
        }
    }
}"#,
    );
    let mut expected: BTreeMap<&str, i64> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|event| day_of(event.time) == at(2012, 1, 2))
    {
        *expected.entry(event.country).or_default() += event.user_count;
    }
    let answered: BTreeMap<&str, i64> = rows(&by_day)
        .iter()
        .map(|row| {
            assert_eq!(row["timestamp"], "2012-01-02T00:00:00.000Z", "{by_day}");
            (
                row["event"]["country"].as_str().unwrap_or_default(),
                row["event"]["total_usage"].as_i64().unwrap_or(i64::MIN),
            )
        })
        .collect();
    assert_eq!(answered, expected);
}

#[test]
fn limit_spec_examples_order_and_cut_the_groups() {
    let events = usage_events();
    let server = usage_server(&events);
    let groups = usage_by_country_and_device(&events);
    let keys_in = |answer: &Value| -> Vec<(String, String)> {
        usage_rows(answer).into_iter().map(|(key, _)| key).collect()
    };
    let keys_of = |ordered: &[(&(&str, &str), &Usage)]| -> Vec<(String, String)> {
        ordered
            .iter()
            .map(|((country, device), _)| (country.to_string(), device.to_string()))
            .collect()
    };
    let mut by_usage: Vec<(&(&str, &str), &Usage)> = groups.iter().collect();
    by_usage.sort_by_key(|(_, usage)| Reverse(usage.total_usage));
    assert!(
        by_usage
            .windows(2)
            .take(4)
            .all(|w| w[0].1.total_usage > w[1].1.total_usage),
        "the data ranks the first groups without ties"
    );

    // querying/limitspec.md, DefaultLimitSpec with an OrderByColumnSpec map.
    let top = druid(
        &server,
        &usage_group_by(
            r#""limitSpec": {
    "type"    : "default",
    "limit"   : 3,
    "columns" : [{ "dimension" : "total_usage", "direction" : "descending" }]
}"#,
        ),
    );
    assert_eq!(keys_in(&top), keys_of(&by_usage[..3]));

    // The same with "offset" (later versions of the page).
    let offset = druid(
        &server,
        &usage_group_by(
            r#""limitSpec": {
    "type"    : "default",
    "limit"   : 2,
    "offset"  : 1,
    "columns" : [{ "dimension" : "total_usage", "direction" : "descending" }]
}"#,
        ),
    );
    assert_eq!(keys_in(&offset), keys_of(&by_usage[1..3]));

    // OrderByColumnSpecs as JSON strings: ascending, a dimension
    // lexicographically and a metric by its number (the groupBy page's
    // limitSpec, with granularity "all").
    let plain = druid(
        &server,
        &usage_group_by(
            r#""limitSpec": { "type": "default", "limit": 5000, "columns": ["country", "data_transfer"] }"#,
        ),
    );
    let mut by_country: Vec<(&(&str, &str), &Usage)> = groups.iter().collect();
    by_country.sort_by(|a, b| {
        a.0.0.cmp(b.0.0).then(
            a.1.data_transfer
                .partial_cmp(&b.1.data_transfer)
                .unwrap_or(Ordering::Equal),
        )
    });
    assert_eq!(keys_in(&plain), keys_of(&by_country));

    // "dimensionOrder": "strlen", descending, then a plain string column.
    let strlen = druid(
        &server,
        &usage_group_by(
            r#""limitSpec": {
    "type"    : "default",
    "columns" : [
        { "dimension" : "device", "direction" : "descending", "dimensionOrder" : "strlen" },
        "country"
    ]
}"#,
        ),
    );
    let mut by_length: Vec<(&(&str, &str), &Usage)> = groups.iter().collect();
    by_length.sort_by(|a, b| b.0.1.len().cmp(&a.0.1.len()).then(a.0.0.cmp(b.0.0)));
    assert_eq!(keys_in(&strlen), keys_of(&by_length));

    // "numeric", "alphanumeric" and the default lexicographic order of a
    // dimension holding numbers as text.
    for (order_by, expected) in [
        (
            r#"{ "dimension" : "plan", "dimensionOrder" : "numeric" }"#,
            ["9", "10", "100"],
        ),
        (r#""plan""#, ["10", "100", "9"]),
        (
            r#"{ "dimension" : "plan", "direction" : "descending", "dimensionOrder" : "alphanumeric" }"#,
            ["100", "10", "9"],
        ),
    ] {
        let answer = druid(
            &server,
            &format!(
                r#"{{
    "queryType": "groupBy",
    "dataSource": "sample_datasource",
    "granularity": "all",
    "dimensions": ["plan"],
    "aggregations": [{{ "type": "longSum", "name": "total_usage", "fieldName": "user_count" }}],
    "intervals": [ "2012-01-01T00:00:00.000/2012-01-03T00:00:00.000" ],
    "limitSpec": {{ "type": "default", "columns": [{order_by}] }}
}}"#
            ),
        );
        let plans: Vec<&str> = rows(&answer)
            .iter()
            .map(|row| row["event"]["plan"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(plans, expected, "ordered by {order_by}");
    }
}

// ---------------------------------------------------------------------------
// Scan (querying/scan-query.md)

/// The `wikipedia` edits of the scan examples: six on 2013-01-01, one just
/// before and one at the end of the example's interval.
fn wikipedia_edits() -> Vec<Value> {
    (0..8i64)
        .map(|i| {
            let time = match i {
                0 => at(2012, 12, 31) + 23 * HOUR,
                7 => at(2013, 1, 2),
                _ => at(2013, 1, 1) + i * 17 * MINUTE,
            };
            json!({
                "timestamp": iso(time),
                "robot": (i % 2).to_string(),
                "namespace": if i % 3 == 0 { "article" } else { "talk" },
                "anonymous": "0",
                "unpatrolled": (i % 2).to_string(),
                "page": format!("page_{i}"),
                "language": (["sl", "en", "fr"][i as usize % 3]),
                "newpage": ((i + 1) % 2).to_string(),
                "user": (["EmausBot", "MZMcBride"][i as usize % 2]),
                "added": (i * 31 % 80) as f64,
                "delta": (i * 31 % 80 - 20) as f64,
                "variation": (i * 7) as f64 + 0.5,
                "deleted": (i % 3) as f64
            })
        })
        .collect()
}

fn wikipedia_server(edits: &[Value]) -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "wikipedia",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["robot", "namespace", "anonymous", "unpatrolled",
                                          "page", "language", "newpage", "user"]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "doubleSum", "name": "added", "fieldName": "added"},
            {"type": "doubleSum", "name": "delta", "fieldName": "delta"},
            {"type": "doubleSum", "name": "variation", "fieldName": "variation"},
            {"type": "doubleSum", "name": "deleted", "fieldName": "deleted"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": false}
    });
    load(&server, &spec, edits);
    server
}

/// Checks that `event` (column → value) is one of the `edits` sent in the
/// scan examples' interval, and returns its page.
fn check_scanned_edit(edits: &[Value], event: &BTreeMap<String, Value>) -> String {
    let page = event
        .get("page")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a scanned event has its page: {event:?}"));
    let sent = edits
        .iter()
        .find(|edit| edit["page"] == page)
        .unwrap_or_else(|| panic!("{page} was sent"));
    let time = event.get("__time").and_then(Value::as_i64);
    let sent_time = (1..7)
        .map(|i| at(2013, 1, 1) + i * 17 * MINUTE)
        .find(|time| sent["timestamp"] == iso(*time));
    assert!(
        sent_time.is_some() && time == sent_time,
        "{page}: __time {time:?} is the time sent, {}, in milliseconds, inside 2013-01-01/2013-01-02",
        sent["timestamp"]
    );
    for (column, value) in event {
        match column.as_str() {
            "__time" => {}
            "count" => assert_eq!(number(value), 1.0, "{page}: count of one event"),
            "added" | "delta" | "variation" | "deleted" => {
                assert_eq!(number(value), number(&sent[column]), "{page}: {column}")
            }
            _ => assert_eq!(value, &sent[column], "{page}: {column}"),
        }
    }
    page.to_owned()
}

const WIKIPEDIA_COLUMNS: [&str; 14] = [
    "__time",
    "robot",
    "namespace",
    "anonymous",
    "unpatrolled",
    "page",
    "language",
    "newpage",
    "user",
    "count",
    "added",
    "delta",
    "variation",
    "deleted",
];

/// The one batch of a scan answer, checked to hold `segmentId`, `columns`
/// (every column of `wikipedia`) and `events`.
fn scan_batch(answer: &Value) -> (Vec<String>, &Vec<Value>) {
    let batches = rows(answer);
    assert_eq!(batches.len(), 1, "one segment, one batch: {answer}");
    let batch = batches[0]
        .as_object()
        .unwrap_or_else(|| panic!("a batch is an object: {answer}"));
    let keys: BTreeSet<&str> = batch.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["segmentId", "columns", "events"]),
        "{answer}"
    );
    assert!(batch["segmentId"].is_string(), "{answer}");
    let columns: Vec<String> = batch["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("columns is an array: {answer}"))
        .iter()
        .map(|column| column.as_str().unwrap_or_default().to_owned())
        .collect();
    let listed: BTreeSet<&str> = columns.iter().map(String::as_str).collect();
    assert_eq!(
        listed,
        BTreeSet::from(WIKIPEDIA_COLUMNS),
        "\"columns\": [] is every dimension and metric, and __time: {answer}"
    );
    let events = batch["events"]
        .as_array()
        .unwrap_or_else(|| panic!("events is an array: {answer}"));
    (columns, events)
}

#[test]
fn scan_example_lists_three_events_as_objects() {
    let edits = wikipedia_edits();
    let server = wikipedia_server(&edits);
    // querying/scan-query.md, the example Scan query object; results in the
    // "list" format ("Example results").
    let answer = druid(
        &server,
        r#" {
   "queryType": "scan",
   "dataSource": "wikipedia",
   "resultFormat": "list",
   "columns":[],
   "intervals": [
     "2013-01-01/2013-01-02"
   ],
   "batchSize":20480,
   "limit":3
 }"#,
    );
    let (columns, events) = scan_batch(&answer);
    assert_eq!(events.len(), 3, "limit 3: {answer}");
    let mut pages = BTreeSet::new();
    for event in events {
        let event: BTreeMap<String, Value> = event
            .as_object()
            .unwrap_or_else(|| panic!("a list event is an object: {answer}"))
            .iter()
            .map(|(column, value)| (column.clone(), value.clone()))
            .collect();
        let keys: BTreeSet<&String> = event.keys().collect();
        assert_eq!(
            keys,
            columns.iter().collect(),
            "an event holds the columns: {answer}"
        );
        pages.insert(check_scanned_edit(&edits, &event));
    }
    assert_eq!(pages.len(), 3, "three different events: {answer}");
}

#[test]
fn scan_example_in_compacted_list_format_answers_arrays_in_column_order() {
    let edits = wikipedia_edits();
    let server = wikipedia_server(&edits);
    // querying/scan-query.md, the example Scan query object with
    // "resultFormat": "compactedList" ("Example results").
    let answer = druid(
        &server,
        r#" {
   "queryType": "scan",
   "dataSource": "wikipedia",
   "resultFormat": "compactedList",
   "columns":[],
   "intervals": [
     "2013-01-01/2013-01-02"
   ],
   "batchSize":20480,
   "limit":3
 }"#,
    );
    let (columns, events) = scan_batch(&answer);
    assert_eq!(events.len(), 3, "limit 3: {answer}");
    let mut pages = BTreeSet::new();
    for event in events {
        let values = event
            .as_array()
            .unwrap_or_else(|| panic!("a compacted event is an array: {answer}"));
        assert_eq!(values.len(), columns.len(), "{answer}");
        let event: BTreeMap<String, Value> = columns
            .iter()
            .cloned()
            .zip(values.iter().cloned())
            .collect();
        pages.insert(check_scanned_edit(&edits, &event));
    }
    assert_eq!(pages.len(), 3, "three different events: {answer}");
}

// ---------------------------------------------------------------------------
// Search (querying/searchquery.md)

#[test]
fn search_example_answers_matching_values_per_day() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["dim1", "dim2"]},
        "metricsSpec": [{"type": "count", "name": "count"}],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}
    });
    // (day, dim1, dim2): values of the page's sample result, values that
    // contain "ke" in another case, values that do not match, and a match
    // after the interval.
    let events: Vec<(i64, &str, &str)> = vec![
        (at(2013, 1, 1), "Ke$ha", "Ke$haForPresident"),
        (at(2013, 1, 1), "Ke$ha", "nope"),
        (at(2013, 1, 1), "Ke$ha", "kebab"),
        (at(2013, 1, 1), "nothing", "Ke$ha"),
        (at(2013, 1, 1), "nothing", "nope"),
        (
            at(2013, 1, 2),
            "SomethingThatContainsKe",
            "SomethingElseThatContainsKe",
        ),
        (at(2013, 1, 2), "zzz", "SomethingElseThatContainsKe"),
        (at(2013, 1, 3), "Ke$ha", "Ke$ha"),
    ];
    let sent: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, (day, dim1, dim2))| {
            json!({"timestamp": iso(day + i as i64 * MINUTE), "dim1": dim1, "dim2": dim2})
        })
        .collect();
    load(&server, &spec, &sent);
    // querying/searchquery.md, the search query.
    let answer = druid(
        &server,
        r#"{
  "queryType": "search",
  "dataSource": "sample_datasource",
  "granularity": "day",
  "searchDimensions": [
    "dim1",
    "dim2"
  ],
  "query": {
    "type": "insensitive_contains",
    "value": "Ke"
  },
  "sort" : {
    "type": "lexicographic"
  },
  "intervals": [
    "2013-01-01T00:00:00.000/2013-01-03T00:00:00.000"
  ]
}"#,
    );
    let mut hits: BTreeMap<i64, BTreeMap<(&str, &str), u64>> = BTreeMap::new();
    for (day, dim1, dim2) in events.iter().filter(|(day, _, _)| *day < at(2013, 1, 3)) {
        for (dimension, value) in [("dim1", dim1), ("dim2", dim2)] {
            if value.to_lowercase().contains("ke") {
                *hits
                    .entry(*day)
                    .or_default()
                    .entry((value, dimension))
                    .or_default() += 1;
            }
        }
    }
    // Lexicographic: by value (UTF-8 bytes, so "Ke$ha" before "kebab"), then
    // by dimension — the order of the (value, dimension) keys.
    let expected: Vec<Value> = hits
        .iter()
        .map(|(day, values)| {
            let result: Vec<Value> = values
                .iter()
                .map(|((value, dimension), count)| {
                    json!({"dimension": dimension, "value": value, "count": count})
                })
                .collect();
            json!({"timestamp": iso(*day), "result": result})
        })
        .collect();
    assert_eq!(answer, Value::Array(expected));
}

// ---------------------------------------------------------------------------
// TimeBoundary and DatasourceMetadata (querying/timeboundaryquery.md,
// datasourcemetadataquery.md)

/// `sample_datasource` with events from 2013-05-09T18:24:00Z to 18:37:00Z,
/// the times of the pages' sample results; dim1 "b" only from 18:26 to 18:31.
fn boundary_server() -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["dim1"]},
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}
    });
    let start = at(2013, 5, 9) + 18 * HOUR + 24 * MINUTE;
    let sent: Vec<Value> = (0..=13i64)
        .map(|minute| {
            let dim1 = if (2..=7).contains(&minute) { "b" } else { "a" };
            json!({"timestamp": iso(start + minute * MINUTE), "dim1": dim1})
        })
        .collect();
    load(&server, &spec, &sent);
    server
}

#[test]
fn time_boundary_examples_answer_the_earliest_and_latest_times() {
    let server = boundary_server();
    // querying/timeboundaryquery.md: the grammar without its optional lines
    // (their `# optional` comments are not JSON); the answer is the page's
    // sample result.
    let both = druid(
        &server,
        r#"{
    "queryType" : "timeBoundary",
    "dataSource": "sample_datasource"
}"#,
    );
    assert_eq!(
        both,
        json!([ {
  "timestamp" : "2013-05-09T18:24:00.000Z",
  "result" : {
    "minTime" : "2013-05-09T18:24:00.000Z",
    "maxTime" : "2013-05-09T18:37:00.000Z"
  }
} ])
    );
    // "bound": "maxTime" / "minTime" return only that timestamp.
    let latest = druid(
        &server,
        r#"{
    "queryType" : "timeBoundary",
    "dataSource": "sample_datasource",
    "bound"     : "maxTime"
}"#,
    );
    assert_eq!(
        latest,
        json!([{"timestamp": "2013-05-09T18:37:00.000Z", "result": {"maxTime": "2013-05-09T18:37:00.000Z"}}])
    );
    let earliest = druid(
        &server,
        r#"{
    "queryType" : "timeBoundary",
    "dataSource": "sample_datasource",
    "bound"     : "minTime"
}"#,
    );
    assert_eq!(
        earliest,
        json!([{"timestamp": "2013-05-09T18:24:00.000Z", "result": {"minTime": "2013-05-09T18:24:00.000Z"}}])
    );
}

#[test]
fn time_boundary_filter_example_bounds_the_filtered_events() {
    let server = boundary_server();
    // querying/timeboundaryquery.md: the grammar's optional filter,
    // `{ "type": "and", "fields": [<filter>, <filter>, ...] }`, filled in.
    let answer = druid(
        &server,
        r#"{
    "queryType" : "timeBoundary",
    "dataSource": "sample_datasource",
    "filter"    : { "type": "and", "fields": [
        { "type": "selector", "dimension": "dim1", "value": "b" },
        { "type": "not", "field": { "type": "selector", "dimension": "dim1", "value": "zzz" } }
    ] }
}"#,
    );
    assert_eq!(
        answer,
        json!([{"timestamp": "2013-05-09T18:26:00.000Z",
                "result": {"minTime": "2013-05-09T18:26:00.000Z", "maxTime": "2013-05-09T18:31:00.000Z"}}])
    );
}

#[test]
fn datasource_metadata_example_answers_the_latest_ingested_event_time() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["dim1"]},
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}
    });
    // Up to the page's sample maxIngestedEventTime, 2013-05-09T18:24:09.007Z.
    let sent: Vec<Value> = [
        "2013-05-09T18:24:00.000Z",
        "2013-05-09T18:24:09.007Z",
        "2013-05-09T18:24:05.500Z",
    ]
    .iter()
    .map(|time| json!({"timestamp": time, "dim1": "a"}))
    .collect();
    load(&server, &spec, &sent);
    // querying/datasourcemetadataquery.md, the grammar.
    let answer = druid(
        &server,
        r#"{
    "queryType" : "dataSourceMetadata",
    "dataSource": "sample_datasource"
}"#,
    );
    let results = rows(&answer);
    assert_eq!(results.len(), 1, "{answer}");
    assert!(results[0]["timestamp"].is_string(), "{answer}");
    assert_eq!(
        results[0]["result"],
        json!({"maxIngestedEventTime": "2013-05-09T18:24:09.007Z"})
    );
}

// ---------------------------------------------------------------------------
// SegmentMetadata (querying/segmentmetadataquery.md)

#[test]
fn segment_metadata_example_describes_each_segment() {
    // Segment metadata describes published segments: persist quickly.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = StrataServer::start_with(&dir.path().join("data"), &["--persist-period", "200ms"]);
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["dim1", "dim2"]},
        "metricsSpec": [{"type": "longSum", "name": "metric1", "fieldName": "metric1"}],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}
    });
    // dim1 single-valued; dim2 multi-valued and sometimes missing on
    // 2013-05-13, single-valued on 2013-05-14; one event in 2012, outside the
    // example's interval.
    let sent = vec![
        json!({"timestamp": "2013-05-13T01:00:00Z", "dim1": "a", "dim2": ["x", "y"], "metric1": 1}),
        json!({"timestamp": "2013-05-13T02:00:00Z", "dim1": "b", "dim2": "x", "metric1": 2}),
        json!({"timestamp": "2013-05-13T03:00:00Z", "dim1": "c", "metric1": 3}),
        json!({"timestamp": "2013-05-13T04:00:00Z", "dim1": "a", "dim2": "z", "metric1": 4}),
        json!({"timestamp": "2013-05-13T05:00:00Z", "dim1": "b", "dim2": "y", "metric1": 5}),
        json!({"timestamp": "2013-05-14T01:00:00Z", "dim1": "a", "dim2": "x", "metric1": 6}),
        json!({"timestamp": "2013-05-14T02:00:00Z", "dim1": "a", "dim2": "y", "metric1": 7}),
        json!({"timestamp": "2013-05-14T03:00:00Z", "dim1": "d", "dim2": "x", "metric1": 8}),
        json!({"timestamp": "2012-06-01T00:00:00Z", "dim1": "e", "dim2": "x", "metric1": 9}),
    ];
    load(&server, &spec, &sent);
    server.wait_until_persisted("sample_datasource");
    // querying/segmentmetadataquery.md, the example query.
    let answer = druid(
        &server,
        r#"{
  "queryType":"segmentMetadata",
  "dataSource":"sample_datasource",
  "intervals":["2013-01-01/2014-01-01"]
}"#,
    );
    let mut segments: Vec<&Value> = rows(&answer).iter().collect();
    segments.sort_by_key(|segment| segment["intervals"].to_string());
    assert_eq!(segments.len(), 2, "the two segments of 2013: {answer}");
    // (interval, rows, dim1 cardinality, dim2 multi-valued, dim2 has nulls)
    let expected = [
        (
            "2013-05-13T00:00:00.000Z/2013-05-14T00:00:00.000Z",
            5,
            3,
            true,
            true,
        ),
        (
            "2013-05-14T00:00:00.000Z/2013-05-15T00:00:00.000Z",
            3,
            2,
            false,
            false,
        ),
    ];
    for (segment, (interval, num_rows, dim1_cardinality, multi_valued, has_nulls)) in
        segments.iter().zip(expected)
    {
        assert!(segment["id"].is_string(), "{segment}");
        assert_eq!(segment["intervals"], json!([interval]), "{segment}");
        assert_eq!(segment["numRows"], num_rows, "{segment}");
        assert!(segment["size"].is_number(), "{segment}");
        let columns = &segment["columns"];
        let column_names: BTreeSet<&str> = columns
            .as_object()
            .map(|columns| columns.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            column_names,
            BTreeSet::from(["__time", "dim1", "dim2", "metric1"]),
            "{segment}"
        );
        for name in ["__time", "dim1", "dim2", "metric1"] {
            let column = &columns[name];
            for field in [
                "type",
                "hasMultipleValues",
                "hasNulls",
                "size",
                "cardinality",
            ] {
                assert!(column.get(field).is_some(), "{name} has {field}: {segment}");
            }
            assert!(
                column.get("errorMessage").is_none_or(Value::is_null),
                "{segment}"
            );
        }
        assert_eq!(columns["__time"]["type"], "LONG", "{segment}");
        assert_eq!(columns["__time"]["cardinality"], Value::Null, "{segment}");
        assert_eq!(columns["dim1"]["type"], "STRING", "{segment}");
        assert_eq!(
            columns["dim1"]["cardinality"], dim1_cardinality,
            "{segment}"
        );
        assert_eq!(columns["dim1"]["hasMultipleValues"], false, "{segment}");
        assert_eq!(columns["dim1"]["hasNulls"], false, "{segment}");
        assert_eq!(columns["dim2"]["type"], "STRING", "{segment}");
        assert_eq!(
            columns["dim2"]["hasMultipleValues"], multi_valued,
            "{segment}"
        );
        assert_eq!(columns["dim2"]["hasNulls"], has_nulls, "{segment}");
        assert_eq!(columns["metric1"]["type"], "LONG", "{segment}");
        assert_eq!(columns["metric1"]["cardinality"], Value::Null, "{segment}");
    }
}

// ---------------------------------------------------------------------------
// Filters (querying/filters.md), each inside a timeseries

/// An event of the filter examples: every column one of the page's
/// examples names, `None` where the event leaves it out (null).
struct FilterEvent {
    time: i64,
    some_column: Option<&'static str>,
    some_numeric_column: Option<f64>,
    other_column: Option<i64>,
    another_column: Option<&'static str>,
    outlaw: Option<&'static str>,
    age: Option<i64>,
    name: &'static str,
    last_name: Option<&'static str>,
    product: &'static str,
    my_float_column: f64,
    some_multi_value_column: &'static [&'static str],
}

/// 64 daily events from 2014-09-28 to 2014-11-30, around the interval
/// filter's October 1–7 and November 15–16.
fn filter_events() -> Vec<FilterEvent> {
    (0..64usize)
        .map(|i| FilterEvent {
            time: at(2014, 9, 28) + i as i64 * DAY + (i % 24) as i64 * HOUR,
            some_column: [
                Some("hello"),
                Some("a"),
                Some("50.1"),
                Some("500"),
                Some("x50"),
                None,
            ][i % 6],
            some_numeric_column: [Some(1.23), Some(2.5), None, Some(0.0)][i % 4],
            other_column: [Some(1234), Some(7), None][(i / 2) % 3],
            another_column: [None, Some("v")][(i / 2) % 2],
            outlaw: [Some("Good"), Some("Bad"), Some("Ugly"), Some("Other"), None][i % 5],
            age: [
                Some(17),
                Some(18),
                Some(21),
                Some(25),
                Some(31),
                Some(40),
                None,
            ][i % 7],
            name: ["bar", "foo", "goo", "hoo", "hoop", "zed", "fo"][(i / 3) % 7],
            last_name: [
                Some("Doe"),
                Some("Smith"),
                Some("D"),
                Some("d"),
                Some("Dd"),
                None,
            ][(i / 2) % 6],
            product: ["Foo bar", "xfoo", "bar", "FOO", "f_oo"][(i / 4) % 5],
            my_float_column: [10.1, 10.0, 15.5, 20.0, 20.9][(i / 3) % 5],
            some_multi_value_column: [&["a", "b", "c"][..], &["a", "c"][..], &["b"][..], &[][..]]
                [i % 4],
        })
        .collect()
}

fn filter_server(events: &[FilterEvent]) -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": [
            "someColumn",
            {"type": "double", "name": "someNumericColumn"},
            {"type": "long", "name": "otherColumn"},
            "anotherColumn",
            "outlaw",
            {"type": "long", "name": "age"},
            "name",
            "last_name",
            "product",
            {"type": "float", "name": "myFloatColumn"},
            "someMultiValueColumn"
        ]},
        "metricsSpec": [{"type": "count", "name": "count"}],
        "granularitySpec": {"segmentGranularity": "month", "queryGranularity": "none", "rollup": false}
    });
    let sent: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut line = json!({
                "timestamp": iso(event.time),
                "name": event.name,
                "product": event.product,
                "myFloatColumn": event.my_float_column,
            });
            let fields = [
                ("someColumn", event.some_column.map(Value::from)),
                (
                    "someNumericColumn",
                    event.some_numeric_column.map(Value::from),
                ),
                ("otherColumn", event.other_column.map(Value::from)),
                ("anotherColumn", event.another_column.map(Value::from)),
                ("outlaw", event.outlaw.map(Value::from)),
                ("age", event.age.map(Value::from)),
                ("last_name", event.last_name.map(Value::from)),
                (
                    "someMultiValueColumn",
                    (!event.some_multi_value_column.is_empty())
                        .then(|| json!(event.some_multi_value_column)),
                ),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    line[name] = value;
                }
            }
            line
        })
        .collect();
    load(&server, &spec, &sent);
    server
}

/// A filter example: the page's section, the filter as written, and which
/// events it keeps.
type FilterCase<'a> = (&'a str, &'a str, &'a dyn Fn(&FilterEvent) -> bool);

/// Runs each (section, filter, oracle) inside a timeseries counting the
/// rows it keeps and lists every filter whose count differs from the
/// oracle's.
fn check_filters(server: &StrataServer, events: &[FilterEvent], cases: &[FilterCase]) {
    let mut failures = Vec::new();
    for (section, filter, keep) in cases {
        let expected = events.iter().filter(|event| keep(event)).count();
        assert!(
            expected > 0 && expected < events.len(),
            "{section}: the data makes the filter select"
        );
        let query = format!(
            r#"{{"queryType": "timeseries", "dataSource": "sample_datasource",
                "granularity": "all", "intervals": ["2014-01-01/2015-01-01"],
                "aggregations": [{{"type": "count", "name": "rows"}}],
                "filter": {filter}}}"#
        );
        let (status, answer) = server.post_json("/druid/v2", &query);
        let answered = answer[0]["result"]["rows"].as_u64();
        if status != 200 || answered != Some(expected as u64) {
            failures.push(format!(
                "{section}: {filter}\n  expected {expected} rows, answered {status} {answer}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} filter examples differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn filter_examples_select_the_rows_they_describe() {
    let events = filter_events();
    let server = filter_server(&events);
    let in_example_intervals = |e: &FilterEvent| {
        [
            (at(2014, 10, 1), at(2014, 10, 7)),
            (at(2014, 11, 15), at(2014, 11, 16)),
        ]
        .iter()
        .any(|(start, end)| (*start..*end).contains(&e.time))
    };
    // querying/filters.md: each example as written, in a timeseries counting
    // the rows it keeps.
    let cases: Vec<FilterCase> = vec![
        (
            "Selector filter: WHERE someColumn = 'hello'",
            r#"{ "type": "selector", "dimension": "someColumn", "value": "hello" }"#,
            &|e: &FilterEvent| e.some_column == Some("hello"),
        ),
        (
            "Selector filter: WHERE someColumn IS NULL",
            r#"{ "type": "selector", "dimension": "someColumn", "value": null }"#,
            &|e: &FilterEvent| e.some_column.is_none(),
        ),
        (
            "Equality filter: WHERE someColumn = 'hello'",
            r#"{ "type": "equals", "column": "someColumn", "matchValueType": "STRING", "matchValue": "hello" }"#,
            &|e: &FilterEvent| e.some_column == Some("hello"),
        ),
        (
            "Equality filter: WHERE someNumericColumn = 1.23",
            r#"{ "type": "equals", "column": "someNumericColumn", "matchValueType": "DOUBLE", "matchValue": 1.23 }"#,
            &|e: &FilterEvent| e.some_numeric_column == Some(1.23),
        ),
        (
            "Null filter: WHERE someColumn IS NULL (on anotherColumn)",
            r#"{ "type": "null", "column": "anotherColumn" }"#,
            &|e: &FilterEvent| e.another_column.is_none(),
        ),
        (
            "AND: WHERE someColumn = 'a' AND otherColumn = 1234 AND anotherColumn IS NULL",
            r#"{
  "type": "and",
  "fields": [
    { "type": "equals", "column": "someColumn", "matchValue": "a", "matchValueType": "STRING" },
    { "type": "equals", "column": "otherColumn", "matchValue": 1234, "matchValueType": "LONG" },
    { "type": "null", "column": "anotherColumn" } 
  ]
}"#,
            &|e: &FilterEvent| {
                e.some_column == Some("a")
                    && e.other_column == Some(1234)
                    && e.another_column.is_none()
            },
        ),
        (
            "OR: WHERE someColumn = 'a' OR otherColumn = 1234 OR anotherColumn IS NULL",
            r#"{
  "type": "or",
  "fields": [
    { "type": "equals", "column": "someColumn", "matchValue": "a", "matchValueType": "STRING" },
    { "type": "equals", "column": "otherColumn", "matchValue": 1234, "matchValueType": "LONG" },
    { "type": "null", "column": "anotherColumn" } 
  ]
}"#,
            &|e: &FilterEvent| {
                e.some_column == Some("a")
                    || e.other_column == Some(1234)
                    || e.another_column.is_none()
            },
        ),
        (
            "NOT: WHERE someColumn IS NOT NULL",
            r#"{ "type": "not", "field": { "type": "null", "column": "someColumn" }}"#,
            &|e: &FilterEvent| e.some_column.is_some(),
        ),
        (
            "In filter: WHERE outlaw IN ('Good', 'Bad', 'Ugly')",
            r#"{
    "type": "in",
    "dimension": "outlaw",
    "values": ["Good", "Bad", "Ugly"]
}"#,
            &|e: &FilterEvent| matches!(e.outlaw, Some("Good" | "Bad" | "Ugly")),
        ),
        (
            "Bound filter: WHERE 21 <= age <= 31",
            r#"{
    "type": "bound",
    "dimension": "age",
    "lower": "21",
    "upper": "31" ,
    "ordering": "numeric"
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| (21..=31).contains(&age)),
        ),
        (
            "Bound filter: WHERE 'foo' <= name <= 'hoo'",
            r#"{
    "type": "bound",
    "dimension": "name",
    "lower": "foo",
    "upper": "hoo"
}"#,
            &|e: &FilterEvent| ("foo"..="hoo").contains(&e.name),
        ),
        (
            "Bound filter: WHERE 21 < age < 31",
            r#"{
    "type": "bound",
    "dimension": "age",
    "lower": "21",
    "lowerStrict": true,
    "upper": "31" ,
    "upperStrict": true,
    "ordering": "numeric"
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| age > 21 && age < 31),
        ),
        (
            // The page notes that "the bound filter matches null values if
            // you don't specify a lower bound"; that holds in the legacy
            // null handling only. Strata, like Druid since v28 by default
            // (querying/filters.md: "By default, Druid uses SQL compatible
            // three-value logic when filtering"), never matches a null
            // against a bound: null < 31 is unknown, so the row is left out.
            "Bound filter: WHERE age < 31",
            r#"{
    "type": "bound",
    "dimension": "age",
    "upper": "31" ,
    "upperStrict": true,
    "ordering": "numeric"
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| age < 31),
        ),
        (
            "Bound filter: WHERE age >= 18",
            r#"{
    "type": "bound",
    "dimension": "age",
    "lower": "18" ,
    "ordering": "numeric"
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| age >= 18),
        ),
        (
            "Range filter: WHERE 21 <= age <= 31",
            r#"{
    "type": "range",
    "column": "age",
    "matchValueType": "LONG",
    "lower": 21,
    "upper": 31
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| (21..=31).contains(&age)),
        ),
        (
            "Range filter: WHERE 'foo' <= name <= 'hoo'",
            r#"{
    "type": "range",
    "column": "name",
    "matchValueType": "STRING",
    "lower": "foo",
    "upper": "hoo"
}"#,
            &|e: &FilterEvent| ("foo"..="hoo").contains(&e.name),
        ),
        (
            "Range filter: WHERE 21 < age < 31",
            r#"{
    "type": "range",
    "column": "age",
    "matchValueType": "LONG",
    "lower": "21",
    "lowerOpen": true,
    "upper": "31" ,
    "upperOpen": true
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| age > 21 && age < 31),
        ),
        (
            // "It won't match null values, even if you don't specify a lower
            // bound."
            "Range filter: WHERE age < 31",
            r#"{
    "type": "range",
    "column": "age",
    "matchValueType": "LONG",
    "upper": "31" ,
    "upperOpen": true
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| age < 31),
        ),
        (
            "Range filter: WHERE age >= 18",
            r#"{
    "type": "range",
    "column": "age",
    "matchValueType": "LONG",
    "lower": 18
}"#,
            &|e: &FilterEvent| e.age.is_some_and(|age| age >= 18),
        ),
        (
            "Like filter: WHERE last_name LIKE \"D%\"",
            r#"{
    "type": "like",
    "dimension": "last_name",
    "pattern": "D%"
}"#,
            &|e: &FilterEvent| e.last_name.is_some_and(|name| name.starts_with('D')),
        ),
        (
            // The page writes the pattern unquoted (`"pattern": ^50.*`),
            // which is not JSON; quoted here.
            "Regular expression filter: matches values that start with \"50.\"",
            r#"{ "type": "regex", "dimension": "someColumn", "pattern": "^50.*" }"#,
            &|e: &FilterEvent| e.some_column.is_some_and(|value| value.starts_with("50")),
        ),
        (
            "Interval filter: October 1-7, 2014 and November 15-16, 2014",
            r#"{
    "type" : "interval",
    "dimension" : "__time",
    "intervals" : [
      "2014-10-01T00:00:00.000Z/2014-10-07T00:00:00.000Z",
      "2014-11-15T00:00:00.000Z/2014-11-16T00:00:00.000Z"
    ]
}"#,
            &in_example_intervals,
        ),
        (
            "Interval filter: the equivalent OR of Bound filters",
            r#"{
    "type": "or",
    "fields": [
      {
        "type": "bound",
        "dimension": "__time",
        "lower": "1412121600000",
        "lowerStrict": false,
        "upper": "1412640000000" ,
        "upperStrict": true,
        "ordering": "numeric"
      },
      {
         "type": "bound",
         "dimension": "__time",
         "lower": "1416009600000",
         "lowerStrict": false,
         "upper": "1416096000000" ,
         "upperStrict": true,
         "ordering": "numeric"
      }
    ]
}"#,
            &in_example_intervals,
        ),
        (
            // The page wraps it in {"filter": ...}; the filter is the inside.
            "Search filter: insensitive_contains \"foo\"",
            r#"{
        "type": "search",
        "dimension": "product",
        "query": {
          "type": "insensitive_contains",
          "value": "foo"
        }
    }"#,
            &|e: &FilterEvent| e.product.to_lowercase().contains("foo"),
        ),
        (
            "Filtering on numeric columns: myFloatColumn = 10.1, with a selector filter",
            r#"{
  "type": "selector",
  "dimension": "myFloatColumn",
  "value": "10.1"
}"#,
            &|e: &FilterEvent| e.my_float_column == 10.1,
        ),
        (
            "Filtering on numeric columns: 10 <= myFloatColumn < 20, with a bound filter",
            r#"{
  "type": "bound",
  "dimension": "myFloatColumn",
  "ordering": "numeric",
  "lower": "10",
  "lowerStrict": false,
  "upper": "20",
  "upperStrict": true
}"#,
            &|e: &FilterEvent| (10.0..20.0).contains(&e.my_float_column),
        ),
        (
            "Filtering on multi-value string columns: multi-value match behavior",
            r#"{ "type": "equals", "column": "someMultiValueColumn", "matchValueType": "STRING", "matchValue": "b" }"#,
            &|e: &FilterEvent| e.some_multi_value_column.contains(&"b"),
        ),
        (
            "Filtering on multi-value string columns: SQL \"contradiction\"",
            r#"{
  "type": "and",
  "fields": [
    {
      "type": "equals",
      "column": "someMultiValueColumn",
      "matchValueType": "STRING",
      "matchValue": "a"
    },
    {
      "type": "equals",
      "column": "someMultiValueColumn",
      "matchValueType": "STRING",
      "matchValue": "b"
    }
  ]
}"#,
            &|e: &FilterEvent| {
                e.some_multi_value_column.contains(&"a") && e.some_multi_value_column.contains(&"b")
            },
        ),
    ];
    check_filters(&server, &events, &cases);
}

#[test]
fn true_and_false_filter_examples_keep_every_row_or_none() {
    let events = filter_events();
    let server = filter_server(&events);
    // querying/filters.md, "True filter" and "False filter".
    for (filter, expected) in [
        (r#"{ "type" : "true" }"#, events.len() as u64),
        (r#"{"type": "false" }"#, 0),
    ] {
        let answer = druid(
            &server,
            &format!(
                r#"{{"queryType": "timeseries", "dataSource": "sample_datasource",
                    "granularity": "all", "intervals": ["2014-01-01/2015-01-01"],
                    "aggregations": [{{"type": "count", "name": "rows"}}],
                    "filter": {filter}}}"#
            ),
        );
        let answered = rows(&answer)
            .first()
            .map_or(0, |row| row["result"]["rows"].as_u64().unwrap_or(u64::MAX));
        assert_eq!(answered, expected, "{filter}: {answer}");
    }
}

// ---------------------------------------------------------------------------
// Aggregations (querying/aggregations.md, hll-old.md, the DataSketches HLL
// and quantiles modules)

/// An event of the aggregator examples, with the columns they name.
struct NumberEvent {
    time: i64,
    a_long: i64,
    a_double: f64,
    a_float: f64,
    some_column: &'static str,
    long_time: i64,
}

/// 30 events, 37 minutes apart from 2013-01-01; `longTime` a permutation of
/// 1000..1030 unrelated to time order.
fn number_events() -> Vec<NumberEvent> {
    (0..30i64)
        .map(|i| NumberEvent {
            time: at(2013, 1, 1) + i * 37 * MINUTE,
            a_long: (i * 29) % 50 - 10,
            a_double: ((i * 13) % 40) as f64 * 0.25 - 3.0,
            a_float: ((i * 7) % 20) as f64 * 0.5,
            some_column: if i % 3 == 0 { "abcdef" } else { "x" },
            long_time: 1000 + (i * 17) % 30,
        })
        .collect()
}

fn number_server(events: &[NumberEvent]) -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": [
            "someColumn",
            {"type": "long", "name": "aLong"},
            {"type": "double", "name": "aDouble"},
            {"type": "float", "name": "aFloat"},
            {"type": "long", "name": "longTime"}
        ]},
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": false}
    });
    let sent: Vec<Value> = events
        .iter()
        .map(|event| {
            json!({"timestamp": iso(event.time), "someColumn": event.some_column,
                   "aLong": event.a_long, "aDouble": event.a_double, "aFloat": event.a_float,
                   "longTime": event.long_time})
        })
        .collect();
    load(&server, &spec, &sent);
    server
}

/// A timeseries over all of `sample_datasource`'s 2013-01-01 and -02 in one
/// bucket with these aggregations.
fn totals_query(aggregations: &str) -> String {
    format!(
        r#"{{"queryType": "timeseries", "dataSource": "sample_datasource", "granularity": "all",
            "intervals": ["2013-01-01/2013-01-03"], "aggregations": [{aggregations}]}}"#
    )
}

/// The one result row of a timeseries with granularity "all".
fn single_result(answer: &Value) -> &Value {
    let results = rows(answer);
    assert_eq!(results.len(), 1, "one bucket: {answer}");
    &results[0]["result"]
}

#[test]
fn exact_aggregator_examples_count_sum_and_bound() {
    let events = number_events();
    let server = number_server(&events);
    // querying/aggregations.md, "Exact aggregations" and "Filtered
    // aggregator": each example as written (the page names the doubleMin
    // example "maxDouble" and the doubleMax one "minDouble").
    let answer = druid(
        &server,
        &totals_query(
            r#"
{ "type" : "count", "name" : "count" },
{ "type" : "longSum", "name" : "sumLong", "fieldName" : "aLong" },
{ "type" : "doubleSum", "name" : "sumDouble", "fieldName" : "aDouble" },
{ "type" : "floatSum", "name" : "sumFloat", "fieldName" : "aFloat" },
{ "type" : "doubleMin", "name" : "maxDouble", "fieldName" : "aDouble" },
{ "type" : "doubleMax", "name" : "minDouble", "fieldName" : "aDouble" },
{ "type" : "floatMin", "name" : "minFloat", "fieldName" : "aFloat" },
{ "type" : "floatMax", "name" : "maxFloat", "fieldName" : "aFloat" },
{ "type" : "longMin", "name" : "minLong", "fieldName" : "aLong" },
{ "type" : "longMax", "name" : "maxLong", "fieldName" : "aLong" },
{
  "type": "filtered",
  "name": "filteredSumLong",
  "filter": {
    "type" : "selector",
    "dimension" : "someColumn",
    "value" : "abcdef"
  },
  "aggregator": {
    "type": "longSum",
    "name": "sumLong",
    "fieldName": "aLong"
  }
}"#,
        ),
    );
    let result = single_result(&answer);
    let longs = |f: fn(&NumberEvent) -> i64| events.iter().map(f);
    let doubles = |f: fn(&NumberEvent) -> f64| events.iter().map(f);
    let min_of = |f: fn(&NumberEvent) -> f64| events.iter().map(f).fold(f64::INFINITY, f64::min);
    let max_of =
        |f: fn(&NumberEvent) -> f64| events.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    let expected_longs = [
        ("count", events.len() as i64),
        ("sumLong", longs(|e| e.a_long).sum()),
        ("minLong", longs(|e| e.a_long).min().unwrap_or_default()),
        ("maxLong", longs(|e| e.a_long).max().unwrap_or_default()),
        (
            "filteredSumLong",
            events
                .iter()
                .filter(|e| e.some_column == "abcdef")
                .map(|e| e.a_long)
                .sum(),
        ),
    ];
    for (name, expected) in expected_longs {
        assert_eq!(result[name].as_i64(), Some(expected), "{name}: {answer}");
    }
    let expected_doubles = [
        ("sumDouble", doubles(|e| e.a_double).sum::<f64>()),
        ("sumFloat", doubles(|e| e.a_float).sum::<f64>()),
        ("maxDouble", min_of(|e| e.a_double)),
        ("minDouble", max_of(|e| e.a_double)),
        ("minFloat", min_of(|e| e.a_float)),
        ("maxFloat", max_of(|e| e.a_float)),
    ];
    for (name, expected) in expected_doubles {
        assert_eq!(number(&result[name]), expected, "{name}: {answer}");
    }
}

#[test]
fn count_aggregator_counts_ingested_events_even_over_a_rollup_table() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["country"]},
        "metricsSpec": [{"type": "count", "name": "count"}],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "hour"}
    });
    // Three US events in one hour roll up into one row; with the FR event,
    // 4 events in 2 rows.
    let sent = vec![
        json!({"timestamp": "2013-01-01T10:01:00Z", "country": "US"}),
        json!({"timestamp": "2013-01-01T10:02:00Z", "country": "US"}),
        json!({"timestamp": "2013-01-01T10:03:00Z", "country": "US"}),
        json!({"timestamp": "2013-01-01T10:04:00Z", "country": "FR"}),
    ];
    load(&server, &spec, &sent);
    // querying/aggregations.md, "Count aggregator": "The count aggregator
    // counts the number of Druid rows, which does not always reflect the
    // number of raw events ingested. [...] To count the number of ingested
    // rows of data, include a count aggregator at ingestion time and a
    // longSum aggregator at query time."
    //
    // Strata differs on purpose: its `count` always counts events, so over a
    // rollup table it is the sum of the stored `count` metric (4 here, not
    // Druid's 2 rows). How many rows rollup stored is a storage detail the
    // answer should not depend on; the documented longSum over `count`
    // still gives 4, so queries written for Druid keep their meaning.
    let answer = druid(
        &server,
        &totals_query(
            r#"{ "type" : "count", "name" : "count" },
               { "type" : "longSum", "name" : "events", "fieldName" : "count" }"#,
        ),
    );
    assert_eq!(
        single_result(&answer),
        &json!({"count": 4, "events": 4}),
        "{answer}"
    );
}

#[test]
fn first_and_last_aggregator_examples_pick_by_event_time() {
    let events = number_events();
    let server = number_server(&events);
    // querying/aggregations.md, "First and last aggregators": the numeric
    // examples that order by `__time` (no "timeColumn"), as written.
    let answer = druid(
        &server,
        &totals_query(
            r#"
{
  "type" : "doubleFirst",
  "name" : "firstDouble",
  "fieldName" : "aDouble"
},
{
  "type" : "floatFirst",
  "name" : "firstFloat",
  "fieldName" : "aFloat"
},
{
  "type" : "floatLast",
  "name" : "lastFloat",
  "fieldName" : "aFloat"
},
{
  "type" : "longFirst",
  "name" : "firstLong",
  "fieldName" : "aLong"
}"#,
        ),
    );
    let result = single_result(&answer);
    let earliest = events.iter().min_by_key(|e| e.time).expect("events");
    let latest = events.iter().max_by_key(|e| e.time).expect("events");
    assert_eq!(
        number(&result["firstDouble"]),
        earliest.a_double,
        "{answer}"
    );
    assert_eq!(number(&result["firstFloat"]), earliest.a_float, "{answer}");
    assert_eq!(number(&result["lastFloat"]), latest.a_float, "{answer}");
    assert_eq!(
        result["firstLong"].as_i64(),
        Some(earliest.a_long),
        "{answer}"
    );
}

#[test]
fn last_aggregator_examples_with_a_time_column_pick_by_that_column() {
    let events = number_events();
    let server = number_server(&events);
    // querying/aggregations.md, "First and last aggregators": the doubleLast
    // and longLast examples, which order by "timeColumn": "longTime" (a long
    // column unrelated to the event time here).
    let answer = druid(
        &server,
        &totals_query(
            r#"
{
  "type" : "doubleLast",
  "name" : "lastDouble",
  "fieldName" : "aDouble",
  "timeColumn" : "longTime"
},
{
  "type" : "longLast",
  "name" : "lastLong",
  "fieldName" : "aLong",
  "timeColumn" : "longTime"
}"#,
        ),
    );
    let result = single_result(&answer);
    let latest_by_long_time = events.iter().max_by_key(|e| e.long_time).expect("events");
    assert_eq!(
        number(&result["lastDouble"]),
        latest_by_long_time.a_double,
        "{answer}"
    );
    assert_eq!(
        result["lastLong"].as_i64(),
        Some(latest_by_long_time.a_long),
        "{answer}"
    );
}

#[test]
fn hll_sketch_examples_estimate_distinct_users() {
    let server = StrataServer::start();
    // The module page's example: an HLLSketchBuild metric "userid_hll" over
    // the "userid" field at ingestion time (here "userid" stays a dimension,
    // outside rollup, so a query can also build a sketch from it).
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["country", {"type": "string", "name": "userid", "rollup": false}]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "HLLSketchBuild", "name": "userid_hll", "fieldName": "userid", "lgK": 12, "tgtHllType": "HLL_4"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "hour"}
    });
    let users: Vec<(i64, &str, String)> = (0..40i64)
        .map(|i| {
            (
                at(2013, 1, 1) + i * 41 * MINUTE,
                ["US", "FR"][(i % 2) as usize],
                format!("u{}", (i * 7) % 13),
            )
        })
        .collect();
    let sent: Vec<Value> = users
        .iter()
        .map(|(time, country, user)| {
            json!({"timestamp": iso(*time), "country": country, "userid": user})
        })
        .collect();
    load(&server, &spec, &sent);
    let distinct: BTreeSet<&str> = users.iter().map(|(_, _, user)| user.as_str()).collect();
    let distinct = distinct.len() as f64;
    // development/extensions-core/datasketches-hll.md: the aggregators and
    // the Estimate post-aggregator, their placeholders filled in.
    let answer = druid(
        &server,
        r#"{
  "queryType": "timeseries",
  "dataSource": "sample_datasource",
  "granularity": "all",
  "intervals": ["2013-01-01/2013-01-03"],
  "aggregations": [
    {
      "type" : "HLLSketchMerge",
      "name" : "unique_users",
      "fieldName" : "userid_hll",
      "lgK" : 12,
      "tgtHllType" : "HLL_4",
      "round": true
    },
    {
      "type" : "HLLSketchBuild",
      "name" : "unique_users_at_query_time",
      "fieldName" : "userid",
      "lgK" : 12,
      "tgtHllType" : "HLL_4",
      "round": true
    },
    {
      "type" : "HLLSketchMerge",
      "name" : "users_sketch",
      "fieldName" : "userid_hll"
    }
  ],
  "postAggregations": [
    {
      "type"  : "HLLSketchEstimate",
      "name": "estimate",
      "field"  : { "type": "fieldAccess", "fieldName": "users_sketch" },
      "round" : true
    },
    {
      "type"  : "HLLSketchEstimate",
      "name": "estimate_unrounded",
      "field"  : { "type": "fieldAccess", "fieldName": "users_sketch" }
    }
  ]
}"#,
    );
    let result = single_result(&answer);
    // With far fewer distinct values than 2^lgK buckets the sketch still
    // keeps each value's coupon: the estimate is within a hair of the count,
    // and rounded it is the count.
    for name in ["unique_users", "unique_users_at_query_time", "estimate"] {
        assert_eq!(number(&result[name]), distinct, "{name}: {answer}");
    }
    for name in ["users_sketch", "estimate_unrounded"] {
        let estimate = number(&result[name]);
        assert!(
            (estimate - distinct).abs() < 0.01,
            "{name} {estimate} estimates {distinct}: {answer}"
        );
    }
}

#[test]
fn quantiles_sketch_examples_answer_quantiles() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["service", {"type": "double", "name": "latency", "rollup": false}]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "quantilesDoublesSketch", "name": "latency_sketch", "fieldName": "latency", "k": 128}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "hour"}
    });
    // 21 latencies 0.5, 1.0, ... 10.5 in a scrambled order: fewer than k, so
    // the sketch keeps them all and its quantiles are exact.
    let latencies: Vec<f64> = (0..21i64)
        .map(|i| ((i * 8) % 21 + 1) as f64 * 0.5)
        .collect();
    let sent: Vec<Value> = latencies
        .iter()
        .enumerate()
        .map(|(i, latency)| {
            json!({"timestamp": iso(at(2013, 1, 1) + i as i64 * 53 * MINUTE),
                   "service": (["api", "web"][i % 2]), "latency": latency})
        })
        .collect();
    load(&server, &spec, &sent);
    // development/extensions-core/datasketches-quantiles.md: the aggregator
    // and the Quantile and Quantiles post-aggregators, placeholders filled in.
    let answer = druid(
        &server,
        r#"{
  "queryType": "timeseries",
  "dataSource": "sample_datasource",
  "granularity": "all",
  "intervals": ["2013-01-01/2013-01-03"],
  "aggregations": [
    {
      "type" : "quantilesDoublesSketch",
      "name" : "merged",
      "fieldName" : "latency_sketch",
      "k": 128
    },
    {
      "type" : "quantilesDoublesSketch",
      "name" : "built",
      "fieldName" : "latency"
    }
  ],
  "postAggregations": [
    {
      "type"  : "quantilesDoublesSketchToQuantile",
      "name": "median",
      "field"  : { "type": "fieldAccess", "fieldName": "merged" },
      "fraction" : 0.5
    },
    {
      "type"  : "quantilesDoublesSketchToQuantiles",
      "name": "quantiles",
      "field"  : { "type": "fieldAccess", "fieldName": "merged" },
      "fractions" : [0, 0.5, 1]
    },
    {
      "type"  : "quantilesDoublesSketchToQuantile",
      "name": "built_median",
      "field"  : { "type": "fieldAccess", "fieldName": "built" },
      "fraction" : 0.5
    }
  ]
}"#,
    );
    let result = single_result(&answer);
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert_eq!(number(&result["median"]), median, "{answer}");
    assert_eq!(number(&result["built_median"]), median, "{answer}");
    let quantiles: Vec<f64> = result["quantiles"]
        .as_array()
        .unwrap_or_else(|| panic!("quantiles is an array: {answer}"))
        .iter()
        .map(number)
        .collect();
    assert_eq!(
        quantiles,
        [sorted[0], median, sorted[sorted.len() - 1]],
        "{answer}"
    );
}

#[test]
fn cardinality_examples_estimate_distinct_values_and_rows() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["first_name", "last_name", "country_of_origin", "country_of_residence"]},
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": false}
    });
    let people = [
        ("Ann", "Lee", "FR", "US"),
        ("Bob", "Lee", "US", "US"),
        ("Ann", "Kim", "JP", "FR"),
        ("Ann", "Lee", "FR", "US"),
        ("Cid", "Ray", "DE", "DE"),
        ("Bob", "Lee", "US", "GB"),
        ("Dee", "Kim", "BR", "PT"),
        ("Eve", "Ray", "FR", "CA"),
    ];
    let sent: Vec<Value> = people
        .iter()
        .enumerate()
        .map(|(i, (first, last, origin, residence))| {
            json!({"timestamp": iso(at(2013, 1, 1) + i as i64 * HOUR), "first_name": first,
                   "last_name": last, "country_of_origin": origin,
                   "country_of_residence": residence})
        })
        .collect();
    load(&server, &spec, &sent);
    let countries: BTreeSet<&str> = people
        .iter()
        .flat_map(|(_, _, origin, residence)| [*origin, *residence])
        .collect();
    let names: BTreeSet<(&str, &str)> = people
        .iter()
        .map(|(first, last, _, _)| (*first, *last))
        .collect();
    // querying/hll-old.md, "Cardinality aggregator": the first two examples
    // as written, and the first with the grammar's "round".
    let answer = druid(
        &server,
        &totals_query(
            r#"
{
  "type": "cardinality",
  "name": "distinct_countries",
  "fields": [ "country_of_origin", "country_of_residence" ]
},
{
  "type": "cardinality",
  "name": "distinct_people",
  "fields": [ "first_name", "last_name" ],
  "byRow" : true
},
{
  "type": "cardinality",
  "name": "distinct_countries_rounded",
  "fields": [ "country_of_origin", "country_of_residence" ],
  "round": true
}"#,
        ),
    );
    let result = single_result(&answer);
    for (name, distinct) in [
        ("distinct_countries", countries.len()),
        ("distinct_people", names.len()),
    ] {
        let estimate = number(&result[name]);
        let distinct = distinct as f64;
        assert!(
            (estimate - distinct).abs() <= distinct * 0.05,
            "{name} {estimate} estimates {distinct}: {answer}"
        );
    }
    assert_eq!(
        result["distinct_countries_rounded"].as_u64(),
        Some(countries.len() as u64),
        "{answer}"
    );
}

// ---------------------------------------------------------------------------
// Post-aggregations (querying/post-aggregations.md)

#[test]
fn post_aggregator_examples_compute_from_the_aggregates() {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "sample_datasource",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["kind"]},
        "metricsSpec": [
            {"type": "doubleSum", "name": "total", "fieldName": "total"},
            {"type": "doubleSum", "name": "part", "fieldName": "part"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": false}
    });
    let values: Vec<(f64, f64)> = (0..12i64)
        .map(|i| (((i * 5) % 11 + 4) as f64, ((i * 3) % 4) as f64 * 0.5))
        .collect();
    let sent: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, (total, part))| {
            json!({"timestamp": iso(at(2013, 1, 1) + i as i64 * HOUR), "kind": "k",
                   "total": total, "part": part})
        })
        .collect();
    load(&server, &spec, &sent);
    let rows_count = values.len() as f64;
    let tot: f64 = values.iter().map(|(total, _)| total).sum();
    let part: f64 = values.iter().map(|(_, part)| part).sum();

    // "Example Usage", the first query; its "..." filled in.
    let average = druid(
        &server,
        r#"{
  "queryType": "timeseries", "dataSource": "sample_datasource", "granularity": "all",
  "intervals": ["2013-01-01/2013-01-03"],
  "aggregations" : [
    { "type" : "count", "name" : "rows" },
    { "type" : "doubleSum", "name" : "tot", "fieldName" : "total" }
  ],
  "postAggregations" : [{
    "type"   : "arithmetic",
    "name"   : "average",
    "fn"     : "/",
    "fields" : [
           { "type" : "fieldAccess", "name" : "tot", "fieldName" : "tot" },
           { "type" : "fieldAccess", "name" : "rows", "fieldName" : "rows" }
         ]
  }]
}"#,
    );
    let result = single_result(&average);
    assert_eq!(number(&result["average"]), tot / rows_count, "{average}");

    // "Example Usage", the second query; its "..." filled in.
    let percentage = druid(
        &server,
        r#"{
  "queryType": "timeseries", "dataSource": "sample_datasource", "granularity": "all",
  "intervals": ["2013-01-01/2013-01-03"],
  "aggregations" : [
    { "type" : "doubleSum", "name" : "tot", "fieldName" : "total" },
    { "type" : "doubleSum", "name" : "part", "fieldName" : "part" }
  ],
  "postAggregations" : [{
    "type"   : "arithmetic",
    "name"   : "part_percentage",
    "fn"     : "*",
    "fields" : [
       { "type"   : "arithmetic",
         "name"   : "ratio",
         "fn"     : "/",
         "fields" : [
           { "type" : "fieldAccess", "name" : "part", "fieldName" : "part" },
           { "type" : "fieldAccess", "name" : "tot", "fieldName" : "tot" }
         ]
       },
       { "type" : "constant", "name": "const", "value" : 100 }
    ]
  }]
}"#,
    );
    let result = single_result(&percentage);
    assert_eq!(
        number(&result["part_percentage"]),
        part / tot * 100.0,
        "{percentage}"
    );

    // The grammars: every arithmetic function applied left to right over
    // three fields, "/" by zero, finalizingFieldAccess and constant.
    let grammar = druid(
        &server,
        r#"{
  "queryType": "timeseries", "dataSource": "sample_datasource", "granularity": "all",
  "intervals": ["2013-01-01/2013-01-03"],
  "aggregations" : [
    { "type" : "doubleSum", "name" : "tot", "fieldName" : "total" },
    { "type" : "doubleSum", "name" : "part", "fieldName" : "part" }
  ],
  "postAggregations" : [
    { "type": "arithmetic", "name": "plus", "fn": "+", "fields": [
        { "type" : "fieldAccess", "fieldName" : "tot" }, { "type" : "fieldAccess", "fieldName" : "part" },
        { "type" : "constant", "name": "c", "value" : 3 } ] },
    { "type": "arithmetic", "name": "minus", "fn": "-", "fields": [
        { "type" : "fieldAccess", "fieldName" : "tot" }, { "type" : "fieldAccess", "fieldName" : "part" },
        { "type" : "constant", "name": "c", "value" : 3 } ] },
    { "type": "arithmetic", "name": "times", "fn": "*", "fields": [
        { "type" : "fieldAccess", "fieldName" : "tot" }, { "type" : "fieldAccess", "fieldName" : "part" },
        { "type" : "constant", "name": "c", "value" : 3 } ] },
    { "type": "arithmetic", "name": "divided", "fn": "/", "fields": [
        { "type" : "fieldAccess", "fieldName" : "tot" }, { "type" : "fieldAccess", "fieldName" : "part" },
        { "type" : "constant", "name": "c", "value" : 4 } ] },
    { "type": "arithmetic", "name": "quotient", "fn": "quotient", "fields": [
        { "type" : "fieldAccess", "fieldName" : "tot" }, { "type" : "constant", "name": "c", "value" : 8 } ] },
    { "type": "arithmetic", "name": "by_zero", "fn": "/", "fields": [
        { "type" : "fieldAccess", "fieldName" : "tot" }, { "type" : "constant", "name": "zero", "value" : 0 } ] },
    { "type" : "finalizingFieldAccess", "name": "finalized_tot", "fieldName" : "tot" },
    { "type" : "fieldAccess", "name": "raw_part", "fieldName" : "part" },
    { "type"  : "constant", "name"  : "hundred", "value" : 100 }
  ]
}"#,
    );
    let result = single_result(&grammar);
    let expected = [
        ("plus", tot + part + 3.0),
        ("minus", tot - part - 3.0),
        ("times", tot * part * 3.0),
        ("divided", druid_divide(druid_divide(tot, part), 4.0)),
        ("quotient", tot / 8.0),
        // "`/` division always returns `0` if dividing by `0`".
        ("by_zero", 0.0),
        ("finalized_tot", tot),
        ("raw_part", part),
        ("hundred", 100.0),
    ];
    for (name, value) in expected {
        assert_eq!(number(&result[name]), value, "{name}: {grammar}");
    }
}

// ---------------------------------------------------------------------------
// Granularities (querying/granularities.md)

/// `my_dataSource` holding the page's four events, at millisecond
/// ingestion granularity.
fn granularity_server() -> StrataServer {
    let server = StrataServer::start();
    let spec = json!({
        "dataSource": "my_dataSource",
        "timestampSpec": {"column": "timestamp", "format": "auto"},
        "dimensionsSpec": {"dimensions": ["page", "language"]},
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}
    });
    // querying/granularities.md, "Simple Granularities", the example data.
    let events: Vec<Value> =
        r#"{"timestamp": "2013-08-31T01:02:33Z", "page": "AAA", "language" : "en"}
{"timestamp": "2013-09-01T01:02:33Z", "page": "BBB", "language" : "en"}
{"timestamp": "2013-09-02T23:32:45Z", "page": "CCC", "language" : "en"}
{"timestamp": "2013-09-03T03:32:45Z", "page": "DDD", "language" : "en"}"#
            .lines()
            .map(|line| serde_json::from_str(line).expect("the page's events are JSON"))
            .collect();
    load(&server, &spec, &events);
    server
}

/// The page's groupBy example with `granularity` in place of "hour".
fn granularity_group_by(granularity: &str, intervals: &str) -> String {
    format!(
        r#"{{
   "queryType":"groupBy",
   "dataSource":"my_dataSource",
   "granularity":{granularity},
   "dimensions":[
      "language"
   ],
   "aggregations":[
      {{
         "type":"count",
         "name":"count"
      }}
   ],
   "intervals":[
      "{intervals}"
   ]
}}"#
    )
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("the page's result is JSON")
}

/// The page's results, four rows of count 1 at these bucket timestamps.
fn one_per_bucket(timestamps: [&str; 4]) -> Value {
    Value::Array(
        timestamps
            .iter()
            .map(|timestamp| {
                json!({"version": "v1", "timestamp": timestamp,
                       "event": {"count": 1, "language": "en"}})
            })
            .collect(),
    )
}

#[test]
fn simple_granularity_examples_bucket_the_four_events() {
    let server = granularity_server();
    let all_time = "2000-01-01T00:00Z/3000-01-01T00:00Z";
    // "Simple Granularities": the groupBy with "hour"; empty buckets are
    // discarded.
    assert_eq!(
        druid(&server, &granularity_group_by(r#""hour""#, all_time)),
        one_per_bucket([
            "2013-08-31T01:00:00.000Z",
            "2013-09-01T01:00:00.000Z",
            "2013-09-02T23:00:00.000Z",
            "2013-09-03T03:00:00.000Z"
        ])
    );
    // "If you change the granularity to day".
    assert_eq!(
        druid(&server, &granularity_group_by(r#""day""#, all_time)),
        one_per_bucket([
            "2013-08-31T00:00:00.000Z",
            "2013-09-01T00:00:00.000Z",
            "2013-09-02T00:00:00.000Z",
            "2013-09-03T00:00:00.000Z"
        ])
    );
    // "If you change the granularity to none".
    assert_eq!(
        druid(&server, &granularity_group_by(r#""none""#, all_time)),
        one_per_bucket([
            "2013-08-31T01:02:33.000Z",
            "2013-09-01T01:02:33.000Z",
            "2013-09-02T23:32:45.000Z",
            "2013-09-03T03:32:45.000Z"
        ])
    );
    // "If you change the granularity to all".
    assert_eq!(
        druid(&server, &granularity_group_by(r#""all""#, all_time)),
        parse(
            r#"[ {
  "version" : "v1",
  "timestamp" : "2000-01-01T00:00:00.000Z",
  "event" : {
    "count" : 4,
    "language" : "en"
  }
} ]"#
        )
    );
}

#[test]
fn duration_granularity_examples_bucket_from_the_origin() {
    let server = granularity_server();
    let all_time = "2000-01-01T00:00Z/3000-01-01T00:00Z";
    // "Duration Granularities": `{"type": "duration", "duration": 7200000}`
    // "chunks up every 2 hours".
    assert_eq!(
        druid(
            &server,
            &granularity_group_by(r#"{"type": "duration", "duration": 7200000}"#, all_time)
        ),
        one_per_bucket([
            "2013-08-31T00:00:00.000Z",
            "2013-09-01T00:00:00.000Z",
            "2013-09-02T22:00:00.000Z",
            "2013-09-03T02:00:00.000Z"
        ])
    );
    // `{"type": "duration", "duration": 3600000, "origin":
    // "2012-01-01T00:30:00Z"}` "chunks up every hour on the half-hour".
    assert_eq!(
        druid(
            &server,
            &granularity_group_by(
                r#"{"type": "duration", "duration": 3600000, "origin": "2012-01-01T00:30:00Z"}"#,
                all_time
            )
        ),
        one_per_bucket([
            "2013-08-31T00:30:00.000Z",
            "2013-09-01T00:30:00.000Z",
            "2013-09-02T23:30:00.000Z",
            "2013-09-03T03:30:00.000Z"
        ])
    );
    // The groupBy "with 24 hours duration" (the page writes the duration as
    // a string).
    assert_eq!(
        druid(
            &server,
            &granularity_group_by(r#"{"type": "duration", "duration": "86400000"}"#, all_time)
        ),
        one_per_bucket([
            "2013-08-31T00:00:00.000Z",
            "2013-09-01T00:00:00.000Z",
            "2013-09-02T00:00:00.000Z",
            "2013-09-03T00:00:00.000Z"
        ])
    );
    // "if you set the origin for the granularity to 2012-01-01T00:30:00Z".
    assert_eq!(
        druid(
            &server,
            &granularity_group_by(
                r#"{"type": "duration", "duration": "86400000", "origin":"2012-01-01T00:30:00Z"}"#,
                all_time
            )
        ),
        one_per_bucket([
            "2013-08-31T00:30:00.000Z",
            "2013-09-01T00:30:00.000Z",
            "2013-09-02T00:30:00.000Z",
            "2013-09-03T00:30:00.000Z"
        ])
    );
}

#[test]
fn period_granularity_examples_bucket_in_the_time_zone() {
    let server = granularity_server();
    let pacific = "1999-12-31T16:00:00.000-08:00/2999-12-31T16:00:00.000-08:00";
    // "Period Granularities": the groupBy "with 1 day period in Pacific
    // timezone"; "the timestamp for each bucket has been converted to
    // Pacific time".
    assert_eq!(
        druid(
            &server,
            &granularity_group_by(
                r#"{"type": "period", "period": "P1D", "timeZone": "America/Los_Angeles"}"#,
                pacific
            )
        ),
        parse(
            r#"[ {
  "version" : "v1",
  "timestamp" : "2013-08-30T00:00:00.000-07:00",
  "event" : {
    "count" : 1,
    "language" : "en"
  }
}, {
  "version" : "v1",
  "timestamp" : "2013-08-31T00:00:00.000-07:00",
  "event" : {
    "count" : 1,
    "language" : "en"
  }
}, {
  "version" : "v1",
  "timestamp" : "2013-09-02T00:00:00.000-07:00",
  "event" : {
    "count" : 2,
    "language" : "en"
  }
} ]"#
        )
    );
    // "If you set the origin for the granularity to 1970-01-01T20:30:00-08:00".
    assert_eq!(
        druid(
            &server,
            &granularity_group_by(
                r#"{"type": "period", "period": "P1D", "timeZone": "America/Los_Angeles", "origin": "1970-01-01T20:30:00-08:00"}"#,
                pacific
            )
        ),
        one_per_bucket([
            "2013-08-29T20:30:00.000-07:00",
            "2013-08-30T20:30:00.000-07:00",
            "2013-09-01T20:30:00.000-07:00",
            "2013-09-02T20:30:00.000-07:00"
        ])
    );
}

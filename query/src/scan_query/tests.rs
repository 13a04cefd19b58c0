//! Scans against an oracle that reads the events straight from a list:
//! filters, both time orders and none, offsets and limits, column lists.

use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use strata_storage::segment::{CellValue, ColumnKind, ColumnSchema, TableKind, TableSchema};
use strata_storage::time::{Interval, Millis};

use super::*;
use crate::mem_table::{MemTable, MemTableBuilder};
use crate::plan::{Filter, RangeBound, RangeOrdering};

const SPEC: &str = r#"{
    "dataSource": "web",
    "dimensionsSpec": {"dimensions": [
        "host",
        "tags",
        {"type": "string", "name": "user", "rollup": false},
        {"type": "long", "name": "status"}
    ]},
    "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"}
    ],
    "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}
}"#;

/// 2024-01-01T00:00:00Z.
const T0: Millis = 1_704_067_200_000;

fn spec() -> DataSourceSpec {
    DataSourceSpec::from_json(SPEC).unwrap()
}

#[derive(Debug, Clone)]
struct Event {
    time: Millis,
    host: Option<&'static str>,
    tags: Vec<&'static str>,
    user: Option<String>,
    status: Option<i64>,
    bytes: Option<i64>,
}

impl Event {
    /// The event as the default columns return it: its `count` metric is
    /// 1, its `bytes` metric its bytes.
    fn values(&self) -> Vec<ScanValue> {
        let text =
            |value: Option<&str>| value.map_or(ScanValue::Null, |v| ScanValue::String(v.into()));
        let tags = match self.tags.as_slice() {
            [] => ScanValue::Null,
            [one] => ScanValue::String((*one).into()),
            many => ScanValue::Strings(many.iter().map(|tag| (*tag).into()).collect()),
        };
        let long = |value: Option<i64>| value.map_or(ScanValue::Null, ScanValue::Long);
        vec![
            ScanValue::Long(self.time),
            text(self.host),
            tags,
            text(self.user.as_deref()),
            long(self.status),
            ScanValue::Long(1),
            long(self.bytes),
        ]
    }
}

/// Events of a deterministic stream: times on a few minutes so that many
/// share one, nulls in every column.
fn events(seed: u64, count: usize) -> Vec<Event> {
    let mut state = seed;
    let mut next = move |modulo: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % modulo
    };
    (0..count)
        .map(|_| Event {
            time: T0 + next(20) as i64 * 60_000,
            host: [None, Some("a"), Some("b"), Some("c")][next(4) as usize],
            tags: [vec![], vec!["x"], vec!["x", "y"], vec!["y", "z"]][next(4) as usize].clone(),
            user: (next(5) > 0).then(|| format!("u{}", next(7))),
            status: [None, Some(200), Some(404), Some(500)][next(4) as usize],
            bytes: (next(6) > 0).then(|| next(1000) as i64),
        })
        .collect()
}

fn events_schema() -> TableSchema {
    TableSchema::new(vec![
        ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
        ColumnSchema::new("tags", ColumnKind::String { multi_value: true }),
        ColumnSchema::new("user", ColumnKind::String { multi_value: false }),
        ColumnSchema::new("status", ColumnKind::Long),
        ColumnSchema::new("bytes", ColumnKind::Long),
    ])
    .unwrap()
}

fn events_table(events: &[Event]) -> MemTable {
    let mut builder = MemTableBuilder::new(TableKind::Events, events_schema());
    for event in events {
        let text = |value: Option<&'static str>| value.map_or(CellValue::Null, CellValue::Str);
        let long = |value: Option<i64>| value.map_or(CellValue::Null, CellValue::Long);
        builder
            .append_row(
                event.time,
                &[
                    text(event.host),
                    CellValue::Strs(&event.tags),
                    event
                        .user
                        .as_deref()
                        .map_or(CellValue::Null, CellValue::Str),
                    long(event.status),
                    long(event.bytes),
                ],
            )
            .unwrap();
    }
    builder.finish()
}

fn plan(filter: Option<Filter>, order: ScanOrder, offset: usize, limit: Option<usize>) -> ScanPlan {
    ScanPlan {
        datasource: "web".into(),
        intervals: vec![Interval::new(T0 + 2 * 60_000, T0 + 18 * 60_000).unwrap()],
        filter,
        columns: None,
        order,
        limit,
        offset,
    }
}

fn equals(column: &str, value: &str) -> Filter {
    Filter::Equals {
        column: column.into(),
        value: Some(value.into()),
    }
}

/// What a filter means on one event: the oracle's side of a case.
type Meaning = fn(&Event) -> bool;

/// Filters with what they mean on an event, null logic included.
fn filters() -> Vec<(Option<Filter>, Meaning)> {
    vec![
        (None, |_| true),
        (Some(equals("host", "a")), |e| e.host == Some("a")),
        (Some(equals("tags", "y")), |e| e.tags.contains(&"y")),
        (Some(Filter::Not(Box::new(equals("status", "404")))), |e| {
            e.status.is_some_and(|s| s != 404)
        }),
        (
            Some(Filter::And(vec![
                Filter::Range {
                    column: "bytes".into(),
                    lower: Some(RangeBound {
                        value: "500".into(),
                        strict: false,
                    }),
                    upper: None,
                    ordering: RangeOrdering::Numeric,
                },
                Filter::In {
                    column: "user".into(),
                    values: vec![Some("u1".into()), None],
                },
            ])),
            |e| e.bytes.is_some_and(|b| b >= 500) && e.user.as_deref().is_none_or(|u| u == "u1"),
        ),
    ]
}

/// The scan computed from the events of each set in storage order.
fn oracle(sets: &[Vec<Event>], plan: &ScanPlan, keep: fn(&Event) -> bool) -> Vec<ScanRow> {
    let interval = plan.intervals.first().unwrap();
    let mut rows: Vec<&Event> = sets
        .iter()
        .flatten()
        .filter(|event| interval.contains(event.time) && keep(event))
        .collect();
    // Stable sorts: equal times keep storage order.
    match plan.order {
        ScanOrder::None => {}
        ScanOrder::Ascending => rows.sort_by_key(|event| event.time),
        ScanOrder::Descending => rows.sort_by_key(|event| std::cmp::Reverse(event.time)),
    }
    rows.into_iter()
        .skip(plan.offset)
        .take(plan.limit.unwrap_or(usize::MAX))
        .map(|event| ScanRow {
            time: event.time,
            values: event.values(),
        })
        .collect()
}

#[test]
fn scans_return_the_oracles_rows_for_every_filter_order_offset_and_limit() {
    let sets: Vec<Vec<Event>> = vec![events(1, 120), events(2, 0), events(3, 90), events(4, 150)];
    let tables: Vec<MemTable> = sets.iter().map(|events| events_table(events)).collect();
    let table_sets: Vec<TableSet<'_>> = tables
        .iter()
        .map(|table| TableSet {
            events: Some(table as &dyn TableSource),
            rollup: None,
        })
        .collect();
    let mut checked = 0;
    for (filter, keep) in filters() {
        for order in [ScanOrder::None, ScanOrder::Ascending, ScanOrder::Descending] {
            for (offset, limit) in [
                (0, None),
                (0, Some(5)),
                (3, Some(4)),
                (7, None),
                (100, Some(30)),
                (0, Some(0)),
                (10_000, Some(1)),
            ] {
                let plan = plan(filter.clone(), order, offset, limit);
                let result = scan(&plan, &spec(), &table_sets).unwrap();
                assert_eq!(
                    result.columns,
                    ["__time", "host", "tags", "user", "status", "count", "bytes"]
                );
                let expected = oracle(&sets, &plan, keep);
                assert_eq!(result.rows, expected, "{plan:?}");
                checked += expected.len();
            }
        }
    }
    assert!(checked > 1000, "the fixture selects too little: {checked}");
}

#[test]
fn a_column_list_picks_orders_and_nulls_the_columns() {
    let events = events(5, 40);
    let table = events_table(&events);
    let sets = [TableSet {
        events: Some(&table),
        rollup: None,
    }];
    let mut plan = plan(None, ScanOrder::Ascending, 0, Some(3));
    plan.intervals = vec![Interval::new(T0, T0 + 3_600_000).unwrap()];
    plan.columns = Some(vec!["bytes".into(), "nope".into(), "host".into()]);
    let result = scan(&plan, &spec(), &sets).unwrap();
    assert_eq!(result.columns, ["bytes", "nope", "host"]);
    let mut sorted = events.clone();
    sorted.sort_by_key(|event| event.time);
    let expected: Vec<ScanRow> = sorted
        .iter()
        .take(3)
        .map(|event| {
            let all = event.values();
            ScanRow {
                time: event.time,
                values: vec![all[6].clone(), ScanValue::Null, all[1].clone()],
            }
        })
        .collect();
    assert_eq!(result.rows, expected);
}

/// A rollup table of the spec's rollup columns, one row per event (the
/// scan does not care whether rows were merged).
fn rollup_table(rows: &[(Millis, &str, i64)]) -> MemTable {
    let schema = TableSchema::new(vec![
        ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
        ColumnSchema::new("count", ColumnKind::Long),
        ColumnSchema::new("bytes", ColumnKind::Long),
        ColumnSchema::new(
            "users",
            ColumnKind::Complex {
                type_name: "HLLSketch".into(),
            },
        ),
    ])
    .unwrap();
    let mut builder = MemTableBuilder::new(TableKind::Rollup, schema);
    for (time, host, count) in rows {
        builder
            .append_row(
                *time,
                &[
                    CellValue::Str(host),
                    CellValue::Long(*count),
                    CellValue::Null,
                    CellValue::Bytes(&[1, 2]),
                ],
            )
            .unwrap();
    }
    builder.finish()
}

#[test]
fn a_set_is_read_through_its_events_table_and_only_without_one_through_its_rollup_table() {
    let events = vec![Event {
        time: T0 + 5 * 60_000,
        host: Some("a"),
        tags: vec!["x"],
        user: Some("u1".into()),
        status: Some(200),
        bytes: Some(10),
    }];
    let events = events_table(&events);
    let shadowed = rollup_table(&[(T0 + 5 * 60_000, "shadowed", 1)]);
    let rolled = rollup_table(&[(T0 + 4 * 60_000, "b", 3)]);
    let sets = [
        TableSet {
            events: Some(&events),
            rollup: Some(&shadowed),
        },
        TableSet {
            events: None,
            rollup: Some(&rolled),
        },
    ];
    let result = scan(&plan(None, ScanOrder::Descending, 0, None), &spec(), &sets).unwrap();
    assert_eq!(
        result.columns,
        [
            "__time", "host", "tags", "user", "status", "count", "bytes", "users"
        ]
    );
    let null = ScanValue::Null;
    assert_eq!(
        result.rows,
        [
            ScanRow {
                time: T0 + 5 * 60_000,
                values: vec![
                    ScanValue::Long(T0 + 5 * 60_000),
                    ScanValue::String("a".into()),
                    ScanValue::String("x".into()),
                    ScanValue::String("u1".into()),
                    ScanValue::Long(200),
                    ScanValue::Long(1),
                    ScanValue::Long(10),
                    null.clone(),
                ],
            },
            ScanRow {
                time: T0 + 4 * 60_000,
                values: vec![
                    ScanValue::Long(T0 + 4 * 60_000),
                    ScanValue::String("b".into()),
                    null.clone(),
                    null.clone(),
                    null.clone(),
                    ScanValue::Long(3),
                    null,
                    ScanValue::Bytes(vec![1, 2]),
                ],
            },
        ]
    );
}

/// A table that counts the columns, and the times, read from it.
struct Counting {
    table: MemTable,
    columns_read: AtomicUsize,
    times_read: AtomicUsize,
}

impl TableSource for Counting {
    fn kind(&self) -> TableKind {
        self.table.kind()
    }
    fn schema(&self) -> &TableSchema {
        self.table.schema()
    }
    fn rows(&self) -> usize {
        self.table.rows()
    }
    fn time_range(&self) -> Option<(Millis, Millis)> {
        self.table.time_range()
    }
    fn read_time(&self) -> Result<Vec<Millis>, TableError> {
        self.times_read.fetch_add(1, AtomicOrdering::Relaxed);
        self.table.read_time()
    }
    fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError> {
        self.columns_read.fetch_add(1, AtomicOrdering::Relaxed);
        self.table.read_column(name)
    }
}

impl Counting {
    fn of(events: &[Event]) -> Self {
        Counting {
            table: events_table(events),
            columns_read: AtomicUsize::new(0),
            times_read: AtomicUsize::new(0),
        }
    }
}

/// One set per table, each read through it as its events table.
fn counted_sets(tables: &[Counting]) -> Vec<TableSet<'_>> {
    tables
        .iter()
        .map(|table| TableSet {
            events: Some(table as &dyn TableSource),
            rollup: None,
        })
        .collect()
}

/// Each table's count in `counter`, reset to 0.
fn take_counts(tables: &[Counting], counter: fn(&Counting) -> &AtomicUsize) -> Vec<usize> {
    tables
        .iter()
        .map(|table| counter(table).swap(0, AtomicOrdering::Relaxed))
        .collect()
}

#[test]
fn a_limit_stops_reading_once_enough_rows_are_chosen() {
    let tables = [6, 7, 8].map(|seed| Counting::of(&events(seed, 50)));
    let sets = counted_sets(&tables);
    let reads = || take_counts(&tables, |table| &table.columns_read);

    let in_order = scan(&plan(None, ScanOrder::None, 2, Some(3)), &spec(), &sets).unwrap();
    assert_eq!(in_order.rows.len(), 3);
    assert_eq!(
        reads(),
        [5, 0, 0],
        "only the first table's columns are read"
    );

    // The newest rows: columns are read only from the tables holding them.
    let mut newest = plan(None, ScanOrder::Descending, 0, Some(1));
    newest.intervals = vec![Interval::new(T0, T0 + 3_600_000).unwrap()];
    let result = scan(&newest, &spec(), &sets).unwrap();
    assert_eq!(result.rows.len(), 1);
    assert_eq!(reads().iter().filter(|&&read| read > 0).count(), 1);
}

/// Tables of distinct hours: the newest (oldest) rows are certain once the
/// table that may hold them is read, and the other tables are not read.
#[test]
fn an_ordered_scan_reads_no_table_that_cannot_hold_the_rows_wanted() {
    let hour = 3_600_000;
    let shifted = |seed, hours: i64| -> Vec<Event> {
        events(seed, 40)
            .into_iter()
            .map(|event| Event {
                time: event.time.rem_euclid(hour) + T0 + hours * hour,
                ..event
            })
            .collect()
    };
    // Storage order is not time order.
    let sets = vec![
        shifted(12, 1),
        shifted(13, 3),
        shifted(14, 0),
        shifted(15, 2),
    ];
    let tables: Vec<Counting> = sets.iter().map(|events| Counting::of(events)).collect();
    let table_sets = counted_sets(&tables);
    let times_read = || take_counts(&tables, |table| &table.times_read);
    let mut whole = plan(None, ScanOrder::Descending, 0, Some(5));
    whole.intervals = vec![Interval::new(T0, T0 + 4 * hour).unwrap()];
    // A table holding returned rows reads its times twice: to select, and
    // for the rows' `__time`.
    for (order, offset, limit, read) in [
        (ScanOrder::Descending, 0, 5, [0, 2, 0, 0]),
        (ScanOrder::Ascending, 0, 5, [0, 0, 2, 0]),
        // Past the newest table's rows: the next newest is read too.
        (ScanOrder::Descending, 30, 15, [0, 2, 0, 2]),
    ] {
        let plan = ScanPlan {
            order,
            offset,
            limit: Some(limit),
            ..whole.clone()
        };
        let result = scan(&plan, &spec(), &table_sets).unwrap();
        assert_eq!(result.rows, oracle(&sets, &plan, |_| true), "{plan:?}");
        assert_eq!(times_read(), read, "{plan:?}");
    }
}

#[test]
fn ranking_many_rows_under_a_limit_keeps_the_best_ones_across_tables() {
    // More selected rows than the ranking holds before cutting back.
    let sets: Vec<Vec<Event>> = vec![events(9, 1500), events(10, 1500), events(11, 1500)];
    let tables: Vec<MemTable> = sets.iter().map(|events| events_table(events)).collect();
    let table_sets: Vec<TableSet<'_>> = tables
        .iter()
        .map(|table| TableSet {
            events: Some(table as &dyn TableSource),
            rollup: None,
        })
        .collect();
    for order in [ScanOrder::Ascending, ScanOrder::Descending] {
        for (offset, limit) in [(0, 1), (2, 7), (600, 700), (3000, 10)] {
            let plan = plan(None, order, offset, Some(limit));
            let result = scan(&plan, &spec(), &table_sets).unwrap();
            assert_eq!(result.rows, oracle(&sets, &plan, |_| true), "{plan:?}");
        }
    }
}

#[test]
fn an_events_tables_metrics_are_their_value_over_one_event() {
    let spec = DataSourceSpec::from_json(
        r#"{
        "dataSource": "web",
        "dimensionsSpec": {"dimensions": ["host"]},
        "metricsSpec": [
            {"type": "count", "name": "events"},
            {"type": "longSum", "name": "total", "fieldName": "size"},
            {"type": "doubleMax", "name": "slowest", "fieldName": "ms"},
            {"type": "HLLSketchBuild", "name": "users", "fieldName": "user"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": false}
    }"#,
    )
    .unwrap();
    let schema = TableSchema::new(vec![
        ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
        ColumnSchema::new("size", ColumnKind::Double),
        ColumnSchema::new("ms", ColumnKind::Long),
        ColumnSchema::new("user", ColumnKind::String { multi_value: false }),
    ])
    .unwrap();
    let mut builder = MemTableBuilder::new(TableKind::Events, schema);
    builder
        .append_row(
            T0 + 3 * 60_000,
            &[
                CellValue::Str("a"),
                CellValue::Double(-7.9),
                CellValue::Long(12),
                CellValue::Str("u1"),
            ],
        )
        .unwrap();
    let table = builder.finish();
    let sets = [TableSet {
        events: Some(&table),
        rollup: None,
    }];
    let result = scan(&plan(None, ScanOrder::None, 0, None), &spec, &sets).unwrap();
    assert_eq!(
        result.columns,
        ["__time", "host", "events", "total", "slowest", "users"]
    );
    assert_eq!(
        result.rows[0].values,
        [
            ScanValue::Long(T0 + 3 * 60_000),
            ScanValue::String("a".into()),
            ScanValue::Long(1),
            ScanValue::Long(-7),
            ScanValue::Double(12.0),
            ScanValue::String("u1".into()),
        ]
    );
    // Named in a column list, the metrics read the same; their inputs are
    // columns of their own.
    let mut listed = plan(None, ScanOrder::None, 0, None);
    listed.columns = Some(vec!["events".into(), "size".into(), "total".into()]);
    let result = scan(&listed, &spec, &sets).unwrap();
    assert_eq!(
        result.rows[0].values,
        [
            ScanValue::Long(1),
            ScanValue::Double(-7.9),
            ScanValue::Long(-7)
        ]
    );
}

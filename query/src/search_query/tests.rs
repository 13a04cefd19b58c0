//! Searches against an oracle that reads the events straight from a list:
//! every kind of match and sort, filters, buckets and limits, over sets with
//! an events table, with only a rollup table, and with both.

use std::collections::{BTreeMap, BTreeSet};

use strata_storage::segment::{CellValue, ColumnKind, ColumnSchema, TableKind, TableSchema};
use strata_storage::time::Interval;

use super::*;
use crate::mem_table::{MemTable, MemTableBuilder};
use crate::plan::Filter;

const SPEC: &str = r#"{
    "dataSource": "web",
    "dimensionsSpec": {"dimensions": [
        "host",
        "tags",
        {"type": "string", "name": "user", "rollup": false},
        {"type": "long", "name": "status"}
    ]},
    "metricsSpec": [{"type": "count", "name": "count"}],
    "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}
}"#;

/// 2024-01-01T00:00:00Z.
const T0: Millis = 1_704_067_200_000;
const MINUTE: Millis = 60_000;

fn spec() -> DataSourceSpec {
    DataSourceSpec::from_json(SPEC).unwrap()
}

#[derive(Debug, Clone)]
struct Event {
    time: Millis,
    host: Option<&'static str>,
    tags: Vec<&'static str>,
    user: Option<&'static str>,
    status: Option<i64>,
}

impl Event {
    /// The values of a dimension, as the oracle searches them; `in_rollup`:
    /// as a rollup table holds them (without `user`).
    fn values(&self, dimension: &str, in_rollup: bool) -> Vec<String> {
        match dimension {
            "host" => self.host.iter().map(|v| v.to_string()).collect(),
            "tags" => self.tags.iter().map(|v| v.to_string()).collect(),
            "user" if !in_rollup => self.user.iter().map(|v| v.to_string()).collect(),
            "status" => self.status.iter().map(|v| v.to_string()).collect(),
            _ => Vec::new(),
        }
    }
}

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
            time: T0 + next(30) as i64 * MINUTE,
            host: [
                None,
                Some("alpha"),
                Some("Beta"),
                Some("gamma10"),
                Some("gamma9"),
            ][next(5) as usize],
            tags: [
                vec![],
                vec!["blue"],
                vec!["blue", "Alpine"],
                vec!["red", "red"],
                vec!["a10", "a2"],
            ][next(5) as usize]
                .clone(),
            user: [None, Some("al"), Some("bob"), Some("carla")][next(4) as usize],
            status: [None, Some(200), Some(404), Some(1500)][next(4) as usize],
        })
        .collect()
}

fn schema(with_user: bool, with_count: bool) -> TableSchema {
    let mut columns = vec![
        ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
        ColumnSchema::new("tags", ColumnKind::String { multi_value: true }),
    ];
    if with_user {
        columns.push(ColumnSchema::new(
            "user",
            ColumnKind::String { multi_value: false },
        ));
    }
    columns.push(ColumnSchema::new("status", ColumnKind::Long));
    if with_count {
        columns.push(ColumnSchema::new("count", ColumnKind::Long));
    }
    TableSchema::new(columns).unwrap()
}

fn text(value: Option<&'static str>) -> CellValue<'static> {
    value.map_or(CellValue::Null, CellValue::Str)
}

fn long(value: Option<i64>) -> CellValue<'static> {
    value.map_or(CellValue::Null, CellValue::Long)
}

fn events_table(events: &[Event]) -> MemTable {
    let mut builder = MemTableBuilder::new(TableKind::Events, schema(true, false));
    for event in events {
        builder
            .append_row(
                event.time,
                &[
                    text(event.host),
                    CellValue::Strs(&event.tags),
                    text(event.user),
                    long(event.status),
                ],
            )
            .unwrap();
    }
    builder.finish()
}

/// The events rolled up by (time, host, tags, status), with their count.
fn rollup_table(events: &[Event]) -> MemTable {
    type Key = (Millis, Option<&'static str>, Vec<&'static str>, Option<i64>);
    let mut groups: BTreeMap<Key, i64> = BTreeMap::new();
    for event in events {
        let key = (event.time, event.host, event.tags.clone(), event.status);
        *groups.entry(key).or_insert(0) += 1;
    }
    let mut builder = MemTableBuilder::new(TableKind::Rollup, schema(false, true));
    for ((time, host, tags, status), count) in &groups {
        builder
            .append_row(
                *time,
                &[
                    text(*host),
                    CellValue::Strs(tags),
                    long(*status),
                    CellValue::Long(*count),
                ],
            )
            .unwrap();
    }
    builder.finish()
}

/// The events of three sets: events and rollup, rollup only, events only.
struct Fixture {
    parts: [Vec<Event>; 3],
    tables: Vec<(Option<MemTable>, Option<MemTable>)>,
}

impl Fixture {
    fn new(seed: u64) -> Self {
        let parts = [
            events(seed, 300),
            events(seed + 1, 200),
            events(seed + 2, 100),
        ];
        let tables = vec![
            (Some(events_table(&parts[0])), Some(rollup_table(&parts[0]))),
            (None, Some(rollup_table(&parts[1]))),
            (Some(events_table(&parts[2])), None),
        ];
        Fixture { parts, tables }
    }

    fn search(&self, plan: &SearchPlan) -> Vec<SearchBucket> {
        let sets: Vec<TableSet<'_>> = self
            .tables
            .iter()
            .map(|(events, rollup)| TableSet {
                events: events.as_ref().map(|t| t as &dyn TableSource),
                rollup: rollup.as_ref().map(|t| t as &dyn TableSource),
            })
            .collect();
        search(plan, &spec(), &sets).unwrap()
    }

    /// The answer computed from the events themselves.
    fn oracle(&self, plan: &SearchPlan, keep: fn(&Event) -> bool) -> Vec<SearchBucket> {
        let dimensions: Vec<GroupKey> = plan.dimensions.clone().unwrap_or_else(|| {
            ["host", "tags", "user"]
                .iter()
                .map(|name| key(name, name))
                .collect()
        });
        let start = plan.intervals.iter().map(|i| i.start()).min().unwrap();
        let mut counts: BTreeMap<Millis, BTreeMap<(String, String), i64>> = BTreeMap::new();
        for (part, in_rollup) in self.parts.iter().zip([false, true, false]) {
            for event in part {
                if !plan.intervals.iter().any(|i| i.contains(event.time)) || !keep(event) {
                    continue;
                }
                let bucket = match plan.granularity {
                    Granularity::All => start,
                    granularity => granularity.truncate(event.time),
                };
                for dimension in &dimensions {
                    let values: BTreeSet<String> = event
                        .values(&dimension.column, in_rollup)
                        .into_iter()
                        .filter(|value| oracle_matches(&plan.matching, value))
                        .collect();
                    for value in values {
                        *counts
                            .entry(bucket)
                            .or_default()
                            .entry((dimension.output_name.clone(), value))
                            .or_insert(0) += 1;
                    }
                }
            }
        }
        counts
            .into_iter()
            .map(|(timestamp, hits)| {
                let mut hits: Vec<SearchHit> = hits
                    .into_iter()
                    .map(|((dimension, value), count)| SearchHit {
                        dimension,
                        value,
                        count,
                    })
                    .collect();
                hits.sort_by(|a, b| compare_hits(plan.sort, a, b));
                hits.truncate(plan.limit);
                SearchBucket { timestamp, hits }
            })
            .collect()
    }
}

fn oracle_matches(matching: &SearchMatch, value: &str) -> bool {
    let (fragments, case_sensitive) = match matching {
        SearchMatch::Contains {
            text,
            case_sensitive,
        } => (std::slice::from_ref(text), *case_sensitive),
        SearchMatch::Fragments {
            fragments,
            case_sensitive,
        } => (fragments.as_slice(), *case_sensitive),
    };
    fragments.iter().all(|fragment| {
        if case_sensitive {
            value.contains(fragment.as_str())
        } else {
            value.to_lowercase().contains(&fragment.to_lowercase())
        }
    })
}

fn key(column: &str, output_name: &str) -> GroupKey {
    GroupKey {
        column: column.into(),
        output_name: output_name.into(),
    }
}

fn contains(text: &str, case_sensitive: bool) -> SearchMatch {
    SearchMatch::Contains {
        text: text.into(),
        case_sensitive,
    }
}

fn plan(matching: SearchMatch) -> SearchPlan {
    SearchPlan {
        datasource: "web".into(),
        intervals: vec![Interval::new(T0 + 3 * MINUTE, T0 + 27 * MINUTE).unwrap()],
        filter: None,
        granularity: Granularity::All,
        dimensions: None,
        matching,
        sort: SearchSort::Lexicographic,
        limit: 1000,
    }
}

#[test]
fn every_match_counts_the_events_holding_each_matching_value() {
    let fixture = Fixture::new(3);
    let matches = [
        contains("a", true),
        contains("A", true),
        contains("A", false),
        contains("", true),
        contains("zzz", false),
        contains("0", true),
        SearchMatch::Fragments {
            fragments: vec!["a".into(), "L".into()],
            case_sensitive: false,
        },
        SearchMatch::Fragments {
            fragments: vec!["a".into(), "l".into()],
            case_sensitive: true,
        },
        SearchMatch::Fragments {
            fragments: Vec::new(),
            case_sensitive: true,
        },
    ];
    for matching in matches {
        let plan = plan(matching);
        assert_eq!(
            fixture.search(&plan),
            fixture.oracle(&plan, |_| true),
            "{plan:?}"
        );
    }
}

#[test]
fn filters_buckets_dimensions_sorts_and_limits_agree_with_the_oracle() {
    let fixture = Fixture::new(11);
    type Keep = fn(&Event) -> bool;
    let filters: [(Option<Filter>, Keep); 3] = [
        (None, |_| true),
        (
            Some(Filter::Equals {
                column: "host".into(),
                value: Some("alpha".into()),
            }),
            |e| e.host == Some("alpha"),
        ),
        (
            Some(Filter::Not(Box::new(Filter::Equals {
                column: "tags".into(),
                value: Some("blue".into()),
            }))),
            |e| !e.tags.is_empty() && !e.tags.contains(&"blue"),
        ),
    ];
    let dimension_lists = [
        None,
        Some(vec![key("tags", "labels"), key("status", "status")]),
        Some(vec![key("user", "user"), key("missing", "missing")]),
    ];
    for (filter, keep) in &filters {
        for dimensions in &dimension_lists {
            for granularity in [Granularity::All, Granularity::TEN_MINUTE] {
                for sort in [
                    SearchSort::Lexicographic,
                    SearchSort::Strlen,
                    SearchSort::Alphanumeric,
                ] {
                    for limit in [1000, 3] {
                        let plan = SearchPlan {
                            filter: filter.clone(),
                            dimensions: dimensions.clone(),
                            granularity,
                            sort,
                            limit,
                            ..plan(contains("a", false))
                        };
                        assert_eq!(
                            fixture.search(&plan),
                            fixture.oracle(&plan, *keep),
                            "{plan:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_multi_value_row_counts_once_per_distinct_value() {
    let event = |tags: Vec<&'static str>| Event {
        time: T0 + 5 * MINUTE,
        host: None,
        tags,
        user: None,
        status: None,
    };
    let table = events_table(&[event(vec!["red", "red"]), event(vec!["red", "rose"])]);
    let sets = [TableSet {
        events: Some(&table),
        rollup: None,
    }];
    let answer = search(&plan(contains("r", true)), &spec(), &sets).unwrap();
    let hit = |value: &str, count| SearchHit {
        dimension: "tags".into(),
        value: value.into(),
        count,
    };
    assert_eq!(
        answer,
        vec![SearchBucket {
            timestamp: T0 + 3 * MINUTE,
            hits: vec![hit("red", 2), hit("rose", 1)],
        }]
    );
}

#[test]
fn nothing_in_the_intervals_gives_no_bucket() {
    let fixture = Fixture::new(5);
    let plan = SearchPlan {
        intervals: vec![Interval::new(T0 - 10 * MINUTE, T0).unwrap()],
        ..plan(contains("", true))
    };
    assert_eq!(fixture.search(&plan), Vec::new());
}

#[test]
fn sorts_order_values_then_dimensions() {
    let hit = |dimension: &str, value: &str| SearchHit {
        dimension: dimension.into(),
        value: value.into(),
        count: 1,
    };
    let sorted = |sort: SearchSort, mut hits: Vec<SearchHit>| {
        hits.sort_by(|a, b| compare_hits(sort, a, b));
        hits.iter()
            .map(|hit| format!("{}:{}", hit.dimension, hit.value))
            .collect::<Vec<_>>()
    };
    let hits = vec![
        hit("b", "a10"),
        hit("a", "a10"),
        hit("a", "a9"),
        hit("a", "b"),
        hit("a", "a010"),
    ];
    assert_eq!(
        sorted(SearchSort::Lexicographic, hits.clone()),
        ["a:a010", "a:a10", "b:a10", "a:a9", "a:b"]
    );
    assert_eq!(
        sorted(SearchSort::Strlen, hits.clone()),
        ["a:b", "a:a9", "a:a10", "b:a10", "a:a010"]
    );
    assert_eq!(
        sorted(SearchSort::Alphanumeric, hits),
        ["a:a9", "a:a010", "a:a10", "b:a10", "a:b"]
    );
}

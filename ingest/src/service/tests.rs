use std::sync::atomic::AtomicBool;

use strata_storage::catalog::{DataSourceState, FileCatalog, PublishOutcome, SegmentId, Version};

use super::*;

const SPEC: &str = r#"{"dataSource": "web",
  "timestampSpec": {"column": "ts", "format": "millis"},
  "dimensionsSpec": {"dimensions": ["host", {"type": "long", "name": "status"}]},
  "metricsSpec": [{"type": "count", "name": "count"}, {"type": "longSum", "name": "bytes", "fieldName": "bytes"}],
  "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}}"#;

const JAN_1: i64 = 1_704_067_200_000;

/// A [`FileCatalog`] whose publishes fail while `fail_publish` is set.
struct FlakyCatalog {
    inner: FileCatalog,
    fail_publish: AtomicBool,
}

impl Catalog for FlakyCatalog {
    fn create_datasource(
        &self,
        spec: DataSourceSpec,
    ) -> Result<Arc<DataSourceState>, CatalogError> {
        self.inner.create_datasource(spec)
    }
    fn update_spec(
        &self,
        name: &str,
        spec: DataSourceSpec,
    ) -> Result<Arc<DataSourceState>, CatalogError> {
        self.inner.update_spec(name, spec)
    }
    fn drop_datasource(&self, name: &str) -> Result<Vec<SegmentDescriptor>, CatalogError> {
        self.inner.drop_datasource(name)
    }
    fn datasource_names(&self) -> Vec<String> {
        self.inner.datasource_names()
    }
    fn datasource(&self, name: &str) -> Option<Arc<DataSourceState>> {
        self.inner.datasource(name)
    }
    fn publish(&self, name: &str, request: Publish) -> Result<PublishOutcome, CatalogError> {
        if self.fail_publish.load(Ordering::SeqCst) {
            return Err(CatalogError::UnknownDatasource {
                name: name.to_owned(),
            });
        }
        self.inner.publish(name, request)
    }
    fn segment_dir(&self, id: &SegmentId) -> PathBuf {
        self.inner.segment_dir(id)
    }
    fn new_version(&self) -> Result<Version, CatalogError> {
        self.inner.new_version()
    }
}

fn spec() -> DataSourceSpec {
    DataSourceSpec::from_json(SPEC).unwrap()
}

/// `count` events over two days, `hosts` distinct hosts per minute.
fn body(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|i| {
            let ts = JAN_1 + (i as i64 % 2) * 86_400_000 + (i as i64 % 5) * 60_000;
            format!(
                "{{\"ts\": {ts}, \"host\": \"h{}\", \"status\": 200, \"bytes\": {i}}}\n",
                i % 3
            )
        })
        .collect()
}

fn open(dir: &Path, catalog: Arc<dyn Catalog>) -> IngestService {
    IngestService::open(dir, catalog, IngestOptions::default()).unwrap()
}

#[test]
fn ingest_reports_every_bad_line_and_keeps_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog);
    service.create_datasource(spec()).unwrap();
    let body = format!(
        "{}not json\n\n{{\"host\": \"a\"}}\n{{\"ts\": {JAN_1}, \"status\": \"ok\"}}\n",
        body(3, 0)
    );
    let report = service.ingest("web", body.as_bytes(), None).unwrap();
    assert_eq!(report.accepted, 3);
    assert_eq!(report.rejected, 3);
    let lines: Vec<usize> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 6, 7]);
    assert!(report.errors[1].message.contains("timestamp"));
    assert_eq!(service.realtime_stats("web").unwrap().events, 3);
    assert!(matches!(
        service.ingest("nope", b"{}", None),
        Err(IngestError::UnknownDatasource { .. })
    ));
}

#[test]
fn replay_skips_what_the_catalog_says_is_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog.clone());
    service.create_datasource(spec()).unwrap();
    service.ingest("web", body(40, 0).as_bytes(), None).unwrap();
    let persisted = service.persist("web").unwrap();
    assert_eq!(persisted.persisted_through, Some(SequenceNumber(40)));
    assert_eq!(persisted.segments.len(), 2);
    assert_eq!(
        service.realtime_stats("web").unwrap(),
        RealtimeStats::default()
    );
    service
        .ingest("web", body(10, 40).as_bytes(), None)
        .unwrap();
    drop(service);

    // A crash between the publish and the truncation: the WAL still holds
    // the persisted records, the catalog says they are persisted.
    let wal = wal_dir(dir.path(), "web");
    let (reopened, replay) = Wal::open(&wal, WalOptions::default()).unwrap();
    assert_eq!(replay.count(), 10);
    drop(reopened);
    let copy = tempfile::tempdir().unwrap();
    let unpersisted = Wal::open(copy.path(), WalOptions::default()).unwrap().0;
    let mut batch = Batch::new();
    for line in body(50, 0).lines() {
        batch.push(line.as_bytes()).unwrap();
    }
    unpersisted.append(batch).unwrap();
    drop(unpersisted);
    std::fs::remove_dir_all(&wal).unwrap();
    std::fs::create_dir_all(&wal).unwrap();
    for entry in std::fs::read_dir(copy.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), wal.join(entry.file_name())).unwrap();
    }

    let service = open(dir.path(), catalog.clone());
    let realtime = service.realtime_stats("web").unwrap();
    assert_eq!(realtime.events, 10);
    let published: u64 = catalog
        .datasource("web")
        .unwrap()
        .segments
        .iter()
        .map(|s| s.rows)
        .sum();
    assert!(published > 0);
    // The persisted records were truncated on open: replay sees only the rest.
    drop(service);
    let (_wal, replay) = Wal::open(&wal, WalOptions::default()).unwrap();
    assert_eq!(replay.count(), 10);
}

#[test]
fn a_failed_persist_keeps_the_chunks_and_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Arc::new(FlakyCatalog {
        inner: FileCatalog::open(dir.path()).unwrap(),
        fail_publish: AtomicBool::new(true),
    });
    let service = open(dir.path(), catalog.clone());
    service.create_datasource(spec()).unwrap();
    service.ingest("web", body(30, 0).as_bytes(), None).unwrap();
    let before = service.realtime_stats("web").unwrap();
    assert!(service.persist("web").is_err());
    assert_eq!(service.realtime_stats("web").unwrap(), before);
    assert!(catalog.datasource("web").unwrap().segments.is_empty());
    assert_eq!(service.stats()["web"].persists, 0);

    catalog.fail_publish.store(false, Ordering::SeqCst);
    let outcome = service.persist("web").unwrap();
    assert_eq!(
        outcome.segments.iter().map(|s| s.rows).sum::<u64>(),
        before.rollup_rows
    );
    drop(service);
    // Nothing of the failed attempt was lost or doubled by the retry.
    let service = open(dir.path(), catalog.clone());
    assert_eq!(service.realtime_stats("web").unwrap().events, 0);
    assert_eq!(catalog.datasource("web").unwrap().segments.len(), 2);
}

#[test]
fn drop_removes_the_wal_and_create_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog);
    service.create_datasource(spec()).unwrap();
    service.ingest("web", body(5, 0).as_bytes(), None).unwrap();
    service.drop_datasource("web").unwrap();
    assert!(!wal_dir(dir.path(), "web").exists());
    assert!(service.realtime_stats("web").is_none());
    service.create_datasource(spec()).unwrap();
    assert_eq!(service.realtime_stats("web").unwrap().events, 0);
}

#[test]
fn a_datasource_over_its_row_budget_is_due_for_persist() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let options = IngestOptions {
        max_realtime_rows: 10,
        ..IngestOptions::default()
    };
    let service = IngestService::open(dir.path(), catalog, options).unwrap();
    service.create_datasource(spec()).unwrap();
    service.ingest("web", body(4, 0).as_bytes(), None).unwrap();
    assert!(service.due_for_persist().is_empty());
    service.ingest("web", body(40, 4).as_bytes(), None).unwrap();
    assert_eq!(
        service.due_for_persist(),
        [("web".to_owned(), PersistScope::All)]
    );
}

const HOUR: i64 = 3_600_000;

/// Events alternating between Jan 1 2024 and two days from now, so that the
/// records of the two chunks interleave in the WAL.
fn interleaved(count: usize, first: usize, now: Millis) -> String {
    (first..first + count)
        .map(|i| {
            let ts = if i % 2 == 0 { JAN_1 } else { now + 48 * HOUR };
            format!("{{\"ts\": {ts}, \"host\": \"h{i}\", \"bytes\": 1}}\n")
        })
        .collect()
}

#[test]
fn a_closed_chunk_is_handed_off_alone_and_replay_keeps_the_open_one() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog.clone());
    service.create_datasource(spec()).unwrap();
    let now = wall_clock_now();
    service
        .ingest("web", interleaved(40, 0, now).as_bytes(), None)
        .unwrap();
    assert!(
        service.due_for_persist().is_empty(),
        "a chunk closes a window after its first event, however old its interval"
    );

    let later = now + 11 * 60_000;
    let outcome = service
        .persist_scope("web", PersistScope::ClosedAt(later))
        .unwrap();
    assert_eq!(outcome.segments.len(), 1);
    assert_eq!(outcome.segments[0].id.interval().start(), JAN_1);
    assert_eq!(outcome.segments[0].rows, 20);
    assert_eq!(
        outcome.persisted_through,
        Some(SequenceNumber(1)),
        "the open chunk's first record is 2"
    );
    assert_eq!(service.realtime_stats("web").unwrap().events, 20);

    // Late events for the handed-off day open a new chunk there.
    service
        .ingest("web", interleaved(4, 40, now).as_bytes(), None)
        .unwrap();
    drop(service);
    let service = open(dir.path(), catalog.clone());
    assert_eq!(
        service.realtime_stats("web").unwrap().events,
        24,
        "replay skips the handed-off chunk's records and keeps the rest"
    );

    let outcome = service.persist("web").unwrap();
    let ids: Vec<(Millis, u32)> = outcome
        .segments
        .iter()
        .map(|s| (s.id.interval().start(), s.id.partition()))
        .collect();
    assert!(
        ids.contains(&(JAN_1, 1)),
        "the late events are partition 1: {ids:?}"
    );
    drop(service);
    // Reopened with no handoff window, so Jan 1 is settled at once.
    let options = IngestOptions {
        handoff_window: Duration::ZERO,
        ..IngestOptions::default()
    };
    let service = IngestService::open(dir.path(), catalog.clone(), options).unwrap();
    assert_eq!(service.realtime_stats("web").unwrap().events, 0);
    let rows: u64 = catalog
        .datasource("web")
        .unwrap()
        .segments
        .iter()
        .map(|s| s.rows)
        .sum();
    assert_eq!(rows, 44);

    // Compaction merges the two partitions of Jan 1 into one newer segment.
    assert_eq!(service.due_for_compaction(), ["web"]);
    let compacted = service.compact("web").unwrap();
    assert_eq!(compacted.len(), 1);
    assert_eq!(compacted[0].rows, 22);
    let segments = catalog.datasource("web").unwrap().segments.clone();
    let jan_1: Vec<_> = segments
        .iter()
        .filter(|s| s.id.interval().start() == JAN_1)
        .collect();
    assert_eq!(jan_1.len(), 1);
    assert_eq!(jan_1[0].id, compacted[0].id);
    assert_eq!(segments.iter().map(|s| s.rows).sum::<u64>(), 44);
    assert!(service.due_for_compaction().is_empty());
    assert_eq!(service.stats()["web"].compactions, 1);
}

#[test]
fn ingest_goes_on_during_persists_and_every_event_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = Arc::new(open(dir.path(), catalog.clone()));
    let raw = SPEC.replace(r#""rollup": true"#, r#""rollup": false"#);
    service
        .create_datasource(DataSourceSpec::from_json(&raw).unwrap())
        .unwrap();
    let persister = {
        let service = service.clone();
        std::thread::spawn(move || {
            let mut persists = 0;
            while service.stats()["web"].accepted < 3_000 {
                persists += usize::from(!service.persist("web").unwrap().segments.is_empty());
            }
            persists
        })
    };
    let mut accepted = 0;
    for request in 0..30 {
        let report = service
            .ingest("web", body(100, request * 100).as_bytes(), None)
            .unwrap();
        accepted += report.accepted;
    }
    assert!(persister.join().unwrap() > 0);
    service.persist("web").unwrap();
    drop(service);
    let service = open(dir.path(), catalog.clone());
    assert_eq!(service.realtime_stats("web").unwrap().events, 0);
    let stored: u64 = catalog
        .datasource("web")
        .unwrap()
        .segments
        .iter()
        .map(|s| s.rows)
        .sum();
    assert_eq!(stored, accepted);
}

#[test]
fn events_outside_the_accepted_window_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let options = IngestOptions {
        late_message_rejection: Some(Duration::from_secs(3600)),
        ..IngestOptions::default()
    };
    let service = IngestService::open(dir.path(), catalog, options).unwrap();
    service.create_datasource(spec()).unwrap();
    let now = wall_clock_now();
    let body =
        format!("{{\"ts\": {now}, \"host\": \"a\"}}\n{{\"ts\": {JAN_1}, \"host\": \"b\"}}\n");
    let report = service.ingest("web", body.as_bytes(), None).unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 1));
    assert_eq!(report.errors[0].line, 2);
    assert!(
        report.errors[0]
            .message
            .contains("older than the accepted window"),
        "{}",
        report.errors[0].message
    );
}

#[test]
fn a_datasource_over_its_byte_budget_refuses_ingests_until_a_persist() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let options = IngestOptions {
        max_realtime_bytes: 1,
        persist_period: Duration::from_secs(3600),
        ..IngestOptions::default()
    };
    let service = Arc::new(IngestService::open(dir.path(), catalog, options).unwrap());
    service.create_datasource(spec()).unwrap();
    // The index was under budget when the body came, so all of it is taken.
    let report = service.ingest("web", body(10, 0).as_bytes(), None).unwrap();
    assert_eq!(report.accepted, 10);
    match service.ingest("web", body(10, 10).as_bytes(), None) {
        Err(IngestError::OverBudget {
            datasource, budget, ..
        }) => assert_eq!((datasource.as_str(), budget), ("web", 1)),
        other => panic!("expected OverBudget, got {other:?}"),
    }
    assert_eq!(service.realtime_stats("web").unwrap().events, 10);

    // The refusal woke the persister long before its hour-long check.
    service.start_persister(Duration::from_secs(3600)).unwrap();
    let refused = service.ingest("web", body(10, 10).as_bytes(), None);
    assert!(matches!(refused, Err(IngestError::OverBudget { .. })));
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.realtime_stats("web").unwrap().events > 0 {
        assert!(Instant::now() < deadline, "the persister was not woken");
        std::thread::sleep(Duration::from_millis(10));
    }
    let report = service
        .ingest("web", body(10, 10).as_bytes(), None)
        .unwrap();
    assert_eq!(report.accepted, 10);
}

#[test]
fn schema_discovery_widens_the_spec_the_index_and_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog.clone());
    let discovering = r#"{"dataSource": "logs",
      "timestampSpec": {"column": "ts", "format": "millis"},
      "metricsSpec": [{"type": "count", "name": "count"}],
      "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none"}}"#;
    service
        .create_datasource(DataSourceSpec::from_json(discovering).unwrap())
        .unwrap();
    let first = format!("{{\"ts\": {JAN_1}, \"host\": \"a\"}}\n");
    assert_eq!(
        service
            .ingest("logs", first.as_bytes(), None)
            .unwrap()
            .accepted,
        1
    );
    let second = format!(
        "{{\"ts\": {JAN_1}, \"host\": \"b\", \"req\": {{\"status\": 404}}}}\n{{\"ts\": {JAN_1}, \"host\": \"a\"}}\n"
    );
    let report = service.ingest("logs", second.as_bytes(), None).unwrap();
    assert_eq!((report.accepted, report.rejected), (2, 0), "{report:?}");

    let spec = catalog.datasource("logs").unwrap().spec.clone();
    let stored: Vec<(&str, &str)> = spec
        .dimensions()
        .iter()
        .map(|d| (d.name(), d.type_name()))
        .collect();
    assert_eq!(stored, [("host", "string"), ("req.status", "long")]);
    assert!(spec.is_schema_discovery());
    assert_eq!(service.realtime_stats("logs").unwrap().rollup_rows, 2);

    // The WAL replays with the stored spec: the same rows come back.
    drop(service);
    let service = open(dir.path(), catalog.clone());
    let realtime = service.realtime_stats("logs").unwrap();
    assert_eq!((realtime.events, realtime.rollup_rows), (3, 2));
    let outcome = service.persist("logs").unwrap();
    let segment =
        strata_storage::segment::Segment::open(&catalog.segment_dir(&outcome.segments[0].id))
            .unwrap();
    let table = segment
        .table(strata_storage::segment::TableKind::Rollup)
        .unwrap();
    assert!(table.column("req.status").is_some());
    assert_eq!(table.rows(), 2);
}

#[test]
fn a_rejected_event_discovers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let options = IngestOptions {
        late_message_rejection: Some(Duration::from_secs(3600)),
        ..IngestOptions::default()
    };
    let service = IngestService::open(dir.path(), catalog.clone(), options).unwrap();
    service
        .create_datasource(DataSourceSpec::from_json(r#"{"dataSource": "logs"}"#).unwrap())
        .unwrap();
    let body = format!("{{\"timestamp\": {JAN_1}, \"secret\": \"x\"}}\n");
    let report = service.ingest("logs", body.as_bytes(), None).unwrap();
    assert_eq!(report.rejected, 1);
    assert!(
        catalog
            .datasource("logs")
            .unwrap()
            .spec
            .dimensions()
            .is_empty()
    );
}

#[test]
fn the_persist_period_counts_from_the_oldest_event_held() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let options = IngestOptions {
        persist_period: Duration::from_millis(300),
        ..IngestOptions::default()
    };
    let service = IngestService::open(dir.path(), catalog, options).unwrap();
    service.create_datasource(spec()).unwrap();
    let now = wall_clock_now();
    service
        .ingest("web", interleaved(2, 0, now).as_bytes(), None)
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // A handoff of the old chunk alone leaves the other one as old as it was.
    service
        .persist_scope("web", PersistScope::ClosedAt(now + 3_600_000))
        .unwrap();
    assert_eq!(service.realtime_stats("web").unwrap().events, 1);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        service.due_for_persist(),
        [("web".to_owned(), PersistScope::All)]
    );
}

#[test]
fn a_read_view_holds_every_event_once_before_and_after_a_persist() {
    use strata_query::segment_table::SegmentTable;
    use strata_query::table::{ColumnValues, TableSource};
    use strata_storage::segment::{Segment, TableKind};

    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog.clone());
    service.create_datasource(spec()).unwrap();
    // The oracle: what was acknowledged, summed line by line.
    let ingest = |first: usize| -> (i64, i64) {
        let report = service
            .ingest("web", body(50, first).as_bytes(), None)
            .unwrap();
        assert_eq!(report.accepted, 50);
        (50, (first..first + 50).map(|i| i as i64).sum::<i64>())
    };
    let sums = |view: &strata_query::snapshot::DataSourceSnapshot| -> (i64, i64) {
        let segments: Vec<Segment> = view
            .state
            .segments
            .iter()
            .map(|s| Segment::open(&catalog.segment_dir(&s.id)).unwrap())
            .collect();
        let mut tables: Vec<Box<dyn TableSource + '_>> = view
            .realtime
            .iter()
            .flat_map(|chunk| chunk.events.iter().chain(&chunk.rollup))
            .map(|table| Box::new(table.clone()) as Box<dyn TableSource>)
            .collect();
        tables.extend(segments.iter().map(|segment| {
            Box::new(SegmentTable::new(segment.table(TableKind::Rollup).unwrap()))
                as Box<dyn TableSource + '_>
        }));
        let total = |name: &str| -> i64 {
            tables
                .iter()
                .filter(|table| table.kind() == TableKind::Rollup)
                .map(|table| match table.read_column(name).unwrap() {
                    Some(ColumnValues::Long(values)) => values.iter().flatten().sum::<i64>(),
                    other => panic!("{name}: {other:?}"),
                })
                .sum()
        };
        (total("count"), total("bytes"))
    };

    let first = ingest(0);
    let view = service.read_view("web").unwrap();
    assert!(view.state.segments.is_empty());
    assert_eq!(sums(&view), first);
    service.persist("web").unwrap();
    let second = ingest(50);
    let view = service.read_view("web").unwrap();
    assert!(!view.state.segments.is_empty() && !view.realtime.is_empty());
    assert_eq!(sums(&view), (first.0 + second.0, first.1 + second.1));
}

#[test]
fn read_views_share_a_chunks_tables_until_the_chunk_changes() {
    use strata_query::table::TableSource;

    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog);
    service.create_datasource(spec()).unwrap();
    service.ingest("web", body(10, 0).as_bytes(), None).unwrap();
    let rows = |view: &DataSourceSnapshot| -> usize {
        view.realtime
            .iter()
            .filter_map(|chunk| chunk.rollup.as_ref())
            .map(|table| table.rows())
            .sum()
    };
    let first = service.read_view("web").unwrap();
    let again = service.read_view("web").unwrap();
    assert_eq!(first.realtime.len(), 2);
    for (a, b) in first.realtime.iter().zip(&again.realtime) {
        assert!(Arc::ptr_eq(a, b), "an unchanged chunk is built once");
    }
    // An event into the second day changes that chunk only.
    let line = format!(
        "{{\"ts\": {}, \"host\": \"new\", \"status\": 200, \"bytes\": 1}}\n",
        JAN_1 + 86_400_000
    );
    service.ingest("web", line.as_bytes(), None).unwrap();
    let after = service.read_view("web").unwrap();
    assert_eq!(
        rows(&after),
        rows(&first) + 1,
        "the next view sees the event"
    );
    let shared = first
        .realtime
        .iter()
        .zip(&after.realtime)
        .filter(|(a, b)| Arc::ptr_eq(a, b))
        .count();
    assert_eq!(shared, 1);
}

#[test]
fn a_scan_by_time_opens_only_the_segments_that_can_hold_its_rows() {
    use strata_query::plan::{Filter, ScanOrder, ScanPlan};
    use strata_query::query_limits::QueryLimits;

    let raw = SPEC.replace(r#""rollup": true"#, r#""rollup": false"#);
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir.path()).unwrap());
    let service = open(dir.path(), catalog.clone());
    service
        .create_datasource(DataSourceSpec::from_json(&raw).unwrap())
        .unwrap();
    // Ten events a day over five days; the one on host `needle` on the first.
    let days = 5;
    let lines: String = (0..days * 10)
        .map(|i| {
            let ts = JAN_1 + (i / 10) * 86_400_000 + (i % 10) * 1_000;
            let host = if i == 3 { "needle" } else { "h" };
            format!("{{\"ts\": {ts}, \"host\": \"{host}\", \"status\": 200, \"bytes\": {i}}}\n")
        })
        .collect();
    service.ingest("web", lines.as_bytes(), None).unwrap();
    service.persist("web").unwrap();
    let plan = |order, limit, filter| ScanPlan {
        datasource: "web".into(),
        intervals: vec![Interval::ETERNITY],
        filter,
        columns: Some(vec!["__time".into(), "bytes".into()]),
        order,
        limit: Some(limit),
        offset: 0,
    };
    let scan = |plan: &ScanPlan| {
        let view = service.read_view("web").unwrap();
        assert_eq!(view.state.segments.len(), days as usize);
        view.open_segments.retain(std::iter::empty());
        let result = view
            .scan(plan, catalog.as_ref(), &QueryLimits::unlimited())
            .unwrap();
        (result, view.open_segments.len())
    };

    let (newest, opened) = scan(&plan(ScanOrder::Descending, 3, None));
    let times: Vec<Millis> = newest.rows.iter().map(|row| row.time).collect();
    let last_day = JAN_1 + (days - 1) * 86_400_000;
    assert_eq!(
        times,
        [last_day + 9_000, last_day + 8_000, last_day + 7_000]
    );
    assert_eq!((opened, newest.complete, newest.matched), (1, false, 10));

    let (oldest, opened) = scan(&plan(ScanOrder::Ascending, 12, None));
    assert_eq!(
        oldest.rows.last().map(|row| row.time),
        Some(JAN_1 + 86_400_000 + 1_000)
    );
    assert_eq!((opened, oldest.complete), (2, false));

    // A needle in the oldest segment: every segment is read, the count exact.
    let needle = Filter::Equals {
        column: "host".into(),
        value: Some("needle".into()),
    };
    let (found, opened) = scan(&plan(ScanOrder::Descending, 3, Some(needle)));
    assert_eq!(found.rows.len(), 1);
    assert_eq!(found.rows[0].time, JAN_1 + 3_000);
    assert_eq!(
        (opened, found.complete, found.matched),
        (days as usize, true, 1)
    );
}

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use tempfile::TempDir;

use super::{CrashPoint, FileCatalog};
use crate::catalog::test_support::{segment, spec};
use crate::catalog::{
    Catalog, CatalogError, DataSourceState, FileProblem, Publish, PublishOutcome, PublishRejection,
    SegmentDescriptor, SegmentId, Version,
};
use crate::spec::{DataSourceName, DataSourceSpec, SpecProblem};
use crate::time::Interval;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Writes a segment's files where the catalog wants them, as a segment writer would.
fn write_files(catalog: &FileCatalog, segment: &SegmentDescriptor) {
    let dir = catalog.segment_dir(&segment.id);
    std::fs::create_dir_all(dir.join("index")).unwrap();
    std::fs::write(dir.join("columns.bin"), b"columns").unwrap();
    std::fs::write(dir.join("index").join("meta.json"), b"{}").unwrap();
}

/// Writes the files of `segments`, then publishes them.
fn publish(
    catalog: &FileCatalog,
    name: &str,
    request: Publish,
) -> Result<PublishOutcome, CatalogError> {
    for segment in &request.segments {
        write_files(catalog, segment);
    }
    catalog.publish(name, request)
}

/// Every datasource's state, for comparing a whole catalog at once.
fn everything(catalog: &FileCatalog) -> BTreeMap<String, DataSourceState> {
    catalog
        .datasource_names()
        .into_iter()
        .filter_map(|name| Some((name.clone(), (*catalog.datasource(&name)?).clone())))
        .collect()
}

/// The segment directories on disk, relative to `segments/`.
fn segment_dirs_on_disk(root: &Path) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for datasource in std::fs::read_dir(root.join("segments")).unwrap() {
        let datasource = datasource.unwrap();
        for segment in std::fs::read_dir(datasource.path()).unwrap() {
            let segment = segment.unwrap();
            dirs.insert(Path::new(&datasource.file_name()).join(segment.file_name()));
        }
    }
    dirs
}

/// The segment directories the catalog lists, relative to `segments/`.
fn listed_segment_dirs(catalog: &FileCatalog) -> BTreeSet<PathBuf> {
    let segments = catalog.layout.segments_dir.clone();
    everything(catalog)
        .values()
        .flat_map(|state| state.segments.iter())
        .map(|s| {
            catalog
                .segment_dir(&s.id)
                .strip_prefix(&segments)
                .unwrap()
                .to_path_buf()
        })
        .collect()
}

fn catalog_dir_entries(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("catalog"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn rejection(result: Result<impl std::fmt::Debug, CatalogError>) -> PublishRejection {
    match result {
        Err(CatalogError::PublishRejected { reason, .. }) => *reason,
        other => panic!("expected a refused publish, got {other:?}"),
    }
}

#[test]
fn datasources_are_created_listed_updated_and_dropped() {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    let created = catalog.create_datasource(spec("weblogs")).unwrap();
    assert_eq!(*created, DataSourceState::new(spec("weblogs")));
    catalog.create_datasource(spec("access")).unwrap();
    assert_eq!(catalog.datasource_names(), vec!["access", "weblogs"]);

    let err = catalog.create_datasource(spec("weblogs")).unwrap_err();
    assert!(matches!(err, CatalogError::AlreadyExists { .. }), "{err}");
    // A name that would lead outside the data directory never reaches the
    // catalog: no spec can hold it (and no catalog file can be named after it,
    // see `a_file_named_after_no_datasource_is_refused_by_name`).
    let err = DataSourceSpec::from_json(r#"{"dataSource": "../escape"}"#).unwrap_err();
    assert!(
        matches!(err.problem(), Some(SpecProblem::InvalidDataSourceName(_))),
        "{err}"
    );
    let err = catalog.update_spec("weblogs", spec("access")).unwrap_err();
    assert!(err.to_string().contains("cannot be renamed"), "{err}");
    let err = catalog.update_spec("nope", spec("nope")).unwrap_err();
    assert_eq!(err.to_string(), "there is no datasource named `nope`");

    let day = segment("weblogs", 0, DAY, 1, 0);
    publish(&catalog, "weblogs", Publish::segments(vec![day.clone()])).unwrap();
    let updated = catalog.update_spec("weblogs", spec("weblogs")).unwrap();
    assert_eq!(
        updated.segments,
        vec![day.clone()],
        "a spec update keeps the segments"
    );

    let dropped = catalog.drop_datasource("weblogs").unwrap();
    assert_eq!(dropped, vec![day]);
    assert_eq!(catalog.datasource_names(), vec!["access"]);
    assert!(catalog.datasource("weblogs").is_none());
    assert!(
        !dir.path().join("segments/weblogs").exists(),
        "drop deletes the files"
    );
    assert_eq!(
        catalog_dir_entries(dir.path()),
        BTreeSet::from(["access.json".to_owned()])
    );
    assert!(matches!(
        catalog.drop_datasource("weblogs"),
        Err(CatalogError::UnknownDatasource { .. })
    ));

    // The name is free again, and starts empty.
    let again = catalog.create_datasource(spec("weblogs")).unwrap();
    assert!(again.segments.is_empty());
}

#[test]
fn everything_survives_a_reopen() {
    let dir = TempDir::new().unwrap();
    let (before, version) = {
        let catalog = FileCatalog::open(dir.path()).unwrap();
        catalog.create_datasource(spec("weblogs")).unwrap();
        catalog.create_datasource(spec("empty")).unwrap();
        let request = Publish::segments(vec![
            segment("weblogs", 0, DAY, 1, 0),
            segment("weblogs", 0, DAY, 1, 1),
            segment("weblogs", DAY, 2 * DAY, 3, 0),
        ])
        .with_offset("kafka/0", json!({"offset": 17, "topic": "weblogs"}))
        .with_offset("kafka/1", json!(99));
        publish(&catalog, "weblogs", request).unwrap();
        (everything(&catalog), catalog.new_version().unwrap())
    };
    let catalog = FileCatalog::open(dir.path()).unwrap();
    assert_eq!(everything(&catalog), before);
    assert_eq!(
        listed_segment_dirs(&catalog),
        segment_dirs_on_disk(dir.path())
    );
    assert!(catalog.new_version().unwrap() > version);
}

#[test]
fn a_newer_version_retires_segments_and_deletes_their_files() {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    catalog.create_datasource(spec("ds")).unwrap();
    let v1 = [segment("ds", 0, DAY, 1, 0), segment("ds", 0, DAY, 1, 1)];
    let hour_v1 = segment("ds", DAY, DAY + HOUR, 1, 0);
    publish(
        &catalog,
        "ds",
        Publish::segments(vec![v1[0].clone(), hour_v1.clone()]),
    )
    .unwrap();

    // Late data: a second partition of the same version joins the first.
    let outcome = publish(&catalog, "ds", Publish::segments(vec![v1[1].clone()])).unwrap();
    assert!(outcome.retired.is_empty());
    assert_eq!(outcome.state.segments.len(), 3);

    let v2 = segment("ds", 0, DAY, 2, 0);
    let outcome = publish(&catalog, "ds", Publish::segments(vec![v2.clone()])).unwrap();
    assert_eq!(outcome.retired, v1.to_vec());
    assert_eq!(outcome.state.segments, vec![v2.clone(), hour_v1.clone()]);
    assert_eq!(catalog.datasource("ds").unwrap(), outcome.state);
    for retired in &v1 {
        assert!(!catalog.segment_dir(&retired.id).exists());
    }
    assert_eq!(
        listed_segment_dirs(&catalog),
        segment_dirs_on_disk(dir.path())
    );

    let stale = segment("ds", 0, HOUR, 1, 5);
    let reason = rejection(publish(&catalog, "ds", Publish::segments(vec![stale])));
    assert!(matches!(reason, PublishRejection::Overshadowed { ref by, .. } if *by == v2.id));
}

#[test]
fn a_refused_publish_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    catalog.create_datasource(spec("ds")).unwrap();
    catalog.create_datasource(spec("other")).unwrap();
    let day_v2 = segment("ds", 0, DAY, 2, 0);
    publish(
        &catalog,
        "ds",
        Publish::segments(vec![day_v2.clone()]).with_offset("p", json!(1)),
    )
    .unwrap();
    let file = dir.path().join("catalog/ds.json");
    let bytes_before = std::fs::read(&file).unwrap();
    let before = everything(&catalog);

    let good = segment("ds", DAY, 2 * DAY, 1, 0);
    let refused = [
        // One bad segment spoils the lot: the good one is not published either.
        Publish::segments(vec![good.clone(), segment("ds", 0, HOUR, 1, 0)]),
        Publish::segments(vec![good.clone(), day_v2.clone()]),
        Publish::segments(vec![good.clone(), segment("other", 0, DAY, 3, 0)]),
        Publish::segments(vec![good.clone()]).expecting_offset("p", Some(json!(0))),
    ];
    for request in refused {
        let err = publish(&catalog, "ds", request).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("publish to datasource `ds` refused: "),
            "{err}"
        );
    }
    let err = publish(&catalog, "missing", Publish::segments(vec![good.clone()])).unwrap_err();
    assert!(matches!(err, CatalogError::UnknownDatasource { .. }));

    // The writer's files are in place but the segment is unknown to the catalog.
    let unlisted = catalog.segment_dir(&good.id);
    let missing = segment("ds", 2 * DAY, 3 * DAY, 1, 0);
    let err = catalog
        .publish("ds", Publish::segments(vec![missing]))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("write its files there before publishing"),
        "{err}"
    );

    assert_eq!(everything(&catalog), before);
    assert_eq!(std::fs::read(&file).unwrap(), bytes_before);
    drop(catalog);

    // The next open sweeps the files of the segment that never got published.
    assert!(unlisted.exists());
    let catalog = FileCatalog::open(dir.path()).unwrap();
    assert!(!unlisted.exists());
    assert_eq!(everything(&catalog), before);
}

#[test]
fn offsets_are_compare_and_set() {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    catalog.create_datasource(spec("ds")).unwrap();
    let first = Publish::segments(vec![segment("ds", 0, HOUR, 1, 0)])
        .with_offset("kafka/0", json!(100))
        .expecting_offset("kafka/0", None);
    publish(&catalog, "ds", first).unwrap();

    // Two tasks both read from 100; the first to publish wins.
    let task = |hour: i64, to: u64| {
        Publish::segments(vec![segment("ds", hour * HOUR, (hour + 1) * HOUR, 1, 0)])
            .with_offset("kafka/0", json!(to))
            .expecting_offset("kafka/0", Some(json!(100)))
    };
    publish(&catalog, "ds", task(1, 200)).unwrap();
    let reason = rejection(publish(&catalog, "ds", task(2, 250)));
    assert_eq!(
        reason,
        PublishRejection::OffsetMismatch {
            key: "kafka/0".into(),
            expected: Some(json!(100)),
            stored: Some(json!(200)),
        }
    );
    let state = catalog.datasource("ds").unwrap();
    assert_eq!(
        state.offsets,
        BTreeMap::from([("kafka/0".to_owned(), json!(200))])
    );
    assert_eq!(state.segments.len(), 2);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = TempDir::new().unwrap();
    let first = FileCatalog::open(dir.path()).unwrap();
    let err = FileCatalog::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, CatalogError::DataDirInUse { pid: Some(pid), .. } if pid == std::process::id())
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "is in use by another process (pid {})",
            std::process::id()
        )),
        "{message}"
    );
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    drop(first);
    FileCatalog::open(dir.path()).unwrap();
}

#[test]
fn open_sweeps_leftovers_and_keeps_what_is_listed() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let kept = segment("ds", 0, DAY, 1, 0);
    {
        let catalog = FileCatalog::open(root).unwrap();
        catalog.create_datasource(spec("ds")).unwrap();
        publish(&catalog, "ds", Publish::segments(vec![kept.clone()])).unwrap();
        write_files(&catalog, &segment("ds", DAY, 2 * DAY, 1, 0));
        write_files(&catalog, &segment("gone", 0, DAY, 1, 0));
    }
    std::fs::write(root.join("catalog/ds.json.tmp"), b"half a wri").unwrap();
    std::fs::write(root.join("catalog/old.json.tombstone"), b"dropped").unwrap();
    std::fs::write(root.join("catalog/README"), b"not ours").unwrap();
    std::fs::write(root.join("segments/ds/notes.txt"), b"not ours").unwrap();

    let catalog = FileCatalog::open(root).unwrap();
    assert_eq!(
        catalog_dir_entries(root),
        BTreeSet::from(["README".to_owned(), "ds.json".to_owned()])
    );
    assert_eq!(
        segment_dirs_on_disk(root),
        listed_segment_dirs(&catalog)
            .into_iter()
            .chain([PathBuf::from("ds/notes.txt")])
            .collect()
    );
    assert!(catalog.segment_dir(&kept.id).join("columns.bin").exists());
    assert!(!root.join("segments/gone").exists());
}

#[test]
fn new_versions_increase_past_every_stored_version() {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    catalog.create_datasource(spec("ds")).unwrap();
    let future: Version = "9000-01-01T00:00:00.000000Z".parse().unwrap();
    let interval = Interval::new(0, DAY).unwrap();
    let id = SegmentId::new(DataSourceName::new("ds").unwrap(), interval, future, 0).unwrap();
    let far = SegmentDescriptor {
        id,
        rows: 1,
        bytes: 1,
    };
    publish(&catalog, "ds", Publish::segments(vec![far])).unwrap();
    let first = catalog.new_version().unwrap();
    assert!(first > future);
    assert!(catalog.new_version().unwrap() > first);
    drop(catalog);
    let catalog = FileCatalog::open(dir.path()).unwrap();
    assert!(catalog.new_version().unwrap() > future);
}

#[test]
fn concurrent_publishes_all_land() {
    let dir = TempDir::new().unwrap();
    let catalog = Arc::new(FileCatalog::open(dir.path()).unwrap());
    catalog.create_datasource(spec("ds")).unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|thread| {
            let catalog = Arc::clone(&catalog);
            std::thread::spawn(move || {
                for i in 0..5u32 {
                    let partition = thread * 10 + i;
                    let request = Publish::segments(vec![segment("ds", 0, DAY, 1, partition)])
                        .with_offset(format!("thread-{thread}"), json!(i));
                    publish(&catalog, "ds", request).unwrap();
                    assert!(catalog.datasource("ds").unwrap().segments.len() > i as usize);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let state = catalog.datasource("ds").unwrap();
    assert_eq!(state.segments.len(), 20);
    assert_eq!(state.offsets.len(), 4);
    assert!(state.offsets.values().all(|v| *v == json!(4)));
}

// ---- Crashes ---------------------------------------------------------------

/// A change to crash in, with the state it starts from.
struct Scenario {
    what: &'static str,
    /// The steps this change goes through, each a place to crash.
    steps: &'static [CrashPoint],
    setup: fn(&FileCatalog),
    change: fn(&FileCatalog) -> Result<(), CatalogError>,
}

fn setup_two_datasources(catalog: &FileCatalog) {
    catalog.create_datasource(spec("ds")).unwrap();
    catalog.create_datasource(spec("bystander")).unwrap();
    let day = [segment("ds", 0, DAY, 1, 0), segment("ds", 0, DAY, 1, 1)];
    let request = Publish::segments(day.to_vec()).with_offset("kafka/0", json!(10));
    publish(catalog, "ds", request).unwrap();
    publish(
        catalog,
        "bystander",
        Publish::segments(vec![segment("bystander", 0, DAY, 1, 0)]),
    )
    .unwrap();
    // A writer was building this when the process died: nobody lists it.
    write_files(catalog, &segment("ds", 5 * DAY, 6 * DAY, 1, 0));
}

/// The steps of rewriting a catalog file.
const REWRITE: [CrashPoint; 4] = [
    CrashPoint::TmpPartlyWritten,
    CrashPoint::TmpWritten,
    CrashPoint::TmpSynced,
    CrashPoint::Renamed,
];

/// A rewrite followed by cleanup.
const REWRITE_THEN_CLEAN: [CrashPoint; 5] = [
    CrashPoint::TmpPartlyWritten,
    CrashPoint::TmpWritten,
    CrashPoint::TmpSynced,
    CrashPoint::Renamed,
    CrashPoint::DirSynced,
];

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            what: "publish retiring two partitions",
            steps: &REWRITE_THEN_CLEAN,
            setup: setup_two_datasources,
            change: |catalog| {
                let request = Publish::segments(vec![
                    segment("ds", 0, DAY, 2, 0),
                    segment("ds", DAY, 2 * DAY, 2, 0),
                ])
                .with_offset("kafka/0", json!(20))
                .with_offset("kafka/1", json!(5))
                .expecting_offset("kafka/0", Some(json!(10)));
                publish(catalog, "ds", request).map(drop)
            },
        },
        Scenario {
            what: "create",
            steps: &REWRITE_THEN_CLEAN,
            setup: setup_two_datasources,
            change: |catalog| catalog.create_datasource(spec("fresh")).map(drop),
        },
        Scenario {
            what: "update_spec",
            steps: &REWRITE,
            setup: setup_two_datasources,
            change: |catalog| {
                let widened = DataSourceSpec::from_json(
                    r#"{"dataSource": "ds",
                        "timestampSpec": {"column": "ts", "format": "millis"},
                        "dimensionsSpec": {"dimensions": ["host", "region"]},
                        "metricsSpec": [{"type": "count", "name": "count"}],
                        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": false}}"#,
                )
                .unwrap();
                catalog.update_spec("ds", widened).map(drop)
            },
        },
        Scenario {
            what: "drop",
            steps: &[
                CrashPoint::Renamed,
                CrashPoint::DirSynced,
                CrashPoint::TombstoneDeleted,
            ],
            setup: setup_two_datasources,
            change: |catalog| catalog.drop_datasource("ds").map(drop),
        },
    ]
}

/// Whether a crash at `point` comes after the change's commit point.
fn committed_at(point: CrashPoint) -> bool {
    match point {
        CrashPoint::TmpPartlyWritten | CrashPoint::TmpWritten | CrashPoint::TmpSynced => false,
        CrashPoint::Renamed | CrashPoint::DirSynced | CrashPoint::TombstoneDeleted => true,
    }
}

/// The catalog a change leaves when nothing goes wrong.
fn state_after(scenario: &Scenario) -> BTreeMap<String, DataSourceState> {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    (scenario.setup)(&catalog);
    (scenario.change)(&catalog).unwrap();
    everything(&catalog)
}

#[test]
fn every_crash_point_is_exercised() {
    let exercised: Vec<_> = scenarios().iter().flat_map(|s| s.steps.to_vec()).collect();
    for point in CrashPoint::ALL {
        assert!(
            exercised.contains(&point),
            "no scenario crashes at {point:?}"
        );
    }
}

#[test]
fn a_crash_at_any_step_leaves_the_old_or_the_new_state() {
    for scenario in scenarios() {
        let new = state_after(&scenario);
        for &point in scenario.steps {
            let context = format!("{} crashing at {point:?}", scenario.what);
            let dir = TempDir::new().unwrap();
            let old = {
                let catalog = FileCatalog::open(dir.path()).unwrap();
                (scenario.setup)(&catalog);
                let old = everything(&catalog);
                catalog.crash_at(point);
                let err = (scenario.change)(&catalog).unwrap_err();
                assert!(
                    err.to_string().contains("simulating a crash"),
                    "{context}: {err}"
                );
                old
            };

            let catalog = FileCatalog::open(dir.path()).unwrap();
            let expected = if committed_at(point) { &new } else { &old };
            assert_eq!(&everything(&catalog), expected, "{context}");
            assert_eq!(
                segment_dirs_on_disk(dir.path()),
                listed_segment_dirs(&catalog),
                "{context}: unlisted segment files must be swept"
            );
            for listed in listed_segment_dirs(&catalog) {
                let dir = dir.path().join("segments").join(listed);
                assert!(
                    dir.join("columns.bin").exists(),
                    "{context}: {} lost",
                    dir.display()
                );
            }
            let leftovers: Vec<_> = catalog_dir_entries(dir.path())
                .into_iter()
                .filter(|name| !name.ends_with(".json"))
                .collect();
            assert!(leftovers.is_empty(), "{context}: left {leftovers:?}");

            // The reopened catalog works normally.
            let next = segment("bystander", 9 * DAY, 10 * DAY, 1, 0);
            publish(&catalog, "bystander", Publish::segments(vec![next])).unwrap();
        }
    }
}

#[test]
fn a_failure_after_the_commit_point_stops_further_changes() {
    let dir = TempDir::new().unwrap();
    let catalog = FileCatalog::open(dir.path()).unwrap();
    catalog.create_datasource(spec("ds")).unwrap();
    catalog.crash_at(CrashPoint::Renamed);
    catalog.create_datasource(spec("other")).unwrap_err();
    *catalog.crash_at.lock().unwrap() = None;
    let err = catalog.create_datasource(spec("third")).unwrap_err();
    assert!(matches!(err, CatalogError::Poisoned { .. }), "{err}");
    assert!(err.to_string().contains("restart to reload"), "{err}");
    // Reads still work.
    assert!(catalog.datasource("ds").is_some());
}

// ---- Damaged files ---------------------------------------------------------

/// A data directory with one datasource and one segment, closed.
fn damaged_catalog_fixture() -> (TempDir, PathBuf, Vec<u8>, PathBuf) {
    let dir = TempDir::new().unwrap();
    let segment_dir = {
        let catalog = FileCatalog::open(dir.path()).unwrap();
        catalog.create_datasource(spec("weblogs")).unwrap();
        let day = segment("weblogs", 0, DAY, 1, 0);
        let request = Publish::segments(vec![day.clone()]).with_offset("kafka/0", json!(7));
        publish(&catalog, "weblogs", request).unwrap();
        catalog.segment_dir(&day.id)
    };
    let file = dir.path().join("catalog/weblogs.json");
    let bytes = std::fs::read(&file).unwrap();
    (dir, file, bytes, segment_dir)
}

/// Opens a directory whose catalog file was damaged, expecting a refusal
/// that names the file and leaves its segments alone.
fn expect_refusal(root: &Path, file: &Path, segment_dir: &Path, context: &str) -> FileProblem {
    let err = FileCatalog::open(root).unwrap_err();
    let message = err.to_string();
    let CatalogError::CorruptFile { path, problem } = err else {
        panic!("{context}: expected a corrupt-file error, got {message}");
    };
    assert_eq!(path, file, "{context}");
    assert!(
        message.contains(&file.display().to_string()),
        "{context}: {message}"
    );
    assert!(
        segment_dir.exists(),
        "{context}: segments of a damaged file were swept"
    );
    problem
}

#[test]
fn a_truncated_file_is_refused_by_name() {
    let (dir, file, bytes, segment_dir) = damaged_catalog_fixture();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
    for len in [
        0,
        1,
        14,
        header_end,
        header_end + 1,
        header_end + 2,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        std::fs::write(&file, &bytes[..len]).unwrap();
        let problem = expect_refusal(
            dir.path(),
            &file,
            &segment_dir,
            &format!("truncated to {len}"),
        );
        if len > header_end {
            assert!(
                problem.to_string().contains("the file is truncated"),
                "{len}: {problem}"
            );
        }
    }
    std::fs::write(&file, &bytes).unwrap();
    FileCatalog::open(dir.path()).unwrap();
}

#[test]
fn a_flipped_bit_is_refused_by_name() {
    let (dir, file, bytes, segment_dir) = damaged_catalog_fixture();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let positions = [
        0,
        3,
        15,
        16,
        20,
        header_end - 1,
        header_end,
        header_end + 1,
        bytes.len() / 2,
        bytes.len() - 1,
    ];
    for (i, position) in positions.into_iter().enumerate() {
        let mut damaged = bytes.clone();
        damaged[position] ^= 1 << (i % 8);
        std::fs::write(&file, &damaged).unwrap();
        expect_refusal(
            dir.path(),
            &file,
            &segment_dir,
            &format!("bit flipped at {position}"),
        );
    }
    std::fs::write(&file, &bytes).unwrap();
    FileCatalog::open(dir.path()).unwrap();
}

#[test]
fn a_file_of_another_format_version_is_refused_by_name() {
    let (dir, file, bytes, segment_dir) = damaged_catalog_fixture();
    let text = String::from_utf8(bytes).unwrap();
    std::fs::write(
        &file,
        text.replacen("strata-catalog 1 ", "strata-catalog 7 ", 1),
    )
    .unwrap();
    let problem = expect_refusal(dir.path(), &file, &segment_dir, "version 7");
    assert_eq!(problem, FileProblem::UnsupportedVersion { found: 7 });

    std::fs::write(&file, "{\"spec\": {}}").unwrap();
    let problem = expect_refusal(dir.path(), &file, &segment_dir, "no header");
    assert_eq!(problem, FileProblem::NoHeaderLine);
}

#[test]
fn a_file_named_after_no_datasource_is_refused_by_name() {
    let (dir, _, bytes, segment_dir) = damaged_catalog_fixture();
    // `...json` would be datasource `..`, whose segment directory would be
    // the data directory itself.
    for file_name in ["...json", ".hidden.json", "web logs.json"] {
        let file = dir.path().join("catalog").join(file_name);
        std::fs::write(&file, &bytes).unwrap();
        let problem = expect_refusal(dir.path(), &file, &segment_dir, file_name);
        assert!(
            matches!(problem, FileProblem::InvalidFileName(_)),
            "{file_name}: {problem}"
        );
        std::fs::remove_file(&file).unwrap();
    }
    FileCatalog::open(dir.path()).unwrap();
}

// ---- Model check -----------------------------------------------------------

/// The intervals segments are drawn from, in hours: hours, a 4-hour chunk, an
/// overlapping one, and one containing them all.
const INTERVALS: [(i64, i64); 8] = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 4),
    (4, 8),
    (2, 6),
    (0, 8),
];

#[derive(Debug, Clone)]
enum Op {
    Publish(Vec<(usize, u32, u32)>),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0..INTERVALS.len(), 1..5u32, 0..2u32), 1..4).prop_map(Op::Publish),
        1 => Just(Op::Reopen),
    ]
}

fn to_segment((interval, version, partition): (usize, u32, u32)) -> SegmentDescriptor {
    let (start, end) = INTERVALS[interval];
    segment("ds", start * HOUR, end * HOUR, version, partition)
}

/// Druid's rule, written out again so the model does not share the code it checks.
fn naive_overshadows(newer: &SegmentId, older: &SegmentId) -> bool {
    let (n, o) = (newer.interval(), older.interval());
    newer.version() > older.version() && n.start() <= o.start() && o.end() <= n.end()
}

/// Druid's definition, applied naively: visible = every segment ever
/// published that no other segment ever published overshadows.
fn naive_visible(all: &[SegmentId]) -> BTreeSet<SegmentId> {
    all.iter()
        .filter(|s| !all.iter().any(|other| naive_overshadows(other, s)))
        .cloned()
        .collect()
}

/// Whether the naive model accepts publishing `new` after `all`.
fn naive_accepts(all: &[SegmentId], new: &[SegmentId]) -> bool {
    let visible = naive_visible(all);
    let distinct: BTreeSet<_> = new.iter().collect();
    let fresh = new.iter().all(|s| !all.contains(s));
    let hidden = new.iter().any(|s| {
        all.iter()
            .chain(new)
            .any(|other| naive_overshadows(other, s))
    });
    let misaligned = new.iter().any(|s| {
        visible.iter().chain(new).any(|other| {
            other.version() == s.version()
                && other.interval() != s.interval()
                && other.interval().overlaps(&s.interval())
        })
    });
    distinct.len() == new.len() && fresh && !hidden && !misaligned
}

fn ids(segments: &[SegmentDescriptor]) -> BTreeSet<SegmentId> {
    segments.iter().map(|s| s.id.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn visible_segments_match_a_naive_model(ops in prop::collection::vec(op(), 1..14)) {
        let dir = TempDir::new().unwrap();
        let mut catalog = FileCatalog::open(dir.path()).unwrap();
        catalog.create_datasource(spec("ds")).unwrap();
        let mut all: Vec<SegmentId> = Vec::new();
        for op in ops {
            match op {
                Op::Reopen => {
                    drop(catalog);
                    catalog = FileCatalog::open(dir.path()).unwrap();
                    // Files of refused publishes are gone, listed ones are kept.
                    prop_assert_eq!(listed_segment_dirs(&catalog), segment_dirs_on_disk(dir.path()));
                }
                Op::Publish(segments) => {
                    let new: Vec<_> = segments.into_iter().map(to_segment).collect();
                    let new_ids: Vec<_> = new.iter().map(|s| s.id.clone()).collect();
                    let before = naive_visible(&all);
                    let accepted = naive_accepts(&all, &new_ids);
                    let result = publish(&catalog, "ds", Publish::segments(new));
                    prop_assert_eq!(result.is_ok(), accepted, "{:?}", result);
                    if let Ok(outcome) = result {
                        all.extend(new_ids);
                        let after = naive_visible(&all);
                        let retired: BTreeSet<_> = before.difference(&after).cloned().collect();
                        prop_assert_eq!(ids(&outcome.retired), retired);
                        for gone in &outcome.retired {
                            prop_assert!(!catalog.segment_dir(&gone.id).exists());
                        }
                    }
                }
            }
            let listed = ids(&catalog.datasource("ds").unwrap().segments);
            prop_assert_eq!(&listed, &naive_visible(&all));
            for id in &listed {
                prop_assert!(catalog.segment_dir(id).join("columns.bin").exists());
            }
        }
    }
}

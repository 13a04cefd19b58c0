//! Round trips, index correctness and corruption handling, checked against
//! the rows that were written (the naive model).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::arrow_export;
use super::*;

/// A row value as the model holds it.
#[derive(Debug, Clone, PartialEq)]
enum Model {
    Null,
    Long(i64),
    Double(f64),
    Str(String),
    Strs(Vec<String>),
    Bytes(Vec<u8>),
}

impl Model {
    fn cell(&self) -> CellValue<'_> {
        match self {
            Model::Null => CellValue::Null,
            Model::Long(v) => CellValue::Long(*v),
            Model::Double(v) => CellValue::Double(*v),
            Model::Str(s) => CellValue::Str(s),
            Model::Strs(_) => unreachable!("multi-value cells are built by the caller"),
            Model::Bytes(b) => CellValue::Bytes(b),
        }
    }
}

fn kind_strategy() -> impl Strategy<Value = ColumnKind> {
    prop_oneof![
        Just(ColumnKind::Long),
        Just(ColumnKind::Double),
        Just(ColumnKind::String { multi_value: false }),
        Just(ColumnKind::String { multi_value: true }),
        Just(ColumnKind::Text),
        Just(ColumnKind::Complex {
            type_name: "HLLSketch".into()
        }),
    ]
}

fn value_strategy(kind: &ColumnKind) -> BoxedStrategy<Model> {
    let word = prop::sample::select(vec!["a", "b", "host-1", "host-2", "é", "zz", ""])
        .prop_map(String::from);
    let value = match kind {
        ColumnKind::Long => prop_oneof![any::<i64>(), -50i64..50]
            .prop_map(Model::Long)
            .boxed(),
        ColumnKind::Double => prop_oneof![
            any::<f64>(),
            (0u32..100_000).prop_map(|v| v as f64 / 1000.0)
        ]
        .prop_map(Model::Double)
        .boxed(),
        ColumnKind::String { multi_value: false } => word.prop_map(Model::Str).boxed(),
        ColumnKind::String { multi_value: true } => prop::collection::vec(word, 0..4)
            .prop_map(|v| {
                if v.is_empty() {
                    Model::Null
                } else {
                    Model::Strs(v)
                }
            })
            .boxed(),
        ColumnKind::Text => "[a-z ]{0,30}".prop_map(Model::Str).boxed(),
        ColumnKind::Complex { .. } => prop::collection::vec(any::<u8>(), 0..20)
            .prop_map(Model::Bytes)
            .boxed(),
    };
    prop_oneof![1 => Just(Model::Null), 6 => value].boxed()
}

type Rows = Vec<(i64, Vec<Model>)>;

fn table_strategy(max_rows: usize) -> impl Strategy<Value = (Vec<ColumnKind>, Rows)> {
    prop::collection::vec(kind_strategy(), 0..6).prop_flat_map(move |kinds| {
        let row = (
            0i64..1000,
            kinds.iter().map(value_strategy).collect::<Vec<_>>(),
        );
        let rows = prop::collection::vec(row, 0..max_rows).prop_map(|mut rows| {
            rows.sort_by_key(|r| r.0);
            rows
        });
        (Just(kinds), rows)
    })
}

fn schema_of(kinds: &[ColumnKind]) -> TableSchema {
    TableSchema::new(
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| ColumnSchema::new(format!("c{i}"), k.clone()))
            .collect(),
    )
    .unwrap()
}

fn write_table(path: &Path, kinds: &[ColumnKind], rows: &Rows) -> writer::TableSummary {
    let mut writer = TableWriter::create(path, TableKind::Events, schema_of(kinds)).unwrap();
    for (time, values) in rows {
        let multi: Vec<Vec<&str>> = values
            .iter()
            .map(|v| match v {
                Model::Strs(s) => s.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            })
            .collect();
        let cells: Vec<CellValue<'_>> = values
            .iter()
            .zip(&multi)
            .map(|(v, m)| match v {
                Model::Strs(_) => CellValue::Strs(m),
                other => other.cell(),
            })
            .collect();
        writer.append_row(*time, &cells).unwrap();
    }
    writer.finish().unwrap()
}

/// Reads column `c` back into the model's form.
fn read_column(table: &Table, c: usize, kind: &ColumnKind) -> Vec<Model> {
    let name = format!("c{c}");
    let column = table.column(&name).unwrap();
    let nulls = column.nulls().unwrap();
    let null_or = |row: usize, value: Model| {
        if nulls.contains(row as u32) {
            Model::Null
        } else {
            value
        }
    };
    match (column, kind) {
        (Column::Long(col), _) => col
            .values()
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(r, v)| null_or(r, Model::Long(v)))
            .collect(),
        (Column::Double(col), _) => col
            .values()
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(r, v)| null_or(r, Model::Double(v)))
            .collect(),
        (Column::String(col), ColumnKind::String { multi_value }) => {
            let dictionary = col.dictionary().unwrap();
            col.rows_as_ids()
                .unwrap()
                .into_iter()
                .map(|ids| {
                    let values: Vec<String> = ids
                        .iter()
                        .map(|&id| dictionary.value(id).unwrap().to_string())
                        .collect();
                    match (values.len(), multi_value) {
                        (0, _) => Model::Null,
                        (_, true) => Model::Strs(values),
                        (_, false) => Model::Str(values[0].clone()),
                    }
                })
                .collect()
        }
        (Column::Text(col), _) => col
            .values()
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(r, v)| null_or(r, Model::Str(v)))
            .collect(),
        (Column::Complex(col), _) => col
            .values()
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(r, v)| null_or(r, Model::Bytes(v)))
            .collect(),
        (other, kind) => panic!("column {other:?} read back for kind {kind:?}"),
    }
}

fn same(a: &Model, b: &Model) -> bool {
    match (a, b) {
        (Model::Double(x), Model::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn check_table(table: &Table, kinds: &[ColumnKind], rows: &Rows) {
    assert_eq!(table.rows(), rows.len() as u64);
    let times = table.time().values().unwrap();
    assert_eq!(times, rows.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(
        table.time_range(),
        rows.first().map(|f| (f.0, rows[rows.len() - 1].0))
    );
    for (c, kind) in kinds.iter().enumerate() {
        let read = read_column(table, c, kind);
        for (r, (got, row)) in read.iter().zip(rows).enumerate() {
            assert!(
                same(got, &row.1[c]),
                "column c{c} row {r}: wrote {:?}, read {got:?}",
                row.1[c]
            );
        }
        let column = table.column(&format!("c{c}")).unwrap();
        check_indexes(
            column,
            &rows.iter().map(|r| r.1[c].clone()).collect::<Vec<_>>(),
        );
    }
}

/// Bitmaps equal a naive scan; dictionaries are sorted and distinct;
/// block min/max bound the block's values.
fn check_indexes(column: Column<'_>, values: &[Model]) {
    let naive_nulls: RoaringBitmap = values
        .iter()
        .enumerate()
        .filter(|(_, v)| matches!(v, Model::Null))
        .map(|(r, _)| r as u32)
        .collect();
    assert_eq!(column.nulls().unwrap(), naive_nulls);
    match column {
        Column::String(col) => {
            let dictionary = col.dictionary().unwrap();
            let words: Vec<&str> = dictionary.iter().map(Result::unwrap).collect();
            assert!(
                words.windows(2).all(|w| w[0] < w[1]),
                "dictionary not sorted: {words:?}"
            );
            for (id, word) in words.iter().enumerate() {
                let naive: RoaringBitmap = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| match v {
                        Model::Str(s) => s == word,
                        Model::Strs(s) => s.iter().any(|s| s == word),
                        _ => false,
                    })
                    .map(|(r, _)| r as u32)
                    .collect();
                assert_eq!(
                    col.bitmaps().bitmap(id as u32).unwrap(),
                    naive,
                    "bitmap of {word:?}"
                );
                assert_eq!(dictionary.find(word).unwrap(), Some(id as u32));
            }
            assert_eq!(dictionary.find("not-a-value").unwrap(), None);
        }
        Column::Long(col) => {
            let mut buffer = Vec::new();
            for b in 0..col.block_count() {
                col.decode_block(b, &mut buffer).unwrap();
                let meta = col.block_meta(b).unwrap();
                let present: Vec<i64> = values[b * ROWS_PER_BLOCK..][..buffer.len()]
                    .iter()
                    .filter_map(|v| {
                        if let Model::Long(x) = v {
                            Some(*x)
                        } else {
                            None
                        }
                    })
                    .collect();
                assert_eq!(meta.min, present.iter().copied().min());
                assert_eq!(meta.max, present.iter().copied().max());
            }
        }
        Column::Double(col) => {
            let mut buffer = Vec::new();
            for b in 0..col.block_count() {
                col.decode_block(b, &mut buffer).unwrap();
                let meta = col.block_meta(b).unwrap();
                let present: Vec<f64> = values[b * ROWS_PER_BLOCK..][..buffer.len()]
                    .iter()
                    .filter_map(|v| match v {
                        Model::Double(x) if !x.is_nan() => Some(*x),
                        _ => None,
                    })
                    .collect();
                let min = present.iter().copied().reduce(f64::min);
                let max = present.iter().copied().reduce(f64::max);
                assert_eq!((meta.min, meta.max), (min, max));
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_tables_roundtrip((kinds, rows) in table_strategy(300)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tbl");
        let summary = write_table(&path, &kinds, &rows);
        prop_assert_eq!(summary.rows, rows.len() as u64);
        let table = Table::open(&path).unwrap();
        check_table(&table, &kinds, &rows);
        table.verify().unwrap();
        let exported: usize = arrow_export::record_batches(&table).unwrap().map(|b| b.unwrap().num_rows()).sum();
        prop_assert_eq!(exported, rows.len());
    }
}

/// Enough rows for three blocks, the last one partial.
fn multi_block_rows() -> (Vec<ColumnKind>, Rows) {
    let kinds = vec![
        ColumnKind::String { multi_value: false },
        ColumnKind::Long,
        ColumnKind::Double,
        ColumnKind::Text,
        ColumnKind::String { multi_value: true },
    ];
    let rows = (0..150_000i64)
        .map(|i| {
            let host = Model::Str(format!("host-{:04}", (i * 7919) % 1000));
            let bytes = if i % 97 == 0 {
                Model::Null
            } else {
                Model::Long((i * 31) % 5000)
            };
            let duration = Model::Double(((i * 13) % 100_000) as f64 / 1000.0);
            let message = Model::Str(format!("GET /api/v1/r{} -> 200 w{}", i % 300, i % 50));
            let tags = match i % 3 {
                0 => Model::Null,
                1 => Model::Strs(vec!["x".into()]),
                _ => Model::Strs(vec!["y".into(), format!("t{}", i % 5)]),
            };
            (
                1_704_067_200_000 + i * 4,
                vec![host, bytes, duration, message, tags],
            )
        })
        .collect();
    (kinds, rows)
}

#[test]
fn multi_block_table_roundtrips() {
    let (kinds, rows) = multi_block_rows();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tbl");
    write_table(&path, &kinds, &rows);
    let table = Table::open(&path).unwrap();
    assert_eq!(table.block_count(), 3);
    check_table(&table, &kinds, &rows);

    let batches: Vec<_> = arrow_export::record_batches(&table)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        vec![65536, 65536, 18928]
    );
    let hosts = batches[2]
        .column(1)
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert_eq!(
        hosts.value(0),
        format!("host-{:04}", (131_072 * 7919) % 1000)
    );
}

#[test]
fn rejects_rows_out_of_time_order_and_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_of(&[ColumnKind::Long]);
    let mut writer =
        TableWriter::create(&dir.path().join("t.tbl"), TableKind::Rollup, schema).unwrap();
    writer.append_row(10, &[CellValue::Long(1)]).unwrap();
    let err = writer
        .append_row(9, &[CellValue::Long(1)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("sorted by time"), "{err}");
    let err = writer
        .append_row(11, &[CellValue::Str("x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot hold"), "{err}");
    let err = writer.append_row(11, &[]).unwrap_err().to_string();
    assert!(err.contains("1 columns"), "{err}");
}

fn sealed_segment(dir: &Path) -> (PathBuf, Vec<ColumnKind>, Rows) {
    let (kinds, rows) = multi_block_rows();
    let seg_dir = dir.join("seg");
    let mut segment = SegmentWriter::create(&seg_dir).unwrap();
    let mut events = segment.table(TableKind::Events, schema_of(&kinds)).unwrap();
    for (time, values) in &rows[..70_000] {
        let cells: Vec<CellValue<'_>> = values
            .iter()
            .map(|v| match v {
                Model::Strs(_) => CellValue::Null,
                other => other.cell(),
            })
            .collect();
        events.append_row(*time, &cells).unwrap();
    }
    segment.add_table(events.finish().unwrap());
    segment.finish().unwrap();
    (seg_dir, kinds, rows)
}

/// Opens the segment and reads everything; the error, if any.
fn read_all(dir: &Path) -> Result<(), SegmentError> {
    Segment::open(dir)?.verify()
}

#[test]
fn segment_roundtrips_through_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, kinds, _) = sealed_segment(tmp.path());
    let segment = Segment::open(&dir).unwrap();
    assert!(segment.table(TableKind::Rollup).is_none());
    let events = segment.table(TableKind::Events).unwrap();
    assert_eq!(events.rows(), 70_000);
    assert_eq!(
        segment.summary().table(TableKind::Events).unwrap().rows,
        70_000
    );
    // An events table with text columns carries a full-text index.
    assert_eq!(
        segment.text_index_dir().is_some(),
        kinds.contains(&ColumnKind::Text)
    );
    segment.verify().unwrap();
}

#[test]
fn truncated_table_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _, _) = sealed_segment(tmp.path());
    let path = dir.join("events.tbl");
    let bytes = std::fs::read(&path).unwrap();
    for keep in [
        0,
        10,
        16,
        100,
        bytes.len() / 2,
        bytes.len() - 33,
        bytes.len() - 1,
    ] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = read_all(&dir).expect_err("a truncated table must not read");
        assert!(err.to_string().contains("events.tbl"), "{err}");
    }
}

#[test]
fn flipped_bits_are_errors_naming_the_file_never_wrong_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, kinds, rows) = sealed_segment(tmp.path());
    let path = dir.join("events.tbl");
    let original = std::fs::read(&path).unwrap();
    let step = original.len() / 61;
    for at in (0..original.len())
        .step_by(step)
        .chain([8, 12, original.len() - 5])
    {
        let mut bytes = original.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        match read_all(&dir) {
            Err(err) => assert!(
                err.to_string().contains("events.tbl"),
                "flip at {at}: {err}"
            ),
            // A flip in alignment padding changes no data: the answers must
            // then be exactly right.
            Ok(()) => {
                let segment = Segment::open(&dir).unwrap();
                check_table(
                    segment.table(TableKind::Events).unwrap(),
                    &kinds[..4],
                    &trim(&rows[..70_000]),
                );
            }
        }
    }
}

/// The rows `sealed_segment` wrote: four columns, multi-value written null.
fn trim(rows: &[(i64, Vec<Model>)]) -> Rows {
    rows.iter().map(|(t, v)| (*t, v[..4].to_vec())).collect()
}

#[test]
fn wrong_version_is_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _, _) = sealed_segment(tmp.path());
    let path = dir.join("events.tbl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = read_all(&dir).unwrap_err();
    assert!(
        matches!(err, SegmentError::UnsupportedVersion { found: 7, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("events.tbl"));
}

#[test]
fn damaged_manifest_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _, _) = sealed_segment(tmp.path());
    let path = dir.join("SEGMENT");
    let original = std::fs::read(&path).unwrap();
    for at in [0, 15, original.len() / 2, original.len() - 2] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_all(&dir).unwrap_err();
        assert!(err.to_string().contains("SEGMENT"), "{err}");
    }
    std::fs::remove_file(&path).unwrap();
    assert!(read_all(&dir).unwrap_err().to_string().contains("SEGMENT"));
}

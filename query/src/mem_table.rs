//! A table built in memory, row by row: how the real-time index offers its
//! rows to queries through the [table interface](crate::table).
//!
//! [`MemTableBuilder`] takes the same rows of [`CellValue`]s a segment's
//! `TableWriter` takes, under the same rules (a cell must suit its column's
//! kind; an empty list of strings is null; a long may fill a double column),
//! so a producer can send one chunk's rows to either and a query reads the
//! same values from both. String columns get a sorted dictionary when the
//! table is finished, as a segment's do.
//!
//! Text columns are searched as a segment's are, through a tantivy index
//! with the schema's analyzers, built in RAM from the finished table on the
//! first full-text search and kept with it: a table is immutable once
//! finished, so its index never goes stale, and a chunk no query searches
//! costs nothing.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;

use strata_storage::metric_cell::distinct::DictionaryCoupons;
use strata_storage::segment::{CellValue, ColumnKind, TableKind, TableSchema};
use strata_storage::text_index::{TextField, TextIndex};
use strata_storage::time::Millis;

use crate::table::{ColumnValues, TableError, TableSource};

/// A finished in-memory table. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct MemTable {
    kind: TableKind,
    schema: TableSchema,
    time: Vec<Millis>,
    columns: Vec<ColumnValues>,
    text_index: TextIndexCache,
}

/// The in-memory text index of a [`MemTable`], built on first search. Not
/// part of the table's value: two tables of the same rows are equal whether
/// or not either has been searched.
#[derive(Default, Clone)]
struct TextIndexCache(OnceLock<Arc<TextIndex>>);

impl PartialEq for TextIndexCache {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for TextIndexCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "TextIndexCache(built)"
        } else {
            "TextIndexCache(not built)"
        })
    }
}

/// Builds a [`MemTable`] from rows of cells.
#[derive(Debug)]
pub struct MemTableBuilder {
    kind: TableKind,
    schema: TableSchema,
    time: Vec<Millis>,
    columns: Vec<Pending>,
}

/// A column being built; strings keep their values until the dictionary is
/// sorted at the end.
#[derive(Debug)]
enum Pending {
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    String(Vec<Vec<String>>),
    Text(Vec<Option<String>>),
    Complex(Vec<Option<Vec<u8>>>),
}

impl MemTableBuilder {
    pub fn new(kind: TableKind, schema: TableSchema) -> Self {
        let columns = schema
            .columns()
            .iter()
            .map(|column| match column.kind {
                ColumnKind::Long => Pending::Long(Vec::new()),
                ColumnKind::Double => Pending::Double(Vec::new()),
                ColumnKind::String { .. } => Pending::String(Vec::new()),
                ColumnKind::Text => Pending::Text(Vec::new()),
                ColumnKind::Complex { .. } => Pending::Complex(Vec::new()),
            })
            .collect();
        MemTableBuilder {
            kind,
            schema,
            time: Vec::new(),
            columns,
        }
    }

    /// Appends one row: its time and one cell per schema column. On error
    /// nothing was appended.
    pub fn append_row(&mut self, time: Millis, cells: &[CellValue<'_>]) -> Result<(), TableError> {
        if cells.len() != self.columns.len() {
            return Err(TableError::CellCount {
                expected: self.columns.len(),
                found: cells.len(),
            });
        }
        for (column, cell) in self.schema.columns().iter().zip(cells) {
            if !cell.fits(&column.kind) {
                return Err(TableError::CellKind {
                    column: column.name.clone(),
                    kind: kind_name(&column.kind),
                    cell: cell_name(cell),
                });
            }
        }
        for (pending, cell) in self.columns.iter_mut().zip(cells) {
            match (pending, cell) {
                (Pending::Long(values), CellValue::Long(v)) => values.push(Some(*v)),
                (Pending::Long(values), _) => values.push(None),
                (Pending::Double(values), CellValue::Double(v)) => values.push(Some(*v)),
                (Pending::Double(values), CellValue::Long(v)) => values.push(Some(*v as f64)),
                (Pending::Double(values), _) => values.push(None),
                (Pending::String(rows), CellValue::Str(s)) => rows.push(vec![(*s).to_owned()]),
                (Pending::String(rows), CellValue::Strs(values)) => {
                    rows.push(values.iter().map(|s| (*s).to_owned()).collect())
                }
                (Pending::String(rows), _) => rows.push(Vec::new()),
                (Pending::Text(values), CellValue::Str(s)) => values.push(Some((*s).to_owned())),
                (Pending::Text(values), _) => values.push(None),
                (Pending::Complex(values), CellValue::Bytes(b)) => values.push(Some(b.to_vec())),
                (Pending::Complex(values), _) => values.push(None),
            }
        }
        self.time.push(time);
        Ok(())
    }

    /// The table, with each string column's dictionary sorted.
    pub fn finish(self) -> MemTable {
        let columns = self
            .columns
            .into_iter()
            .map(|pending| match pending {
                Pending::Long(values) => ColumnValues::Long(values),
                Pending::Double(values) => ColumnValues::Double(values),
                Pending::String(rows) => dictionary_encode(rows),
                Pending::Text(values) => ColumnValues::Text(values),
                Pending::Complex(values) => ColumnValues::Complex(values),
            })
            .collect();
        MemTable {
            kind: self.kind,
            schema: self.schema,
            time: self.time,
            columns,
            text_index: TextIndexCache::default(),
        }
    }
}

fn dictionary_encode(rows: Vec<Vec<String>>) -> ColumnValues {
    let mut ids: BTreeMap<&str, u32> = rows
        .iter()
        .flatten()
        .map(|value| (value.as_str(), 0))
        .collect();
    for (id, slot) in ids.values_mut().enumerate() {
        *slot = id as u32;
    }
    let encoded = rows
        .iter()
        .map(|row| row.iter().map(|value| ids[value.as_str()]).collect())
        .collect();
    let dictionary = ids.into_keys().map(str::to_owned).collect();
    ColumnValues::String {
        dictionary,
        rows: encoded,
    }
}

fn kind_name(kind: &ColumnKind) -> &'static str {
    match kind {
        ColumnKind::String { multi_value: true } => "a multi-value string column",
        ColumnKind::String { multi_value: false } => "a single-value string column",
        ColumnKind::Long => "a long column",
        ColumnKind::Double => "a double column",
        ColumnKind::Text => "a text column",
        ColumnKind::Complex { .. } => "a complex column",
    }
}

fn cell_name(cell: &CellValue<'_>) -> &'static str {
    match cell {
        CellValue::Null => "null",
        CellValue::Long(_) => "a long",
        CellValue::Double(_) => "a double",
        CellValue::Str(_) => "a string",
        CellValue::Strs(_) => "several strings",
        CellValue::Bytes(_) => "bytes",
    }
}

impl TableSource for MemTable {
    fn kind(&self) -> TableKind {
        self.kind
    }

    fn schema(&self) -> &TableSchema {
        &self.schema
    }

    fn rows(&self) -> usize {
        self.time.len()
    }

    fn time_range(&self) -> Option<(Millis, Millis)> {
        let first = *self.time.iter().min()?;
        let last = *self.time.iter().max()?;
        Some((first, last))
    }

    fn read_time(&self) -> Result<Vec<Millis>, TableError> {
        Ok(self.time.clone())
    }

    fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError> {
        Ok(self.column(name).cloned())
    }

    fn read_string_codes_range(
        &self,
        name: &str,
        rows: Range<usize>,
    ) -> Result<Option<Vec<u32>>, TableError> {
        let Some(ColumnValues::String { rows: ids, .. }) = self.column(name) else {
            return Ok(None);
        };
        Ok(ids
            .get(rows)
            .unwrap_or_default()
            .iter()
            .map(|ids| match ids.as_slice() {
                [] => Some(0),
                [id] => id.checked_add(1),
                _ => None,
            })
            .collect())
    }

    /// From the table's text index, built on the first search.
    fn fulltext_rows(
        &self,
        query: &str,
        fields: &[String],
    ) -> Result<Option<RoaringBitmap>, TableError> {
        let index = match self.text_index.0.get() {
            Some(index) => index,
            None => {
                let Some(index) = self.build_text_index()? else {
                    return Ok(None);
                };
                // A search racing this one may have built it first: either
                // index is the same.
                self.text_index.0.get_or_init(|| Arc::new(index))
            }
        };
        Ok(Some(index.search(query, fields)?))
    }

    /// Hashed from the dictionary on every call.
    fn string_coupons(&self, name: &str) -> Result<Option<Arc<DictionaryCoupons>>, TableError> {
        Ok(match self.column(name) {
            Some(ColumnValues::String { dictionary, .. }) => {
                Some(Arc::new(dictionary.iter().map(String::as_str).collect()))
            }
            _ => None,
        })
    }
}

impl MemTable {
    /// A text index over the table's text columns, with the schema's
    /// analyzers; `None` when it has none.
    fn build_text_index(&self) -> Result<Option<TextIndex>, TableError> {
        let fields = TextField::of_table(&self.schema);
        let columns: Vec<&[Option<String>]> = fields
            .iter()
            .map(|field| match self.column(&field.name) {
                Some(ColumnValues::Text(values)) => values.as_slice(),
                // Every text column of the schema is kept as text.
                _ => &[],
            })
            .collect();
        if fields.is_empty() {
            return Ok(None);
        }
        let rows = (0..=u32::MAX).zip(0..self.time.len()).map(|(id, row)| {
            let values = columns
                .iter()
                .map(|values| values.get(row).and_then(Option::as_deref))
                .collect();
            (id, values)
        });
        Ok(Some(TextIndex::in_memory(&fields, rows)?))
    }

    fn column(&self, name: &str) -> Option<&ColumnValues> {
        self.schema
            .columns()
            .iter()
            .position(|column| column.name == name)
            .and_then(|i| self.columns.get(i))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use strata_storage::segment::{ColumnSchema, SegmentWriter, TableKind};

    use super::*;
    use crate::segment_table::SegmentTable;

    /// A table of every column kind, for tests of readers of tables.
    pub(crate) fn schema() -> TableSchema {
        TableSchema::new(vec![
            ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
            ColumnSchema::new("tags", ColumnKind::String { multi_value: true }),
            ColumnSchema::new("status", ColumnKind::Long),
            ColumnSchema::new("latency", ColumnKind::Double),
            ColumnSchema::new("message", ColumnKind::Text),
            ColumnSchema::new(
                "users",
                ColumnKind::Complex {
                    type_name: "HLLSketch".into(),
                },
            ),
        ])
        .unwrap()
    }

    fn rows() -> Vec<(Millis, Vec<CellValue<'static>>)> {
        vec![
            (
                10,
                vec![
                    CellValue::Str("b"),
                    CellValue::Strs(&["x", "y"]),
                    CellValue::Long(200),
                    CellValue::Long(3),
                    CellValue::Str("GET /a"),
                    CellValue::Bytes(&[1, 2]),
                ],
            ),
            (
                11,
                vec![
                    CellValue::Null,
                    CellValue::Strs(&[]),
                    CellValue::Null,
                    CellValue::Double(1.5),
                    CellValue::Null,
                    CellValue::Null,
                ],
            ),
            (
                12,
                vec![
                    CellValue::Str("a"),
                    CellValue::Str("y"),
                    CellValue::Long(-1),
                    CellValue::Null,
                    CellValue::Str(""),
                    CellValue::Bytes(&[]),
                ],
            ),
        ]
    }

    /// The oracle: the same rows written as a segment table read the same.
    #[test]
    fn a_mem_table_reads_like_the_segment_of_the_same_rows() {
        let mut builder = MemTableBuilder::new(TableKind::Events, schema());
        let dir = tempfile::tempdir().unwrap();
        let mut segment = SegmentWriter::create(&dir.path().join("s")).unwrap();
        let mut writer = segment.table(TableKind::Events, schema()).unwrap();
        for (time, cells) in rows() {
            builder.append_row(time, &cells).unwrap();
            writer.append_row(time, &cells).unwrap();
        }
        segment.add_table(writer.finish().unwrap());
        segment.finish().unwrap();
        let memory = builder.finish();
        let stored = strata_storage::segment::Segment::open(&dir.path().join("s")).unwrap();
        let stored = SegmentTable::new(stored.table(TableKind::Events).unwrap());

        assert_eq!(memory.rows(), stored.rows());
        assert_eq!(memory.time_range(), stored.time_range());
        assert_eq!(memory.read_time().unwrap(), stored.read_time().unwrap());
        for column in schema().columns() {
            assert_eq!(
                memory.read_column(&column.name).unwrap(),
                stored.read_column(&column.name).unwrap(),
                "column {}",
                column.name
            );
        }
        assert_eq!(memory.read_column("nope").unwrap(), None);
        for (column, rows) in [
            ("host", 0..3),
            ("host", 1..3),
            ("tags", 0..3),
            ("status", 0..3),
        ] {
            assert_eq!(
                memory
                    .read_string_codes_range(column, rows.clone())
                    .unwrap(),
                stored.read_string_codes_range(column, rows).unwrap(),
                "column {column}"
            );
        }
        assert_eq!(
            memory.read_string_codes_range("host", 0..3).unwrap(),
            Some(vec![2, 0, 1])
        );
        for column in ["host", "tags", "status", "nope"] {
            assert_eq!(
                memory.string_coupons(column).unwrap(),
                stored.string_coupons(column).unwrap(),
                "column {column}"
            );
        }
        assert!(memory.string_coupons("tags").unwrap().is_some());
        assert_eq!(
            memory.read_column("tags").unwrap(),
            Some(ColumnValues::String {
                dictionary: ["x".into(), "y".into()].into(),
                rows: vec![vec![0, 1], vec![], vec![1]],
            })
        );
    }

    #[test]
    fn a_cell_that_does_not_suit_its_column_is_refused_and_appends_nothing() {
        let mut builder = MemTableBuilder::new(TableKind::Events, schema());
        let mut cells = rows().remove(0).1;
        cells[2] = CellValue::Str("200");
        let error = builder.append_row(1, &cells).unwrap_err();
        assert!(
            error.to_string().contains("`status` is a long column"),
            "{error}"
        );
        assert!(matches!(
            builder.append_row(1, &cells[..2]),
            Err(TableError::CellCount {
                expected: 6,
                found: 2
            })
        ));
        assert_eq!(builder.finish().rows(), 0);
    }
}

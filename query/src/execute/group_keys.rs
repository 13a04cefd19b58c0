//! Group keys: a table's group key column read once as small codes, so
//! that grouping a row hashes a few integers, not its strings.
//!
//! A string column's codes are its dictionary ids, with one more code for
//! null; a numeric column is coded by its distinct values; a column the
//! table lacks is null in every row. A row of a multi-value dimension counts
//! in the group of each of its values (twice for a value it holds twice), as
//! in Druid, and an empty one in the null group; rows grouped by several
//! multi-value dimensions count in every combination.

use std::collections::HashMap;
use std::ops::Range;

use strata_storage::segment::ColumnKind;

use super::{ExecuteError, check_length, column_kind_name, table_name};
use crate::plan::KeyValue;
use crate::table::{ColumnValues, TableSource};

/// Calls `visit` with `prefix` followed by every combination of one code
/// from each of `choices`.
pub(super) fn for_each_combination(
    choices: &[&[u32]],
    prefix: &mut Vec<u64>,
    visit: &mut impl FnMut(&[u64]),
) {
    match choices.split_first() {
        None => visit(prefix),
        Some((first, rest)) => {
            for &code in *first {
                prefix.push(u64::from(code));
                for_each_combination(rest, prefix, visit);
                prefix.pop();
            }
        }
    }
}

/// A group key column of one table, as codes into its distinct values.
///
/// A single-value string column is read a run of rows at a time ([`load`]):
/// its codes are the table's dictionary codes, the same in every run. Other
/// columns are read whole when opened, as their codes are assigned while
/// reading.
///
/// [`load`]: KeyColumn::load
pub(super) struct KeyColumn {
    name: String,
    /// The distinct values, indexed by code.
    values: Vec<KeyValue>,
    /// The code of [`KeyValue::Null`].
    null: u32,
    rows: KeyRows,
    /// The first row of the run loaded: rows are asked relative to it.
    start: usize,
}

enum KeyRows {
    /// The table lacks the column: every row is null.
    Absent,
    /// Every row's code, for the whole table.
    Single(Vec<u32>),
    /// Each row's codes, for the whole table; an empty row is null.
    Multi(Vec<Vec<u32>>),
    /// The codes of the run loaded: 0 for null, `id + 1` for a value.
    Run(Vec<u32>),
}

impl KeyColumn {
    /// The key column `column` of `table`, ready for [`load`](Self::load).
    pub(super) fn open(table: &dyn TableSource, column: &str) -> Result<Self, ExecuteError> {
        let table_name = table_name(table.kind());
        let key = |values: Vec<KeyValue>, null: u32, rows: KeyRows| KeyColumn {
            name: column.to_owned(),
            values,
            null,
            rows,
            start: 0,
        };
        let single_value_string = table
            .schema()
            .position(column)
            .and_then(|position| table.schema().columns().get(position))
            .is_some_and(|schema| schema.kind == ColumnKind::String { multi_value: false });
        if single_value_string && let Some(dictionary) = table.string_dictionary(column)? {
            // The table's codes are the key's: 0 for null, then the values.
            let values = std::iter::once(KeyValue::Null)
                .chain(dictionary.iter().cloned().map(KeyValue::String))
                .collect();
            return Ok(key(values, 0, KeyRows::Run(Vec::new())));
        }
        let rows = table.rows();
        let Some(values) = table.read_column(column)? else {
            return Ok(key(vec![KeyValue::Null], 0, KeyRows::Absent));
        };
        check_length(&values, rows, column, table_name)?;
        match values {
            ColumnValues::String { dictionary, rows } => {
                let damaged = |problem: String| ExecuteError::DamagedColumn {
                    column: column.to_owned(),
                    table: table_name,
                    problem,
                };
                let null = u32::try_from(dictionary.len()).map_err(|_| {
                    damaged(format!("its dictionary has {} values", dictionary.len()))
                })?;
                if let Some(id) = rows.iter().flatten().find(|&&id| id >= null) {
                    return Err(damaged(format!(
                        "a row holds value id {id}, past its dictionary of {null} values"
                    )));
                }
                let values = dictionary
                    .iter()
                    .cloned()
                    .map(KeyValue::String)
                    .chain([KeyValue::Null])
                    .collect();
                // A multi-value column whose rows hold one value at most is
                // a flat list of codes.
                let rows = if rows.iter().all(|ids| ids.len() <= 1) {
                    KeyRows::Single(
                        rows.iter()
                            .map(|ids| ids.first().copied().unwrap_or(null))
                            .collect(),
                    )
                } else {
                    KeyRows::Multi(rows)
                };
                Ok(key(values, null, rows))
            }
            ColumnValues::Long(cells) => Ok(KeyColumn::from_cells(column, cells, KeyValue::Long)),
            ColumnValues::Double(cells) => {
                Ok(KeyColumn::from_cells(column, cells, KeyValue::Double))
            }
            other @ (ColumnValues::Text(_) | ColumnValues::Complex(_)) => {
                Err(ExecuteError::CannotGroup {
                    column: column.to_owned(),
                    table: table_name,
                    kind: column_kind_name(&other),
                })
            }
        }
    }

    /// Makes the rows `rows` of `table` the ones [`codes`](Self::codes) asks
    /// about.
    pub(super) fn load(
        &mut self,
        table: &dyn TableSource,
        rows: Range<usize>,
    ) -> Result<(), ExecuteError> {
        self.start = rows.start;
        let KeyRows::Run(codes) = &mut self.rows else {
            return Ok(());
        };
        let table_name = table_name(table.kind());
        let damaged = |problem: String| ExecuteError::DamagedColumn {
            column: self.name.clone(),
            table: table_name,
            problem,
        };
        let read = table
            .read_string_codes_range(&self.name, rows.clone())?
            .ok_or_else(|| damaged("its rows are not one string value each".to_owned()))?;
        if read.len() != rows.len() {
            return Err(damaged(format!(
                "it has {} values for {} rows",
                read.len(),
                rows.len()
            )));
        }
        if let Some(code) = read
            .iter()
            .find(|&&code| code as usize >= self.values.len())
        {
            return Err(damaged(format!(
                "a row holds value id {}, past its dictionary of {} values",
                code - 1,
                self.values.len() - 1
            )));
        }
        *codes = read;
        Ok(())
    }

    /// Codes a numeric column by its distinct values (doubles by their bits,
    /// so every value, `-0.0` and NaN included, is one group).
    fn from_cells<T: Copy + Bits>(
        name: &str,
        cells: Vec<Option<T>>,
        key: fn(T) -> KeyValue,
    ) -> Self {
        let mut values = vec![KeyValue::Null];
        let mut codes: HashMap<u64, u32> = HashMap::new();
        let rows = cells
            .into_iter()
            .map(|cell| match cell {
                None => 0,
                Some(value) => *codes.entry(value.bits()).or_insert_with(|| {
                    values.push(key(value));
                    // At most one code per row, and rows are counted in u32.
                    (values.len() - 1) as u32
                }),
            })
            .collect();
        KeyColumn {
            name: name.to_owned(),
            values,
            null: 0,
            rows: KeyRows::Single(rows),
            start: 0,
        }
    }

    /// How many codes there are: every code is below it.
    pub(super) fn code_count(&self) -> usize {
        self.values.len()
    }

    /// Whether a row may have several codes.
    pub(super) fn is_multi_value(&self) -> bool {
        matches!(self.rows, KeyRows::Multi(_))
    }

    /// The codes of the `rows` rows of the run loaded, one per row, when
    /// the column holds one code per row; `None` otherwise.
    pub(super) fn run_codes(&self, rows: usize) -> Option<&[u32]> {
        match &self.rows {
            KeyRows::Run(codes) => codes.get(..rows),
            KeyRows::Single(codes) => codes.get(self.start..self.start + rows),
            KeyRows::Absent | KeyRows::Multi(_) => None,
        }
    }

    /// The code of a row's value in a column of one value per row at most
    /// (see [`codes`](Self::codes)); a multi-value row gives its first.
    #[inline]
    pub(super) fn code(&self, row: usize) -> u32 {
        match &self.rows {
            KeyRows::Run(codes) => codes.get(row).copied().unwrap_or(self.null),
            KeyRows::Single(codes) => codes.get(self.start + row).copied().unwrap_or(self.null),
            KeyRows::Absent | KeyRows::Multi(_) => {
                self.codes(row).first().copied().unwrap_or(self.null)
            }
        }
    }

    /// The codes of a row's values — one, or several for a multi-value row
    /// — the row counted from the first of the run loaded.
    pub(super) fn codes(&self, row: usize) -> &[u32] {
        let null = std::slice::from_ref(&self.null);
        let row_in_table = self.start + row;
        match &self.rows {
            KeyRows::Absent => null,
            KeyRows::Run(codes) => codes.get(row).map_or(null, std::slice::from_ref),
            KeyRows::Single(codes) => codes.get(row_in_table).map_or(null, std::slice::from_ref),
            KeyRows::Multi(rows) => match rows.get(row_in_table) {
                Some(codes) if !codes.is_empty() => codes,
                _ => null,
            },
        }
    }

    pub(super) fn value(&self, code: u64) -> KeyValue {
        usize::try_from(code)
            .ok()
            .and_then(|code| self.values.get(code))
            .cloned()
            .unwrap_or(KeyValue::Null)
    }
}

/// A number's identity as a hash key.
trait Bits {
    fn bits(self) -> u64;
}

impl Bits for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;
    use strata_storage::segment::{ColumnSchema, TableKind, TableSchema};
    use strata_storage::time::Millis;

    use crate::execute::test_support::*;
    use crate::execute::{TableSet, execute};
    use crate::plan::{AggregateFunction, KeyValue, ResultValue};
    use crate::table::{ColumnValues, TableError, TableSource};

    #[test]
    fn a_multi_value_row_counts_in_each_of_its_groups_and_null_sorts_first() {
        let events = vec![
            event(T0, Some("a"), &["x", "y"], None),
            event(T0, Some("a"), &["y"], None),
            event(T0, None, &[], None),
            event(T0, Some("a"), &["y", "y"], None),
        ];
        let table = events_table(&events);
        let plan = plan(
            Granularity::All,
            hours(0, 1),
            &["tags", "host"],
            vec![AggregateFunction::Count],
        );
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        let keys: Vec<(Vec<KeyValue>, ResultValue)> = rows
            .into_iter()
            .map(|row| (row.keys, row.values[0].clone()))
            .collect();
        let string = |value: &str| KeyValue::String(value.into());
        assert_eq!(
            keys,
            vec![
                (vec![KeyValue::Null, KeyValue::Null], ResultValue::Long(1)),
                (vec![string("x"), string("a")], ResultValue::Long(1)),
                (vec![string("y"), string("a")], ResultValue::Long(4)),
            ]
        );
    }

    /// A table whose string column names a value its dictionary lacks.
    struct Damaged(TableSchema);

    impl TableSource for Damaged {
        fn kind(&self) -> TableKind {
            TableKind::Events
        }

        fn schema(&self) -> &TableSchema {
            &self.0
        }

        fn rows(&self) -> usize {
            1
        }

        fn time_range(&self) -> Option<(Millis, Millis)> {
            Some((T0, T0))
        }

        fn read_time(&self) -> Result<Vec<Millis>, TableError> {
            Ok(vec![T0])
        }

        fn read_column(&self, _: &str) -> Result<Option<ColumnValues>, TableError> {
            Ok(Some(ColumnValues::String {
                dictionary: ["a".into()].into(),
                rows: vec![vec![3]],
            }))
        }
    }

    #[test]
    fn a_damaged_column_is_an_error_not_a_panic() {
        let table =
            Damaged(TableSchema::new(vec![ColumnSchema::new("host", string(false))]).unwrap());
        let sets = [TableSet {
            events: Some(&table),
            rollup: None,
        }];
        let plan = plan(
            Granularity::All,
            hours(0, 1),
            &["host"],
            vec![AggregateFunction::Count],
        );
        let error = execute(&plan, &spec(), &sets).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`host` of the events table is damaged: a row holds value id 3"),
            "{error}"
        );
    }
}

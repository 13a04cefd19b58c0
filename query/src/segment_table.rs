//! A published segment's table read through the [table interface](crate::table).
//!
//! The segment keeps each column in compressed blocks; reading a column
//! decodes every block and applies the column's null bitmap. String columns
//! come out as the segment stores them — a sorted dictionary and dictionary
//! ids per row — so nothing is re-encoded.

use roaring::RoaringBitmap;
use strata_storage::segment::{Column, SegmentError, Table, TableKind, TableSchema};
use strata_storage::time::Millis;

use crate::table::{ColumnValues, TableError, TableSource};

/// One table of a memory-mapped segment.
#[derive(Clone, Copy)]
pub struct SegmentTable<'s> {
    table: &'s Table,
}

impl<'s> SegmentTable<'s> {
    pub fn new(table: &'s Table) -> Self {
        SegmentTable { table }
    }
}

impl TableSource for SegmentTable<'_> {
    fn kind(&self) -> TableKind {
        self.table.kind()
    }

    fn schema(&self) -> &TableSchema {
        self.table.schema()
    }

    fn rows(&self) -> usize {
        self.table.rows() as usize
    }

    fn time_range(&self) -> Option<(Millis, Millis)> {
        self.table.time_range()
    }

    fn read_time(&self) -> Result<Vec<Millis>, TableError> {
        Ok(self.table.time().values()?)
    }

    fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError> {
        let Some(column) = self.table.column(name) else {
            return Ok(None);
        };
        Ok(Some(match column {
            Column::Long(column) => {
                ColumnValues::Long(with_nulls(column.values()?, column.nulls()?))
            }
            Column::Double(column) => {
                ColumnValues::Double(with_nulls(column.values()?, column.nulls()?))
            }
            Column::String(column) => {
                let dictionary = column.dictionary()?;
                let values = (0..column.cardinality())
                    .map(|id| dictionary.value(id).map(str::to_owned))
                    .collect::<Result<Vec<_>, SegmentError>>()?;
                ColumnValues::String {
                    dictionary: values,
                    rows: column.rows_as_ids()?,
                }
            }
            Column::Text(column) => {
                ColumnValues::Text(with_nulls(column.values()?, column.nulls()?))
            }
            Column::Complex(column) => {
                ColumnValues::Complex(with_nulls(column.values()?, column.nulls()?))
            }
        }))
    }
}

/// `values` with the rows of `nulls` made `None`.
fn with_nulls<T>(values: Vec<T>, nulls: RoaringBitmap) -> Vec<Option<T>> {
    values
        .into_iter()
        .enumerate()
        .map(|(row, value)| (!nulls.contains(row as u32)).then_some(value))
        .collect()
}

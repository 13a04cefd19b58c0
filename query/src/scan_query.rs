//! Scanning: a datasource's selected rows themselves, not aggregated — what
//! Druid's `scan` query returns.
//!
//! A [`ScanPlan`] selects rows as an aggregate plan does (its intervals and
//! filter, through [`select_rows_at`]) and returns each selected row's values
//! for the plan's columns. As Druid's scan of a datasource without rollup,
//! it reads *events*: each table set is read through its events table, and
//! only a set that has no events table (a datasource whose every dimension
//! takes part in rollup) through its rollup table, whose rows are then the
//! rolled-up rows with their metrics.
//!
//! ```text
//! set ─ events table (else rollup) ─ select rows ─ (time, set, row) ─┐
//! set ─ events table (else rollup) ─ select rows ─ (time, set, row) ─┼─ order ─ offset ─ limit ─ read the chosen rows' columns
//! set ─ ...                                                        ─┘
//! ```
//!
//! # Ordering and cutting
//!
//! With [`ScanOrder::None`] rows come in storage order: set by set, each
//! table's rows in its order; once `offset + limit` rows are chosen no
//! further set is read. Ordered by time, every set's selected rows are
//! ranked by `__time` (rows of equal time keep storage order, in both
//! directions) and only the best `offset + limit` positions are kept as sets
//! are read, so memory stays bounded by the limit. In both cases the column
//! values are read only for the tables that hold a returned row, and decoded
//! only for the returned rows.
//!
//! # Columns and values
//!
//! Without a column list a scan returns `__time` and every column of the
//! tables it reads: the datasource's dimensions in spec order, then the
//! other columns (an events table's raw metric inputs, a rollup table's
//! metrics) in the order the tables list them. A column a table lacks is
//! null in its rows. `__time` is a long (epoch milliseconds); a string row
//! with one value is a string, with several a list, with none null; text is
//! a string; a complex column (a sketch) is its stored bytes.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use roaring::RoaringBitmap;
use strata_storage::segment::TIME_COLUMN;
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::Millis;

use crate::execute::TableSet;
use crate::plan::{ScanOrder, ScanPlan};
use crate::select::{SelectError, select_rows_at};
use crate::table::{ColumnValues, TableError, TableSource};

/// The rows a scan returns, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResult {
    /// The name of each value of a row, in order.
    pub columns: Vec<String>,
    pub rows: Vec<ScanRow>,
}

/// One returned row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRow {
    /// The row's `__time`, whether or not it is among the columns.
    pub time: Millis,
    /// One value per [`ScanResult::columns`].
    pub values: Vec<ScanValue>,
}

/// One value of a returned row.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanValue {
    Null,
    Long(i64),
    Double(f64),
    String(String),
    /// A multi-value row's values, in the order stored.
    Strings(Vec<String>),
    /// A complex column's stored bytes.
    Bytes(Vec<u8>),
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("column `{column}` of the {table} table is damaged: {problem}")]
    DamagedColumn {
        column: String,
        table: &'static str,
        problem: String,
    },
}

/// Runs `plan` over the rows of `sets`, which hold data of the datasource
/// `spec` describes. See the [module docs](self).
pub fn scan(
    plan: &ScanPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
) -> Result<ScanResult, ScanError> {
    let tables: Vec<&dyn TableSource> = sets
        .iter()
        .filter_map(|set| set.events.or(set.rollup))
        .collect();
    let columns = match &plan.columns {
        Some(columns) => columns.clone(),
        None => default_columns(spec, &tables),
    };
    let wanted = plan.limit.map(|limit| plan.offset.saturating_add(limit));
    let mut picks = match plan.order {
        ScanOrder::None => pick_in_storage_order(plan, &tables, wanted)?,
        ScanOrder::Ascending | ScanOrder::Descending => pick_by_time(plan, &tables, wanted)?,
    };
    picks.drain(..plan.offset.min(picks.len()));
    let rows = read_rows(&picks, &tables, &columns)?;
    Ok(ScanResult { columns, rows })
}

/// A selected row: which table, which row of it, and its time.
#[derive(Debug, Clone, Copy)]
struct Pick {
    time: Millis,
    table: usize,
    row: u32,
}

/// The rows of each table in turn, until `wanted` are chosen.
fn pick_in_storage_order(
    plan: &ScanPlan,
    tables: &[&dyn TableSource],
    wanted: Option<usize>,
) -> Result<Vec<Pick>, ScanError> {
    let mut picks = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let remaining = wanted.map_or(usize::MAX, |wanted| wanted.saturating_sub(picks.len()));
        if remaining == 0 {
            break;
        }
        let (selected, times) = select(plan, *table)?;
        picks.extend(
            selected
                .iter()
                .take(remaining)
                .filter_map(|row| pick(index, row, &times)),
        );
    }
    Ok(picks)
}

/// Every table's selected rows ranked by time, keeping only the best
/// `wanted` positions as tables are read.
fn pick_by_time(
    plan: &ScanPlan,
    tables: &[&dyn TableSource],
    wanted: Option<usize>,
) -> Result<Vec<Pick>, ScanError> {
    let descending = plan.order == ScanOrder::Descending;
    let rank = |a: &Pick, b: &Pick| -> Ordering {
        let by_time = if descending {
            b.time.cmp(&a.time)
        } else {
            a.time.cmp(&b.time)
        };
        by_time.then((a.table, a.row).cmp(&(b.table, b.row)))
    };
    let mut picks = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let (selected, times) = select(plan, *table)?;
        picks.extend(selected.iter().filter_map(|row| pick(index, row, &times)));
        // Cutting back only when twice the limit is held keeps the cost of
        // sorting linear in the rows read.
        if let Some(wanted) = wanted
            && picks.len() > wanted.saturating_mul(2).max(1024)
        {
            picks.sort_unstable_by(rank);
            picks.truncate(wanted);
        }
    }
    picks.sort_unstable_by(rank);
    if let Some(wanted) = wanted {
        picks.truncate(wanted);
    }
    Ok(picks)
}

fn select(
    plan: &ScanPlan,
    table: &dyn TableSource,
) -> Result<(RoaringBitmap, Vec<Millis>), ScanError> {
    let times = table.read_time()?;
    let selected = select_rows_at(table, &times, &plan.intervals, plan.filter.as_ref())?;
    Ok((selected, times))
}

fn pick(table: usize, row: u32, times: &[Millis]) -> Option<Pick> {
    let time = *times.get(row as usize)?;
    Some(Pick { time, table, row })
}

/// `__time`, the spec's dimensions that some table has, then the tables'
/// other columns in the order they list them.
fn default_columns(spec: &DataSourceSpec, tables: &[&dyn TableSource]) -> Vec<String> {
    let has = |name: &str| {
        tables
            .iter()
            .any(|table| table.schema().position(name).is_some())
    };
    let mut columns = vec![TIME_COLUMN.to_owned()];
    columns.extend(
        spec.dimensions()
            .iter()
            .map(|dimension| dimension.name())
            .filter(|name| has(name))
            .map(str::to_owned),
    );
    for table in tables {
        for column in table.schema().columns() {
            if !columns.contains(&column.name) {
                columns.push(column.name.clone());
            }
        }
    }
    columns
}

/// Where a returned column's values come from in one table.
enum Source {
    Time,
    Missing,
    Column(ColumnValues),
}

/// The values of the picked rows, in pick order; each table's columns are
/// read once, and only for the tables holding a picked row.
fn read_rows(
    picks: &[Pick],
    tables: &[&dyn TableSource],
    columns: &[String],
) -> Result<Vec<ScanRow>, ScanError> {
    let mut by_table: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (position, pick) in picks.iter().enumerate() {
        by_table.entry(pick.table).or_default().push(position);
    }
    let mut rows: Vec<ScanRow> = picks
        .iter()
        .map(|pick| ScanRow {
            time: pick.time,
            values: Vec::with_capacity(columns.len()),
        })
        .collect();
    for (table_index, positions) in by_table {
        let Some(table) = tables.get(table_index) else {
            continue;
        };
        let sources = columns
            .iter()
            .map(|name| read_source(*table, name))
            .collect::<Result<Vec<_>, _>>()?;
        for position in positions {
            let (Some(pick), Some(row)) = (picks.get(position), rows.get_mut(position)) else {
                continue;
            };
            for (source, name) in sources.iter().zip(columns) {
                row.values
                    .push(value_at(source, pick, name, table.kind().name())?);
            }
        }
    }
    Ok(rows)
}

fn read_source(table: &dyn TableSource, name: &str) -> Result<Source, ScanError> {
    if name == TIME_COLUMN {
        return Ok(Source::Time);
    }
    let Some(values) = table.read_column(name)? else {
        return Ok(Source::Missing);
    };
    if values.len() != table.rows() {
        return Err(ScanError::DamagedColumn {
            column: name.to_owned(),
            table: table.kind().name(),
            problem: format!("it has {} values for {} rows", values.len(), table.rows()),
        });
    }
    Ok(Source::Column(values))
}

fn value_at(
    source: &Source,
    pick: &Pick,
    column: &str,
    table: &'static str,
) -> Result<ScanValue, ScanError> {
    let row = pick.row as usize;
    let values = match source {
        Source::Time => return Ok(ScanValue::Long(pick.time)),
        Source::Missing => return Ok(ScanValue::Null),
        Source::Column(values) => values,
    };
    Ok(match values {
        ColumnValues::Long(values) => values
            .get(row)
            .copied()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::Long),
        ColumnValues::Double(values) => values
            .get(row)
            .copied()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::Double),
        ColumnValues::Text(values) => values
            .get(row)
            .cloned()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::String),
        ColumnValues::Complex(values) => values
            .get(row)
            .cloned()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::Bytes),
        ColumnValues::String { dictionary, rows } => {
            let ids = rows.get(row).map(Vec::as_slice).unwrap_or_default();
            let mut strings = ids
                .iter()
                .map(|&id| {
                    dictionary
                        .get(id as usize)
                        .cloned()
                        .ok_or_else(|| ScanError::DamagedColumn {
                            column: column.to_owned(),
                            table,
                            problem: format!(
                                "row {row} refers to dictionary id {id}, but the dictionary has {} values",
                                dictionary.len()
                            ),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            match strings.len() {
                0 => ScanValue::Null,
                1 => strings.pop().map_or(ScanValue::Null, ScanValue::String),
                _ => ScanValue::Strings(strings),
            }
        }
    })
}

#[cfg(test)]
mod tests;

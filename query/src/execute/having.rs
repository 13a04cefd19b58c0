//! Having: which result rows the answer keeps, judged once every row's
//! aggregations and post-aggregations are computed (Druid's `having`).
//!
//! Each condition of a [`Having`] tree is evaluated over all rows at once,
//! into the bitmap of the rows it is true for; `And`, `Or` and `Not` are
//! then intersections, unions and complements. Conditions are two-valued,
//! as Druid's having specs are: a comparison with a null value is false,
//! so `Not` of it is true.
//!
//! - `Compare` compares an aggregation's or post-aggregation's number with
//!   a constant; a long compares exactly (no rounding through `f64`), and
//!   NaN is neither greater, less nor equal.
//! - `DimensionEquals` compares a group key's text — a number's decimal
//!   text — with a value; no value matches a null key.
//! - `Filter` is a row filter run over the result rows as a table: one
//!   column per group key (by output name) and per value (by name), with
//!   `__time` the bucket start, so every filter [`select`](crate::select)
//!   evaluates works, with its three-valued logic; only TRUE rows pass. A
//!   key column holding strings anywhere is a string column (numbers as
//!   their text), else a number column; a name used twice reads its first
//!   column.
//!
//! Names are checked before any row is read, so a having over an unknown
//! name fails even over no data.

use std::cmp::Ordering;
use std::collections::HashSet;

use roaring::RoaringBitmap;
use strata_storage::segment::{
    CellValue, ColumnKind, ColumnSchema, TIME_COLUMN, TableKind, TableSchema,
};
use strata_storage::time::Interval;

use super::ExecuteError;
use super::groups::compare_long_to_double;
use crate::mem_table::{MemTable, MemTableBuilder};
use crate::plan::{AggregatePlan, Having, HavingComparison, KeyValue, ResultRow, ResultValue};
use crate::select::select_rows;

/// Fails when `having` names a value or a key the plan does not produce.
pub(super) fn check_having(aggregate: &AggregatePlan) -> Result<(), ExecuteError> {
    let Some(having) = &aggregate.having else {
        return Ok(());
    };
    let value_names = value_names(aggregate);
    let key_names: Vec<&str> = key_names(aggregate);
    check_names(having, &value_names, &key_names)
}

fn check_names(having: &Having, values: &[&str], keys: &[&str]) -> Result<(), ExecuteError> {
    match having {
        Having::Compare { field, .. } if !values.contains(&field.as_str()) => {
            Err(ExecuteError::UnknownHavingField {
                field: field.clone(),
                known: values.join(", "),
            })
        }
        Having::DimensionEquals { dimension, .. } if !keys.contains(&dimension.as_str()) => {
            Err(ExecuteError::UnknownHavingDimension {
                dimension: dimension.clone(),
                known: keys.join(", "),
            })
        }
        Having::Compare { .. } | Having::DimensionEquals { .. } | Having::Filter(_) => Ok(()),
        Having::And(havings) | Having::Or(havings) => havings
            .iter()
            .try_for_each(|having| check_names(having, values, keys)),
        Having::Not(having) => check_names(having, values, keys),
    }
}

/// The rows of `rows` that `aggregate`'s having keeps, in their order.
pub(super) fn apply_having(
    aggregate: &AggregatePlan,
    rows: Vec<ResultRow>,
) -> Result<Vec<ResultRow>, ExecuteError> {
    let Some(having) = &aggregate.having else {
        return Ok(rows);
    };
    let row_count = u32::try_from(rows.len())
        .map_err(|_| ExecuteError::TooManyHavingRows { rows: rows.len() })?;
    let mut all_rows = RoaringBitmap::new();
    all_rows.insert_range(0..row_count);
    let mut context = Context {
        aggregate,
        rows: &rows,
        value_names: value_names(aggregate),
        key_names: key_names(aggregate),
        all_rows,
        table: None,
    };
    let kept = context.evaluate(having)?;
    Ok(rows
        .into_iter()
        .zip(0..row_count)
        .filter(|(_, index)| kept.contains(*index))
        .map(|(row, _)| row)
        .collect())
}

/// The names of a row's values, in order: aggregations, then
/// post-aggregations.
fn value_names(aggregate: &AggregatePlan) -> Vec<&str> {
    aggregate
        .aggregations
        .iter()
        .map(|aggregation| aggregation.name.as_str())
        .chain(
            aggregate
                .post_aggregations
                .iter()
                .map(|post| post.name.as_str()),
        )
        .collect()
}

fn key_names(aggregate: &AggregatePlan) -> Vec<&str> {
    aggregate
        .group_by
        .iter()
        .map(|key| key.output_name.as_str())
        .collect()
}

struct Context<'a> {
    aggregate: &'a AggregatePlan,
    rows: &'a [ResultRow],
    value_names: Vec<&'a str>,
    key_names: Vec<&'a str>,
    all_rows: RoaringBitmap,
    /// The rows as a table, built the first time a filter needs it.
    table: Option<MemTable>,
}

impl Context<'_> {
    /// The rows `having` is true for.
    fn evaluate(&mut self, having: &Having) -> Result<RoaringBitmap, ExecuteError> {
        Ok(match having {
            Having::Compare {
                field,
                comparison,
                value,
            } => {
                let position = self.value_names.iter().position(|name| name == field);
                self.rows_where(|row| {
                    position
                        .and_then(|position| row.values.get(position))
                        .is_some_and(|found| compares(found, *comparison, *value))
                })
            }
            Having::DimensionEquals { dimension, value } => {
                let position = self.key_names.iter().position(|name| name == dimension);
                self.rows_where(|row| {
                    position
                        .and_then(|position| row.keys.get(position))
                        .is_some_and(|key| key.text().as_deref() == value.as_deref())
                })
            }
            Having::Filter(filter) => {
                let table = match self.table.take() {
                    Some(table) => table,
                    None => result_table(self.aggregate, self.rows)?,
                };
                let passing = select_rows(&table, &[Interval::ETERNITY], Some(filter));
                self.table = Some(table);
                passing?
            }
            Having::And(havings) => {
                let mut rows = self.all_rows.clone();
                for having in havings {
                    rows &= self.evaluate(having)?;
                }
                rows
            }
            Having::Or(havings) => {
                let mut rows = RoaringBitmap::new();
                for having in havings {
                    rows |= self.evaluate(having)?;
                }
                rows
            }
            Having::Not(having) => {
                let inner = self.evaluate(having)?;
                &self.all_rows - inner
            }
        })
    }

    fn rows_where(&self, keeps: impl Fn(&ResultRow) -> bool) -> RoaringBitmap {
        self.rows
            .iter()
            .zip(0_u32..)
            .filter(|(row, _)| keeps(row))
            .map(|(_, index)| index)
            .collect()
    }
}

fn compares(found: &ResultValue, comparison: HavingComparison, threshold: f64) -> bool {
    if threshold.is_nan() {
        return false;
    }
    let ordering = match found.clone().finalized() {
        ResultValue::Long(long) => compare_long_to_double(long, threshold),
        ResultValue::Double(double) => match double.partial_cmp(&threshold) {
            Some(ordering) => ordering,
            None => return false,
        },
        // Strings and arrays compare with no number.
        _ => return false,
    };
    ordering
        == match comparison {
            HavingComparison::GreaterThan => Ordering::Greater,
            HavingComparison::LessThan => Ordering::Less,
            HavingComparison::EqualTo => Ordering::Equal,
        }
}

/// One cell of the result table, owned until the row is appended.
enum Cell {
    Null,
    Long(i64),
    Double(f64),
    Text(String),
}

impl Cell {
    fn as_cell_value(&self) -> CellValue<'_> {
        match self {
            Cell::Null => CellValue::Null,
            Cell::Long(value) => CellValue::Long(*value),
            Cell::Double(value) => CellValue::Double(*value),
            Cell::Text(value) => CellValue::Str(value),
        }
    }
}

/// Where a column of the result table takes its cells from.
#[derive(Clone, Copy)]
enum Source {
    /// The group key at this position, as text when the column is a string
    /// column.
    Key { position: usize, as_text: bool },
    /// The value at this position.
    Value { position: usize },
}

impl Source {
    fn cell(self, row: &ResultRow) -> Cell {
        match self {
            Source::Key { position, as_text } => match row.keys.get(position) {
                None | Some(KeyValue::Null) => Cell::Null,
                Some(key) if as_text => key.text().map_or(Cell::Null, Cell::Text),
                Some(KeyValue::Long(value)) => Cell::Long(*value),
                Some(KeyValue::Double(value)) => Cell::Double(*value),
                Some(KeyValue::String(value)) => Cell::Text(value.clone()),
            },
            Source::Value { position } => match row
                .values
                .get(position)
                .cloned()
                .map(ResultValue::finalized)
            {
                Some(ResultValue::Long(value)) => Cell::Long(value),
                Some(ResultValue::Double(value)) => Cell::Double(value),
                // A having filter reads numbers; strings and arrays read as null.
                _ => Cell::Null,
            },
        }
    }
}

/// The rows as a table a filter can select from (see the [module docs](self)).
fn result_table(aggregate: &AggregatePlan, rows: &[ResultRow]) -> Result<MemTable, ExecuteError> {
    let mut seen: HashSet<&str> = HashSet::from([TIME_COLUMN, ""]);
    let mut schema = Vec::new();
    let mut sources = Vec::new();
    for (position, name) in key_names(aggregate).into_iter().enumerate() {
        if !seen.insert(name) {
            continue;
        }
        let keys = || rows.iter().filter_map(|row| row.keys.get(position));
        let kind = if keys().any(|key| matches!(key, KeyValue::String(_))) {
            ColumnKind::String { multi_value: false }
        } else if keys().any(|key| matches!(key, KeyValue::Double(_))) {
            ColumnKind::Double
        } else {
            ColumnKind::Long
        };
        let as_text = matches!(kind, ColumnKind::String { .. });
        schema.push(ColumnSchema::new(name, kind));
        sources.push(Source::Key { position, as_text });
    }
    for (position, name) in value_names(aggregate).into_iter().enumerate() {
        if !seen.insert(name) {
            continue;
        }
        let any_double = rows
            .iter()
            .any(|row| matches!(row.values.get(position), Some(ResultValue::Double(_))));
        let kind = if any_double {
            ColumnKind::Double
        } else {
            ColumnKind::Long
        };
        schema.push(ColumnSchema::new(name, kind));
        sources.push(Source::Value { position });
    }
    let schema = TableSchema::new(schema).map_err(ExecuteError::HavingColumns)?;
    let mut builder = MemTableBuilder::new(TableKind::Events, schema);
    for row in rows {
        let cells: Vec<Cell> = sources.iter().map(|source| source.cell(row)).collect();
        let cells: Vec<CellValue<'_>> = cells.iter().map(Cell::as_cell_value).collect();
        builder.append_row(row.timestamp, &cells)?;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;

    use super::{apply_having, check_having};
    use crate::execute::ExecuteError;
    use crate::execute::test_support::*;
    use crate::plan::{
        AggregateFunction, AggregatePlan, Filter, Having, HavingComparison, KeyValue,
        PostAggregation, PostExpression, RangeBound, RangeOrdering, ResultRow, ResultValue,
    };

    /// Grouped by `status` (output name `code`) and `host`; values `a0`
    /// (a count) and `p0`.
    fn aggregate() -> AggregatePlan {
        let mut plan = plan(
            Granularity::HOUR,
            hours(0, 2),
            &["status", "host"],
            vec![AggregateFunction::Count],
        );
        plan.aggregate.group_by[0].output_name = "code".into();
        plan.aggregate.post_aggregations.push(PostAggregation {
            name: "p0".into(),
            expression: PostExpression::Field("a0".into()),
        });
        plan.aggregate
    }

    fn row(
        hour: i64,
        code: KeyValue,
        host: Option<&str>,
        a0: ResultValue,
        p0: ResultValue,
    ) -> ResultRow {
        ResultRow {
            timestamp: T0 + hour * strata_storage::time::MILLIS_PER_HOUR,
            keys: vec![
                code,
                host.map_or(KeyValue::Null, |host| KeyValue::String(host.into())),
            ],
            values: vec![a0, p0],
        }
    }

    fn rows() -> Vec<ResultRow> {
        vec![
            row(
                0,
                KeyValue::Long(200),
                Some("a"),
                ResultValue::Long(i64::MAX),
                ResultValue::Double(f64::NAN),
            ),
            row(
                0,
                KeyValue::Long(404),
                None,
                ResultValue::Long(3),
                ResultValue::Double(2.5),
            ),
            row(
                1,
                KeyValue::Null,
                Some("b"),
                ResultValue::Long(0),
                ResultValue::Null,
            ),
        ]
    }

    /// The hours and the counts of the rows `having` keeps.
    fn kept(having: Having) -> Vec<(i64, ResultValue)> {
        let mut aggregate = aggregate();
        aggregate.having = Some(having);
        check_having(&aggregate).unwrap();
        apply_having(&aggregate, rows())
            .unwrap()
            .into_iter()
            .map(|row| {
                (
                    (row.timestamp - T0) / strata_storage::time::MILLIS_PER_HOUR,
                    row.values[0].clone(),
                )
            })
            .collect()
    }

    fn compare(field: &str, comparison: HavingComparison, value: f64) -> Having {
        Having::Compare {
            field: field.into(),
            comparison,
            value,
        }
    }

    #[test]
    fn comparisons_are_exact_and_false_on_null_and_nan() {
        use HavingComparison::{EqualTo, GreaterThan, LessThan};
        let max = ResultValue::Long(i64::MAX);
        // i64::MAX as f64 rounds up to 2^63: the long is less, not equal.
        assert_eq!(kept(compare("a0", EqualTo, i64::MAX as f64)), []);
        assert_eq!(
            kept(compare("a0", LessThan, i64::MAX as f64)),
            [
                (0, max.clone()),
                (0, ResultValue::Long(3)),
                (1, ResultValue::Long(0))
            ]
        );
        assert_eq!(
            kept(compare("a0", GreaterThan, 2.5)),
            [(0, max.clone()), (0, ResultValue::Long(3))]
        );
        assert_eq!(
            kept(compare("p0", EqualTo, 2.5)),
            [(0, ResultValue::Long(3))]
        );
        // NaN and null are neither greater nor less; `not` inverts that.
        assert_eq!(
            kept(compare("p0", GreaterThan, 0.0)),
            [(0, ResultValue::Long(3))]
        );
        assert_eq!(
            kept(Having::Not(Box::new(compare("p0", GreaterThan, 0.0)))),
            [(0, max.clone()), (1, ResultValue::Long(0))]
        );
    }

    #[test]
    fn dimension_selectors_compare_key_text_by_output_name() {
        let selector = |dimension: &str, value: Option<&str>| Having::DimensionEquals {
            dimension: dimension.into(),
            value: value.map(str::to_owned),
        };
        assert_eq!(
            kept(selector("code", Some("404"))),
            [(0, ResultValue::Long(3))]
        );
        assert_eq!(kept(selector("code", None)), [(1, ResultValue::Long(0))]);
        assert_eq!(
            kept(Having::Or(vec![
                selector("host", Some("a")),
                selector("host", None)
            ])),
            [(0, ResultValue::Long(i64::MAX)), (0, ResultValue::Long(3))]
        );
        assert_eq!(
            kept(Having::And(vec![
                selector("host", Some("a")),
                selector("code", Some("404"))
            ])),
            []
        );
    }

    #[test]
    fn filters_read_keys_values_and_the_bucket_time() {
        let at_least = |column: &str, value: &str| {
            Having::Filter(Filter::Range {
                column: column.into(),
                lower: Some(RangeBound {
                    value: value.into(),
                    strict: false,
                }),
                upper: None,
                ordering: RangeOrdering::Numeric,
            })
        };
        assert_eq!(kept(at_least("code", "300")), [(0, ResultValue::Long(3))]);
        assert_eq!(kept(at_least("p0", "1")), [(0, ResultValue::Long(3))]);
        assert_eq!(
            kept(at_least("__time", &(T0 + 1).to_string())),
            [(1, ResultValue::Long(0))]
        );
        // Three-valued: `not (host = a)` drops the row without a host.
        assert_eq!(
            kept(Having::Filter(Filter::Not(Box::new(Filter::Equals {
                column: "host".into(),
                value: Some("a".into()),
            })))),
            [(1, ResultValue::Long(0))]
        );
    }

    #[test]
    fn unknown_names_and_bad_filters_fail_over_no_rows() {
        let mut aggregate = aggregate();
        aggregate.having = Some(Having::Not(Box::new(compare(
            "nope",
            HavingComparison::GreaterThan,
            1.0,
        ))));
        let error = check_having(&aggregate).unwrap_err();
        assert!(
            matches!(error, ExecuteError::UnknownHavingField { .. })
                && error.to_string().contains("`nope`")
                && error.to_string().contains("a0, p0"),
            "{error}"
        );
        aggregate.having = Some(Having::DimensionEquals {
            dimension: "status".into(),
            value: None,
        });
        let error = check_having(&aggregate).unwrap_err();
        assert!(
            error.to_string().contains("`status`") && error.to_string().contains("code, host"),
            "{error}"
        );
        aggregate.having = Some(Having::Filter(Filter::Regex {
            column: "host".into(),
            pattern: "(".into(),
        }));
        let error = apply_having(&aggregate, Vec::new()).unwrap_err();
        assert!(matches!(error, ExecuteError::Select(_)), "{error}");
    }
}

//! Searching: which values of some dimensions match a text among the
//! selected rows, and how many events hold each — what Druid's `search`
//! query returns.
//!
//! A [`SearchPlan`] selects rows as an aggregate plan does (its intervals and
//! filter, through [`select_rows_at`]), buckets them by its granularity, and
//! for each searched dimension counts the events of each bucket holding each
//! matching value. A hit is a (dimension, value) pair with that count.
//!
//! ```text
//! set ─ events table (else rollup) ─ select rows ─ per dimension: match values ─ count per (bucket, value) ─┐
//! set ─ ...                                                                                               ─┴─ merge ─ sort ─ limit per bucket
//! ```
//!
//! # Counting events
//!
//! The count is a number of events, as Druid's `count` aggregator gives:
//! each set is read through its events table, where a row is an event; a
//! set with only a rollup table (every dimension in rollup) through that,
//! where a row stands for as many events as the spec's count metric counted
//! there (one when the spec has no count metric). A multi-value row counts
//! once for each distinct matching value it holds. A dimension the rollup
//! table leaves out has no values there, and so no hits.
//!
//! # Matching once per value
//!
//! A string column is dictionary-encoded, so the match runs once per
//! dictionary value, and rows only add their weight to the ids they hold.
//! Null values match nothing. Long and double dimensions, when named, are
//! matched on their decimal text, as the row filters read them. Case
//! insensitive matching compares the lowercase forms of value and text.
//!
//! # Order and limit
//!
//! Buckets come oldest first, only those with a hit (with granularity
//! `all`, one bucket stamped with the earliest interval start). Within a
//! bucket hits are ordered by the plan's [`SearchSort`], ties broken by the
//! dimension's name, and cut at the plan's limit.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use strata_storage::granularity::Granularity;
use strata_storage::spec::{Aggregator, DataSourceSpec, DimensionKind};
use strata_storage::time::Millis;

use crate::execute::TableSet;
use crate::plan::{GroupKey, SearchMatch, SearchPlan, SearchSort};
use crate::select::{SelectError, select_rows_at};
use crate::table::{ColumnValues, TableError, TableSource};

/// The hits of one time bucket, in order and cut at the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchBucket {
    /// The start of the bucket.
    pub timestamp: Millis,
    pub hits: Vec<SearchHit>,
}

/// One matching value of one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The dimension's output name.
    pub dimension: String,
    pub value: String,
    /// How many selected events of the bucket hold the value.
    pub count: i64,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "column `{column}` is a complex column (sketches, first/last pairs) and cannot be \
         searched; name dimensions in searchDimensions"
    )]
    ComplexColumn { column: String },
    #[error("column `{column}` of the {table} table is damaged: {problem}")]
    DamagedColumn {
        column: String,
        table: &'static str,
        problem: String,
    },
}

impl SearchError {
    /// Whether a table could not be read, or read back damaged: the
    /// server's fault, not the plan's.
    pub fn is_table_damage(&self) -> bool {
        match self {
            SearchError::Table(_) | SearchError::DamagedColumn { .. } => true,
            SearchError::Select(error) => error.is_table_damage(),
            _ => false,
        }
    }
}

/// Runs `plan` over the rows of `sets`, which hold data of the datasource
/// `spec` describes. See the [module docs](self).
pub fn search(
    plan: &SearchPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
) -> Result<Vec<SearchBucket>, SearchError> {
    let dimensions = match &plan.dimensions {
        Some(dimensions) => dimensions.clone(),
        None => string_dimensions(spec),
    };
    let matcher = Matcher::new(&plan.matching);
    let first_start = plan
        .intervals
        .iter()
        .map(|interval| interval.start())
        .min()
        .unwrap_or(Millis::MIN);
    let bucket_of = |time: Millis| match plan.granularity {
        Granularity::All => first_start,
        granularity => granularity.truncate(time),
    };
    let mut counts: BTreeMap<Millis, HashMap<(usize, String), i64>> = BTreeMap::new();
    for table in sets.iter().filter_map(|set| set.events.or(set.rollup)) {
        let times = table.read_time()?;
        let selected = select_rows_at(table, &times, &plan.intervals, plan.filter.as_ref())?;
        if selected.is_empty() {
            continue;
        }
        let weights = Weights::read(table, spec)?;
        let rows: Vec<(usize, Millis, i64)> = selected
            .iter()
            .filter_map(|row| {
                let row = row as usize;
                let time = *times.get(row)?;
                Some((row, bucket_of(time), weights.of(row)))
            })
            .collect();
        for (dimension_index, dimension) in dimensions.iter().enumerate() {
            let Some(values) = table.read_column(&dimension.column)? else {
                continue;
            };
            check_length(&values, table, &dimension.column)?;
            let mut add = |bucket: Millis, value: &str, weight: i64| {
                let count = counts
                    .entry(bucket)
                    .or_default()
                    .entry((dimension_index, value.to_owned()))
                    .or_insert(0);
                *count = count.wrapping_add(weight);
            };
            match &values {
                ColumnValues::String {
                    dictionary,
                    rows: ids,
                } => {
                    let matching: Vec<bool> = dictionary
                        .iter()
                        .map(|value| matcher.matches(value))
                        .collect();
                    let mut per_value: HashMap<(Millis, u32), i64> = HashMap::new();
                    for &(row, bucket, weight) in &rows {
                        let mut held: Vec<u32> = ids
                            .get(row)
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .copied()
                            .filter(|&id| matching.get(id as usize).copied().unwrap_or(false))
                            .collect();
                        held.sort_unstable();
                        held.dedup();
                        for id in held {
                            *per_value.entry((bucket, id)).or_insert(0) += weight;
                        }
                    }
                    for ((bucket, id), weight) in per_value {
                        if let Some(value) = dictionary.get(id as usize) {
                            add(bucket, value, weight);
                        }
                    }
                }
                ColumnValues::Text(values) => {
                    for &(row, bucket, weight) in &rows {
                        if let Some(Some(value)) = values.get(row)
                            && matcher.matches(value)
                        {
                            add(bucket, value, weight);
                        }
                    }
                }
                ColumnValues::Long(values) => {
                    for &(row, bucket, weight) in &rows {
                        if let Some(Some(value)) = values.get(row) {
                            let text = value.to_string();
                            if matcher.matches(&text) {
                                add(bucket, &text, weight);
                            }
                        }
                    }
                }
                ColumnValues::Double(values) => {
                    for &(row, bucket, weight) in &rows {
                        if let Some(Some(value)) = values.get(row) {
                            let text = value.to_string();
                            if matcher.matches(&text) {
                                add(bucket, &text, weight);
                            }
                        }
                    }
                }
                ColumnValues::Complex(_) => {
                    return Err(SearchError::ComplexColumn {
                        column: dimension.column.clone(),
                    });
                }
            }
        }
    }
    Ok(counts
        .into_iter()
        .filter(|(_, hits)| !hits.is_empty())
        .map(|(timestamp, hits)| {
            let mut hits: Vec<SearchHit> = hits
                .into_iter()
                .filter_map(|((dimension_index, value), count)| {
                    Some(SearchHit {
                        dimension: dimensions.get(dimension_index)?.output_name.clone(),
                        value,
                        count,
                    })
                })
                .collect();
            hits.sort_by(|a, b| compare_hits(plan.sort, a, b));
            hits.truncate(plan.limit);
            SearchBucket { timestamp, hits }
        })
        .collect())
}

/// Every string dimension of the spec, in spec order.
fn string_dimensions(spec: &DataSourceSpec) -> Vec<GroupKey> {
    spec.dimensions()
        .iter()
        .filter(|dimension| matches!(dimension.kind(), DimensionKind::String { .. }))
        .map(|dimension| GroupKey {
            column: dimension.name().to_owned(),
            output_name: dimension.name().to_owned(),
        })
        .collect()
}

/// The match, with its text lowercased once when case does not matter.
struct Matcher {
    fragments: Vec<String>,
    case_sensitive: bool,
}

impl Matcher {
    fn new(matching: &SearchMatch) -> Self {
        let (fragments, case_sensitive) = match matching {
            SearchMatch::Contains {
                text,
                case_sensitive,
            } => (vec![text.clone()], *case_sensitive),
            SearchMatch::Fragments {
                fragments,
                case_sensitive,
            } => (fragments.clone(), *case_sensitive),
        };
        let fragments = if case_sensitive {
            fragments
        } else {
            fragments.iter().map(|text| text.to_lowercase()).collect()
        };
        Matcher {
            fragments,
            case_sensitive,
        }
    }

    fn matches(&self, value: &str) -> bool {
        if self.case_sensitive {
            self.fragments
                .iter()
                .all(|text| value.contains(text.as_str()))
        } else {
            let value = value.to_lowercase();
            self.fragments
                .iter()
                .all(|text| value.contains(text.as_str()))
        }
    }
}

/// How many events each row of a table stands for.
enum Weights {
    /// One per row: an events table, or a rollup table without a count.
    Ones,
    /// The count metric of a rollup table, per row (null: none).
    Counts(Vec<i64>),
}

impl Weights {
    fn read(table: &dyn TableSource, spec: &DataSourceSpec) -> Result<Self, SearchError> {
        if table.kind() == strata_storage::segment::TableKind::Events {
            return Ok(Weights::Ones);
        }
        let Some(metric) = spec
            .metrics()
            .iter()
            .find(|metric| *metric.aggregator() == Aggregator::Count)
            .map(|metric| metric.name())
        else {
            return Ok(Weights::Ones);
        };
        let Some(values) = table.read_column(metric)? else {
            return Ok(Weights::Ones);
        };
        check_length(&values, table, metric)?;
        match values {
            ColumnValues::Long(values) => Ok(Weights::Counts(
                values.into_iter().map(|count| count.unwrap_or(0)).collect(),
            )),
            _ => Err(SearchError::DamagedColumn {
                column: metric.to_owned(),
                table: table.kind().name(),
                problem: "the count metric is not a long column".to_owned(),
            }),
        }
    }

    fn of(&self, row: usize) -> i64 {
        match self {
            Weights::Ones => 1,
            Weights::Counts(counts) => counts.get(row).copied().unwrap_or(0),
        }
    }
}

fn check_length(
    values: &ColumnValues,
    table: &dyn TableSource,
    column: &str,
) -> Result<(), SearchError> {
    if values.len() == table.rows() {
        return Ok(());
    }
    Err(SearchError::DamagedColumn {
        column: column.to_owned(),
        table: table.kind().name(),
        problem: format!("it has {} values for {} rows", values.len(), table.rows()),
    })
}

fn compare_hits(sort: SearchSort, a: &SearchHit, b: &SearchHit) -> Ordering {
    let by_value = match sort {
        SearchSort::Lexicographic => a.value.cmp(&b.value),
        SearchSort::Strlen => a
            .value
            .chars()
            .count()
            .cmp(&b.value.chars().count())
            .then_with(|| a.value.cmp(&b.value)),
        SearchSort::Alphanumeric => alphanumeric(&a.value, &b.value),
    };
    by_value.then_with(|| a.dimension.cmp(&b.dimension))
}

/// Druid's `alphanumeric` order, the one search's `sort` and groupBy's
/// `limitSpec` `dimensionOrder` name: runs of ASCII digits compare as
/// numbers (shorter run without leading zeros first, then digit by digit),
/// other runs as text; equal numbers with different leading zeros fall back
/// to the text. So `9 < 10 < 100` and `a2 < a10`.
pub fn alphanumeric(a: &str, b: &str) -> Ordering {
    let (mut left, mut right) = (runs(a), runs(b));
    loop {
        match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let is_number = |run: &str| run.bytes().all(|byte| byte.is_ascii_digit());
                let ordering = if is_number(x) && is_number(y) {
                    let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                } else {
                    x.cmp(y)
                };
                if ordering.is_ne() {
                    return ordering;
                }
            }
        }
    }
}

/// The text split into maximal runs of ASCII digits and of other characters.
fn runs(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digits = first.is_ascii_digit();
        let end = rest
            .char_indices()
            .find(|(_, character)| character.is_ascii_digit() != digits)
            .map_or(rest.len(), |(index, _)| index);
        let (run, remainder) = rest.split_at(end);
        rest = remainder;
        Some(run)
    })
}

#[cfg(test)]
mod tests;

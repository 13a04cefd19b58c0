//! Time buckets: which timestamp each result row carries, and the empty
//! rows zero filling adds.
//!
//! A row's time bucket is its `__time` truncated by the plan's granularity
//! (`all`: the earliest interval start, Druid's timestamp for the one
//! bucket). With `zero_fill` and no group keys every bucket of the intervals
//! appears, empty ones with their aggregations' empty values — up to
//! [`MAX_ZERO_FILL_BUCKETS`], as an open-ended interval has no end of
//! buckets.

use strata_storage::granularity::Granularity;
use strata_storage::time::Millis;

use super::ExecuteError;
use super::groups::{GroupId, Groups};
use crate::plan::QueryPlan;

/// The most rows zero filling may make: beyond it the answer is too long to
/// read, and an open-ended interval would not end at all.
pub const MAX_ZERO_FILL_BUCKETS: usize = 1_000_000;

/// How a row's `__time` becomes its bucket's timestamp.
pub(super) enum Bucketing {
    /// One bucket, stamped with the earliest interval start.
    All(Millis),
    By(Granularity),
}

impl Bucketing {
    pub(super) fn new(plan: &QueryPlan) -> Self {
        match plan.aggregate.granularity {
            Granularity::All => Bucketing::All(
                plan.intervals
                    .iter()
                    .map(|interval| interval.start())
                    .min()
                    .unwrap_or(Millis::MIN),
            ),
            granularity => Bucketing::By(granularity),
        }
    }

    pub(super) fn bucket(&self, time: Millis) -> Millis {
        match self {
            Bucketing::All(start) => *start,
            Bucketing::By(granularity) => granularity.truncate(time),
        }
    }

    /// Whether every row falls in one bucket.
    pub(super) fn is_single(&self) -> bool {
        matches!(self, Bucketing::All(_))
    }

    /// The start of the bucket after the one starting at `start`.
    pub(super) fn next_bucket_start(&self, start: Millis) -> Millis {
        match self {
            Bucketing::All(_) => Millis::MAX,
            Bucketing::By(granularity) => granularity.next_bucket_start(start),
        }
    }

    /// Adds an empty group for every bucket of the intervals.
    pub(super) fn zero_fill(
        &self,
        plan: &QueryPlan,
        groups: &mut Groups,
    ) -> Result<(), ExecuteError> {
        let granularity = match self {
            Bucketing::All(start) => {
                if !plan.intervals.is_empty() {
                    groups.merge(
                        GroupId {
                            timestamp: *start,
                            keys: Vec::new(),
                        },
                        &[],
                    );
                }
                return Ok(());
            }
            Bucketing::By(granularity) => granularity,
        };
        for interval in &plan.intervals {
            for bucket in granularity.buckets(*interval) {
                if groups.len() >= MAX_ZERO_FILL_BUCKETS {
                    return Err(ExecuteError::TooManyBuckets {
                        granularity: granularity.to_string(),
                        limit: MAX_ZERO_FILL_BUCKETS,
                    });
                }
                groups.merge(
                    GroupId {
                        timestamp: bucket.start(),
                        keys: Vec::new(),
                    },
                    &[],
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;
    use strata_storage::time::{Interval, MILLIS_PER_HOUR, MILLIS_PER_MINUTE, Millis};

    use crate::execute::test_support::*;
    use crate::execute::{ExecuteError, MAX_ZERO_FILL_BUCKETS, execute};
    use crate::plan::{AggregateFunction, NumberType, ResultRow, ResultValue};

    #[test]
    fn zero_fill_makes_every_bucket_of_the_intervals_without_group_keys() {
        let events = vec![event(T0 + MILLIS_PER_MINUTE + 5, Some("a"), &[], None)];
        let table = events_table(&events);
        let mut plan = plan(
            Granularity::MINUTE,
            vec![interval(T0 + 30_000, T0 + 3 * MILLIS_PER_MINUTE)],
            &[],
            vec![AggregateFunction::Count, sum("bytes", NumberType::Long)],
        );
        plan.aggregate.zero_fill = true;
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        let stamps: Vec<Millis> = rows.iter().map(|row| row.timestamp).collect();
        assert_eq!(
            stamps,
            [T0, T0 + MILLIS_PER_MINUTE, T0 + 2 * MILLIS_PER_MINUTE]
        );
        assert_eq!(
            values_of(&rows),
            [
                vec![ResultValue::Long(0), ResultValue::Null],
                vec![ResultValue::Long(1), ResultValue::Long(10)],
                vec![ResultValue::Long(0), ResultValue::Null],
            ]
        );

        plan.aggregate.group_by = plan_keys(&["host"]);
        assert_eq!(
            execute(&plan, &spec(), &events_only(&table)).unwrap().len(),
            1
        );
    }

    #[test]
    fn zero_fill_over_all_makes_one_row_at_the_earliest_interval_start() {
        let mut plan = plan(
            Granularity::All,
            vec![hours(5, 6)[0], hours(1, 2)[0]],
            &[],
            vec![AggregateFunction::Count, max("latency", NumberType::Double)],
        );
        plan.aggregate.zero_fill = true;
        assert_eq!(
            execute(&plan, &spec(), &[]).unwrap(),
            vec![ResultRow {
                timestamp: T0 + MILLIS_PER_HOUR,
                keys: Vec::new(),
                values: vec![ResultValue::Long(0), ResultValue::Null],
            }]
        );
        plan.aggregate.zero_fill = false;
        assert_eq!(execute(&plan, &spec(), &[]).unwrap(), Vec::new());
    }

    #[test]
    fn zero_fill_refuses_to_make_endless_rows() {
        let mut plan = plan(
            Granularity::SECOND,
            vec![Interval::ETERNITY],
            &[],
            vec![AggregateFunction::Count],
        );
        plan.aggregate.zero_fill = true;
        let error = execute(&plan, &spec(), &[]).unwrap_err();
        assert!(
            matches!(
                error,
                ExecuteError::TooManyBuckets {
                    limit: MAX_ZERO_FILL_BUCKETS,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("coarser granularity"), "{error}");
    }
}

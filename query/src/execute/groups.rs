//! Groups: the rows of the result, each a time bucket and its key values
//! with one running value per aggregation, merged from every table.
//!
//! Each table groups its own rows (see [`scan`](super::scan)); its groups
//! are then merged into one ordered map, so that a group several tables
//! found is one row. The map's order is the result's: rows come out sorted
//! by time, then by keys,
//! null first, then numbers by value, then strings by UTF-8 bytes. A long
//! and a double of the same value (one column typed differently by two
//! tables) stay two groups, the long first. Post-aggregations are computed
//! last, per row, from its aggregations' results, which are then finalized
//! (a sketch to its estimate or count).
//!
//! The groups grow with the result's cardinality, so they keep an estimate
//! of their size — per group its key values (strings with their bytes), its
//! accumulators and the map's own bookkeeping — for the query's memory
//! budget ([`QueryLimits`]). Quantiles grow with the rows too: a group keeps
//! its raw values exactly, which is fast and exact but costs 8 bytes a
//! value, where the sketch they would make stays small. So the estimate
//! counts what each quantiles state holds, and a query over its budget first
//! turns every group's kept values into sketches ([`Groups::check_memory`]);
//! it fails only if still over — a query that fits with sketches runs.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use strata_storage::time::Millis;

use super::fold::Accumulator;
use super::post_aggregation::{PostValue, finalize_aggregations};
use crate::plan::{AggregatePlan, KeyValue, ResultRow, ResultValue};
use crate::query_limits::{QueryLimits, QueryStopped};

/// What a B-tree map spends per entry beyond the key and value themselves,
/// about: its nodes' edges and lengths, spread over their entries.
const MAP_BYTES_PER_ENTRY: usize = 16;

/// A group of the result: its bucket and key values, ordered as the result
/// rows are.
#[derive(Debug, Clone)]
pub(super) struct GroupId {
    pub(super) timestamp: Millis,
    pub(super) keys: Vec<KeyValue>,
}

impl Ord for GroupId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.timestamp.cmp(&other.timestamp).then_with(|| {
            self.keys
                .iter()
                .zip(&other.keys)
                .map(|(a, b)| compare_keys(a, b))
                .find(|ordering| ordering.is_ne())
                .unwrap_or_else(|| self.keys.len().cmp(&other.keys.len()))
        })
    }
}

impl PartialOrd for GroupId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GroupId {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for GroupId {}

/// Null first, then numbers by value, then strings by UTF-8 bytes. A long
/// and a double of the same value (one column typed differently by two
/// tables) stay two groups, the long first.
fn compare_keys(a: &KeyValue, b: &KeyValue) -> Ordering {
    fn rank(key: &KeyValue) -> u8 {
        match key {
            KeyValue::Null => 0,
            KeyValue::Long(_) | KeyValue::Double(_) => 1,
            KeyValue::String(_) => 2,
        }
    }
    match (a, b) {
        (KeyValue::Long(a), KeyValue::Long(b)) => a.cmp(b),
        (KeyValue::Double(a), KeyValue::Double(b)) => a.total_cmp(b),
        (KeyValue::Long(a), KeyValue::Double(b)) => {
            compare_long_to_double(*a, *b).then(Ordering::Less)
        }
        (KeyValue::Double(a), KeyValue::Long(b)) => compare_long_to_double(*b, *a)
            .reverse()
            .then(Ordering::Greater),
        (KeyValue::String(a), KeyValue::String(b)) => a.cmp(b),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Compares exactly, where `long as f64` would round: NaN sorts as
/// `total_cmp` puts it, at the end its sign picks.
pub(super) fn compare_long_to_double(long: i64, double: f64) -> Ordering {
    // 2^63: the first double past every long.
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    if double.is_nan() {
        return if double.is_sign_negative() {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let whole = double.trunc();
    if whole >= TWO_TO_63 {
        return Ordering::Less;
    }
    if whole < -TWO_TO_63 {
        return Ordering::Greater;
    }
    long.cmp(&(whole as i64)).then_with(|| {
        let fraction = double - whole;
        if fraction > 0.0 {
            Ordering::Less
        } else if fraction < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    })
}

/// The groups of the result, merged from every table.
pub(super) struct Groups {
    /// One empty accumulator per aggregation, in plan order.
    pub(super) empty: Vec<Accumulator>,
    groups: BTreeMap<GroupId, Vec<Accumulator>>,
    /// The estimated bytes the groups hold, what their accumulators grew
    /// to included.
    bytes: usize,
}

impl Groups {
    pub(super) fn new(aggregate: &AggregatePlan) -> Self {
        Groups {
            empty: aggregate
                .aggregations
                .iter()
                .map(|aggregation| Accumulator::empty(&aggregation.function))
                .collect(),
            groups: BTreeMap::new(),
            bytes: 0,
        }
    }

    pub(super) fn merge(&mut self, group: GroupId, accumulators: &[Accumulator]) {
        let merged = match self.groups.entry(group) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                self.bytes = self
                    .bytes
                    .saturating_add(group_bytes(entry.key(), &self.empty));
                entry.insert(self.empty.clone())
            }
        };
        for (merged, accumulator) in merged.iter_mut().zip(accumulators) {
            regrown(&mut self.bytes, merged, |merged| merged.merge(accumulator));
        }
    }

    /// Merges `accumulators` into `group`'s, moving them: a group new here
    /// takes them as they are (what merging them into empty accumulators
    /// would give), an existing one takes kept quantiles values over.
    pub(super) fn merge_owned(&mut self, group: GroupId, accumulators: Vec<Accumulator>) {
        match self.groups.entry(group) {
            Entry::Occupied(entry) => {
                for (merged, accumulator) in entry.into_mut().iter_mut().zip(accumulators) {
                    regrown(&mut self.bytes, merged, |merged| {
                        merged.merge_owned(accumulator)
                    });
                }
            }
            Entry::Vacant(entry) => {
                self.bytes = self
                    .bytes
                    .saturating_add(group_bytes(entry.key(), &accumulators));
                entry.insert(accumulators);
            }
        }
    }

    /// Merges every group of `other`, found after this one's tables (see
    /// [`merge_owned`](Self::merge_owned)).
    pub(super) fn absorb(&mut self, other: Groups) {
        for (group, accumulators) in other.groups {
            self.merge_owned(group, accumulators);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.groups.len()
    }

    /// The grand total: one group with no keys, at the earliest group's
    /// time (0 with none), holding every group's accumulators merged.
    pub(super) fn total(&self) -> Groups {
        let mut merged = self.empty.clone();
        for accumulators in self.groups.values() {
            for (merged, accumulator) in merged.iter_mut().zip(accumulators) {
                merged.merge(accumulator);
            }
        }
        let timestamp = self.groups.keys().next().map_or(0, |group| group.timestamp);
        let mut total = Groups {
            empty: self.empty.clone(),
            groups: BTreeMap::new(),
            bytes: 0,
        };
        total.groups.insert(
            GroupId {
                timestamp,
                keys: Vec::new(),
            },
            merged,
        );
        total
    }

    /// Whether the groups' estimated size is within the query's memory
    /// budget; when it is not, every group's kept quantiles values are
    /// first turned into sketches, and the size estimated again.
    pub(super) fn check_memory(&mut self, limits: &QueryLimits) -> Result<(), QueryStopped> {
        if self.bytes as u64 > limits.memory_budget() {
            self.compact();
        }
        limits.check_memory(
            || format!("aggregation groups ({} groups)", self.groups.len()),
            self.bytes as u64,
        )
    }

    /// Gives up every group's kept quantiles values for their sketches.
    fn compact(&mut self) {
        self.bytes = 0;
        for (group, accumulators) in &mut self.groups {
            accumulators.iter_mut().for_each(Accumulator::compact);
            self.bytes = self.bytes.saturating_add(group_bytes(group, accumulators));
        }
    }

    /// The result rows, in order. Groups of more than [`PARALLEL_ROWS_BYTES`]
    /// are cut into runs of about equal size, one per core, whose rows are
    /// made side by side: most of that size is kept quantiles values, which
    /// the post-aggregations select in.
    pub(super) fn into_rows(self, post_aggregations: &[PostValue]) -> Vec<ResultRow> {
        let workers = if self.bytes > PARALLEL_ROWS_BYTES {
            super::worker_count()
        } else {
            1
        };
        let per_worker = self.bytes.div_ceil(workers.max(1)).max(1);
        let mut runs: Vec<Vec<(GroupId, Vec<Accumulator>)>> = vec![Vec::new()];
        let mut run_bytes = 0;
        for (group, accumulators) in self.groups {
            if run_bytes >= per_worker {
                runs.push(Vec::new());
                run_bytes = 0;
            }
            run_bytes += group_bytes(&group, &accumulators);
            if let Some(run) = runs.last_mut() {
                run.push((group, accumulators));
            }
        }
        let rows_of = |run: Vec<(GroupId, Vec<Accumulator>)>| -> Vec<ResultRow> {
            run.into_iter()
                .map(|(group, accumulators)| row(group, accumulators, post_aggregations))
                .collect()
        };
        if runs.len() <= 1 {
            return runs.into_iter().flat_map(rows_of).collect();
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = runs
                .into_iter()
                .map(|run| scope.spawn(move || rows_of(run)))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }
}

/// Groups estimated larger than this make their rows on every core.
const PARALLEL_ROWS_BYTES: usize = 4 << 20;

/// A group's result row: its accumulators' values, then the
/// post-aggregations computed from them, then the aggregations finalized.
fn row(
    group: GroupId,
    accumulators: Vec<Accumulator>,
    post_aggregations: &[PostValue],
) -> ResultRow {
    let mut values: Vec<ResultValue> = accumulators
        .into_iter()
        .map(Accumulator::into_result)
        .collect();
    let aggregations = values.len();
    for post_aggregation in post_aggregations {
        let value = post_aggregation.evaluate(&values);
        values.push(value);
    }
    finalize_aggregations(&mut values, aggregations);
    ResultRow {
        timestamp: group.timestamp,
        keys: group.keys,
        values,
    }
}

/// Applies `change` to `accumulator`, with the groups' estimated `bytes`
/// following what it grows (or shrinks) by.
fn regrown(
    bytes: &mut usize,
    accumulator: &mut Accumulator,
    change: impl FnOnce(&mut Accumulator),
) {
    let before = accumulator.growing_bytes();
    change(accumulator);
    *bytes = bytes
        .saturating_sub(before)
        .saturating_add(accumulator.growing_bytes());
}

/// The estimated bytes one group holds: its id with its key values, its
/// `accumulators` with what they grew to, and the map's share.
fn group_bytes(group: &GroupId, accumulators: &[Accumulator]) -> usize {
    let key_bytes: usize = group
        .keys
        .iter()
        .map(|key| {
            size_of::<KeyValue>()
                + match key {
                    KeyValue::String(text) => text.len(),
                    _ => 0,
                }
        })
        .sum();
    size_of::<GroupId>()
        + key_bytes
        + size_of::<Vec<Accumulator>>()
        + accumulators
            .iter()
            .map(|accumulator| size_of::<Accumulator>() + accumulator.growing_bytes())
            .sum::<usize>()
        + MAP_BYTES_PER_ENTRY
}

#[cfg(test)]
mod tests {
    use super::{GroupId, Groups, compare_keys};
    use crate::execute::fold::{Accumulator, Number, RowValue};
    use crate::execute::post_aggregation::PostValue;
    use crate::plan::{AggregateFunction, AggregatePlan, Aggregation, KeyValue, ResultValue};
    use crate::query_limits::{QueryLimits, QueryStopped};
    use strata_storage::granularity::Granularity;
    use strata_storage::spec::QuantilesK;

    #[test]
    fn keys_order_null_then_numbers_by_value_then_strings() {
        let mut keys = vec![
            KeyValue::String("b".into()),
            KeyValue::Double(1.5),
            KeyValue::Long(2),
            KeyValue::String("a".into()),
            KeyValue::Double(f64::NAN),
            KeyValue::Long(i64::MAX),
            KeyValue::Double(-0.5),
            KeyValue::Null,
            KeyValue::Long(1),
            KeyValue::Double(1.0),
        ];
        keys.sort_by(compare_keys);
        // Debug text, as NaN is not equal to itself.
        let sorted: Vec<String> = keys.iter().map(|key| format!("{key:?}")).collect();
        assert_eq!(
            sorted,
            [
                "Null",
                "Double(-0.5)",
                "Long(1)",
                "Double(1.0)",
                "Double(1.5)",
                "Long(2)",
                "Long(9223372036854775807)",
                "Double(NaN)",
                "String(\"a\")",
                "String(\"b\")",
            ]
        );
    }

    fn no_aggregations() -> AggregatePlan {
        AggregatePlan {
            granularity: Granularity::All,
            group_by: Vec::new(),
            aggregations: Vec::new(),
            post_aggregations: Vec::new(),
            zero_fill: false,
            having: None,
            grand_total: false,
        }
    }

    fn group(key: &str) -> GroupId {
        GroupId {
            timestamp: 0,
            keys: vec![KeyValue::String(key.to_owned())],
        }
    }

    #[test]
    fn the_size_estimate_grows_with_new_groups_only() {
        let mut groups = Groups::new(&no_aggregations());
        groups.merge(group("a"), &[]);
        let one = groups.bytes;
        assert!(one > "a".len(), "{one}");
        groups.merge(group("a"), &[]);
        assert_eq!(groups.bytes, one, "merging into a group adds nothing");
        groups.merge(group("abcd"), &[]);
        assert_eq!(groups.bytes, 2 * one + 3, "three more key bytes");
    }

    #[test]
    fn groups_over_the_budget_fail_naming_how_many() {
        let mut groups = Groups::new(&no_aggregations());
        for key in ["a", "b", "c"] {
            groups.merge(group(key), &[]);
        }
        let budget = groups.bytes as u64;
        assert_eq!(groups.check_memory(&QueryLimits::new(None, budget)), Ok(()));
        let error = groups
            .check_memory(&QueryLimits::new(None, budget - 1))
            .unwrap_err();
        assert_eq!(
            error,
            QueryStopped::OverMemoryBudget {
                what: "aggregation groups (3 groups)".to_owned(),
                bytes: budget,
                budget: budget - 1,
            }
        );
    }

    fn quantiles_plan() -> AggregatePlan {
        AggregatePlan {
            aggregations: vec![Aggregation {
                name: "q".into(),
                function: AggregateFunction::QuantilesSketch {
                    column: "c".into(),
                    k: QuantilesK::DEFAULT,
                },
            }],
            ..no_aggregations()
        }
    }

    /// A quantiles accumulator of `0..n` in a scrambled order.
    fn quantiles_of(plan: &AggregatePlan, n: u64) -> Accumulator {
        let mut accumulator = Accumulator::empty(&plan.aggregations[0].function);
        for i in 0..n {
            let value = (i * 7_919) % n;
            accumulator.add(RowValue::Number(Number::Double(value as f64)));
        }
        accumulator
    }

    /// Each row's count and median.
    fn counts_and_medians(groups: Groups) -> Vec<(ResultValue, ResultValue)> {
        let median = PostValue::Quantiles {
            field: Box::new(PostValue::Field(0)),
            fractions: vec![0.5],
            single: true,
        };
        groups
            .into_rows(&[median])
            .into_iter()
            .map(|row| (row.values[0].clone(), row.values[1].clone()))
            .collect()
    }

    /// Kept quantiles values count in the estimate; a budget they pass but
    /// their sketches fit is met by turning them into sketches, whose
    /// answers are then the sketches' (within their rank error).
    #[test]
    fn kept_quantiles_values_become_sketches_before_the_budget_fails() {
        const N: u64 = 50_000;
        let plan = quantiles_plan();
        let mut groups = Groups::new(&plan);
        for key in ["a", "b", "c"] {
            groups.merge(group(key), &[quantiles_of(&plan, N)]);
        }
        let kept = groups.bytes;
        assert!(kept >= 3 * N as usize * size_of::<f64>(), "{kept}");
        let exact = counts_and_medians(Groups {
            empty: groups.empty.clone(),
            groups: groups.groups.clone(),
            bytes: kept,
        });
        // 0..N: the median is the value of rank N/2, N/2 - 1.
        let expected = (
            ResultValue::Long(N as i64),
            ResultValue::Double((N / 2 - 1) as f64),
        );
        assert_eq!(exact, vec![expected.clone(); 3]);

        groups
            .check_memory(&QueryLimits::new(None, kept as u64))
            .unwrap();
        assert_eq!(groups.bytes, kept, "within the budget nothing changes");
        let budget = kept as u64 / 10;
        groups
            .check_memory(&QueryLimits::new(None, budget))
            .unwrap();
        assert!((groups.bytes as u64) < budget, "{}", groups.bytes);
        // Absorbing more values into a sketch keeps it one.
        let mut more = Groups::new(&plan);
        more.merge(group("a"), &[quantiles_of(&plan, N)]);
        groups.absorb(more);
        assert!((groups.bytes as u64) < budget, "{}", groups.bytes);

        let answers = counts_and_medians(groups);
        for (index, (count, median)) in answers.into_iter().enumerate() {
            let n = if index == 0 { 2 * N } else { N };
            assert_eq!(count, ResultValue::Long(n as i64));
            let median = median.as_f64().unwrap();
            let error = N as f64 * 0.02;
            assert!((median - N as f64 / 2.0).abs() <= error, "{median}");
        }
    }

    /// A budget too small even for the sketches fails, naming their size.
    #[test]
    fn groups_over_the_budget_with_sketches_fail() {
        let plan = quantiles_plan();
        let mut groups = Groups::new(&plan);
        groups.merge(group("a"), &[quantiles_of(&plan, 50_000)]);
        let error = groups
            .check_memory(&QueryLimits::new(None, 1_000))
            .unwrap_err();
        let QueryStopped::OverMemoryBudget { bytes, budget, .. } = error else {
            panic!("{error:?}");
        };
        assert_eq!(budget, 1_000);
        assert_eq!(bytes, groups.bytes as u64);
        assert!(
            bytes < 50_000,
            "the estimate of the sketch, not the values: {bytes}"
        );
    }

    /// Merging and absorbing keep the estimate equal to one made afresh
    /// from the groups as they are.
    #[test]
    fn the_estimate_follows_merges_and_absorbs() {
        let plan = quantiles_plan();
        let mut groups = Groups::new(&plan);
        let mut other = Groups::new(&plan);
        for (key, n) in [("a", 10), ("b", 3_000), ("c", 100)] {
            groups.merge(group(key), &[quantiles_of(&plan, n)]);
            other.merge(group(key), &[quantiles_of(&plan, 2 * n)]);
        }
        other.merge(group("d"), &[quantiles_of(&plan, 5)]);
        groups.absorb(other);
        let afresh: usize = groups
            .groups
            .iter()
            .map(|(group, accumulators)| super::group_bytes(group, accumulators))
            .sum();
        assert_eq!(groups.bytes, afresh);
    }

    /// Groups large enough to make their rows on several cores give them in
    /// order (a's 40,000 values first, h's 320,000 last), each with its own
    /// answers.
    #[test]
    fn large_groups_make_their_rows_in_order() {
        let plan = quantiles_plan();
        let mut groups = Groups::new(&plan);
        let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let sizes: Vec<u64> = (1..=8).map(|size| size * 40_000).collect();
        for (key, size) in keys.iter().zip(&sizes).rev() {
            groups.merge(group(key), &[quantiles_of(&plan, *size)]);
        }
        assert!(
            groups.bytes > super::PARALLEL_ROWS_BYTES,
            "{}",
            groups.bytes
        );
        let answers = counts_and_medians(groups);
        let expected: Vec<(ResultValue, ResultValue)> = sizes
            .iter()
            .map(|&n| {
                (
                    ResultValue::Long(n as i64),
                    ResultValue::Double((n / 2 - 1) as f64),
                )
            })
            .collect();
        assert_eq!(answers, expected);
    }
}

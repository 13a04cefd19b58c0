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
//! budget ([`QueryLimits`]).

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
    /// The estimated bytes the groups hold.
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
                    .saturating_add(group_bytes(entry.key(), self.empty.len()));
                entry.insert(self.empty.clone())
            }
        };
        for (merged, accumulator) in merged.iter_mut().zip(accumulators) {
            merged.merge(accumulator);
        }
    }

    /// Merges every group of `other`, found after this one's tables.
    pub(super) fn absorb(&mut self, other: Groups) {
        for (group, accumulators) in other.groups {
            self.merge(group, &accumulators);
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
    /// budget.
    pub(super) fn check_memory(&self, limits: &QueryLimits) -> Result<(), QueryStopped> {
        limits.check_memory(
            || format!("aggregation groups ({} groups)", self.groups.len()),
            self.bytes as u64,
        )
    }

    pub(super) fn into_rows(self, post_aggregations: &[PostValue]) -> Vec<ResultRow> {
        self.groups
            .into_iter()
            .map(|(group, accumulators)| {
                let mut values: Vec<ResultValue> =
                    accumulators.iter().map(Accumulator::result).collect();
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
            })
            .collect()
    }
}

/// The estimated bytes one group holds: its id with its key values, its
/// `accumulators` and the map's share.
fn group_bytes(group: &GroupId, accumulators: usize) -> usize {
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
        + accumulators * size_of::<Accumulator>()
        + MAP_BYTES_PER_ENTRY
}

#[cfg(test)]
mod tests {
    use super::{GroupId, Groups, compare_keys};
    use crate::plan::{AggregatePlan, KeyValue};
    use crate::query_limits::{QueryLimits, QueryStopped};
    use strata_storage::granularity::Granularity;

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
}

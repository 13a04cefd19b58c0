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
//! last, per row, from its aggregations' results.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use strata_storage::time::Millis;

use super::fold::Accumulator;
use super::post_aggregation::PostValue;
use crate::plan::{AggregatePlan, KeyValue, ResultRow, ResultValue};

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
        }
    }

    pub(super) fn merge(&mut self, group: GroupId, accumulators: &[Accumulator]) {
        let merged = self
            .groups
            .entry(group)
            .or_insert_with(|| self.empty.clone());
        for (merged, accumulator) in merged.iter_mut().zip(accumulators) {
            merged.merge(accumulator);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.groups.len()
    }

    pub(super) fn into_rows(self, post_aggregations: &[PostValue]) -> Vec<ResultRow> {
        self.groups
            .into_iter()
            .map(|(group, accumulators)| {
                let mut values: Vec<ResultValue> =
                    accumulators.iter().map(Accumulator::result).collect();
                for post_aggregation in post_aggregations {
                    let value = post_aggregation.evaluate(&values);
                    values.push(value);
                }
                ResultRow {
                    timestamp: group.timestamp,
                    keys: group.keys,
                    values,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::compare_keys;
    use crate::plan::KeyValue;

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
}

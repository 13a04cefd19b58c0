//! Aggregators against a naive oracle: random event sequences, cut into
//! random consecutive runs, aggregated per run and merged, must equal the
//! oracle's answer over the whole sequence (exactly for numeric aggregators,
//! within the sketch's error for sketches).

use std::collections::HashSet;

use datasketches::common::{NumStdDev, SearchCriteria};
use datasketches::hash::value::raw_bytes;
use datasketches::hll::Coupon;
use datasketches::kll::KllFloat;
use proptest::prelude::*;
use strata_storage::segment::{CellValue, ColumnKind};
use strata_storage::spec::{
    Aggregator, DataSourceSpec, HllLgK, HllTargetType, Metric, NumericType, QuantilesK,
};
use strata_storage::time::Millis;

use super::*;

// ---------------------------------------------------------------- helpers

fn simple(operation: &str, value_type: NumericType) -> Aggregator {
    let field_name = "x".to_owned();
    match operation {
        "sum" => Aggregator::Sum {
            field_name,
            value_type,
        },
        "min" => Aggregator::Min {
            field_name,
            value_type,
        },
        "max" => Aggregator::Max {
            field_name,
            value_type,
        },
        "first" => Aggregator::First {
            field_name,
            value_type,
        },
        _ => Aggregator::Last {
            field_name,
            value_type,
        },
    }
}

fn hll(target_type: HllTargetType) -> Aggregator {
    Aggregator::HllSketch {
        field_name: "x".to_owned(),
        lg_k: HllLgK::DEFAULT,
        target_type,
    }
}

fn quantiles() -> Aggregator {
    Aggregator::QuantilesSketch {
        field_name: "x".to_owned(),
        k: QuantilesK::DEFAULT,
    }
}

/// The metrics of a spec whose `metricsSpec` is `metrics_json`.
fn metrics(metrics_json: &str) -> Vec<Metric> {
    let spec = DataSourceSpec::from_json(&format!(
        r#"{{"dataSource": "t", "metricsSpec": {metrics_json}}}"#
    ))
    .expect("test spec is valid");
    spec.metrics().to_vec()
}

fn aggregator_of(metric_json: &str) -> Aggregator {
    metrics(&format!("[{metric_json}]"))[0].aggregator().clone()
}

/// Aggregates `events` into a fresh state; returns it and how many inputs
/// were refused.
fn aggregate(
    aggregator: &Aggregator,
    events: &[(MetricInput<'_>, Millis)],
) -> (AggregatorState, usize) {
    let mut state = AggregatorState::new(aggregator);
    let refused = events
        .iter()
        .filter(|(input, time)| state.add(*input, *time).is_err())
        .count();
    (state, refused)
}

/// The runs `events` is cut into at `cuts` (indexes, any order, duplicates
/// allowed).
fn runs<'e, T>(events: &'e [T], cuts: &[prop::sample::Index]) -> Vec<&'e [T]> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(events.len() + 1)).collect();
    points.push(0);
    points.push(events.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| &events[w[0]..w[1]]).collect()
}

/// Aggregates each run separately, then merges the runs left to right.
fn merge_left_to_right(
    aggregator: &Aggregator,
    runs: &[&[(MetricInput<'_>, Millis)]],
) -> AggregatorState {
    let mut merged = AggregatorState::new(aggregator);
    for run in runs {
        let (state, _) = aggregate(aggregator, run);
        merged.merge(&state).expect("same aggregator");
    }
    merged
}

/// Aggregates each run, then merges from the right: each run absorbs the
/// merge of everything after it (a different grouping, same arrival order).
fn merge_right_to_left(
    aggregator: &Aggregator,
    runs: &[&[(MetricInput<'_>, Millis)]],
) -> AggregatorState {
    let mut merged = AggregatorState::new(aggregator);
    for run in runs.iter().rev() {
        let (mut state, _) = aggregate(aggregator, run);
        state.merge(&merged).expect("same aggregator");
        merged = state;
    }
    merged
}

/// Like [`merge_left_to_right`], but every run goes through its stored cell
/// first, as a persisted row does.
fn merge_through_cells(
    aggregator: &Aggregator,
    runs: &[&[(MetricInput<'_>, Millis)]],
) -> AggregatorState {
    let mut merged = AggregatorState::new(aggregator);
    for run in runs {
        let (state, _) = aggregate(aggregator, run);
        let cell = state.to_cell();
        let stored = AggregatorState::from_cell(aggregator, &cell.as_cell_value())
            .expect("a state's own cell reads back");
        merged.merge(&stored).expect("same aggregator");
    }
    merged
}

// ---------------------------------------------------------------- the oracle

/// One generated input, with the value it stands for.
#[derive(Debug, Clone)]
enum Sample {
    Null,
    Blank(String),
    Long(i64),
    /// `quarters / 4`: exact in binary, so double sums are exact.
    Double(i32),
    LongText(i64),
    /// `quarters / 4`, as text.
    DecimalText(i32),
    /// Letters only: never a finite number.
    Garbage(String),
}

impl Sample {
    fn text(&self) -> String {
        match self {
            Sample::Blank(text) | Sample::Garbage(text) => text.clone(),
            Sample::LongText(value) => format!(" {value}"),
            Sample::DecimalText(quarters) => format!("{}", f64::from(*quarters) / 4.0),
            _ => String::new(),
        }
    }

    fn input<'a>(&self, text: &'a str) -> MetricInput<'a> {
        match self {
            Sample::Null => MetricInput::Null,
            Sample::Long(value) => MetricInput::Long(*value),
            Sample::Double(quarters) => MetricInput::Double(f64::from(*quarters) / 4.0),
            _ => MetricInput::Str(text),
        }
    }

    /// What a long aggregator should read; `Err` if it must refuse it.
    fn as_long(&self) -> Result<Option<i64>, ()> {
        match self {
            Sample::Null | Sample::Blank(_) => Ok(None),
            Sample::Long(value) | Sample::LongText(value) => Ok(Some(*value)),
            // Truncation toward zero of quarters / 4.
            Sample::Double(quarters) | Sample::DecimalText(quarters) => {
                Ok(Some(i64::from(*quarters / 4)))
            }
            Sample::Garbage(_) => Err(()),
        }
    }

    /// What a double aggregator should read; `Err` if it must refuse it.
    fn as_double(&self) -> Result<Option<f64>, ()> {
        match self {
            Sample::Null | Sample::Blank(_) => Ok(None),
            Sample::Long(value) | Sample::LongText(value) => Ok(Some(*value as f64)),
            Sample::Double(quarters) | Sample::DecimalText(quarters) => {
                Ok(Some(f64::from(*quarters) / 4.0))
            }
            Sample::Garbage(_) => Err(()),
        }
    }
}

/// Inputs whose longs lie in `-bound..=bound`.
fn sample(bound: i64) -> impl Strategy<Value = Sample> {
    prop_oneof![
        1 => Just(Sample::Null),
        1 => prop::sample::select(vec!["", "  ", "\t"]).prop_map(|s| Sample::Blank(s.to_owned())),
        3 => (-bound..=bound).prop_map(Sample::Long),
        2 => any::<i32>().prop_map(Sample::Double),
        1 => (-bound..=bound).prop_map(Sample::LongText),
        1 => any::<i32>().prop_map(Sample::DecimalText),
        1 => "[a-zA-Z]{1,6}".prop_map(Sample::Garbage),
    ]
}

/// Events: samples with times in a small range, so that times tie often.
fn events(bound: i64) -> impl Strategy<Value = Vec<(Sample, Millis)>> {
    prop::collection::vec((sample(bound), 0..6i64), 0..40)
}

/// The oracle's cell for `operation` over the values read, in arrival order.
fn oracle<T: Copy>(
    operation: &str,
    values: &[(T, Millis)],
    sum: impl Fn(T, T) -> T,
    less: impl Fn(T, T) -> bool,
    cell: impl Fn(T) -> MetricCell,
    pair: impl Fn(Timed<T>) -> MetricCell,
) -> MetricCell {
    let Some(&(head, _)) = values.first() else {
        return MetricCell::Null;
    };
    match operation {
        "sum" => cell(values.iter().skip(1).fold(head, |acc, (v, _)| sum(acc, *v))),
        "min" => cell(
            values
                .iter()
                .fold(head, |acc, &(v, _)| if less(v, acc) { v } else { acc }),
        ),
        "max" => cell(
            values
                .iter()
                .fold(head, |acc, &(v, _)| if less(acc, v) { v } else { acc }),
        ),
        // Earliest time, then earliest arrival.
        "first" => {
            let (value, time) = *values
                .iter()
                .enumerate()
                .min_by_key(|(index, (_, time))| (*time, *index))
                .map(|(_, entry)| entry)
                .unwrap_or(&values[0]);
            pair(Timed { time, value })
        }
        // Latest time, then latest arrival.
        _ => {
            let (value, time) = *values
                .iter()
                .enumerate()
                .max_by_key(|(index, (_, time))| (*time, *index))
                .map(|(_, entry)| entry)
                .unwrap_or(&values[0]);
            pair(Timed { time, value })
        }
    }
}

const OPERATIONS: [&str; 5] = ["sum", "min", "max", "first", "last"];

/// Checks one simple aggregator over `samples` against the oracle.
fn check_simple(
    operation: &str,
    value_type: NumericType,
    samples: &[(Sample, Millis)],
    cuts: &[prop::sample::Index],
) -> Result<(), TestCaseError> {
    let aggregator = simple(operation, value_type);
    let texts = sample_texts(samples);
    let events = inputs(samples, &texts);

    let (expected, expected_refused) = match value_type {
        NumericType::Long => {
            let read: Vec<_> = samples.iter().map(|(s, t)| (s.as_long(), *t)).collect();
            let values: Vec<(i64, Millis)> = read
                .iter()
                .filter_map(|(v, t)| v.ok().flatten().map(|v| (v, *t)))
                .collect();
            let refused = read.iter().filter(|(v, _)| v.is_err()).count();
            let cell = oracle(
                operation,
                &values,
                i64::wrapping_add,
                |a, b| a < b,
                MetricCell::Long,
                |p| MetricCell::Pair(p.to_bytes()),
            );
            (cell, refused)
        }
        NumericType::Double => {
            let read: Vec<_> = samples.iter().map(|(s, t)| (s.as_double(), *t)).collect();
            let values: Vec<(f64, Millis)> = read
                .iter()
                .filter_map(|(v, t)| v.ok().flatten().map(|v| (v, *t)))
                .collect();
            let refused = read.iter().filter(|(v, _)| v.is_err()).count();
            let cell = oracle(
                operation,
                &values,
                |a, b| a + b,
                |a, b| a < b,
                MetricCell::Double,
                |p| MetricCell::Pair(p.to_bytes()),
            );
            (cell, refused)
        }
    };

    let (direct, refused) = aggregate(&aggregator, &events);
    prop_assert_eq!(refused, expected_refused);
    prop_assert_eq!(direct.to_cell(), expected.clone());
    let runs = runs(&events, cuts);
    prop_assert_eq!(
        merge_left_to_right(&aggregator, &runs).to_cell(),
        expected.clone()
    );
    prop_assert_eq!(
        merge_right_to_left(&aggregator, &runs).to_cell(),
        expected.clone()
    );
    prop_assert_eq!(merge_through_cells(&aggregator, &runs).to_cell(), expected);
    Ok(())
}

/// The text each sample's string input borrows.
fn sample_texts(samples: &[(Sample, Millis)]) -> Vec<String> {
    samples.iter().map(|(sample, _)| sample.text()).collect()
}

/// The events of `samples`, their strings borrowed from `texts`.
fn inputs<'a>(samples: &[(Sample, Millis)], texts: &'a [String]) -> Vec<(MetricInput<'a>, Millis)> {
    samples
        .iter()
        .zip(texts)
        .map(|((sample, time), text)| (sample.input(text), *time))
        .collect()
}

/// The raw input an events-table cell gives back to a metric.
fn input_of<'a>(cell: &CellValue<'a>) -> MetricInput<'a> {
    match cell {
        CellValue::Long(value) => MetricInput::Long(*value),
        CellValue::Double(value) => MetricInput::Double(*value),
        CellValue::Str(value) => MetricInput::Str(value),
        _ => MetricInput::Null,
    }
}

/// Every aggregator of the spec, with the default sketch sizes.
fn every_aggregator() -> Vec<Aggregator> {
    let mut all = vec![Aggregator::Count, hll(HllTargetType::Hll4), quantiles()];
    for value_type in [NumericType::Long, NumericType::Double] {
        for operation in OPERATIONS {
            all.push(simple(operation, value_type));
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Long aggregators, over the whole long range (sums wrap).
    #[test]
    fn long_aggregators_merge_like_the_oracle(
        samples in events(i64::MAX),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        for operation in OPERATIONS {
            check_simple(operation, NumericType::Long, &samples, &cuts)?;
        }
    }

    /// Double aggregators, over values whose sums are exact in any order.
    #[test]
    fn double_aggregators_merge_like_the_oracle(
        samples in events(1 << 40),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        for operation in OPERATIONS {
            check_simple(operation, NumericType::Double, &samples, &cuts)?;
        }
    }

    #[test]
    fn count_counts_every_event(
        samples in events(100),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let texts = sample_texts(&samples);
        let events = inputs(&samples, &texts);
        let expected = MetricCell::Long(events.len() as i64);
        let (direct, refused) = aggregate(&Aggregator::Count, &events);
        prop_assert_eq!(refused, 0);
        prop_assert_eq!(direct.to_cell(), expected.clone());
        let runs = runs(&events, &cuts);
        prop_assert_eq!(merge_left_to_right(&Aggregator::Count, &runs).to_cell(), expected.clone());
        prop_assert_eq!(merge_through_cells(&Aggregator::Count, &runs).to_cell(), expected);
    }

    /// HLL: few enough values that the sketch is still exact (coupon mode),
    /// so merging runs must give the direct sketch's estimate, which must be
    /// the oracle's distinct count within three standard errors.
    #[test]
    fn hll_merges_like_direct_aggregation(
        samples in events(30),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let aggregator = hll(HllTargetType::Hll4);
        let texts = sample_texts(&samples);
        let events = inputs(&samples, &texts);
        let distinct: HashSet<String> = events
            .iter()
            .filter_map(|(input, _)| distinct_key(*input).map(|key| key.to_string()))
            .collect();
        let truth = distinct.len() as f64;
        let (direct, refused) = aggregate(&aggregator, &events);
        prop_assert_eq!(refused, 0);
        let runs = runs(&events, &cuts);
        for merged in [
            &direct,
            &merge_left_to_right(&aggregator, &runs),
            &merge_through_cells(&aggregator, &runs),
        ] {
            let StateView::Hll(sketch) = merged.view() else {
                return Err(TestCaseError::fail("not an HLL state"));
            };
            prop_assert!(sketch.lower_bound(NumStdDev::Three) <= truth);
            prop_assert!(truth <= sketch.upper_bound(NumStdDev::Three));
            let estimate = sketch.estimate();
            prop_assert!((estimate - truth).abs() <= 0.5, "{estimate} vs {truth}");
        }
    }

    /// KLL: at most 40 values, far below k, so no compaction happens and
    /// merged and direct sketches answer every rank exactly alike.
    #[test]
    fn kll_merges_like_direct_aggregation(
        samples in events(1 << 40),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let aggregator = quantiles();
        let texts = sample_texts(&samples);
        let events = inputs(&samples, &texts);
        let mut values: Vec<f64> =
            samples.iter().filter_map(|(s, _)| s.as_double().ok().flatten()).collect();
        values.sort_by(f64::total_cmp);
        let (direct, _) = aggregate(&aggregator, &events);
        let runs = runs(&events, &cuts);
        let ranks = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0];
        let answers = |state: &AggregatorState| -> Option<(u64, Vec<f64>)> {
            let StateView::Quantiles(view) = state.view() else { return None };
            let sketch = view.sketch();
            let quantiles = sketch.quantiles(&ranks, SearchCriteria::Inclusive).ok()?;
            Some((sketch.n(), quantiles.unwrap_or_default().into_iter().map(|q| *q).collect()))
        };
        let expected = answers(&direct);
        prop_assert_eq!(expected.as_ref().map(|(n, _)| *n), Some(values.len() as u64));
        if let (Some((_, quantiles)), Some(min), Some(max)) =
            (&expected, values.first(), values.last())
        {
            prop_assert_eq!(quantiles.first(), Some(min));
            prop_assert_eq!(quantiles.last(), Some(max));
        }
        prop_assert_eq!(answers(&merge_left_to_right(&aggregator, &runs)), expected.clone());
        prop_assert_eq!(answers(&merge_through_cells(&aggregator, &runs)), expected);
    }

    /// What the events table stores for a metric is what the metric read:
    /// aggregating the stored raw inputs gives the rolled-up answer.
    #[test]
    fn raw_inputs_aggregate_to_the_rollup(samples in events(1 << 40)) {
        let texts = sample_texts(&samples);
        let events = inputs(&samples, &texts);
        for aggregator in every_aggregator() {
            let mut scratch: Vec<String> = vec![String::new(); events.len()];
            let stored: Vec<(CellValue<'_>, Millis)> = events
                .iter()
                .zip(scratch.iter_mut())
                .map(|((input, time), text)| {
                    (raw_input_cell(&aggregator, *input, text).unwrap_or(CellValue::Null), *time)
                })
                .collect();
            if let Some(kind) = raw_input_column_kind(&aggregator) {
                for (cell, _) in &stored {
                    let fits = matches!(
                        (&kind, cell),
                        (_, CellValue::Null)
                            | (ColumnKind::Long, CellValue::Long(_))
                            | (ColumnKind::Double, CellValue::Double(_))
                            | (ColumnKind::String { .. }, CellValue::Str(_))
                    );
                    prop_assert!(fits, "{cell:?} in a {kind:?} column");
                }
            }
            let replayed: Vec<_> =
                stored.iter().map(|(cell, time)| (input_of(cell), *time)).collect();
            let replayed = if aggregator == Aggregator::Count { events.clone() } else { replayed };
            let (direct, _) = aggregate(&aggregator, &events);
            let (from_raw, refused) = aggregate(&aggregator, &replayed);
            prop_assert_eq!(refused, 0);
            if let (StateView::Quantiles(a), StateView::Quantiles(b)) =
                (direct.view(), from_raw.view())
            {
                let (a, b) = (a.sketch(), b.sketch());
                prop_assert_eq!(a.n(), b.n());
                prop_assert_eq!(a.min_item(), b.min_item());
                prop_assert_eq!(a.max_item(), b.max_item());
            } else {
                let name = aggregator.druid_type();
                prop_assert_eq!(direct.to_cell(), from_raw.to_cell(), "{}", name);
            }
        }
    }

    /// A whole row: every aggregator at once, merged and reloaded.
    #[test]
    fn rows_merge_and_reload(
        samples in events(1 << 40),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let metrics = metrics(
            r#"[
                {"type": "count", "name": "count"},
                {"type": "longSum", "name": "ls", "fieldName": "x"},
                {"type": "doubleMax", "name": "dm", "fieldName": "x"},
                {"type": "longFirst", "name": "lf", "fieldName": "x"},
                {"type": "doubleLast", "name": "dl", "fieldName": "x"},
                {"type": "HLLSketchBuild", "name": "u", "fieldName": "x"}
            ]"#,
        );
        let aggregators = Aggregators::new(&metrics);
        let texts = sample_texts(&samples);
        let events = inputs(&samples, &texts);
        let add_all = |row: &mut RollupRow, run: &[(MetricInput<'_>, Millis)]| -> usize {
            run.iter()
                .map(|(input, time)| {
                    row.add(&[*input; 6], *time).expect("one input per metric").len()
                })
                .sum()
        };
        let mut direct = aggregators.new_row();
        let ignored = add_all(&mut direct, &events);
        // Each garbage string is refused by the four numeric metrics.
        let garbage = samples.iter().filter(|(s, _)| matches!(s, Sample::Garbage(_))).count();
        prop_assert_eq!(ignored, 4 * garbage);

        let mut merged = aggregators.new_row();
        let mut cells = Vec::new();
        for run in runs(&events, &cuts) {
            let mut row = aggregators.new_row();
            add_all(&mut row, run);
            row.write_cells(&mut cells);
            let stored: Vec<CellValue<'_>> = cells.iter().map(MetricCell::as_cell_value).collect();
            let reloaded = aggregators.row_from_cells(&stored).expect("own cells read back");
            merged.merge(&reloaded).expect("same spec");
        }
        let mut expected = Vec::new();
        direct.write_cells(&mut expected);
        merged.write_cells(&mut cells);
        // Sketch bytes may differ with how coupons were merged; compare those by estimate.
        for (index, (a, b)) in expected.iter().zip(&cells).enumerate() {
            let views = (direct.states()[index].view(), merged.states()[index].view());
            if let (StateView::Hll(a), StateView::Hll(b)) = views {
                prop_assert!((a.estimate() - b.estimate()).abs() <= 0.5);
            } else {
                prop_assert_eq!(a, b, "metric {}", index);
            }
        }
    }
}

// ---------------------------------------------------------------- numeric details

fn long_sum() -> Aggregator {
    simple("sum", NumericType::Long)
}

fn cell_after(aggregator: &Aggregator, inputs: &[MetricInput<'_>]) -> MetricCell {
    let events: Vec<_> = inputs.iter().map(|input| (*input, 0)).collect();
    aggregate(aggregator, &events).0.to_cell()
}

#[test]
fn long_sums_wrap_like_java_longs() {
    let sum = long_sum();
    assert_eq!(
        cell_after(&sum, &[MetricInput::Long(i64::MAX), MetricInput::Long(1)]),
        MetricCell::Long(i64::MIN)
    );
    let mut left = AggregatorState::new(&sum);
    let mut right = AggregatorState::new(&sum);
    left.add(MetricInput::Long(i64::MIN), 0).unwrap();
    right.add(MetricInput::Long(-1), 0).unwrap();
    left.merge(&right).unwrap();
    assert_eq!(left.to_cell(), MetricCell::Long(i64::MAX));
}

#[test]
fn all_null_inputs_store_null_but_count_counts_them() {
    let nulls = [
        MetricInput::Null,
        MetricInput::Str(""),
        MetricInput::Str("   "),
    ];
    for value_type in [NumericType::Long, NumericType::Double] {
        for operation in OPERATIONS {
            let aggregator = simple(operation, value_type);
            assert_eq!(
                cell_after(&aggregator, &nulls),
                MetricCell::Null,
                "{operation}"
            );
            assert_eq!(
                cell_after(&aggregator, &[]),
                MetricCell::Null,
                "{operation}"
            );
        }
    }
    assert_eq!(cell_after(&Aggregator::Count, &nulls), MetricCell::Long(3));
    assert_eq!(cell_after(&Aggregator::Count, &[]), MetricCell::Long(0));
}

#[test]
fn nulls_do_not_hide_values() {
    let inputs = [MetricInput::Null, MetricInput::Long(4), MetricInput::Null];
    assert_eq!(cell_after(&long_sum(), &inputs), MetricCell::Long(4));
    let min = simple("min", NumericType::Double);
    assert_eq!(cell_after(&min, &inputs), MetricCell::Double(4.0));
}

#[test]
fn first_and_last_break_time_ties_by_arrival() {
    let first = simple("first", NumericType::Long);
    let last = simple("last", NumericType::Long);
    let events = [
        (MetricInput::Long(1), 10),
        (MetricInput::Long(2), 5),
        (MetricInput::Long(3), 5),
        (MetricInput::Null, 1),
        (MetricInput::Long(4), 10),
    ];
    let value = |state: &AggregatorState| match state.view() {
        StateView::LongPair(pair) => pair,
        _ => None,
    };
    assert_eq!(
        value(&aggregate(&first, &events).0),
        Some(Timed { time: 5, value: 2 })
    );
    assert_eq!(
        value(&aggregate(&last, &events).0),
        Some(Timed { time: 10, value: 4 })
    );

    // Merging: the state merged in is the later arrival.
    let (mut early, _) = aggregate(&first, &events[..2]);
    let (late, _) = aggregate(&first, &events[2..]);
    early.merge(&late).unwrap();
    assert_eq!(value(&early), Some(Timed { time: 5, value: 2 }));
    let (mut early, _) = aggregate(&last, &events[..1]);
    let (late, _) = aggregate(&last, &events[4..]);
    early.merge(&late).unwrap();
    assert_eq!(value(&early), Some(Timed { time: 10, value: 4 }));
}

#[test]
fn first_last_cells_keep_the_event_time() {
    let first = simple("first", NumericType::Double);
    let (state, _) = aggregate(&first, &[(MetricInput::Double(2.5), 1_700_000_000_123)]);
    let cell = state.to_cell();
    let MetricCell::Pair(bytes) = &cell else {
        panic!("{cell:?}")
    };
    assert_eq!(
        Timed::<f64>::from_bytes(bytes),
        Some(Timed {
            time: 1_700_000_000_123,
            value: 2.5
        })
    );
    assert_eq!(Timed::<i64>::from_bytes(&bytes[..15]), None);
    let reloaded = AggregatorState::from_cell(&first, &cell.as_cell_value()).unwrap();
    assert_eq!(reloaded, state);
}

#[test]
fn mismatched_inputs_are_coerced_or_refused() {
    let sum = long_sum();
    let read = |input| {
        let mut state = AggregatorState::new(&sum);
        state.add(input, 0).map(|()| state.to_cell())
    };
    assert_eq!(read(MetricInput::Str(" 42 ")), Ok(MetricCell::Long(42)));
    assert_eq!(read(MetricInput::Str("1.9")), Ok(MetricCell::Long(1)));
    assert_eq!(read(MetricInput::Str("-2.5e1")), Ok(MetricCell::Long(-25)));
    assert_eq!(read(MetricInput::Double(-1.9)), Ok(MetricCell::Long(-1)));
    assert_eq!(
        read(MetricInput::Double(1e300)),
        Ok(MetricCell::Long(i64::MAX))
    );
    assert_eq!(read(MetricInput::Str("")), Ok(MetricCell::Null));
    for refused in ["abc", "NaN", "inf", "12abc"] {
        assert_eq!(
            read(MetricInput::Str(refused)),
            Err(InputProblem::NotANumber {
                aggregator: "longSum",
                found: refused.to_owned()
            })
        );
    }
    assert_eq!(
        read(MetricInput::Double(f64::NAN)),
        Err(InputProblem::NaN {
            aggregator: "longSum"
        })
    );

    let mut max = AggregatorState::new(&simple("max", NumericType::Double));
    assert_eq!(max.add(MetricInput::Long(3), 0), Ok(()));
    assert_eq!(max.add(MetricInput::Str("3.5"), 0), Ok(()));
    assert_eq!(
        max.add(MetricInput::Double(f64::NAN), 0),
        Err(InputProblem::NaN {
            aggregator: "doubleMax"
        })
    );
    assert_eq!(max.to_cell(), MetricCell::Double(3.5));

    let long_text = "x".repeat(500);
    let Err(problem) = read(MetricInput::Str(&long_text)) else {
        panic!("accepted")
    };
    assert!(problem.to_string().len() < 300, "{problem}");
}

#[test]
fn double_min_and_max_order_signed_zeros() {
    let min = simple("min", NumericType::Double);
    let max = simple("max", NumericType::Double);
    for inputs in [[0.0, -0.0], [-0.0, 0.0]] {
        let inputs = inputs.map(MetricInput::Double);
        let MetricCell::Double(low) = cell_after(&min, &inputs) else {
            panic!()
        };
        let MetricCell::Double(high) = cell_after(&max, &inputs) else {
            panic!()
        };
        assert!(low.is_sign_negative() && high.is_sign_positive());
    }
}

#[test]
fn states_of_different_metrics_do_not_merge() {
    let mut sum = AggregatorState::new(&long_sum());
    let max = AggregatorState::new(&simple("max", NumericType::Long));
    let double_sum = AggregatorState::new(&simple("sum", NumericType::Double));
    assert_eq!(
        sum.merge(&max),
        Err(MergeError::Mismatch {
            this: "longSum",
            other: "longMax"
        })
    );
    assert!(sum.merge(&double_sum).is_err());
    assert!(sum.merge(&AggregatorState::new(&quantiles())).is_err());
}

#[test]
fn stored_cells_of_the_wrong_kind_are_refused() {
    let sum = long_sum();
    assert!(matches!(
        AggregatorState::from_cell(&sum, &CellValue::Str("1")),
        Err(CellError::WrongKind {
            aggregator: "longSum",
            ..
        })
    ));
    assert!(matches!(
        AggregatorState::from_cell(&hll(HllTargetType::Hll8), &CellValue::Bytes(&[1, 2, 3])),
        Err(CellError::Corrupt {
            aggregator: "HLLSketchBuild",
            ..
        })
    ));
    assert!(matches!(
        AggregatorState::from_cell(&quantiles(), &CellValue::Bytes(&[0; 9])),
        Err(CellError::Corrupt { .. })
    ));
    assert!(matches!(
        AggregatorState::from_cell(
            &simple("last", NumericType::Long),
            &CellValue::Bytes(&[0; 3])
        ),
        Err(CellError::Corrupt { .. })
    ));
    // A null cell (a metric added after the row was written) is the empty state.
    for aggregator in every_aggregator() {
        assert_eq!(
            AggregatorState::from_cell(&aggregator, &CellValue::Null).unwrap(),
            AggregatorState::new(&aggregator)
        );
    }
    let doubles =
        AggregatorState::from_cell(&simple("sum", NumericType::Double), &CellValue::Long(2));
    assert_eq!(doubles.unwrap().to_cell(), MetricCell::Double(2.0));
}

#[test]
fn column_kinds_follow_the_aggregator() {
    let complex = |name: &str| ColumnKind::Complex {
        type_name: name.to_owned(),
    };
    let cases = [
        (Aggregator::Count, ColumnKind::Long, None),
        (long_sum(), ColumnKind::Long, Some(ColumnKind::Long)),
        (
            simple("max", NumericType::Double),
            ColumnKind::Double,
            Some(ColumnKind::Double),
        ),
        (
            simple("first", NumericType::Long),
            complex("serializablePairLongLong"),
            Some(ColumnKind::Long),
        ),
        (
            simple("last", NumericType::Double),
            complex("serializablePairLongDouble"),
            Some(ColumnKind::Double),
        ),
        (
            hll(HllTargetType::Hll6),
            complex("HLLSketch"),
            Some(ColumnKind::String { multi_value: false }),
        ),
        (
            quantiles(),
            complex("quantilesDoublesSketch"),
            Some(ColumnKind::Double),
        ),
    ];
    for (aggregator, rollup, raw) in cases {
        assert_eq!(
            column_kind(&aggregator),
            rollup,
            "{}",
            aggregator.druid_type()
        );
        assert_eq!(
            raw_input_column_kind(&aggregator),
            raw,
            "{}",
            aggregator.druid_type()
        );
    }
}

#[test]
fn numeric_states_stay_small_and_inline() {
    assert!(
        size_of::<AggregatorState>() <= 40,
        "{}",
        size_of::<AggregatorState>()
    );
    let aggregators = Aggregators::new(&metrics(
        r#"[{"type": "count", "name": "c"}, {"type": "longSum", "name": "s", "fieldName": "x"},
            {"type": "doubleFirst", "name": "f", "fieldName": "x"}]"#,
    ));
    let mut row = aggregators.new_row();
    let before = row.approx_bytes();
    for i in 0..1000 {
        row.add(
            &[
                MetricInput::Null,
                MetricInput::Long(i),
                MetricInput::Double(0.5),
            ],
            i,
        )
        .unwrap();
    }
    assert_eq!(row.approx_bytes(), before);
}

// ---------------------------------------------------------------- rows

#[test]
fn rows_check_their_shape() {
    let aggregators = Aggregators::new(&metrics(
        r#"[{"type": "count", "name": "c"}, {"type": "longSum", "name": "s", "fieldName": "x"}]"#,
    ));
    let mut row = aggregators.new_row();
    assert_eq!(
        row.add(&[MetricInput::Null], 0),
        Err(InputCountMismatch {
            expected: 2,
            found: 1
        })
    );
    let ignored = row
        .add(&[MetricInput::Null, MetricInput::Str("oops")], 0)
        .unwrap();
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0].metric_index, 1);
    let mut cells = Vec::new();
    row.write_cells(&mut cells);
    assert_eq!(cells, vec![MetricCell::Long(1), MetricCell::Null]);
    assert!(matches!(
        aggregators.row_from_cells(&[CellValue::Long(1)]),
        Err(RowCellsError::CellCount {
            expected: 2,
            found: 1
        })
    ));
    let Err(RowCellsError::Metric { metric, .. }) =
        aggregators.row_from_cells(&[CellValue::Long(1), CellValue::Str("x")])
    else {
        panic!("accepted a string for a longSum");
    };
    assert_eq!(metric, "s");

    let other = Aggregators::new(&metrics(
        r#"[{"type": "count", "name": "c"}, {"type": "longMax", "name": "s", "fieldName": "x"}]"#,
    ));
    let snapshot = row.clone();
    assert!(row.merge(&other.new_row()).is_err());
    assert_eq!(row, snapshot, "a refused merge changes nothing");
    assert!(row.merge(&Aggregators::new(&[]).new_row()).is_err());
}

// ---------------------------------------------------------------- HLL

#[test]
fn hll_estimates_within_three_standard_errors() {
    for (lg_k, target) in [(8, "HLL_4"), (12, "HLL_6"), (14, "HLL_8"), (12, "HLL_4")] {
        let aggregator = aggregator_of(&format!(
            r#"{{"type": "HLLSketchBuild", "name": "u", "fieldName": "x",
                "lgK": {lg_k}, "tgtHllType": "{target}"}}"#
        ));
        // Relative standard error of HLL: 1.04 / sqrt(2^lgK).
        let standard_error = 1.04 / f64::from(1u32 << lg_k).sqrt();
        for distinct in [10usize, 1_000, 30_000] {
            let mut state = AggregatorState::new(&aggregator);
            for i in 0..distinct {
                // Every value twice, as text and as a number: one distinct key.
                state
                    .add(MetricInput::Str(&format!("user-{i}")), 0)
                    .unwrap();
                state.add(MetricInput::Long(i as i64), 0).unwrap();
                state.add(MetricInput::Str(&i.to_string()), 0).unwrap();
            }
            let truth = 2.0 * distinct as f64;
            let StateView::Hll(sketch) = state.view() else {
                panic!()
            };
            let error = (sketch.estimate() - truth).abs() / truth;
            assert!(
                error <= 3.0 * standard_error,
                "lgK {lg_k} {target} n {truth}: error {error}"
            );
            assert!(sketch.lower_bound(NumStdDev::Three) <= truth);
            assert!(truth <= sketch.upper_bound(NumStdDev::Three));
        }
    }
}

/// States of `values` split into `parts` overlapping runs.
fn hll_parts(aggregator: &Aggregator, values: usize, parts: usize) -> Vec<AggregatorState> {
    (0..parts)
        .map(|part| {
            let mut state = AggregatorState::new(aggregator);
            // Each part covers its own slice plus the start of the next one.
            let start = part * values / parts;
            let end = ((part + 1) * values / parts + values / 10).min(values);
            for i in start..end {
                state.add(MetricInput::Str(&format!("id-{i}")), 0).unwrap();
            }
            state
        })
        .collect()
}

#[test]
fn hll_merge_matches_direct_within_error() {
    let aggregator = hll(HllTargetType::Hll4);
    let values = 50_000;
    let parts = hll_parts(&aggregator, values, 5);
    let mut merged = AggregatorState::new(&aggregator);
    for part in &parts {
        merged.merge(part).unwrap();
    }
    let mut direct = AggregatorState::new(&aggregator);
    for i in 0..values {
        direct.add(MetricInput::Str(&format!("id-{i}")), 0).unwrap();
    }
    let (StateView::Hll(merged_sketch), StateView::Hll(direct_sketch)) =
        (merged.view(), direct.view())
    else {
        panic!()
    };
    let standard_error = 1.04 / 4096f64.sqrt();
    for estimate in [merged_sketch.estimate(), direct_sketch.estimate()] {
        assert!(
            (estimate / values as f64 - 1.0).abs() <= 3.0 * standard_error,
            "{estimate}"
        );
    }
    assert_eq!(
        merged_sketch.target_type(),
        datasketches::hll::HllType::Hll4
    );
    assert_eq!(merged_sketch.lg_config_k(), 12);
    assert!(
        merged.approx_bytes() > 2048,
        "an HLL_4 array of 4096 buckets"
    );
}

/// What an HLL state answers: its estimate and 1..3 standard-error bounds.
/// (Bytes are no test of equality: a sketch in set mode serializes its hash
/// table, whose slot order depends on the insertion history.)
fn hll_answers(state: &AggregatorState) -> Vec<f64> {
    let StateView::Hll(sketch) = state.view() else {
        panic!("not an HLL state")
    };
    let mut answers = vec![sketch.estimate(), f64::from(sketch.lg_config_k())];
    for deviations in [NumStdDev::One, NumStdDev::Two, NumStdDev::Three] {
        answers.push(sketch.lower_bound(deviations));
        answers.push(sketch.upper_bound(deviations));
    }
    answers
}

#[test]
fn hll_reloaded_sketches_merge_like_the_originals() {
    for target in [
        HllTargetType::Hll4,
        HllTargetType::Hll6,
        HllTargetType::Hll8,
    ] {
        let aggregator = hll(target);
        // Sizes that leave the sketches in list, set and array modes.
        for values in [5, 300, 20_000] {
            let parts = hll_parts(&aggregator, values, 3);
            let mut original = AggregatorState::new(&aggregator);
            let mut reloaded = AggregatorState::new(&aggregator);
            for part in &parts {
                original.merge(part).unwrap();
                let cell = part.to_cell();
                let back = AggregatorState::from_cell(&aggregator, &cell.as_cell_value()).unwrap();
                assert_eq!(hll_answers(&back), hll_answers(part));
                reloaded.merge(&back).unwrap();
            }
            assert_eq!(
                hll_answers(&reloaded),
                hll_answers(&original),
                "{target:?} {values}"
            );
        }
    }
}

#[test]
fn hll_keys_are_the_values_text() {
    let key = |input| distinct_key(input).map(|key| key.to_string());
    assert_eq!(key(MetricInput::Long(-123)), Some("-123".to_owned()));
    assert_eq!(key(MetricInput::Double(1.0)), Some("1".to_owned()));
    assert_eq!(key(MetricInput::Double(-0.0)), Some("0".to_owned()));
    assert_eq!(key(MetricInput::Double(0.1)), Some("0.1".to_owned()));
    assert_eq!(key(MetricInput::Str("é")), Some("é".to_owned()));
    assert_eq!(key(MetricInput::Str("")), None);
    assert_eq!(key(MetricInput::Null), None);

    let aggregator = hll(HllTargetType::Hll8);
    let same = [
        MetricInput::Long(7),
        MetricInput::Str("7"),
        MetricInput::Double(7.0),
        MetricInput::Null,
        MetricInput::Str(""),
    ];
    let (state, _) = aggregate(&aggregator, &same.map(|input| (input, 0)));
    let StateView::Hll(sketch) = state.view() else {
        panic!()
    };
    assert!((sketch.estimate() - 1.0).abs() < 1e-9);
}

proptest! {
    /// The streamed hash of a key is the hash of its whole UTF-16LE encoding,
    /// which is how Druid hashes strings.
    #[test]
    fn hll_hashes_utf16le_text(text in "\\PC{1,80}") {
        let utf16le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let key = distinct_key(MetricInput::Str(&text)).expect("non-empty");
        prop_assert_eq!(Coupon::from_value(key), Coupon::from_value(raw_bytes::from_vec(utf16le)));
    }
}

// ---------------------------------------------------------------- quantiles

#[test]
fn kll_k_keeps_the_classic_sketchs_rank_error() {
    let k_of = |k: u32| {
        let aggregator = aggregator_of(&format!(
            r#"{{"type": "quantilesDoublesSketch", "name": "q", "fieldName": "x", "k": {k}}}"#
        ));
        let Aggregator::QuantilesSketch { k, .. } = aggregator else {
            panic!()
        };
        k
    };
    assert_eq!(kll_k(QuantilesK::DEFAULT), 192);
    assert_eq!(kll_k(k_of(2)), 8);
    assert_eq!(kll_k(k_of(4)), 8);
    assert_eq!(kll_k(k_of(8)), 12);
    assert_eq!(kll_k(k_of(32768)), 49152);
    for power in 1..=15 {
        let k = 1u32 << power;
        // DataSketches' single-sided rank error of the classic quantiles sketch.
        let classic = 1.576 / f64::from(k).powf(0.9726);
        let sketch = DoublesSketch::new(kll_k(k_of(k))).unwrap();
        assert!(sketch.normalized_rank_error() <= classic, "k {k}");
    }
}

#[test]
fn kll_median_within_rank_error_after_merging() {
    let aggregator = quantiles();
    let n: u32 = 100_000;
    // A fixed permutation of 0..n (7919 is prime, so coprime with n).
    let value = |i: u32| f64::from((u64::from(i) * 7919 % u64::from(n)) as u32);
    let mut direct = AggregatorState::new(&aggregator);
    let mut parts: Vec<AggregatorState> =
        (0..7).map(|_| AggregatorState::new(&aggregator)).collect();
    for i in 0..n {
        direct.add(MetricInput::Double(value(i)), 0).unwrap();
        parts[(i % 7) as usize]
            .add(MetricInput::Double(value(i)), 0)
            .unwrap();
    }
    let mut merged = AggregatorState::new(&aggregator);
    let mut reloaded = AggregatorState::new(&aggregator);
    for part in &parts {
        merged.merge(part).unwrap();
        let cell = part.to_cell();
        reloaded
            .merge(&AggregatorState::from_cell(&aggregator, &cell.as_cell_value()).unwrap())
            .unwrap();
    }
    for state in [&direct, &merged, &reloaded] {
        let StateView::Quantiles(view) = state.view() else {
            panic!()
        };
        let sketch = view.sketch();
        assert_eq!(sketch.n(), u64::from(n));
        assert_eq!(sketch.min_item().map(|v| **v), Some(0.0));
        assert_eq!(sketch.max_item().map(|v| **v), Some(f64::from(n - 1)));
        // The rank error is a 99% bound and compaction is random; twice it
        // makes a spurious failure vanishingly unlikely.
        let tolerance = 2.0 * sketch.normalized_rank_error();
        for rank in [0.1, 0.5, 0.9] {
            let quantile = *sketch
                .quantile(rank, SearchCriteria::Inclusive)
                .unwrap()
                .unwrap();
            let true_rank = quantile / f64::from(n);
            assert!(
                (true_rank - rank).abs() <= tolerance,
                "rank {rank}: got {true_rank}"
            );
        }
    }
    assert!(
        direct.approx_bytes() > 192 * 8,
        "a compacting sketch retains about 3k values"
    );
    assert!(direct.approx_bytes() < 64 * 1024);
}

#[test]
fn kll_reloads_exactly() {
    let aggregator = quantiles();
    let (state, refused) = aggregate(
        &aggregator,
        &(0..5_000)
            .map(|i| (MetricInput::Long(i % 977), 0))
            .collect::<Vec<_>>(),
    );
    assert_eq!(refused, 0);
    let cell = state.to_cell();
    let back = AggregatorState::from_cell(&aggregator, &cell.as_cell_value()).unwrap();
    assert_eq!(back.to_cell(), cell);
    let (StateView::Quantiles(a), StateView::Quantiles(b)) = (state.view(), back.view()) else {
        panic!()
    };
    let (a, b) = (a.sketch(), b.sketch());
    for rank in [0.0, 0.3, 0.5, 0.99, 1.0] {
        assert_eq!(
            a.quantile(rank, SearchCriteria::Inclusive).unwrap(),
            b.quantile(rank, SearchCriteria::Inclusive).unwrap()
        );
    }
}

#[test]
fn kll_refuses_nan_and_garbage() {
    let mut state = AggregatorState::new(&quantiles());
    assert_eq!(
        state.add(MetricInput::Double(f64::NAN), 0),
        Err(InputProblem::NaN {
            aggregator: "quantilesDoublesSketch"
        })
    );
    assert!(matches!(
        state.add(MetricInput::Str("fast"), 0),
        Err(InputProblem::NotANumber { .. })
    ));
    assert_eq!(state.add(MetricInput::Str("12.5"), 0), Ok(()));
    assert_eq!(state.add(MetricInput::Null, 0), Ok(()));
    let StateView::Quantiles(view) = state.view() else {
        panic!()
    };
    assert_eq!(view.sketch().n(), 1);
}

#[test]
fn kll_keeps_a_few_values_inline_and_stores_the_same_sketch() {
    let aggregator = quantiles();
    // Below, at and past the inline values, merged both ways.
    for count in [1u32, 4, 5, 40] {
        let values: Vec<f64> = (0..count).map(|i| f64::from(i) * 1.5 - 7.0).collect();
        let mut direct = DoublesSketch::new(kll_k(QuantilesK::DEFAULT)).unwrap();
        let mut state = AggregatorState::new(&aggregator);
        for &value in &values {
            direct.update(KllFloat::<f64>::new(value).unwrap());
            state.add(MetricInput::Double(value), 0).unwrap();
        }
        assert_eq!(
            state.to_cell(),
            MetricCell::Sketch(direct.serialize()),
            "{count} values"
        );
        let (mut left, mut right) = (
            AggregatorState::new(&aggregator),
            AggregatorState::new(&aggregator),
        );
        let split = values.len() / 2;
        for &value in &values[..split] {
            left.add(MetricInput::Double(value), 0).unwrap();
        }
        for &value in &values[split..] {
            right.add(MetricInput::Double(value), 0).unwrap();
        }
        let mut merged = left.clone();
        merged.merge(&right).unwrap();
        let StateView::Quantiles(view) = merged.view() else {
            panic!()
        };
        let sketch = view.sketch();
        assert_eq!(sketch.n(), u64::from(count));
        assert_eq!(sketch.min_item().map(|v| **v), values.first().copied());
        assert_eq!(sketch.max_item().map(|v| **v), values.last().copied());
    }
}

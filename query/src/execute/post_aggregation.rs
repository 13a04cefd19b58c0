//! Post-aggregations: arithmetic and sketch lookups over a result row's
//! aggregations, computed once the groups of every table are merged.
//!
//! A post-aggregation reads its fields by name: an aggregation, or a
//! post-aggregation listed before it — never a later one, and the latest of
//! equal names, so a post-aggregation shadows what it renames. Every name is
//! resolved to a position in the row's values before any row is read, so a
//! plan with an unknown name fails even when no row matches; so does a
//! sketch lookup pointed at an aggregation that is not that sketch.
//!
//! Arithmetic follows Druid's: operands are read as doubles and folded left
//! to right, a null operand makes the result null, `/` by zero is 0 while
//! `quotient` divides as IEEE 754 does, and the result is always a double.
//! A sketch operand counts as its finalized value (Druid would fail); a
//! string or an array as null.
//!
//! A field reads an aggregation's value as the fold left it — a sketch is
//! still a sketch, for `HLLSketchEstimate` or `quantilesDoublesSketchToQuantile`
//! to read — while a finalized field reads its estimate or count. Once every
//! post-aggregation is computed, the aggregations' own values are finalized
//! ([`finalize_aggregations`]); a post-aggregation that returns a sketch
//! keeps it.

use strata_storage::metric_cell::QuantilesState;
use strata_storage::metric_cell::distinct::estimate_with_bounds;

use crate::execute::ExecuteError;
use crate::plan::{
    AggregateFunction, AggregatePlan, ArithmeticOperator, PostExpression, ResultValue, SketchValue,
};

/// A post-aggregation with its field names resolved to positions in the
/// row's values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PostValue {
    Field(usize),
    FinalizedField(usize),
    Constant(f64),
    Arithmetic {
        operator: ArithmeticOperator,
        operands: Vec<PostValue>,
    },
    HllEstimate {
        field: Box<PostValue>,
        round: bool,
    },
    HllEstimateWithBounds {
        field: Box<PostValue>,
        std_devs: u8,
    },
    Quantiles {
        field: Box<PostValue>,
        fractions: Vec<f64>,
        /// One fraction, answered as a number rather than an array.
        single: bool,
    },
}

/// Which sketch a named value holds, so a sketch lookup can be checked
/// against it before any row is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    Hll,
    Quantiles,
    Other,
}

impl Holds {
    fn of(function: &AggregateFunction) -> Self {
        match function {
            AggregateFunction::Filtered { inner, .. } => Holds::of(inner),
            AggregateFunction::DistinctSketch { .. } | AggregateFunction::Cardinality { .. } => {
                Holds::Hll
            }
            AggregateFunction::QuantilesSketch { .. } => Holds::Quantiles,
            _ => Holds::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Holds::Hll => "an HLL sketch (HLLSketchBuild, HLLSketchMerge or cardinality)",
            Holds::Quantiles => "a quantiles sketch (quantilesDoublesSketch)",
            Holds::Other => "a value",
        }
    }
}

/// The names a post-aggregation can read, with what each holds.
struct Names<'a> {
    names: Vec<&'a str>,
    holds: Vec<Holds>,
}

/// Resolves every post-aggregation before any row is read, so a plan with
/// an unknown name fails even when no row matches.
pub(super) fn compile_post_aggregations(
    aggregate: &AggregatePlan,
) -> Result<Vec<PostValue>, ExecuteError> {
    let mut names = Names {
        names: aggregate
            .aggregations
            .iter()
            .map(|aggregation| aggregation.name.as_str())
            .collect(),
        holds: aggregate
            .aggregations
            .iter()
            .map(|aggregation| Holds::of(&aggregation.function))
            .collect(),
    };
    let mut compiled = Vec::with_capacity(aggregate.post_aggregations.len());
    for post_aggregation in &aggregate.post_aggregations {
        let value =
            PostValue::compile(&post_aggregation.expression, &names, &post_aggregation.name)?;
        let holds = match value {
            PostValue::Field(index) => names.holds.get(index).copied().unwrap_or(Holds::Other),
            _ => Holds::Other,
        };
        compiled.push(value);
        names.names.push(&post_aggregation.name);
        names.holds.push(holds);
    }
    Ok(compiled)
}

/// Finalizes the first `aggregations` values of a row (its aggregations'),
/// once the post-aggregations have read them.
pub(super) fn finalize_aggregations(values: &mut [ResultValue], aggregations: usize) {
    for value in values.iter_mut().take(aggregations) {
        if let ResultValue::Sketch(sketch) = value {
            *value = sketch.finalized();
        }
    }
}

impl PostValue {
    fn compile(
        expression: &PostExpression,
        names: &Names<'_>,
        post_aggregation: &str,
    ) -> Result<Self, ExecuteError> {
        let resolve = |field: &String| {
            // The latest of equal names: a post-aggregation shadows what it renames.
            names
                .names
                .iter()
                .rposition(|name| name == field)
                .ok_or_else(|| ExecuteError::UnknownField {
                    post_aggregation: post_aggregation.to_owned(),
                    field: field.clone(),
                    known: if names.names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.names.join(", ")
                    },
                })
        };
        let sketch = |field: &PostExpression, expected: Holds| {
            let value = PostValue::compile(field, names, post_aggregation)?;
            if let (PostExpression::Field(name), PostValue::Field(index)) = (field, &value)
                && names.holds.get(*index) != Some(&expected)
            {
                return Err(ExecuteError::NotASketch {
                    post_aggregation: post_aggregation.to_owned(),
                    field: name.clone(),
                    expected: expected.name(),
                });
            }
            Ok(Box::new(value))
        };
        let check_fraction = |fraction: f64| {
            if (0.0..=1.0).contains(&fraction) {
                Ok(fraction)
            } else {
                Err(ExecuteError::BadFraction {
                    post_aggregation: post_aggregation.to_owned(),
                    fraction,
                })
            }
        };
        match expression {
            PostExpression::Field(field) => resolve(field).map(PostValue::Field),
            PostExpression::FinalizedField(field) => resolve(field).map(PostValue::FinalizedField),
            PostExpression::Constant(value) => Ok(PostValue::Constant(*value)),
            PostExpression::Arithmetic { operator, operands } => {
                if operands.len() < 2 {
                    return Err(ExecuteError::TooFewOperands {
                        post_aggregation: post_aggregation.to_owned(),
                        operator: *operator,
                        operands: operands.len(),
                    });
                }
                Ok(PostValue::Arithmetic {
                    operator: *operator,
                    operands: operands
                        .iter()
                        .map(|operand| PostValue::compile(operand, names, post_aggregation))
                        .collect::<Result<_, _>>()?,
                })
            }
            PostExpression::HllEstimate { field, round } => Ok(PostValue::HllEstimate {
                field: sketch(field, Holds::Hll)?,
                round: *round,
            }),
            PostExpression::HllEstimateWithBounds { field, std_devs } => {
                Ok(PostValue::HllEstimateWithBounds {
                    field: sketch(field, Holds::Hll)?,
                    std_devs: *std_devs,
                })
            }
            PostExpression::Quantile { field, fraction } => Ok(PostValue::Quantiles {
                field: sketch(field, Holds::Quantiles)?,
                fractions: vec![check_fraction(*fraction)?],
                single: true,
            }),
            PostExpression::Quantiles { field, fractions } => Ok(PostValue::Quantiles {
                field: sketch(field, Holds::Quantiles)?,
                fractions: fractions
                    .iter()
                    .map(|fraction| check_fraction(*fraction))
                    .collect::<Result<_, _>>()?,
                single: false,
            }),
        }
    }

    pub(super) fn evaluate(&self, values: &[ResultValue]) -> ResultValue {
        match self {
            PostValue::Field(index) => values.get(*index).cloned().unwrap_or(ResultValue::Null),
            PostValue::FinalizedField(index) => values
                .get(*index)
                .cloned()
                .map_or(ResultValue::Null, ResultValue::finalized),
            PostValue::Constant(value) => ResultValue::Double(*value),
            PostValue::Arithmetic { operator, operands } => {
                let mut operands = operands
                    .iter()
                    .map(|operand| operand.evaluate(values).as_f64());
                let Some(Some(mut result)) = operands.next() else {
                    return ResultValue::Null;
                };
                for operand in operands {
                    let Some(operand) = operand else {
                        return ResultValue::Null;
                    };
                    result = apply(*operator, result, operand);
                }
                ResultValue::Double(result)
            }
            PostValue::HllEstimate { field, round } => match field.evaluate(values) {
                ResultValue::Sketch(SketchValue::Hll { sketch, .. }) => SketchValue::Hll {
                    sketch,
                    round: *round,
                }
                .finalized(),
                _ => ResultValue::Null,
            },
            PostValue::HllEstimateWithBounds { field, std_devs } => match field.evaluate(values) {
                ResultValue::Sketch(SketchValue::Hll { sketch, .. }) => {
                    ResultValue::Doubles(estimate_with_bounds(&sketch, *std_devs).to_vec())
                }
                _ => ResultValue::Null,
            },
            PostValue::Quantiles {
                field,
                fractions,
                single,
            } => match field.evaluate(values) {
                ResultValue::Sketch(SketchValue::Quantiles(state)) => {
                    quantiles_of(&state, fractions, *single)
                }
                _ => ResultValue::Null,
            },
        }
    }
}

/// The quantiles of `state` at `fractions`; null for an empty state.
fn quantiles_of(state: &QuantilesState, fractions: &[f64], single: bool) -> ResultValue {
    match (state.quantiles(fractions), single) {
        (None, _) => ResultValue::Null,
        (Some(values), true) => values
            .first()
            .copied()
            .map_or(ResultValue::Null, ResultValue::Double),
        (Some(values), false) => ResultValue::Doubles(values),
    }
}

fn apply(operator: ArithmeticOperator, left: f64, right: f64) -> f64 {
    match operator {
        ArithmeticOperator::Add => left + right,
        ArithmeticOperator::Subtract => left - right,
        ArithmeticOperator::Multiply => left * right,
        ArithmeticOperator::Divide if right == 0.0 => 0.0,
        ArithmeticOperator::Divide | ArithmeticOperator::Quotient => left / right,
        ArithmeticOperator::Power => left.powf(right),
    }
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;

    use crate::execute::test_support::*;
    use crate::execute::{ExecuteError, execute};
    use crate::plan::{
        AggregateFunction, ArithmeticOperator, NumberType, PostAggregation, PostExpression,
        ResultValue,
    };

    fn post(name: &str, expression: PostExpression) -> PostAggregation {
        PostAggregation {
            name: name.into(),
            expression,
        }
    }

    fn arithmetic(operator: ArithmeticOperator, operands: Vec<PostExpression>) -> PostExpression {
        PostExpression::Arithmetic { operator, operands }
    }

    fn field(name: &str) -> PostExpression {
        PostExpression::Field(name.into())
    }

    #[test]
    fn post_aggregations_follow_druid_arithmetic() {
        use ArithmeticOperator::{Add, Divide, Power, Quotient, Subtract};
        use PostExpression::Constant;
        let events = vec![
            Event {
                bytes: None,
                ..event(T0, Some("a"), &[], None)
            },
            event(T0 + 1, Some("a"), &[], None),
        ];
        let table = events_table(&events);
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![
                AggregateFunction::Count,
                sum("nope", NumberType::Long),
                sum("latency", NumberType::Double),
            ],
        );
        plan.aggregate.post_aggregations = vec![
            post("count", field("a0")),
            post(
                "by_zero",
                arithmetic(Divide, vec![field("a0"), Constant(0.0)]),
            ),
            post(
                "quotient",
                arithmetic(Quotient, vec![field("a0"), Constant(0.0)]),
            ),
            post("with_null", arithmetic(Add, vec![field("a0"), field("a1")])),
            post(
                "chained",
                arithmetic(Subtract, vec![field("a2"), field("count"), Constant(0.5)]),
            ),
            post(
                "squared",
                arithmetic(Power, vec![field("chained"), Constant(2.0)]),
            ),
        ];
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        assert_eq!(
            values_of(&rows),
            [vec![
                ResultValue::Long(2),
                ResultValue::Null,
                ResultValue::Double(3.0),
                ResultValue::Long(2),
                ResultValue::Double(0.0),
                ResultValue::Double(f64::INFINITY),
                ResultValue::Null,
                ResultValue::Double(0.5),
                ResultValue::Double(0.25),
            ]]
        );
    }

    #[test]
    fn a_post_aggregation_must_read_names_defined_before_it() {
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![AggregateFunction::Count],
        );
        plan.aggregate.post_aggregations = vec![
            post(
                "early",
                arithmetic(ArithmeticOperator::Add, vec![field("a0"), field("late")]),
            ),
            post("late", field("a0")),
        ];
        let error = execute(&plan, &spec(), &[]).unwrap_err();
        assert!(
            error.to_string().contains("`early` reads `late`")
                && error.to_string().contains("can read are: a0"),
            "{error}"
        );

        plan.aggregate.post_aggregations = vec![post(
            "lonely",
            arithmetic(ArithmeticOperator::Add, vec![field("a0")]),
        )];
        assert!(matches!(
            execute(&plan, &spec(), &[]),
            Err(ExecuteError::TooFewOperands { operands: 1, .. })
        ));
    }
}

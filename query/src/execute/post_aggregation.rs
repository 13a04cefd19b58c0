//! Post-aggregations: arithmetic over a result row's aggregations, computed
//! once the groups of every table are merged.
//!
//! A post-aggregation reads its fields by name: an aggregation, or a
//! post-aggregation listed before it — never a later one, and the latest of
//! equal names, so a post-aggregation shadows what it renames. Every name is
//! resolved to a position in the row's values before any row is read, so a
//! plan with an unknown name fails even when no row matches.
//!
//! Arithmetic follows Druid's: operands are read as doubles and folded left
//! to right, a null operand makes the result null, `/` by zero is 0 while
//! `quotient` divides as IEEE 754 does, and the result is always a double.

use crate::execute::ExecuteError;
use crate::plan::{AggregatePlan, ArithmeticOperator, PostExpression, ResultValue};

/// A post-aggregation with its field names resolved to positions in the
/// row's values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PostValue {
    Field(usize),
    Constant(f64),
    Arithmetic {
        operator: ArithmeticOperator,
        operands: Vec<PostValue>,
    },
}

/// Resolves every post-aggregation before any row is read, so a plan with
/// an unknown name fails even when no row matches.
pub(super) fn compile_post_aggregations(
    aggregate: &AggregatePlan,
) -> Result<Vec<PostValue>, ExecuteError> {
    let mut names: Vec<&str> = aggregate
        .aggregations
        .iter()
        .map(|aggregation| aggregation.name.as_str())
        .collect();
    let mut compiled = Vec::with_capacity(aggregate.post_aggregations.len());
    for post_aggregation in &aggregate.post_aggregations {
        compiled.push(PostValue::compile(
            &post_aggregation.expression,
            &names,
            &post_aggregation.name,
        )?);
        names.push(&post_aggregation.name);
    }
    Ok(compiled)
}

impl PostValue {
    fn compile(
        expression: &PostExpression,
        names: &[&str],
        post_aggregation: &str,
    ) -> Result<Self, ExecuteError> {
        match expression {
            // The latest of equal names: a post-aggregation shadows what it renames.
            PostExpression::Field(field) => names
                .iter()
                .rposition(|name| name == field)
                .map(PostValue::Field)
                .ok_or_else(|| ExecuteError::UnknownField {
                    post_aggregation: post_aggregation.to_owned(),
                    field: field.clone(),
                    known: if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    },
                }),
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
        }
    }

    pub(super) fn evaluate(&self, values: &[ResultValue]) -> ResultValue {
        match self {
            PostValue::Field(index) => values.get(*index).copied().unwrap_or(ResultValue::Null),
            PostValue::Constant(value) => ResultValue::Double(*value),
            PostValue::Arithmetic { operator, operands } => {
                let mut operands = operands
                    .iter()
                    .map(|operand| as_double(operand.evaluate(values)));
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
        }
    }
}

fn as_double(value: ResultValue) -> Option<f64> {
    match value {
        ResultValue::Null => None,
        ResultValue::Long(value) => Some(value as f64),
        ResultValue::Double(value) => Some(value),
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

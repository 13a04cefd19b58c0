//! Druid aggregators and post-aggregators into the plan.
//!
//! Aggregators: `count`; `longSum`, `doubleSum`, `floatSum`; `longMin`,
//! `longMax`, `doubleMin`, `doubleMax`, `floatMin`, `floatMax` — each over
//! `fieldName`, a dimension or a metric of the datasource; and `filtered`
//! (`filter`, `aggregator`), its inner aggregator over only the rows its
//! [filter] selects, named by its own `name` or else by the
//! inner aggregator's. Post-aggregators:
//! `arithmetic` (`+ - * / quotient pow`), `fieldAccess`,
//! `finalizingFieldAccess` and `constant`.

use super::filter;
use super::json::{Field, JsonError};
use crate::plan::{
    AggregateFunction, Aggregation, ArithmeticOperator, NumberType, PostAggregation, PostExpression,
};

pub fn parse_aggregations(field: &Field<'_>) -> Result<Vec<Aggregation>, JsonError> {
    field.elements()?.iter().map(aggregation).collect()
}

pub fn parse_post_aggregations(field: &Field<'_>) -> Result<Vec<PostAggregation>, JsonError> {
    field
        .elements()?
        .iter()
        .map(|item| {
            Ok(PostAggregation {
                name: item.required("name")?.string()?,
                expression: post_expression(item)?,
            })
        })
        .collect()
}

fn aggregation(field: &Field<'_>) -> Result<Aggregation, JsonError> {
    let kind = field.required("type")?.string()?;
    // The type first: an unsupported aggregator may spell its name another
    // way (`filtered` takes its inner aggregator's), and is refused anyway.
    if kind == "filtered" {
        return filtered(field);
    }
    let supported = kind == "count"
        || ["long", "double", "float"].iter().any(|prefix| {
            kind.strip_prefix(prefix)
                .is_some_and(|operation| ["Sum", "Min", "Max"].contains(&operation))
        });
    if !supported {
        return Err(unsupported(field, &kind));
    }
    let name = field.required("name")?.string()?;
    let column = || field.required("fieldName")?.string();
    let number = |prefix: &str| match prefix {
        "long" => NumberType::Long,
        "double" => NumberType::Double,
        _ => NumberType::Float,
    };
    let function = match kind.as_str() {
        "count" => AggregateFunction::Count,
        other => {
            let (prefix, operation) = ["long", "double", "float"]
                .iter()
                .find_map(|prefix| other.strip_prefix(prefix).map(|rest| (*prefix, rest)))
                .ok_or_else(|| unsupported(field, other))?;
            let number = number(prefix);
            match operation {
                "Sum" => AggregateFunction::Sum {
                    column: column()?,
                    number,
                },
                "Min" => AggregateFunction::Min {
                    column: column()?,
                    number,
                },
                "Max" => AggregateFunction::Max {
                    column: column()?,
                    number,
                },
                _ => return Err(unsupported(field, other)),
            }
        }
    };
    Ok(Aggregation { name, function })
}

/// `{"type": "filtered", "filter": ..., "aggregator": ..., "name"?: ...}`.
fn filtered(field: &Field<'_>) -> Result<Aggregation, JsonError> {
    let filter = filter::parse(&field.required("filter")?)?;
    let inner = aggregation(&field.required("aggregator")?)?;
    let name = match field.optional("name").filter(|name| !name.is_null()) {
        Some(name) => name.string()?,
        None => inner.name,
    };
    Ok(Aggregation {
        name,
        function: AggregateFunction::Filtered {
            filter,
            inner: Box::new(inner.function),
        },
    })
}

fn unsupported(field: &Field<'_>, kind: &str) -> JsonError {
    match field.required("type") {
        Ok(type_field) => type_field.invalid(format!(
            "aggregator `{kind}` is not supported yet; use count, longSum, doubleSum, floatSum, the Min/Max of long, double or float, or filtered"
        )),
        Err(error) => error,
    }
}

fn post_expression(field: &Field<'_>) -> Result<PostExpression, JsonError> {
    let kind = field.required("type")?.string()?;
    Ok(match kind.as_str() {
        "fieldAccess" | "finalizingFieldAccess" => {
            PostExpression::Field(field.required("fieldName")?.string()?)
        }
        "constant" => PostExpression::Constant(field.required("value")?.number()?),
        "arithmetic" => {
            let function = field.required("fn")?;
            let operator = match function.string()?.as_str() {
                "+" => ArithmeticOperator::Add,
                "-" => ArithmeticOperator::Subtract,
                "*" => ArithmeticOperator::Multiply,
                "/" => ArithmeticOperator::Divide,
                "quotient" => ArithmeticOperator::Quotient,
                "pow" => ArithmeticOperator::Power,
                other => {
                    return Err(function.invalid(format!(
                        "arithmetic function `{other}` is not supported; use + - * / quotient or pow"
                    )));
                }
            };
            let fields = field.required("fields")?;
            let operands = fields
                .elements()?
                .iter()
                .map(post_expression)
                .collect::<Result<Vec<_>, _>>()?;
            if operands.len() < 2 {
                return Err(fields.invalid("arithmetic needs at least two fields"));
            }
            PostExpression::Arithmetic { operator, operands }
        }
        other => {
            return Err(field.required("type")?.invalid(format!(
                "post-aggregator `{other}` is not supported yet; use arithmetic, fieldAccess, finalizingFieldAccess or constant"
            )));
        }
    })
}

//! Druid aggregators and post-aggregators into the plan.
//!
//! Aggregators, each named by `name`:
//!
//! - `count`;
//! - `longSum`, `doubleSum`, `floatSum`, `longMin`, `longMax`, `doubleMin`,
//!   `doubleMax`, `floatMin`, `floatMax` over `fieldName`, a dimension or a
//!   metric of the datasource;
//! - `longFirst`, `longLast`, `doubleFirst`, `doubleLast`, `floatFirst`,
//!   `floatLast`, `stringFirst`, `stringLast` over `fieldName`, by event
//!   `__time` or by the long column `timeColumn` names (`maxStringBytes` is
//!   accepted and ignored: strings are kept whole);
//! - `HLLSketchBuild` and `HLLSketchMerge` over `fieldName`, with `lgK`
//!   (4..=21, default 12), `tgtHllType` (`HLL_4` default, `HLL_6`, `HLL_8`)
//!   and `round` (default false); `shouldFinalize` false is refused;
//! - `quantilesDoublesSketch` over `fieldName`, with `k` (a power of 2 in
//!   2..=32768, default 128);
//! - `cardinality` over `fields` (names or default dimension specs), with
//!   `byRow` and `round` (both default false);
//! - `filtered` (`filter`, `aggregator`): its inner aggregator over only the
//!   rows its [filter] selects, named by its own `name` or else by the inner
//!   aggregator's.
//!
//! Post-aggregators: `arithmetic` (`+ - * / quotient pow`), `fieldAccess`
//! (a sketch stays a sketch), `finalizingFieldAccess` (a sketch's estimate
//! or count), `constant`, `HLLSketchEstimate` (`field`, `round`),
//! `HLLSketchEstimateWithBounds` (`field`, `numStdDevs` 1..=3, default 1),
//! `quantilesDoublesSketchToQuantile` (`field`, `fraction`) and
//! `quantilesDoublesSketchToQuantiles` (`field`, `fractions`).

use strata_storage::spec::{HllLgK, HllTargetType, QuantilesK};

use super::filter;
use super::json::{Field, JsonError};
use crate::plan::{
    AggregateFunction, Aggregation, ArithmeticOperator, NumberType, PostAggregation,
    PostExpression, ValueKind,
};

const SUPPORTED_AGGREGATORS: &str = "count; longSum, doubleSum, floatSum and the Min/Max of long, double or float; longFirst, longLast, doubleFirst, doubleLast, floatFirst, floatLast, stringFirst, stringLast; HLLSketchBuild, HLLSketchMerge, quantilesDoublesSketch, cardinality; or filtered";

const SUPPORTED_POST_AGGREGATORS: &str = "arithmetic, fieldAccess, finalizingFieldAccess, constant, HLLSketchEstimate, HLLSketchEstimateWithBounds, quantilesDoublesSketchToQuantile or quantilesDoublesSketchToQuantiles";

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

/// The number type of a `long*`, `double*` or `float*` aggregator, and the
/// operation after the prefix.
fn split_number_prefix(kind: &str) -> Option<(NumberType, &str)> {
    [
        ("long", NumberType::Long),
        ("double", NumberType::Double),
        ("float", NumberType::Float),
    ]
    .into_iter()
    .find_map(|(prefix, number)| kind.strip_prefix(prefix).map(|rest| (number, rest)))
}

/// The value kind of a first/last aggregator, and whether it is first.
fn first_last(kind: &str) -> Option<(ValueKind, bool)> {
    let (value_kind, rest) = [
        ("long", ValueKind::Long),
        ("double", ValueKind::Double),
        ("float", ValueKind::Float),
        ("string", ValueKind::String),
    ]
    .into_iter()
    .find_map(|(prefix, value_kind)| kind.strip_prefix(prefix).map(|rest| (value_kind, rest)))?;
    match rest {
        "First" => Some((value_kind, true)),
        "Last" => Some((value_kind, false)),
        _ => None,
    }
}

fn aggregation(field: &Field<'_>) -> Result<Aggregation, JsonError> {
    let kind = field.required("type")?.string()?;
    // The type first: an unsupported aggregator may spell its name another
    // way (`filtered` takes its inner aggregator's), and is refused anyway.
    if kind == "filtered" {
        return filtered(field);
    }
    let column = || field.required("fieldName")?.string();
    let function = match kind.as_str() {
        "count" => AggregateFunction::Count,
        "HLLSketchBuild" | "HLLSketchMerge" => hll_sketch(field)?,
        "quantilesDoublesSketch" => AggregateFunction::QuantilesSketch {
            column: column()?,
            k: match field.optional("k").filter(|k| !k.is_null()) {
                None => QuantilesK::DEFAULT,
                Some(k) => whole(&k)
                    .and_then(QuantilesK::new)
                    .ok_or_else(|| k.invalid("k must be a power of 2 from 2 to 32768"))?,
            },
        },
        "cardinality" => cardinality(field)?,
        other => {
            if let Some((value_kind, is_first)) = first_last(other) {
                first_last_function(field, value_kind, is_first)?
            } else {
                match split_number_prefix(other) {
                    Some((number, "Sum")) => AggregateFunction::Sum {
                        column: column()?,
                        number,
                    },
                    Some((number, "Min")) => AggregateFunction::Min {
                        column: column()?,
                        number,
                    },
                    Some((number, "Max")) => AggregateFunction::Max {
                        column: column()?,
                        number,
                    },
                    _ => return Err(unsupported(field, other)),
                }
            }
        }
    };
    let name = field.required("name")?.string()?;
    Ok(Aggregation { name, function })
}

/// A JSON number that is a whole number.
fn whole(field: &Field<'_>) -> Option<i64> {
    field
        .value()
        .as_i64()
        .or_else(|| field.value().as_str().and_then(|text| text.parse().ok()))
}

fn optional_flag(field: &Field<'_>, name: &str) -> Result<bool, JsonError> {
    match field.optional(name).filter(|flag| !flag.is_null()) {
        Some(flag) => flag.boolean(),
        None => Ok(false),
    }
}

/// `{"type": "longFirst", "fieldName": ..., "timeColumn"?: "__time", "maxStringBytes"?: n}`.
fn first_last_function(
    field: &Field<'_>,
    kind: ValueKind,
    is_first: bool,
) -> Result<AggregateFunction, JsonError> {
    let column = field.required("fieldName")?.string()?;
    let time_column = match field.optional("timeColumn").filter(|time| !time.is_null()) {
        Some(time) => Some(time.string()?).filter(|name| name != "__time"),
        None => None,
    };
    if let Some(bytes) = field
        .optional("maxStringBytes")
        .filter(|bytes| !bytes.is_null())
    {
        bytes.count()?;
    }
    Ok(if is_first {
        AggregateFunction::First {
            column,
            kind,
            time_column,
        }
    } else {
        AggregateFunction::Last {
            column,
            kind,
            time_column,
        }
    })
}

/// `HLLSketchBuild` / `HLLSketchMerge`: `fieldName`, `lgK`, `tgtHllType`, `round`.
fn hll_sketch(field: &Field<'_>) -> Result<AggregateFunction, JsonError> {
    let column = field.required("fieldName")?.string()?;
    let lg_k = match field.optional("lgK").filter(|lg_k| !lg_k.is_null()) {
        None => HllLgK::DEFAULT,
        Some(lg_k) => whole(&lg_k)
            .and_then(HllLgK::new)
            .ok_or_else(|| lg_k.invalid("lgK must be a whole number from 4 to 21"))?,
    };
    let target_type = match field.optional("tgtHllType").filter(|kind| !kind.is_null()) {
        None => HllTargetType::default(),
        Some(kind) => HllTargetType::from_druid_name(&kind.string()?)
            .ok_or_else(|| kind.invalid("tgtHllType must be HLL_4, HLL_6 or HLL_8"))?,
    };
    if let Some(finalize) = field
        .optional("shouldFinalize")
        .filter(|flag| !flag.is_null())
        && !finalize.boolean()?
    {
        return Err(finalize.invalid(
            "unfinalized sketches are not returned; leave shouldFinalize out, or read the sketch with a fieldAccess post-aggregator",
        ));
    }
    Ok(AggregateFunction::DistinctSketch {
        column,
        lg_k,
        target_type,
        round: optional_flag(field, "round")?,
    })
}

/// `cardinality`: `fields` (names or default dimension specs), `byRow`, `round`.
fn cardinality(field: &Field<'_>) -> Result<AggregateFunction, JsonError> {
    let fields = field.required("fields")?;
    let columns = fields
        .elements()?
        .iter()
        .map(|item| {
            if item.is_string() {
                return item.string();
            }
            if let Some(kind) = item.optional("type").filter(|kind| !kind.is_null())
                && kind.string()? != "default"
            {
                return Err(kind.invalid(
                    "cardinality reads dimensions as they are; use a name or a \"default\" dimension spec",
                ));
            }
            item.required("dimension")?.string()
        })
        .collect::<Result<Vec<_>, _>>()?;
    if columns.is_empty() {
        return Err(fields.invalid("cardinality needs at least one field"));
    }
    Ok(AggregateFunction::Cardinality {
        columns,
        by_row: optional_flag(field, "byRow")?,
        round: optional_flag(field, "round")?,
    })
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
            "aggregator `{kind}` is not supported yet; use {SUPPORTED_AGGREGATORS}"
        )),
        Err(error) => error,
    }
}

/// A post-aggregator's `field`: the post-aggregator it reads.
fn inner_field(field: &Field<'_>) -> Result<Box<PostExpression>, JsonError> {
    Ok(Box::new(post_expression(&field.required("field")?)?))
}

fn fraction(field: &Field<'_>) -> Result<f64, JsonError> {
    let fraction = field.number()?;
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(field.invalid(format!("a fraction lies between 0 and 1, found {fraction}")))
    }
}

fn post_expression(field: &Field<'_>) -> Result<PostExpression, JsonError> {
    let kind = field.required("type")?.string()?;
    Ok(match kind.as_str() {
        "fieldAccess" => PostExpression::Field(field.required("fieldName")?.string()?),
        "finalizingFieldAccess" => {
            PostExpression::FinalizedField(field.required("fieldName")?.string()?)
        }
        "constant" => PostExpression::Constant(field.required("value")?.number()?),
        "HLLSketchEstimate" => PostExpression::HllEstimate {
            field: inner_field(field)?,
            round: optional_flag(field, "round")?,
        },
        "HLLSketchEstimateWithBounds" => PostExpression::HllEstimateWithBounds {
            field: inner_field(field)?,
            std_devs: match field.optional("numStdDevs").filter(|n| !n.is_null()) {
                None => 1,
                Some(std_devs) => whole(&std_devs)
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| (1..=3).contains(n))
                    .ok_or_else(|| std_devs.invalid("numStdDevs must be 1, 2 or 3"))?,
            },
        },
        "quantilesDoublesSketchToQuantile" => PostExpression::Quantile {
            field: inner_field(field)?,
            fraction: fraction(&field.required("fraction")?)?,
        },
        "quantilesDoublesSketchToQuantiles" => PostExpression::Quantiles {
            field: inner_field(field)?,
            fractions: field
                .required("fractions")?
                .elements()?
                .iter()
                .map(fraction)
                .collect::<Result<_, _>>()?,
        },
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
                "post-aggregator `{other}` is not supported yet; use {SUPPORTED_POST_AGGREGATORS}"
            )));
        }
    })
}

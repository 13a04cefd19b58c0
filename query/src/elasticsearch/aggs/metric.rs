//! Metric aggregations: the values computed over one bucket's events, each
//! lowered into plan aggregations and read back from the plan's row.
//!
//! | Elasticsearch | plan | answer |
//! | --- | --- | --- |
//! | `value_count` | `Count` of the events holding the field | `{"value": n}` |
//! | `sum`, `min`, `max` | `Sum`, `Min`, `Max` (of the metric that holds it, when one does) | `{"value": x}`; an empty sum is 0, an empty min or max null |
//! | `avg` | `Sum` and the count of values | `{"value": sum / count}` |
//! | `stats` | count, min, max, sum | `{"count", "min", "max", "avg", "sum"}` |
//! | `extended_stats` | and the sum of squares | and `sum_of_squares`, the variances, standard deviations and their `sigma` bounds |
//! | `cardinality` | an HLL sketch (lgK 12, about 1.6% error) | `{"value": n}` |
//! | `percentiles` | a quantiles sketch and its quantiles | `{"values": {"25.0": x, ...}}` |
//! | `top_metrics` sorted by time | `Last` (or `First`) of each metric, and the latest (earliest) time | `{"top": [{"sort": [t], "metrics": {...}}]}` |
//!
//! A field's count of values counts the events where it is not null; over
//! the time field, every event. The percentiles come from a KLL sketch (the
//! rank error of Druid's `quantilesDoublesSketch` at k 128, about 1.7%);
//! Elasticsearch's are a t-digest: both are estimates.

use serde_json::{Map, Value, json};
use strata_storage::spec::{HllLgK, HllTargetType, QuantilesK};

use crate::druid::json::{Field, JsonError};
use crate::elasticsearch::fields::{FieldType, IndexField, MetricUse};
use crate::elasticsearch::query_dsl::{QueryLowering, not_null};
use crate::plan::{
    AggregateFunction, Aggregation, NumberType, PostAggregation, PostExpression, ResultValue,
    ValueKind,
};

/// The percents `percentiles` answers when it names none.
const DEFAULT_PERCENTS: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];

#[derive(Debug, Clone, PartialEq)]
pub enum MetricAgg {
    Avg(IndexField),
    Sum(IndexField),
    Min(IndexField),
    Max(IndexField),
    ValueCount(IndexField),
    Cardinality(IndexField),
    Percentiles {
        field: IndexField,
        percents: Vec<f64>,
        keyed: bool,
    },
    Stats(IndexField),
    ExtendedStats {
        field: IndexField,
        /// How many standard deviations `std_deviation_bounds` lie from the
        /// mean.
        sigma: f64,
    },
    TopMetrics {
        metrics: Vec<IndexField>,
        /// Sorted newest first (the latest values), else oldest first.
        latest: bool,
    },
}

/// Reads a metric aggregation of type `type_name`.
pub fn parse(
    type_name: &str,
    body: &Field<'_>,
    lowering: &QueryLowering<'_>,
) -> Result<MetricAgg, JsonError> {
    let field = || -> Result<IndexField, JsonError> {
        let name = body.required("field").map_err(|_| {
            body.invalid(format!(
                "a {type_name} aggregation needs a field (scripts are not run)"
            ))
        })?;
        lowering.field(&name).cloned()
    };
    let numeric = || -> Result<IndexField, JsonError> {
        let field = field()?;
        if field.field_type.is_number() || field.field_type == FieldType::Date {
            Ok(field)
        } else {
            Err(body.invalid(format!(
                "a {type_name} aggregation needs a numeric field; [{}] is {}",
                field.name,
                field.field_type.name()
            )))
        }
    };
    Ok(match type_name {
        "avg" => MetricAgg::Avg(numeric()?),
        "sum" => MetricAgg::Sum(numeric()?),
        "min" => MetricAgg::Min(numeric()?),
        "max" => MetricAgg::Max(numeric()?),
        "stats" => MetricAgg::Stats(numeric()?),
        "value_count" => MetricAgg::ValueCount(field()?),
        "cardinality" => {
            let field = field()?;
            if field.field_type == FieldType::Text {
                return Err(body.invalid(format!(
                    "cardinality counts the values of a keyword or number; [{}] is text",
                    field.name
                )));
            }
            MetricAgg::Cardinality(field)
        }
        "percentiles" => {
            let field = numeric()?;
            let percents = match body.optional("percents").filter(|f| !f.is_null()) {
                Some(percents) => percents
                    .elements()?
                    .iter()
                    .map(|percent| {
                        let value = match percent.value() {
                            Value::String(text) => text.trim().parse().ok(),
                            other => other.as_f64(),
                        };
                        value.filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                            percent
                                .invalid("a percent is a number from 0 to 100, or a string of one")
                        })
                    })
                    .collect::<Result<_, _>>()?,
                None => DEFAULT_PERCENTS.to_vec(),
            };
            let keyed = match body.optional("keyed").filter(|f| !f.is_null()) {
                Some(keyed) => keyed.boolean()?,
                None => true,
            };
            MetricAgg::Percentiles {
                field,
                percents,
                keyed,
            }
        }
        "top_metrics" => top_metrics(body, lowering)?,
        "extended_stats" => {
            let field = numeric()?;
            let sigma = match body.optional("sigma").filter(|f| !f.is_null()) {
                Some(sigma) => {
                    let value = match sigma.value() {
                        Value::String(text) => text.trim().parse().ok(),
                        other => other.as_f64(),
                    };
                    value
                        .filter(|sigma: &f64| *sigma >= 0.0)
                        .ok_or_else(|| sigma.invalid("sigma is a number of at least 0"))?
                }
                None => 2.0,
            };
            MetricAgg::ExtendedStats { field, sigma }
        }
        other => {
            return Err(body.invalid(format!(
                "unknown aggregation type [{other}]; Strata answers terms, date_histogram, histogram, filters, range, avg, sum, min, max, value_count, cardinality, percentiles, stats, extended_stats, top_metrics, derivative, cumulative_sum, moving_fn and bucket_script"
            )));
        }
    })
}

fn top_metrics(body: &Field<'_>, lowering: &QueryLowering<'_>) -> Result<MetricAgg, JsonError> {
    let metrics_field = body.required("metrics")?;
    let metric_fields = if metrics_field.is_array() {
        metrics_field.elements()?
    } else {
        vec![metrics_field]
    };
    let metrics = metric_fields
        .iter()
        .map(|metric| lowering.field(&metric.required("field")?).cloned())
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(size) = body.optional("size").filter(|f| !f.is_null())
        && !match size.value() {
            Value::String(text) => text.trim() == "1",
            other => other.as_u64() == Some(1),
        }
    {
        return Err(size.invalid("top_metrics answers its best document only; size must be 1"));
    }
    let sort = body.required("sort")?;
    let sort = if sort.is_array() {
        sort.elements()?
            .into_iter()
            .next()
            .ok_or_else(|| sort.invalid("sort names the time field"))?
    } else {
        sort
    };
    let (name, direction) = sort
        .value()
        .as_object()
        .and_then(|object| object.iter().next())
        .ok_or_else(|| sort.invalid("sort is {\"<time field>\": \"desc\"}"))?;
    let field = lowering
        .fields
        .require(name)
        .map_err(|message| sort.invalid(message))?;
    if field.field_type != FieldType::Date {
        return Err(sort.invalid(format!(
            "top_metrics is sorted by the time field [{}]; [{name}] is not it",
            lowering.fields.time_field().name
        )));
    }
    let direction = crate::elasticsearch::search::sort_direction(direction);
    Ok(MetricAgg::TopMetrics {
        metrics,
        latest: direction.eq_ignore_ascii_case("desc"),
    })
}

/// A metric's part of a plan: its aggregations and post-aggregations, named
/// with `prefix` so that several metrics share one plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricParts {
    pub aggregations: Vec<Aggregation>,
    pub post_aggregations: Vec<PostAggregation>,
}

/// A metric's values in a plan row: its aggregations' then its
/// post-aggregations', in the order [`MetricAgg::lower`] gave them; empty
/// for a bucket that has no row (no event).
pub type MetricValues<'a> = (&'a [ResultValue], &'a [ResultValue]);

impl MetricAgg {
    /// The plan aggregations that compute this metric. A sum, min, max or
    /// sketch of a field some metric holds reads that metric, so the rollup
    /// table can answer.
    pub fn lower(&self, prefix: &str, lowering: &QueryLowering<'_>) -> MetricParts {
        let fields = lowering.fields;
        let named = |part: &str, function| Aggregation {
            name: format!("{prefix}:{part}"),
            function,
        };
        let column = |field: &IndexField, want| {
            fields
                .metric_for(field, want)
                .unwrap_or(&field.column)
                .to_owned()
        };
        let count = |field: &IndexField| match field.field_type {
            FieldType::Date => AggregateFunction::Count,
            _ => AggregateFunction::Filtered {
                filter: not_null(field),
                inner: Box::new(AggregateFunction::Count),
            },
        };
        let sum = |field: &IndexField| AggregateFunction::Sum {
            column: column(field, MetricUse::Sum),
            number: NumberType::Double,
        };
        let min = |field: &IndexField| AggregateFunction::Min {
            column: column(field, MetricUse::Min),
            number: NumberType::Double,
        };
        let max = |field: &IndexField| AggregateFunction::Max {
            column: column(field, MetricUse::Max),
            number: NumberType::Double,
        };
        let mut parts = MetricParts::default();
        match self {
            MetricAgg::ValueCount(field) => parts.aggregations.push(named("count", count(field))),
            MetricAgg::Sum(field) => parts.aggregations.push(named("sum", sum(field))),
            MetricAgg::Min(field) => parts.aggregations.push(named("min", min(field))),
            MetricAgg::Max(field) => parts.aggregations.push(named("max", max(field))),
            MetricAgg::Avg(field) => {
                parts.aggregations.push(named("sum", sum(field)));
                parts.aggregations.push(named("count", count(field)));
            }
            MetricAgg::Stats(field) | MetricAgg::ExtendedStats { field, .. } => {
                parts.aggregations.push(named("count", count(field)));
                parts.aggregations.push(named("min", min(field)));
                parts.aggregations.push(named("max", max(field)));
                parts.aggregations.push(named("sum", sum(field)));
                if matches!(self, MetricAgg::ExtendedStats { .. }) {
                    parts.aggregations.push(named(
                        "squares",
                        AggregateFunction::SumOfSquares {
                            column: field.column.clone(),
                        },
                    ));
                }
            }
            MetricAgg::Cardinality(field) => parts.aggregations.push(named(
                "distinct",
                AggregateFunction::DistinctSketch {
                    column: column(field, MetricUse::Distinct),
                    lg_k: HllLgK::DEFAULT,
                    target_type: HllTargetType::default(),
                    round: true,
                },
            )),
            MetricAgg::Percentiles {
                field, percents, ..
            } => {
                let sketch = named(
                    "sketch",
                    AggregateFunction::QuantilesSketch {
                        column: column(field, MetricUse::Quantiles),
                        k: QuantilesK::DEFAULT,
                    },
                );
                parts.post_aggregations.push(PostAggregation {
                    name: format!("{prefix}:quantiles"),
                    expression: PostExpression::Quantiles {
                        field: Box::new(PostExpression::Field(sketch.name.clone())),
                        fractions: percents.iter().map(|percent| percent / 100.0).collect(),
                    },
                });
                parts.aggregations.push(sketch);
            }
            MetricAgg::TopMetrics { metrics, latest } => {
                let time = fields.time_field().column.clone();
                parts.aggregations.push(named(
                    "time",
                    if *latest {
                        AggregateFunction::Max {
                            column: time,
                            number: NumberType::Long,
                        }
                    } else {
                        AggregateFunction::Min {
                            column: time,
                            number: NumberType::Long,
                        }
                    },
                ));
                for (i, field) in metrics.iter().enumerate() {
                    let kind = match field.field_type {
                        FieldType::Long | FieldType::Date => ValueKind::Long,
                        FieldType::Double => ValueKind::Double,
                        FieldType::Keyword | FieldType::Text => ValueKind::String,
                    };
                    let column = field.column.clone();
                    let function = if *latest {
                        AggregateFunction::Last {
                            column,
                            kind,
                            time_column: None,
                        }
                    } else {
                        AggregateFunction::First {
                            column,
                            kind,
                            time_column: None,
                        }
                    };
                    parts.aggregations.push(named(&i.to_string(), function));
                }
            }
        }
        parts
    }

    /// The answer of this metric in a bucket.
    pub fn render(&self, (values, posts): MetricValues<'_>) -> Value {
        let number = |i: usize| values.get(i).and_then(ResultValue::as_f64);
        let count = |i: usize| number(i).unwrap_or(0.0) as i64;
        match self {
            MetricAgg::ValueCount(_) => json!({"value": count(0)}),
            MetricAgg::Sum(_) => json!({"value": number(0).unwrap_or(0.0)}),
            MetricAgg::Min(_) | MetricAgg::Max(_) => json!({"value": number(0)}),
            MetricAgg::Avg(_) => json!({"value": average(number(0), count(1))}),
            MetricAgg::Stats(_) => json!({
                "count": count(0),
                "min": number(1),
                "max": number(2),
                "avg": average(number(3), count(0)),
                "sum": number(3).unwrap_or(0.0),
            }),
            MetricAgg::ExtendedStats { sigma, .. } => extended_stats(
                count(0),
                [number(1), number(2), number(3), number(4)],
                *sigma,
            ),
            MetricAgg::Cardinality(_) => json!({"value": count(0)}),
            MetricAgg::Percentiles {
                percents, keyed, ..
            } => {
                let quantiles = match posts.first() {
                    Some(ResultValue::Doubles(quantiles)) => quantiles.clone(),
                    _ => Vec::new(),
                };
                let value = |i: usize| quantiles.get(i).copied().filter(|v| v.is_finite());
                if *keyed {
                    let values: Map<String, Value> = percents
                        .iter()
                        .enumerate()
                        .map(|(i, percent)| (percent_key(*percent), json!(value(i))))
                        .collect();
                    json!({"values": values})
                } else {
                    let values: Vec<Value> = percents
                        .iter()
                        .enumerate()
                        .map(|(i, percent)| json!({"key": percent, "value": value(i)}))
                        .collect();
                    json!({"values": values})
                }
            }
            MetricAgg::TopMetrics { metrics, .. } => {
                // The first value is the time of the event picked.
                let Some(time) = number(0) else {
                    return json!({"top": []});
                };
                let picked: Map<String, Value> = metrics
                    .iter()
                    .zip(values.iter().skip(1))
                    .map(|(field, value)| {
                        let value = match value {
                            ResultValue::String(text) => json!(text),
                            other => json!(other.as_f64()),
                        };
                        (field.name.clone(), value)
                    })
                    .collect();
                json!({"top": [{"sort": [time as i64], "metrics": picked}]})
            }
        }
    }

    /// The number a buckets path names inside this metric: `None` for the
    /// metric's main value (`avg`, `sum`, ...), else a part of it
    /// (`stats.max`, `percentiles[99.0]`, `percentiles.99`). `Err` when the
    /// part does not exist.
    pub fn value(
        &self,
        part: Option<&str>,
        values: MetricValues<'_>,
    ) -> Result<Option<f64>, String> {
        let rendered = self.render(values);
        let pick = |value: &Value| value.as_f64();
        match (self, part) {
            (MetricAgg::Percentiles { percents, .. }, Some(part)) => {
                let wanted: f64 = part.parse().map_err(|_| {
                    format!("[{part}] is not a percent of this percentiles aggregation")
                })?;
                let i = percents
                    .iter()
                    .position(|percent| (percent - wanted).abs() < 1e-9)
                    .ok_or_else(|| {
                        format!("the percentiles aggregation has no percent [{part}]")
                    })?;
                let key = percent_key(percents[i]);
                Ok(rendered["values"]
                    .get(&key)
                    .and_then(pick)
                    .or_else(|| rendered["values"][i]["value"].as_f64()))
            }
            (MetricAgg::Stats(_) | MetricAgg::ExtendedStats { .. }, Some(part)) => {
                // `std_deviation_bounds.upper` or Grafana's `std_deviation_bounds_upper`.
                let bounds = part
                    .strip_prefix("std_deviation_bounds")
                    .map(|rest| rest.trim_start_matches(['.', '_']));
                let value = match bounds {
                    Some(bound) if !bound.is_empty() => rendered["std_deviation_bounds"].get(bound),
                    _ => rendered.get(part),
                };
                match value {
                    Some(value) => Ok(pick(value)),
                    None => Err(format!(
                        "this stats aggregation has no [{part}]; it has {}",
                        rendered
                            .as_object()
                            .map(|object| object.keys().cloned().collect::<Vec<_>>().join(", "))
                            .unwrap_or_default()
                    )),
                }
            }
            (MetricAgg::TopMetrics { .. }, Some(part)) => {
                Ok(rendered["top"][0]["metrics"].get(part).and_then(pick))
            }
            (_, None | Some("value")) => Ok(rendered.get("value").and_then(pick)),
            (_, Some(part)) => Err(format!("this metric has no [{part}]; name its value")),
        }
    }
}

/// `extended_stats` from the count and `[min, max, sum, sum of squares]`:
/// variances and deviations of the population and of a sample, and the
/// bounds `sigma` deviations around the mean.
fn extended_stats(count: i64, [min, max, sum, squares]: [Option<f64>; 4], sigma: f64) -> Value {
    let n = count as f64;
    let mean = average(sum, count);
    let population = mean.map(|mean| (squares.unwrap_or(0.0) / n - mean * mean).max(0.0));
    let sampling = population
        .filter(|_| count > 1)
        .map(|variance| variance * n / (n - 1.0));
    let deviation = |variance: Option<f64>| variance.map(f64::sqrt);
    let bound = |variance: Option<f64>, sign: f64| {
        mean.zip(deviation(variance))
            .map(|(mean, deviation)| mean + sign * sigma * deviation)
    };
    json!({
        "count": count,
        "min": min,
        "max": max,
        "avg": mean,
        "sum": sum.unwrap_or(0.0),
        "sum_of_squares": squares,
        "variance": population,
        "variance_population": population,
        "variance_sampling": sampling,
        "std_deviation": deviation(population),
        "std_deviation_population": deviation(population),
        "std_deviation_sampling": deviation(sampling),
        "std_deviation_bounds": {
            "upper": bound(population, 1.0),
            "lower": bound(population, -1.0),
            "upper_population": bound(population, 1.0),
            "lower_population": bound(population, -1.0),
            "upper_sampling": bound(sampling, 1.0),
            "lower_sampling": bound(sampling, -1.0),
        },
    })
}

fn average(sum: Option<f64>, count: i64) -> Option<f64> {
    (count > 0).then(|| sum.unwrap_or(0.0) / count as f64)
}

/// A percent as Elasticsearch keys it: `25.0`, `99.9`.
pub fn percent_key(percent: f64) -> String {
    if percent.fract() == 0.0 {
        format!("{percent:.1}")
    } else {
        percent.to_string()
    }
}

//! Pipeline aggregations: values computed from the other aggregations of
//! the buckets of one multi-bucket aggregation (a `date_histogram`, a
//! `histogram`), in bucket order — what Grafana's "Derivative",
//! "Cumulative sum", "Moving function" and "Bucket script" metrics ask.
//!
//! A pipeline names its inputs by *buckets path*: a sibling metric's name
//! (`"1"`), a part of it (`"stats.max"`, `"pct[99.0]"`), `_count` (the
//! bucket's `doc_count`), or another pipeline's name.
//!
//! - `derivative`: this bucket's value less the previous bucket's; absent in
//!   the first bucket and where either is missing (`gap_policy: skip`).
//!   With `unit` (`1s`, `1m`), `normalized_value` is it per unit of time.
//! - `cumulative_sum`: the running total (missing values add nothing).
//! - `moving_fn`: a function of the `window` values before this bucket
//!   (moved by `shift`): `MovingFunctions.max|min|sum|unweightedAvg|
//!   linearWeightedAvg|ewma|holt|stdDev(values, ...)`, the scripts Grafana
//!   writes; the legacy `moving_avg` is `unweightedAvg` (or its `model`).
//! - `bucket_script`: an arithmetic expression over `params.<var>`, each
//!   variable a buckets path; evaluated by `evalexpr` (`+ - * / % ^`,
//!   comparisons, `if(c, a, b)`, `math::` functions). A missing input or a
//!   result that is not a finite number leaves the bucket without it.

use serde_json::{Value, json};

use crate::druid::json::{Field, JsonError};
use crate::elasticsearch::dates::{HistogramInterval, IntervalKind};

#[derive(Debug, Clone, PartialEq)]
pub enum PipelineAgg {
    Derivative {
        path: String,
        /// The unit `normalized_value` is per, in milliseconds.
        unit: Option<i64>,
    },
    CumulativeSum {
        path: String,
    },
    MovingFn {
        path: String,
        window: usize,
        shift: i64,
        function: MovingFunction,
    },
    BucketScript {
        variables: Vec<(String, String)>,
        script: String,
    },
}

/// The functions of Elasticsearch's `MovingFunctions`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MovingFunction {
    Max,
    Min,
    Sum,
    UnweightedAvg,
    LinearWeightedAvg,
    Ewma { alpha: f64 },
    Holt { alpha: f64, beta: f64 },
    StdDev,
}

/// Reads a pipeline aggregation of type `type_name`.
pub fn parse(type_name: &str, body: &Field<'_>) -> Result<PipelineAgg, JsonError> {
    let path = || -> Result<String, JsonError> { body.required("buckets_path")?.string() };
    let present = |name: &str| body.optional(name).filter(|field| !field.is_null());
    let whole = |name: &str, default: i64| -> Result<i64, JsonError> {
        match present(name) {
            Some(field) => match field.value() {
                Value::String(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| field.invalid(format!("`{text}` is not a whole number"))),
                value => value
                    .as_i64()
                    .ok_or_else(|| field.invalid("expected a whole number")),
            },
            None => Ok(default),
        }
    };
    Ok(match type_name {
        "derivative" => PipelineAgg::Derivative {
            path: path()?,
            unit: match present("unit") {
                Some(unit) => {
                    let text = unit.string()?;
                    let interval = HistogramInterval::parse(&text, IntervalKind::Legacy)
                        .map_err(|message| unit.invalid(message))?;
                    Some(interval.approximate_millis())
                }
                None => None,
            },
        },
        "cumulative_sum" => PipelineAgg::CumulativeSum { path: path()? },
        "moving_fn" | "moving_avg" => {
            let window = whole("window", if type_name == "moving_avg" { 5 } else { -1 })?;
            let window = usize::try_from(window)
                .ok()
                .filter(|window| *window > 0)
                .ok_or_else(|| {
                    body.invalid("a moving function needs a window of at least 1 bucket")
                })?;
            let function = if type_name == "moving_avg" {
                legacy_model(body)?
            } else {
                let script = script(&body.required("script")?)?;
                moving_function(&script).map_err(|message| body.invalid(message))?
            };
            PipelineAgg::MovingFn {
                path: path()?,
                window,
                shift: whole("shift", 0)?,
                function,
            }
        }
        "bucket_script" => {
            let paths = body.required("buckets_path")?;
            let object = paths.value().as_object().ok_or_else(|| {
                paths.invalid("buckets_path is an object of variables, such as {\"a\": \"1\"}")
            })?;
            let variables = object
                .keys()
                .map(|name| Ok((name.clone(), paths.required(name)?.string()?)))
                .collect::<Result<_, JsonError>>()?;
            let script = script(&body.required("script")?)?;
            let expression = script.replace("params.", "");
            evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(&expression).map_err(
                |error| body.invalid(format!("the script [{script}] does not parse: {error}")),
            )?;
            PipelineAgg::BucketScript {
                variables,
                script: expression,
            }
        }
        other => return Err(body.invalid(format!("unknown pipeline aggregation [{other}]"))),
    })
}

/// A script's source: a string, or `{"source": ...}` (`inline` before 6.x).
fn script(field: &Field<'_>) -> Result<String, JsonError> {
    if field.is_string() {
        return field.string();
    }
    match field
        .optional("source")
        .or_else(|| field.optional("inline"))
    {
        Some(source) => source.string(),
        None => Err(field.invalid("a script is a string or {\"source\": \"...\"}")),
    }
}

/// `MovingFunctions.<name>(values[, args])`.
fn moving_function(script: &str) -> Result<MovingFunction, String> {
    let call = script.trim().trim_end_matches(';').trim();
    let call = call.strip_prefix("return ").unwrap_or(call).trim();
    let unknown = || {
        format!(
            "the moving_fn script [{script}] is not one Strata runs; write MovingFunctions.max|min|sum|unweightedAvg|linearWeightedAvg|ewma|holt|stdDev(values, ...)"
        )
    };
    let inner = call.strip_prefix("MovingFunctions.").ok_or_else(unknown)?;
    let (name, arguments) = inner.split_once('(').ok_or_else(unknown)?;
    let arguments: Vec<&str> = arguments
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect();
    let number = |i: usize, default: f64| -> Result<f64, String> {
        match arguments.get(i) {
            Some(text) if !text.is_empty() => text.parse().map_err(|_| unknown()),
            _ => Ok(default),
        }
    };
    Ok(match name.trim() {
        "max" => MovingFunction::Max,
        "min" => MovingFunction::Min,
        "sum" => MovingFunction::Sum,
        "unweightedAvg" => MovingFunction::UnweightedAvg,
        "linearWeightedAvg" => MovingFunction::LinearWeightedAvg,
        "ewma" => MovingFunction::Ewma {
            alpha: number(1, 0.3)?,
        },
        "holt" => MovingFunction::Holt {
            alpha: number(1, 0.3)?,
            beta: number(2, 0.1)?,
        },
        "stdDev" => MovingFunction::StdDev,
        _ => return Err(unknown()),
    })
}

/// The legacy `moving_avg`'s `model` and `settings`.
fn legacy_model(body: &Field<'_>) -> Result<MovingFunction, JsonError> {
    let setting = |name: &str, default: f64| {
        body.optional("settings")
            .and_then(|settings| settings.value().get(name).and_then(Value::as_f64))
            .unwrap_or(default)
    };
    let model = match body.optional("model").filter(|f| !f.is_null()) {
        Some(model) => model.string()?,
        None => "simple".to_owned(),
    };
    Ok(match model.as_str() {
        "simple" => MovingFunction::UnweightedAvg,
        "linear" => MovingFunction::LinearWeightedAvg,
        "ewma" => MovingFunction::Ewma {
            alpha: setting("alpha", 0.3),
        },
        "holt" => MovingFunction::Holt {
            alpha: setting("alpha", 0.3),
            beta: setting("beta", 0.1),
        },
        other => {
            return Err(body.invalid(format!(
                "moving_avg model [{other}] is not answered; use simple, linear, ewma or holt"
            )));
        }
    })
}

impl PipelineAgg {
    /// The buckets paths this pipeline reads.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            PipelineAgg::Derivative { path, .. }
            | PipelineAgg::CumulativeSum { path }
            | PipelineAgg::MovingFn { path, .. } => vec![path],
            PipelineAgg::BucketScript { variables, .. } => {
                variables.iter().map(|(_, path)| path.as_str()).collect()
            }
        }
    }

    /// The pipeline's answer in each of `inputs.len()` buckets, `None`
    /// where it has none. `inputs[b][i]` is bucket `b`'s value of path `i`
    /// of [`paths`](Self::paths); `bucket_millis` the histogram's interval.
    pub fn compute(
        &self,
        inputs: &[Vec<Option<f64>>],
        bucket_millis: Option<i64>,
    ) -> Vec<Option<Value>> {
        let series: Vec<Option<f64>> = inputs.iter().map(|values| values[0]).collect();
        match self {
            PipelineAgg::Derivative { unit, .. } => (0..series.len())
                .map(|b| {
                    let previous = series.get(b.checked_sub(1)?).copied().flatten()?;
                    let value = series[b]? - previous;
                    Some(match (unit, bucket_millis) {
                        (Some(unit), Some(bucket)) if bucket > 0 => json!({
                            "value": value,
                            "normalized_value": value * *unit as f64 / bucket as f64,
                        }),
                        _ => json!({"value": value}),
                    })
                })
                .collect(),
            PipelineAgg::CumulativeSum { .. } => {
                let mut total = 0.0;
                series
                    .iter()
                    .map(|value| {
                        total += value.unwrap_or(0.0);
                        Some(json!({"value": total}))
                    })
                    .collect()
            }
            PipelineAgg::MovingFn {
                window,
                shift,
                function,
                ..
            } => (0..series.len())
                .map(|b| {
                    let end = (b as i64 + shift).clamp(0, series.len() as i64) as usize;
                    let start = end.saturating_sub(*window);
                    let values: Vec<f64> = series[start..end].iter().flatten().copied().collect();
                    Some(json!({"value": function.apply(&values)}))
                })
                .collect(),
            PipelineAgg::BucketScript { variables, script } => inputs
                .iter()
                .map(|values| {
                    let mut context =
                        evalexpr::HashMapContext::<evalexpr::DefaultNumericTypes>::new();
                    for ((name, _), value) in variables.iter().zip(values) {
                        let value = (*value)?;
                        evalexpr::ContextWithMutableVariables::set_value(
                            &mut context,
                            name.clone(),
                            evalexpr::Value::Float(value),
                        )
                        .ok()?;
                    }
                    let result = evalexpr::eval_number_with_context(script, &context).ok()?;
                    result.is_finite().then(|| json!({"value": result}))
                })
                .collect(),
        }
    }
}

impl MovingFunction {
    /// The function over a window's values; null over no value.
    fn apply(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return match self {
                MovingFunction::Sum => Some(0.0),
                _ => None,
            };
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        Some(match self {
            MovingFunction::Max => values.iter().copied().fold(f64::MIN, f64::max),
            MovingFunction::Min => values.iter().copied().fold(f64::MAX, f64::min),
            MovingFunction::Sum => values.iter().sum(),
            MovingFunction::UnweightedAvg => mean,
            MovingFunction::LinearWeightedAvg => {
                let weights: f64 = (1..=values.len()).map(|w| w as f64).sum();
                values
                    .iter()
                    .enumerate()
                    .map(|(i, value)| value * (i + 1) as f64)
                    .sum::<f64>()
                    / weights
            }
            MovingFunction::Ewma { alpha } => {
                values.iter().skip(1).fold(values[0], |average, value| {
                    alpha * value + (1.0 - alpha) * average
                })
            }
            MovingFunction::Holt { alpha, beta } => {
                let mut level = values[0];
                let mut trend = 0.0;
                for (i, value) in values.iter().enumerate().skip(1) {
                    let last_level = level;
                    level = alpha * value + (1.0 - alpha) * (level + trend);
                    trend = if i == 1 {
                        level - last_level
                    } else {
                        beta * (level - last_level) + (1.0 - beta) * trend
                    };
                }
                level + trend
            }
            MovingFunction::StdDev => (values
                .iter()
                .map(|value| (value - mean).powi(2))
                .sum::<f64>()
                / n)
                .sqrt(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pipeline(type_name: &str, body: Value) -> PipelineAgg {
        parse(type_name, &Field::root(&body)).expect("parses")
    }

    fn values(outputs: Vec<Option<Value>>) -> Vec<Option<f64>> {
        outputs
            .into_iter()
            .map(|output| output.and_then(|value| value["value"].as_f64()))
            .collect()
    }

    fn column(series: &[Option<f64>]) -> Vec<Vec<Option<f64>>> {
        series.iter().map(|value| vec![*value]).collect()
    }

    #[test]
    fn derivative_cumulative_sum_and_moving_functions() {
        let series = column(&[Some(1.0), Some(4.0), None, Some(10.0), Some(12.0)]);
        let derivative = pipeline("derivative", json!({"buckets_path": "1"}));
        assert_eq!(
            values(derivative.compute(&series, Some(60_000))),
            [None, Some(3.0), None, None, Some(2.0)]
        );
        let per_second = pipeline("derivative", json!({"buckets_path": "1", "unit": "1s"}));
        assert_eq!(
            per_second.compute(&series, Some(60_000))[1],
            Some(json!({"value": 3.0, "normalized_value": 0.05}))
        );
        let sum = pipeline("cumulative_sum", json!({"buckets_path": "_count"}));
        assert_eq!(
            values(sum.compute(&series, None)),
            [Some(1.0), Some(5.0), Some(5.0), Some(15.0), Some(27.0)]
        );
        let average = pipeline(
            "moving_fn",
            json!({"buckets_path": "1", "window": 2, "script": "MovingFunctions.unweightedAvg(values)"}),
        );
        assert_eq!(
            values(average.compute(&series, None)),
            [None, Some(1.0), Some(2.5), Some(4.0), Some(10.0)]
        );
        let max = pipeline(
            "moving_fn",
            json!({"buckets_path": "1", "window": "3", "shift": 1, "script": {"source": "MovingFunctions.max(values)"}}),
        );
        assert_eq!(
            values(max.compute(&series, None)),
            [Some(1.0), Some(4.0), Some(4.0), Some(10.0), Some(12.0)]
        );
    }

    #[test]
    fn bucket_script_evaluates_its_parameters() {
        let script = pipeline(
            "bucket_script",
            json!({"buckets_path": {"errors": "2", "total": "_count"}, "script": "params.errors / params.total * 100"}),
        );
        let inputs = vec![
            vec![Some(5.0), Some(50.0)],
            vec![Some(1.0), Some(0.0)],
            vec![None, Some(3.0)],
        ];
        assert_eq!(
            values(script.compute(&inputs, None)),
            [Some(10.0), None, None]
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (type_name, body, expected) in [
            (
                "moving_fn",
                json!({"buckets_path": "1", "window": 0, "script": "MovingFunctions.max(values)"}),
                "window",
            ),
            (
                "moving_fn",
                json!({"buckets_path": "1", "window": 3, "script": "return values[0]"}),
                "is not one Strata runs",
            ),
            (
                "bucket_script",
                json!({"buckets_path": {"a": "1"}, "script": "(params.a + 1"}),
                "does not parse",
            ),
            ("derivative", json!({}), "buckets_path"),
        ] {
            let error = parse(type_name, &Field::root(&body))
                .expect_err("refused")
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}

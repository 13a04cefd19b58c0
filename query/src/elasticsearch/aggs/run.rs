//! Running an aggregation tree: one plan per bucket aggregation (see the
//! [module docs](super)), then the answer assembled bucket by bucket.
//!
//! Every bucket has a *path*: the keys of the buckets above it and its own
//! (a `terms` value, a `date_histogram` start, the index of a `filters`,
//! `range` or `histogram` bucket). A plan's rows carry the path of the
//! bucket they count; the answer is built top-down by looking up, for each
//! bucket, the rows of each sub-aggregation under its path. Buckets without
//! events come from no row: `filters` and `range` answer all their buckets,
//! histograms the empty ones between (or, with `extended_bounds`, around)
//! those with events, as Elasticsearch does with `min_doc_count: 0`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use strata_storage::granularity::Granularity;
use strata_storage::time::{Interval, Millis};

use super::metric::{MetricAgg, MetricValues};
use super::{
    AggKind, AggRequest, BucketAgg, DateHistogram, Histogram, MAX_BUCKETS, OrderBy, Terms,
};
use crate::elasticsearch::error::EsError;
use crate::elasticsearch::query_dsl::{QueryLowering, all_of, any_of};
use crate::plan::{
    AggregateFunction, AggregatePlan, Aggregation, Filter, GroupKey, KeyValue, QueryPlan,
    RangeBound, RangeOrdering, ResultRow, ResultValue,
};
use crate::snapshot::QueryError;

/// The most buckets a `histogram` may cut its field into: each is one plan.
const MAX_HISTOGRAM_BUCKETS: usize = 200;

/// Runs aggregate plans: a snapshot within a query's limits, or a test's
/// tables.
pub trait PlanRunner {
    fn aggregate(&self, plan: &QueryPlan) -> Result<Vec<ResultRow>, QueryError>;
}

/// What the aggregations run over: the search's datasource, intervals and
/// query.
pub struct AggScope<'a> {
    pub lowering: &'a QueryLowering<'a>,
    pub datasource: &'a str,
    pub intervals: &'a [Interval],
    pub filter: Option<&'a Filter>,
    pub runner: &'a dyn PlanRunner,
}

/// The answer: the `aggregations` object, and the events the query
/// matched when a plan counted them all on the way.
pub struct AggAnswer {
    pub aggregations: Map<String, Value>,
    pub total: Option<u64>,
}

/// One part of a bucket's path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PathPart {
    /// A `terms` value as text; null for events without the field.
    Key(Option<String>),
    /// A `date_histogram` bucket's start.
    Time(Millis),
    /// A `filters` or `range` bucket's index.
    Bucket(usize),
    /// A `histogram` bucket: its key is `step × interval + offset`.
    Step(i64),
}

type Path = Vec<PathPart>;

/// Where a row's path parts come from, ancestor by ancestor.
#[derive(Debug, Clone)]
enum PartSource {
    /// Group key `i` of the row.
    Key(usize),
    /// The row's time bucket.
    Time,
    /// Fixed for the whole plan: the filter bucket it runs for.
    Fixed(PathPart),
}

/// The buckets above a bucket aggregation, as its plan must respect them.
#[derive(Debug, Clone, Default)]
struct Context {
    filters: Vec<Filter>,
    group_by: Vec<GroupKey>,
    granularity: Option<Granularity>,
    parts: Vec<PartSource>,
}

/// One bucket with events.
#[derive(Debug, Clone)]
struct BucketRow {
    doc_count: i64,
    /// The plan row's values: `doc_count`, the metrics' aggregations, then
    /// their post-aggregations.
    values: Vec<ResultValue>,
    /// A terms bucket's key as the row gave it (a number stays a number).
    key: KeyValue,
}

/// Where each metric's values lie in a plan row.
#[derive(Debug, Clone)]
struct MetricLayout {
    aggregations: std::ops::Range<usize>,
    posts: std::ops::Range<usize>,
}

/// The rows of one bucket aggregation, by the path of the bucket above.
#[derive(Debug, Default)]
struct LevelRows {
    by_parent: HashMap<Path, Vec<(PathPart, BucketRow)>>,
    /// Sub-aggregations' rows, by child index among the node's children.
    children: HashMap<usize, LevelRows>,
    layouts: Vec<MetricLayout>,
    /// Events counted in the buckets (at the top, `hits.total`).
    counted: i64,
    /// A `terms`' events in the buckets its `size` cut, by parent path.
    others: HashMap<Path, i64>,
}

/// Runs `aggs` over `scope`.
pub fn run(aggs: &[AggRequest], scope: &AggScope<'_>) -> Result<AggAnswer, EsError> {
    let runner = Runner { scope };
    let root = Context::default();
    let (root_rows, root_layouts) = runner.metrics_plan(aggs, &root)?;
    let mut levels = HashMap::new();
    for (i, agg) in aggs.iter().enumerate() {
        if let AggKind::Bucket(bucket) = &agg.kind {
            let mut level = LevelRows::default();
            runner.bucket_level(agg, bucket, &root, &mut level)?;
            levels.insert(i, level);
        }
    }
    let total = match (&root_rows, aggs.iter().position(is_date_histogram)) {
        (Some(row), _) => Some(count_of(&row.values)),
        (None, Some(i)) => Some(levels[&i].counted),
        _ => None,
    };
    if let Some(pipeline) = aggs
        .iter()
        .find(|agg| matches!(agg.kind, AggKind::Pipeline(_)))
    {
        return Err(EsError::illegal_argument(format!(
            "[{}]: a pipeline aggregation goes under the date_histogram or histogram whose buckets it reads",
            pipeline.name
        )));
    }
    let values: &[ResultValue] = root_rows.as_ref().map_or(&[], |row| row.values.as_slice());
    let aggregations = render_aggs(aggs, &levels, &root_layouts, values, &Vec::new())?;
    Ok(AggAnswer {
        aggregations,
        total: total.map(|count| u64::try_from(count).unwrap_or(0)),
    })
}

fn is_date_histogram(agg: &AggRequest) -> bool {
    matches!(agg.kind, AggKind::Bucket(BucketAgg::DateHistogram(_)))
}

fn count_of(values: &[ResultValue]) -> i64 {
    match values.first() {
        Some(ResultValue::Long(count)) => *count,
        _ => 0,
    }
}

struct Runner<'s, 'a> {
    scope: &'s AggScope<'a>,
}

impl Runner<'_, '_> {
    /// The plan over `context` grouping by `group_by` in `granularity`,
    /// counting events and computing `metrics`.
    fn plan(
        &self,
        context: &Context,
        extra_filter: Option<&Filter>,
        group_by: Vec<GroupKey>,
        granularity: Granularity,
        metrics: &[(&str, &MetricAgg)],
    ) -> (QueryPlan, Vec<MetricLayout>) {
        let mut aggregations = vec![Aggregation {
            name: "doc_count".to_owned(),
            function: AggregateFunction::Count,
        }];
        let mut post_aggregations = Vec::new();
        let mut parts = Vec::new();
        for (i, (_, metric)) in metrics.iter().enumerate() {
            let lowered = metric.lower(&i.to_string(), self.scope.lowering);
            parts.push((
                aggregations.len(),
                lowered.aggregations.len(),
                post_aggregations.len(),
                lowered.post_aggregations.len(),
            ));
            aggregations.extend(lowered.aggregations);
            post_aggregations.extend(lowered.post_aggregations);
        }
        let posts_start = aggregations.len();
        let layouts = parts
            .into_iter()
            .map(|(start, length, post_start, post_length)| MetricLayout {
                aggregations: start..start + length,
                posts: posts_start + post_start..posts_start + post_start + post_length,
            })
            .collect();
        let mut filters: Vec<Filter> = self.scope.filter.cloned().into_iter().collect();
        filters.extend(context.filters.iter().cloned());
        filters.extend(extra_filter.cloned());
        let filter = match all_of(filters) {
            Filter::And(parts) if parts.is_empty() => None,
            filter => Some(filter),
        };
        let plan = QueryPlan {
            datasource: self.scope.datasource.to_owned(),
            intervals: self.scope.intervals.to_vec(),
            filter,
            aggregate: AggregatePlan {
                granularity,
                group_by,
                aggregations,
                post_aggregations,
                zero_fill: false,
                having: None,
                grand_total: false,
            },
        };
        (plan, layouts)
    }

    fn execute(&self, plan: &QueryPlan) -> Result<Vec<ResultRow>, EsError> {
        self.scope
            .runner
            .aggregate(plan)
            .map_err(EsError::from_query)
    }

    /// The metrics directly among `aggs` at the top, computed over every
    /// event the query matches (and counting them); `None` without any.
    fn metrics_plan(
        &self,
        aggs: &[AggRequest],
        context: &Context,
    ) -> Result<(Option<BucketRow>, Vec<MetricLayout>), EsError> {
        let metrics = metrics_of(aggs);
        if metrics.is_empty() {
            return Ok((None, Vec::new()));
        }
        let (plan, layouts) = self.plan(context, None, Vec::new(), Granularity::All, &metrics);
        let rows = self.execute(&plan)?;
        let row = rows.into_iter().next().map(|row| BucketRow {
            doc_count: count_of(&row.values),
            values: row.values,
            key: KeyValue::Null,
        });
        Ok((row, layouts))
    }

    /// Runs bucket aggregation `agg` under `context`, adding its rows (and
    /// its sub-aggregations') to `level`.
    fn bucket_level(
        &self,
        agg: &AggRequest,
        bucket: &BucketAgg,
        context: &Context,
        level: &mut LevelRows,
    ) -> Result<(), EsError> {
        let metrics = metrics_of(&agg.children);
        match bucket {
            BucketAgg::Terms(terms) => self.terms_level(agg, terms, context, &metrics, level),
            BucketAgg::DateHistogram(histogram) => {
                if context.granularity.is_some() {
                    return Err(EsError::illegal_argument(format!(
                        "[{}]: a date_histogram under another date_histogram is not answered",
                        agg.name
                    )));
                }
                let granularity = histogram.granularity;
                let (plan, layouts) = self.plan(
                    context,
                    None,
                    context.group_by.clone(),
                    granularity,
                    &metrics,
                );
                level.layouts = layouts;
                for row in self.execute(&plan)? {
                    let part = PathPart::Time(row.timestamp);
                    self.add_row(level, context, row, part);
                }
                let mut child = context.clone();
                child.granularity = Some(granularity);
                child.parts.push(PartSource::Time);
                self.children(agg, &child, level)
            }
            BucketAgg::Filters {
                buckets,
                other_bucket,
                ..
            } => {
                let mut filters: Vec<Filter> =
                    buckets.iter().map(|(_, filter)| filter.clone()).collect();
                if other_bucket.is_some() {
                    filters.push(Filter::Not(Box::new(any_of(filters.clone()))));
                }
                let buckets = filters
                    .into_iter()
                    .enumerate()
                    .map(|(i, filter)| (PathPart::Bucket(i), filter))
                    .collect();
                self.filter_buckets(agg, buckets, context, &metrics, level)
            }
            BucketAgg::Range { field, ranges, .. } => {
                let buckets = ranges
                    .iter()
                    .enumerate()
                    .map(|(i, range)| {
                        (
                            PathPart::Bucket(i),
                            numeric_range(&field.column, range.from, range.to),
                        )
                    })
                    .collect();
                self.filter_buckets(agg, buckets, context, &metrics, level)
            }
            BucketAgg::Histogram(histogram) => {
                let buckets = self.histogram_buckets(agg, histogram, context)?;
                self.filter_buckets(agg, buckets, context, &metrics, level)
            }
        }
    }

    fn terms_level(
        &self,
        agg: &AggRequest,
        terms: &Terms,
        context: &Context,
        metrics: &[(&str, &MetricAgg)],
        level: &mut LevelRows,
    ) -> Result<(), EsError> {
        let mut group_by = context.group_by.clone();
        group_by.push(GroupKey {
            column: terms.field.column.clone(),
            output_name: format!("{}#{}", terms.field.column, group_by.len()),
        });
        let granularity = context.granularity.unwrap_or(Granularity::All);
        let (plan, layouts) = self.plan(context, None, group_by, granularity, metrics);
        level.layouts = layouts.clone();
        let key_index = context.group_by.len();
        let mut by_parent: HashMap<Path, Vec<(PathPart, BucketRow)>> = HashMap::new();
        for row in self.execute(&plan)? {
            let parent = parent_path(context, &row);
            let key = row.keys.get(key_index).cloned().unwrap_or(KeyValue::Null);
            let (text, key) = match (key.text(), &terms.missing) {
                (Some(text), _) => (Some(text), key),
                (None, Some(missing)) => (Some(missing.clone()), KeyValue::String(missing.clone())),
                (None, None) => continue,
            };
            level.counted += count_of(&row.values);
            by_parent.entry(parent).or_default().push((
                PathPart::Key(text),
                BucketRow {
                    doc_count: count_of(&row.values),
                    values: row.values,
                    key,
                },
            ));
        }
        let mut chosen: Vec<Option<String>> = Vec::new();
        let mut others = HashMap::new();
        for (parent, buckets) in by_parent.iter_mut() {
            merge_equal_keys(buckets);
            buckets.retain(|(_, row)| row.doc_count as u64 >= terms.min_doc_count.max(1));
            sort_terms(buckets, terms, metrics, &layouts).map_err(|message| {
                EsError::illegal_argument(format!("[{}]: {message}", agg.name))
            })?;
            let cut: i64 = buckets
                .iter()
                .skip(terms.size)
                .map(|(_, row)| row.doc_count)
                .sum();
            buckets.truncate(terms.size);
            others.insert(parent.clone(), cut);
            for (part, _) in buckets.iter() {
                if let PathPart::Key(key) = part
                    && !chosen.contains(key)
                {
                    chosen.push(key.clone());
                }
            }
        }
        for (parent, buckets) in by_parent {
            level.by_parent.entry(parent).or_default().extend(buckets);
        }
        level.others.extend(others);
        let mut child = context.clone();
        child.group_by.push(GroupKey {
            column: terms.field.column.clone(),
            output_name: format!("{}#{}", terms.field.column, key_index),
        });
        child.parts.push(PartSource::Key(key_index));
        if terms.missing.is_none() {
            child.filters.push(Filter::In {
                column: terms.field.column.clone(),
                values: chosen,
            });
        }
        self.children(agg, &child, level)
    }

    /// A bucket per filter: each its own plan, and its sub-aggregations
    /// under it.
    fn filter_buckets(
        &self,
        agg: &AggRequest,
        buckets: Vec<(PathPart, Filter)>,
        context: &Context,
        metrics: &[(&str, &MetricAgg)],
        level: &mut LevelRows,
    ) -> Result<(), EsError> {
        for (part, filter) in buckets {
            let granularity = context.granularity.unwrap_or(Granularity::All);
            let (plan, layouts) = self.plan(
                context,
                Some(&filter),
                context.group_by.clone(),
                granularity,
                metrics,
            );
            level.layouts = layouts;
            for row in self.execute(&plan)? {
                self.add_row(level, context, row, part.clone());
            }
            let mut child = context.clone();
            child.filters.push(filter);
            child.parts.push(PartSource::Fixed(part));
            self.children(agg, &child, level)?;
        }
        Ok(())
    }

    /// A histogram's buckets as numeric ranges over the field's values in
    /// `context`: from the bucket of the least value to that of the
    /// greatest (and the extended bounds).
    fn histogram_buckets(
        &self,
        agg: &AggRequest,
        histogram: &Histogram,
        context: &Context,
    ) -> Result<Vec<(PathPart, Filter)>, EsError> {
        let column = histogram.field.column.clone();
        let mut plan = self
            .plan(context, None, Vec::new(), Granularity::All, &[])
            .0;
        plan.aggregate.aggregations = ["min", "max"]
            .into_iter()
            .map(|name| Aggregation {
                name: name.to_owned(),
                function: if name == "min" {
                    AggregateFunction::Min {
                        column: column.clone(),
                        number: crate::plan::NumberType::Double,
                    }
                } else {
                    AggregateFunction::Max {
                        column: column.clone(),
                        number: crate::plan::NumberType::Double,
                    }
                },
            })
            .collect();
        let rows = self.execute(&plan)?;
        let bounds = rows
            .first()
            .and_then(|row| Some((row.values.first()?.as_f64()?, row.values.get(1)?.as_f64()?)));
        let (mut low, mut high) = match bounds {
            Some(bounds) => bounds,
            None => match histogram.extended_bounds {
                Some(bounds) => bounds,
                None => return Ok(Vec::new()),
            },
        };
        if let Some((min, max)) = histogram.extended_bounds {
            low = low.min(min);
            high = high.max(max);
        }
        let (first, last) = (histogram.step(low), histogram.step(high));
        let count = usize::try_from(last.saturating_sub(first))
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        if count > MAX_HISTOGRAM_BUCKETS {
            return Err(EsError::illegal_argument(format!(
                "[{}]: the histogram would have {count} buckets; Strata answers at most {MAX_HISTOGRAM_BUCKETS} (raise the interval)",
                agg.name
            )));
        }
        Ok((first..=last)
            .map(|step| {
                let start = histogram.key(step);
                (
                    PathPart::Step(step),
                    numeric_range(&column, Some(start), Some(histogram.key(step + 1))),
                )
            })
            .collect())
    }

    fn add_row(&self, level: &mut LevelRows, context: &Context, row: ResultRow, part: PathPart) {
        let parent = parent_path(context, &row);
        let doc_count = count_of(&row.values);
        level.counted += doc_count;
        level.by_parent.entry(parent).or_default().push((
            part,
            BucketRow {
                doc_count,
                values: row.values,
                key: KeyValue::Null,
            },
        ));
    }

    fn children(
        &self,
        agg: &AggRequest,
        context: &Context,
        level: &mut LevelRows,
    ) -> Result<(), EsError> {
        for (i, child) in agg.children.iter().enumerate() {
            if let AggKind::Bucket(bucket) = &child.kind {
                let mut rows = level.children.remove(&i).unwrap_or_default();
                self.bucket_level(child, bucket, context, &mut rows)?;
                level.children.insert(i, rows);
            }
        }
        Ok(())
    }
}

/// The metrics directly among `aggs`, with their names, in order.
fn metrics_of(aggs: &[AggRequest]) -> Vec<(&str, &MetricAgg)> {
    aggs.iter()
        .filter_map(|agg| match &agg.kind {
            AggKind::Metric(metric) => Some((agg.name.as_str(), metric)),
            _ => None,
        })
        .collect()
}

fn parent_path(context: &Context, row: &ResultRow) -> Path {
    context
        .parts
        .iter()
        .map(|source| match source {
            PartSource::Key(i) => PathPart::Key(row.keys.get(*i).and_then(KeyValue::text)),
            PartSource::Time => PathPart::Time(row.timestamp),
            PartSource::Fixed(part) => part.clone(),
        })
        .collect()
}

/// `[from, to)` of a number column.
fn numeric_range(column: &str, from: Option<f64>, to: Option<f64>) -> Filter {
    let bound = |value: Option<f64>, strict| {
        value.map(|value| RangeBound {
            value: value.to_string(),
            strict,
        })
    };
    Filter::Range {
        column: column.to_owned(),
        lower: bound(from, false),
        upper: bound(to, true),
        ordering: RangeOrdering::Numeric,
    }
}

/// A `missing` key equal to a real one makes one bucket: counts add (the
/// metrics of the first are kept, as the missing events are few).
fn merge_equal_keys(buckets: &mut Vec<(PathPart, BucketRow)>) {
    let mut seen: HashMap<PathPart, usize> = HashMap::new();
    let mut merged: Vec<(PathPart, BucketRow)> = Vec::with_capacity(buckets.len());
    for (part, row) in buckets.drain(..) {
        match seen.get(&part) {
            Some(&i) => merged[i].1.doc_count += row.doc_count,
            None => {
                seen.insert(part.clone(), merged.len());
                merged.push((part, row));
            }
        }
    }
    *buckets = merged;
}

fn sort_terms(
    buckets: &mut [(PathPart, BucketRow)],
    terms: &Terms,
    metrics: &[(&str, &MetricAgg)],
    layouts: &[MetricLayout],
) -> Result<(), String> {
    let mut sort_values: Vec<Vec<Option<f64>>> = Vec::with_capacity(buckets.len());
    for (_, row) in buckets.iter() {
        let mut values = Vec::new();
        for order in &terms.order {
            if let OrderBy::Metric(path) = &order.by {
                values.push(metric_value(path, metrics, layouts, &row.values)?);
            }
        }
        sort_values.push(values);
    }
    let mut order: Vec<usize> = (0..buckets.len()).collect();
    order.sort_by(|&a, &b| {
        let mut metric_at = 0;
        for term_order in &terms.order {
            let ordering = match &term_order.by {
                OrderBy::Count => buckets[a].1.doc_count.cmp(&buckets[b].1.doc_count),
                OrderBy::Key => compare_keys(&buckets[a].1.key, &buckets[b].1.key),
                OrderBy::Metric(_) => {
                    let (x, y) = (sort_values[a][metric_at], sort_values[b][metric_at]);
                    metric_at += 1;
                    // A bucket without the value sorts last either way.
                    match (x, y) {
                        (Some(x), Some(y)) => x.total_cmp(&y),
                        (Some(_), None) => return std::cmp::Ordering::Less,
                        (None, Some(_)) => return std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    }
                }
            };
            let ordering = if term_order.ascending {
                ordering
            } else {
                ordering.reverse()
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
        compare_keys(&buckets[a].1.key, &buckets[b].1.key)
    });
    let sorted: Vec<(PathPart, BucketRow)> = order.iter().map(|&i| buckets[i].clone()).collect();
    for (slot, bucket) in buckets.iter_mut().zip(sorted) {
        *slot = bucket;
    }
    Ok(())
}

/// Numbers by value, anything else by text.
fn compare_keys(a: &KeyValue, b: &KeyValue) -> std::cmp::Ordering {
    match (a, b) {
        (KeyValue::Long(x), KeyValue::Long(y)) => x.cmp(y),
        (KeyValue::Double(x), KeyValue::Double(y)) => x.total_cmp(y),
        (x, y) => x.text().cmp(&y.text()),
    }
}

/// The values of metric `k` of a row (empty slices for a bucket without
/// events).
fn metric_slices<'v>(
    layouts: &[MetricLayout],
    k: usize,
    values: &'v [ResultValue],
) -> MetricValues<'v> {
    match layouts.get(k) {
        Some(layout) if !values.is_empty() => (
            values.get(layout.aggregations.clone()).unwrap_or(&[]),
            values.get(layout.posts.clone()).unwrap_or(&[]),
        ),
        _ => (&[], &[]),
    }
}

/// The value of a metric named by `path` (`"1"`, `"1.value"`, `"s.max"`,
/// `"p[99.0]"`) among `metrics` of one row.
fn metric_value(
    path: &str,
    metrics: &[(&str, &MetricAgg)],
    layouts: &[MetricLayout],
    values: &[ResultValue],
) -> Result<Option<f64>, String> {
    let (name, part) = split_path(path);
    let k = metrics
        .iter()
        .position(|(metric, _)| *metric == name)
        .ok_or_else(|| {
            format!(
                "no metric [{name}] to order or compute by among the aggregations beside it; name one of {}",
                metrics.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
            )
        })?;
    metrics[k].1.value(part, metric_slices(layouts, k, values))
}

/// `name`, `name.part`, `name[part]`.
fn split_path(path: &str) -> (&str, Option<&str>) {
    if let Some((name, rest)) = path.split_once('[') {
        return (name, Some(rest.trim_end_matches(']')));
    }
    match path.split_once('.') {
        Some((name, part)) => (name, Some(part)),
        None => (path, None),
    }
}

/// The answers of `aggs` inside one bucket (or at the top): its metrics
/// from `values`, its bucket aggregations from their rows under `path`.
/// Pipelines are computed by the bucket list around (see [`render_buckets`]).
fn render_aggs(
    aggs: &[AggRequest],
    levels: &HashMap<usize, LevelRows>,
    layouts: &[MetricLayout],
    values: &[ResultValue],
    path: &Path,
) -> Result<Map<String, Value>, EsError> {
    let mut answer = Map::new();
    let mut metric_index = 0;
    for (i, agg) in aggs.iter().enumerate() {
        match &agg.kind {
            AggKind::Metric(metric) => {
                answer.insert(
                    agg.name.clone(),
                    metric.render(metric_slices(layouts, metric_index, values)),
                );
                metric_index += 1;
            }
            AggKind::Bucket(bucket) => {
                let level = levels.get(&i).expect("every bucket aggregation ran");
                answer.insert(agg.name.clone(), render_buckets(agg, bucket, level, path)?);
            }
            AggKind::Pipeline(_) => {}
        }
    }
    Ok(answer)
}

/// One bucket of a list: its path part, and its row when it has events.
type Entry<'r> = (PathPart, Option<&'r BucketRow>);

/// A bucket aggregation's answer under the bucket at `parent`.
fn render_buckets(
    agg: &AggRequest,
    bucket: &BucketAgg,
    level: &LevelRows,
    parent: &Path,
) -> Result<Value, EsError> {
    let rows: &[(PathPart, BucketRow)] = level.by_parent.get(parent).map_or(&[], Vec::as_slice);
    let entries: Vec<Entry<'_>> = match bucket {
        BucketAgg::Terms(_) => rows
            .iter()
            .map(|(part, row)| (part.clone(), Some(row)))
            .collect(),
        BucketAgg::DateHistogram(histogram) => histogram_entries(agg, histogram, rows)?,
        BucketAgg::Filters {
            buckets,
            other_bucket,
            ..
        } => {
            let count = buckets.len() + usize::from(other_bucket.is_some());
            indexed_entries(rows, count, 0)
        }
        BucketAgg::Range { ranges, .. } => indexed_entries(rows, ranges.len(), 0),
        BucketAgg::Histogram(histogram) => step_entries(histogram, rows),
    };
    if entries.len() > MAX_BUCKETS {
        return Err(EsError::too_many_buckets(&agg.name, entries.len()));
    }
    let metrics = metrics_of(&agg.children);
    let mut buckets = Vec::with_capacity(entries.len());
    for (part, row) in &entries {
        let mut path = parent.clone();
        path.push(part.clone());
        let values: &[ResultValue] = row.map_or(&[], |row| row.values.as_slice());
        let mut answer = bucket_key(bucket, part, *row);
        answer.insert(
            "doc_count".to_owned(),
            json!(row.map_or(0, |row| row.doc_count)),
        );
        answer.extend(render_aggs(
            &agg.children,
            &level.children,
            &level.layouts,
            values,
            &path,
        )?);
        buckets.push(answer);
    }
    add_pipelines(agg, bucket, &metrics, level, &entries, &mut buckets)?;
    Ok(match bucket {
        BucketAgg::Filters {
            buckets: named,
            keyed: true,
            other_bucket,
        } => {
            let names = named
                .iter()
                .map(|(name, _)| name.clone())
                .chain(other_bucket.clone());
            json!({"buckets": names.zip(buckets).map(|(name, bucket)| (name, Value::Object(bucket))).collect::<Map<_, _>>()})
        }
        BucketAgg::Range { keyed: true, .. } => {
            let keyed: Map<String, Value> = buckets
                .into_iter()
                .map(|mut bucket| {
                    let key = bucket
                        .remove("key")
                        .and_then(|key| key.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (key, Value::Object(bucket))
                })
                .collect();
            json!({"buckets": keyed})
        }
        BucketAgg::Terms(_) => json!({
            "doc_count_error_upper_bound": 0,
            "sum_other_doc_count": level.others.get(parent).copied().unwrap_or(0),
            "buckets": buckets,
        }),
        _ => json!({"buckets": buckets}),
    })
}

/// A date histogram's buckets in time order; with `min_doc_count: 0`, the
/// empty ones between the first and the last with events, and over the
/// extended bounds.
fn histogram_entries<'r>(
    agg: &AggRequest,
    histogram: &DateHistogram,
    rows: &'r [(PathPart, BucketRow)],
) -> Result<Vec<Entry<'r>>, EsError> {
    let mut by_time: Vec<(Millis, &BucketRow)> = rows
        .iter()
        .filter_map(|(part, row)| match part {
            PathPart::Time(time) => Some((*time, row)),
            _ => None,
        })
        .collect();
    by_time.sort_by_key(|(time, _)| *time);
    if histogram.min_doc_count > 0 {
        return Ok(by_time
            .into_iter()
            .filter(|(_, row)| row.doc_count as u64 >= histogram.min_doc_count)
            .map(|(time, row)| (PathPart::Time(time), Some(row)))
            .collect());
    }
    let granularity = histogram.granularity;
    let mut first = by_time.first().map(|(time, _)| *time);
    let mut last = by_time.last().map(|(time, _)| *time);
    if let Some((min, max)) = histogram.extended_bounds {
        first = Some(first.map_or(granularity.truncate(min), |first| {
            first.min(granularity.truncate(min))
        }));
        last = Some(last.map_or(granularity.truncate(max), |last| {
            last.max(granularity.truncate(max))
        }));
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Vec::new());
    };
    let span =
        Interval::new(first, granularity.next_bucket_start(last)).unwrap_or(Interval::ETERNITY);
    let rows: HashMap<Millis, &BucketRow> = by_time.into_iter().collect();
    let mut entries = Vec::new();
    for bucket in granularity.buckets(span) {
        if entries.len() >= MAX_BUCKETS {
            return Err(EsError::too_many_buckets(&agg.name, entries.len() + 1));
        }
        let start = bucket.start();
        entries.push((PathPart::Time(start), rows.get(&start).copied()));
    }
    Ok(entries)
}

/// Buckets `0..count` of a filter-like aggregation; with a
/// `min_doc_count`, only those with that many events.
fn indexed_entries(
    rows: &[(PathPart, BucketRow)],
    count: usize,
    min_doc_count: u64,
) -> Vec<Entry<'_>> {
    let by_index: HashMap<usize, &BucketRow> = rows
        .iter()
        .filter_map(|(part, row)| match part {
            PathPart::Bucket(i) => Some((*i, row)),
            _ => None,
        })
        .collect();
    (0..count)
        .map(|i| (PathPart::Bucket(i), by_index.get(&i).copied()))
        .filter(|(_, row)| row.map_or(0, |row| row.doc_count) as u64 >= min_doc_count)
        .collect()
}

/// A histogram's buckets by key; with `min_doc_count: 0`, the empty ones
/// between the first and the last with events, and over the extended
/// bounds.
fn step_entries<'r>(histogram: &Histogram, rows: &'r [(PathPart, BucketRow)]) -> Vec<Entry<'r>> {
    let by_step: HashMap<i64, &BucketRow> = rows
        .iter()
        .filter_map(|(part, row)| match part {
            PathPart::Step(step) => Some((*step, row)),
            _ => None,
        })
        .collect();
    if histogram.min_doc_count > 0 {
        let mut steps: Vec<i64> = by_step
            .iter()
            .filter(|(_, row)| row.doc_count as u64 >= histogram.min_doc_count)
            .map(|(step, _)| *step)
            .collect();
        steps.sort_unstable();
        return steps
            .into_iter()
            .map(|step| (PathPart::Step(step), by_step.get(&step).copied()))
            .collect();
    }
    let mut first = by_step.keys().min().copied();
    let mut last = by_step.keys().max().copied();
    if let Some((min, max)) = histogram.extended_bounds {
        let (min, max) = (histogram.step(min), histogram.step(max));
        first = Some(first.map_or(min, |first| first.min(min)));
        last = Some(last.map_or(max, |last| last.max(max)));
    }
    match (first, last) {
        (Some(first), Some(last)) => (first..=last)
            .map(|step| (PathPart::Step(step), by_step.get(&step).copied()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The members that say which bucket this is: `key`, `key_as_string`,
/// `from`, `to`.
fn bucket_key(bucket: &BucketAgg, part: &PathPart, row: Option<&BucketRow>) -> Map<String, Value> {
    let mut answer = Map::new();
    match (bucket, part) {
        (BucketAgg::Terms(_), PathPart::Key(key)) => {
            let key = match row.map(|row| &row.key) {
                Some(KeyValue::Long(value)) => json!(value),
                Some(KeyValue::Double(value)) => json!(value),
                _ => json!(key),
            };
            answer.insert("key".to_owned(), key);
        }
        (BucketAgg::DateHistogram(histogram), PathPart::Time(time)) => {
            answer.insert(
                "key_as_string".to_owned(),
                json!(histogram.format.format(*time, histogram.zone)),
            );
            answer.insert("key".to_owned(), json!(time));
        }
        (BucketAgg::Histogram(histogram), PathPart::Step(step)) => {
            answer.insert("key".to_owned(), json!(histogram.key(*step)));
        }
        (BucketAgg::Range { ranges, .. }, PathPart::Bucket(i)) => {
            if let Some(range) = ranges.get(*i) {
                let end =
                    |value: Option<f64>| value.map_or("*".to_owned(), |value| format!("{value:?}"));
                let key = range
                    .key
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}", end(range.from), end(range.to)));
                answer.insert("key".to_owned(), json!(key));
                if let Some(from) = range.from {
                    answer.insert("from".to_owned(), json!(from));
                }
                if let Some(to) = range.to {
                    answer.insert("to".to_owned(), json!(to));
                }
            }
        }
        _ => {}
    }
    answer
}

/// Computes the pipelines among `agg`'s children over its bucket list, in
/// the order they are named, each seeing the pipelines before it.
fn add_pipelines(
    agg: &AggRequest,
    bucket: &BucketAgg,
    metrics: &[(&str, &MetricAgg)],
    level: &LevelRows,
    entries: &[Entry<'_>],
    buckets: &mut [Map<String, Value>],
) -> Result<(), EsError> {
    let interval = match bucket {
        BucketAgg::DateHistogram(histogram) => Some(histogram.interval.approximate_millis()),
        _ => None,
    };
    for child in &agg.children {
        let AggKind::Pipeline(pipeline) = &child.kind else {
            continue;
        };
        let inputs = entries
            .iter()
            .zip(buckets.iter())
            .map(|((_, row), answer)| {
                pipeline
                    .paths()
                    .into_iter()
                    .map(|path| pipeline_input(path, metrics, level, *row, answer))
                    .collect::<Result<Vec<_>, String>>()
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|message| EsError::illegal_argument(format!("[{}]: {message}", child.name)))?;
        for (answer, output) in buckets.iter_mut().zip(pipeline.compute(&inputs, interval)) {
            if let Some(output) = output {
                answer.insert(child.name.clone(), output);
            }
        }
    }
    Ok(())
}

/// One buckets path's value in one bucket: `_count`, a metric (or a part of
/// one), or a pipeline computed before.
fn pipeline_input(
    path: &str,
    metrics: &[(&str, &MetricAgg)],
    level: &LevelRows,
    row: Option<&BucketRow>,
    answer: &Map<String, Value>,
) -> Result<Option<f64>, String> {
    if path == "_count" {
        return Ok(Some(row.map_or(0, |row| row.doc_count) as f64));
    }
    let (name, part) = split_path(path);
    if metrics.iter().any(|(metric, _)| *metric == name) {
        let values: &[ResultValue] = row.map_or(&[], |row| row.values.as_slice());
        return metric_value(path, metrics, &level.layouts, values);
    }
    match answer.get(name) {
        Some(value) => Ok(value.get(part.unwrap_or("value")).and_then(Value::as_f64)),
        // A pipeline absent from a bucket (a derivative's first) is a gap.
        None => Ok(None),
    }
}

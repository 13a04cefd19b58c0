//! Druid's native JSON queries, lowered into the [logical plan](crate::plan).
//!
//! `POST /druid/v2` takes a Druid query object; this module reads it into a
//! [`DruidQuery`] — a [`QueryPlan`] plus what Druid's answer needs beyond it
//! (the query type, topN's threshold and metric, groupBy's limit spec) — and
//! renders the executor's rows back in Druid's response shape, so that
//! Druid's own clients (pydruid, Superset, Grafana's Druid plugin) work
//! unchanged.
//!
//! Supported so far: `timeseries`, `topN` and `groupBy` over one table
//! datasource, with the filters of [`filter`] and the aggregators and
//! post-aggregators of [`aggregation`], groupBy's having specs of
//! [`having`]; `scan` ([`scan`]); `search` ([`search`]); and the metadata queries
//! `timeBoundary`, `dataSourceMetadata` and `segmentMetadata`
//! ([`DruidRequest`], [`crate::segment_metadata`]). Anything else
//! is refused with a message that names the field and what is supported.
//!
//! How a query is to be run — its `queryId`, `timeout` and memory budget —
//! is read from its `context` apart from the query itself ([`context`]).

pub mod aggregation;
pub mod context;
pub mod filter;
pub mod having;
pub mod json;
pub mod response;
pub mod scan;
pub mod search;

use serde_json::Value;
use strata_storage::granularity::Granularity;
use strata_storage::time::{Interval, parse_iso_interval};

use crate::plan::{AggregatePlan, Filter, GroupKey, QueryPlan, SearchPlan};
use crate::segment_metadata::SegmentMetadataQuery;
use json::{Field, JsonError};
pub use scan::{ScanQuery, ScanResultFormat};

/// Any query `POST /druid/v2` takes.
#[derive(Debug, Clone, PartialEq)]
pub enum DruidRequest {
    /// `timeseries`, `topN`, `groupBy`: a plan to execute.
    Aggregate(Box<DruidQuery>),
    /// `timeBoundary`: the earliest and latest event times, of the events
    /// `filter` selects when it has one.
    TimeBoundary {
        datasource: String,
        bound: TimeBound,
        filter: Option<Filter>,
    },
    /// `dataSourceMetadata`: the latest event time ingested.
    DataSourceMetadata { datasource: String },
    /// `scan`: the selected rows themselves.
    Scan(Box<ScanQuery>),
    /// `search`: the dimension values matching a text, with their counts.
    Search(Box<SearchPlan>),
    /// `segmentMetadata`: what each published segment holds.
    SegmentMetadata(Box<SegmentMetadataQuery>),
}

/// Which ends `timeBoundary` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    Both,
    MinTime,
    MaxTime,
}

impl DruidRequest {
    pub fn datasource(&self) -> &str {
        match self {
            DruidRequest::Aggregate(query) => &query.plan.datasource,
            DruidRequest::Scan(query) => &query.plan.datasource,
            DruidRequest::Search(plan) => &plan.datasource,
            DruidRequest::SegmentMetadata(query) => &query.datasource,
            DruidRequest::TimeBoundary { datasource, .. }
            | DruidRequest::DataSourceMetadata { datasource } => datasource,
        }
    }
}

/// Reads any Druid query `POST /druid/v2` takes.
pub fn parse_request(value: &Value) -> Result<DruidRequest, DruidError> {
    let root = Field::root(value);
    let query_type = root.required("queryType")?.string()?;
    match query_type.as_str() {
        "timeBoundary" => {
            let filter = root
                .optional("filter")
                .filter(|field| !field.is_null())
                .map(|field| filter::parse(&field))
                .transpose()?;
            let bound = match root.optional("bound") {
                Some(bound) if !bound.is_null() => match bound.string()?.as_str() {
                    "minTime" => TimeBound::MinTime,
                    "maxTime" => TimeBound::MaxTime,
                    other => {
                        return Err(bound
                            .invalid(format!(
                                "bound `{other}` is neither \"minTime\" nor \"maxTime\""
                            ))
                            .into());
                    }
                },
                _ => TimeBound::Both,
            };
            Ok(DruidRequest::TimeBoundary {
                datasource: datasource(&root.required("dataSource")?)?,
                bound,
                filter,
            })
        }
        "dataSourceMetadata" => Ok(DruidRequest::DataSourceMetadata {
            datasource: datasource(&root.required("dataSource")?)?,
        }),
        "scan" => Ok(DruidRequest::Scan(Box::new(scan::parse_scan(value)?))),
        "search" => Ok(DruidRequest::Search(Box::new(search::parse_search(value)?))),
        "segmentMetadata" => {
            let intervals = match root.optional("intervals").filter(|f| !f.is_null()) {
                Some(field) => intervals(&field)?,
                None => vec![Interval::ETERNITY],
            };
            let datasource = datasource(&root.required("dataSource")?)?;
            Ok(DruidRequest::SegmentMetadata(Box::new(
                SegmentMetadataQuery::parse(&root, datasource, intervals)?,
            )))
        }
        "timeseries" | "topN" | "groupBy" => Ok(DruidRequest::Aggregate(Box::new(parse(value)?))),
        other => Err(unsupported_query_type(&root, other)),
    }
}

/// The error for a `queryType` Strata does not answer, named before any
/// other field is read.
fn unsupported_query_type(root: &Field<'_>, query_type: &str) -> DruidError {
    match root.required("queryType") {
        Ok(field) => field
            .invalid(format!(
                "query type `{query_type}` is not supported yet; use timeseries, topN, groupBy, scan, search, timeBoundary, dataSourceMetadata or segmentMetadata"
            ))
            .into(),
        Err(error) => error.into(),
    }
}

/// A Druid query, read. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct DruidQuery {
    pub plan: QueryPlan,
    pub kind: QueryKind,
}

/// What a query type adds to the plan: how its answer is ordered, cut and
/// shaped.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryKind {
    Timeseries {
        descending: bool,
    },
    TopN {
        threshold: usize,
        metric: TopNMetric,
    },
    GroupBy {
        limit: Option<usize>,
        offset: usize,
        order_by: Vec<OrderBy>,
        /// Context `sortByDimsFirst`: rows ordered by `order_by` (by the
        /// dimensions when it is empty) before time, instead of after.
        sort_by_dims_first: bool,
    },
}

/// How topN ranks the values of its dimension.
#[derive(Debug, Clone, PartialEq)]
pub enum TopNMetric {
    /// By an aggregation or post-aggregation, largest first.
    Numeric(String),
    /// By the dimension value, lexicographically, ascending.
    Dimension,
    /// The inner order, reversed.
    Inverted(Box<TopNMetric>),
}

/// One column of groupBy's `limitSpec.columns`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub column: String,
    pub descending: bool,
    /// How a dimension's values compare; aggregations and
    /// post-aggregations always compare as numbers.
    pub order: DimensionOrder,
}

/// A `limitSpec` column's `dimensionOrder`: Druid's string comparators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimensionOrder {
    /// By UTF-8 bytes (the default; also Druid's `natural` for strings).
    Lexicographic,
    /// Runs of digits compared as numbers: `9 < 10 < 100`.
    Alphanumeric,
    /// By the number the text holds; text that is not a number last.
    Numeric,
    /// By length in characters, then lexicographically.
    Strlen,
}

/// Why a query could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DruidError {
    #[error(transparent)]
    Json(#[from] JsonError),
}

/// Fields of Druid queries that change the answer and are not supported
/// yet: refused, never ignored, since ignoring them would answer another
/// question.
const UNSUPPORTED_FIELDS: &[&str] = &[
    "virtualColumns",
    "subtotalsSpec",
    "postAggregationsSpec",
    "dimensionsSpec",
];

/// Reads a Druid native query.
pub fn parse(value: &Value) -> Result<DruidQuery, DruidError> {
    let root = Field::root(value);
    let query_type = root.required("queryType")?.string()?;
    if let Some(field) = UNSUPPORTED_FIELDS
        .iter()
        .find_map(|name| root.optional(name).filter(|field| !is_empty(field.value())))
    {
        return Err(field
            .invalid("is not supported yet; remove it (the answer would ignore it otherwise)")
            .into());
    }
    let datasource = datasource(&root.required("dataSource")?)?;
    let intervals = intervals(&root.required("intervals")?)?;
    let granularity = match root.optional("granularity") {
        Some(field) => field.granularity()?,
        None => Granularity::All,
    };
    let filter = root
        .optional("filter")
        .filter(|field| !field.is_null())
        .map(|field| filter::parse(&field))
        .transpose()?;
    let aggregations = root
        .optional("aggregations")
        .map(|field| aggregation::parse_aggregations(&field))
        .transpose()?
        .unwrap_or_default();
    let post_aggregations = root
        .optional("postAggregations")
        .map(|field| aggregation::parse_post_aggregations(&field))
        .transpose()?
        .unwrap_or_default();
    // Only groupBy filters its rows; elsewhere a having would be ignored.
    let having = match root.optional("having").filter(|field| !field.is_null()) {
        Some(field) if query_type != "groupBy" => {
            return Err(field
                .invalid(format!(
                    "having is only supported in groupBy queries, not in {query_type}; remove it or use a groupBy"
                ))
                .into());
        }
        Some(field) => Some(having::parse(&field)?),
        None => None,
    };
    let context_flag = |name: &str| context::answer_flag(&root, name);
    let grand_total = query_type == "timeseries" && context_flag("grandTotal")?;

    let (group_by, kind, zero_fill) = match query_type.as_str() {
        "timeseries" => {
            let descending = match root.optional("descending") {
                Some(field) => field.boolean()?,
                None => false,
            };
            let skip_empty = context_flag("skipEmptyBuckets")?;
            (
                Vec::new(),
                QueryKind::Timeseries { descending },
                !skip_empty,
            )
        }
        "topN" => {
            let dimension = dimension(&root.required("dimension")?)?;
            let threshold = root.required("threshold")?.count()?;
            let metric = topn_metric(&root.required("metric")?)?;
            (
                vec![dimension],
                QueryKind::TopN { threshold, metric },
                false,
            )
        }
        "groupBy" => {
            let dimensions = root
                .required("dimensions")?
                .elements()?
                .iter()
                .map(dimension)
                .collect::<Result<Vec<_>, _>>()?;
            let (limit, offset, order_by) = match root.optional("limitSpec") {
                Some(spec) if !spec.is_null() => limit_spec(&spec)?,
                _ => (None, 0, Vec::new()),
            };
            (
                dimensions,
                QueryKind::GroupBy {
                    limit,
                    offset,
                    order_by,
                    sort_by_dims_first: context_flag("sortByDimsFirst")?,
                },
                false,
            )
        }
        other => return Err(unsupported_query_type(&root, other)),
    };
    Ok(DruidQuery {
        plan: QueryPlan {
            datasource,
            intervals,
            filter,
            aggregate: AggregatePlan {
                granularity,
                group_by,
                aggregations,
                post_aggregations,
                zero_fill,
                having,
                grand_total,
            },
        },
        kind,
    })
}

/// Whether an optional field says nothing: null, or an empty list or object.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

/// `"dataSource": "name"` or `{"type": "table", "name": "name"}`.
fn datasource(field: &Field<'_>) -> Result<String, JsonError> {
    if field.is_string() {
        return field.string();
    }
    let kind = field.required("type")?.string()?;
    if kind != "table" {
        return Err(field.required("type")?.invalid(format!(
            "datasource type `{kind}` is not supported; name one table datasource"
        )));
    }
    field.required("name")?.string()
}

/// `"intervals": ["start/end", ...]`, one string, or
/// `{"type": "intervals", "intervals": [...]}`.
pub(crate) fn intervals(field: &Field<'_>) -> Result<Vec<Interval>, JsonError> {
    let list = if field.is_string() {
        vec![field.clone()]
    } else if field.is_array() {
        field.elements()?
    } else {
        field.required("intervals")?.elements()?
    };
    if list.is_empty() {
        return Err(
            field.invalid("at least one interval is needed, such as \"2024-01-01/2024-01-02\"")
        );
    }
    list.iter()
        .map(|item| {
            let text = item.string()?;
            parse_iso_interval(&text)
                .map_err(|reason| item.invalid(format!("`{text}` is not an interval: {reason}")))
        })
        .collect()
}

/// A dimension spec: `"name"` or `{"type": "default", "dimension": ..., "outputName": ...}`.
fn dimension(field: &Field<'_>) -> Result<GroupKey, JsonError> {
    if field.is_string() {
        let name = field.string()?;
        return Ok(GroupKey {
            column: name.clone(),
            output_name: name,
        });
    }
    if let Some(kind) = field.optional("type") {
        let kind = kind.string()?;
        if kind != "default" {
            return Err(field.required("type")?.invalid(format!(
                "dimension spec type `{kind}` is not supported; use \"default\""
            )));
        }
    }
    let column = field.required("dimension")?.string()?;
    let output_name = match field.optional("outputName") {
        Some(name) => name.string()?,
        None => column.clone(),
    };
    Ok(GroupKey {
        column,
        output_name,
    })
}

fn topn_metric(field: &Field<'_>) -> Result<TopNMetric, JsonError> {
    if field.is_string() {
        return Ok(TopNMetric::Numeric(field.string()?));
    }
    match field.required("type")?.string()?.as_str() {
        "numeric" => Ok(TopNMetric::Numeric(field.required("metric")?.string()?)),
        "dimension" | "lexicographic" | "alphaNumeric" => Ok(TopNMetric::Dimension),
        "inverted" => Ok(TopNMetric::Inverted(Box::new(topn_metric(
            &field.required("metric")?,
        )?))),
        other => Err(field.required("type")?.invalid(format!(
            "topN metric type `{other}` is not supported; use numeric, dimension or inverted"
        ))),
    }
}

fn limit_spec(field: &Field<'_>) -> Result<(Option<usize>, usize, Vec<OrderBy>), JsonError> {
    let limit = field.optional("limit").map(|f| f.count()).transpose()?;
    let offset = field
        .optional("offset")
        .map(|f| f.count())
        .transpose()?
        .unwrap_or(0);
    let columns = match field.optional("columns") {
        Some(columns) => columns
            .elements()?
            .iter()
            .map(|column| {
                if column.is_string() {
                    return Ok(OrderBy {
                        column: column.string()?,
                        descending: false,
                        order: DimensionOrder::Lexicographic,
                    });
                }
                let descending = match column.optional("direction") {
                    Some(direction) => match direction.string()?.as_str() {
                        "ascending" => false,
                        "descending" => true,
                        other => {
                            return Err(direction.invalid(format!(
                                "direction `{other}` is neither \"ascending\" nor \"descending\""
                            )));
                        }
                    },
                    None => false,
                };
                let order = match column.optional("dimensionOrder") {
                    Some(order) if !order.is_null() => dimension_order(&order)?,
                    _ => DimensionOrder::Lexicographic,
                };
                Ok(OrderBy {
                    column: column.required("dimension")?.string()?,
                    descending,
                    order,
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok((limit, offset, columns))
}

/// `"dimensionOrder": "numeric"` or `{"type": "numeric"}`.
fn dimension_order(field: &Field<'_>) -> Result<DimensionOrder, JsonError> {
    let name = if field.is_string() {
        field.string()?
    } else {
        field.required("type")?.string()?
    };
    match name.as_str() {
        "lexicographic" | "natural" => Ok(DimensionOrder::Lexicographic),
        "alphanumeric" => Ok(DimensionOrder::Alphanumeric),
        "numeric" => Ok(DimensionOrder::Numeric),
        "strlen" => Ok(DimensionOrder::Strlen),
        other => Err(field.invalid(format!(
            "dimensionOrder `{other}` is not supported; use lexicographic, alphanumeric, numeric or strlen"
        ))),
    }
}

#[cfg(test)]
mod tests;

//! The datasource spec: what a datasource holds and how it is rolled up.
//!
//! A spec is Druid's `dataSchema`, so Druid users can bring theirs, plus the `text`
//! dimension type and a per-dimension `rollup` flag:
//!
//! ```json
//! {
//!   "dataSource": "weblogs",
//!   "timestampSpec": {"column": "timestamp", "format": "auto"},
//!   "dimensionsSpec": {"dimensions": [
//!     "host", {"type": "long", "name": "status"},
//!     {"type": "string", "name": "user_id", "rollup": false},
//!     {"type": "text", "name": "message"}
//!   ]},
//!   "metricsSpec": [
//!     {"type": "count", "name": "count"},
//!     {"type": "longSum", "name": "bytes", "fieldName": "bytes"}
//!   ],
//!   "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "minute", "rollup": true}
//! }
//! ```
//!
//! [`DataSourceSpec::from_json`] (or serde) reads the JSON and checks it whole, so
//! a [`DataSourceSpec`] value is always valid: names are unique and not reserved,
//! text dimensions stay out of rollup, `queryGranularity` buckets nest inside
//! `segmentGranularity` chunks, sketch sizes are in range, and no field is unknown
//! (a typo is an error that lists the accepted fields, not a silent default). Every
//! error names the JSON path it is about. Serializing writes the canonical form —
//! every default spelled out, Druid's names — which reads back to an equal spec.
//!
//! # Tables
//!
//! The spec decides which tables a segment keeps (see DESIGN.md): the *rollup
//! table* when `rollup` is on, grouped by truncated time and the
//! [rollup dimensions](DataSourceSpec::rollup_dimensions); the *events table*, one
//! row per event, when rollup is off or some dimension stays out of rollup (text
//! dimensions always do).
//!
//! # Schema discovery
//!
//! Under *schema discovery* every field of an event that the spec does not name
//! becomes a dimension, typed by its JSON value. It is on when
//! `dimensionsSpec.useSchemaDiscovery` is `true`, or when `dimensions` is empty
//! (or absent) and `useSchemaDiscovery` is not `false`; `false` with no
//! dimensions is an error, as the datasource would have none. Discovery belongs
//! to the spec rather than to an empty list because the dimensions it finds are
//! stored back into the spec ([`DataSourceSpec::with_discovered_dimensions`],
//! built with [`Dimension::discovered_string`] and its siblings): the widened
//! spec declares them and keeps discovering, and its canonical form says so with
//! `"useSchemaDiscovery": true`.
//!
//! Defaults: `timestampSpec` `{"column": "timestamp", "format": "auto"}`, no
//! dimensions (discovery), no metrics, `segmentGranularity` `day`,
//! `queryGranularity` `none`, `rollup` true.

mod dimension;
mod error;
mod json;
mod metric;
mod name;
mod timestamp;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::granularity::Granularity;
use crate::time::{Interval, parse_iso_interval};

/// The spec of the reference `access` datasource (`shared/DATASET.md`): the
/// one benchmarks, the demo and tests load the generated access logs with.
pub const ACCESS_SPEC_JSON: &str = include_str!("access.json");

pub use dimension::{Dimension, DimensionKind, MultiValueHandling, TextAnalyzer};
pub use error::{SpecError, SpecProblem};
pub use json::kind_of as json_kind_of;
pub use metric::{Aggregator, HllLgK, HllTargetType, Metric, NumericType, QuantilesK};
pub use name::{DataSourceName, InvalidDataSourceName};
pub use timestamp::{TimestampFormat, TimestampSpec};

use dimension::CanonicalDimension;
use json::{JsonPath, Object};
use metric::CanonicalMetric;
use timestamp::CanonicalTimestampSpec;

const TOP_LEVEL_FIELDS: &[&str] = &[
    "dataSource",
    "timestampSpec",
    "dimensionsSpec",
    "metricsSpec",
    "granularitySpec",
];

const WHOLE_INGESTION_SPEC: &str =
    "this looks like a whole Druid ingestion spec; send only the object inside its \"dataSchema\"";

/// Druid `dataSchema` fields Strata leaves out, with what to do instead.
const UNSUPPORTED_TOP_LEVEL_FIELDS: &[(&str, &str)] = &[
    (
        "parser",
        "Druid's legacy parser; events are JSON, so move its \"timestampSpec\" and \"dimensionsSpec\" to the top level of the spec",
    ),
    ("metadata", "arbitrary spec metadata; remove the field"),
    (
        "transformSpec",
        "transforms at ingestion; transform events before sending them",
    ),
    ("dataSchema", WHOLE_INGESTION_SPEC),
    ("spec", WHOLE_INGESTION_SPEC),
    ("ioConfig", WHOLE_INGESTION_SPEC),
    ("tuningConfig", WHOLE_INGESTION_SPEC),
];

/// A valid datasource spec. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "CanonicalSpec")]
pub struct DataSourceSpec {
    name: DataSourceName,
    timestamp_spec: TimestampSpec,
    dimensions: Vec<Dimension>,
    dimension_exclusions: Vec<String>,
    schema_discovery: bool,
    metrics: Vec<Metric>,
    segment_granularity: Granularity,
    query_granularity: Granularity,
    rollup: bool,
    intervals: Option<Vec<Interval>>,
}

impl DataSourceSpec {
    /// Reads and checks a spec; the error names the JSON path of the first problem
    /// (or serde_json's line and column when the text is not JSON).
    pub fn from_json(text: &str) -> Result<DataSourceSpec, SpecError> {
        let value: Value = serde_json::from_str(text).map_err(SpecError::Json)?;
        DataSourceSpec::from_json_value(&value)
    }

    /// Reads and checks a spec already parsed as JSON.
    pub fn from_json_value(value: &Value) -> Result<DataSourceSpec, SpecError> {
        let root = Object::new(value, JsonPath::root(), "a JSON object")?;
        root.check_fields(TOP_LEVEL_FIELDS, UNSUPPORTED_TOP_LEVEL_FIELDS)?;
        let name = root.required_string("dataSource")?;
        let name = DataSourceName::new(name).map_err(|invalid| {
            root.path()
                .field("dataSource")
                .error(SpecProblem::InvalidDataSourceName(invalid))
        })?;
        let timestamp_spec = match root.value("timestampSpec") {
            Some(value) => TimestampSpec::parse(value, root.path().field("timestampSpec"))?,
            None => TimestampSpec::default(),
        };
        let dimensions_spec = match root.value("dimensionsSpec") {
            Some(value) => parse_dimensions_spec(value, root.path().field("dimensionsSpec"))?,
            None => DimensionsSpec::default(),
        };
        let metrics_path = root.path().field("metricsSpec");
        let metrics = root
            .array("metricsSpec")?
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, value)| Metric::parse(value, &metrics_path, index))
            .collect::<Result<Vec<_>, _>>()?;
        let granularity = match root.value("granularitySpec") {
            Some(value) => parse_granularity_spec(value, root.path().field("granularitySpec"))?,
            None => GranularitySpec::default(),
        };
        let spec = DataSourceSpec {
            name,
            timestamp_spec,
            dimensions: dimensions_spec.dimensions,
            dimension_exclusions: dimensions_spec.exclusions,
            schema_discovery: dimensions_spec.schema_discovery,
            metrics,
            segment_granularity: granularity.segment,
            query_granularity: granularity.query,
            rollup: granularity.rollup,
            intervals: granularity.intervals,
        };
        spec.check_names()?;
        Ok(spec)
    }

    /// This spec with `added` appended to its dimensions, in order: how
    /// dimensions found by schema discovery are stored in the spec, which keeps
    /// discovering. The names are checked as a spec's are, and an error names
    /// the place in the widened spec (`dimensionsSpec.dimensions[4] ("zone")`,
    /// or the `dimensionExclusions` entry a name collides with). Fails when the
    /// spec does not use schema discovery.
    pub fn with_discovered_dimensions(
        &self,
        added: Vec<Dimension>,
    ) -> Result<DataSourceSpec, SpecError> {
        if !self.schema_discovery {
            return Err(JsonPath::root()
                .field("dimensionsSpec")
                .field("useSchemaDiscovery")
                .error(SpecProblem::NotSchemaDiscovery {
                    data_source: self.name.to_string(),
                }));
        }
        let mut widened = self.clone();
        widened.dimensions.extend(added);
        widened.check_names()?;
        Ok(widened)
    }

    /// Every dimension and metric name must be non-empty, unreserved, distinct from
    /// the timestamp column and from each other; exclusions must not name a dimension.
    fn check_names(&self) -> Result<(), SpecError> {
        let dimensions_path = JsonPath::root().field("dimensionsSpec").field("dimensions");
        let metrics_path = JsonPath::root().field("metricsSpec");
        let columns = self
            .dimensions
            .iter()
            .enumerate()
            .map(|(index, dimension)| {
                (
                    dimension.name(),
                    dimensions_path.element(index, Some(dimension.name())),
                )
            })
            .chain(self.metrics.iter().enumerate().map(|(index, metric)| {
                (
                    metric.name(),
                    metrics_path.element(index, Some(metric.name())),
                )
            }));
        let mut seen: HashMap<&str, JsonPath> = HashMap::new();
        for (name, path) in columns {
            let problem = if name.is_empty() {
                Some(SpecProblem::EmptyName)
            } else if name.starts_with("__") {
                Some(SpecProblem::ReservedName {
                    name: name.to_owned(),
                })
            } else if name == self.timestamp_spec.column() {
                Some(SpecProblem::TimestampColumnReused {
                    name: name.to_owned(),
                })
            } else {
                seen.get(name).map(|first| SpecProblem::DuplicateName {
                    name: name.to_owned(),
                    first: first.to_string(),
                })
            };
            if let Some(problem) = problem {
                return Err(path.error(problem));
            }
            seen.insert(name, path);
        }
        let exclusions_path = JsonPath::root()
            .field("dimensionsSpec")
            .field("dimensionExclusions");
        for (index, excluded) in self.dimension_exclusions.iter().enumerate() {
            if self.dimension(excluded).is_some() {
                return Err(exclusions_path.element(index, None).error(
                    SpecProblem::ExcludedDimension {
                        name: excluded.clone(),
                    },
                ));
            }
        }
        Ok(())
    }

    /// The datasource name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    pub fn data_source_name(&self) -> &DataSourceName {
        &self.name
    }

    pub fn timestamp_spec(&self) -> &TimestampSpec {
        &self.timestamp_spec
    }

    /// The declared dimensions, in the order they sort rows. Under schema
    /// discovery, the ones declared and discovered so far (possibly none).
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        self.dimensions
            .iter()
            .find(|dimension| dimension.name() == name)
    }

    /// Fields that schema discovery must not turn into dimensions.
    pub fn dimension_exclusions(&self) -> &[String] {
        &self.dimension_exclusions
    }

    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|metric| metric.name() == name)
    }

    /// The time chunk one segment covers.
    pub fn segment_granularity(&self) -> &Granularity {
        &self.segment_granularity
    }

    /// The granularity `__time` is truncated to in the rollup table.
    pub fn query_granularity(&self) -> &Granularity {
        &self.query_granularity
    }

    /// Whether events are rolled up (the `granularitySpec.rollup` flag).
    pub fn rollup(&self) -> bool {
        self.rollup
    }

    /// The intervals the spec says its data lies in, if it says.
    pub fn intervals(&self) -> Option<&[Interval]> {
        self.intervals.as_deref()
    }

    /// Whether fields the spec does not name become dimensions (see
    /// [Schema discovery](self#schema-discovery)); it stays on as dimensions are
    /// discovered.
    pub fn is_schema_discovery(&self) -> bool {
        self.schema_discovery
    }

    /// Whether segments keep a rollup table.
    pub fn has_rollup_table(&self) -> bool {
        self.rollup
    }

    /// The declared dimensions that are columns of the rollup table, in order:
    /// none without rollup, otherwise every non-text dimension not marked `"rollup": false`.
    pub fn rollup_dimensions(&self) -> impl Iterator<Item = &Dimension> {
        self.dimensions
            .iter()
            .filter(move |dimension| self.rollup && dimension.in_rollup())
    }

    pub fn text_dimensions(&self) -> impl Iterator<Item = &Dimension> {
        self.dimensions
            .iter()
            .filter(|dimension| dimension.is_text())
    }

    /// Whether segments keep an events table (one row per event): when rollup is
    /// off, or when some dimension (any text dimension) is not in the rollup table.
    pub fn needs_events_table(&self) -> bool {
        !self.rollup
            || self
                .dimensions
                .iter()
                .any(|dimension| !dimension.in_rollup())
    }
}

impl TryFrom<Value> for DataSourceSpec {
    type Error = SpecError;

    fn try_from(value: Value) -> Result<Self, SpecError> {
        DataSourceSpec::from_json_value(&value)
    }
}

/// The `dimensionsSpec` object, before it is spread over [`DataSourceSpec`]'s fields.
struct DimensionsSpec {
    dimensions: Vec<Dimension>,
    exclusions: Vec<String>,
    schema_discovery: bool,
}

impl Default for DimensionsSpec {
    /// No dimensions, so schema discovery.
    fn default() -> Self {
        DimensionsSpec {
            dimensions: Vec::new(),
            exclusions: Vec::new(),
            schema_discovery: true,
        }
    }
}

fn parse_dimensions_spec(value: &Value, path: JsonPath) -> Result<DimensionsSpec, SpecError> {
    let object = Object::new(
        value,
        path,
        "an object such as {\"dimensions\": [\"host\"]}",
    )?;
    object.check_fields(
        &["dimensions", "dimensionExclusions", "useSchemaDiscovery"],
        &[
            (
                "includeAllDimensions",
                "\"useSchemaDiscovery\": true keeps the declared dimensions first and adds every other field of the events; use it instead",
            ),
            (
                "spatialDimensions",
                "spatial dimensions are not available; remove the field",
            ),
        ],
    )?;
    let dimensions_path = object.path().field("dimensions");
    let dimensions = object
        .array("dimensions")?
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, value)| Dimension::parse(value, &dimensions_path, index))
        .collect::<Result<Vec<_>, _>>()?;
    let exclusions_path = object.path().field("dimensionExclusions");
    let exclusions = object
        .array("dimensionExclusions")?
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, value)| match value {
            Value::String(name) => Ok(name.clone()),
            other => Err(exclusions_path
                .element(index, None)
                .error(SpecProblem::WrongType {
                    expected: "a field name",
                    found: json::kind_of(other),
                })),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schema_discovery = match object.bool("useSchemaDiscovery")? {
        Some(true) => true,
        None => dimensions.is_empty(),
        Some(false) if dimensions.is_empty() => {
            return Err(object
                .path()
                .field("useSchemaDiscovery")
                .error(SpecProblem::NoDimensions));
        }
        Some(false) => false,
    };
    Ok(DimensionsSpec {
        dimensions,
        exclusions,
        schema_discovery,
    })
}

/// The `granularitySpec` object, before it is spread over [`DataSourceSpec`]'s fields.
struct GranularitySpec {
    segment: Granularity,
    query: Granularity,
    rollup: bool,
    intervals: Option<Vec<Interval>>,
}

impl Default for GranularitySpec {
    fn default() -> Self {
        GranularitySpec {
            segment: Granularity::DAY,
            query: Granularity::None,
            rollup: true,
            intervals: None,
        }
    }
}

fn parse_granularity_spec(value: &Value, path: JsonPath) -> Result<GranularitySpec, SpecError> {
    let object = Object::new(
        value,
        path,
        "an object such as {\"segmentGranularity\": \"day\"}",
    )?;
    object.check_fields(
        &[
            "type",
            "segmentGranularity",
            "queryGranularity",
            "rollup",
            "intervals",
        ],
        &[],
    )?;
    if let Some(kind) = object.string("type")?.filter(|kind| *kind != "uniform") {
        return Err(object.path().field("type").error(
            SpecProblem::UnsupportedGranularitySpecType {
                found: kind.to_owned(),
            },
        ));
    }
    let defaults = GranularitySpec::default();
    let granularity = |field: &str, default: Granularity| match object.value(field) {
        Some(value) => Granularity::from_json(value).map_err(|problem| {
            object
                .path()
                .field(field)
                .error(SpecProblem::Granularity(problem))
        }),
        None => Ok(default),
    };
    let segment = granularity("segmentGranularity", defaults.segment)?;
    let query = granularity("queryGranularity", defaults.query)?;
    if segment == Granularity::None {
        return Err(object
            .path()
            .field("segmentGranularity")
            .error(SpecProblem::SegmentGranularityNone));
    }
    if !query.nests_in(&segment) {
        return Err(object.path().field("queryGranularity").error(
            SpecProblem::QueryCoarserThanSegment {
                query: query.to_string(),
                segment: segment.to_string(),
            },
        ));
    }
    let rollup = object.bool("rollup")?.unwrap_or(defaults.rollup);
    let intervals_path = object.path().field("intervals");
    let intervals = object
        .array("intervals")?
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let path = intervals_path.element(index, None);
            match value {
                Value::String(text) => parse_iso_interval(text).map_err(|reason| {
                    path.error(SpecProblem::InvalidInterval {
                        text: text.clone(),
                        reason,
                    })
                }),
                other => Err(path.error(SpecProblem::WrongType {
                    expected: "an ISO-8601 interval such as \"2024-01-01/2024-01-08\"",
                    found: json::kind_of(other),
                })),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GranularitySpec {
        segment,
        query,
        rollup,
        // An empty list says no more than a missing one.
        intervals: Some(intervals).filter(|intervals| !intervals.is_empty()),
    })
}

/// The canonical JSON of a spec: Druid's `dataSchema` shape with every default
/// spelled out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanonicalSpec {
    data_source: String,
    timestamp_spec: CanonicalTimestampSpec,
    dimensions_spec: CanonicalDimensionsSpec,
    metrics_spec: Vec<CanonicalMetric>,
    granularity_spec: CanonicalGranularitySpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanonicalDimensionsSpec {
    dimensions: Vec<CanonicalDimension>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dimension_exclusions: Vec<String>,
    /// Written only when on: a spec with declared dimensions and no flag reads
    /// back without discovery, and one with no dimensions never has it off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    use_schema_discovery: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanonicalGranularitySpec {
    segment_granularity: Granularity,
    query_granularity: Granularity,
    rollup: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    intervals: Option<Vec<String>>,
}

impl From<DataSourceSpec> for CanonicalSpec {
    fn from(spec: DataSourceSpec) -> Self {
        CanonicalSpec {
            data_source: spec.name.to_string(),
            timestamp_spec: spec.timestamp_spec.canonical(),
            dimensions_spec: CanonicalDimensionsSpec {
                dimensions: spec.dimensions.iter().map(Dimension::canonical).collect(),
                dimension_exclusions: spec.dimension_exclusions,
                use_schema_discovery: spec.schema_discovery,
            },
            metrics_spec: spec.metrics.iter().map(Metric::canonical).collect(),
            granularity_spec: CanonicalGranularitySpec {
                segment_granularity: spec.segment_granularity,
                query_granularity: spec.query_granularity,
                rollup: spec.rollup,
                intervals: spec
                    .intervals
                    .map(|intervals| intervals.iter().map(Interval::to_string).collect()),
            },
        }
    }
}

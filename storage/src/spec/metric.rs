//! Metrics: the aggregates kept per row, Druid's `metricsSpec`.
//!
//! ```json
//! {"type": "count", "name": "count"},
//! {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
//! {"type": "HLLSketchBuild", "name": "users", "fieldName": "user_id", "lgK": 12, "tgtHllType": "HLL_4"},
//! {"type": "quantilesDoublesSketch", "name": "latency", "fieldName": "duration_ms", "k": 128}
//! ```
//!
//! Each aggregator type becomes a variant of [`Aggregator`]; Druid's `long*`,
//! `double*` and `float*` families become one variant with a [`NumericType`]
//! (`float` is kept as `double`, as Strata stores no 32-bit floats). Sketch sizes
//! are checked once and held in types that cannot hold a bad size.

use serde::Serialize;
use serde_json::Value;

use super::error::{SpecError, SpecProblem};
use super::json::{JsonPath, Object, label};

/// The numeric type a simple aggregator reads and produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericType {
    Long,
    Double,
}

/// `lgK` of an HLL sketch: log2 of its number of buckets, 4..=21.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HllLgK(u8);

impl HllLgK {
    pub const DEFAULT: HllLgK = HllLgK(12);

    /// `lg_k` if it lies in 4..=21.
    pub fn new(lg_k: i64) -> Option<Self> {
        u8::try_from(lg_k)
            .ok()
            .filter(|lg_k| (4..=21).contains(lg_k))
            .map(HllLgK)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// How many bits an HLL sketch keeps per bucket (Druid's `tgtHllType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum HllTargetType {
    #[default]
    #[serde(rename = "HLL_4")]
    Hll4,
    #[serde(rename = "HLL_6")]
    Hll6,
    #[serde(rename = "HLL_8")]
    Hll8,
}

impl HllTargetType {
    /// `HLL_4`, `HLL_6` or `HLL_8`, in any case.
    pub fn from_druid_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "HLL_4" => Some(HllTargetType::Hll4),
            "HLL_6" => Some(HllTargetType::Hll6),
            "HLL_8" => Some(HllTargetType::Hll8),
            _ => None,
        }
    }
}

/// `k` of a quantiles sketch: a power of 2 in 2..=32768; larger is more accurate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantilesK(u16);

impl QuantilesK {
    pub const DEFAULT: QuantilesK = QuantilesK(128);

    /// `k` if it is a power of 2 in 2..=32768.
    pub fn new(k: i64) -> Option<Self> {
        u16::try_from(k)
            .ok()
            .filter(|k| *k >= 2 && k.is_power_of_two())
            .map(QuantilesK)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// How a metric aggregates its input field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Aggregator {
    /// The number of events (no input field).
    Count,
    Sum {
        field_name: String,
        value_type: NumericType,
    },
    Min {
        field_name: String,
        value_type: NumericType,
    },
    Max {
        field_name: String,
        value_type: NumericType,
    },
    /// The value of the earliest event.
    First {
        field_name: String,
        value_type: NumericType,
    },
    /// The value of the latest event.
    Last {
        field_name: String,
        value_type: NumericType,
    },
    /// A HyperLogLog sketch of the distinct values (Druid's `HLLSketchBuild`).
    HllSketch {
        field_name: String,
        lg_k: HllLgK,
        target_type: HllTargetType,
    },
    /// A quantiles sketch of the values (Druid's `quantilesDoublesSketch`).
    QuantilesSketch { field_name: String, k: QuantilesK },
}

/// The aggregators that differ only by operation and numeric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimpleOperation {
    Sum,
    Min,
    Max,
    First,
    Last,
}

/// Druid's names of the simple aggregators.
const SIMPLE_AGGREGATORS: [(&str, SimpleOperation, NumericType); 15] = [
    ("longSum", SimpleOperation::Sum, NumericType::Long),
    ("doubleSum", SimpleOperation::Sum, NumericType::Double),
    ("floatSum", SimpleOperation::Sum, NumericType::Double),
    ("longMin", SimpleOperation::Min, NumericType::Long),
    ("doubleMin", SimpleOperation::Min, NumericType::Double),
    ("floatMin", SimpleOperation::Min, NumericType::Double),
    ("longMax", SimpleOperation::Max, NumericType::Long),
    ("doubleMax", SimpleOperation::Max, NumericType::Double),
    ("floatMax", SimpleOperation::Max, NumericType::Double),
    ("longFirst", SimpleOperation::First, NumericType::Long),
    ("doubleFirst", SimpleOperation::First, NumericType::Double),
    ("floatFirst", SimpleOperation::First, NumericType::Double),
    ("longLast", SimpleOperation::Last, NumericType::Long),
    ("doubleLast", SimpleOperation::Last, NumericType::Double),
    ("floatLast", SimpleOperation::Last, NumericType::Double),
];

const COUNT: &str = "count";
const HLL_SKETCH: &str = "HLLSketchBuild";
const QUANTILES_SKETCH: &str = "quantilesDoublesSketch";

/// Every aggregator type name, for error messages.
fn known_types() -> String {
    let mut names = vec![COUNT];
    names.extend(SIMPLE_AGGREGATORS.iter().map(|(name, _, _)| *name));
    names.extend([HLL_SKETCH, QUANTILES_SKETCH]);
    names.join(", ")
}

impl SimpleOperation {
    fn aggregator(self, field_name: String, value_type: NumericType) -> Aggregator {
        match self {
            SimpleOperation::Sum => Aggregator::Sum {
                field_name,
                value_type,
            },
            SimpleOperation::Min => Aggregator::Min {
                field_name,
                value_type,
            },
            SimpleOperation::Max => Aggregator::Max {
                field_name,
                value_type,
            },
            SimpleOperation::First => Aggregator::First {
                field_name,
                value_type,
            },
            SimpleOperation::Last => Aggregator::Last {
                field_name,
                value_type,
            },
        }
    }
}

impl Aggregator {
    /// The event field the aggregator reads; `None` for `count`.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            Aggregator::Count => None,
            Aggregator::Sum { field_name, .. }
            | Aggregator::Min { field_name, .. }
            | Aggregator::Max { field_name, .. }
            | Aggregator::First { field_name, .. }
            | Aggregator::Last { field_name, .. }
            | Aggregator::HllSketch { field_name, .. }
            | Aggregator::QuantilesSketch { field_name, .. } => Some(field_name),
        }
    }

    /// Druid's type name: `count`, `longSum`, `doubleMax`, `HLLSketchBuild`, ...
    /// (`float` aggregators are stored, and so named, as `double` ones).
    pub fn druid_type(&self) -> &'static str {
        use NumericType::{Double, Long};
        match self {
            Aggregator::Count => COUNT,
            Aggregator::Sum {
                value_type: Long, ..
            } => "longSum",
            Aggregator::Sum {
                value_type: Double, ..
            } => "doubleSum",
            Aggregator::Min {
                value_type: Long, ..
            } => "longMin",
            Aggregator::Min {
                value_type: Double, ..
            } => "doubleMin",
            Aggregator::Max {
                value_type: Long, ..
            } => "longMax",
            Aggregator::Max {
                value_type: Double, ..
            } => "doubleMax",
            Aggregator::First {
                value_type: Long, ..
            } => "longFirst",
            Aggregator::First {
                value_type: Double, ..
            } => "doubleFirst",
            Aggregator::Last {
                value_type: Long, ..
            } => "longLast",
            Aggregator::Last {
                value_type: Double, ..
            } => "doubleLast",
            Aggregator::HllSketch { .. } => HLL_SKETCH,
            Aggregator::QuantilesSketch { .. } => QUANTILES_SKETCH,
        }
    }
}

/// One metric: a named aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metric {
    name: String,
    aggregator: Aggregator,
}

impl Metric {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn aggregator(&self) -> &Aggregator {
        &self.aggregator
    }

    /// Reads element `index` of `metricsSpec`.
    pub(super) fn parse(value: &Value, list: &JsonPath, index: usize) -> Result<Self, SpecError> {
        let object = Object::new(
            value,
            list.element(index, label(value)),
            "an object such as {\"type\": \"longSum\", \"name\": \"bytes\", \"fieldName\": \"bytes\"}",
        )?;
        let type_name = object.required_string("type")?;
        let unsupported = [(
            "expression",
            "aggregators read an event field; use \"fieldName\"",
        )];
        let field_name = || -> Result<String, SpecError> {
            match object.required_string("fieldName")? {
                "" => Err(object
                    .path()
                    .field("fieldName")
                    .error(SpecProblem::EmptyName)),
                field_name => Ok(field_name.to_owned()),
            }
        };
        let aggregator = if type_name == COUNT {
            object.check_fields(&["type", "name"], &unsupported)?;
            Aggregator::Count
        } else if let Some((_, operation, value_type)) = SIMPLE_AGGREGATORS
            .iter()
            .find(|(name, _, _)| *name == type_name)
        {
            object.check_fields(&["type", "name", "fieldName"], &unsupported)?;
            operation.aggregator(field_name()?, *value_type)
        } else if type_name == HLL_SKETCH {
            object.check_fields(
                &["type", "name", "fieldName", "lgK", "tgtHllType"],
                &unsupported,
            )?;
            let lg_k = match object.integer("lgK")? {
                Some(found) => HllLgK::new(found).ok_or_else(|| {
                    object
                        .path()
                        .field("lgK")
                        .error(SpecProblem::LgKOutOfRange { found })
                })?,
                None => HllLgK::DEFAULT,
            };
            let target_type = match object.string("tgtHllType")? {
                Some(name) => HllTargetType::from_druid_name(name).ok_or_else(|| {
                    object
                        .path()
                        .field("tgtHllType")
                        .error(SpecProblem::UnknownHllType {
                            found: name.to_owned(),
                        })
                })?,
                None => HllTargetType::default(),
            };
            Aggregator::HllSketch {
                field_name: field_name()?,
                lg_k,
                target_type,
            }
        } else if type_name == QUANTILES_SKETCH {
            object.check_fields(&["type", "name", "fieldName", "k"], &unsupported)?;
            let k = match object.integer("k")? {
                Some(found) => QuantilesK::new(found).ok_or_else(|| {
                    object
                        .path()
                        .field("k")
                        .error(SpecProblem::InvalidQuantilesK { found })
                })?,
                None => QuantilesK::DEFAULT,
            };
            Aggregator::QuantilesSketch {
                field_name: field_name()?,
                k,
            }
        } else {
            return Err(object.path().error(SpecProblem::UnknownAggregatorType {
                found: type_name.to_owned(),
                known: known_types(),
            }));
        };
        let name = object.required_string("name")?.to_owned();
        Ok(Metric { name, aggregator })
    }

    pub(super) fn canonical(&self) -> CanonicalMetric {
        let (lg_k, tgt_hll_type, k) = match &self.aggregator {
            Aggregator::HllSketch {
                lg_k, target_type, ..
            } => (Some(lg_k.get()), Some(*target_type), None),
            Aggregator::QuantilesSketch { k, .. } => (None, None, Some(k.get())),
            _ => (None, None, None),
        };
        CanonicalMetric {
            kind: self.aggregator.druid_type(),
            name: self.name.clone(),
            field_name: self.aggregator.field_name().map(str::to_owned),
            lg_k,
            tgt_hll_type,
            k,
        }
    }
}

/// The canonical JSON of a [`Metric`]: Druid's aggregator object with every option spelled out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CanonicalMetric {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lg_k: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tgt_hll_type: Option<HllTargetType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<u16>,
}

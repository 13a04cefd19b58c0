//! A datasource as Elasticsearch sees it: an index whose fields are the
//! event's fields.
//!
//! An Elasticsearch user names the fields of the events they sent, not
//! Strata's columns: the time under the timestamp spec's column name (the
//! logical plan calls it `__time`; `@timestamp` and `__time` are accepted as
//! well), each dimension by its name, and each metric's *input* field
//! (`duration_ms`, not the `duration_sum` metric built from it). Their
//! Elasticsearch types: the time is a `date`, a string dimension a
//! `keyword`, a text dimension `text`, a long dimension `long` and a double
//! one `double`; a metric's input is a `double` when a double aggregator or a
//! quantiles sketch reads it, a `long` when only long aggregators do, and a
//! `keyword` when only an HLL sketch does (as the events table stores it).
//!
//! An aggregation over a field is answered from a metric when one holds
//! exactly it ([`IndexFields::metric_for`]): a `sum` of `duration_ms` reads
//! the `duration_sum` metric, which the rollup table keeps.

use serde_json::{Map, Value, json};
use strata_storage::segment::TIME_COLUMN;
use strata_storage::spec::{Aggregator, DataSourceSpec, DimensionKind, NumericType};

/// The time field's other names.
pub const TIME_ALIASES: [&str; 2] = ["@timestamp", TIME_COLUMN];

/// A field's Elasticsearch type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Date,
    Keyword,
    Text,
    Long,
    Double,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Date => "date",
            FieldType::Keyword => "keyword",
            FieldType::Text => "text",
            FieldType::Long => "long",
            FieldType::Double => "double",
        }
    }

    pub fn is_number(self) -> bool {
        matches!(self, FieldType::Long | FieldType::Double)
    }

    /// Whether a field of this type can be a terms bucket's key: a column
    /// the plan groups by.
    fn aggregatable(self) -> bool {
        !matches!(self, FieldType::Text)
    }
}

/// One field of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexField {
    /// The name the user writes.
    pub name: String,
    pub field_type: FieldType,
    /// The logical column a plan reads.
    pub column: String,
    /// Whether the plan can group by it: the time and the dimensions, not
    /// a metric's input.
    pub is_dimension: bool,
}

/// The fields of one datasource, in spec order: the time, the dimensions,
/// then the metrics' input fields that are not dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexFields {
    fields: Vec<IndexField>,
    spec: DataSourceSpec,
}

impl IndexFields {
    pub fn of(spec: &DataSourceSpec) -> IndexFields {
        let mut fields = vec![IndexField {
            name: spec.timestamp_spec().column().to_owned(),
            field_type: FieldType::Date,
            column: TIME_COLUMN.to_owned(),
            is_dimension: true,
        }];
        for dimension in spec.dimensions() {
            let field_type = match dimension.kind() {
                DimensionKind::String { .. } => FieldType::Keyword,
                DimensionKind::Long { .. } => FieldType::Long,
                DimensionKind::Double { .. } => FieldType::Double,
                DimensionKind::Text { .. } => FieldType::Text,
            };
            fields.push(IndexField {
                name: dimension.name().to_owned(),
                field_type,
                column: dimension.name().to_owned(),
                is_dimension: true,
            });
        }
        for metric in spec.metrics() {
            let Some(input) = metric.aggregator().field_name() else {
                continue;
            };
            let read_as = input_type(metric.aggregator());
            match fields.iter_mut().find(|field| field.name == input) {
                Some(field) if !field.is_dimension => {
                    field.field_type = wider(field.field_type, read_as);
                }
                Some(_) => {}
                None => fields.push(IndexField {
                    name: input.to_owned(),
                    field_type: read_as,
                    column: input.to_owned(),
                    is_dimension: false,
                }),
            }
        }
        IndexFields {
            fields,
            spec: spec.clone(),
        }
    }

    pub fn spec(&self) -> &DataSourceSpec {
        &self.spec
    }

    pub fn fields(&self) -> &[IndexField] {
        &self.fields
    }

    /// The time field, first of all.
    pub fn time_field(&self) -> &IndexField {
        &self.fields[0]
    }

    /// The field a user names, the time field by any of its names.
    pub fn get(&self, name: &str) -> Option<&IndexField> {
        if TIME_ALIASES.contains(&name) {
            return Some(self.time_field());
        }
        self.fields.iter().find(|field| field.name == name)
    }

    /// The field, or an error naming the fields there are.
    pub fn require(&self, name: &str) -> Result<&IndexField, String> {
        self.get(name).ok_or_else(|| {
            format!(
                "no field [{name}] in index [{}]; its fields are {}",
                self.spec.name(),
                self.names().join(", ")
            )
        })
    }

    /// A field a terms aggregation can group by.
    pub fn groupable(&self, name: &str) -> Result<&IndexField, String> {
        let field = self.require(name)?;
        if field.is_dimension && field.field_type.aggregatable() && field.column != TIME_COLUMN {
            Ok(field)
        } else {
            Err(format!(
                "field [{name}] ({}) cannot be a bucket key: only keyword and numeric dimensions can; use a date_histogram for the time",
                field.field_type.name()
            ))
        }
    }

    /// The text fields, by name.
    pub fn text_fields(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|field| field.field_type == FieldType::Text)
            .map(|field| field.name.clone())
            .collect()
    }

    fn names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .map(|field| field.name.as_str())
            .collect()
    }

    /// The metric whose rollup holds exactly `want` of input `field` (a
    /// `sum` of `duration_ms` is the `doubleSum` metric over it), so the
    /// plan may read the rollup table.
    pub fn metric_for(&self, field: &IndexField, want: MetricUse) -> Option<&str> {
        if field.is_dimension {
            return None;
        }
        self.spec
            .metrics()
            .iter()
            .find(|metric| {
                let aggregator = metric.aggregator();
                aggregator.field_name() == Some(field.name.as_str())
                    && match (want, aggregator) {
                        (MetricUse::Sum, Aggregator::Sum { value_type, .. }) => {
                            *value_type == NumericType::Double
                                || field.field_type == FieldType::Long
                        }
                        (MetricUse::Min, Aggregator::Min { .. })
                        | (MetricUse::Max, Aggregator::Max { .. })
                        | (MetricUse::Distinct, Aggregator::HllSketch { .. })
                        | (MetricUse::Quantiles, Aggregator::QuantilesSketch { .. }) => true,
                        _ => false,
                    }
            })
            .map(|metric| metric.name())
    }

    /// `GET /{index}/_mapping`'s entry for this index.
    pub fn mapping(&self) -> Value {
        let properties: Map<String, Value> = self
            .fields
            .iter()
            .map(|field| {
                let mut property = json!({"type": field.field_type.name()});
                if field.field_type == FieldType::Date {
                    property["format"] = json!("strict_date_optional_time||epoch_millis");
                }
                (field.name.clone(), property)
            })
            .collect();
        json!({"mappings": {"properties": properties}})
    }

    /// The field capabilities of this index, per field: its type, whether
    /// it can be searched and aggregated.
    pub fn capabilities(&self) -> impl Iterator<Item = (&str, FieldType, bool)> {
        self.fields.iter().map(|field| {
            (
                field.name.as_str(),
                field.field_type,
                field.field_type != FieldType::Text,
            )
        })
    }
}

/// Which metric [`IndexFields::metric_for`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUse {
    Sum,
    Min,
    Max,
    Distinct,
    Quantiles,
}

/// The type the events table stores a metric's input as, by the aggregator
/// that reads it.
fn input_type(aggregator: &Aggregator) -> FieldType {
    match aggregator {
        Aggregator::Count | Aggregator::HllSketch { .. } => FieldType::Keyword,
        Aggregator::QuantilesSketch { .. } => FieldType::Double,
        Aggregator::Sum { value_type, .. }
        | Aggregator::Min { value_type, .. }
        | Aggregator::Max { value_type, .. }
        | Aggregator::First { value_type, .. }
        | Aggregator::Last { value_type, .. } => match value_type {
            NumericType::Long => FieldType::Long,
            NumericType::Double => FieldType::Double,
        },
    }
}

/// Double beats long, and any number beats keyword.
fn wider(a: FieldType, b: FieldType) -> FieldType {
    match (a, b) {
        (FieldType::Double, _) | (_, FieldType::Double) => FieldType::Double,
        (FieldType::Long, _) | (_, FieldType::Long) => FieldType::Long,
        _ => a,
    }
}

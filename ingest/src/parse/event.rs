//! The typed event a line parses into.
//!
//! A [`ParsedEvent`] holds no JSON and no bytes of the line: its time is epoch
//! milliseconds, and every dimension value and metric input is already of the
//! type its spec asks for, at the position of its dimension or metric. Later
//! stages index into it instead of looking fields up by name:
//!
//! - the **rollup key** is the time (truncated by rollup) plus the values at
//!   [`EventParser::rollup_positions`](super::EventParser::rollup_positions);
//!   [`DimensionValue`] is `Eq + Hash`, so those values can key a hash map as they are;
//! - the **events-table row** is the time, every dimension value in order, and
//!   the metric inputs in order.
//!
//! Multi-value dimensions come out canonical (sorted or deduplicated as their
//! `multiValueHandling` says; no values is null, one value is a plain string),
//! so equal rows compare equal without further work.

use std::hash::{Hash, Hasher};

use strata_storage::spec::Dimension;
use strata_storage::time::Millis;

/// One dimension's value in one event.
///
/// Doubles compare and hash by their bits; the parser never produces `-0.0`
/// (it becomes `0.0`) nor a non-finite number, so equal numbers are equal values.
#[derive(Debug, Clone)]
pub enum DimensionValue {
    /// The field was absent, `null`, or an array of no values.
    Null,
    Long(i64),
    Double(f64),
    /// A string (or text) dimension's single value.
    String(String),
    /// Two or more values of a multi-value string dimension, in the order its
    /// `multiValueHandling` gives them.
    Strings(Vec<String>),
}

impl PartialEq for DimensionValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (DimensionValue::Null, DimensionValue::Null) => true,
            (DimensionValue::Long(a), DimensionValue::Long(b)) => a == b,
            (DimensionValue::Double(a), DimensionValue::Double(b)) => a.to_bits() == b.to_bits(),
            (DimensionValue::String(a), DimensionValue::String(b)) => a == b,
            (DimensionValue::Strings(a), DimensionValue::Strings(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for DimensionValue {}

impl Hash for DimensionValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            DimensionValue::Null => {}
            DimensionValue::Long(value) => value.hash(state),
            DimensionValue::Double(value) => value.to_bits().hash(state),
            DimensionValue::String(value) => value.hash(state),
            DimensionValue::Strings(values) => values.hash(state),
        }
    }
}

/// The value one metric reads from one event, before aggregation.
///
/// `count` reads no field, so its input is always `Null`. Sums, mins, maxes,
/// firsts and lasts get `Long` or `Double` as their aggregator's type says, the
/// quantiles sketch gets `Double`, and the HLL sketch gets the value as the event
/// typed it (`Long`, `Double` or `String`; booleans as `"true"`/`"false"`).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricInput {
    /// Absent or `null`: the metric counts nothing from this event.
    Null,
    Long(i64),
    Double(f64),
    String(String),
}

/// The type schema discovery gives a new field, from its JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DimensionType {
    /// A string, a boolean, or an array (a multi-value string dimension).
    String,
    /// An integer.
    Long,
    /// A number with a fraction or an exponent, or an integer beyond `i64`.
    Double,
}

impl DimensionType {
    /// The type as the spec names it: `string`, `long` or `double`.
    pub fn name(self) -> &'static str {
        match self {
            DimensionType::String => "string",
            DimensionType::Long => "long",
            DimensionType::Double => "double",
        }
    }
}

/// A field schema discovery turned into a dimension, first seen in this event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiscoveredDimension {
    /// The flattened field name (`a.b` for `{"a": {"b": ...}}`).
    pub name: String,
    pub value_type: DimensionType,
}

impl DiscoveredDimension {
    /// The spec dimension that reads the field as discovery typed it, to store
    /// with [`DataSourceSpec::with_discovered_dimensions`](strata_storage::spec::DataSourceSpec::with_discovered_dimensions).
    pub fn to_dimension(&self) -> Dimension {
        match self.value_type {
            DimensionType::String => Dimension::discovered_string(self.name.as_str()),
            DimensionType::Long => Dimension::discovered_long(self.name.as_str()),
            DimensionType::Double => Dimension::discovered_double(self.name.as_str()),
        }
    }
}

/// One event, typed by its datasource's spec, holding nothing of the line.
///
/// The **rollup key** is the time (truncated by rollup) plus the dimension
/// values at [`EventParser::rollup_positions`](super::EventParser::rollup_positions)
/// ([`DimensionValue`] is `Eq + Hash`, so they can key a hash map as they are);
/// the **events-table row** is the time, every dimension value in order and the
/// metric inputs in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    pub(super) time: Millis,
    pub(super) dimensions: Vec<DimensionValue>,
    pub(super) metric_inputs: Vec<MetricInput>,
    pub(super) discovered: Vec<DiscoveredDimension>,
}

impl ParsedEvent {
    /// The event time, untruncated.
    pub fn time(&self) -> Millis {
        self.time
    }

    /// One value per dimension of the parser that read the event — the spec's
    /// dimensions in order, then under schema discovery the ones in
    /// [`EventParser::discovered`](super::EventParser::discovered) — followed by
    /// one per dimension this event [discovered](Self::discovered). Text
    /// dimensions hold [`DimensionValue::String`] or [`DimensionValue::Null`].
    pub fn dimensions(&self) -> &[DimensionValue] {
        &self.dimensions
    }

    /// One input per metric of the spec, in the spec's order.
    pub fn metric_inputs(&self) -> &[MetricInput] {
        &self.metric_inputs
    }

    /// Under schema discovery, the fields this event introduced, in the order
    /// their values follow the known dimensions in [`dimensions`](Self::dimensions).
    /// Hand the event to [`EventParser::add_discovered`](super::EventParser::add_discovered)
    /// to widen the parser.
    pub fn discovered(&self) -> &[DiscoveredDimension] {
        &self.discovered
    }

    /// The time, the dimension values and the metric inputs, to move them into
    /// an index without copying.
    pub fn into_parts(self) -> (Millis, Vec<DimensionValue>, Vec<MetricInput>) {
        (self.time, self.dimensions, self.metric_inputs)
    }
}

//! [`EventParser`]: everything a spec says about reading events, looked up once.
//!
//! Building a parser turns the spec into a field table keyed by flattened field
//! name: for each name, whether it is the timestamp, which dimension it feeds,
//! which metrics read it, and whether some declared name lies inside it (so an
//! object there must be walked rather than refused). Parsing a line then costs
//! one hash lookup per field of the event; fields the spec does not name are
//! skipped without being copied.
//!
//! Under schema discovery the parser's dimensions are the spec's (declared, or
//! discovered earlier and stored in the spec) followed by the ones discovered
//! since it was built. An event that introduces fields lists them in
//! [`ParsedEvent::discovered`]; [`EventParser::add_discovered`] then widens the
//! parser. To make the widening last, store [`EventParser::discovered`] in the
//! spec (as [`Dimension`](strata_storage::spec::Dimension)s, through
//! [`DataSourceSpec::with_discovered_dimensions`]): a parser built from the
//! widened spec reads them at the same positions, typed the same, and goes on
//! discovering. [`EventParser::add_dimensions`] widens a parser by such a list
//! without rebuilding it.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use strata_storage::spec::{Aggregator, DataSourceSpec, DimensionKind, NumericType};
use strata_storage::time::Millis;

use super::builder::EventBuilder;
use super::coerce::{DimensionRule, InputRule};
use super::error::{ParseError, Target, WidenError};
use super::event::{DiscoveredDimension, ParsedEvent};
use super::reader;
use super::timestamp::TimeRule;

/// Bounds on what one line may cost to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Longest line accepted, in bytes (without its line ending).
    pub max_line_bytes: usize,
    /// Deepest nesting of objects and arrays accepted; the event object itself
    /// is level 1. Keeps a hostile line from exhausting the stack. serde_json,
    /// which reads the lines, refuses more than 128 levels whatever this says.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    /// 1 MiB lines, 64 levels.
    fn default() -> Self {
        ParseLimits {
            max_line_bytes: 1 << 20,
            max_depth: 64,
        }
    }
}

/// One dimension of the parser, at its position in [`ParsedEvent::dimensions`].
#[derive(Debug, Clone)]
pub(super) struct DimensionSlot {
    pub(super) name: Box<str>,
    pub(super) rule: DimensionRule,
}

impl DimensionSlot {
    pub(super) fn target(&self) -> Target {
        Target::Dimension {
            name: self.name.to_string(),
            type_name: self.rule.type_name(),
        }
    }
}

/// One metric of the spec, at its position in [`ParsedEvent::metric_inputs`].
#[derive(Debug, Clone)]
pub(super) struct MetricSlot {
    pub(super) name: Box<str>,
    pub(super) aggregator: &'static str,
}

impl MetricSlot {
    pub(super) fn target(&self) -> Target {
        Target::Metric {
            name: self.name.to_string(),
            aggregator: self.aggregator,
        }
    }
}

/// What one flattened field name means to the spec.
#[derive(Debug, Clone, Default)]
pub(super) struct Field {
    pub(super) name: Box<str>,
    pub(super) timestamp: bool,
    pub(super) dimension: Option<usize>,
    /// The positions of the metrics that read the field, with how each reads it
    /// (several may, such as a sum and a max of one latency).
    pub(super) metrics: Vec<(usize, InputRule)>,
    /// Whether some name of the table continues `name.`: an object here is walked.
    pub(super) has_nested: bool,
}

impl Field {
    /// Whether a value here feeds anything (a pure prefix of nested names does not).
    pub(super) fn has_targets(&self) -> bool {
        self.timestamp || self.dimension.is_some() || !self.metrics.is_empty()
    }
}

/// Parses NDJSON lines into [`ParsedEvent`]s for one datasource spec, by the
/// [rules of the parse module](super).
///
/// Built once per spec (it looks every field name up in advance), then shared:
/// parsing takes `&self`. Under schema discovery its dimensions are the spec's,
/// then the ones discovered since it was built; an event that introduces fields
/// lists them in [`ParsedEvent::discovered`], and
/// [`add_discovered`](Self::add_discovered) widens the parser so later events
/// hold those values at the same positions. Store
/// [`discovered`](Self::discovered) in the spec
/// ([`DataSourceSpec::with_discovered_dimensions`]) to build the same parser
/// again.
#[derive(Debug, Clone)]
pub struct EventParser {
    data_source: String,
    timestamp_column: Box<str>,
    pub(super) time: TimeRule,
    pub(super) dimensions: Vec<DimensionSlot>,
    pub(super) metrics: Vec<MetricSlot>,
    pub(super) fields: HashMap<Box<str>, Field>,
    /// Under schema discovery, the names that must not become dimensions
    /// besides those the field table gives a target (the timestamp, the
    /// dimensions, the metrics' inputs): the exclusions and the metric names.
    pub(super) discovery: Option<HashSet<Box<str>>>,
    discovered: Vec<DiscoveredDimension>,
    rollup: bool,
    rollup_positions: Vec<usize>,
    pub(super) limits: ParseLimits,
}

impl EventParser {
    /// A parser for `spec` with the default [`ParseLimits`].
    pub fn new(spec: &DataSourceSpec) -> EventParser {
        EventParser::with_limits(spec, ParseLimits::default())
    }

    /// A parser for `spec` holding lines to `limits`. Under schema discovery the
    /// spec's dimensions are read by their types like declared ones, and any
    /// other field becomes a new dimension unless it is the timestamp, a
    /// metric's name or input, or excluded.
    pub fn with_limits(spec: &DataSourceSpec, limits: ParseLimits) -> EventParser {
        let timestamp_spec = spec.timestamp_spec();
        let mut parser = EventParser {
            data_source: spec.name().to_owned(),
            timestamp_column: timestamp_spec.column().into(),
            time: TimeRule::new(timestamp_spec),
            dimensions: Vec::with_capacity(spec.dimensions().len()),
            metrics: Vec::with_capacity(spec.metrics().len()),
            fields: HashMap::new(),
            discovery: None,
            discovered: Vec::new(),
            rollup: spec.rollup(),
            rollup_positions: Vec::new(),
            limits,
        };
        parser.field_mut(timestamp_spec.column()).timestamp = true;
        for dimension in spec.dimensions() {
            let rule = match *dimension.kind() {
                DimensionKind::String {
                    multi_value_handling,
                    ..
                } => DimensionRule::String(multi_value_handling),
                DimensionKind::Long { .. } => DimensionRule::Long,
                DimensionKind::Double { .. } => DimensionRule::Double,
                DimensionKind::Text { .. } => DimensionRule::Text,
            };
            parser.push_dimension(dimension.name(), rule, dimension.in_rollup());
        }
        for (position, metric) in spec.metrics().iter().enumerate() {
            let aggregator = metric.aggregator();
            parser.metrics.push(MetricSlot {
                name: metric.name().into(),
                aggregator: aggregator.druid_type(),
            });
            let rule = match aggregator {
                Aggregator::Count => continue,
                Aggregator::Sum { value_type, .. }
                | Aggregator::Min { value_type, .. }
                | Aggregator::Max { value_type, .. }
                | Aggregator::First { value_type, .. }
                | Aggregator::Last { value_type, .. } => match value_type {
                    NumericType::Long => InputRule::Long,
                    NumericType::Double => InputRule::Double,
                },
                Aggregator::HllSketch { .. } => InputRule::AsTyped,
                Aggregator::QuantilesSketch { .. } => InputRule::Double,
            };
            if let Some(field_name) = aggregator.field_name() {
                parser.field_mut(field_name).metrics.push((position, rule));
            }
        }
        if spec.is_schema_discovery() {
            let excluded = spec
                .dimension_exclusions()
                .iter()
                .map(String::as_str)
                .chain(spec.metrics().iter().map(|metric| metric.name()))
                .map(Box::from)
                .collect();
            parser.discovery = Some(excluded);
        }
        parser
    }

    /// The field table entry for `name`, created (with entries for its dotted
    /// prefixes marked `has_nested`) if new.
    fn field_mut(&mut self, name: &str) -> &mut Field {
        for (dot, _) in name.match_indices('.') {
            let prefix = &name[..dot];
            self.fields
                .entry(prefix.into())
                .or_insert_with(|| Field {
                    name: prefix.into(),
                    ..Field::default()
                })
                .has_nested = true;
        }
        self.fields.entry(name.into()).or_insert_with(|| Field {
            name: name.into(),
            ..Field::default()
        })
    }

    fn push_dimension(&mut self, name: &str, rule: DimensionRule, in_rollup: bool) {
        let position = self.dimensions.len();
        self.dimensions.push(DimensionSlot {
            name: name.into(),
            rule,
        });
        self.field_mut(name).dimension = Some(position);
        if self.rollup && in_rollup {
            self.rollup_positions.push(position);
        }
    }

    /// The datasource the parser reads events for.
    pub fn data_source(&self) -> &str {
        &self.data_source
    }

    /// The limits lines are held to.
    pub fn limits(&self) -> ParseLimits {
        self.limits
    }

    /// Positions in [`ParsedEvent::dimensions`] of the dimensions that are
    /// columns of the rollup table: with the truncated time, the rollup key.
    /// Empty when the spec has rollup off.
    pub fn rollup_positions(&self) -> &[usize] {
        &self.rollup_positions
    }

    /// How many dimension values each event has before its newly discovered ones.
    pub fn dimension_count(&self) -> usize {
        self.dimensions.len()
    }

    /// Under schema discovery, the dimensions added since the parser was built
    /// from its spec, in position order (they follow the spec's dimensions);
    /// empty for a spec without schema discovery.
    pub fn discovered(&self) -> &[DiscoveredDimension] {
        &self.discovered
    }

    /// Whether schema discovery may make a dimension of the field `name`.
    /// A dotted top-level key (`"blob.x"`) names the same field as a nested
    /// one, so a name inside an excluded one is excluded either way.
    pub(super) fn is_discoverable(&self, name: &str) -> bool {
        match &self.discovery {
            Some(excluded) => {
                !name.is_empty()
                    && !name.starts_with("__")
                    && !excluded.contains(name)
                    && !name
                        .match_indices('.')
                        .any(|(dot, _)| excluded.contains(&name[..dot]))
                    && self
                        .fields
                        .get(name)
                        .is_none_or(|field| !field.has_targets())
            }
            None => false,
        }
    }

    /// Whether schema discovery walks into an object at the field `name`: an
    /// excluded or reserved name excludes everything inside it too.
    pub(super) fn is_discoverable_prefix(&self, name: &str) -> bool {
        match &self.discovery {
            Some(excluded) => !name.starts_with("__") && !excluded.contains(name),
            None => false,
        }
    }

    /// Widens the parser with the dimensions `event` discovered, so that later
    /// events hold their values at the positions the event used.
    ///
    /// Fails with [`WidenError::StaleEvent`] when the parser was widened since
    /// it parsed `event`: positions have moved, so parse the line again.
    pub fn add_discovered(&mut self, event: &ParsedEvent) -> Result<(), WidenError> {
        let parsed_with = event.dimensions.len() - event.discovered.len();
        if parsed_with != self.dimensions.len() {
            return Err(WidenError::StaleEvent {
                parsed_with,
                now: self.dimensions.len(),
            });
        }
        self.add_dimensions(&event.discovered)
    }

    /// Adds discovered dimensions after the known ones, in order, such as the
    /// list [`discovered`](Self::discovered) of another parser for the same
    /// spec. Nothing is added when one of them cannot be.
    pub fn add_dimensions(&mut self, dimensions: &[DiscoveredDimension]) -> Result<(), WidenError> {
        if self.discovery.is_none() {
            return Err(WidenError::NotSchemaDiscovery {
                data_source: self.data_source.clone(),
            });
        }
        let mut seen = HashSet::with_capacity(dimensions.len());
        for dimension in dimensions {
            let name = dimension.name.as_str();
            if self
                .fields
                .get(name)
                .is_some_and(|field| field.dimension.is_some())
                || !seen.insert(name)
            {
                return Err(WidenError::AlreadyKnown {
                    name: name.to_owned(),
                });
            }
            if !self.is_discoverable(name) {
                return Err(WidenError::NotDiscoverable {
                    name: name.to_owned(),
                });
            }
        }
        for dimension in dimensions {
            self.push_dimension(
                &dimension.name,
                DimensionRule::discovered(dimension.value_type),
                true,
            );
            self.discovered.push(dimension.clone());
        }
        Ok(())
    }

    /// Parses one NDJSON line (without its line ending) into an event.
    pub fn parse_line(&self, line: &[u8]) -> Result<ParsedEvent, ParseError> {
        if line.len() > self.limits.max_line_bytes {
            return Err(ParseError::LineTooLong {
                length: line.len(),
                limit: self.limits.max_line_bytes,
            });
        }
        let text = std::str::from_utf8(line).map_err(|error| ParseError::InvalidUtf8 {
            offset: error.valid_up_to(),
        })?;
        reader::parse_text(self, text)
    }

    /// Parses one event from any serde deserializer, such as a
    /// `serde_json::Value` already in hand or a JSON parser other than the one
    /// [`parse_line`](Self::parse_line) uses. The nesting limit applies; the
    /// line length limit and trailing-input checks are the caller's.
    pub fn parse_from<'de, D: serde::Deserializer<'de>>(
        &self,
        deserializer: D,
    ) -> Result<ParsedEvent, ParseError> {
        let mut builder = EventBuilder::new(self);
        match reader::deserialize(&mut builder, deserializer) {
            Ok(()) => builder.finish(),
            Err(error) => Err(builder.take_failure(error)),
        }
    }

    /// Parses one event whose time is already typed — an Arrow or Parquet
    /// timestamp column, read as epoch milliseconds by the caller — from a
    /// deserializer that leaves the timestamp column out. `None` is a null
    /// time, which `missingValue` replaces as it replaces a JSON `null`.
    pub fn parse_with_time<'de, D: serde::Deserializer<'de>>(
        &self,
        deserializer: D,
        time: Option<Millis>,
    ) -> Result<ParsedEvent, ParseError> {
        let mut builder = EventBuilder::new(self);
        if let Some(time) = time {
            builder.set_time(self.time.typed(time).map_err(|problem| {
                ParseError::InvalidTimestamp {
                    column: self.timestamp_column.to_string(),
                    value: time.to_string(),
                    problem,
                }
            })?);
        }
        match reader::deserialize(&mut builder, deserializer) {
            Ok(()) => builder.finish(),
            Err(error) => Err(builder.take_failure(error)),
        }
    }

    /// The timestamp column, for messages.
    pub(super) fn timestamp_column(&self) -> &str {
        &self.timestamp_column
    }
}

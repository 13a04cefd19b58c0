//! [`EventBuilder`]: the event under construction while a JSON reader walks a line.
//!
//! The reader owns the JSON syntax; the builder owns the meaning. For every
//! field the reader asks the builder to [`resolve`](EventBuilder::resolve) its
//! key, then hands over the value: a scalar, the elements of an array, or the
//! question whether to walk into an object. The builder flattens nested names
//! (`a` then `b` is `a.b`), fills the slots of the fields the spec names,
//! discovers new dimensions under schema discovery, and turns the first problem
//! into the line's [`ParseError`].

use strata_storage::time::Millis;

use super::coerce::{AN_ARRAY, AN_OBJECT, DimensionRule, Element, Scalar};
use super::error::{ParseError, Target, TimestampProblem};
use super::event::{DimensionType, DimensionValue, DiscoveredDimension, MetricInput, ParsedEvent};
use super::parser::{EventParser, Field};

/// What a key names.
#[derive(Debug, Clone, Copy)]
pub(super) enum Resolved<'p> {
    /// A name in the parser's field table.
    Known(&'p Field),
    /// Any other name; its flattened form is in the builder's path.
    Unknown,
}

/// See the [module docs](self).
pub(super) struct EventBuilder<'p> {
    parser: &'p EventParser,
    time: Option<Millis>,
    dimensions: Vec<DimensionValue>,
    metric_inputs: Vec<MetricInput>,
    discovered: Vec<DiscoveredDimension>,
    /// The flattened name of the field being read, when it is nested or unknown.
    path: String,
    /// The typed reason a reader stopped, kept here because readers can only
    /// return their own error type.
    failure: Option<ParseError>,
}

impl<'p> EventBuilder<'p> {
    pub(super) fn new(parser: &'p EventParser) -> Self {
        EventBuilder {
            parser,
            time: None,
            dimensions: vec![DimensionValue::Null; parser.dimensions.len()],
            metric_inputs: vec![MetricInput::Null; parser.metrics.len()],
            discovered: Vec::new(),
            path: String::new(),
            failure: None,
        }
    }

    pub(super) fn max_depth(&self) -> usize {
        self.parser.limits.max_depth
    }

    /// Sets the event time from a typed column instead of the timestamp field.
    pub(super) fn set_time(&mut self, time: Millis) {
        self.time = Some(time);
    }

    /// Records why the line is rejected; the reader then unwinds with any error.
    pub(super) fn fail(&mut self, error: ParseError) {
        if self.failure.is_none() {
            self.failure = Some(error);
        }
    }

    /// The line's error: the recorded one, else the reader's own (bad JSON).
    pub(super) fn take_failure(&mut self, reader_error: impl std::fmt::Display) -> ParseError {
        self.failure
            .take()
            .unwrap_or_else(|| ParseError::InvalidJson {
                message: reader_error.to_string(),
            })
    }

    /// Resolves `key` inside the object whose flattened name, followed by a dot,
    /// is the first `prefix_len` bytes of the path (0 for the event itself).
    pub(super) fn resolve(&mut self, prefix_len: usize, key: &str) -> Resolved<'p> {
        let found = if prefix_len == 0 {
            self.parser.fields.get(key)
        } else {
            self.path.truncate(prefix_len);
            self.path.push_str(key);
            self.parser.fields.get(self.path.as_str())
        };
        match found {
            Some(field) => Resolved::Known(field),
            None => {
                if prefix_len == 0 && self.parser.discovery.is_some() {
                    self.path.clear();
                    self.path.push_str(key);
                }
                Resolved::Unknown
            }
        }
    }

    /// Whether schema discovery makes a dimension of a value at `resolved`.
    fn discovers(&self, resolved: Resolved<'p>) -> bool {
        match resolved {
            Resolved::Known(field) => {
                !field.has_targets() && self.parser.is_discoverable(&field.name)
            }
            Resolved::Unknown => self.parser.is_discoverable(&self.path),
        }
    }

    /// Whether the value at `resolved` matters; a reader skips it otherwise.
    pub(super) fn wants(&self, resolved: Resolved<'p>) -> bool {
        match resolved {
            Resolved::Known(field) if field.has_targets() => true,
            _ => self.discovers(resolved),
        }
    }

    /// Whether to walk into an object found at `resolved`: `Some(prefix_len)`
    /// for the keys inside it, `None` to skip it, or an error for an object
    /// where a single value belongs.
    pub(super) fn enter_object(
        &mut self,
        resolved: Resolved<'p>,
    ) -> Result<Option<usize>, ParseError> {
        match resolved {
            Resolved::Known(field) => {
                let feeds_scalar = field.timestamp || !field.metrics.is_empty();
                let walk = field.has_nested
                    || (!feeds_scalar && self.parser.is_discoverable_prefix(&field.name));
                if walk {
                    self.path.clear();
                    self.path.push_str(&field.name);
                    self.path.push('.');
                    Ok(Some(self.path.len()))
                } else if field.timestamp {
                    Err(not_a_time(field, AN_OBJECT))
                } else if let Some(target) = self.target_of(field) {
                    Err(ParseError::UnexpectedObject {
                        field: field.name.to_string(),
                        target,
                    })
                } else {
                    Ok(None)
                }
            }
            Resolved::Unknown if self.parser.is_discoverable_prefix(&self.path) => {
                self.path.push('.');
                Ok(Some(self.path.len()))
            }
            Resolved::Unknown => Ok(None),
        }
    }

    /// What a field feeds, for messages: its dimension, else its first metric.
    fn target_of(&self, field: &Field) -> Option<Target> {
        match (field.dimension, field.metrics.first()) {
            (Some(position), _) => self
                .parser
                .dimensions
                .get(position)
                .map(|slot| slot.target()),
            (None, Some((position, _))) => {
                self.parser.metrics.get(*position).map(|slot| slot.target())
            }
            (None, None) => None,
        }
    }

    /// Takes a scalar value found at `resolved`.
    pub(super) fn scalar(
        &mut self,
        resolved: Resolved<'p>,
        value: Scalar<'_>,
    ) -> Result<(), ParseError> {
        match resolved {
            Resolved::Known(field) if field.has_targets() => self.fill(field, value),
            _ if self.discovers(resolved) => {
                let Some(value_type) = value.discovered_type() else {
                    return Ok(());
                };
                let name = self.name_of(resolved);
                let dimension =
                    DimensionRule::discovered(value_type)
                        .scalar(value, &name, || discovered_target(&name, value_type))?;
                self.discover(name, value_type, dimension);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn fill(&mut self, field: &'p Field, value: Scalar<'_>) -> Result<(), ParseError> {
        if field.timestamp {
            match self.parser.time.read(value) {
                Ok(Some(time)) => self.time = Some(time),
                Ok(None) => {}
                Err(problem) => {
                    return Err(ParseError::InvalidTimestamp {
                        column: field.name.to_string(),
                        value: value.shown(),
                        problem,
                    });
                }
            }
        }
        if let Some(position) = field.dimension {
            let slot = &self.parser.dimensions[position];
            self.dimensions[position] = slot.rule.scalar(value, &field.name, || slot.target())?;
        }
        for &(position, rule) in &field.metrics {
            let slot = &self.parser.metrics[position];
            self.metric_inputs[position] = rule.scalar(value, &field.name, || slot.target())?;
        }
        Ok(())
    }

    /// The error for an element of an array at `resolved` that is itself an
    /// object or an array (`found`).
    pub(super) fn bad_element(&self, resolved: Resolved<'p>, found: &'static str) -> ParseError {
        if let Resolved::Known(field) = resolved {
            if field.timestamp {
                return not_a_time(field, AN_ARRAY);
            }
            if let Some(target) = self.target_of(field) {
                return ParseError::BadArrayElement {
                    field: field.name.to_string(),
                    found,
                    target,
                };
            }
        }
        ParseError::UndiscoverableArray {
            field: self.name_of(resolved),
            found,
        }
    }

    /// Takes the non-null elements of an array found at `resolved`.
    pub(super) fn array(
        &mut self,
        resolved: Resolved<'p>,
        elements: Vec<Element>,
    ) -> Result<(), ParseError> {
        match resolved {
            Resolved::Known(field) if field.has_targets() => {
                if field.timestamp {
                    return Err(not_a_time(field, AN_ARRAY));
                }
                for &(position, rule) in &field.metrics {
                    let slot = &self.parser.metrics[position];
                    self.metric_inputs[position] =
                        rule.array(&elements, &field.name, || slot.target())?;
                }
                if let Some(position) = field.dimension {
                    let slot = &self.parser.dimensions[position];
                    self.dimensions[position] =
                        slot.rule.array(elements, &field.name, || slot.target())?;
                }
                Ok(())
            }
            _ if self.discovers(resolved) && !elements.is_empty() => {
                let name = self.name_of(resolved);
                let value_type = DimensionType::String;
                let dimension =
                    DimensionRule::discovered(value_type)
                        .array(elements, &name, || discovered_target(&name, value_type))?;
                self.discover(name, value_type, dimension);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn name_of(&self, resolved: Resolved<'p>) -> String {
        match resolved {
            Resolved::Known(field) => field.name.to_string(),
            Resolved::Unknown => self.path.clone(),
        }
    }

    /// Records a value of a field the parser does not know yet; a name repeated
    /// within the event keeps its last value.
    fn discover(&mut self, name: String, value_type: DimensionType, value: DimensionValue) {
        let known = self.parser.dimensions.len();
        match self
            .discovered
            .iter()
            .position(|dimension| dimension.name == name)
        {
            Some(index) => {
                self.discovered[index].value_type = value_type;
                self.dimensions[known + index] = value;
            }
            None => {
                self.discovered
                    .push(DiscoveredDimension { name, value_type });
                self.dimensions.push(value);
            }
        }
    }

    /// The event, once the reader has walked the whole line.
    pub(super) fn finish(self) -> Result<ParsedEvent, ParseError> {
        let time = self
            .time
            .or(self.parser.time.missing_value())
            .ok_or_else(|| ParseError::MissingTimestamp {
                column: self.parser.timestamp_column().to_owned(),
            })?;
        Ok(ParsedEvent {
            time,
            dimensions: self.dimensions,
            metric_inputs: self.metric_inputs,
            discovered: self.discovered,
        })
    }
}

fn discovered_target(name: &str, value_type: DimensionType) -> Target {
    Target::Dimension {
        name: name.to_owned(),
        type_name: value_type.name(),
    }
}

/// The error for a container (`found`) in the timestamp field.
fn not_a_time(field: &Field, found: &'static str) -> ParseError {
    ParseError::InvalidTimestamp {
        column: field.name.to_string(),
        value: found.to_owned(),
        problem: TimestampProblem::NotATime,
    }
}

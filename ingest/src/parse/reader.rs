//! The JSON reader: walks one line with serde visitors, field by field, and
//! hands each value to the [`EventBuilder`] without building a JSON tree.
//!
//! Keys are resolved while they are still borrowed from the line, so a field
//! the spec does not name costs a hash lookup and a skip, never a copy. The
//! reader counts nesting itself (also inside skipped values), so the depth
//! limit holds whatever the deserializer's own recursion limit is.
//!
//! [`parse_text`] drives serde_json; the visitors work with any serde
//! deserializer ([`EventParser::parse_from`]), which is how the benchmark
//! `benches/parse.rs` runs the same walk through sonic-rs.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::builder::{EventBuilder, Resolved};
use super::coerce::{AN_ARRAY, AN_OBJECT, Element, Scalar};
use super::error::ParseError;
use super::event::ParsedEvent;
use super::parser::EventParser;

/// Parses a line already checked for length and UTF-8.
pub(super) fn parse_text(parser: &EventParser, text: &str) -> Result<ParsedEvent, ParseError> {
    let mut builder = EventBuilder::new(parser);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let walked = deserialize(&mut builder, &mut deserializer).and_then(|()| deserializer.end());
    match walked {
        Ok(()) => builder.finish(),
        Err(error) => Err(builder.take_failure(error)),
    }
}

/// Walks one event from `deserializer` into `builder`.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    builder: &mut EventBuilder<'_>,
    deserializer: D,
) -> Result<(), D::Error> {
    deserializer.deserialize_any(EventVisitor { builder })
}

/// Records `error` as the line's failure and returns an error that unwinds the
/// deserializer (its text is never shown).
fn reject<E: de::Error>(builder: &mut EventBuilder<'_>, error: ParseError) -> E {
    builder.fail(error);
    E::custom("event rejected")
}

fn too_deep<E: de::Error>(builder: &mut EventBuilder<'_>) -> E {
    let limit = builder.max_depth();
    reject(builder, ParseError::TooDeep { limit })
}

/// The whole line: must be an object.
struct EventVisitor<'b, 'p> {
    builder: &'b mut EventBuilder<'p>,
}

impl EventVisitor<'_, '_> {
    fn not_an_object<E: de::Error>(self, found: &'static str) -> Result<(), E> {
        Err(reject(self.builder, ParseError::NotAnObject { found }))
    }
}

impl<'de> Visitor<'de> for EventVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if self.builder.max_depth() == 0 {
            return Err(too_deep(self.builder));
        }
        walk_object(self.builder, map, 0, 1)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object("boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object("number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object("number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object("number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object("string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object("null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_object("array")
    }
}

/// Reads the fields of an object at nesting level `depth`, whose keys are
/// flattened after the first `prefix_len` bytes of the builder's path.
fn walk_object<'de, A: MapAccess<'de>>(
    builder: &mut EventBuilder<'_>,
    mut map: A,
    prefix_len: usize,
    depth: usize,
) -> Result<(), A::Error> {
    while let Some(resolved) = map.next_key_seed(KeySeed {
        builder: &mut *builder,
        prefix_len,
    })? {
        map.next_value_seed(ValueSeed {
            builder: &mut *builder,
            resolved,
            depth,
        })?;
    }
    Ok(())
}

/// A key, resolved against the field table while still borrowed.
struct KeySeed<'b, 'p> {
    builder: &'b mut EventBuilder<'p>,
    prefix_len: usize,
}

impl<'de, 'p> DeserializeSeed<'de> for KeySeed<'_, 'p> {
    type Value = Resolved<'p>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Resolved<'p>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'p> Visitor<'de> for KeySeed<'_, 'p> {
    type Value = Resolved<'p>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Resolved<'p>, E> {
        Ok(self.builder.resolve(self.prefix_len, key))
    }
}

/// The value of a field in an object at nesting level `depth`.
struct ValueSeed<'b, 'p> {
    builder: &'b mut EventBuilder<'p>,
    resolved: Resolved<'p>,
    depth: usize,
}

impl ValueSeed<'_, '_> {
    fn scalar<E: de::Error>(self, value: Scalar<'_>) -> Result<(), E> {
        self.builder
            .scalar(self.resolved, value)
            .map_err(|error| reject(self.builder, error))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.scalar(Scalar::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.scalar(i64::try_from(value).map_or(Scalar::UInt(value), Scalar::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.scalar(Scalar::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > self.builder.max_depth() {
            return Err(too_deep(self.builder));
        }
        match self.builder.enter_object(self.resolved) {
            Ok(Some(prefix_len)) => walk_object(self.builder, map, prefix_len, depth),
            Ok(None) => skip_entries(self.builder, map, depth),
            Err(error) => Err(reject(self.builder, error)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > self.builder.max_depth() {
            return Err(too_deep(self.builder));
        }
        if !self.builder.wants(self.resolved) {
            return skip_elements(self.builder, seq, depth);
        }
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element_seed(ElementSeed {
            builder: &mut *self.builder,
            resolved: self.resolved,
        })? {
            elements.extend(element);
        }
        self.builder
            .array(self.resolved, elements)
            .map_err(|error| reject(self.builder, error))
    }
}

/// One element of an array a dimension or metric takes; `None` for `null`.
struct ElementSeed<'b, 'p> {
    builder: &'b mut EventBuilder<'p>,
    resolved: Resolved<'p>,
}

impl ElementSeed<'_, '_> {
    fn container<E: de::Error>(self, found: &'static str) -> Result<Option<Element>, E> {
        let error = self.builder.bad_element(self.resolved, found);
        Err(reject(self.builder, error))
    }
}

impl<'de> DeserializeSeed<'de> for ElementSeed<'_, '_> {
    type Value = Option<Element>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<Element>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ElementSeed<'_, '_> {
    type Value = Option<Element>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string, a number, a boolean or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Element>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<Element>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<Element>, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Option<Element>, E> {
        Ok(Some(Element::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Option<Element>, E> {
        Ok(Some(Element::Int(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Option<Element>, E> {
        Ok(Some(
            i64::try_from(value).map_or(Element::UInt(value), Element::Int),
        ))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Option<Element>, E> {
        Ok(Some(Element::Float(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Option<Element>, E> {
        Ok(Some(Element::Str(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Option<Element>, E> {
        Ok(Some(Element::Str(value)))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Option<Element>, A::Error> {
        self.container(AN_OBJECT)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Option<Element>, A::Error> {
        self.container(AN_ARRAY)
    }
}

fn skip_entries<'de, A: MapAccess<'de>>(
    builder: &mut EventBuilder<'_>,
    mut map: A,
    depth: usize,
) -> Result<(), A::Error> {
    while map.next_key::<IgnoredAny>()?.is_some() {
        map.next_value_seed(SkipSeed {
            builder: &mut *builder,
            depth,
        })?;
    }
    Ok(())
}

fn skip_elements<'de, A: SeqAccess<'de>>(
    builder: &mut EventBuilder<'_>,
    mut seq: A,
    depth: usize,
) -> Result<(), A::Error> {
    while seq
        .next_element_seed(SkipSeed {
            builder: &mut *builder,
            depth,
        })?
        .is_some()
    {}
    Ok(())
}

/// A value nobody reads, inside a container at nesting level `depth`: walked
/// only to find its end and to hold the depth limit.
struct SkipSeed<'b, 'p> {
    builder: &'b mut EventBuilder<'p>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for SkipSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SkipSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > self.builder.max_depth() {
            return Err(too_deep(self.builder));
        }
        skip_entries(self.builder, map, depth)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > self.builder.max_depth() {
            return Err(too_deep(self.builder));
        }
        skip_elements(self.builder, seq, depth)
    }
}

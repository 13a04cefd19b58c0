//! Parsing: one NDJSON line of an event into a typed, validated
//! [`ParsedEvent`] for a datasource spec — the first step of the write path.
//!
//! ```text
//! request body ─ decode_body (gzip, zstd; bounded) ─ ndjson_lines ─┬─ (line 1, bytes) ─ EventParser::parse_line ─ ParsedEvent
//!                                                                  └─ (line 2, bytes) ─ ...                      or ParseError
//! ```
//!
//! An [`EventParser`] is built once per spec. For each line it reads the
//! timestamp by the spec's `timestampSpec` (formats below), then every field the spec names: dimensions by their type, metric inputs by
//! their aggregator. Fields the spec does not name are skipped, except under
//! schema discovery (`"useSchemaDiscovery": true`, or an empty `dimensions`
//! list), where each becomes a dimension typed by its JSON value and is
//! reported in [`ParsedEvent::discovered`] so that the caller can widen the
//! parser ([`EventParser::add_discovered`]) and store the new dimensions in the
//! spec, which then declares them and keeps discovering.
//!
//! Nested objects are flattened to dotted names: `{"a": {"b": 1}}` has a field
//! `a.b`, which a dimension named `a.b` reads (so does a top-level key `"a.b"`).
//! Arrays are multi-value dimensions.
//!
//! # Timestamps
//!
//! | format | numbers | numeric strings | other strings |
//! | --- | --- | --- | --- |
//! | `iso` | error | error | ISO-8601 |
//! | `millis` | milliseconds | milliseconds | error |
//! | `posix` | seconds (fractions kept to the millisecond) | seconds | error |
//! | `micro` | microseconds | microseconds | error |
//! | `nano` | nanoseconds | nanoseconds | error |
//! | `auto` | milliseconds | milliseconds | ISO-8601 |
//!
//! ISO-8601 is read as Druid reads it: `2024-01-01T00:30:00.123Z`, an offset
//! (`+05:30`, `+0530`, `+05`) or none (UTC), a space instead of the `T`, seconds
//! or minutes left out (`2024-01-01T00:30`), or the date alone (midnight UTC).
//! Digits of a second beyond the millisecond, and units finer than it, are cut
//! off towards the past. A `null` timestamp is absent, so `missingValue`
//! applies; an absent timestamp without `missingValue` is an error, and so is a
//! time outside the years 0000 to 9999 (almost always a format naming the wrong
//! unit).
//!
//! # Coercion
//!
//! Each value becomes what its dimension or metric declares, or the line is
//! rejected with a [`ParseError`] that names the field, shows the value and
//! says how to fix it:
//!
//! | JSON value | `string` dimension | `long` dimension or input | `double` dimension or input | `text` dimension | HLL sketch input |
//! | --- | --- | --- | --- | --- | --- |
//! | string | as is | integer text (`"42"`, `"1e3"`); `""` is null; else an error | numeric text; `""` is null; else an error | as is | the string |
//! | integer | printed: `200` | the integer (error beyond 64 bits) | the number | printed | a long |
//! | other number | printed shortest: `20.086`, `1` for `1.0` | an integral value (`3.0`); `3.5` is an error: "not an integer; declare the dimension as `double`" | the number | printed | a double |
//! | `true`/`false` | `"true"`/`"false"` | error | error | `"true"`/`"false"` | the string |
//! | `null` or absent | null | null | null | null | null (counts toward nothing) |
//! | array | several values: non-null elements printed as strings, ordered by `multiValueHandling`; none is null, one is that value | exactly one element: as that element; more is an error | same | same | same |
//! | object | error, unless a declared dotted name lies inside it (then its fields are read) | error | error | error | error |
//!
//! Sums, mins, maxes, firsts and lasts read their input as their aggregator's
//! type says (`longSum` a long, `doubleMax` a double); the quantiles sketch reads
//! a double; `count` reads nothing. An array element that is itself an object or
//! an array is an error. Numbers never come out `-0.0` or non-finite.
//!
//! # Schema discovery
//!
//! Every field other than the timestamp, the spec's dimensions, the metrics'
//! inputs and names, the spec's `dimensionExclusions`, and names that are empty
//! or start with `__` becomes a dimension: a string, boolean or array is a
//! `string` dimension, an integer a `long`, any other number (or an integer
//! beyond 64 bits) a `double`. Every discovered dimension takes part in rollup;
//! strings keep the default `multiValueHandling` (`SORTED_ARRAY`). A field that
//! is `null` (or an empty array) waits until it has a value. Objects are
//! flattened (an excluded name or a metric's name excludes what is inside it,
//! nested or written as a dotted key such as `"blob.x"`), also under a
//! dimension's name: `{"a": {"b": 1}}` discovers `a.b` even where `a` is a
//! dimension. Once discovered, a dimension reads later values by the rules
//! above, like a declared one; stored in the spec
//! ([`DiscoveredDimension::to_dimension`], then
//! `DataSourceSpec::with_discovered_dimensions`) it is a declared one.
//!
//! # Limits
//!
//! [`ParseLimits`] bounds the line length (1 MiB by default) and the nesting
//! depth of objects and arrays (64); each has its own error. A line that is
//! not UTF-8 is an error, as is one that is not a single JSON object.
//!
//! # JSON reader
//!
//! Lines are read with serde_json through serde visitors that act on each
//! field as it is read: no JSON tree is built and unnamed fields
//! are never copied. The criterion bench `benches/parse.rs` runs the same walk
//! through sonic-rs; serde_json was the faster (see `docs/benchmarks.md`,
//! "Ingest parsing").

mod body;
mod builder;
mod coerce;
mod error;
mod event;
mod parser;
mod reader;
mod timestamp;

#[cfg(test)]
mod tests;

pub use body::{BodyError, NdjsonLines, decode_body, ndjson_lines};
pub use error::{ParseError, Target, TimestampProblem, WidenError};
pub use event::{DimensionType, DimensionValue, DiscoveredDimension, MetricInput, ParsedEvent};
pub use parser::{EventParser, ParseLimits};

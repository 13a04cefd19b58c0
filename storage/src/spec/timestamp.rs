//! The `timestampSpec`: which field of an event holds its time, and how it is written.
//!
//! ```json
//! {"column": "timestamp", "format": "auto", "missingValue": "2024-01-01T00:00:00Z"}
//! ```
//!
//! Every field is optional: the column defaults to `timestamp` and the format to
//! `auto`. `missingValue` is the time given to events that lack the column
//! (without it such events are rejected).

use serde::Serialize;
use serde_json::Value;

use crate::time::{Millis, format_millis, parse_iso_instant};

use super::error::{SpecError, SpecProblem};
use super::json::{JsonPath, Object};

/// How event timestamps are written, as Druid names the formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimestampFormat {
    /// ISO-8601 text: `2024-01-01T00:00:00.000Z`.
    Iso,
    /// Milliseconds since the epoch.
    Millis,
    /// Seconds since the epoch.
    Posix,
    /// Microseconds since the epoch.
    Micro,
    /// Nanoseconds since the epoch.
    Nano,
    /// ISO-8601 text or milliseconds since the epoch, whichever the value is.
    Auto,
}

impl TimestampFormat {
    /// Druid's format names are case-insensitive.
    fn from_druid_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "iso" => Some(TimestampFormat::Iso),
            "millis" => Some(TimestampFormat::Millis),
            "posix" => Some(TimestampFormat::Posix),
            "micro" => Some(TimestampFormat::Micro),
            "nano" => Some(TimestampFormat::Nano),
            "auto" => Some(TimestampFormat::Auto),
            _ => None,
        }
    }
}

/// Where and how an event carries its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampSpec {
    column: String,
    format: TimestampFormat,
    missing_value: Option<Millis>,
}

impl Default for TimestampSpec {
    fn default() -> Self {
        TimestampSpec {
            column: "timestamp".to_owned(),
            format: TimestampFormat::Auto,
            missing_value: None,
        }
    }
}

impl TimestampSpec {
    /// The event field that holds the time.
    pub fn column(&self) -> &str {
        &self.column
    }

    pub fn format(&self) -> TimestampFormat {
        self.format
    }

    /// The time given to events without the column, if any.
    pub fn missing_value(&self) -> Option<Millis> {
        self.missing_value
    }

    pub(super) fn parse(value: &Value, path: JsonPath) -> Result<Self, SpecError> {
        let object = Object::new(
            value,
            path,
            "an object such as {\"column\": \"timestamp\", \"format\": \"auto\"}",
        )?;
        object.check_fields(&["column", "format", "missingValue"], &[])?;
        let defaults = TimestampSpec::default();
        let column = match object.string("column")? {
            Some("") => return Err(object.path().field("column").error(SpecProblem::EmptyName)),
            Some(column) => column.to_owned(),
            None => defaults.column,
        };
        let format = match object.string("format")? {
            Some(name) => TimestampFormat::from_druid_name(name).ok_or_else(|| {
                object
                    .path()
                    .field("format")
                    .error(SpecProblem::UnknownTimestampFormat {
                        found: name.to_owned(),
                    })
            })?,
            None => defaults.format,
        };
        let missing_value = match object.string("missingValue")? {
            Some(text) => Some(parse_iso_instant(text).ok_or_else(|| {
                object
                    .path()
                    .field("missingValue")
                    .error(SpecProblem::InvalidTime {
                        text: text.to_owned(),
                    })
            })?),
            None => None,
        };
        Ok(TimestampSpec {
            column,
            format,
            missing_value,
        })
    }

    pub(super) fn canonical(&self) -> CanonicalTimestampSpec {
        CanonicalTimestampSpec {
            column: self.column.clone(),
            format: self.format,
            missing_value: self.missing_value.map(format_millis),
        }
    }
}

/// The canonical JSON of a [`TimestampSpec`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CanonicalTimestampSpec {
    column: String,
    format: TimestampFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_value: Option<String>,
}

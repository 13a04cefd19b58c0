//! The written forms of a granularity: Druid's JSON (see the table in the
//! [module docs](super)), the short text of [`FromStr`] and
//! [`Display`](fmt::Display), and the canonical JSON that [`Serialize`] writes.
//!
//! Reading is strict: an object's fields are checked against those its `"type"`
//! accepts, so a misspelt `"timezone"` is an error rather than a silent UTC.
//! Writing is canonical: a named period as its upper-case name (`"HOUR"`),
//! everything else as an object (`{"type": "all"}`, `{"type": "period", ...}`),
//! so that reading what was written gives the same granularity back.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::named::named;
use super::{DurationGranularity, Granularity, GranularityError, PeriodGranularity};
use crate::time::{Millis, format_millis, parse_iso_instant};

impl Granularity {
    /// Reads a granularity from its Druid JSON form (see the [module docs](super)).
    pub fn from_json(value: &Value) -> Result<Self, GranularityError> {
        match value {
            Value::String(text) => text.parse(),
            Value::Object(fields) => Granularity::from_json_object(fields),
            _ => Err(GranularityError::NotAGranularity),
        }
    }

    fn from_json_object(fields: &Map<String, Value>) -> Result<Self, GranularityError> {
        let kind = match fields.get("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => {
                return Err(GranularityError::WrongJsonType {
                    field: "type",
                    expected: "a string",
                });
            }
            None => return Err(GranularityError::MissingType),
        };
        let present = |field: &str| fields.get(field).filter(|value| !value.is_null());
        match kind.to_ascii_lowercase().as_str() {
            "period" => {
                check_fields(fields, kind, &["type", "period", "timeZone", "origin"])?;
                let period = match present("period") {
                    Some(Value::String(period)) => period.parse()?,
                    Some(_) => {
                        return Err(GranularityError::WrongJsonType {
                            field: "period",
                            expected: "an ISO-8601 period string such as \"PT1H\"",
                        });
                    }
                    None => {
                        return Err(GranularityError::MissingField {
                            kind: "period",
                            field: "period",
                        });
                    }
                };
                let time_zone = match present("timeZone") {
                    Some(Value::String(zone)) => zone
                        .parse()
                        .map_err(|_| GranularityError::UnknownTimeZone { zone: zone.clone() })?,
                    Some(_) => {
                        return Err(GranularityError::WrongJsonType {
                            field: "timeZone",
                            expected: "a time zone name such as \"America/Los_Angeles\"",
                        });
                    }
                    None => Tz::UTC,
                };
                let origin = present("origin").map(parse_origin).transpose()?;
                Ok(Granularity::Period(PeriodGranularity::new(
                    period, time_zone, origin,
                )?))
            }
            "duration" => {
                check_fields(fields, kind, &["type", "duration", "origin"])?;
                // Druid (Jackson) reads the length from a number or from a
                // string holding one: `"duration": "86400000"`.
                let length = match present("duration") {
                    Some(value) => match value {
                        Value::String(text) => text.trim().parse().ok(),
                        _ => value.as_i64(),
                    }
                    .ok_or(GranularityError::WrongJsonType {
                        field: "duration",
                        expected: "a whole number of milliseconds, such as 3600000 or \"3600000\"",
                    })?,
                    None => {
                        return Err(GranularityError::MissingField {
                            kind: "duration",
                            field: "duration",
                        });
                    }
                };
                let origin = present("origin")
                    .map(parse_origin)
                    .transpose()?
                    .unwrap_or(0);
                Ok(Granularity::Duration(DurationGranularity::new(
                    length, origin,
                )?))
            }
            name => {
                let granularity = named(name).ok_or_else(|| GranularityError::UnknownType {
                    found: kind.clone(),
                })?;
                check_fields(fields, kind, &["type"])?;
                Ok(granularity)
            }
        }
    }

    /// The canonical Druid JSON: named granularities as `"HOUR"`, `all` and `none`
    /// as `{"type": "all"}`, the rest as `period` or `duration` objects.
    fn canonical_form(&self) -> CanonicalForm {
        match self {
            Granularity::All => CanonicalForm::Object(CanonicalObject::All),
            Granularity::None => CanonicalForm::Object(CanonicalObject::None),
            Granularity::Duration(duration) => CanonicalForm::Object(CanonicalObject::Duration {
                duration: duration.length(),
                origin: origin_json(duration.origin()),
            }),
            Granularity::Period(period) => match period.name() {
                Some(name) => CanonicalForm::Name(name.to_ascii_uppercase()),
                None => CanonicalForm::Object(CanonicalObject::Period {
                    period: period.period.to_string(),
                    time_zone: period.time_zone.name(),
                    origin: period.origin.map(origin_json),
                }),
            },
        }
    }
}

/// An origin as ISO-8601 text, or as epoch milliseconds when it lies outside the
/// years 0..=9999 that ISO-8601 text (and Druid) can carry.
fn origin_json(origin: Millis) -> Value {
    let in_iso_years =
        DateTime::from_timestamp_millis(origin).is_some_and(|at| (0..=9999).contains(&at.year()));
    if in_iso_years {
        Value::String(format_millis(origin))
    } else {
        Value::from(origin)
    }
}

fn check_fields(
    fields: &Map<String, Value>,
    kind: &str,
    accepted: &'static [&'static str],
) -> Result<(), GranularityError> {
    match fields
        .keys()
        .find(|field| !accepted.contains(&field.as_str()))
    {
        Some(field) => Err(GranularityError::UnknownField {
            kind: kind.to_owned(),
            field: field.clone(),
            accepted,
        }),
        None => Ok(()),
    }
}

fn parse_origin(value: &Value) -> Result<Millis, GranularityError> {
    let parsed = match value {
        Value::String(text) => parse_iso_instant(text),
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    parsed.ok_or_else(|| GranularityError::BadOrigin {
        origin: value.to_string(),
    })
}

impl FromStr for Granularity {
    type Err = GranularityError;

    /// A name (`hour`, `fifteen_minute`, any letter case) or an ISO-8601 period in
    /// UTC (`PT15M`, `P1D`).
    fn from_str(text: &str) -> Result<Self, GranularityError> {
        let lower = text.trim().to_ascii_lowercase();
        if let Some(granularity) = named(&lower) {
            return Ok(granularity);
        }
        let looks_like_period = lower.starts_with('p')
            && lower[1..]
                .starts_with(|character: char| character.is_ascii_digit() || character == 't');
        if looks_like_period {
            let period = PeriodGranularity::new(text.parse()?, Tz::UTC, None)?;
            return Ok(Granularity::Period(period));
        }
        Err(GranularityError::UnknownName {
            name: text.to_owned(),
        })
    }
}

impl fmt::Display for Granularity {
    /// `hour`, `all`, `PT90M`, `P1D in America/New_York`, `PT1H from 2024-01-01T00:30:00.000Z`,
    /// `duration 3600000ms from 1970-01-01T00:00:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granularity::All => f.write_str("all"),
            Granularity::None => f.write_str("none"),
            Granularity::Duration(duration) => write!(
                f,
                "duration {}ms from {}",
                duration.length(),
                format_millis(duration.origin())
            ),
            Granularity::Period(period) => {
                if let Some(name) = period.name() {
                    return f.write_str(name);
                }
                write!(f, "{}", period.period)?;
                if period.time_zone != Tz::UTC {
                    write!(f, " in {}", period.time_zone.name())?;
                }
                if let Some(origin) = period.origin {
                    write!(f, " from {}", format_millis(origin))?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum CanonicalForm {
    Name(String),
    Object(CanonicalObject),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum CanonicalObject {
    All,
    None,
    Duration {
        duration: i64,
        origin: Value,
    },
    Period {
        period: String,
        #[serde(rename = "timeZone")]
        time_zone: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        origin: Option<Value>,
    },
}

impl Serialize for Granularity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.canonical_form().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Granularity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Granularity::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::granularity::test_support::{any_granularity, granularity};
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn json_forms_parse_and_serialize_canonically() {
        assert_eq!(granularity(json!("HOUR")), Granularity::HOUR);
        assert_eq!(granularity(json!({"type": "hour"})), Granularity::HOUR);
        assert_eq!(
            granularity(json!({"type": "period", "period": "PT1H", "timeZone": "UTC"})),
            Granularity::HOUR
        );
        assert_eq!(
            serde_json::to_value(Granularity::HOUR).unwrap(),
            json!("HOUR")
        );
        assert_eq!(
            serde_json::to_value(Granularity::FIVE_MINUTE).unwrap(),
            json!("FIVE_MINUTE")
        );
        assert_eq!(
            serde_json::to_value(Granularity::None).unwrap(),
            json!({"type": "none"})
        );
        assert_eq!(
            serde_json::to_value(Granularity::All).unwrap(),
            json!({"type": "all"})
        );
        let zoned = json!({"type": "period", "period": "P1D", "timeZone": "America/Los_Angeles", "origin": "2024-01-01T06:00:00.000Z"});
        assert_eq!(
            serde_json::to_value(granularity(zoned.clone())).unwrap(),
            zoned
        );
        let duration = json!({"type": "duration", "duration": 3_600_000});
        assert_eq!(
            serde_json::to_value(granularity(duration)).unwrap(),
            json!({"type": "duration", "duration": 3_600_000, "origin": "1970-01-01T00:00:00.000Z"})
        );
        assert_eq!(
            granularity(json!({"type": "duration", "duration": "86400000"})),
            granularity(json!({"type": "duration", "duration": 86_400_000}))
        );
        let parsed: Granularity =
            serde_json::from_str(r#"{"type": "period", "period": "PT15M", "origin": null}"#)
                .unwrap();
        assert_eq!(parsed, Granularity::FIFTEEN_MINUTE);
        assert_eq!(parsed.to_string(), "fifteen_minute");
    }

    #[test]
    fn errors_say_what_is_wrong_and_how_to_fix_it() {
        let error = |spec: Value| Granularity::from_json(&spec).unwrap_err().to_string();
        let message = error(json!("hourly"));
        assert!(
            message.contains("\"hourly\"") && message.contains("fifteen_minute, thirty_minute"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "P1X"}));
        assert!(
            message.contains("'X' is not a unit") && message.contains("P1D"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "PT"}));
        assert!(message.contains("\"T\" must be followed"), "{message}");
        let message = error(json!({"type": "period", "period": "P1H"}));
        assert!(message.contains("PT1H"), "{message}");
        let message = error(json!({"type": "period", "period": "P0D"}));
        assert!(message.contains("zero"), "{message}");
        let message = error(json!({"type": "period", "period": "P2000Y"}));
        assert!(message.contains("1000 years"), "{message}");
        let message = error(json!({"type": "duration", "duration": 0}));
        assert!(
            message.contains("positive") && message.contains("3600000"),
            "{message}"
        );
        let message = error(json!({"type": "duration", "duration": "a day"}));
        assert!(message.contains("\"3600000\""), "{message}");
        let message = error(json!({"type": "duration", "duration": -5}));
        assert!(message.contains("-5"), "{message}");
        let message = error(json!({"type": "period", "period": "P1D", "timeZone": "Mars/Olympus"}));
        assert!(
            message.contains("Mars/Olympus") && message.contains("IANA"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "P1D", "origin": "yesterday"}));
        assert!(
            message.contains("yesterday") && message.contains("ISO-8601"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "P1D", "timezone": "UTC"}));
        assert!(
            message.contains("\"timezone\"") && message.contains("timeZone"),
            "{message}"
        );
        let message = error(json!({"type": "hourly"}));
        assert!(
            message.contains("\"hourly\"") && message.contains("period"),
            "{message}"
        );
        let message = error(json!({"type": "period"}));
        assert!(message.contains("needs a \"period\""), "{message}");
        assert_eq!(
            Granularity::from_json(&json!(3)),
            Err(GranularityError::NotAGranularity)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn json_round_trips(granularity in any_granularity()) {
            let json = serde_json::to_value(granularity).unwrap();
            prop_assert_eq!(Granularity::from_json(&json).unwrap(), granularity);
        }
    }
}

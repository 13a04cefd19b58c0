//! A Druid Kafka supervisor spec, read.
//!
//! ```json
//! {"type": "kafka",
//!  "spec": {"dataSchema": { ... the datasource spec ... },
//!           "ioConfig": {"topic": "weblogs", "inputFormat": {"type": "json"},
//!                        "consumerProperties": {"bootstrap.servers": "127.0.0.1:9092"},
//!                        "useEarliestOffset": true, "taskDuration": "PT1H"},
//!           "tuningConfig": {"type": "kafka"}},
//!  "suspended": false}
//! ```
//!
//! Druid's older shape, with `dataSchema`, `ioConfig` and `tuningConfig` at
//! the top level beside `type`, is read too. `consumerProperties` go to
//! librdkafka as they are (its property names are the Java client's for
//! everything a supervisor needs); the consumer is created once when the spec
//! is read, so a property librdkafka does not know is refused at once.
//! `taskDuration` is kept and shown: Strata has no tasks, and its persist
//! settings decide when segments are published.

use std::collections::BTreeMap;

use serde_json::Value;
use strata_storage::granularity::Period;
use strata_storage::spec::{DataSourceSpec, SpecError};

/// Why a supervisor spec was refused.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorSpecError {
    #[error("the supervisor spec is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Shape(String),
    #[error("spec.dataSchema: {0}")]
    DataSchema(#[from] SpecError),
}

fn shape(message: impl Into<String>) -> SupervisorSpecError {
    SupervisorSpecError::Shape(message.into())
}

/// A Kafka supervisor, as submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorSpec {
    /// The datasource it feeds; also the supervisor's id, as in Druid.
    pub datasource: DataSourceSpec,
    pub topic: String,
    /// librdkafka properties, `bootstrap.servers` among them.
    pub consumer_properties: BTreeMap<String, String>,
    /// Where a partition with no stored position starts: its earliest
    /// message, or the next one produced.
    pub use_earliest_offset: bool,
    /// Druid's `taskDuration`, shown in the status (`PT1H` when not given).
    pub task_duration: Option<Period>,
    /// Whether it was submitted suspended.
    pub suspended: bool,
    /// The spec as submitted, for `GET /druid/indexer/v1/supervisor/{id}`.
    pub json: Value,
}

impl SupervisorSpec {
    /// Reads a supervisor spec from its JSON body.
    pub fn parse(body: &[u8]) -> Result<SupervisorSpec, SupervisorSpecError> {
        SupervisorSpec::from_json(serde_json::from_slice(body)?)
    }

    pub fn from_json(json: Value) -> Result<SupervisorSpec, SupervisorSpecError> {
        let kind = json.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "kafka" {
            return Err(shape(format!(
                "supervisor type `{kind}` is not supported; send {{\"type\": \"kafka\", \"spec\": {{...}}}}"
            )));
        }
        let spec = json.get("spec").unwrap_or(&json);
        let data_schema = spec
            .get("dataSchema")
            .ok_or_else(|| shape("the supervisor spec has no `spec.dataSchema`"))?;
        let io = spec
            .get("ioConfig")
            .ok_or_else(|| shape("the supervisor spec has no `spec.ioConfig`"))?;
        let datasource = DataSourceSpec::from_json_value(data_schema)?;
        let topic = match io.get("topic") {
            Some(Value::String(topic)) if valid_topic(topic) => topic.clone(),
            Some(Value::String(topic)) => {
                return Err(shape(format!(
                    "spec.ioConfig.topic `{topic}` is not a Kafka topic name: use 1 to 249 letters, digits, `.`, `_` or `-`"
                )));
            }
            _ => {
                return Err(shape(
                    "spec.ioConfig.topic is missing; name the topic to consume (topicPattern is not supported)",
                ));
            }
        };
        if let Some(format) = io.get("inputFormat") {
            let kind = format.get("type").and_then(Value::as_str).unwrap_or("");
            if kind != "json" {
                return Err(shape(format!(
                    "spec.ioConfig.inputFormat type `{kind}` is not supported; messages are JSON (one event, an array of events, or NDJSON): write {{\"type\": \"json\"}}"
                )));
            }
        }
        let consumer_properties = consumer_properties(io.get("consumerProperties"))?;
        let use_earliest_offset = flag(io, "useEarliestOffset", "spec.ioConfig")?;
        let task_duration = match io.get("taskDuration") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(text.parse().map_err(|error| {
                    shape(format!("spec.ioConfig.taskDuration `{text}`: {error}"))
                })?)
            }
            Some(other) => {
                return Err(shape(format!(
                    "spec.ioConfig.taskDuration is {other}; write an ISO-8601 period such as \"PT1H\""
                )));
            }
        };
        let suspended = flag(&json, "suspended", "the supervisor spec")?;
        Ok(SupervisorSpec {
            datasource,
            topic,
            consumer_properties,
            use_earliest_offset,
            task_duration,
            suspended,
            json,
        })
    }

    /// The supervisor's id: its datasource's name.
    pub fn id(&self) -> &str {
        self.datasource.name()
    }

    /// `taskDuration` in seconds, as Druid's status shows it.
    pub fn duration_seconds(&self) -> u64 {
        self.task_duration.map_or(3_600, |period| {
            let days = u64::from(period.days()) + 7 * u64::from(period.weeks());
            let days = days + 30 * u64::from(period.months()) + 365 * u64::from(period.years());
            days * 86_400
                + u64::from(period.hours()) * 3_600
                + u64::from(period.minutes()) * 60
                + u64::from(period.seconds())
        })
    }

    /// The spec as stored, with `suspended` set as given.
    pub fn with_suspended(&self, suspended: bool) -> SupervisorSpec {
        let mut json = self.json.clone();
        if let Some(object) = json.as_object_mut() {
            object.insert("suspended".to_owned(), Value::Bool(suspended));
        }
        SupervisorSpec {
            suspended,
            json,
            ..self.clone()
        }
    }
}

/// Kafka's rule for topic names.
fn valid_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

fn consumer_properties(
    properties: Option<&Value>,
) -> Result<BTreeMap<String, String>, SupervisorSpecError> {
    let Some(Value::Object(properties)) = properties else {
        return Err(shape(
            "spec.ioConfig.consumerProperties is missing; give at least {\"bootstrap.servers\": \"host:port\"}",
        ));
    };
    let properties: BTreeMap<String, String> = properties
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                other => {
                    return Err(shape(format!(
                        "spec.ioConfig.consumerProperties.{key} is {other}; write a string, number or boolean"
                    )));
                }
            };
            Ok((key.clone(), value))
        })
        .collect::<Result<_, _>>()?;
    if !properties.contains_key("bootstrap.servers") {
        return Err(shape(
            "spec.ioConfig.consumerProperties has no `bootstrap.servers`; give the brokers as \"host:port,host:port\"",
        ));
    }
    Ok(properties)
}

fn flag(object: &Value, name: &str, place: &str) -> Result<bool, SupervisorSpecError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(other) => Err(shape(format!(
            "{place}.{name} is {other}; write true or false"
        ))),
    }
}

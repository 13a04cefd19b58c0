//! Reading the spec's JSON with paths in every error.
//!
//! The spec is first parsed into a [`serde_json::Value`] (so syntax errors carry
//! serde_json's line and column), then walked by hand with these helpers, so that
//! every complaint names the place it is about — `dimensionsSpec.dimensions[3]
//! ("status").rollup` — and unknown fields are caught instead of ignored.

use std::fmt;

use serde_json::{Map, Value};

use super::error::{SpecError, SpecProblem};

/// A place in the spec, printed like `metricsSpec[2] ("bytes").fieldName`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct JsonPath(String);

impl JsonPath {
    pub(super) fn root() -> Self {
        JsonPath(String::new())
    }

    pub(super) fn field(&self, name: &str) -> Self {
        if self.0.is_empty() {
            JsonPath(name.to_owned())
        } else {
            JsonPath(format!("{}.{name}", self.0))
        }
    }

    /// Element `index` of an array, labelled with the element's name when it has one.
    pub(super) fn element(&self, index: usize, label: Option<&str>) -> Self {
        match label {
            Some(label) => JsonPath(format!("{}[{index}] (\"{label}\")", self.0)),
            None => JsonPath(format!("{}[{index}]", self.0)),
        }
    }

    pub(super) fn error(&self, problem: SpecProblem) -> SpecError {
        SpecError::Invalid {
            path: self.to_string(),
            problem,
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("the spec")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// How a JSON value's kind is named in messages: `null`, `a number`, ...
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object of the spec, with typed getters that report errors at its path.
/// A field set to `null` counts as absent, as in Druid.
pub(super) struct Object<'a> {
    fields: &'a Map<String, Value>,
    path: JsonPath,
}

impl<'a> Object<'a> {
    /// `value` as an object; `expected` describes what belongs at `path` otherwise.
    pub(super) fn new(
        value: &'a Value,
        path: JsonPath,
        expected: &'static str,
    ) -> Result<Self, SpecError> {
        match value {
            Value::Object(fields) => Ok(Object { fields, path }),
            other => Err(path.error(SpecProblem::WrongType {
                expected,
                found: kind_of(other),
            })),
        }
    }

    pub(super) fn path(&self) -> &JsonPath {
        &self.path
    }

    /// Rejects any field not in `accepted`; fields in `unsupported` (Druid features
    /// Strata leaves out) get their own hint instead of the list.
    pub(super) fn check_fields(
        &self,
        accepted: &'static [&'static str],
        unsupported: &[(&'static str, &'static str)],
    ) -> Result<(), SpecError> {
        for field in self.fields.keys() {
            if accepted.contains(&field.as_str()) {
                continue;
            }
            let problem = match unsupported.iter().find(|(name, _)| name == field) {
                Some((_, hint)) => SpecProblem::UnsupportedField {
                    field: field.clone(),
                    hint,
                },
                None => SpecProblem::UnknownField {
                    field: field.clone(),
                    accepted,
                },
            };
            return Err(self.path.field(field).error(problem));
        }
        Ok(())
    }

    pub(super) fn value(&self, key: &str) -> Option<&'a Value> {
        self.fields.get(key).filter(|value| !value.is_null())
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, SpecError> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => read(value).map(Some).ok_or_else(|| {
                self.path.field(key).error(SpecProblem::WrongType {
                    expected,
                    found: kind_of(value),
                })
            }),
        }
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<&'a str>, SpecError> {
        self.typed(key, "a string", Value::as_str)
    }

    pub(super) fn required_string(&self, key: &'static str) -> Result<&'a str, SpecError> {
        self.string(key)?
            .ok_or_else(|| self.path.error(SpecProblem::MissingField { field: key }))
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, SpecError> {
        self.typed(key, "true or false", Value::as_bool)
    }

    pub(super) fn integer(&self, key: &str) -> Result<Option<i64>, SpecError> {
        self.typed(key, "a whole number", Value::as_i64)
    }

    pub(super) fn array(&self, key: &str) -> Result<Option<&'a [Value]>, SpecError> {
        self.typed(key, "an array", |value| value.as_array().map(Vec::as_slice))
    }
}

/// The `"name"` of an array element, to label its path.
pub(super) fn label(value: &Value) -> Option<&str> {
    value.get("name").and_then(Value::as_str)
}

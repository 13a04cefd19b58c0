//! Reading Druid's JSON with the path of every value, so that an error says
//! where in the query it is: `aggregations[1].fieldName: ...`.

use serde_json::Value;
use strata_storage::granularity::Granularity;
use strata_storage::spec::json_kind_of;

/// A problem at one place of a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JsonError {
    /// Where: `filter.fields[0].dimension`; `(the query)` for the whole object.
    pub path: String,
    pub message: String,
}

/// How an error about the whole query names its place.
const ROOT: &str = "(the query)";

/// A value of the query with its path.
#[derive(Debug, Clone)]
pub struct Field<'v> {
    value: &'v Value,
    path: String,
}

impl<'v> Field<'v> {
    pub fn root(value: &'v Value) -> Self {
        Field {
            value,
            path: String::new(),
        }
    }

    pub fn value(&self) -> &'v Value {
        self.value
    }

    /// A problem with this value.
    pub fn invalid(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            path: if self.path.is_empty() {
                ROOT.to_owned()
            } else {
                self.path.clone()
            },
            message: message.into(),
        }
    }

    fn child_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// The member `name` of this object, if present.
    pub fn optional(&self, name: &str) -> Option<Field<'v>> {
        self.value.as_object()?.get(name).map(|value| Field {
            value,
            path: self.child_path(name),
        })
    }

    /// The member `name` of this object.
    pub fn required(&self, name: &str) -> Result<Field<'v>, JsonError> {
        if !self.value.is_object() {
            return Err(self.invalid(format!("expected an object with \"{name}\"")));
        }
        self.optional(name).ok_or_else(|| JsonError {
            path: self.child_path(name),
            message: "is missing".to_owned(),
        })
    }

    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    pub fn is_string(&self) -> bool {
        self.value.is_string()
    }

    pub fn is_array(&self) -> bool {
        self.value.is_array()
    }

    pub fn elements(&self) -> Result<Vec<Field<'v>>, JsonError> {
        let items = self.value.as_array().ok_or_else(|| {
            self.invalid(format!(
                "expected an array, found {}",
                json_kind_of(self.value)
            ))
        })?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(index, value)| Field {
                value,
                path: format!("{}[{index}]", self.path),
            })
            .collect())
    }

    pub fn string(&self) -> Result<String, JsonError> {
        self.value.as_str().map(str::to_owned).ok_or_else(|| {
            self.invalid(format!(
                "expected a string, found {}",
                json_kind_of(self.value)
            ))
        })
    }

    /// A string, or a number or boolean as its JSON text (Druid accepts
    /// `"value": 200` for `"200"`); `None` for null.
    pub fn text_or_null(&self) -> Result<Option<String>, JsonError> {
        match self.value {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text.clone())),
            Value::Number(number) => Ok(Some(number.to_string())),
            Value::Bool(flag) => Ok(Some(flag.to_string())),
            other => Err(self.invalid(format!(
                "expected a string, a number or null, found {}",
                json_kind_of(other)
            ))),
        }
    }

    pub fn boolean(&self) -> Result<bool, JsonError> {
        match self.value {
            Value::Bool(flag) => Ok(*flag),
            // Druid reads context flags given as strings too.
            Value::String(text) if text == "true" || text == "false" => Ok(text == "true"),
            other => Err(self.invalid(format!(
                "expected true or false, found {}",
                json_kind_of(other)
            ))),
        }
    }

    pub fn number(&self) -> Result<f64, JsonError> {
        match self.value {
            Value::Number(number) => number
                .as_f64()
                .ok_or_else(|| self.invalid("the number is out of range")),
            Value::String(text) => text
                .parse()
                .map_err(|_| self.invalid(format!("`{text}` is not a number"))),
            other => Err(self.invalid(format!("expected a number, found {}", json_kind_of(other)))),
        }
    }

    /// A whole number of zero or more.
    pub fn count(&self) -> Result<usize, JsonError> {
        self.value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                self.invalid(format!("expected a whole number ≥ 0, found {}", self.value))
            })
    }

    pub fn granularity(&self) -> Result<Granularity, JsonError> {
        Granularity::from_json(self.value).map_err(|error| self.invalid(error.to_string()))
    }
}

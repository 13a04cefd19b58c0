//! Dimensions: the fields events are filtered and grouped by, and text to search.
//!
//! In `dimensionsSpec.dimensions` a bare string is a string dimension; an object
//! gives the type and options:
//!
//! ```json
//! "host",
//! {"type": "long", "name": "status"},
//! {"type": "string", "name": "user_id", "rollup": false, "multiValueHandling": "SORTED_SET"},
//! {"type": "text", "name": "message", "analyzer": "english"}
//! ```
//!
//! `string`, `long` and `double` (`float` is stored as `double`) dimensions take
//! part in rollup unless they say `"rollup": false`, which keeps a high-cardinality
//! field searchable in the events table without multiplying the rollup rows. A
//! `text` dimension is tokenized for full-text search and never takes part in
//! rollup. The variants of [`DimensionKind`] carry only the options that apply to
//! each type, so a text dimension in rollup cannot even be written down.
//!
//! Schema discovery makes dimensions too ([`Dimension::discovered_string`],
//! [`discovered_long`](Dimension::discovered_long),
//! [`discovered_double`](Dimension::discovered_double)): they are what a bare
//! name or `{"type": "long", "name": ...}` would declare — in rollup, strings
//! with the default `multiValueHandling` — so that a spec storing them reads
//! later events exactly as discovery did.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{SpecError, SpecProblem};
use super::json::{JsonPath, Object, kind_of, label};

/// How a string dimension stores a multi-valued field (an array in the event),
/// with Druid's names and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MultiValueHandling {
    /// Values sorted, duplicates kept.
    #[default]
    SortedArray,
    /// Values sorted, duplicates removed.
    SortedSet,
    /// Values in the order the event gave them.
    Array,
}

impl MultiValueHandling {
    fn from_druid_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "SORTED_ARRAY" => Some(MultiValueHandling::SortedArray),
            "SORTED_SET" => Some(MultiValueHandling::SortedSet),
            "ARRAY" => Some(MultiValueHandling::Array),
            _ => None,
        }
    }
}

/// How the text of a text dimension is cut into searchable terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextAnalyzer {
    /// Split on non-alphanumeric characters and lowercase.
    #[default]
    Default,
    /// The whole value is one term, as written.
    Raw,
    /// Like `Default`, plus English stemming (no stop words: every word stays findable).
    English,
}

impl TextAnalyzer {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "default" => Some(TextAnalyzer::Default),
            "raw" => Some(TextAnalyzer::Raw),
            "english" => Some(TextAnalyzer::English),
            _ => None,
        }
    }
}

/// A dimension's type, with the options that apply to that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DimensionKind {
    String {
        multi_value_handling: MultiValueHandling,
        /// Whether the dimension is a column of the rollup table.
        rollup: bool,
    },
    Long {
        rollup: bool,
    },
    Double {
        rollup: bool,
    },
    Text {
        analyzer: TextAnalyzer,
    },
}

/// One dimension of a spec, declared or discovered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dimension {
    name: String,
    kind: DimensionKind,
}

impl Dimension {
    /// A string dimension schema discovery found (a field holding a string, a
    /// boolean or an array): in rollup, with the default `multiValueHandling`.
    /// Its name is checked when it joins a spec
    /// ([`DataSourceSpec::with_discovered_dimensions`](super::DataSourceSpec::with_discovered_dimensions)).
    pub fn discovered_string(name: impl Into<String>) -> Dimension {
        Dimension {
            name: name.into(),
            kind: DimensionKind::String {
                multi_value_handling: MultiValueHandling::default(),
                rollup: true,
            },
        }
    }

    /// A long dimension schema discovery found (a field holding an integer), in rollup.
    pub fn discovered_long(name: impl Into<String>) -> Dimension {
        Dimension {
            name: name.into(),
            kind: DimensionKind::Long { rollup: true },
        }
    }

    /// A double dimension schema discovery found (a field holding another
    /// number), in rollup.
    pub fn discovered_double(name: impl Into<String>) -> Dimension {
        Dimension {
            name: name.into(),
            kind: DimensionKind::Double { rollup: true },
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &DimensionKind {
        &self.kind
    }

    /// The type as Druid and the spec name it: `string`, `long`, `double` or `text`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            DimensionKind::String { .. } => "string",
            DimensionKind::Long { .. } => "long",
            DimensionKind::Double { .. } => "double",
            DimensionKind::Text { .. } => "text",
        }
    }

    /// Whether the dimension asks to take part in rollup (never for text); the
    /// spec's own `rollup` flag decides whether there is a rollup table at all.
    pub fn in_rollup(&self) -> bool {
        match self.kind {
            DimensionKind::String { rollup, .. }
            | DimensionKind::Long { rollup }
            | DimensionKind::Double { rollup } => rollup,
            DimensionKind::Text { .. } => false,
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self.kind, DimensionKind::Text { .. })
    }

    /// Reads element `index` of `dimensionsSpec.dimensions`.
    pub(super) fn parse(value: &Value, list: &JsonPath, index: usize) -> Result<Self, SpecError> {
        if let Value::String(name) = value {
            return Ok(Dimension {
                name: name.clone(),
                kind: DimensionKind::String {
                    multi_value_handling: MultiValueHandling::default(),
                    rollup: true,
                },
            });
        }
        let path = list.element(index, label(value));
        let Value::Object(_) = value else {
            return Err(path.error(SpecProblem::WrongType {
                expected: "a dimension name or an object such as {\"type\": \"long\", \"name\": \"status\"}",
                found: kind_of(value),
            }));
        };
        let object = Object::new(value, path, "an object")?;
        object.check_fields(
            &["type", "name", "rollup", "multiValueHandling", "analyzer"],
            &[(
                "createBitmapIndex",
                "every string dimension is indexed; remove the field",
            )],
        )?;
        let name = object.required_string("name")?.to_owned();
        let type_name = object.string("type")?.unwrap_or("string");
        let rollup = object.bool("rollup")?;
        let multi_value_handling = object.string("multiValueHandling")?;
        let analyzer = object.string("analyzer")?;
        let only_for = |field: &'static str, applies_to: &'static str| {
            object
                .path()
                .field(field)
                .error(SpecProblem::FieldNotForType { field, applies_to })
        };
        if analyzer.is_some() && type_name != "text" {
            return Err(only_for("analyzer", "text"));
        }
        if multi_value_handling.is_some() && type_name != "string" {
            return Err(only_for("multiValueHandling", "string"));
        }
        let kind = match type_name {
            "string" => DimensionKind::String {
                multi_value_handling: match multi_value_handling {
                    Some(name) => MultiValueHandling::from_druid_name(name).ok_or_else(|| {
                        object.path().field("multiValueHandling").error(
                            SpecProblem::UnknownMultiValueHandling {
                                found: name.to_owned(),
                            },
                        )
                    })?,
                    None => MultiValueHandling::default(),
                },
                rollup: rollup.unwrap_or(true),
            },
            "long" => DimensionKind::Long {
                rollup: rollup.unwrap_or(true),
            },
            "double" | "float" => DimensionKind::Double {
                rollup: rollup.unwrap_or(true),
            },
            "text" => {
                if rollup == Some(true) {
                    return Err(object
                        .path()
                        .field("rollup")
                        .error(SpecProblem::TextInRollup));
                }
                DimensionKind::Text {
                    analyzer: match analyzer {
                        Some(name) => TextAnalyzer::from_name(name).ok_or_else(|| {
                            object
                                .path()
                                .field("analyzer")
                                .error(SpecProblem::UnknownAnalyzer {
                                    found: name.to_owned(),
                                })
                        })?,
                        None => TextAnalyzer::default(),
                    },
                }
            }
            other => {
                return Err(object.path().error(SpecProblem::UnknownDimensionType {
                    found: other.to_owned(),
                }));
            }
        };
        Ok(Dimension { name, kind })
    }

    pub(super) fn canonical(&self) -> CanonicalDimension {
        let name = self.name.clone();
        match self.kind {
            DimensionKind::String {
                multi_value_handling,
                rollup,
            } => CanonicalDimension::String {
                name,
                multi_value_handling,
                rollup,
            },
            DimensionKind::Long { rollup } => CanonicalDimension::Long { name, rollup },
            DimensionKind::Double { rollup } => CanonicalDimension::Double { name, rollup },
            DimensionKind::Text { analyzer } => CanonicalDimension::Text { name, analyzer },
        }
    }
}

/// The canonical JSON of a [`Dimension`]: always an object, with every option spelled out.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(super) enum CanonicalDimension {
    String {
        name: String,
        #[serde(rename = "multiValueHandling")]
        multi_value_handling: MultiValueHandling,
        rollup: bool,
    },
    Long {
        name: String,
        rollup: bool,
    },
    Double {
        name: String,
        rollup: bool,
    },
    Text {
        name: String,
        analyzer: TextAnalyzer,
    },
}

//! The shape of a table: its kind and its typed columns.
//!
//! A table schema is physical: it says how each column is stored, not where it
//! came from in the datasource spec. The ingest layer maps a spec to the schemas
//! of its events and rollup tables (a `longSum` metric becomes a `long` column
//! of the rollup table, an HLL sketch a `complex` column, ...).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::TextAnalyzer;

/// The name of the timestamp column every table starts with.
pub const TIME_COLUMN: &str = "__time";

/// Which of a segment's two tables a table file holds (DESIGN.md, "Tables
/// inside a segment").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// One row per event, text included.
    Events,
    /// One row per (truncated time, rollup dimension values), aggregated.
    Rollup,
}

impl TableKind {
    /// The table's file name inside a segment directory.
    pub fn file_name(self) -> &'static str {
        match self {
            TableKind::Events => "events.tbl",
            TableKind::Rollup => "rollup.tbl",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TableKind::Events => "events",
            TableKind::Rollup => "rollup",
        }
    }
}

/// How a column is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ColumnKind {
    /// Dictionary-encoded, bitmap-indexed strings; `multi_value` rows hold
    /// zero or more values.
    String {
        multi_value: bool,
    },
    Long,
    Double,
    /// Raw full-text values, kept for display and re-analysis; searched
    /// through the segment's tantivy index, not through bitmaps.
    Text,
    /// Opaque bytes per row (a serialized sketch); `type_name` says which
    /// aggregator can read them.
    Complex {
        type_name: String,
    },
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub kind: ColumnKind,
}

impl ColumnSchema {
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

/// The columns of a table after `__time`, in storage order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableSchema {
    columns: Vec<ColumnSchema>,
    /// The analyzer of each text column that does not use the default one:
    /// how its full-text index cuts values into terms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    text_analyzers: BTreeMap<String, TextAnalyzer>,
}

/// A table schema that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("column name {0:?} appears twice in the table schema; column names must be unique")]
    DuplicateColumn(String),
    #[error("column name {TIME_COLUMN:?} is reserved for the timestamp, which every table has")]
    ReservedName,
    #[error("a column name must not be empty")]
    EmptyName,
    #[error(
        "column {0:?} is given a text analyzer but is not a text column of the table; only text columns are analyzed"
    )]
    NotTextColumn(String),
}

impl TableSchema {
    /// A schema of `columns` (the `__time` column is implicit and first).
    pub fn new(columns: Vec<ColumnSchema>) -> Result<Self, SchemaError> {
        let mut seen = std::collections::HashSet::new();
        for column in &columns {
            if column.name.is_empty() {
                return Err(SchemaError::EmptyName);
            }
            if column.name == TIME_COLUMN {
                return Err(SchemaError::ReservedName);
            }
            if !seen.insert(column.name.as_str()) {
                return Err(SchemaError::DuplicateColumn(column.name.clone()));
            }
        }
        Ok(Self {
            columns,
            text_analyzers: BTreeMap::new(),
        })
    }

    /// The schema with text column `column` analyzed by `analyzer` (text
    /// columns use [`TextAnalyzer::Default`] unless told otherwise).
    pub fn with_text_analyzer(
        mut self,
        column: &str,
        analyzer: TextAnalyzer,
    ) -> Result<Self, SchemaError> {
        let is_text = self
            .columns
            .iter()
            .any(|c| c.name == column && c.kind == ColumnKind::Text);
        if !is_text {
            return Err(SchemaError::NotTextColumn(column.to_string()));
        }
        if analyzer == TextAnalyzer::Default {
            self.text_analyzers.remove(column);
        } else {
            self.text_analyzers.insert(column.to_string(), analyzer);
        }
        Ok(self)
    }

    /// The analyzer of text column `column`; `None` when it is not a text
    /// column.
    pub fn text_analyzer(&self, column: &str) -> Option<TextAnalyzer> {
        self.columns
            .iter()
            .any(|c| c.name == column && c.kind == ColumnKind::Text)
            .then(|| self.text_analyzers.get(column).copied().unwrap_or_default())
    }

    pub fn columns(&self) -> &[ColumnSchema] {
        &self.columns
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

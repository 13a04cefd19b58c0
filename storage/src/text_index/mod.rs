//! Full-text search over a table's text columns: a tantivy index per table,
//! whose every match is a table row.
//!
//! A text column keeps its raw values in the table (for display, export and
//! re-analysis); what makes it searchable is an inverted index beside it:
//! for each term, the documents that hold it and where. Strata does not keep
//! documents of its own — each table row is one document, carrying its row
//! number in a fast field, so that a search answers what the rest of the
//! query engine speaks: a [`RoaringBitmap`] of rows, intersected with the
//! bitmaps of the other filters before any column is read.
//!
//! The pieces:
//! - [`TextField`]: a text column and its [`TextAnalyzer`], the way its
//!   values are cut into terms (see `analyzer` for the three);
//! - [`TextIndexWriter`]: builds an index on disk, row by row — a segment's
//!   events table feeds one as it writes its rows, into `<segment dir>/text/`;
//! - [`TextIndex`]: opens one (memory-mapped, checksums verified), or builds
//!   one in RAM for the rows of a real-time chunk, and answers
//!   [`TextIndex::search`] in Lucene syntax (see `query`);
//! - [`Highlighter`]: the words of a value a query matched, tagged, in
//!   fragments (see `highlight`) — found again in the value, not the index.
//!
//! The index holds postings with positions (for phrases) and the row fast
//! field; no stored documents and no scoring data (field norms), since the
//! table holds the values and a filter only asks which rows match.

mod analyzer;
pub mod highlight;
mod query;
mod query_check;
mod rows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use roaring::RoaringBitmap;
use tantivy::directory::{MmapDirectory, RamDirectory};
use tantivy::query::{AllQuery, Query};
use tantivy::schema::{
    FAST, Field, FieldType, IndexRecordOption, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Directory, Index, IndexSettings, ReloadPolicy, Searcher};

pub use highlight::{HighlightOptions, Highlighter};
pub use query_check::check_query;
pub use writer::TextIndexWriter;

use crate::segment::{ColumnKind, SegmentError, TableSchema};
use crate::spec::TextAnalyzer;

/// Where field `name` is among `fields`; a name that is not there is the
/// error naming the text fields.
fn field_position(fields: &[TextField], name: &str) -> Result<usize, TextQueryError> {
    fields
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| TextQueryError::UnknownField {
            field: name.to_owned(),
            text_fields: fields.iter().map(|f| f.name.clone()).collect(),
        })
}

/// One text field of an index: a text column's name and its analyzer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField {
    pub name: String,
    pub analyzer: TextAnalyzer,
}

impl TextField {
    /// The text columns of `schema`, in schema order, with their analyzers:
    /// the fields of that table's index.
    pub fn of_table(schema: &TableSchema) -> Vec<TextField> {
        schema
            .columns()
            .iter()
            .filter(|c| c.kind == ColumnKind::Text)
            .map(|c| TextField {
                name: c.name.clone(),
                analyzer: schema.text_analyzer(&c.name).unwrap_or_default(),
            })
            .collect()
    }
}

/// What can go wrong writing or opening a full-text index. Each names the
/// index's directory (or says it is the in-memory index of a real-time
/// chunk).
#[derive(Debug, thiserror::Error)]
pub enum TextIndexError {
    #[error("full-text index {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "full-text index {path} is missing or corrupt: {detail}; restore the segment from a replica or re-load its time chunk"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("writing full-text index {path}: {detail}")]
    Write { path: PathBuf, detail: String },
    #[error("full-text index {path}: {detail}")]
    InvalidInput { path: PathBuf, detail: String },
}

impl TextIndexError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        TextIndexError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn corrupt(path: &Path, detail: impl ToString) -> Self {
        TextIndexError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        }
    }

    fn write(path: &Path, detail: impl ToString) -> Self {
        TextIndexError::Write {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        }
    }

    fn invalid_input(path: &Path, detail: String) -> Self {
        TextIndexError::InvalidInput {
            path: path.to_path_buf(),
            detail,
        }
    }
}

/// A segment's index fails as the segment does, naming the same path.
impl From<TextIndexError> for SegmentError {
    fn from(error: TextIndexError) -> Self {
        match error {
            TextIndexError::Io { path, source } => SegmentError::Io { path, source },
            TextIndexError::Corrupt { path, detail } => SegmentError::Corrupt { path, detail },
            TextIndexError::Write { path, detail }
            | TextIndexError::InvalidInput { path, detail } => {
                SegmentError::InvalidWrite { path, detail }
            }
        }
    }
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum TextQueryError {
    #[error("full-text query {query:?} does not parse: {problem}")]
    Syntax { query: String, problem: String },
    #[error(
        "{field:?} is not a text dimension of this table, so it cannot be searched; the text dimensions are {}",
        list_fields(text_fields)
    )]
    UnknownField {
        field: String,
        text_fields: Vec<String>,
    },
    #[error(transparent)]
    Index(#[from] TextIndexError),
}

fn list_fields(fields: &[String]) -> String {
    if fields.is_empty() {
        "none: the table has no text dimension".to_string()
    } else {
        fields
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the in-memory index of a real-time chunk is called in errors.
const IN_MEMORY: &str = "<in-memory index of a real-time chunk>";

/// The fast field holding each document's row is called this, with
/// underscores appended until no text field has the name.
const ROW_FIELD: &str = "__row";

/// The tantivy schema of an index over `fields`, and the name of its row
/// field.
fn index_schema(location: &Path, fields: &[TextField]) -> Result<(Schema, String), TextIndexError> {
    let mut builder = Schema::builder();
    for (i, field) in fields.iter().enumerate() {
        if !tantivy::schema::is_valid_field_name(&field.name) {
            return Err(TextIndexError::invalid_input(
                location,
                format!(
                    "text field {:?} cannot be indexed: a field name must not be empty or start with '-'",
                    field.name
                ),
            ));
        }
        if fields[..i].iter().any(|f| f.name == field.name) {
            return Err(TextIndexError::invalid_input(
                location,
                format!("text field {:?} is given twice", field.name),
            ));
        }
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(analyzer::tokenizer_name(field.analyzer))
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            .set_fieldnorms(false);
        builder.add_text_field(
            &field.name,
            TextOptions::default().set_indexing_options(indexing),
        );
    }
    let mut row_field = ROW_FIELD.to_string();
    while fields.iter().any(|f| f.name == row_field) {
        row_field.push('_');
    }
    builder.add_u64_field(&row_field, FAST);
    Ok((builder.build(), row_field))
}

/// A new, empty index in `directory`, with Strata's analyzers.
fn new_index(
    location: &Path,
    directory: impl Into<Box<dyn Directory>>,
    schema: Schema,
) -> Result<Index, TextIndexError> {
    let settings = IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
        ..IndexSettings::default()
    };
    let mut index = Index::create(directory, schema, settings)
        .map_err(|e| TextIndexError::write(location, e))?;
    index.set_tokenizers(analyzer::tokenizers());
    Ok(index)
}

/// An open full-text index: its fields, and a searcher over every row.
pub struct TextIndex {
    location: PathBuf,
    searcher: Searcher,
    fields: Vec<TextField>,
    /// The tantivy field of each of `fields`.
    tantivy_fields: Vec<Field>,
    row_field: String,
    /// One more than the largest row a document holds (0 when empty).
    row_bound: u64,
    /// The rows of every document, for `*` and negations.
    all_rows: OnceLock<RoaringBitmap>,
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex")
            .field("location", &self.location)
            .field("fields", &self.fields)
            .finish()
    }
}

impl TextIndex {
    /// Opens the index written in `dir` (memory-mapped), verifying the
    /// checksum of every file it uses.
    pub fn open(dir: &Path) -> Result<TextIndex, TextIndexError> {
        let corrupt = |e: tantivy::TantivyError| TextIndexError::corrupt(dir, e);
        if !dir.is_dir() {
            return Err(TextIndexError::corrupt(dir, "the directory does not exist"));
        }
        let directory = MmapDirectory::open(dir).map_err(|e| TextIndexError::corrupt(dir, e))?;
        let mut index = Index::open(directory).map_err(corrupt)?;
        index.set_tokenizers(analyzer::tokenizers());
        let damaged = index.validate_checksum().map_err(corrupt)?;
        if !damaged.is_empty() {
            let mut names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            return Err(TextIndexError::corrupt(
                dir,
                format!("{} fail their checksums", names.join(", ")),
            ));
        }
        Self::from_index(dir, index)
    }

    /// Builds an index in RAM — how a real-time chunk's text is searched.
    /// `rows` gives each row's id and its value for each of `fields`, in
    /// order.
    pub fn in_memory<'v>(
        fields: &[TextField],
        rows: impl IntoIterator<Item = (u32, Vec<Option<&'v str>>)>,
    ) -> Result<TextIndex, TextIndexError> {
        let location = Path::new(IN_MEMORY);
        let (mut sink, index) =
            writer::DocumentSink::create(location, RamDirectory::create(), fields)?;
        for (row, values) in rows {
            sink.add_row(row, &values)?;
        }
        sink.commit()?;
        Self::from_index(location, index)
    }

    /// Reads the fields from the index's schema, and opens a searcher.
    fn from_index(location: &Path, index: Index) -> Result<TextIndex, TextIndexError> {
        let corrupt = |detail: String| TextIndexError::corrupt(location, detail);
        let schema = index.schema();
        let mut fields = Vec::new();
        let mut tantivy_fields = Vec::new();
        let mut row_field = None;
        for (field, entry) in schema.fields() {
            match entry.field_type() {
                FieldType::Str(options) => {
                    let tokenizer = options.get_indexing_options().map(|i| i.tokenizer());
                    let analyzer = tokenizer
                        .and_then(analyzer::from_tokenizer_name)
                        .ok_or_else(|| {
                            corrupt(format!(
                                "field {:?} is not indexed with one of Strata's analyzers",
                                entry.name()
                            ))
                        })?;
                    fields.push(TextField {
                        name: entry.name().to_string(),
                        analyzer,
                    });
                    tantivy_fields.push(field);
                }
                FieldType::U64(options) if options.is_fast() && row_field.is_none() => {
                    row_field = Some(entry.name().to_string());
                }
                _ => {
                    return Err(corrupt(format!(
                        "field {:?} is not a field Strata writes",
                        entry.name()
                    )));
                }
            }
        }
        let row_field = row_field.ok_or_else(|| corrupt("the index has no row field".into()))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| corrupt(e.to_string()))?;
        let searcher = reader.searcher();
        let mut row_bound = 0u64;
        for segment in searcher.segment_readers() {
            let rows = segment
                .fast_fields()
                .u64(&row_field)
                .map_err(|e| corrupt(e.to_string()))?;
            if segment.num_docs() == 0 {
                continue;
            }
            let max = rows.max_value();
            if max > u64::from(u32::MAX) {
                return Err(corrupt(format!(
                    "a document claims row {max}, past any table"
                )));
            }
            row_bound = row_bound.max(max + 1);
        }
        Ok(TextIndex {
            location: location.to_path_buf(),
            searcher,
            fields,
            tantivy_fields,
            row_field,
            row_bound,
            all_rows: OnceLock::new(),
        })
    }

    /// The text fields, in the order they were given when the index was
    /// written.
    pub fn fields(&self) -> &[TextField] {
        &self.fields
    }

    /// One more than the largest row any document holds (0 for an empty
    /// index): a table with fewer rows does not own this index.
    pub fn row_bound(&self) -> u64 {
        self.row_bound
    }

    /// The rows whose text matches `query`: Lucene syntax (terms,
    /// `"phrases"`, `AND`/`OR`/`NOT`, `field:value`, `prefix*`, grouping;
    /// default operator `OR`, as Lucene), over `fields` (every field of the
    /// index when empty).
    pub fn search(&self, query: &str, fields: &[String]) -> Result<RoaringBitmap, TextQueryError> {
        let query_fields: Vec<query::QueryField<'_>> = self
            .fields
            .iter()
            .zip(&self.tantivy_fields)
            .map(|(f, &field)| query::QueryField {
                name: &f.name,
                field,
                analyzer: f.analyzer,
            })
            .collect();
        let defaults = if fields.is_empty() {
            (0..self.fields.len()).collect()
        } else {
            fields
                .iter()
                .map(|name| field_position(&self.fields, name))
                .collect::<Result<Vec<_>, _>>()?
        };
        let target = query::Target {
            location: &self.location,
            searcher: &self.searcher,
            fields: &query_fields,
        };
        let plan = query::plan(query, &target, &defaults)?;
        plan.rows(&|leaf| self.rows_of(leaf), &|| self.all_rows())
    }

    /// The rows of the documents `query` matches.
    fn rows_of(&self, query: &dyn Query) -> Result<RoaringBitmap, TextQueryError> {
        let collector = rows::RowCollector {
            row_field: &self.row_field,
        };
        self.searcher
            .search(query, &collector)
            .map_err(|e| TextQueryError::Index(TextIndexError::corrupt(&self.location, e)))
    }

    /// The rows of every document, found once and kept.
    fn all_rows(&self) -> Result<RoaringBitmap, TextQueryError> {
        if let Some(rows) = self.all_rows.get() {
            return Ok(rows.clone());
        }
        let rows = self.rows_of(&AllQuery)?;
        Ok(self.all_rows.get_or_init(|| rows).clone())
    }
}

#[cfg(test)]
mod tests;

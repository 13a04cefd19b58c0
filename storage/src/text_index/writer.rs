//! Writing a full-text index, row by row, beside the table it indexes.
//!
//! The index is built in a staging directory next to its final place and
//! renamed into place only once tantivy has committed and fsync'd it. So a
//! writer abandoned half-way (an error in the table it follows, a crash)
//! leaves at most a `*.partial` directory that nothing reads — the catalog
//! sweeps unpublished segment directories whole — and never a `text/`
//! directory that a reader would trust with half the rows.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use tantivy::directory::MmapDirectory;
use tantivy::schema::Field;
use tantivy::{Directory, Index, IndexWriter, TantivyDocument};

use super::{TextField, TextIndexError, index_schema, new_index};

/// Memory tantivy may fill with postings before it writes a segment out.
const INDEXING_BUDGET_BYTES: usize = 64 << 20;

/// Adds one document per row, rows in increasing order, and commits.
pub(super) struct DocumentSink {
    location: PathBuf,
    writer: IndexWriter<TantivyDocument>,
    fields: Vec<Field>,
    row_field: Field,
    /// The smallest row the next document may have.
    next_row: u64,
}

impl DocumentSink {
    /// A sink into a new index over `fields` in `directory`.
    pub(super) fn create(
        location: &Path,
        directory: impl Into<Box<dyn Directory>>,
        fields: &[TextField],
    ) -> Result<(Self, Index), TextIndexError> {
        let (schema, row_field) = index_schema(location, fields)?;
        let index = new_index(location, directory, schema.clone())?;
        let failed = |e: tantivy::TantivyError| TextIndexError::write(location, e);
        // One indexing thread: documents are numbered in the order they come.
        let writer = index
            .writer_with_num_threads(1, INDEXING_BUDGET_BYTES)
            .map_err(failed)?;
        let fields = fields
            .iter()
            .map(|f| schema.get_field(&f.name).map_err(failed))
            .collect::<Result<_, _>>()?;
        let sink = Self {
            location: location.to_path_buf(),
            writer,
            fields,
            row_field: schema.get_field(&row_field).map_err(failed)?,
            next_row: 0,
        };
        Ok((sink, index))
    }

    /// Indexes row `row`: one value per field, in field order.
    pub(super) fn add_row(
        &mut self,
        row: u32,
        values: &[Option<&str>],
    ) -> Result<(), TextIndexError> {
        if values.len() != self.fields.len() {
            return Err(TextIndexError::invalid_input(
                &self.location,
                format!(
                    "row {row} has {} text values, the index has {} text fields",
                    values.len(),
                    self.fields.len()
                ),
            ));
        }
        if u64::from(row) < self.next_row {
            return Err(TextIndexError::invalid_input(
                &self.location,
                format!(
                    "row {row} comes after row {}: rows must be added in increasing order",
                    self.next_row - 1
                ),
            ));
        }
        let mut document = TantivyDocument::default();
        document.add_u64(self.row_field, u64::from(row));
        for (&field, value) in self.fields.iter().zip(values) {
            if let Some(text) = value {
                document.add_text(field, text);
            }
        }
        self.writer
            .add_document(document)
            .map_err(|e| TextIndexError::write(&self.location, e))?;
        self.next_row = u64::from(row) + 1;
        Ok(())
    }

    /// Commits every row added and waits for tantivy's merges to end.
    pub(super) fn commit(mut self) -> Result<(), TextIndexError> {
        let failed = |e: tantivy::TantivyError| TextIndexError::write(&self.location, e);
        self.writer.commit().map_err(failed)?;
        self.writer.wait_merging_threads().map_err(failed)
    }
}

/// Builds the full-text index of a table's text columns in a directory of
/// its own (`<segment dir>/text/` for a segment's events table).
pub struct TextIndexWriter {
    dir: PathBuf,
    staging: PathBuf,
    sink: DocumentSink,
}

impl TextIndexWriter {
    /// Starts an index over `fields` that will be found in `dir`, which must
    /// not exist yet.
    pub fn create(dir: &Path, fields: &[TextField]) -> Result<Self, TextIndexError> {
        if dir.exists() {
            return Err(TextIndexError::invalid_input(
                dir,
                "already exists; a full-text index is written into a new directory".into(),
            ));
        }
        let staging = staging_dir(dir);
        fs::create_dir(&staging).map_err(|e| TextIndexError::io(&staging, e))?;
        let directory =
            MmapDirectory::open(&staging).map_err(|e| TextIndexError::write(&staging, e))?;
        let (sink, _) = DocumentSink::create(&staging, directory, fields)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staging,
            sink,
        })
    }

    /// Indexes row `row`, given one value per field in the order of the
    /// fields (`None` for a null). Rows come in increasing order; a row whose
    /// values are all null is still a document, which `NOT x` matches.
    pub fn add_row(&mut self, row: u32, values: &[Option<&str>]) -> Result<(), TextIndexError> {
        self.sink.add_row(row, values)
    }

    /// Commits the index, fsync'd, and moves it into place.
    pub fn finish(self) -> Result<(), TextIndexError> {
        self.sink.commit()?;
        fs::rename(&self.staging, &self.dir).map_err(|e| TextIndexError::io(&self.dir, e))?;
        if let Some(parent) = self.dir.parent() {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| TextIndexError::io(parent, e))?;
        }
        Ok(())
    }
}

/// Where the index bound for `dir` is built.
fn staging_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dir.with_file_name(name)
}

//! Segments kept open between queries.
//!
//! Opening a segment reads its manifest and each table's footer, and maps
//! its files; its tables then remember, for as long as they are open, which
//! blocks passed their checksum and the dictionaries and bitmap groups they
//! have decompressed. A historical node in Druid keeps its segments mapped
//! for the same reason: a dashboard asks the same segments again and again,
//! and a query that reopened them would pay for all of that every time.
//!
//! [`OpenSegments`] holds each segment opened once, by directory, shared by
//! the queries that read it. A segment is immutable once published, so an
//! open one never goes stale; the cache is told which segments are still
//! published ([`OpenSegments::retain`]) and lets the others go. A query
//! still reading a retired segment keeps its own handle: the mapping stays
//! valid after the directory is deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use strata_storage::segment::{Segment, SegmentError};

/// See the [module docs](self).
#[derive(Debug, Default)]
pub struct OpenSegments {
    by_dir: Mutex<HashMap<PathBuf, Arc<Segment>>>,
}

impl OpenSegments {
    pub fn new() -> Self {
        Self::default()
    }

    /// The segment in `dir`, opened now if no query has opened it yet.
    pub fn open(&self, dir: &Path) -> Result<Arc<Segment>, SegmentError> {
        if let Some(segment) = self.lock().get(dir) {
            return Ok(Arc::clone(segment));
        }
        // Opened outside the lock: other queries' segments need not wait.
        let opened = Arc::new(Segment::open(dir)?);
        Ok(Arc::clone(
            self.lock().entry(dir.to_path_buf()).or_insert(opened),
        ))
    }

    /// Lets go of every segment whose directory is not in `published`.
    pub fn retain<'a>(&self, published: impl IntoIterator<Item = &'a Path>) {
        let published: Vec<&Path> = published.into_iter().collect();
        self.lock()
            .retain(|dir, _| published.contains(&dir.as_path()));
    }

    /// How many segments are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Segment>>> {
        self.by_dir.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

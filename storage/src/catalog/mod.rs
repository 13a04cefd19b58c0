//! The catalog: the durable list, per datasource, of its spec, its published
//! segments and its ingest offsets.
//!
//! Everything Strata serves is reachable from the catalog. For each datasource
//! it keeps a [`DataSourceState`]:
//!
//! - the **spec** the datasource was created with (widened later by schema
//!   discovery through [`Catalog::update_spec`]);
//! - the **visible segments**: the published segments no newer version hides;
//! - the **offsets**: an opaque JSON map that ingest connectors use to
//!   remember how far they have read (the Kafka connector stores partition
//!   offsets there).
//!
//! Segments and offsets change together through [`Catalog::publish`], which is
//! all or nothing: after a crash the catalog holds either everything a publish
//! asked for or none of it. Storing offsets in the same commit as the segments
//! built from those messages is what makes Kafka ingest exactly-once. The
//! rules of publishing — which segments a new one retires, which requests are
//! refused — are in [`publish`].
//!
//! A segment is written before it is published: the writer asks
//! [`Catalog::segment_dir`] where its files go, writes them there, then
//! publishes the segment's [`SegmentDescriptor`]. Files of segments that never
//! get published, and of segments a publish retires, are removed by the
//! catalog.
//!
//! [`Catalog`] is a trait so a catalog in PostgreSQL can take over for a
//! cluster; the embedded default is [`FileCatalog`], a directory of small
//! checksummed files (its layout and crash-safety protocol are described in
//! [`file`](mod@file)).
//!
//! ```no_run
//! use strata_storage::catalog::{Catalog, FileCatalog, Publish, SegmentDescriptor, SegmentId};
//! use strata_storage::spec::DataSourceSpec;
//! use strata_storage::time::Interval;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalog = FileCatalog::open("/var/lib/strata")?;
//! let spec = DataSourceSpec::from_json(r#"{"dataSource": "weblogs"}"#)?;
//! let weblogs = spec.data_source_name().clone();
//! catalog.create_datasource(spec)?;
//!
//! let day = Interval::new(1_704_067_200_000, 1_704_153_600_000)?;
//! let id = SegmentId::new(weblogs, day, catalog.new_version()?, 0)?;
//! let dir = catalog.segment_dir(&id);
//! // ... write the segment's files into `dir` ...
//! # let _ = dir;
//! let outcome = catalog.publish("weblogs", Publish::segments(vec![
//!     SegmentDescriptor { id, rows: 1_000, bytes: 65_536 },
//! ]))?;
//! assert!(outcome.retired.is_empty());
//! # Ok(())
//! # }
//! ```

pub mod file;
pub mod file_format;
pub mod publish;
pub mod segment_id;
pub mod version;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::spec::DataSourceSpec;

pub use file::FileCatalog;
pub use file_format::FileProblem;
pub use publish::{Publish, PublishOutcome, PublishRejection};
pub use segment_id::{InvalidSegmentId, SegmentDescriptor, SegmentId};
pub use version::{Version, VersionError};

/// One datasource as the catalog holds it. Catalogs hand out snapshots
/// (`Arc<DataSourceState>`): a snapshot never changes, a later change makes a
/// new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSourceState {
    pub spec: DataSourceSpec,
    /// The visible segments, sorted by [`SegmentId`] (so by interval, then
    /// version, then partition). Newer segments that cover only part of an
    /// older one are listed alongside it; see [`publish`].
    pub segments: Vec<SegmentDescriptor>,
    /// Opaque ingest offsets, owned by the connectors.
    pub offsets: BTreeMap<String, serde_json::Value>,
}

impl DataSourceState {
    /// The state of a datasource just created from `spec`.
    pub fn new(spec: DataSourceSpec) -> DataSourceState {
        DataSourceState {
            spec,
            segments: Vec::new(),
            offsets: BTreeMap::new(),
        }
    }

    pub fn name(&self) -> &str {
        self.spec.name()
    }
}

/// The durable store of datasources, their segments and offsets.
///
/// Every change is atomic and durable when it returns `Ok`. Reads are cheap
/// snapshots that never wait for a change being written.
pub trait Catalog: Send + Sync {
    /// Adds a datasource with no segments and no offsets.
    fn create_datasource(&self, spec: DataSourceSpec)
    -> Result<Arc<DataSourceState>, CatalogError>;

    /// Replaces the spec of datasource `name`; the spec must keep the name.
    fn update_spec(
        &self,
        name: &str,
        spec: DataSourceSpec,
    ) -> Result<Arc<DataSourceState>, CatalogError>;

    /// Removes datasource `name` with its offsets, and returns the segments it
    /// listed: their files may be deleted (the [`FileCatalog`] deletes them
    /// itself) and anything holding them open should let go.
    fn drop_datasource(&self, name: &str) -> Result<Vec<SegmentDescriptor>, CatalogError>;

    /// The names of all datasources, sorted.
    fn datasource_names(&self) -> Vec<String>;

    /// A snapshot of datasource `name`.
    fn datasource(&self, name: &str) -> Option<Arc<DataSourceState>>;

    /// Publishes segments and offsets to datasource `name`, all or nothing;
    /// see [`publish`] for the rules.
    fn publish(&self, name: &str, request: Publish) -> Result<PublishOutcome, CatalogError>;

    /// Where the files of segment `id` must be written before it is published.
    fn segment_dir(&self, id: &SegmentId) -> PathBuf;

    /// A version strictly newer than every version this catalog stores or has
    /// handed out, for segments that must replace what is visible (a bulk
    /// re-load). Appending a partition to a time chunk reuses that chunk's
    /// version instead.
    fn new_version(&self) -> Result<Version, CatalogError>;
}

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("datasource `{name}` already exists; update its spec or drop it first")]
    AlreadyExists { name: String },

    #[error("there is no datasource named `{name}`")]
    UnknownDatasource { name: String },

    #[error(
        "the spec names datasource `{in_spec}` but was given for `{name}`; a datasource \
         cannot be renamed"
    )]
    SpecNameMismatch { name: String, in_spec: String },

    #[error("publish to datasource `{datasource}` refused: {reason}")]
    PublishRejected {
        datasource: String,
        /// Boxed: rejections carry whole segment ids, and every `Result`
        /// of the catalog would pay for their size.
        reason: Box<PublishRejection>,
    },

    #[error(
        "segment {segment} has no directory {}; write its files there before publishing it",
        dir.display()
    )]
    MissingSegmentFiles { segment: SegmentId, dir: PathBuf },

    #[error(transparent)]
    Version(#[from] VersionError),

    #[error(
        "data directory {} is in use by another process ({}); stop that server or loader, \
         or point this one at another data directory", path.display(), LockHolder(*pid)
    )]
    DataDirInUse { path: PathBuf, pid: Option<u32> },

    #[error(
        "catalog file {} is unusable: {problem}. Restore it from a backup; moving it away \
         drops that datasource, and the next start deletes its segments", path.display()
    )]
    CorruptFile { path: PathBuf, problem: FileProblem },

    #[error("cannot encode datasource `{name}` as JSON: {source}")]
    Encode {
        name: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("I/O error while {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "the catalog refuses changes since a write whose outcome is unknown failed ({cause}); \
         restart to reload the catalog from disk"
    )]
    Poisoned { cause: String },
}

/// Prints the pid recorded in a data directory's lock file.
struct LockHolder(Option<u32>);

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "pid {pid}"),
            None => f.write_str("pid unknown"),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders shared by the catalog's tests.

    use super::{DataSourceSpec, SegmentDescriptor, SegmentId, Version};
    use crate::spec::DataSourceName;
    use crate::time::Interval;

    /// A complete, valid spec for datasource `name`, so tests keep passing
    /// once the spec module validates everything.
    pub fn spec(name: &str) -> DataSourceSpec {
        let json = format!(
            r#"{{
              "dataSource": "{name}",
              "timestampSpec": {{"column": "timestamp", "format": "auto"}},
              "dimensionsSpec": {{"dimensions": [
                "host", "method", "country", {{"type": "long", "name": "status"}},
                {{"type": "text", "name": "message"}}
              ]}},
              "metricsSpec": [
                {{"type": "count", "name": "count"}},
                {{"type": "longSum", "name": "bytes", "fieldName": "bytes"}},
                {{"type": "doubleMax", "name": "max_latency", "fieldName": "latency_ms"}}
              ],
              "granularitySpec": {{"segmentGranularity": "hour", "queryGranularity": "minute", "rollup": true}}
            }}"#
        );
        match DataSourceSpec::from_json(&json) {
            Ok(spec) => spec,
            Err(e) => panic!("the test spec for `{name}` no longer parses: {e}"),
        }
    }

    /// Version number `n` of the tests: `n` microseconds after 2024-01-01.
    pub fn version(n: u32) -> Version {
        let base = 1_704_067_200_000_000;
        Version::from_epoch_micros(base + i64::from(n)).unwrap()
    }

    /// A segment of `datasource` over `[start, end)` at test version `v`.
    pub fn segment(
        datasource: &str,
        start: i64,
        end: i64,
        v: u32,
        partition: u32,
    ) -> SegmentDescriptor {
        let interval = Interval::new(start, end).unwrap();
        SegmentDescriptor {
            id: SegmentId::new(
                DataSourceName::new(datasource).unwrap(),
                interval,
                version(v),
                partition,
            )
            .unwrap(),
            rows: 100 + u64::from(partition),
            bytes: 4096,
        }
    }
}

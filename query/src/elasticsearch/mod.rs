//! The Elasticsearch front-end: the search API that Grafana's built-in
//! Elasticsearch datasource, Kibana-style tools and the official clients
//! speak, lowered into the same [logical plan](crate::plan) as Druid's
//! native queries.
//!
//! An *index* is a datasource; its fields are the events' fields
//! ([`fields`]). A search body is read against them ([`search`]): the
//! `query` ([`query_dsl`], with Lucene's syntax in [`query_string`]) becomes
//! the plan's intervals and filter, the hits a scan plan, the `aggs`
//! ([`aggs`]) one aggregate plan per bucket aggregation. Times are read as
//! [`dates`] says; errors have Elasticsearch's shape ([`error`]).
//!
//! ```text
//! POST /logs/_search {"query": {"bool": {"filter": [{"range": ...}, {"query_string": ...}]}},
//!                     "aggs": {"2": {"date_histogram": ...}}}
//!   ├─ range on the time field ───────────> plan intervals
//!   ├─ query_string, term, match, ... ────> plan filter
//!   ├─ hits (size, sort, from) ───────────> ScanPlan
//!   └─ aggs ──────────────────────────────> QueryPlan per bucket aggregation
//! ```
//!
//! What is not answered (scripts, scores, nested documents, geo) is refused
//! with an error that says so, never ignored.

pub mod aggs;
pub mod dates;
pub mod error;
pub mod fields;
pub mod indices;
pub mod query_dsl;
pub mod query_string;
pub mod search;

pub use error::EsError;
pub use fields::IndexFields;
pub use search::{IndexAnswer, IndexReader, SearchRequest};

use strata_storage::catalog::Catalog;

use crate::plan::{QueryPlan, ResultRow, ScanPlan};
use crate::query_limits::QueryLimits;
use crate::scan_query::ScanResult;
use crate::snapshot::{DataSourceSnapshot, QueryError};

/// An index read through a snapshot of its datasource, within a query's
/// limits.
pub struct SnapshotReader<'a> {
    pub snapshot: &'a DataSourceSnapshot,
    pub catalog: &'a dyn Catalog,
    pub limits: &'a QueryLimits,
}

impl aggs::run::PlanRunner for SnapshotReader<'_> {
    fn aggregate(&self, plan: &QueryPlan) -> Result<Vec<ResultRow>, QueryError> {
        self.snapshot.execute(plan, self.catalog, self.limits)
    }
}

impl IndexReader for SnapshotReader<'_> {
    fn scan(&self, plan: &ScanPlan) -> Result<ScanResult, QueryError> {
        self.snapshot.scan(plan, self.catalog, self.limits)
    }
}

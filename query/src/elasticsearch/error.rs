//! Errors in Elasticsearch's shape, which its clients and Grafana read:
//!
//! ```json
//! {"error": {"root_cause": [{"type": "parsing_exception", "reason": "..."}],
//!            "type": "parsing_exception", "reason": "..."},
//!  "status": 400}
//! ```

use serde_json::{Value, json};

use crate::druid::json::JsonError;
use crate::snapshot::QueryError;

/// A failed request, with the HTTP status and Elasticsearch's error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct EsError {
    pub status: u16,
    /// Elasticsearch's `error.type`: `parsing_exception`,
    /// `illegal_argument_exception`, `index_not_found_exception`, ...
    pub kind: &'static str,
    pub reason: String,
}

impl EsError {
    pub fn new(status: u16, kind: &'static str, reason: impl Into<String>) -> EsError {
        EsError {
            status,
            kind,
            reason: reason.into(),
        }
    }

    /// A request body that does not read: the place and the problem.
    pub fn parsing(error: JsonError) -> EsError {
        EsError::new(
            400,
            "parsing_exception",
            format!("[{}] {}", error.path, error.message),
        )
    }

    pub fn illegal_argument(reason: impl Into<String>) -> EsError {
        EsError::new(400, "illegal_argument_exception", reason)
    }

    pub fn index_not_found(index: &str) -> EsError {
        EsError::new(
            404,
            "index_not_found_exception",
            format!(
                "no such index [{index}]; an index is a datasource: create it with POST /v1/datasources"
            ),
        )
    }

    pub fn too_many_buckets(aggregation: &str, buckets: usize) -> EsError {
        EsError::new(
            400,
            "too_many_buckets_exception",
            format!(
                "[{aggregation}] would answer {buckets} buckets, more than the {} allowed; use a larger interval or a smaller size",
                super::aggs::MAX_BUCKETS
            ),
        )
    }

    /// A plan that failed: a stop (timeout, memory budget, cancel), a
    /// damaged table (the server's fault) or the request's mistake.
    pub fn from_query(error: QueryError) -> EsError {
        if let Some(stopped) = error.stopped() {
            return match stopped {
                crate::query_limits::QueryStopped::TimedOut { .. } => {
                    EsError::new(504, "search_timeout_exception", stopped.to_string())
                }
                crate::query_limits::QueryStopped::OverMemoryBudget { .. } => {
                    EsError::new(429, "circuit_breaking_exception", stopped.to_string())
                }
                crate::query_limits::QueryStopped::Cancelled => {
                    EsError::new(400, "task_cancelled_exception", stopped.to_string())
                }
            };
        }
        if error.is_table_damage() {
            EsError::new(500, "exception", error.to_string())
        } else {
            EsError::new(400, "search_phase_execution_exception", error.to_string())
        }
    }

    /// The error body.
    pub fn to_json(&self) -> Value {
        json!({
            "error": {
                "root_cause": [{"type": self.kind, "reason": self.reason}],
                "type": self.kind,
                "reason": self.reason,
            },
            "status": self.status,
        })
    }
}

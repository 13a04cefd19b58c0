//! The error contract of the Druid routes: Druid's own shape,
//! `{"error": "<Druid error code>", "errorMessage": "...", "errorClass":
//! "...", "host": null}`, so that Druid's clients (pydruid, Superset,
//! Grafana's Druid plugin) read our failures as they read Druid's.
//!
//! The codes, statuses and classes are the ones Druid documents and sends
//! (Druid's `QueryException`):
//!
//! | failure | status | `error` | `errorClass` |
//! | --- | --- | --- | --- |
//! | the body is not JSON | 400 | `Json parse failed` | `com.fasterxml.jackson.core.JsonParseException` |
//! | an invalid or unsupported query | 400 | `Unknown exception` | `org.apache.druid.error.DruidException` |
//! | an unknown datasource | 404 | `Unknown exception` | `org.apache.druid.error.DruidException` |
//! | over the memory budget | 400 | `Resource limit exceeded` | `org.apache.druid.query.ResourceLimitExceededException` |
//! | cancelled | 500 | `Query cancelled` | `org.apache.druid.query.QueryInterruptedException` |
//! | past its timeout | 504 | `Query timeout` | `org.apache.druid.query.QueryTimeoutException` |
//! | the server's own fault | 500 | `Unknown exception` | `java.lang.RuntimeException` |
//!
//! `errorMessage` is Strata's message, which names the field at fault and
//! how to fix it. `host` is null, as a Druid Broker answering for itself
//! sends it. The other routes keep Strata's `{"error", "message"}` contract
//! ([`crate::api_error`]).

use serde::Serialize;
use strata_query::query_limits::QueryStopped;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// A failure on a Druid route, on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DruidApiError {
    status: StatusCode,
    code: &'static str,
    class: &'static str,
    message: String,
    /// The `outcome` label of `strata_queries_total` for this failure.
    outcome: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DruidErrorBody<'a> {
    error: &'a str,
    error_message: &'a str,
    error_class: &'a str,
    host: Option<&'a str>,
}

const DRUID_EXCEPTION: &str = "org.apache.druid.error.DruidException";
const UNKNOWN_EXCEPTION: &str = "Unknown exception";

impl DruidApiError {
    /// The body is not JSON.
    pub fn not_json(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Json parse failed",
            "com.fasterxml.jackson.core.JsonParseException",
            "invalid",
            message,
        )
    }

    /// The query is invalid or asks for what is not supported.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            UNKNOWN_EXCEPTION,
            DRUID_EXCEPTION,
            "invalid",
            message,
        )
    }

    /// The query names a datasource that does not exist.
    pub fn unknown_datasource(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            UNKNOWN_EXCEPTION,
            DRUID_EXCEPTION,
            "not_found",
            format!("there is no datasource named `{name}`; GET /druid/v2/datasources lists them"),
        )
    }

    /// The server failed, not the query.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            UNKNOWN_EXCEPTION,
            "java.lang.RuntimeException",
            "error",
            message,
        )
    }

    /// The query was stopped before its end.
    pub fn stopped(stopped: &QueryStopped) -> Self {
        let (status, code, class, outcome) = match stopped {
            QueryStopped::Cancelled => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Query cancelled",
                "org.apache.druid.query.QueryInterruptedException",
                "cancelled",
            ),
            QueryStopped::TimedOut { .. } => (
                StatusCode::GATEWAY_TIMEOUT,
                "Query timeout",
                "org.apache.druid.query.QueryTimeoutException",
                "timeout",
            ),
            QueryStopped::OverMemoryBudget { .. } => (
                StatusCode::BAD_REQUEST,
                "Resource limit exceeded",
                "org.apache.druid.query.ResourceLimitExceededException",
                "over_memory_budget",
            ),
        };
        Self::new(status, code, class, outcome, stopped.to_string())
    }

    fn new(
        status: StatusCode,
        code: &'static str,
        class: &'static str,
        outcome: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            class,
            message: message.into(),
            outcome,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Druid's error code, the `error` field.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The `outcome` label of `strata_queries_total`: `invalid`,
    /// `not_found`, `over_memory_budget`, `timeout`, `cancelled` or `error`.
    pub fn outcome(&self) -> &'static str {
        self.outcome
    }
}

impl DruidApiError {
    fn body(&self) -> DruidErrorBody<'_> {
        DruidErrorBody {
            error: self.code,
            error_message: &self.message,
            error_class: self.class,
            host: None,
        }
    }
}

impl Reply for DruidApiError {
    fn into_response(self) -> Response {
        warp::reply::with_status(warp::reply::json(&self.body()), self.status).into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_timeout_is_a_504_in_druids_shape() {
        let error = DruidApiError::stopped(&QueryStopped::TimedOut {
            timeout: Duration::from_millis(1),
        });
        assert_eq!(error.status(), StatusCode::GATEWAY_TIMEOUT);
        let body = serde_json::to_value(error.body()).unwrap();
        assert_eq!(body["error"], "Query timeout");
        assert_eq!(
            body["errorClass"],
            "org.apache.druid.query.QueryTimeoutException"
        );
        assert_eq!(body["host"], serde_json::Value::Null);
        let message = body["errorMessage"].as_str().unwrap();
        assert!(message.contains("timeout of 1 ms"), "{body}");
        let mut fields: Vec<&String> = body.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["error", "errorClass", "errorMessage", "host"]);
    }

    #[test]
    fn a_cancel_is_a_500_and_a_memory_overrun_a_400() {
        let cancelled = DruidApiError::stopped(&QueryStopped::Cancelled);
        assert_eq!(
            (cancelled.status(), cancelled.code()),
            (StatusCode::INTERNAL_SERVER_ERROR, "Query cancelled")
        );
        let over = DruidApiError::stopped(&QueryStopped::OverMemoryBudget {
            what: "aggregation groups (9 groups)".into(),
            bytes: 2000,
            budget: 1000,
        });
        assert_eq!(
            (over.status(), over.code()),
            (StatusCode::BAD_REQUEST, "Resource limit exceeded")
        );
    }
}

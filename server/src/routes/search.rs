//! `POST /v1/datasources/{name}/search`: Strata's native full-text search —
//! the newest events matching a Lucene query, with totals and highlighted
//! fragments. What a search means and answers is
//! `strata_query::text_search`; this route reads the body, runs the search
//! as every query runs ([`query_thread`]: a blocking thread, the server's
//! `--query-timeout` and `--max-query-memory`, cancellable by
//! `DELETE /druid/v2/{queryId}` with the id of the `X-Druid-Query-Id`
//! header) and maps failures to the native error contract: an unknown
//! datasource is a 404, a mistake of the body or of the query (bad JSON, an
//! unknown member, a bad limit, a query that does not parse, a field that
//! is not a text dimension) a 400, a timeout a 504.

use bytes::Bytes;
use serde_json::Value;
use strata_ingest::service::IngestService;
use strata_query::query_limits::{QueryLimits, QueryStopped};
use strata_query::snapshot::QueryError;
use strata_query::text_search::{self, TextSearchRequest, TextSearchResponse};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use super::datasources::ingest_error;
use super::query_thread::{self, Interrupted, QUERY_ID_HEADER};
use crate::AppState;
use crate::api_error::ApiError;

/// The error kind of a search the client got wrong.
const INVALID: &str = "invalid_search";

/// `POST /v1/datasources/{name}/search`.
pub async fn search(state: AppState, name: String, body: Bytes) -> Response {
    let query_id = state.queries.new_query_id();
    let answer = run(&state, &query_id, &name, &body).await;
    state.metrics.count_query(match &answer {
        Ok(_) => "success",
        Err(error) if error.status().is_server_error() => "error",
        Err(_) => "invalid",
    });
    let mut response = match answer {
        Ok(answer) => warp::reply::json(&answer).into_response(),
        Err(error) => error.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&query_id) {
        response.headers_mut().insert(QUERY_ID_HEADER, value);
    }
    response
}

async fn run(
    state: &AppState,
    query_id: &str,
    name: &str,
    body: &[u8],
) -> Result<TextSearchResponse, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID,
            format!("the body is not JSON: {error}"),
        )
    })?;
    let request = TextSearchRequest::parse(name, &value)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, INVALID, error.to_string()))?;
    let limits = QueryLimits::new(
        Some(state.query_limits.default_timeout),
        state.query_limits.max_memory_bytes,
    );
    let job = move |service: &IngestService, limits: &QueryLimits| {
        let snapshot = service
            .read_view(&request.datasource)
            .map_err(ingest_error)?;
        text_search::search(&request, &snapshot, service.catalog().as_ref(), limits)
            .map_err(query_error)
    };
    match query_thread::run(state, query_id, limits, job).await {
        Ok(answer) => answer,
        Err(Interrupted::Stopped(stopped)) => Err(stopped_error(&stopped)),
        Err(Interrupted::ThreadFailed(error)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the search's thread failed: {error}"),
        )),
    }
}

/// A stopped search as a timeout or a budget; a damaged or unreadable
/// table as the server's fault; anything else as the search's.
fn query_error(error: QueryError) -> ApiError {
    if let Some(stopped) = error.stopped() {
        return stopped_error(stopped);
    }
    if error.is_table_damage() {
        tracing::error!("search failed: {error}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, INVALID, error.to_string())
    }
}

fn stopped_error(stopped: &QueryStopped) -> ApiError {
    let (status, kind) = match stopped {
        QueryStopped::TimedOut { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        QueryStopped::OverMemoryBudget { .. } => (StatusCode::BAD_REQUEST, "over_memory_budget"),
        QueryStopped::Cancelled => (StatusCode::INTERNAL_SERVER_ERROR, "cancelled"),
    };
    ApiError::new(status, kind, stopped.to_string())
}

//! Druid's query API: `POST /druid/v2` (a native JSON query),
//! `DELETE /druid/v2/{queryId}` (cancel it) and `GET /druid/v2/datasources`,
//! so that Druid's clients work unchanged.
//!
//! The body is read into a Druid query (`strata_query::druid`), run on a
//! snapshot of the datasource (its segments and real-time chunks, read
//! together by the ingest service) and answered in Druid's response shape,
//! failures included ([`crate::druid_error`]).
//!
//! # A query's run
//!
//! Its `context` gives its `queryId` (one is made up when missing; either
//! way it comes back in the `X-Druid-Query-Id` header), its `timeout` (else
//! the server's `--query-timeout`) and its `maxQueryMemoryBytes` (at most
//! the server's `--max-query-memory`). The query runs on a blocking thread
//! within those [`QueryLimits`], registered under its id, while the request
//! waits for the first of: its answer, its deadline (504), or a cancel by
//! `DELETE /druid/v2/{queryId}` (500 `Query cancelled`, as Druid answers).
//! An answer at the deadline or at a cancel does not wait for the query to
//! notice: the query stops at its next check, between tables and between
//! the blocks of rows it folds.

use bytes::Bytes;
use serde_json::Value;
use strata_ingest::service::{IngestError, IngestService};
use strata_query::druid::context::QueryContext;
use strata_query::druid::{self, DruidRequest};
use strata_query::query_limits::QueryLimits;
use strata_query::snapshot::QueryError;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::AppState;
use crate::druid_error::DruidApiError;
use crate::routes::query_thread::{self, Interrupted, QUERY_ID_HEADER};

/// `POST /druid/v2`.
pub async fn query(state: AppState, body: Bytes) -> Response {
    let (query_id, answer) = run(&state, &body).await;
    let outcome = answer
        .as_ref()
        .err()
        .map_or("success", DruidApiError::outcome);
    state.metrics.count_query(outcome);
    let mut response = match answer {
        Ok(answer) => warp::reply::json(&answer).into_response(),
        Err(error) => {
            if error.outcome() == "error" {
                tracing::error!(query_id = query_id.as_deref(), "query failed: {error:?}");
            }
            error.into_response()
        }
    };
    // An id a header cannot carry (a control character) is left out.
    if let Some(value) = query_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(QUERY_ID_HEADER, value);
    }
    response
}

/// `DELETE /druid/v2/{queryId}`: 202 Accepted whether or not a query of
/// that id is running (it may have just ended), as Druid answers.
pub fn cancel(state: &AppState, query_id: &str) -> Response {
    let cancelled = state.queries.cancel(query_id);
    tracing::info!(query_id, cancelled, "cancel requested");
    warp::reply::with_status(warp::reply(), StatusCode::ACCEPTED).into_response()
}

/// `GET /druid/v2/datasources`: the datasource names, sorted.
pub fn datasources(service: &IngestService) -> Response {
    warp::reply::json(&service.datasource_names()).into_response()
}

/// Reads and runs the query; returns its id once known, and its answer.
async fn run(state: &AppState, body: &[u8]) -> (Option<String>, Result<Value, DruidApiError>) {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            let message = format!("the body is not JSON: {error}");
            return (None, Err(DruidApiError::not_json(message)));
        }
    };
    let context = match QueryContext::parse(&value) {
        Ok(context) => context,
        Err(error) => return (None, Err(DruidApiError::invalid_query(error.to_string()))),
    };
    let query_id = context
        .query_id
        .clone()
        .unwrap_or_else(|| state.queries.new_query_id());
    let limits = QueryLimits::new(
        context.timeout(Some(state.query_limits.default_timeout)),
        context.memory_budget(state.query_limits.max_memory_bytes),
    );
    let answer = match druid::parse_request(&value) {
        Ok(request) => run_within(state, &query_id, request, limits).await,
        Err(error) => Err(DruidApiError::invalid_query(error.to_string())),
    };
    (Some(query_id), answer)
}

/// Runs `request` on a blocking thread, registered under `query_id`, and
/// waits for its answer, its deadline or a cancel, whichever comes first.
async fn run_within(
    state: &AppState,
    query_id: &str,
    request: DruidRequest,
    limits: QueryLimits,
) -> Result<Value, DruidApiError> {
    let job =
        move |service: &IngestService, limits: &QueryLimits| answer(service, &request, limits);
    match query_thread::run(state, query_id, limits, job).await {
        Ok(answer) => answer,
        Err(Interrupted::Stopped(stopped)) => Err(DruidApiError::stopped(&stopped)),
        Err(Interrupted::ThreadFailed(error)) => Err(DruidApiError::internal(format!(
            "the query's thread failed: {error}"
        ))),
    }
}

/// Answers `request`, within `limits`.
fn answer(
    service: &IngestService,
    request: &DruidRequest,
    limits: &QueryLimits,
) -> Result<Value, DruidApiError> {
    let catalog = service.catalog().as_ref();
    let snapshot = || {
        service
            .read_view(request.datasource())
            .map_err(ingest_error)
    };
    Ok(match request {
        DruidRequest::Aggregate(query) => {
            let rows = snapshot()?
                .execute(&query.plan, catalog, limits)
                .map_err(query_error)?;
            druid::response::render(query, rows)
        }
        DruidRequest::Scan(query) => {
            let result = snapshot()?
                .scan(&query.plan, catalog, limits)
                .map_err(query_error)?;
            druid::response::render_scan(query, &result)
        }
        DruidRequest::Search(plan) => {
            let buckets = snapshot()?
                .search(plan, catalog, limits)
                .map_err(query_error)?;
            druid::response::render_search(&buckets)
        }
        DruidRequest::TimeBoundary { bound, filter, .. } => {
            let snapshot = snapshot()?;
            let bounds = match filter {
                Some(filter) => snapshot.filtered_time_bounds(filter, catalog, limits),
                None => snapshot.time_bounds(catalog),
            }
            .map_err(query_error)?;
            druid::response::render_time_boundary(*bound, bounds)
        }
        DruidRequest::DataSourceMetadata { .. } => {
            let bounds = snapshot()?.time_bounds(catalog).map_err(query_error)?;
            druid::response::render_datasource_metadata(bounds.map(|(_, max)| max))
        }
        // Only published segments are described, so the real-time
        // chunks are not copied (under the index lock) as above.
        DruidRequest::SegmentMetadata(query) => {
            let state = catalog
                .datasource(&query.datasource)
                .ok_or_else(|| DruidApiError::unknown_datasource(&query.datasource))?;
            let analyses = strata_query::segment_metadata::analyze(&state, query, catalog)
                .map_err(query_error)?;
            druid::response::render_segment_metadata(&analyses)
        }
    })
}

fn ingest_error(error: IngestError) -> DruidApiError {
    match error {
        IngestError::UnknownDatasource { name } => DruidApiError::unknown_datasource(&name),
        other => DruidApiError::internal(other.to_string()),
    }
}

/// A stopped query as Druid reports it; a damaged or unreadable table as the
/// server's fault; anything else as the query's.
fn query_error(error: QueryError) -> DruidApiError {
    if let Some(stopped) = error.stopped() {
        return DruidApiError::stopped(stopped);
    }
    if error.is_table_damage() {
        DruidApiError::internal(error.to_string())
    } else {
        DruidApiError::invalid_query(error.to_string())
    }
}

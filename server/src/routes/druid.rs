//! Druid's query API: `POST /druid/v2` (a native JSON query) and
//! `GET /druid/v2/datasources`, so that Druid's clients work unchanged.
//!
//! The body is read into a Druid query (`strata_query::druid`), run on a
//! snapshot of the datasource (its segments and real-time chunks, read
//! together by the ingest service) and answered in Druid's response shape.
//! A query that does not parse is a 400 naming the field; an unknown
//! datasource a 404.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use strata_ingest::service::{IngestError, IngestService};
use strata_query::druid::{self, DruidRequest};
use strata_query::snapshot::QueryError;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::datasources::{blocking, ingest_error};
use crate::api_error::ApiError;

/// `POST /druid/v2`.
pub async fn query(service: Arc<IngestService>, body: Bytes) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("the body is not JSON: {error}"),
        )
    })?;
    let request = druid::parse_request(&value).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", error.to_string())
    })?;
    let answer = blocking(move || {
        let catalog = service.catalog().as_ref();
        let failed = |error: QueryError| {
            ApiError::new(StatusCode::BAD_REQUEST, "query_failed", error.to_string())
        };
        let snapshot = || {
            service
                .read_view(request.datasource())
                .map_err(ingest_error)
        };
        Ok(match &request {
            DruidRequest::Aggregate(query) => {
                let rows = snapshot()?.execute(&query.plan, catalog).map_err(failed)?;
                druid::response::render(query, rows)
            }
            DruidRequest::Scan(query) => {
                let result = snapshot()?.scan(&query.plan, catalog).map_err(failed)?;
                druid::response::render_scan(query, &result)
            }
            DruidRequest::Search(plan) => {
                let buckets = snapshot()?.search(plan, catalog).map_err(failed)?;
                druid::response::render_search(&buckets)
            }
            DruidRequest::TimeBoundary { bound, .. } => {
                let bounds = snapshot()?.time_bounds(catalog).map_err(failed)?;
                druid::response::render_time_boundary(*bound, bounds)
            }
            DruidRequest::DataSourceMetadata { .. } => {
                let bounds = snapshot()?.time_bounds(catalog).map_err(failed)?;
                druid::response::render_datasource_metadata(bounds.map(|(_, max)| max))
            }
            // Only published segments are described, so the real-time
            // chunks are not copied (under the index lock) as above.
            DruidRequest::SegmentMetadata(query) => {
                let state = catalog.datasource(&query.datasource).ok_or_else(|| {
                    ingest_error(IngestError::UnknownDatasource {
                        name: query.datasource.clone(),
                    })
                })?;
                let analyses = strata_query::segment_metadata::analyze(&state, query, catalog)
                    .map_err(failed)?;
                druid::response::render_segment_metadata(&analyses)
            }
        })
    })
    .await?;
    Ok(warp::reply::json(&answer).into_response())
}

/// `GET /druid/v2/datasources`: the datasource names, sorted.
pub fn datasources(service: &IngestService) -> Response {
    warp::reply::json(&service.datasource_names()).into_response()
}

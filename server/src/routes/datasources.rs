//! `/v1/datasources`: create, list, describe and drop datasources.
//!
//! Each handler translates between HTTP and the [`IngestService`], which
//! keeps the catalog, the WALs and the real-time indexes in step; its calls
//! do file I/O and fsyncs, so they run on the blocking thread pool.

use std::sync::Arc;

use strata_ingest::kafka::supervisors::Supervisors;

use serde::Serialize;
use strata_ingest::parse::BodyError;
use strata_ingest::service::{IngestError, IngestService, RealtimeStats};
use strata_storage::catalog::{CatalogError, DataSourceState, SegmentDescriptor};
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::format_millis;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::api_error::ApiError;

/// `POST /v1/datasources` with a spec: 201 and the stored datasource.
pub async fn create(service: Arc<IngestService>, body: bytes::Bytes) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_spec",
            format!("the spec is not UTF-8: {e}"),
        )
    })?;
    let spec = DataSourceSpec::from_json(text)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_spec", e.to_string()))?;
    let state = blocking(move || service.create_datasource(spec).map_err(ingest_error)).await?;
    Ok(warp::reply::with_status(
        warp::reply::json(&DataSourceView::of(&state, RealtimeStats::default())),
        StatusCode::CREATED,
    )
    .into_response())
}

/// `GET /v1/datasources`: the names, sorted.
pub async fn list(service: Arc<IngestService>) -> Result<Response, ApiError> {
    Ok(warp::reply::json(&service.catalog().datasource_names()).into_response())
}

/// `GET /v1/datasources/{name}`: spec, segments, rows, bytes, time bounds,
/// and what the real-time index holds.
pub async fn get(service: Arc<IngestService>, name: String) -> Result<Response, ApiError> {
    let lookup = name.clone();
    let snapshot = tokio::task::spawn_blocking(move || service.snapshot(&lookup))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("datasource lookup failed: {e}"),
            )
        })?;
    let (state, realtime) = snapshot.ok_or_else(|| unknown(&name))?;
    Ok(warp::reply::json(&DataSourceView::of(&state, realtime)).into_response())
}

/// `DELETE /v1/datasources/{name}`: drops it with its segments.
/// `DELETE /v1/datasources/{name}`; refused (409) while a Kafka supervisor
/// feeds the datasource.
pub async fn delete(supervisors: Arc<Supervisors>, name: String) -> Result<Response, ApiError> {
    let dropped_name = name.clone();
    let segments = blocking(move || {
        supervisors
            .drop_datasource(&name)
            .map_err(super::supervisors::supervisor_error)
    })
    .await?;
    Ok(warp::reply::json(&serde_json::json!({
        "dropped": dropped_name,
        "segments": segments.len(),
    }))
    .into_response())
}

fn unknown(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_datasource",
        format!("there is no datasource named `{name}`; GET /v1/datasources lists them"),
    )
}

/// Runs a blocking call (file I/O, fsyncs) on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(call).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("a blocking task failed: {e}"),
        )
    })?
}

/// The status and kind of an ingest service error.
pub(super) fn ingest_error(error: IngestError) -> ApiError {
    let (status, kind) = match error {
        IngestError::UnknownDatasource { name } => return unknown(&name),
        IngestError::Catalog(error) => return catalog_error(error),
        IngestError::Body(BodyError::TooLarge { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        }
        IngestError::Body(BodyError::UnknownEncoding { .. }) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding")
        }
        IngestError::Body(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
        IngestError::OverBudget { .. } => (StatusCode::TOO_MANY_REQUESTS, "over_budget"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "ingest_error"),
    };
    if status.is_server_error() {
        tracing::error!("ingest: {error}");
    }
    ApiError::new(status, kind, error.to_string())
}

fn catalog_error(error: CatalogError) -> ApiError {
    let (status, kind) = match &error {
        CatalogError::AlreadyExists { .. } => (StatusCode::CONFLICT, "datasource_exists"),
        CatalogError::UnknownDatasource { name } => return unknown(name),
        CatalogError::SpecNameMismatch { .. } => (StatusCode::BAD_REQUEST, "invalid_spec"),
        CatalogError::PublishRejected { .. } => (StatusCode::CONFLICT, "publish_rejected"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "catalog_error"),
    };
    if status.is_server_error() {
        tracing::error!("catalog: {error}");
    }
    ApiError::new(status, kind, error.to_string())
}

/// A datasource as the API shows it.
#[derive(Serialize)]
struct DataSourceView<'a> {
    name: &'a str,
    spec: &'a DataSourceSpec,
    segments: Vec<SegmentView>,
    rows: u64,
    bytes: u64,
    /// The span the segments cover, ISO-8601; absent with no segments.
    time_bounds: Option<TimeBounds>,
    /// What the real-time index holds, not yet in segments.
    realtime: RealtimeStats,
}

#[derive(Serialize)]
struct SegmentView {
    id: String,
    interval: String,
    version: String,
    partition: u32,
    rows: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct TimeBounds {
    min: String,
    max: String,
}

impl<'a> DataSourceView<'a> {
    fn of(state: &'a DataSourceState, realtime: RealtimeStats) -> Self {
        let segments: Vec<SegmentView> = state.segments.iter().map(SegmentView::of).collect();
        let start = state.segments.iter().map(|s| s.id.interval().start()).min();
        let end = state.segments.iter().map(|s| s.id.interval().end()).max();
        Self {
            name: state.name(),
            spec: &state.spec,
            rows: state.segments.iter().map(|s| s.rows).sum(),
            bytes: state.segments.iter().map(|s| s.bytes).sum(),
            segments,
            time_bounds: start.zip(end).map(|(min, max)| TimeBounds {
                min: format_millis(min),
                max: format_millis(max),
            }),
            realtime,
        }
    }
}

impl SegmentView {
    fn of(segment: &SegmentDescriptor) -> Self {
        Self {
            id: segment.id.to_string(),
            interval: segment.id.interval().to_string(),
            version: segment.id.version().to_string(),
            partition: segment.id.partition(),
            rows: segment.rows,
            bytes: segment.bytes,
        }
    }
}

//! `POST /v1/datasources/{name}/ingest`: NDJSON events into a datasource.
//!
//! The body is bounded twice: its `Content-Length` before a byte is read
//! ([`body_limit`]), and its decoded size while a gzip or zstd body inflates
//! (in the ingest service), both by the server's `--max-body-bytes`. The
//! answer is 200 with the [`IngestReport`] even when some lines were
//! rejected: the good lines are durable, and the report says which lines to
//! fix.
//!
//! While the datasource's real-time index is over `--max-realtime-bytes`
//! the answer is 429 with `Retry-After`: the service refuses to grow the
//! index and wakes the persister, so the client's retry lands once the
//! index is in segments.

use std::sync::Arc;

use strata_ingest::parse::BodyError;
use strata_ingest::service::{IngestError, IngestReport, IngestService};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::datasources::{blocking, ingest_error};
use crate::api_error::ApiError;

/// Rejects a body whose `Content-Length` is over `limit` bytes (413), or
/// that has none (411), before reading it.
pub fn body_limit(
    limit: usize,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(length) if length > limit as u64 => Err(warp::reject::custom(too_large(
                    format!(
                        "the body is {length} bytes, over the limit of {limit} bytes (--max-body-bytes); send fewer events per request"
                    ),
                ))),
                Some(_) => Ok(()),
                None => Err(warp::reject::custom(ApiError::new(
                    StatusCode::LENGTH_REQUIRED,
                    "length_required",
                    "send the body with a Content-Length header",
                ))),
            }
        })
        .untuple_one()
}

/// Seconds a client refused for backpressure should wait: about one persist.
const RETRY_AFTER_SECONDS: &str = "1";

fn too_large(message: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
}

/// Parses the body's lines, makes the good ones durable and answers with
/// the report.
pub async fn ingest(
    name: String,
    service: Arc<IngestService>,
    content_encoding: Option<String>,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let report: Result<IngestReport, ApiError> = blocking(move || {
        Ok(service
            .ingest(&name, &body, content_encoding.as_deref())
            .map_err(|error| match error {
                IngestError::Body(BodyError::TooLarge { limit }) => too_large(format!(
                    "the body is larger than {limit} bytes once decoded (--max-body-bytes); send fewer events per request"
                )),
                IngestError::OverBudget {
                    datasource,
                    bytes,
                    budget,
                } => ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "over_budget",
                    format!(
                        "datasource `{datasource}` holds {bytes} bytes not yet persisted, over the real-time budget of {budget} bytes (--max-realtime-bytes); a persist is under way, retry after {RETRY_AFTER_SECONDS} s"
                    ),
                ),
                other => ingest_error(other),
            }))
    })
    .await?;
    match report {
        Ok(report) => Ok(warp::reply::json(&report).into_response()),
        Err(error) if error.status() == StatusCode::TOO_MANY_REQUESTS => {
            Ok(warp::reply::with_header(error, "retry-after", RETRY_AFTER_SECONDS).into_response())
        }
        Err(error) => Err(error),
    }
}

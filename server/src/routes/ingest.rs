//! `POST /v1/datasources/{name}/ingest`: NDJSON events into a datasource.
//!
//! The body is bounded twice, both by the server's `--max-body-bytes`: as
//! sent ([`limited_body`]: by its `Content-Length` before a byte is read, or
//! while a chunked body streams in), and by its decoded size while a gzip or
//! zstd body inflates (in the ingest service). The
//! answer is 200 with the [`IngestReport`] even when some lines were
//! rejected: the good lines are durable, and the report says which lines to
//! fix.
//!
//! While the datasource's real-time index is over `--max-realtime-bytes`
//! the answer is 429 with `Retry-After`: the service refuses to grow the
//! index and wakes the persister, so the client's retry lands once the
//! index is in segments.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;

use strata_ingest::parse::BodyError;
use strata_ingest::service::{IngestError, IngestReport, IngestService};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::datasources::{blocking, ingest_error};
use crate::api_error::ApiError;

/// The request body, at most `limit` bytes: one whose `Content-Length` is
/// over is refused (413) before a byte is read, and a body sent without one
/// (chunked) is read only until it passes the limit.
pub fn limited_body(
    limit: usize,
) -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |length: Option<u64>, stream| async move {
            if let Some(length) = length
                && length > limit as u64
            {
                return Err(warp::reject::custom(too_large(format!(
                    "the body is {length} bytes, over the limit of {limit} bytes (--max-body-bytes); send fewer events per request"
                ))));
            }
            read_at_most(stream, limit, length)
                .await
                .map_err(warp::reject::custom)
        })
}

async fn read_at_most<S, B>(stream: S, limit: usize, length: Option<u64>) -> Result<Bytes, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::with_capacity(length.map_or(0, |length| length as usize));
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("the request body could not be read: {error}"),
            )
        })?;
        if body.len() + chunk.remaining() > limit {
            return Err(too_large(format!(
                "the body is over the limit of {limit} bytes (--max-body-bytes); send fewer events per request"
            )));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            body.extend_from_slice(piece);
            let taken = piece.len();
            chunk.advance(taken);
        }
    }
    Ok(body.freeze())
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
    body: Bytes,
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

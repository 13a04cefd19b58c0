//! `/v1/datasources/{name}/loads`: bulk loads sent over HTTP, as
//! `strata load --server` sends them.
//!
//! ```text
//! POST /v1/datasources/{name}/loads                       → {"id": ...}        open an upload
//! PUT  /v1/datasources/{name}/loads/{id}/files/{n}?name=F   body: file n's bytes, streamed to disk
//! POST /v1/datasources/{name}/loads/{id}/start            {"append", "maxErrors", "format", "memoryBytes"}
//! GET  /v1/datasources/{name}/loads/{id}                  progress, then the report
//! ```
//!
//! Files stream to the server's spool directory as they arrive (Parquet and
//! Arrow files must be seekable, and one load's files publish together), so
//! an upload takes disk, not memory. Once started, the load is a task like a
//! Druid batch task (`GET /druid/indexer/v1/task/{id}/status` sees it too).

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use strata_ingest::bulk_load::task::{LoadTasks, TaskState};
use strata_ingest::bulk_load::{InputFormat, LoadMode, LoadOptions};
use tokio::io::AsyncWriteExt;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::datasources::blocking;
use super::tasks::{report_view, task_error};
use crate::api_error::ApiError;

/// `POST /v1/datasources/{name}/loads`: 201 `{"id": ...}`.
pub async fn open(tasks: Arc<LoadTasks>, name: String) -> Result<Response, ApiError> {
    let id = blocking(move || tasks.open_upload(&name).map_err(task_error)).await?;
    Ok(
        warp::reply::with_status(warp::reply::json(&json!({"id": id})), StatusCode::CREATED)
            .into_response(),
    )
}

/// The query of a file upload.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    /// The file's name at the sender, for reports.
    name: Option<String>,
}

/// `PUT /v1/datasources/{name}/loads/{id}/files/{n}`: the body streams to
/// the spool directory.
pub async fn upload<S, B>(
    tasks: Arc<LoadTasks>,
    name: String,
    id: String,
    sequence: u32,
    query: FileQuery,
    body: S,
) -> Result<Response, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send,
    B: bytes::Buf,
{
    let file_name = query.name.unwrap_or_else(|| format!("file-{sequence}"));
    let path = blocking(move || {
        tasks
            .upload_path(&name, &id, sequence, &file_name)
            .map_err(task_error)
    })
    .await?;
    let io_error = |error: std::io::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "upload_failed",
            format!("writing the upload to {}: {error}", path.display()),
        )
    };
    let mut file = tokio::fs::File::create(&path).await.map_err(io_error)?;
    let mut body = std::pin::pin!(body);
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("the upload could not be read: {error}"),
            )
        })?;
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            file.write_all(piece).await.map_err(io_error)?;
            bytes += piece.len() as u64;
            let taken = piece.len();
            chunk.advance(taken);
        }
    }
    file.flush().await.map_err(io_error)?;
    Ok(warp::reply::json(&json!({"bytes": bytes})).into_response())
}

/// The body of `start`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default)]
    append: bool,
    max_errors: Option<u64>,
    format: Option<String>,
    memory_bytes: Option<usize>,
    threads: Option<usize>,
}

/// `POST /v1/datasources/{name}/loads/{id}/start`: 202 with the task's
/// status.
pub async fn start(
    tasks: Arc<LoadTasks>,
    name: String,
    id: String,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let request: StartRequest = if body.is_empty() {
        StartRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_load",
                format!("the start request is not valid: {error}; send {{\"append\": false, \"maxErrors\": 10}} or an empty body"),
            )
        })?
    };
    let format = request
        .format
        .as_deref()
        .map(str::parse::<InputFormat>)
        .transpose()
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "invalid_load", message))?;
    let mut options = LoadOptions {
        mode: LoadMode::from_append(request.append),
        max_errors: request.max_errors,
        ..LoadOptions::default()
    };
    if let Some(bytes) = request.memory_bytes {
        options.memory_bytes = bytes;
    }
    if let Some(threads) = request.threads {
        options.threads = threads.max(1);
    }
    let task = blocking(move || {
        tasks
            .start_upload(&name, &id, options, format)
            .map_err(task_error)
    })
    .await?;
    Ok(warp::reply::with_status(
        warp::reply::json(&json!({"task": task.id})),
        StatusCode::ACCEPTED,
    )
    .into_response())
}

/// `GET /v1/datasources/{name}/loads/{id}`: progress while it runs, then
/// the report or the error.
pub fn get(tasks: &LoadTasks, name: &str, id: &str) -> Result<Response, ApiError> {
    let task = tasks
        .get(id)
        .filter(|task| task.datasource == name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_load",
                format!("datasource `{name}` has no load `{id}` (loads are forgotten when the server restarts)"),
            )
        })?;
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    let (state, report, error) = match task.state() {
        TaskState::Running => ("running", None, None),
        TaskState::Succeeded(report) => ("succeeded", Some(report_view(&report)), None),
        TaskState::Failed(message) => ("failed", None, Some(message)),
    };
    Ok(warp::reply::json(&json!({
        "id": task.id,
        "state": state,
        "totalBytes": task.total_bytes,
        "bytesRead": task.progress.bytes_read.load(relaxed),
        "rowsRead": task.progress.rows_read.load(relaxed),
        "rowsRejected": task.progress.rows_rejected.load(relaxed),
        "report": report,
        "error": error,
    }))
    .into_response())
}

//! Druid's supervisor API for Kafka ingestion:
//! `POST /druid/indexer/v1/supervisor` (create or replace),
//! `GET /druid/indexer/v1/supervisor` (ids; `?full` for specs and states),
//! `GET .../supervisor/{id}` (the spec), `.../{id}/status`, `.../{id}/stats`,
//! and `POST .../{id}/suspend|resume|reset|terminate` (`shutdown` is Druid's
//! older name for terminate).
//!
//! The supervisors live in `strata_ingest::kafka::supervisors`; these
//! handlers only translate to Druid's response shapes.

use std::sync::Arc;

use serde_json::{Value, json};
use strata_ingest::kafka::supervisor_spec::SupervisorSpec;
use strata_ingest::kafka::supervisors::{SupervisorError, Supervisors};
use strata_storage::time::format_millis;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::datasources::{blocking, ingest_error};
use crate::api_error::ApiError;

/// `POST /druid/indexer/v1/supervisor`: 200 `{"id": datasource}` once it runs.
pub async fn submit(
    supervisors: Arc<Supervisors>,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let spec = SupervisorSpec::parse(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_supervisor",
            error.to_string(),
        )
    })?;
    let id = blocking(move || supervisors.submit(spec).map_err(supervisor_error)).await?;
    Ok(warp::reply::json(&json!({"id": id})).into_response())
}

/// `GET /druid/indexer/v1/supervisor`: the ids, or with `?full` each
/// supervisor's spec and state.
pub fn list(supervisors: &Supervisors, full: bool) -> Result<Response, ApiError> {
    if !full {
        return Ok(warp::reply::json(&supervisors.ids()).into_response());
    }
    let mut entries = Vec::new();
    for id in supervisors.ids() {
        let (Ok(spec), Ok(report)) = (supervisors.spec(&id), supervisors.status(&id)) else {
            continue;
        };
        entries.push(json!({
            "id": id,
            "state": report.state,
            "detailedState": report.detailed_state,
            "healthy": report.healthy,
            "suspended": report.suspended,
            "spec": spec,
        }));
    }
    Ok(warp::reply::json(&entries).into_response())
}

/// `GET /druid/indexer/v1/supervisor/{id}`: the spec as submitted.
pub fn spec(supervisors: &Supervisors, id: &str) -> Result<Response, ApiError> {
    let spec = supervisors.spec(id).map_err(supervisor_error)?;
    Ok(warp::reply::json(&spec).into_response())
}

/// `GET /druid/indexer/v1/supervisor/{id}/status`.
pub fn status(supervisors: &Supervisors, id: &str) -> Result<Response, ApiError> {
    let report = supervisors.status(id).map_err(supervisor_error)?;
    let body = json!({
        "id": id,
        "generationTime": format_millis(strata_ingest::realtime::wall_clock_now()),
        "payload": report,
    });
    Ok(warp::reply::json(&body).into_response())
}

/// `GET /druid/indexer/v1/supervisor/{id}/stats`: Druid's row stats, under
/// one pseudo-task named after the supervisor.
pub fn stats(supervisors: &Supervisors, id: &str) -> Result<Response, ApiError> {
    let counts = supervisors.status(id).map_err(supervisor_error)?.row_counts;
    let totals = json!({"buildSegments": {
        "processed": counts.processed,
        "processedBytes": counts.processed_bytes,
        "processedWithError": 0,
        "thrownAway": counts.thrown_away,
        "unparseable": counts.unparseable,
    }});
    Ok(warp::reply::json(&json!({"0": {id: {"totals": totals}}})).into_response())
}

/// What a `POST /druid/indexer/v1/supervisor/{id}/{action}` does.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Suspend,
    Resume,
    Reset,
    Terminate,
}

impl std::str::FromStr for Action {
    type Err = ApiError;

    fn from_str(action: &str) -> Result<Action, ApiError> {
        match action {
            "suspend" => Ok(Action::Suspend),
            "resume" => Ok(Action::Resume),
            "reset" => Ok(Action::Reset),
            "terminate" | "shutdown" => Ok(Action::Terminate),
            other => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_action",
                format!(
                    "`{other}` is not a supervisor action; POST suspend, resume, reset or terminate"
                ),
            )),
        }
    }
}

/// `POST /druid/indexer/v1/supervisor/{id}/{action}`: Druid answers suspend
/// and resume with the spec, reset and terminate with the id.
pub async fn act(
    supervisors: Arc<Supervisors>,
    id: String,
    action: String,
) -> Result<Response, ApiError> {
    let action: Action = action.parse()?;
    let body = blocking(move || {
        let done: Result<Value, SupervisorError> = match action {
            Action::Suspend => supervisors.suspend(&id),
            Action::Resume => supervisors.resume(&id),
            Action::Reset => supervisors.reset(&id).map(|()| json!({"id": id})),
            Action::Terminate => supervisors.terminate(&id).map(|()| json!({"id": id})),
        };
        done.map_err(supervisor_error)
    })
    .await?;
    Ok(warp::reply::json(&body).into_response())
}

pub(super) fn supervisor_error(error: SupervisorError) -> ApiError {
    let (status, kind) = match error {
        SupervisorError::Ingest(error) => return ingest_error(error),
        SupervisorError::UnknownSupervisor { .. } => (StatusCode::NOT_FOUND, "unknown_supervisor"),
        SupervisorError::Spec(_) | SupervisorError::ConsumerProperties(_) => {
            (StatusCode::BAD_REQUEST, "invalid_supervisor")
        }
        SupervisorError::SpecConflict { .. } => (StatusCode::CONFLICT, "spec_conflict"),
        SupervisorError::FeedsDatasource { .. } => (StatusCode::CONFLICT, "supervisor_running"),
        SupervisorError::Io { .. } | SupervisorError::Stored { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "supervisor_error")
        }
    };
    if status.is_server_error() {
        tracing::error!("supervisor: {error}");
    }
    ApiError::new(status, kind, error.to_string())
}

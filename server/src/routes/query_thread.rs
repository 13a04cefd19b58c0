//! A query's run, as every query route runs one: on a blocking thread
//! (reading segments is file I/O and CPU, no place for the async runtime),
//! within its [`QueryLimits`], registered under its id in the
//! [`QueryRegistry`](crate::query_registry::QueryRegistry) so that
//! `DELETE /druid/v2/{queryId}` can cancel it.
//!
//! The request waits for the first of: the answer, the deadline, or a
//! cancel. An answer at the deadline or at a cancel does not wait for the
//! query to notice: the query stops at its next check, between tables and
//! between the blocks of rows it folds, and its late answer is dropped.

use std::sync::Arc;

use strata_ingest::service::IngestService;
use strata_query::query_limits::{QueryLimits, QueryStopped};

use crate::AppState;

/// The header that names the query an answer is for, as Druid's does: the
/// id to cancel it by.
pub const QUERY_ID_HEADER: &str = "x-druid-query-id";

/// Why a query gave no answer of its own.
#[derive(Debug)]
pub enum Interrupted {
    /// Its deadline passed, or it was cancelled.
    Stopped(QueryStopped),
    /// Its thread failed (it panicked): the server's fault.
    ThreadFailed(String),
}

/// Runs `job` with the ingest service on a blocking thread within `limits`,
/// registered under `query_id`, and waits for its answer, its deadline or a
/// cancel, whichever comes first.
pub async fn run<T, E>(
    state: &AppState,
    query_id: &str,
    limits: QueryLimits,
    job: impl FnOnce(&IngestService, &QueryLimits) -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, Interrupted>
where
    T: Send + 'static,
    E: Send + 'static,
{
    let registration = state.queries.register(query_id, limits.clone());
    let deadline = limits.deadline();
    let timeout = limits.timeout();
    let service: Arc<IngestService> = state.ingest.clone();
    let task = tokio::task::spawn_blocking(move || job(&service, &limits));
    let at_deadline = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        joined = task => joined.map_err(|error| Interrupted::ThreadFailed(error.to_string())),
        () = registration.cancelled() => Err(Interrupted::Stopped(QueryStopped::Cancelled)),
        () = at_deadline => Err(Interrupted::Stopped(QueryStopped::TimedOut {
            timeout: timeout.unwrap_or_default(),
        })),
    }
}

//! The route table. Each route is a thin translation between HTTP and the
//! layers below; later issues add datasources, ingest and queries here.

use std::convert::Infallible;

use warp::Filter;
use warp::reply::Reply;

use crate::AppState;
use crate::api_error::recover;

/// Every route, with errors mapped to the JSON contract and requests counted.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
    let health = warp::path!("status" / "health")
        .and(warp::get())
        .map(|| warp::reply::json(&true).into_response());

    let metrics_state = state.clone();
    let metrics = warp::path!("metrics").and(warp::get()).map(move || {
        warp::reply::with_header(
            metrics_state.metrics.render(),
            "content-type",
            "text/plain; version=0.0.4",
        )
        .into_response()
    });

    let counted = state.metrics.clone();
    health
        .or(metrics)
        .unify()
        .recover(recover)
        .map(Reply::into_response)
        .with(warp::log::custom(move |info| {
            let status = info.status().as_u16();
            counted.count_request(route_label(info.path()), status);
            tracing::debug!(method = %info.method(), path = info.path(), status, elapsed = ?info.elapsed(), "request");
        }))
}

/// A bounded set of route labels, so the metrics do not grow with every path
/// a client makes up.
fn route_label(path: &str) -> &'static str {
    match path {
        "/status/health" => "/status/health",
        "/metrics" => "/metrics",
        _ => "other",
    }
}

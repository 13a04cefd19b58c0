//! The route table. Each route is a thin translation between HTTP and the
//! layers below, one module per resource.

pub mod datasources;
pub mod druid;
pub mod elasticsearch;
pub mod ingest;
pub mod loads;
pub mod query_thread;
pub mod search;
pub mod supervisors;
pub mod tasks;

use std::convert::Infallible;
use std::sync::Arc;

use strata_ingest::bulk_load::task::LoadTasks;
use strata_ingest::kafka::supervisors::Supervisors;

use warp::Filter;
use warp::reply::{Reply, Response};

use crate::AppState;
use crate::api_error::{ApiError, recover};

/// The largest datasource spec accepted, in bytes.
const MAX_SPEC_BYTES: u64 = 1 << 20;

/// The largest query accepted, in bytes.
const MAX_QUERY_BYTES: u64 = 1 << 20;

/// Every route, with errors mapped to the JSON contract and requests counted.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
    let health = warp::path!("status" / "health")
        .and(warp::get())
        .map(|| warp::reply::json(&true).into_response());

    let metrics_state = state.clone();
    let metrics = warp::path!("metrics").and(warp::get()).map(move || {
        metrics_state
            .metrics
            .observe_ingest(&metrics_state.ingest.stats());
        metrics_state
            .metrics
            .observe_running_queries(metrics_state.queries.running());
        metrics_state
            .metrics
            .observe_kafka(&metrics_state.supervisors.reports());
        warp::reply::with_header(
            metrics_state.metrics.render(),
            "content-type",
            "text/plain; version=0.0.4",
        )
        .into_response()
    });

    let service = state.ingest.clone();
    let with_ingest = warp::any().map(move || service.clone());
    let datasources_root = warp::path!("v1" / "datasources");
    let datasource = warp::path!("v1" / "datasources" / String);
    let create = datasources_root
        .and(warp::post())
        .and(with_ingest.clone())
        .and(warp::body::content_length_limit(MAX_SPEC_BYTES))
        .and(warp::body::bytes())
        .then(datasources::create);
    let list = datasources_root
        .and(warp::get())
        .and(with_ingest.clone())
        .then(datasources::list);
    let get = datasource
        .and(warp::get())
        .and(with_ingest.clone())
        .then(|name, service| datasources::get(service, name));
    let dropping_supervisors = state.supervisors.clone();
    let delete = datasource
        .and(warp::delete())
        .and(warp::any().map(move || dropping_supervisors.clone()))
        .then(|name, supervisors| datasources::delete(supervisors, name));
    let ingest_events = warp::path!("v1" / "datasources" / String / "ingest")
        .and(warp::post())
        .and(with_ingest)
        .and(warp::header::optional::<String>("content-encoding"))
        .and(ingest::limited_body(state.ingest.options().max_body_bytes))
        .then(ingest::ingest);
    let datasource_routes = create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(ingest_events)
        .unify()
        .map(|result: Result<Response, ApiError>| result.unwrap_or_else(Reply::into_response));

    let query_state = state.clone();
    let druid_query = warp::path!("druid" / "v2")
        .and(warp::post())
        .and(warp::any().map(move || query_state.clone()))
        .and(warp::body::content_length_limit(MAX_QUERY_BYTES))
        .and(warp::body::bytes())
        .then(druid::query);
    let cancel_state = state.clone();
    let druid_cancel = warp::path!("druid" / "v2" / String)
        .and(warp::delete())
        .map(move |query_id: String| druid::cancel(&cancel_state, &query_id));
    let search_state = state.clone();
    let text_search = warp::path!("v1" / "datasources" / String / "search")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_QUERY_BYTES))
        .and(warp::body::bytes())
        .then(move |name: String, body| search::search(search_state.clone(), name, body));
    let listing_service = state.ingest.clone();
    let druid_datasources = warp::path!("druid" / "v2" / "datasources")
        .and(warp::get())
        .map(move || druid::datasources(&listing_service));

    let load_tasks = state.loads.clone();
    let with_loads = warp::any().map(move || load_tasks.clone());
    let body_limit = state.ingest.options().max_body_bytes as u64;
    let task_submit = warp::path!("druid" / "indexer" / "v1" / "task")
        .and(warp::post())
        .and(with_loads.clone())
        .and(warp::body::content_length_limit(body_limit))
        .and(warp::body::bytes())
        .then(tasks::submit);
    let task_status = warp::path!("druid" / "indexer" / "v1" / "task" / String / "status")
        .and(warp::get())
        .and(with_loads.clone())
        .map(|id: String, loads: Arc<LoadTasks>| tasks::status(&loads, &id));
    let task_reports = warp::path!("druid" / "indexer" / "v1" / "task" / String / "reports")
        .and(warp::get())
        .and(with_loads.clone())
        .map(|id: String, loads: Arc<LoadTasks>| tasks::reports(&loads, &id));
    let task_list = warp::path!("druid" / "indexer" / "v1" / "tasks")
        .and(warp::get())
        .and(with_loads.clone())
        .map(|loads: Arc<LoadTasks>| Ok(tasks::list(&loads)));
    let load_open = warp::path!("v1" / "datasources" / String / "loads")
        .and(warp::post())
        .and(with_loads.clone())
        .then(|name, loads| loads::open(loads, name));
    let load_upload = warp::path!("v1" / "datasources" / String / "loads" / String / "files" / u32)
        .and(warp::put())
        .and(with_loads.clone())
        .and(warp::query::<loads::FileQuery>())
        .and(warp::body::stream())
        .then(|name, id, sequence, loads, query, body| {
            loads::upload(loads, name, id, sequence, query, body)
        });
    let load_start = warp::path!("v1" / "datasources" / String / "loads" / String / "start")
        .and(warp::post())
        .and(with_loads.clone())
        .and(warp::body::content_length_limit(MAX_SPEC_BYTES))
        .and(warp::body::bytes())
        .then(|name, id, loads, body| loads::start(loads, name, id, body));
    let load_get = warp::path!("v1" / "datasources" / String / "loads" / String)
        .and(warp::get())
        .and(with_loads)
        .map(|name: String, id: String, loads: Arc<LoadTasks>| loads::get(&loads, &name, &id));
    let load_routes = task_submit
        .or(task_status)
        .unify()
        .or(task_reports)
        .unify()
        .or(task_list)
        .unify()
        .or(load_open)
        .unify()
        .or(load_upload)
        .unify()
        .or(load_start)
        .unify()
        .or(load_get)
        .unify()
        .map(|result: Result<Response, ApiError>| result.unwrap_or_else(Reply::into_response));

    let supervisor_set = state.supervisors.clone();
    let with_supervisors = warp::any().map(move || supervisor_set.clone());
    let supervisor_submit = warp::path!("druid" / "indexer" / "v1" / "supervisor")
        .and(warp::post())
        .and(with_supervisors.clone())
        .and(warp::body::content_length_limit(MAX_SPEC_BYTES))
        .and(warp::body::bytes())
        .then(supervisors::submit);
    let supervisor_list = warp::path!("druid" / "indexer" / "v1" / "supervisor")
        .and(warp::get())
        .and(with_supervisors.clone())
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .map(
            |supervisors: Arc<Supervisors>, query: std::collections::HashMap<String, String>| {
                supervisors::list(&supervisors, query.contains_key("full"))
            },
        );
    let supervisor_spec = warp::path!("druid" / "indexer" / "v1" / "supervisor" / String)
        .and(warp::get())
        .and(with_supervisors.clone())
        .map(|id: String, supervisors: Arc<Supervisors>| supervisors::spec(&supervisors, &id));
    let supervisor_status =
        warp::path!("druid" / "indexer" / "v1" / "supervisor" / String / "status")
            .and(warp::get())
            .and(with_supervisors.clone())
            .map(|id: String, supervisors: Arc<Supervisors>| {
                supervisors::status(&supervisors, &id)
            });
    let supervisor_stats =
        warp::path!("druid" / "indexer" / "v1" / "supervisor" / String / "stats")
            .and(warp::get())
            .and(with_supervisors.clone())
            .map(|id: String, supervisors: Arc<Supervisors>| supervisors::stats(&supervisors, &id));
    let supervisor_act = warp::path!("druid" / "indexer" / "v1" / "supervisor" / String / String)
        .and(warp::post())
        .and(with_supervisors)
        .then(|id, action, supervisors| supervisors::act(supervisors, id, action));
    let supervisor_routes = supervisor_submit
        .or(supervisor_list)
        .unify()
        .or(supervisor_spec)
        .unify()
        .or(supervisor_status)
        .unify()
        .or(supervisor_stats)
        .unify()
        .or(supervisor_act)
        .unify()
        .map(|result: Result<Response, ApiError>| result.unwrap_or_else(Reply::into_response));

    let elasticsearch_routes = elasticsearch_routes(state.clone());

    let counted = state.metrics.clone();
    health
        .or(metrics)
        .unify()
        .or(datasource_routes)
        .unify()
        .or(text_search)
        .unify()
        .or(druid_query)
        .unify()
        .or(druid_cancel)
        .unify()
        .or(druid_datasources)
        .unify()
        .or(load_routes)
        .unify()
        .or(supervisor_routes)
        .unify()
        .or(elasticsearch_routes)
        .unify()
        // Boxed: the whole table's type would nest too deep for the
        // compiler to prove its future `Unpin`.
        .boxed()
        .recover(recover)
        .map(Reply::into_response)
        .with(warp::log::custom(move |info| {
            let status = info.status().as_u16();
            counted.count_request(route_label(info.path()), status);
            tracing::debug!(method = %info.method(), path = info.path(), status, elapsed = ?info.elapsed(), "request");
        }))
}

/// The Elasticsearch API at the root ([`elasticsearch`]).
fn elasticsearch_routes(state: AppState) -> warp::filters::BoxedFilter<(Response,)> {
    use elasticsearch::SearchKind;
    use std::collections::HashMap;
    let root = warp::path::end()
        .and(warp::get().or(warp::head()).unify())
        .map(elasticsearch::root);
    let service = state.ingest.clone();
    let health = warp::path!("_cluster" / "health")
        .and(warp::get())
        .map(move || elasticsearch::health(&service));
    let service = state.ingest.clone();
    let mapping_all = warp::path!("_mapping")
        .and(warp::get())
        .map(move || elasticsearch::mapping(&service, None));
    let service = state.ingest.clone();
    let mapping = warp::path!(String / "_mapping")
        .and(warp::get())
        .map(move |index: String| elasticsearch::mapping(&service, Some(&index)));
    let service = state.ingest.clone();
    let field_caps = warp::path!(String / "_field_caps")
        .and(warp::get().or(warp::post()).unify())
        .and(warp::query::<HashMap<String, String>>())
        .map(move |index: String, query: HashMap<String, String>| {
            elasticsearch::field_caps(&service, Some(&index), &query)
        });
    let service = state.ingest.clone();
    let field_caps_all = warp::path!("_field_caps")
        .and(warp::get().or(warp::post()).unify())
        .and(warp::query::<HashMap<String, String>>())
        .map(move |query: HashMap<String, String>| {
            elasticsearch::field_caps(&service, None, &query)
        });
    let search_body = warp::query::<HashMap<String, String>>()
        .and(warp::body::content_length_limit(MAX_QUERY_BYTES))
        .and(warp::body::bytes());
    let with_state = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    let search = warp::path!(String / "_search")
        .and(warp::get().or(warp::post()).unify())
        .and(with_state.clone())
        .and(search_body)
        .then(|index: String, state, query, body| {
            elasticsearch::search(state, Some(index), query, body, SearchKind::Search)
        });
    let search_all = warp::path!("_search")
        .and(warp::get().or(warp::post()).unify())
        .and(with_state.clone())
        .and(search_body)
        .then(|state, query, body| {
            elasticsearch::search(state, None, query, body, SearchKind::Search)
        });
    let count = warp::path!(String / "_count")
        .and(warp::get().or(warp::post()).unify())
        .and(with_state.clone())
        .and(search_body)
        .then(|index: String, state, query, body| {
            elasticsearch::search(state, Some(index), query, body, SearchKind::Count)
        });
    let msearch_body =
        warp::body::content_length_limit(MAX_QUERY_BYTES * 16).and(warp::body::bytes());
    let msearch = warp::path!(String / "_msearch")
        .and(warp::get().or(warp::post()).unify())
        .and(with_state.clone())
        .and(msearch_body)
        .then(|index: String, state, body| elasticsearch::msearch(state, Some(index), body));
    let msearch_all = warp::path!("_msearch")
        .and(warp::get().or(warp::post()).unify())
        .and(with_state)
        .and(msearch_body)
        .then(|state, body| elasticsearch::msearch(state, None, body));
    let service = state.ingest.clone();
    let with_service = warp::any().map(move || service.clone());
    let bulk_body = ingest::limited_body(state.ingest.options().max_body_bytes);
    let bulk = warp::path!(String / "_bulk")
        .and(warp::post().or(warp::put()).unify())
        .and(with_service.clone())
        .and(bulk_body.clone())
        .then(|index: String, service, body| elasticsearch::bulk::bulk(service, Some(index), body));
    let bulk_all = warp::path!("_bulk")
        .and(warp::post().or(warp::put()).unify())
        .and(with_service)
        .and(bulk_body)
        .then(|service, body| elasticsearch::bulk::bulk(service, None, body));
    root.or(health)
        .unify()
        .or(mapping_all)
        .unify()
        .or(mapping)
        .unify()
        .or(field_caps_all)
        .unify()
        .or(field_caps)
        .unify()
        .or(search_all)
        .unify()
        .or(search)
        .unify()
        .or(count)
        .unify()
        .or(msearch_all)
        .unify()
        .or(msearch)
        .unify()
        .or(bulk_all)
        .unify()
        .or(bulk)
        .unify()
        .boxed()
}

/// A bounded set of route labels, so the metrics do not grow with every path
/// a client makes up.
fn route_label(path: &str) -> &'static str {
    match path {
        "/status/health" => "/status/health",
        "/metrics" => "/metrics",
        "/v1/datasources" => "/v1/datasources",
        p if p.starts_with("/v1/datasources/") && p.ends_with("/ingest") => {
            "/v1/datasources/{name}/ingest"
        }
        p if p.starts_with("/v1/datasources/") && p.ends_with("/search") => {
            "/v1/datasources/{name}/search"
        }
        p if p.starts_with("/v1/datasources/") && p.contains("/loads") => {
            "/v1/datasources/{name}/loads"
        }
        "/druid/indexer/v1/task" => "/druid/indexer/v1/task",
        "/druid/indexer/v1/tasks" => "/druid/indexer/v1/tasks",
        p if p.starts_with("/druid/indexer/v1/task/") => "/druid/indexer/v1/task/{id}",
        "/druid/indexer/v1/supervisor" => "/druid/indexer/v1/supervisor",
        p if p.starts_with("/druid/indexer/v1/supervisor/") => "/druid/indexer/v1/supervisor/{id}",
        p if p.starts_with("/v1/datasources/") => "/v1/datasources/{name}",
        "/druid/v2" => "/druid/v2",
        "/druid/v2/datasources" => "/druid/v2/datasources",
        p if p.starts_with("/druid/v2/") => "/druid/v2/{queryId}",
        "/" => "/",
        p if p.ends_with("/_search") => "/{index}/_search",
        p if p.ends_with("/_msearch") => "/{index}/_msearch",
        p if p.ends_with("/_count") => "/{index}/_count",
        p if p.ends_with("/_bulk") => "/{index}/_bulk",
        p if p.ends_with("/_mapping") => "/{index}/_mapping",
        p if p.ends_with("/_field_caps") => "/{index}/_field_caps",
        "/_cluster/health" => "/_cluster/health",
        _ => "other",
    }
}

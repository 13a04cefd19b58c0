//! The Elasticsearch API at the root of the server: what Grafana's built-in
//! Elasticsearch datasource, the official clients and log shippers call.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /` | name, cluster, `version.number` 8.x, tagline |
//! | `GET /_cluster/health` | green, one node |
//! | `GET /{index}/_mapping`, `GET /_mapping` | each datasource's fields and types |
//! | `GET\|POST /{index}/_field_caps` | each field's type, searchable, aggregatable |
//! | `POST /{index}/_search`, `/_search` | hits, totals, aggregations |
//! | `POST /{index}/_count` | the events a query matches |
//! | `POST /_msearch`, `/{index}/_msearch` | NDJSON header/body pairs, one answer (or error) each |
//! | `POST /_bulk`, `/{index}/_bulk` | `index`/`create` actions into datasources ([`bulk`]) |
//!
//! An index is a datasource; `{index}` may be a comma list with `*`
//! patterns and `-` exclusions. What a search means is
//! `strata_query::elasticsearch`; this module reads requests, runs their
//! plans as every query runs (a blocking thread within the server's query
//! limits, cancellable by id) and answers in Elasticsearch's shapes, errors
//! included. Every answer carries `X-Elastic-Product: Elasticsearch`, which
//! the official clients check.

pub mod bulk;

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use strata_ingest::service::{IngestError, IngestService};
use strata_query::elasticsearch::fields::IndexFields;
use strata_query::elasticsearch::search::{self, SearchRequest};
use strata_query::elasticsearch::{EsError, SnapshotReader, indices};
use strata_query::query_limits::{QueryLimits, QueryStopped};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::query_thread::{self, Interrupted};
use crate::AppState;

/// The version Strata answers as: Grafana wants 7.16 or later, the 8.x
/// clients 8.
pub const VERSION: &str = "8.11.0";

/// The header the official clients check.
pub const PRODUCT_HEADER: &str = "x-elastic-product";

/// `response` with the product header.
pub fn with_product(mut response: Response) -> Response {
    response.headers_mut().insert(
        PRODUCT_HEADER,
        warp::http::HeaderValue::from_static("Elasticsearch"),
    );
    response
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    with_product(warp::reply::with_status(warp::reply::json(body), status).into_response())
}

fn error_response(error: &EsError) -> Response {
    json_response(error.status, &error.to_json())
}

/// `GET /`.
pub fn root() -> Response {
    json_response(
        200,
        &json!({
            "name": "strata",
            "cluster_name": "strata",
            "cluster_uuid": "strata",
            "version": {
                "number": VERSION,
                "build_flavor": "default",
                "build_type": "strata",
                "lucene_version": "9.8.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
                "strata_version": env!("CARGO_PKG_VERSION"),
            },
            "tagline": "You Know, for Search",
        }),
    )
}

/// `GET /_cluster/health`.
pub fn health(service: &IngestService) -> Response {
    let indices = service.datasource_names().len();
    json_response(
        200,
        &json!({
            "cluster_name": "strata",
            "status": "green",
            "timed_out": false,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": indices,
            "active_shards": indices,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0,
        }),
    )
}

/// The datasources `index` names (`None`: all of them).
fn targets(
    service: &IngestService,
    index: Option<&str>,
    ignore_unavailable: bool,
) -> Result<Vec<String>, EsError> {
    let mut names = service.datasource_names();
    names.sort();
    let expression: Vec<String> = index
        .map(|index| vec![index.to_owned()])
        .unwrap_or_default();
    indices::resolve(&expression, &names, ignore_unavailable)
        .map_err(|missing| EsError::index_not_found(&missing))
}

/// An index's fields, from its spec alone (no snapshot of its tables).
fn fields_of(service: &IngestService, name: &str) -> Result<IndexFields, EsError> {
    let (state, _) = service
        .snapshot(name)
        .ok_or_else(|| EsError::index_not_found(name))?;
    Ok(IndexFields::of(&state.spec))
}

fn ingest_error(name: &str, error: IngestError) -> EsError {
    match error {
        IngestError::UnknownDatasource { .. } => EsError::index_not_found(name),
        other => EsError::new(500, "exception", other.to_string()),
    }
}

/// `GET /{index}/_mapping`.
pub fn mapping(service: &IngestService, index: Option<&str>) -> Response {
    let answer = targets(service, index, false).and_then(|names| {
        names
            .into_iter()
            .map(|name| Ok((name.clone(), fields_of(service, &name)?.mapping())))
            .collect::<Result<Map<String, Value>, EsError>>()
    });
    match answer {
        Ok(mappings) => json_response(200, &Value::Object(mappings)),
        Err(error) => error_response(&error),
    }
}

/// `GET|POST /{index}/_field_caps?fields=...`.
pub fn field_caps(
    service: &IngestService,
    index: Option<&str>,
    query: &HashMap<String, String>,
) -> Response {
    let patterns: Vec<String> = query
        .get("fields")
        .map(|fields| {
            fields
                .split(',')
                .map(|field| field.trim().to_owned())
                .collect()
        })
        .unwrap_or_else(|| vec!["*".to_owned()]);
    let answer = targets(service, index, false).and_then(|names| {
        let mut fields: Map<String, Value> = Map::new();
        for name in &names {
            for (field, field_type, aggregatable) in fields_of(service, name)?.capabilities() {
                if !patterns.iter().any(|pattern| search::glob(pattern, field)) {
                    continue;
                }
                let entry = fields.entry(field.to_owned()).or_insert_with(|| json!({}));
                entry[field_type.name()] = json!({
                    "type": field_type.name(),
                    "metadata_field": false,
                    "searchable": true,
                    "aggregatable": aggregatable,
                });
            }
        }
        Ok(json!({"indices": names, "fields": fields}))
    });
    match answer {
        Ok(answer) => json_response(200, &answer),
        Err(error) => error_response(&error),
    }
}

/// The milliseconds since the epoch, for `now` in date math.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// What a search counts: an answer of hits, or only the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Search,
    Count,
}

/// One search over the datasources `index` names, on the query thread.
fn search_job(
    service: &IngestService,
    limits: &QueryLimits,
    index: Option<&str>,
    ignore_unavailable: bool,
    body: &Value,
    kind: SearchKind,
) -> Result<Value, EsError> {
    let started = Instant::now();
    let now = now();
    let names = targets(service, index, ignore_unavailable)?;
    let mut answers = Vec::new();
    let mut last_request = None;
    let mut counted = 0;
    let mut skip = 0;
    for name in &names {
        let snapshot = service
            .read_view(name)
            .map_err(|error| ingest_error(name, error))?;
        let fields = IndexFields::of(&snapshot.state.spec);
        let reader = SnapshotReader {
            snapshot: &snapshot,
            catalog: service.catalog().as_ref(),
            limits,
        };
        match kind {
            SearchKind::Count => {
                let request = SearchRequest::parse_count(body, &fields, now)?;
                counted += search::count(&request, name, &reader)?;
            }
            SearchKind::Search => {
                let mut request = SearchRequest::parse(body, &fields, now)?;
                if names.len() > 1 {
                    if !request.aggs.is_empty() {
                        return Err(EsError::illegal_argument(format!(
                            "aggregations over several indices ({}) are not answered; name one index",
                            names.join(", ")
                        )));
                    }
                    // Each index gives its best from + size; the merge
                    // skips `from` of them all and cuts.
                    skip = request.from;
                    request.size += request.from;
                    request.from = 0;
                }
                answers.push(search::run(&request, name, &fields, &reader, now)?);
                last_request = Some(request);
            }
        }
    }
    if kind == SearchKind::Count {
        return Ok(json!({
            "count": counted,
            "_shards": {"total": names.len(), "successful": names.len(), "skipped": 0, "failed": 0},
        }));
    }
    match last_request {
        Some(request) => Ok(search::merge(&request, answers, skip, started)),
        None => Ok(json!({
            "took": started.elapsed().as_millis() as u64,
            "timed_out": false,
            "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []},
        })),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| {
        EsError::new(
            400,
            "parsing_exception",
            format!("the request body is not JSON: {error}"),
        )
    })
}

fn limits(state: &AppState) -> QueryLimits {
    QueryLimits::new(
        Some(state.query_limits.default_timeout),
        state.query_limits.max_memory_bytes,
    )
}

/// Runs `job` as every query runs; a stop becomes Elasticsearch's error.
async fn on_query_thread<T: Send + 'static>(
    state: &AppState,
    job: impl FnOnce(&IngestService, &QueryLimits) -> Result<T, EsError> + Send + 'static,
) -> Result<T, EsError> {
    let query_id = state.queries.new_query_id();
    match query_thread::run(state, &query_id, limits(state), job).await {
        Ok(answer) => answer,
        Err(Interrupted::Stopped(stopped)) => Err(match stopped {
            QueryStopped::TimedOut { .. } => {
                EsError::new(504, "search_timeout_exception", stopped.to_string())
            }
            _ => EsError::new(400, "task_cancelled_exception", stopped.to_string()),
        }),
        Err(Interrupted::ThreadFailed(error)) => Err(EsError::new(
            500,
            "exception",
            format!("the search's thread failed: {error}"),
        )),
    }
}

fn count_query(state: &AppState, error: Option<&EsError>) {
    state.metrics.count_query(match error {
        None => "success",
        Some(error) if error.status >= 500 => "error",
        Some(_) => "invalid",
    });
}

/// `POST /{index}/_search` and `/{index}/_count`.
pub async fn search(
    state: AppState,
    index: Option<String>,
    query: HashMap<String, String>,
    body: Bytes,
    kind: SearchKind,
) -> Response {
    let ignore_unavailable = query
        .get("ignore_unavailable")
        .is_some_and(|flag| flag == "true");
    let answer = match parse_body(&body) {
        Ok(body) => {
            on_query_thread(&state, move |service, limits| {
                search_job(
                    service,
                    limits,
                    index.as_deref(),
                    ignore_unavailable,
                    &body,
                    kind,
                )
            })
            .await
        }
        Err(error) => Err(error),
    };
    count_query(&state, answer.as_ref().err());
    match answer {
        Ok(answer) => json_response(200, &answer),
        Err(error) => error_response(&error),
    }
}

/// One search of an `_msearch`: its header's index and options, its body.
struct MultiSearchItem {
    index: Option<String>,
    ignore_unavailable: bool,
    body: Value,
}

/// Reads `_msearch`'s NDJSON: header and body lines in pairs.
fn parse_msearch(
    body: &[u8],
    path_index: Option<&str>,
) -> Result<Vec<Result<MultiSearchItem, EsError>>, EsError> {
    let text = std::str::from_utf8(body).map_err(|error| {
        EsError::new(
            400,
            "parsing_exception",
            format!("the body is not UTF-8: {error}"),
        )
    })?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    if !lines.len().is_multiple_of(2) {
        return Err(EsError::illegal_argument(
            "an _msearch body is pairs of lines, a header and a search; the last search is missing",
        ));
    }
    Ok(lines
        .chunks(2)
        .map(|pair| {
            let header: Value = serde_json::from_str(pair[0]).map_err(|error| {
                EsError::new(
                    400,
                    "parsing_exception",
                    format!("an _msearch header is not JSON: {error}"),
                )
            })?;
            let index = match header.get("index") {
                Some(Value::String(index)) => Some(index.clone()),
                Some(Value::Array(list)) => Some(
                    list.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                Some(Value::Null) | None => path_index.map(str::to_owned),
                Some(other) => {
                    return Err(EsError::illegal_argument(format!(
                        "an _msearch header's index is a string or an array, not {other}"
                    )));
                }
            };
            let ignore_unavailable = header
                .get("ignore_unavailable")
                .is_some_and(|flag| flag == &json!(true) || flag == &json!("true"));
            Ok(MultiSearchItem {
                index,
                ignore_unavailable,
                body: parse_body(pair[1].as_bytes())?,
            })
        })
        .collect())
}

/// `POST /_msearch` and `/{index}/_msearch`: every search answered in
/// order, a failed one by its error (with its status) in its place.
pub async fn msearch(state: AppState, index: Option<String>, body: Bytes) -> Response {
    let started = Instant::now();
    let items = match parse_msearch(&body, index.as_deref()) {
        Ok(items) => items,
        Err(error) => {
            count_query(&state, Some(&error));
            return error_response(&error);
        }
    };
    // The searches run side by side (Grafana sends a panel's queries in
    // one request), each on its own query thread; answers keep their order.
    let searches = items.into_iter().map(|item| {
        let state = state.clone();
        async move {
            let answer = match item {
                Ok(item) => {
                    on_query_thread(&state, move |service, limits| {
                        search_job(
                            service,
                            limits,
                            item.index.as_deref(),
                            item.ignore_unavailable,
                            &item.body,
                            SearchKind::Search,
                        )
                    })
                    .await
                }
                Err(error) => Err(error),
            };
            count_query(&state, answer.as_ref().err());
            match answer {
                Ok(mut answer) => {
                    answer["status"] = json!(200);
                    answer
                }
                Err(error) => error.to_json(),
            }
        }
    });
    let responses = futures_util::future::join_all(searches).await;
    json_response(
        200,
        &json!({"took": started.elapsed().as_millis() as u64, "responses": responses}),
    )
}

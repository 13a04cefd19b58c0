//! `POST /_bulk` and `/{index}/_bulk`: documents from Elasticsearch clients
//! and log shippers (Vector, Fluent Bit, Logstash, Filebeat) into
//! datasources.
//!
//! The body is NDJSON: an action line, then (for `index` and `create`) the
//! document. Each document is an event of the datasource its action's
//! `_index` (or the path's index) names, which must exist: Strata needs a
//! spec to roll events up, so an unknown index is a 404 for that item, not
//! a new datasource. The documents of one datasource are ingested as NDJSON
//! bodies, as `POST /v1/datasources/{name}/ingest` takes them, at most
//! [`MAX_REPORTED_ERRORS`] at a time so that every rejected one is named in
//! its item. `delete` and `update` are refused per item: events are
//! immutable.
//!
//! The answer is Elasticsearch's: `errors` (whether any item failed) and one
//! item per action, in order, with its status: 201 created, 400 for a
//! document the spec rejects, 404 for an unknown index, 429 while the
//! datasource's real-time index is over its budget (retry later).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};
use strata_ingest::service::{IngestError, IngestService, MAX_REPORTED_ERRORS};
use strata_query::elasticsearch::EsError;

use super::{json_response, now};

/// Ids for documents sent without one.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One action of the body and its outcome.
struct Item {
    action: String,
    index: Option<String>,
    id: String,
    /// The document of an `index` or `create`.
    document: Option<String>,
    /// The status and, for a failure, the error type and reason.
    status: u16,
    error: Option<(&'static str, String)>,
}

impl Item {
    fn fail(&mut self, status: u16, kind: &'static str, reason: impl Into<String>) {
        self.status = status;
        self.error = Some((kind, reason.into()));
    }

    fn to_json(&self) -> Value {
        let mut body = json!({"_index": self.index, "_id": self.id, "status": self.status});
        match &self.error {
            Some((kind, reason)) => {
                body["error"] = json!({"type": kind, "reason": reason, "index": self.index});
            }
            None => {
                body["result"] = json!("created");
                body["_version"] = json!(1);
                body["_seq_no"] = json!(0);
                body["_primary_term"] = json!(1);
                body["_shards"] = json!({"total": 1, "successful": 1, "failed": 0});
            }
        }
        json!({ self.action.clone(): body })
    }
}

/// `POST /_bulk` and `/{index}/_bulk`.
pub async fn bulk(
    service: Arc<IngestService>,
    index: Option<String>,
    body: Bytes,
) -> warp::reply::Response {
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || run(&service, index.as_deref(), &body)).await;
    match answer {
        Ok(Ok(items)) => json_response(
            200,
            &json!({
                "took": started.elapsed().as_millis() as u64,
                "errors": items.iter().any(|item| item.error.is_some()),
                "items": items.iter().map(Item::to_json).collect::<Vec<_>>(),
            }),
        ),
        Ok(Err(error)) => json_response(error.status, &error.to_json()),
        Err(error) => json_response(
            500,
            &EsError::new(
                500,
                "exception",
                format!("the bulk request's thread failed: {error}"),
            )
            .to_json(),
        ),
    }
}

/// Reads the actions and ingests their documents, datasource by
/// datasource.
fn run(
    service: &IngestService,
    path_index: Option<&str>,
    body: &[u8],
) -> Result<Vec<Item>, EsError> {
    let mut items = parse(body, path_index)?;
    let known = service.datasource_names();
    let mut by_index: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter_mut().enumerate() {
        if item.error.is_some() {
            continue;
        }
        match &item.index {
            Some(index) if known.contains(index) => {
                by_index.entry(index.clone()).or_default().push(i)
            }
            Some(index) => {
                let reason = EsError::index_not_found(index).reason;
                item.fail(404, "index_not_found_exception", reason);
            }
            None => item.fail(
                400,
                "action_request_validation_exception",
                "no index: name it in the action's _index or in the path",
            ),
        }
    }
    for (index, positions) in by_index {
        for chunk in positions.chunks(MAX_REPORTED_ERRORS) {
            let mut lines = String::new();
            for &i in chunk {
                lines.push_str(items[i].document.as_deref().unwrap_or_default());
                lines.push('\n');
            }
            match service.ingest(&index, lines.as_bytes(), None) {
                Ok(report) => {
                    for error in report.errors {
                        if let Some(&i) = chunk.get(error.line.saturating_sub(1)) {
                            items[i].fail(400, "document_parsing_exception", error.message);
                        }
                    }
                }
                Err(error) => {
                    let (status, kind) = match &error {
                        IngestError::OverBudget { .. } => (429, "es_rejected_execution_exception"),
                        IngestError::UnknownDatasource { .. } => (404, "index_not_found_exception"),
                        _ => (500, "exception"),
                    };
                    for &i in chunk {
                        items[i].fail(status, kind, error.to_string());
                    }
                }
            }
        }
    }
    Ok(items)
}

/// The actions of a bulk body, with their documents.
fn parse(body: &[u8], path_index: Option<&str>) -> Result<Vec<Item>, EsError> {
    let text = std::str::from_utf8(body).map_err(|error| {
        EsError::new(
            400,
            "parsing_exception",
            format!("the bulk body is not UTF-8: {error}"),
        )
    })?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate();
    let mut items = Vec::new();
    while let Some((number, line)) = lines.next() {
        let action: Value = serde_json::from_str(line).map_err(|error| {
            EsError::new(
                400,
                "parsing_exception",
                format!("line {}: an action line is not JSON: {error}", number + 1),
            )
        })?;
        let Some((name, meta)) = action
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next())
        else {
            return Err(EsError::illegal_argument(format!(
                "line {}: an action is one of {{\"index\": {{...}}}}, {{\"create\": {{...}}}}, {{\"delete\": {{...}}}}, {{\"update\": {{...}}}}",
                number + 1
            )));
        };
        let id = match meta.get("_id") {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => format!("{:x}-{:x}", now(), NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        };
        let mut item = Item {
            action: name.clone(),
            index: meta
                .get("_index")
                .and_then(Value::as_str)
                .or(path_index)
                .map(str::to_owned),
            id,
            document: None,
            status: 201,
            error: None,
        };
        match name.as_str() {
            "index" | "create" => {
                let (_, document) = lines.next().ok_or_else(|| {
                    EsError::illegal_argument(format!("line {}: the {name} action has no document after it", number + 1))
                })?;
                item.document = Some(document.to_owned());
            }
            "update" => {
                lines.next();
                item.fail(400, "illegal_argument_exception", "events cannot be updated; index a new event instead");
            }
            "delete" => item.fail(400, "illegal_argument_exception", "events cannot be deleted one by one; drop the datasource, or let retention remove them"),
            other => {
                return Err(EsError::illegal_argument(format!(
                    "line {}: unknown action [{other}]; use index or create",
                    number + 1
                )));
            }
        }
        items.push(item);
    }
    Ok(items)
}

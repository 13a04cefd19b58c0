//! The `context` of a Druid query: how it is to be run, not what it asks.
//!
//! Druid reads the query's answer from its other fields and how to run it
//! from `context`. The keys read here bound the run:
//!
//! - `queryId` — the name `DELETE /druid/v2/{queryId}` cancels the query by;
//!   the server makes one up when it is missing, as Druid does;
//! - `timeout` — milliseconds the query may run; `0` means no timeout, and
//!   without it the server's default applies (Druid's is 300000);
//! - `maxQueryMemoryBytes` — a memory budget lower than the server's
//!   (`--max-query-memory`); a query cannot raise the server's.
//!
//! Druid accepts these numbers written as strings too (`"timeout": "500"`),
//! and so does this. Other keys (`priority`, `lane`, `useCache`...) do not
//! change the answer and are ignored.
//!
//! A few flags do change the answer; each is read with its query type
//! through [`answer_flag`], `false` when absent:
//!
//! - `skipEmptyBuckets` (timeseries) — leave out the time buckets without
//!   a row instead of zero filling them;
//! - `grandTotal` (timeseries) — append a row with `"timestamp": null`
//!   holding the totals of every aggregation over all the buckets;
//! - `sortByDimsFirst` (groupBy) — order the rows by the dimensions (or the
//!   `limitSpec` columns) first and by time second, instead of time first.

use std::time::Duration;

use serde_json::Value;

use super::json::{Field, JsonError};

/// The keys of a query's `context` that bound its run. See the
/// [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryContext {
    pub query_id: Option<String>,
    /// `timeout` as given, in milliseconds.
    pub timeout_millis: Option<u64>,
    pub max_query_memory_bytes: Option<u64>,
}

impl QueryContext {
    /// Reads the `context` of the query `value`; a query without one has
    /// the default context.
    pub fn parse(value: &Value) -> Result<Self, JsonError> {
        let root = Field::root(value);
        let Some(context) = root.optional("context").filter(|field| !field.is_null()) else {
            return Ok(QueryContext::default());
        };
        if !context.value().is_object() {
            return Err(context.invalid("expected an object of context keys"));
        }
        let query_id = context
            .optional("queryId")
            .filter(|field| !field.is_null())
            .map(|field| {
                let id = field.string()?;
                if id.is_empty() {
                    return Err(field.invalid("is empty; name the query, or leave queryId out"));
                }
                Ok(id)
            })
            .transpose()?;
        let number = |name: &str| {
            context
                .optional(name)
                .filter(|field| !field.is_null())
                .map(|field| whole_number(&field))
                .transpose()
        };
        Ok(QueryContext {
            query_id,
            timeout_millis: number("timeout")?,
            max_query_memory_bytes: number("maxQueryMemoryBytes")?,
        })
    }

    /// How long the query may run: its `timeout`, else `default`; `None`
    /// for no limit (`timeout: 0`).
    pub fn timeout(&self, default: Option<Duration>) -> Option<Duration> {
        match self.timeout_millis {
            Some(0) => None,
            Some(millis) => Some(Duration::from_millis(millis)),
            None => default,
        }
    }

    /// The query's memory budget: the server's, or the query's own when
    /// that is lower.
    pub fn memory_budget(&self, server_budget: u64) -> u64 {
        self.max_query_memory_bytes
            .map_or(server_budget, |own| own.min(server_budget))
    }
}

/// The context flag `name` of the query at `root`: `true` or `false`, as a
/// boolean or as its text, as Druid reads it; `false` when the query has no
/// such key (or no context). See the [module docs](self) for the flags.
pub fn answer_flag(root: &Field<'_>, name: &str) -> Result<bool, JsonError> {
    match root
        .optional("context")
        .filter(|context| !context.is_null())
        .and_then(|context| context.optional(name))
        .filter(|flag| !flag.is_null())
    {
        Some(flag) => flag.boolean(),
        None => Ok(false),
    }
}

/// A whole number of zero or more, given as a number or as its text.
fn whole_number(field: &Field<'_>) -> Result<u64, JsonError> {
    let value = field.value();
    let parsed = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| field.invalid(format!("expected a whole number ≥ 0, found {value}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_keys_that_bound_a_run_are_read() {
        let context = QueryContext::parse(&json!({
            "queryType": "timeseries",
            "context": {"queryId": "q-1", "timeout": 1500, "maxQueryMemoryBytes": "4096", "priority": 1}
        }))
        .unwrap();
        assert_eq!(
            context,
            QueryContext {
                query_id: Some("q-1".into()),
                timeout_millis: Some(1500),
                max_query_memory_bytes: Some(4096),
            }
        );
        assert_eq!(context.timeout(None), Some(Duration::from_millis(1500)));
        assert_eq!(context.memory_budget(1 << 30), 4096);
        assert_eq!(context.memory_budget(100), 100, "cannot raise the server's");
    }

    #[test]
    fn a_missing_context_takes_the_servers_defaults() {
        for query in [json!({"queryType": "scan"}), json!({"context": null})] {
            let context = QueryContext::parse(&query).unwrap();
            assert_eq!(context, QueryContext::default());
            let default = Some(Duration::from_secs(300));
            assert_eq!(context.timeout(default), default);
            assert_eq!(context.memory_budget(1 << 30), 1 << 30);
        }
    }

    #[test]
    fn answer_flags_read_booleans_or_their_text_and_default_to_false() {
        let query = json!({"context": {"grandTotal": true, "sortByDimsFirst": "true",
                                       "skipEmptyBuckets": "false", "other": null}});
        let root = Field::root(&query);
        assert_eq!(answer_flag(&root, "grandTotal"), Ok(true));
        assert_eq!(answer_flag(&root, "sortByDimsFirst"), Ok(true));
        assert_eq!(answer_flag(&root, "skipEmptyBuckets"), Ok(false));
        assert_eq!(answer_flag(&root, "other"), Ok(false));
        assert_eq!(answer_flag(&root, "missing"), Ok(false));
        let none = json!({"queryType": "groupBy"});
        assert_eq!(answer_flag(&Field::root(&none), "grandTotal"), Ok(false));
        let wrong = json!({"context": {"grandTotal": "yes"}});
        assert_eq!(
            answer_flag(&Field::root(&wrong), "grandTotal")
                .unwrap_err()
                .to_string(),
            "context.grandTotal: expected true or false, found a string"
        );
    }

    #[test]
    fn a_zero_timeout_means_none() {
        let context = QueryContext::parse(&json!({"context": {"timeout": 0}})).unwrap();
        assert_eq!(context.timeout(Some(Duration::from_secs(300))), None);
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let error = |query: Value| QueryContext::parse(&query).unwrap_err().to_string();
        assert_eq!(
            error(json!({"context": {"timeout": -5}})),
            "context.timeout: expected a whole number ≥ 0, found -5"
        );
        assert_eq!(
            error(json!({"context": {"maxQueryMemoryBytes": "lots"}})),
            "context.maxQueryMemoryBytes: expected a whole number ≥ 0, found \"lots\""
        );
        assert_eq!(
            error(json!({"context": {"queryId": 7}})),
            "context.queryId: expected a string, found a number"
        );
        assert_eq!(
            error(json!({"context": {"queryId": ""}})),
            "context.queryId: is empty; name the query, or leave queryId out"
        );
        assert_eq!(
            error(json!({"context": [1]})),
            "context: expected an object of context keys"
        );
    }
}

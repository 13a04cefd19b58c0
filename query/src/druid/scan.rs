//! Druid's `scan` query, read into a [`ScanPlan`].
//!
//! ```json
//! {"queryType": "scan", "dataSource": "web", "intervals": ["2024-01-01/2024-01-02"],
//!  "filter": {...}, "columns": ["__time", "service"], "order": "descending",
//!  "offset": 10, "limit": 5, "resultFormat": "compactedList"}
//! ```
//!
//! `columns` absent or empty returns every column; `order` is `none` (the
//! default), `ascending` or `descending` by `__time`; `resultFormat` is
//! `list` (each row an object) or `compactedList` (each row an array in
//! `columns` order). `batchSize` only sizes Druid's batches and is ignored,
//! as is `context`. Fields that would change the answer and are not
//! supported (`virtualColumns`, `legacy: true`, the `valueVector` format)
//! are refused.

use serde_json::Value;

use super::json::{Field, JsonError};
use super::{DruidError, datasource, filter, intervals, is_empty};
use crate::plan::{ScanOrder, ScanPlan};

/// A Druid scan query, read: the plan and how its rows are written.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanQuery {
    pub plan: ScanPlan,
    pub format: ScanResultFormat,
}

/// How each returned row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanResultFormat {
    /// An object, `{column: value, ...}`.
    List,
    /// An array of values in `columns` order.
    CompactedList,
}

/// Reads a Druid `scan` query.
pub fn parse_scan(value: &Value) -> Result<ScanQuery, DruidError> {
    let root = Field::root(value);
    if let Some(field) = root
        .optional("virtualColumns")
        .filter(|field| !is_empty(field.value()))
    {
        return Err(field
            .invalid("is not supported yet; remove it (the answer would ignore it otherwise)")
            .into());
    }
    if let Some(legacy) = root.optional("legacy").filter(|field| !field.is_null())
        && legacy.boolean()?
    {
        return Err(legacy
            .invalid("legacy scan results are not supported; remove it or set it to false")
            .into());
    }
    let filter = root
        .optional("filter")
        .filter(|field| !field.is_null())
        .map(|field| filter::parse(&field))
        .transpose()?;
    let columns = match root.optional("columns").filter(|field| !field.is_null()) {
        Some(field) => {
            let columns = field
                .elements()?
                .iter()
                .map(Field::string)
                .collect::<Result<Vec<_>, _>>()?;
            (!columns.is_empty()).then_some(columns)
        }
        None => None,
    };
    let order = match root.optional("order").filter(|field| !field.is_null()) {
        Some(field) => match field.string()?.as_str() {
            "none" => ScanOrder::None,
            "ascending" => ScanOrder::Ascending,
            "descending" => ScanOrder::Descending,
            other => {
                return Err(field
                    .invalid(format!(
                        "order `{other}` is not one of \"none\", \"ascending\", \"descending\""
                    ))
                    .into());
            }
        },
        None => ScanOrder::None,
    };
    let format = match root
        .optional("resultFormat")
        .filter(|field| !field.is_null())
    {
        Some(field) => match field.string()?.as_str() {
            "list" => ScanResultFormat::List,
            "compactedList" => ScanResultFormat::CompactedList,
            other => {
                return Err(field
                    .invalid(format!(
                        "result format `{other}` is not supported; use \"list\" or \"compactedList\""
                    ))
                    .into());
            }
        },
        None => ScanResultFormat::List,
    };
    let count = |name: &str| -> Result<Option<usize>, JsonError> {
        root.optional(name)
            .filter(|field| !field.is_null())
            .map(|field| field.count())
            .transpose()
    };
    Ok(ScanQuery {
        plan: ScanPlan {
            datasource: datasource(&root.required("dataSource")?)?,
            intervals: intervals(&root.required("intervals")?)?,
            filter,
            columns,
            order,
            limit: count("limit")?,
            offset: count("offset")?.unwrap_or(0),
        },
        format,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use strata_storage::time::Interval;

    use super::*;
    use crate::druid::{DruidRequest, parse_request};
    use crate::plan::Filter;

    const JAN_1: i64 = 1_704_067_200_000;
    const DAY: i64 = 86_400_000;

    fn error_of(query: Value) -> String {
        parse_request(&query).unwrap_err().to_string()
    }

    #[test]
    fn a_scan_reads_every_field_into_its_plan() {
        let request = parse_request(&json!({
            "queryType": "scan",
            "dataSource": {"type": "table", "name": "web"},
            "intervals": ["2024-01-01/2024-01-02"],
            "filter": {"type": "selector", "dimension": "service", "value": "api"},
            "columns": ["__time", "service", "bytes"],
            "order": "descending",
            "limit": 5,
            "offset": 2,
            "resultFormat": "compactedList",
            "batchSize": 20480,
            "context": {"priority": 1}
        }))
        .unwrap();
        let expected = ScanQuery {
            plan: ScanPlan {
                datasource: "web".into(),
                intervals: vec![Interval::new(JAN_1, JAN_1 + DAY).unwrap()],
                filter: Some(Filter::Equals {
                    column: "service".into(),
                    value: Some("api".into()),
                }),
                columns: Some(vec!["__time".into(), "service".into(), "bytes".into()]),
                order: ScanOrder::Descending,
                limit: Some(5),
                offset: 2,
            },
            format: ScanResultFormat::CompactedList,
        };
        assert_eq!(request, DruidRequest::Scan(Box::new(expected)));
        assert_eq!(request.datasource(), "web");
    }

    #[test]
    fn a_bare_scan_returns_every_column_of_every_row_in_storage_order() {
        for columns in [json!(null), json!([])] {
            let request = parse_request(&json!({
                "queryType": "scan", "dataSource": "web",
                "intervals": "2024-01-01/2024-01-02", "columns": columns
            }))
            .unwrap();
            let DruidRequest::Scan(query) = request else {
                panic!("not a scan: {request:?}");
            };
            assert_eq!(query.format, ScanResultFormat::List);
            assert_eq!(query.plan.columns, None);
            assert_eq!(query.plan.order, ScanOrder::None);
            assert_eq!((query.plan.limit, query.plan.offset), (None, 0));
            assert_eq!(query.plan.filter, None);
        }
    }

    #[test]
    fn unsupported_or_malformed_scan_fields_are_refused_with_their_path() {
        let scan = |field: &str, value: Value| {
            let mut query = json!({"queryType": "scan", "dataSource": "web",
                                   "intervals": ["2024-01-01/2024-01-02"]});
            query[field] = value;
            error_of(query)
        };
        assert_eq!(
            scan("order", json!("newest")),
            "order: order `newest` is not one of \"none\", \"ascending\", \"descending\""
        );
        assert!(
            scan("resultFormat", json!("valueVector")).starts_with("resultFormat: result format")
        );
        assert!(scan("limit", json!(-1)).starts_with("limit: expected a whole number"));
        assert!(scan("offset", json!("3")).starts_with("offset: expected a whole number"));
        assert!(scan("columns", json!("service")).starts_with("columns: expected an array"));
        assert!(scan("columns", json!([1])).starts_with("columns[0]: expected a string"));
        assert!(scan("legacy", json!(true)).starts_with("legacy: legacy scan results"));
        assert!(
            scan("virtualColumns", json!([{"type": "expression"}]))
                .starts_with("virtualColumns: is not supported yet")
        );
        assert_eq!(
            error_of(json!({"queryType": "scan", "dataSource": "web"})),
            "intervals: is missing"
        );
    }
}

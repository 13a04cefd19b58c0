//! Druid's `search` query, read into a [`SearchPlan`].
//!
//! ```json
//! {"queryType": "search", "dataSource": "web", "intervals": ["2024-01-01/2024-01-02"],
//!  "granularity": "day", "filter": {...}, "searchDimensions": ["service", "user"],
//!  "query": {"type": "insensitive_contains", "value": "ap"},
//!  "sort": {"type": "strlen"}, "limit": 100}
//! ```
//!
//! `query` is `contains` (`value`, `caseSensitive`), `insensitive_contains`
//! (`value`) or `fragment` (`values`, all of which must occur, and
//! `caseSensitive`); `caseSensitive` is false unless given, as in Druid, and
//! the spelling `case_sensitive` of Druid's documentation is read too.
//! `searchDimensions` lists names or `default` dimension specs (whose
//! `outputName` names the hits); absent or empty, every string dimension is
//! searched. `sort` is `lexicographic` (the default), `strlen` or
//! `alphanumeric`; `limit` (default 1000) cuts each time bucket's hits;
//! `granularity` defaults to `all`. `context` is ignored; `virtualColumns`
//! and other query kinds (`regex`) are refused.

use serde_json::Value;
use strata_storage::granularity::Granularity;

use super::json::{Field, JsonError};
use super::{DruidError, datasource, dimension, filter, intervals, is_empty};
use crate::plan::{SearchMatch, SearchPlan, SearchSort};

/// Druid's default cut of a search's hits per time bucket.
const DEFAULT_LIMIT: usize = 1000;

/// Reads a Druid `search` query.
pub fn parse_search(value: &Value) -> Result<SearchPlan, DruidError> {
    let root = Field::root(value);
    if let Some(field) = root
        .optional("virtualColumns")
        .filter(|field| !is_empty(field.value()))
    {
        return Err(field
            .invalid("is not supported yet; remove it (the answer would ignore it otherwise)")
            .into());
    }
    let present = |name: &str| root.optional(name).filter(|field| !field.is_null());
    let filter = present("filter")
        .map(|field| filter::parse(&field))
        .transpose()?;
    let granularity = match present("granularity") {
        Some(field) => field.granularity()?,
        None => Granularity::All,
    };
    let dimensions = match present("searchDimensions") {
        Some(field) => {
            let dimensions = field
                .elements()?
                .iter()
                .map(dimension)
                .collect::<Result<Vec<_>, _>>()?;
            (!dimensions.is_empty()).then_some(dimensions)
        }
        None => None,
    };
    let sort = match present("sort") {
        Some(field) => search_sort(&field)?,
        None => SearchSort::Lexicographic,
    };
    let limit = match present("limit") {
        Some(field) => field.count()?,
        None => DEFAULT_LIMIT,
    };
    Ok(SearchPlan {
        datasource: datasource(&root.required("dataSource")?)?,
        intervals: intervals(&root.required("intervals")?)?,
        filter,
        granularity,
        dimensions,
        matching: search_match(&root.required("query")?)?,
        sort,
        limit,
    })
}

/// `{"type": "contains" | "insensitive_contains" | "fragment", ...}`.
fn search_match(field: &Field<'_>) -> Result<SearchMatch, JsonError> {
    let kind_field = field.required("type")?;
    let case_sensitive = || -> Result<bool, JsonError> {
        match ["caseSensitive", "case_sensitive"]
            .iter()
            .find_map(|name| field.optional(name).filter(|flag| !flag.is_null()))
        {
            Some(flag) => flag.boolean(),
            None => Ok(false),
        }
    };
    match kind_field.string()?.as_str() {
        "contains" => Ok(SearchMatch::Contains {
            text: field.required("value")?.string()?,
            case_sensitive: case_sensitive()?,
        }),
        "insensitive_contains" => Ok(SearchMatch::Contains {
            text: field.required("value")?.string()?,
            case_sensitive: false,
        }),
        "fragment" => Ok(SearchMatch::Fragments {
            fragments: field
                .required("values")?
                .elements()?
                .iter()
                .map(Field::string)
                .collect::<Result<Vec<_>, _>>()?,
            case_sensitive: case_sensitive()?,
        }),
        other => Err(kind_field.invalid(format!(
            "search query type `{other}` is not supported; use \"contains\", \"insensitive_contains\" or \"fragment\""
        ))),
    }
}

/// `{"type": "lexicographic" | "strlen" | "alphanumeric"}`, or the bare name.
fn search_sort(field: &Field<'_>) -> Result<SearchSort, JsonError> {
    let kind_field = if field.is_string() {
        field.clone()
    } else {
        field.required("type")?
    };
    match kind_field.string()?.as_str() {
        "lexicographic" => Ok(SearchSort::Lexicographic),
        "strlen" => Ok(SearchSort::Strlen),
        "alphanumeric" => Ok(SearchSort::Alphanumeric),
        other => Err(kind_field.invalid(format!(
            "sort `{other}` is not one of \"lexicographic\", \"strlen\", \"alphanumeric\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use strata_storage::time::Interval;

    use super::*;
    use crate::druid::{DruidRequest, parse_request};
    use crate::plan::{Filter, GroupKey};

    const JAN_1: i64 = 1_704_067_200_000;
    const DAY: i64 = 86_400_000;

    fn error_of(query: Value) -> String {
        parse_request(&query).unwrap_err().to_string()
    }

    fn search(extra: Value) -> Value {
        let mut query = json!({"queryType": "search", "dataSource": "web",
                               "intervals": ["2024-01-01/2024-01-02"],
                               "query": {"type": "contains", "value": "ap"}});
        for (name, value) in extra.as_object().unwrap() {
            query[name] = value.clone();
        }
        query
    }

    fn plan_of(query: Value) -> SearchPlan {
        match parse_request(&query).unwrap() {
            DruidRequest::Search(plan) => *plan,
            other => panic!("not a search: {other:?}"),
        }
    }

    #[test]
    fn a_search_reads_every_field_into_its_plan() {
        let request = parse_request(&json!({
            "queryType": "search",
            "dataSource": {"type": "table", "name": "web"},
            "intervals": ["2024-01-01/2024-01-02"],
            "granularity": "day",
            "filter": {"type": "selector", "dimension": "service", "value": "api"},
            "searchDimensions": ["user", {"type": "default", "dimension": "service", "outputName": "svc"}],
            "query": {"type": "fragment", "values": ["a", "P"], "caseSensitive": true},
            "sort": {"type": "strlen"},
            "limit": 7,
            "context": {"priority": 1}
        }))
        .unwrap();
        let expected = SearchPlan {
            datasource: "web".into(),
            intervals: vec![Interval::new(JAN_1, JAN_1 + DAY).unwrap()],
            filter: Some(Filter::Equals {
                column: "service".into(),
                value: Some("api".into()),
            }),
            granularity: Granularity::DAY,
            dimensions: Some(vec![
                GroupKey {
                    column: "user".into(),
                    output_name: "user".into(),
                },
                GroupKey {
                    column: "service".into(),
                    output_name: "svc".into(),
                },
            ]),
            matching: SearchMatch::Fragments {
                fragments: vec!["a".into(), "P".into()],
                case_sensitive: true,
            },
            sort: SearchSort::Strlen,
            limit: 7,
        };
        assert_eq!(request, DruidRequest::Search(Box::new(expected)));
        assert_eq!(request.datasource(), "web");
    }

    #[test]
    fn a_bare_search_takes_druids_defaults() {
        for dimensions in [json!(null), json!([])] {
            let plan = plan_of(search(json!({"searchDimensions": dimensions})));
            assert_eq!(plan.granularity, Granularity::All);
            assert_eq!(plan.dimensions, None);
            assert_eq!(plan.filter, None);
            assert_eq!(plan.sort, SearchSort::Lexicographic);
            assert_eq!(plan.limit, 1000);
            assert_eq!(
                plan.matching,
                SearchMatch::Contains {
                    text: "ap".into(),
                    case_sensitive: false
                }
            );
        }
    }

    #[test]
    fn each_match_kind_and_sort_reads_into_its_variant() {
        let matching = |query: Value| plan_of(search(json!({"query": query}))).matching;
        let contains = |text: &str, case_sensitive| SearchMatch::Contains {
            text: text.into(),
            case_sensitive,
        };
        assert_eq!(
            matching(json!({"type": "contains", "value": "A", "caseSensitive": true})),
            contains("A", true)
        );
        assert_eq!(
            matching(json!({"type": "contains", "value": "A", "case_sensitive": true})),
            contains("A", true)
        );
        assert_eq!(
            matching(json!({"type": "insensitive_contains", "value": "A"})),
            contains("A", false)
        );
        assert_eq!(
            matching(json!({"type": "fragment", "values": []})),
            SearchMatch::Fragments {
                fragments: Vec::new(),
                case_sensitive: false
            }
        );
        let sort = |sort: Value| plan_of(search(json!({"sort": sort}))).sort;
        assert_eq!(
            sort(json!({"type": "lexicographic"})),
            SearchSort::Lexicographic
        );
        assert_eq!(
            sort(json!({"type": "alphanumeric"})),
            SearchSort::Alphanumeric
        );
        assert_eq!(sort(json!("strlen")), SearchSort::Strlen);
    }

    #[test]
    fn unsupported_or_malformed_search_fields_are_refused_with_their_path() {
        assert_eq!(
            error_of(search(
                json!({"query": {"type": "regex", "pattern": "a.*"}})
            )),
            "query.type: search query type `regex` is not supported; use \"contains\", \"insensitive_contains\" or \"fragment\""
        );
        assert_eq!(
            error_of(search(json!({"sort": {"type": "numeric"}}))),
            "sort.type: sort `numeric` is not one of \"lexicographic\", \"strlen\", \"alphanumeric\""
        );
        assert_eq!(
            error_of(search(json!({"query": {"type": "contains"}}))),
            "query.value: is missing"
        );
        assert!(
            error_of(search(
                json!({"query": {"type": "fragment", "values": "a"}})
            ))
            .starts_with("query.values: expected an array")
        );
        assert!(
            error_of(search(json!({"limit": -1}))).starts_with("limit: expected a whole number")
        );
        assert!(
            error_of(search(json!({"searchDimensions": [3]}))).starts_with("searchDimensions[0]:")
        );
        assert!(
            error_of(search(json!({"virtualColumns": [{"type": "expression"}]})))
                .starts_with("virtualColumns: is not supported yet")
        );
        assert_eq!(
            error_of(json!({"queryType": "search", "dataSource": "web",
                            "intervals": ["2024-01-01/2024-01-02"]})),
            "query: is missing"
        );
    }
}

//! What can go wrong reading a granularity.
//!
//! Each message says what was wrong and how to write it instead; the accepted
//! names and fields it lists come from the same tables the parser checks against,
//! so the advice stays true when they change.

use super::named::granularity_names;

/// What went wrong reading a granularity, with how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GranularityError {
    #[error(
        "unknown granularity \"{name}\"; use one of {names}, or an ISO-8601 period such as \"PT15M\" or \"P1D\"",
        names = granularity_names()
    )]
    UnknownName { name: String },
    #[error(
        "unknown granularity type \"{found}\"; use \"period\", \"duration\" or one of {names}",
        names = granularity_names()
    )]
    UnknownType { found: String },
    #[error(
        "invalid ISO-8601 period \"{period}\": {problem}; periods look like P1D, PT15M, P1M, P1W or PT1H30M"
    )]
    MalformedPeriod { period: String, problem: String },
    #[error(
        "a granularity duration must be a positive number of milliseconds, not {duration}; one hour is 3600000"
    )]
    NonPositiveDuration { duration: i64 },
    #[error(
        "unknown time zone \"{zone}\"; use an IANA time zone name such as \"UTC\", \"America/Los_Angeles\" or \"Asia/Kolkata\""
    )]
    UnknownTimeZone { zone: String },
    #[error(
        "invalid origin {origin}; give an ISO-8601 time such as \"2024-01-01T00:30:00Z\" or epoch milliseconds, within 95,000 years of 1970"
    )]
    BadOrigin { origin: String },
    #[error(
        "a granularity object needs a \"type\": \"period\", \"duration\" or a name such as \"hour\""
    )]
    MissingType,
    #[error("a \"{kind}\" granularity needs a \"{field}\" field")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    #[error(
        "unknown field \"{field}\" in a \"{kind}\" granularity; its fields are {accepted}",
        accepted = accepted.join(", ")
    )]
    UnknownField {
        kind: String,
        field: String,
        accepted: &'static [&'static str],
    },
    #[error("the granularity field \"{field}\" must be {expected}")]
    WrongJsonType {
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "a granularity must be a name such as \"hour\" or an object such as {{\"type\": \"period\", \"period\": \"PT1H\"}}"
    )]
    NotAGranularity,
}

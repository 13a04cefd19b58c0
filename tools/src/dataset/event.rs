//! One access-log event, the row of the reference dataset.
//!
//! The struct is owned and plain so that benchmarks can feed it straight into a segment builder.
//! Its fields come in the dataset's column order ([`FIELD_NAMES`]), which every writer follows.

/// The column names, in the order every writer emits them.
pub const FIELD_NAMES: [&str; 13] = [
    "timestamp",
    "service",
    "region",
    "host",
    "method",
    "status",
    "path",
    "country",
    "user_id",
    "duration_ms",
    "bytes",
    "retries",
    "message",
];

/// A web access-log event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccessEvent {
    /// When the request was served, in milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: i64,
    /// The serving service, `svc-00`..`svc-19`.
    pub service: String,
    /// The cloud region, such as `us-east-1`.
    pub region: String,
    /// The serving host, `host-0000`..`host-0999`.
    pub host: String,
    /// The HTTP method, such as `GET`.
    pub method: String,
    /// The HTTP status code.
    pub status: i64,
    /// The request path, `/api/v{1..3}/r{i}`.
    pub path: String,
    /// The client country code, `C000`..`C199`.
    pub country: String,
    /// The requesting user: a decimal id, or `needle-user` on a needle event.
    pub user_id: String,
    /// Time to serve the request, in milliseconds with three decimals.
    pub duration_ms: f64,
    /// Size of the response body.
    pub bytes: i64,
    /// How many times the client retried.
    pub retries: i64,
    /// The free-text log line summarising the other fields.
    pub message: String,
}

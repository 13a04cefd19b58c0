//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One registry per server, so tests that start several servers in one
//! process do not share counters.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

/// The server's metrics registry and the metrics it keeps itself.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("strata".into()), None).unwrap_or_default();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route and status",
            ),
            &["route", "status"],
        )
        .expect("the metric's name and labels are static and valid");
        // Registering a fresh collector in a fresh registry cannot collide.
        let _ = registry.register(Box::new(http_requests.clone()));
        Self {
            registry,
            http_requests,
        }
    }

    /// Counts one served request.
    pub fn count_request(&self, route: &str, status: u16) {
        self.http_requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
    }

    /// The registry, for other crates to register their metrics in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which
        // the registry never holds.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

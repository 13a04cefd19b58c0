//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One registry per server, so tests that start several servers in one
//! process do not share counters.
//!
//! The write path's numbers live in the ingest service, which counts them
//! anyway; rather than counting twice, [`Metrics::observe_ingest`] copies the
//! service's counters into the registry's metrics each time they are scraped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use strata_ingest::service::DataSourceStats;

/// The server's metrics registry and the metrics it keeps itself.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    queries: IntCounterVec,
    queries_running: IntGauge,
    ingest: IngestMetrics,
}

/// The write path's metrics, labelled by datasource.
struct IngestMetrics {
    accepted: IntCounterVec,
    rejected: IntCounterVec,
    wal_fsyncs: IntCounterVec,
    wal_bytes: IntCounterVec,
    persists: IntCounterVec,
    segments_published: IntCounterVec,
    compactions: IntCounterVec,
    realtime_rows: IntGaugeVec,
    /// The datasources that have label values, to remove dropped ones.
    labelled: Mutex<BTreeSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .expect("the metric's name and labels are static and valid");
    // Registering a fresh collector in a fresh registry cannot collide.
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("strata".into()), None).unwrap_or_default();
        let http_requests = counter(
            &registry,
            "http_requests_total",
            "HTTP requests served, by route and status",
            &["route", "status"],
        );
        let queries = counter(
            &registry,
            "queries_total",
            "Druid queries run, by outcome: success, invalid (400), not_found, over_memory_budget, timeout, cancelled, error (the server's fault)",
            &["outcome"],
        );
        let queries_running = IntGauge::new(
            "queries_running",
            "Druid queries running now (each cancellable by DELETE /druid/v2/{queryId})",
        )
        .expect("the metric's name is static and valid");
        let _ = registry.register(Box::new(queries_running.clone()));
        let datasource = &["datasource"];
        let realtime_rows = IntGaugeVec::new(
            Opts::new(
                "realtime_rows",
                "Rows held in the real-time index: table=events (one per event) and table=rollup (rolled-up rows)",
            ),
            &["datasource", "table"],
        )
        .expect("the metric's name and labels are static and valid");
        let _ = registry.register(Box::new(realtime_rows.clone()));
        let ingest = IngestMetrics {
            accepted: counter(
                &registry,
                "ingest_events_accepted_total",
                "Events accepted by ingest requests (durable in the WAL)",
                datasource,
            ),
            rejected: counter(
                &registry,
                "ingest_events_rejected_total",
                "Lines rejected by ingest requests",
                datasource,
            ),
            wal_fsyncs: counter(
                &registry,
                "wal_fsyncs_total",
                "fsync calls made by the WAL",
                datasource,
            ),
            wal_bytes: counter(
                &registry,
                "wal_bytes_total",
                "Bytes of records appended to the WAL, framing included",
                datasource,
            ),
            persists: counter(
                &registry,
                "persists_total",
                "Persists of the real-time index into segments",
                datasource,
            ),
            segments_published: counter(
                &registry,
                "segments_published_total",
                "Segments published by persists",
                datasource,
            ),
            compactions: counter(
                &registry,
                "compactions_total",
                "Time chunks whose partitions compaction merged into one segment",
                datasource,
            ),
            realtime_rows,
            labelled: Mutex::new(BTreeSet::new()),
        };
        Self {
            registry,
            http_requests,
            queries,
            queries_running,
            ingest,
        }
    }

    /// Counts one served request.
    pub fn count_request(&self, route: &str, status: u16) {
        self.http_requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
    }

    /// Counts one Druid query by its outcome (see `queries_total`'s help).
    pub fn count_query(&self, outcome: &'static str) {
        self.queries.with_label_values(&[outcome]).inc();
    }

    /// Sets how many queries are running, read from the registry of running
    /// queries each time the metrics are scraped.
    pub fn observe_running_queries(&self, running: usize) {
        self.queries_running
            .set(i64::try_from(running).unwrap_or(i64::MAX));
    }

    /// Copies the ingest service's counters, by datasource, into the
    /// registry. Datasources no longer listed lose their label values.
    pub fn observe_ingest(&self, stats: &BTreeMap<String, DataSourceStats>) {
        let metrics = &self.ingest;
        let mut labelled = metrics
            .labelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let counters = [
            &metrics.accepted,
            &metrics.rejected,
            &metrics.wal_fsyncs,
            &metrics.wal_bytes,
            &metrics.persists,
            &metrics.segments_published,
            &metrics.compactions,
        ];
        for gone in labelled.iter().filter(|name| !stats.contains_key(*name)) {
            for counter in counters {
                let _ = counter.remove_label_values(&[gone]);
            }
            for table in ["events", "rollup"] {
                let _ = metrics.realtime_rows.remove_label_values(&[gone, table]);
            }
        }
        *labelled = stats.keys().cloned().collect();
        for (name, stats) in stats {
            let values = [
                stats.accepted,
                stats.rejected,
                stats.wal.fsyncs,
                stats.wal.bytes,
                stats.persists,
                stats.segments_published,
                stats.compactions,
            ];
            for (counter, value) in counters.into_iter().zip(values) {
                let counter = counter.with_label_values(&[name]);
                // A datasource dropped and created again between two scrapes
                // starts its counts over; so does the counter.
                if value < counter.get() {
                    counter.reset();
                }
                counter.inc_by(value - counter.get());
            }
            let gauge = |table: &str, value: u64| {
                metrics
                    .realtime_rows
                    .with_label_values(&[name, table])
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            };
            gauge("events", stats.realtime.events);
            gauge("rollup", stats.realtime.rollup_rows);
        }
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

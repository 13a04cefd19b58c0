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
use strata_ingest::kafka::supervisor_status::SupervisorReport;
use strata_ingest::service::DataSourceStats;

/// The server's metrics registry and the metrics it keeps itself.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    queries: IntCounterVec,
    queries_running: IntGauge,
    ingest: IngestMetrics,
    kafka: KafkaMetrics,
}

/// The Kafka supervisors' metrics, labelled by datasource (and partition).
/// Copied from the supervisors' statuses at each scrape, after clearing
/// every label value, so terminated supervisors and gone partitions vanish.
struct KafkaMetrics {
    messages: IntCounterVec,
    bytes: IntCounterVec,
    events: IntCounterVec,
    lag: IntGaugeVec,
    current_offset: IntGaugeVec,
    latest_offset: IntGaugeVec,
    healthy: IntGaugeVec,
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

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels)
        .expect("the metric's name and labels are static and valid");
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
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
        let partition = &["datasource", "partition"];
        let kafka = KafkaMetrics {
            messages: counter(
                &registry,
                "kafka_messages_total",
                "Kafka messages read by a supervisor",
                datasource,
            ),
            bytes: counter(
                &registry,
                "kafka_bytes_total",
                "Bytes of Kafka message values read by a supervisor",
                datasource,
            ),
            events: counter(
                &registry,
                "kafka_events_total",
                "Events in Kafka messages, by outcome: processed, unparseable, thrown_away (outside the accepted window)",
                &["datasource", "outcome"],
            ),
            lag: gauge(
                &registry,
                "kafka_lag",
                "Messages produced to a partition but not read yet (high watermark - next offset)",
                partition,
            ),
            current_offset: gauge(
                &registry,
                "kafka_current_offset",
                "The next offset a supervisor reads from a partition",
                partition,
            ),
            latest_offset: gauge(
                &registry,
                "kafka_latest_offset",
                "A partition's high watermark, as last fetched",
                partition,
            ),
            healthy: gauge(
                &registry,
                "kafka_supervisor_healthy",
                "1 while a supervisor runs or is suspended, 0 while it has lost contact with the brokers or is failing",
                datasource,
            ),
        };
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
            kafka,
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

    /// Copies the Kafka supervisors' statuses into the registry.
    pub fn observe_kafka(&self, reports: &[SupervisorReport]) {
        let metrics = &self.kafka;
        for counter in [&metrics.messages, &metrics.bytes, &metrics.events] {
            counter.reset();
        }
        for gauge in [
            &metrics.lag,
            &metrics.current_offset,
            &metrics.latest_offset,
            &metrics.healthy,
        ] {
            gauge.reset();
        }
        for report in reports {
            let name = report.data_source.as_str();
            let counts = &report.row_counts;
            metrics
                .messages
                .with_label_values(&[name])
                .inc_by(counts.messages);
            metrics
                .bytes
                .with_label_values(&[name])
                .inc_by(counts.processed_bytes);
            for (outcome, value) in [
                ("processed", counts.processed),
                ("unparseable", counts.unparseable),
                ("thrown_away", counts.thrown_away),
            ] {
                metrics
                    .events
                    .with_label_values(&[name, outcome])
                    .inc_by(value);
            }
            metrics
                .healthy
                .with_label_values(&[name])
                .set(i64::from(report.healthy));
            let per_partition = [
                (&metrics.lag, &report.minimum_lag),
                (&metrics.current_offset, &report.current_offsets),
                (&metrics.latest_offset, &report.latest_offsets),
            ];
            for (gauge, values) in per_partition {
                for (partition, value) in values {
                    gauge
                        .with_label_values(&[name, &partition.to_string()])
                        .set(as_i64(*value));
                }
            }
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

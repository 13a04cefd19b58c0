//! `strata serve --demo`: a server that starts with data in it.
//!
//! On a data directory without an `access` datasource, [`load_demo`] creates
//! it from the reference spec ([`ACCESS_SPEC_JSON`]) and feeds it the
//! reference dataset ([`AccessLogGenerator`] with [`DEFAULT_SEED`]) through
//! the same [`IngestService::ingest`] an HTTP client reaches, as NDJSON
//! bodies of [`EVENTS_PER_BODY`] lines, then persists it into segments. A
//! data directory that already has `access` is left as it is, so a restart
//! never loads the events twice.

use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use strata_ingest::service::{IngestError, IngestService};
use strata_storage::spec::{ACCESS_SPEC_JSON, DataSourceSpec};

use crate::dataset::{AccessEvent, AccessLogGenerator, DEFAULT_SEED, EventWriter, NdjsonWriter};

/// The datasource the demo creates.
pub const DEMO_DATASOURCE: &str = "access";

/// Events in one ingest body, about what a client would send per request.
pub const EVENTS_PER_BODY: u64 = 10_000;

/// How long to wait before retrying a body refused for backpressure.
const OVER_BUDGET_PAUSE: Duration = Duration::from_millis(50);

/// What [`load_demo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    /// `access` existed; nothing was loaded.
    AlreadyLoaded,
    /// `access` was created and this many events accepted and persisted.
    Loaded { accepted: u64 },
}

/// Creates and loads the `access` datasource with `events` events of the
/// reference dataset, unless it exists. Shows a progress bar on stderr
/// (hidden when stderr is not a terminal).
pub fn load_demo(service: &IngestService, events: u64) -> anyhow::Result<DemoOutcome> {
    if service.catalog().datasource(DEMO_DATASOURCE).is_some() {
        return Ok(DemoOutcome::AlreadyLoaded);
    }
    let spec = DataSourceSpec::from_json(ACCESS_SPEC_JSON)
        .context("reading the reference spec of the `access` datasource")?;
    service
        .create_datasource(spec)
        .context("creating the `access` datasource")?;

    let progress = ProgressBar::new(events).with_style(
        ProgressStyle::with_template(
            "loading the demo {wide_bar} {human_pos}/{human_len} events (ETA {eta})",
        )
        .context("building the progress bar style")?,
    );
    let mut generator = AccessLogGenerator::new(DEFAULT_SEED, events);
    let mut event = AccessEvent::default();
    let mut accepted = 0;
    loop {
        let body = next_body(&mut generator, &mut event)?;
        if body.is_empty() {
            break;
        }
        let report = ingest_waiting_out_backpressure(service, &body)?;
        if report.rejected > 0 {
            anyhow::bail!(
                "the demo dataset has lines the `access` spec rejects, the first: {:?}",
                report.errors.first()
            );
        }
        accepted += report.accepted;
        progress.inc(report.accepted);
    }
    progress.finish_and_clear();
    service
        .persist(DEMO_DATASOURCE)
        .context("persisting the demo events into segments")?;
    Ok(DemoOutcome::Loaded { accepted })
}

/// The next [`EVENTS_PER_BODY`] events as NDJSON; empty once all are out.
fn next_body(
    generator: &mut AccessLogGenerator,
    event: &mut AccessEvent,
) -> anyhow::Result<Vec<u8>> {
    let mut writer = NdjsonWriter::new(Vec::new());
    for _ in 0..EVENTS_PER_BODY {
        if !generator.fill_next(event) {
            break;
        }
        writer.write_event(event)?;
    }
    Ok(writer.finish()?)
}

/// Ingests `body`, waiting while the real-time index is over its budget
/// (the service has woken the persister, which brings it down).
fn ingest_waiting_out_backpressure(
    service: &IngestService,
    body: &[u8],
) -> anyhow::Result<strata_ingest::service::IngestReport> {
    loop {
        match service.ingest(DEMO_DATASOURCE, body, None) {
            Err(IngestError::OverBudget { .. }) => std::thread::sleep(OVER_BUDGET_PAUSE),
            other => return other.context("ingesting the demo events"),
        }
    }
}

//! `strata serve`: the server on its embedded default — data in a local
//! folder, no external service.
//!
//! It opens the catalog, then the ingest service (which replays every
//! datasource's WAL into its real-time index), starts the background
//! persister and serves. Stopping needs no final persist: whatever was
//! acknowledged is in the WAL and replays on the next start.
//!
//! With `--demo` it first loads the reference dataset into `access`
//! ([`crate::demo`]) — before it listens, so that the first answer a client
//! gets already sees every demo event, and a health check that answers means
//! the demo is ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use strata_ingest::service::{IngestOptions, IngestService};
use strata_server::{QueryLimitsConfig, Server, ServerConfig};
use strata_storage::catalog::FileCatalog;

use crate::demo::{DEMO_DATASOURCE, DemoOutcome, load_demo};

/// Flags of `strata serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Directory holding the catalog and the segments; created if missing.
    /// Only one process may use a data directory at a time.
    #[arg(long, env = "STRATA_DATA_DIR", default_value = "./strata-data")]
    pub data_dir: PathBuf,

    /// Address and port to listen on (port 0 picks a free port and logs it).
    #[arg(long, env = "STRATA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Persist a datasource's real-time index into segments once it has held
    /// events this long: a number with a unit, `ms`, `s`, `m` or `h`
    /// (`500ms`, `30s`, `10m`, `1h`).
    #[arg(long, env = "STRATA_PERSIST_PERIOD", default_value = "10m", value_parser = parse_duration)]
    pub persist_period: Duration,

    /// Persist a datasource's real-time index as soon as it holds this many
    /// rows (rolled-up rows, or events when the datasource has no rollup).
    #[arg(long, env = "STRATA_MAX_REALTIME_ROWS", default_value_t = 1_000_000)]
    pub max_realtime_rows: u64,

    /// The largest ingest request body accepted, in bytes, both as sent and
    /// once decompressed; larger requests get 413.
    #[arg(long, env = "STRATA_MAX_BODY_BYTES", default_value_t = 64 << 20)]
    pub max_body_bytes: usize,

    /// The memory budget of a datasource's real-time index, in bytes: it is
    /// persisted once it holds half of it, and while it holds all of it
    /// ingests get 429 with Retry-After until the persist brings it down.
    #[arg(long, env = "STRATA_MAX_REALTIME_BYTES", default_value_t = 1 << 30)]
    pub max_realtime_bytes: usize,

    /// Hand a time chunk off — persist it as a segment and publish it — once
    /// this long has passed since both the end of its interval and its first
    /// event (Druid's windowPeriod). Events that come later still land in
    /// their chunk, as another partition.
    #[arg(long, env = "STRATA_HANDOFF_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub handoff_window: Duration,

    /// Reject events older than this before now (Druid's
    /// lateMessageRejectionPeriod), e.g. `7d`; by default every age is
    /// accepted.
    #[arg(long, env = "STRATA_LATE_MESSAGE_REJECTION_PERIOD", value_parser = parse_duration)]
    pub late_message_rejection_period: Option<Duration>,

    /// Reject events later than this after now (Druid's
    /// earlyMessageRejectionPeriod), e.g. `1h`; by default any future time
    /// is accepted.
    #[arg(long, env = "STRATA_EARLY_MESSAGE_REJECTION_PERIOD", value_parser = parse_duration)]
    pub early_message_rejection_period: Option<Duration>,

    /// How long a Druid query may run when its `context.timeout` sets no
    /// other limit (Druid's default: 5m); past it the query fails with 504.
    #[arg(long, env = "STRATA_QUERY_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub query_timeout: Duration,

    /// The memory budget of one query, in bytes: what its aggregation groups
    /// or its scanned rows may take (estimated). A query over it fails with
    /// 400 `Resource limit exceeded`; `context.maxQueryMemoryBytes` may only
    /// lower it.
    #[arg(long, env = "STRATA_MAX_QUERY_MEMORY", default_value_t = 1 << 30)]
    pub max_query_memory: u64,

    /// Before serving, create the `access` datasource and load the reference
    /// dataset into it, unless it exists.
    #[arg(long, env = "STRATA_DEMO")]
    pub demo: bool,

    /// Events `--demo` loads.
    #[arg(
        long,
        env = "STRATA_DEMO_EVENTS",
        default_value_t = 1_000_000,
        requires = "demo"
    )]
    pub demo_events: u64,
}

/// Reads `10m`, `30s`, `500ms`, `2h`, `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("`{text}` has no unit; write it as `500ms`, `30s`, `10m`, `1h` or `7d`")
    })?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!("`{text}` does not start with a whole number; write it as `30s` or `10m`")
    })?;
    let seconds = |factor: u64| {
        number
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{text}` is too long a duration"))
    };
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => seconds(1)?,
        "m" => seconds(60)?,
        "h" => seconds(3600)?,
        "d" => seconds(86_400)?,
        _ => {
            return Err(format!(
                "`{unit}` in `{text}` is not a unit; use `ms`, `s`, `m`, `h` or `d`"
            ));
        }
    };
    if duration.is_zero() {
        return Err("the period must be longer than zero".into());
    }
    Ok(duration)
}

/// Opens the data directory, serves until SIGTERM or Ctrl-C, then drains
/// in-flight requests and exits.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let catalog = FileCatalog::open(&args.data_dir)
        .with_context(|| format!("opening the catalog in {}", args.data_dir.display()))?;
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        query_limits: QueryLimitsConfig {
            default_timeout: args.query_timeout,
            max_memory_bytes: args.max_query_memory,
        },
    };
    let options = IngestOptions {
        max_body_bytes: args.max_body_bytes,
        max_realtime_rows: args.max_realtime_rows,
        max_realtime_bytes: args.max_realtime_bytes,
        persist_period: args.persist_period,
        handoff_window: args.handoff_window,
        late_message_rejection: args.late_message_rejection_period,
        early_message_rejection: args.early_message_rejection_period,
        ..IngestOptions::default()
    };
    let data_dir = args.data_dir.clone();
    let ingest = tokio::task::spawn_blocking(move || {
        IngestService::open(&data_dir, Arc::new(catalog), options)
    })
    .await
    .context("opening the ingest service")?
    .with_context(|| {
        format!(
            "opening the write-ahead logs in {}",
            args.data_dir.join("wal").display()
        )
    })?;
    let ingest = Arc::new(ingest);
    // Checking a few times per period keeps a persist close to its due time.
    let check_every = (args.persist_period.min(args.handoff_window) / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    ingest
        .start_persister(check_every)
        .context("starting the background persister")?;
    ingest
        .start_compactor(check_every.max(Duration::from_secs(1)))
        .context("starting the background compactor")?;
    if args.demo {
        let service = ingest.clone();
        let events = args.demo_events;
        let outcome = tokio::task::spawn_blocking(move || load_demo(&service, events))
            .await
            .context("loading the demo")??;
        match outcome {
            DemoOutcome::AlreadyLoaded => tracing::info!(
                datasource = DEMO_DATASOURCE,
                "the demo datasource exists; not loading it again"
            ),
            DemoOutcome::Loaded { accepted } => tracing::info!(
                datasource = DEMO_DATASOURCE,
                accepted,
                "loaded and persisted the demo events"
            ),
        }
    }
    let server = Server::bind(&config, ingest).await?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, data_dir = %args.data_dir.display(), "listening on {addr}");
    server.run(shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10w").unwrap_err().contains("not a unit"));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("m").is_err());
    }
}

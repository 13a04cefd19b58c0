//! The `strata` binary: one command per job (DESIGN.md, "The shape of the
//! system"). Each subcommand lives in its own `*_command` module of the
//! `strata_tools` library; this file only parses flags, sets up logging and
//! dispatches.

use clap::{Parser, Subcommand};
use strata_tools::{gen_command, load_command, query_command, serve_command};
use tracing_subscriber::EnvFilter;

/// mimalloc keeps freed pages for reuse: ingest allocates and frees
/// megabytes per request (bodies, WAL batches, parsed events), and the system
/// allocator hands those back to the kernel only to fault in and zero fresh
/// pages on the next request — a third of the ingest CPU time when measured.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Strata: a time-series OLAP store with full-text search, in one binary.
///
/// Events stream in over HTTP, are rolled up into columnar, time-partitioned
/// segments with bitmap and full-text indexes, and are queried with Druid's
/// native JSON or Elasticsearch's query DSL.
#[derive(Parser, Debug)]
#[command(name = "strata", version, propagate_version = true)]
struct Cli {
    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `strata=debug`).
    #[arg(long, global = true, env = "STRATA_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: HTTP API on --listen, data in --data-dir.
    Serve(serve_command::ServeArgs),
    /// Write the reference access-log dataset (docs: shared DATASET.md) as NDJSON, CSV or Parquet.
    Gen(gen_command::GenArgs),
    /// Bulk-load history from files (NDJSON, CSV, Parquet, Arrow; gzip or
    /// zstd) into a datasource. Replaces the time chunks the files cover
    /// unless --append; publishes all or nothing.
    Load(load_command::LoadArgs),
    /// Send a Druid native query (a JSON file, or `-` for stdin) to a running
    /// server and print the answer; a failed query prints the server's
    /// message and exits non-zero.
    Query(query_command::QueryArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log)
        .map_err(|e| anyhow::anyhow!("--log {:?} is not a valid log filter: {e}", cli.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve_command::run(args)),
        Command::Gen(args) => gen_command::run(args),
        Command::Load(args) => load_command::run(args),
        Command::Query(args) => Ok(query_command::run(args)?),
    }
}

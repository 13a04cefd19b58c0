//! `strata serve`: the server on its embedded default — data in a local
//! folder, no external service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use strata_server::{Server, ServerConfig};
use strata_storage::catalog::FileCatalog;

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
    };
    let server = Server::bind(&config, Arc::new(catalog)).await?;
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

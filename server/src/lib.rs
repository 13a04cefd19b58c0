//! # strata-server
//!
//! Strata's HTTP surface (DESIGN.md, "The HTTP surface"): it binds the
//! listener, routes requests, turns every failure into the JSON error
//! contract and counts what it serves. It holds no business logic — routes
//! translate HTTP into calls on the storage, ingest and query crates and back.
//!
//! Start with [`Server`]: built from a [`ServerConfig`] and the opened
//! [`IngestService`] (which holds the [`Catalog`]), it serves until its
//! shutdown future resolves. [`api_error`] holds the error contract,
//! [`druid_error`] Druid's, for the Druid routes, [`routes`] the route
//! table, [`metrics`] the Prometheus registry, and [`query_registry`] the
//! queries running now, which `DELETE /druid/v2/{queryId}` cancels.

pub mod api_error;
pub mod druid_error;
pub mod metrics;
pub mod query_registry;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strata_ingest::bulk_load::task::{LoadTasks, TaskError};
use strata_ingest::kafka::supervisors::{SupervisorError, Supervisors};
use strata_ingest::service::IngestService;
use strata_storage::catalog::Catalog;
use tokio::net::TcpListener;

pub use api_error::ApiError;
use query_registry::QueryRegistry;

/// Where the server listens and keeps its data, and how long and how large
/// a query may run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub query_limits: QueryLimitsConfig,
}

/// The limits of every query, unless its context lowers them.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimitsConfig {
    /// The timeout of a query whose context sets none (Druid's default is
    /// five minutes).
    pub default_timeout: Duration,
    /// The most bytes a query's aggregation groups or scanned rows may take;
    /// a query's `maxQueryMemoryBytes` may only lower it.
    pub max_memory_bytes: u64,
}

impl Default for QueryLimitsConfig {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(300),
            max_memory_bytes: 1 << 30,
        }
    }
}

/// What every route can reach.
#[derive(Clone)]
pub struct AppState {
    pub catalog: Arc<dyn Catalog>,
    pub ingest: Arc<IngestService>,
    pub metrics: Arc<metrics::Metrics>,
    pub queries: Arc<QueryRegistry>,
    pub query_limits: QueryLimitsConfig,
    /// Bulk loads running in the background (Druid batch tasks, uploads).
    pub loads: Arc<LoadTasks>,
    /// The Kafka supervisors, each consuming on its own thread.
    pub supervisors: Arc<Supervisors>,
}

/// Failing to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}; pick another address with --listen")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("preparing bulk loads: {0}")]
    Loads(#[from] TaskError),
    #[error("restoring the Kafka supervisors: {0}")]
    Supervisors(#[from] SupervisorError),
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Binds the listener (port 0 picks a free port; see [`Server::local_addr`]).
    pub async fn bind(
        config: &ServerConfig,
        ingest: Arc<IngestService>,
    ) -> Result<Self, ServeError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let loads = Arc::new(LoadTasks::new(ingest.clone())?);
        let supervisors = Arc::new(Supervisors::open(ingest.clone())?);
        Ok(Self {
            listener,
            state: AppState {
                loads,
                supervisors,
                catalog: ingest.catalog().clone(),
                ingest,
                metrics: Arc::new(metrics::Metrics::new()),
                queries: Arc::new(QueryRegistry::default()),
                query_limits: config.query_limits,
            },
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Server { listener, state } = self;
        warp::serve(routes::routes(state.clone()))
            .incoming(listener)
            .graceful(shutdown)
            .run()
            .await;
        state.supervisors.stop_all();
        // Routes capture only the parts of the state they use; holding the
        // whole state here keeps the catalog, and with it the data
        // directory's lock, alive until the server has stopped.
        drop(state);
    }
}

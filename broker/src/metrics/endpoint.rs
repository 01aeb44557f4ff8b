//! The broker's HTTP endpoint: bound before the broker joins its cluster (so `/health/live` answers
//! during startup), attached to the broker's state once it exists (`/health/ready` and the
//! scrape-time gauges need it).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use strom_controller::telemetry::{self, HttpEndpoints, Registry};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::BrokerMetrics;
use crate::state::{BrokerState, MetadataSource};

/// A heartbeat answer older than this makes the broker not ready (at least; see [`readiness`]).
const MIN_STALE_HEARTBEAT: Duration = Duration::from_secs(10);

/// The metrics of a starting broker and, when configured, its HTTP endpoint.
pub struct Endpoint {
    /// The broker's recorded metrics.
    pub metrics: Arc<BrokerMetrics>,
    /// Where `/metrics` is served, if anywhere.
    pub addr: Option<SocketAddr>,
    /// The serving task.
    pub task: Option<JoinHandle<()>>,
    state: Arc<OnceLock<Weak<BrokerState>>>,
}

impl Endpoint {
    /// Creates the broker's metrics and binds `listen` (if set), serving until `shutdown`.
    pub async fn start(listen: Option<SocketAddr>, shutdown: watch::Receiver<bool>) -> std::io::Result<Self> {
        let registry = Registry::new();
        let metrics = Arc::new(BrokerMetrics::new(registry.clone()));
        let state: Arc<OnceLock<Weak<BrokerState>>> = Arc::new(OnceLock::new());
        let Some(listen) = listen else { return Ok(Self { metrics, addr: None, task: None, state }) };
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let cell = state.clone();
        let ready: telemetry::Readiness = Arc::new(move || match cell.get().and_then(Weak::upgrade) {
            Some(state) => readiness(&state),
            None => Err("starting: joining the cluster".into()),
        });
        let task = tokio::spawn(telemetry::serve(listener, HttpEndpoints { registry, ready }, shutdown));
        Ok(Self { metrics, addr: Some(addr), task: Some(task), state })
    }

    /// The broker is up: readiness and the scrape-time gauges now read `state`.
    pub fn attach(&self, state: &Arc<BrokerState>) {
        super::register_collector(&self.metrics.registry, Arc::downgrade(state));
        let _ = self.state.set(Arc::downgrade(state));
    }
}

/// Ready when serving with metadata: always in single-node mode; in a cluster while the controller
/// has not fenced this broker and answered a heartbeat recently (5 heartbeat intervals, at least
/// [`MIN_STALE_HEARTBEAT`]).
pub fn readiness(state: &BrokerState) -> Result<(), String> {
    let MetadataSource::Cluster(cluster) = &state.metadata else { return Ok(()) };
    if cluster.is_fenced() {
        return Err("fenced by the controller quorum".into());
    }
    let stale = Duration::from_millis(state.config.broker_heartbeat_interval_ms.saturating_mul(5))
        .max(MIN_STALE_HEARTBEAT);
    match cluster.heartbeat_age() {
        Some(age) if age <= stale => Ok(()),
        Some(age) => Err(format!("no heartbeat answer from the controller quorum for {} s", age.as_secs())),
        None => Err("no heartbeat answered yet".into()),
    }
}

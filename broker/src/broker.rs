//! Broker lifecycle: open the data directory, recover partition logs, register in the metadata image,
//! bind the Kafka listener, run housekeeping (retention, `flush.ms`), and shut down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use crate::config::BrokerConfig;
use crate::metadata::{MetadataRecord, MetadataStore};
use crate::replica_manager::ReplicaManager;
use crate::server;
use crate::state::{self, BrokerState};

/// A broker that could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// Binding the listener or touching the data directory failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The metadata log could not be opened or written.
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataStoreError),
    /// A partition log could not be recovered.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrokerError {
    let context = context.into();
    move |source| BrokerError::Io { context, source }
}

/// Entry point for starting a broker node.
pub struct Broker;

/// A running broker; call [`BrokerHandle::shutdown`] to stop it cleanly.
pub struct BrokerHandle {
    kafka_addr: SocketAddr,
    state: Arc<BrokerState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn advertised(config: &BrokerConfig, bound: SocketAddr) -> (String, i32) {
    let host = config.advertised_host.clone().unwrap_or_else(|| {
        if bound.ip().is_unspecified() { "localhost".to_string() } else { bound.ip().to_string() }
    });
    (host, i32::from(config.advertised_port.unwrap_or(bound.port())))
}

impl Broker {
    /// Opens the data directory, recovers partition logs and starts serving Kafka clients.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`start`](Self::start) with an injected clock.
    pub async fn start_with_clock(
        config: BrokerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<BrokerHandle, BrokerError> {
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
        let cluster_id =
            state::load_or_create_meta(&data_dir, config.node_id).map_err(io("reading meta.properties"))?;
        let listener = tokio::net::TcpListener::bind(config.listener)
            .await
            .map_err(io(format!("binding {}", config.listener)))?;
        let kafka_addr = listener.local_addr().map_err(io("reading listener address"))?;
        let metadata = MetadataStore::open(&data_dir)?;
        let (host, port) = advertised(&config, kafka_addr);
        let registration = MetadataRecord::RegisterBroker {
            broker_id: config.node_id,
            host: host.clone(),
            port,
            rack: config.rack.clone(),
        };
        let registered = metadata
            .image()
            .broker(config.node_id)
            .is_some_and(|b| b.host == host && b.port == port && b.rack == config.rack);
        if !registered {
            metadata.commit(&[registration])?;
        }
        let replicas = ReplicaManager::new(config.node_id, data_dir.clone(), config.topic_defaults.clone());
        let image = metadata.image();
        replicas.remove_stale_dirs(&image).map_err(io("removing stale partition directories"))?;
        replicas.apply_image(&image, clock.now_ms())?;
        tracing::info!(node_id = config.node_id, %kafka_addr, cluster_id, partitions = replicas.all().len(), "broker started");
        let state = Arc::new(BrokerState::new(config, cluster_id, metadata, replicas, clock));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(server::run(state.clone(), listener, shutdown_rx.clone())),
            tokio::spawn(housekeeping(state.clone(), shutdown_rx)),
        ];
        Ok(BrokerHandle { kafka_addr, state, shutdown, tasks })
    }
}

/// Retention every `log.retention.check.interval.ms`, `flush.ms` checks every
/// `log.flush.scheduler.interval.ms`.
async fn housekeeping(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let flush_every = state.config.log_flush_scheduler_interval_ms.max(1);
    let retention_every = state.config.log_retention_check_interval_ms.max(1);
    let mut interval = tokio::time::interval(Duration::from_millis(flush_every.min(retention_every)));
    let mut last_retention = state.clock.now_ms();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = state.clock.now_ms();
        let retention = now - last_retention >= retention_every as i64;
        if retention {
            last_retention = now;
        }
        let worker = state.clone();
        let pass = tokio::task::spawn_blocking(move || {
            for partition in worker.replicas.all() {
                if let Err(e) = partition.housekeeping(now, retention) {
                    tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "housekeeping failed");
                }
            }
        });
        let _ = pass.await;
    }
}

impl BrokerHandle {
    /// Address the Kafka listener is bound to.
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
    }

    /// Stops accepting connections and background work, then flushes every partition log and records
    /// its recovery point. When this returns, every acknowledged record is on disk.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.replicas.close_all()).await.map_err(|e| {
            BrokerError::Io { context: "closing logs".into(), source: std::io::Error::other(e.to_string()) }
        })?;
        tracing::info!("broker stopped");
        Ok(())
    }
}

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
use crate::metadata::cluster::{BrokerIdentity, ClusterMetadata};
use crate::metadata::{MetadataRecord, MetadataStore};
use crate::replica_manager::ReplicaManager;
use crate::server;
use crate::state::{self, BrokerState, MetadataSource};

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
        let listener = tokio::net::TcpListener::bind(config.listener)
            .await
            .map_err(io(format!("binding {}", config.listener)))?;
        let kafka_addr = listener.local_addr().map_err(io("reading listener address"))?;
        let (host, port) = advertised(&config, kafka_addr);
        let replicas = Arc::new(ReplicaManager::new(
            config.node_id,
            data_dir.clone(),
            config.topic_defaults.clone(),
            config.fetcher_settings(),
            clock.clone(),
        ));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let (metadata, cluster_id) = if config.controllers.is_empty() {
            open_single_node(&config, &host, port)?
        } else {
            join_cluster(&config, &host, port, &replicas, &clock, &shutdown_rx, &mut tasks).await?
        };
        let image = match &metadata {
            MetadataSource::Local(store) => store.image(),
            MetadataSource::Cluster(cluster) => cluster.image(),
        };
        replicas.apply_image(&image, clock.now_ms())?;
        tracing::info!(node_id = config.node_id, %kafka_addr, cluster_id, partitions = replicas.all().len(), "broker started");
        let state = Arc::new(BrokerState::new(config, cluster_id, metadata, replicas, clock));
        tasks.push(tokio::spawn(server::run(state.clone(), listener, shutdown_rx.clone())));
        tasks.push(tokio::spawn(crate::replication::isr::run(state.clone(), shutdown_rx.clone())));
        tasks.push(tokio::spawn(crate::coordinator::offsets::run(state.clone(), shutdown_rx.clone())));
        tasks.push(tokio::spawn(crate::coordinator::groups::run(state.clone(), shutdown_rx.clone())));
        tasks.push(tokio::spawn(housekeeping(state.clone(), shutdown_rx)));
        Ok(BrokerHandle { kafka_addr, state, shutdown, tasks })
    }
}

/// Single-node mode: the broker keeps the metadata log and registers itself in it.
fn open_single_node(
    config: &BrokerConfig,
    host: &str,
    port: i32,
) -> Result<(MetadataSource, String), BrokerError> {
    let cluster_id = state::load_or_create_meta(&config.data_dir, config.node_id)
        .map_err(io("reading meta.properties"))?;
    let metadata = MetadataStore::open(&config.data_dir)?;
    let registered = metadata
        .image()
        .broker(config.node_id)
        .is_some_and(|b| b.host == host && b.port == port && b.rack == config.rack);
    if !registered {
        metadata.commit(&[MetadataRecord::RegisterBroker {
            broker_id: config.node_id,
            incarnation_id: uuid::Uuid::new_v4(),
            host: host.to_string(),
            port,
            rack: config.rack.clone(),
            // Single-node store: no controller heartbeats, so the broker registers unfenced.
            fenced: false,
        }])?;
    }
    Ok((MetadataSource::Local(metadata), cluster_id))
}

/// How long a stopping broker waits for the controller to move its leaderships away.
pub const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a stopping broker waits for its background tasks (an in-flight controller request, a
/// metadata stream) before aborting them.
const TASK_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a starting broker waits for the quorum.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Cluster mode: follow the controllers' watch stream (which keeps the hosted partitions in step with
/// the image), register, and heartbeat. Returns once the image shows this broker registered.
async fn join_cluster(
    config: &BrokerConfig,
    host: &str,
    port: i32,
    replicas: &Arc<ReplicaManager>,
    clock: &Arc<dyn Clock>,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(MetadataSource, String), BrokerError> {
    let known_cluster_id =
        state::read_meta(&config.data_dir, config.node_id).map_err(io("reading meta.properties"))?;
    let identity = BrokerIdentity {
        broker_id: config.node_id,
        incarnation_id: uuid::Uuid::new_v4(),
        cluster_id: known_cluster_id.clone().unwrap_or_default(),
        host: host.to_string(),
        port,
        rack: config.rack.clone(),
    };
    let cluster = Arc::new(ClusterMetadata::new(config.controllers.clone(), identity));
    let (follower, on_image_replicas, on_image_clock) = (cluster.clone(), replicas.clone(), clock.clone());
    let follow_shutdown = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let on_image = move |image: &strom_controller::metadata::MetadataImage| {
            if let Err(e) = on_image_replicas.apply_image(image, on_image_clock.now_ms()) {
                tracing::error!(error = %e, "applying metadata to partitions failed");
            }
        };
        follower.follow(on_image, follow_shutdown).await;
    }));
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    let cluster_id = cluster.register(deadline).await.map_err(|e| BrokerError::Io {
        context: format!("registering with controllers {:?}", config.controllers),
        source: std::io::Error::other(e.message),
    })?;
    if known_cluster_id.is_none() {
        state::write_meta(&config.data_dir, config.node_id, &cluster_id)
            .map_err(io("writing meta.properties"))?;
    }
    let interval = Duration::from_millis(config.broker_heartbeat_interval_ms.max(10));
    // Like Kafka, a broker is started once the controller has unfenced it (its first heartbeat with
    // metadata caught up to its registration), so clients never see a registered-but-fenced broker.
    while cluster.heartbeat(false).await.is_none() || cluster.is_fenced() {
        if tokio::time::Instant::now() >= deadline {
            return Err(BrokerError::Io {
                context: "waiting for the controller to unfence this broker".into(),
                source: std::io::Error::from(std::io::ErrorKind::TimedOut),
            });
        }
        tokio::time::sleep(interval.min(Duration::from_millis(100))).await;
    }
    let (heartbeats, mut heartbeat_shutdown) = (cluster.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => { heartbeats.heartbeat(false).await; }
                _ = heartbeat_shutdown.changed() => return,
            }
        }
    }));
    Ok((MetadataSource::Cluster(cluster), cluster_id))
}

/// Retention every `log.retention.check.interval.ms`, `flush.ms` checks every
/// `log.flush.scheduler.interval.ms`, the high-watermark checkpoint every
/// `replica.high.watermark.checkpoint.interval.ms`.
async fn housekeeping(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let flush_every = state.config.log_flush_scheduler_interval_ms.max(1);
    let retention_every = state.config.log_retention_check_interval_ms.max(1);
    let checkpoint_every = state.config.replica_high_watermark_checkpoint_interval_ms.max(1);
    let tick = flush_every.min(retention_every).min(checkpoint_every);
    let mut interval = tokio::time::interval(Duration::from_millis(tick));
    let mut last_retention = state.clock.now_ms();
    let mut last_checkpoint = last_retention;
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
        let checkpoint = now - last_checkpoint >= checkpoint_every as i64;
        if checkpoint {
            last_checkpoint = now;
        }
        let worker = state.clone();
        let pass = tokio::task::spawn_blocking(move || {
            if checkpoint && let Err(e) = worker.replicas.checkpoint_high_watermarks() {
                tracing::error!(error = %e, "writing the high-watermark checkpoint failed");
            }
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

    /// Stops the broker like a crash would (tests): background tasks and the listener are aborted,
    /// nothing is flushed, and the controllers are not told (its session expires).
    pub async fn kill(self) {
        self.state.replicas.stop_fetchers();
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Stops the broker cleanly. In cluster mode it first asks the active controller for a controlled
    /// shutdown (its leaderships move to other in-sync replicas; at most
    /// [`CONTROLLED_SHUTDOWN_TIMEOUT`]). Then it stops accepting connections and background work, and
    /// flushes every partition log and records its recovery point. When this returns, every
    /// acknowledged record is on disk.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        if let MetadataSource::Cluster(cluster) = &self.state.metadata {
            let deadline = tokio::time::Instant::now() + CONTROLLED_SHUTDOWN_TIMEOUT;
            while tokio::time::Instant::now() < deadline {
                // Bounded: an unreachable quorum must not hold the shutdown past the deadline.
                let heartbeat = tokio::time::timeout_at(deadline, cluster.heartbeat(true)).await;
                if heartbeat == Ok(Some(true)) {
                    tracing::info!("controlled shutdown complete");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = self.shutdown.send(true);
        self.state.replicas.stop_fetchers();
        let deadline = tokio::time::Instant::now() + TASK_STOP_TIMEOUT;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("a background task did not stop in time; aborting it");
                task.abort();
            }
        }
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.replicas.close_all()).await.map_err(|e| {
            BrokerError::Io { context: "closing logs".into(), source: std::io::Error::other(e.to_string()) }
        })?;
        tracing::info!("broker stopped");
        Ok(())
    }
}

//! Broker lifecycle: open the data directory, recover partition logs, bind the Kafka listeners,
//! register every listener's advertised endpoint in the metadata image, run housekeeping (retention,
//! `flush.ms`), and shut down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use crate::config::BrokerConfig;
use crate::listener::{ListenerError, ListenerPlan};
use crate::metadata::cluster::{BrokerIdentity, ClusterMetadata};
use crate::metadata::{BrokerEndpoint, MetadataRecord, MetadataStore};
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
    /// The listener settings do not fit together.
    #[error("invalid listener config: {0}")]
    Config(#[from] ListenerError),
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
    metrics_addr: Option<SocketAddr>,
    listeners: Vec<(String, SocketAddr)>,
    state: Arc<BrokerState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// One bound Kafka listener.
struct BoundListener {
    name: Arc<str>,
    socket: TcpListener,
    addr: SocketAddr,
}

/// What this broker registers: every listener's advertised endpoint, and the inter-broker listener's
/// (repeated in the registration's host/port, which older readers use).
struct Advertised {
    endpoints: Vec<BrokerEndpoint>,
    inter_broker: BrokerEndpoint,
}

/// Binds every listener of `plan`, in order, and works out what each advertises.
async fn bind_listeners(plan: &ListenerPlan) -> Result<(Vec<BoundListener>, Advertised), BrokerError> {
    let mut bound = Vec::with_capacity(plan.listeners.len());
    let mut endpoints = Vec::with_capacity(plan.listeners.len());
    for listener in &plan.listeners {
        let (host, port) = (listener.bind_host.as_str(), listener.bind_port);
        let socket = TcpListener::bind((host, port))
            .await
            .map_err(io(format!("binding listener {} to {host} port {port}", listener.name)))?;
        let addr = socket.local_addr().map_err(io("reading listener address"))?;
        let (advertised_host, advertised_port) = listener.advertised(addr);
        endpoints.push(BrokerEndpoint {
            name: listener.name.clone(),
            host: advertised_host,
            port: advertised_port,
        });
        bound.push(BoundListener { name: Arc::from(listener.name.as_str()), socket, addr });
    }
    // The plan has at least one listener and names an inter-broker listener among them.
    let inter_broker =
        endpoints.iter().find(|e| e.name == plan.inter_broker_listener_name).unwrap_or(&endpoints[0]).clone();
    Ok((bound, Advertised { endpoints, inter_broker }))
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
        let plan = config.listener_plan()?;
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
        let (bound, advertised) = bind_listeners(&plan).await?;
        let kafka_addr = bound[0].addr;
        let listeners = bound.iter().map(|l| (l.name.to_string(), l.addr)).collect();
        let replicas = Arc::new(ReplicaManager::new(
            config.node_id,
            plan.inter_broker_listener_name.clone(),
            data_dir.clone(),
            config.topic_defaults.clone(),
            config.fetcher_settings(),
            clock.clone(),
        ));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let endpoint = crate::metrics::Endpoint::start(config.metrics_listen, shutdown_rx.clone())
            .await
            .map_err(io(format!("binding the metrics listener {:?}", config.metrics_listen)))?;
        let metrics_addr = endpoint.addr;
        let (metadata, cluster_id) = if config.controllers.is_empty() {
            open_single_node(&config, &advertised)?
        } else {
            join_cluster(&config, &advertised, &replicas, &shutdown_rx, &mut tasks).await?
        };
        let image = match &metadata {
            MetadataSource::Local(store) => store.image(),
            MetadataSource::Cluster(cluster) => cluster.image(),
        };
        replicas.apply_image(&image)?;
        tracing::info!(node_id = config.node_id, %kafka_addr, cluster_id, partitions = replicas.all().len(), "broker started");
        let state = Arc::new(BrokerState::new(
            config,
            cluster_id,
            metadata,
            replicas,
            clock,
            endpoint.metrics.clone(),
        ));
        endpoint.attach(&state);
        tasks.extend(endpoint.task);
        for listener in bound {
            let serve = server::run(state.clone(), listener.socket, listener.name, shutdown_rx.clone());
            tasks.push(tokio::spawn(serve));
        }
        tasks.push(tokio::spawn(crate::replication::isr::run(state.clone(), shutdown_rx.clone())));
        tasks.push(tokio::spawn(crate::coordinator::offsets::run(state.clone(), shutdown_rx.clone())));
        tasks.push(tokio::spawn(crate::coordinator::groups::run(state.clone(), shutdown_rx.clone())));
        tasks.push(tokio::spawn(housekeeping(state.clone(), shutdown_rx)));
        Ok(BrokerHandle { kafka_addr, listeners, metrics_addr, state, shutdown, tasks })
    }
}

/// Single-node mode: the broker keeps the metadata log and registers itself in it.
fn open_single_node(
    config: &BrokerConfig,
    advertised: &Advertised,
) -> Result<(MetadataSource, String), BrokerError> {
    let (host, port) = (&advertised.inter_broker.host, advertised.inter_broker.port);
    let cluster_id = state::load_or_create_meta(&config.data_dir, config.node_id)
        .map_err(io("reading meta.properties"))?;
    let metadata = MetadataStore::open(&config.data_dir)?;
    let registered = metadata.image().broker(config.node_id).is_some_and(|b| {
        &b.host == host && b.port == port && b.endpoints == advertised.endpoints && b.rack == config.rack
    });
    if !registered {
        metadata.commit(&[MetadataRecord::RegisterBroker {
            broker_id: config.node_id,
            incarnation_id: uuid::Uuid::new_v4(),
            host: host.clone(),
            port,
            endpoints: advertised.endpoints.clone(),
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
    advertised: &Advertised,
    replicas: &Arc<ReplicaManager>,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(MetadataSource, String), BrokerError> {
    let known_cluster_id =
        state::read_meta(&config.data_dir, config.node_id).map_err(io("reading meta.properties"))?;
    let identity = BrokerIdentity {
        broker_id: config.node_id,
        incarnation_id: uuid::Uuid::new_v4(),
        cluster_id: known_cluster_id.clone().unwrap_or_default(),
        host: advertised.inter_broker.host.clone(),
        port: advertised.inter_broker.port,
        endpoints: advertised.endpoints.clone(),
        rack: config.rack.clone(),
    };
    let interval = Duration::from_millis(config.broker_heartbeat_interval_ms.max(10));
    let cluster = Arc::new(
        ClusterMetadata::new(config.controllers.clone(), identity)
            .with_heartbeat_attempt_timeout(interval.max(Duration::from_millis(250))),
    );
    let (follower, on_image_replicas) = (cluster.clone(), replicas.clone());
    let follow_shutdown = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let on_image = move |image: &strom_controller::metadata::MetadataImage| {
            if let Err(e) = on_image_replicas.apply_image(image) {
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
/// `replica.high.watermark.checkpoint.interval.ms`. The intervals are measured on the monotonic clock;
/// retention and `flush.ms` are judged at the wall clock's now (they compare record and append times).
async fn housekeeping(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let flush_every = state.config.log_flush_scheduler_interval_ms.max(1);
    let retention_every = state.config.log_retention_check_interval_ms.max(1);
    let checkpoint_every = state.config.replica_high_watermark_checkpoint_interval_ms.max(1);
    let tick = flush_every.min(retention_every).min(checkpoint_every);
    let mut interval = tokio::time::interval(Duration::from_millis(tick));
    let mut last_retention = state.clock.monotonic_ms();
    let mut last_checkpoint = last_retention;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let (now, monotonic_now) = (state.clock.now_ms(), state.clock.monotonic_ms());
        let retention = monotonic_now - last_retention >= retention_every as i64;
        if retention {
            last_retention = monotonic_now;
        }
        let checkpoint = monotonic_now - last_checkpoint >= checkpoint_every as i64;
        if checkpoint {
            last_checkpoint = monotonic_now;
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
    /// Address the first Kafka listener is bound to.
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
    }

    /// Every Kafka listener, by name, with the address it is bound to, in configuration order.
    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// Address of the HTTP endpoint (`/metrics`, `/health/*`), when one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
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

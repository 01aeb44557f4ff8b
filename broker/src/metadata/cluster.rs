//! Cluster mode: this broker's metadata comes from the controller quorum. It registers, heartbeats, and
//! follows the controllers' watch stream into its own image (any controller can serve the stream; on a
//! failure it resumes from its applied index at the next one). Metadata changes go to the active
//! controller, and [`ClusterMetadata::execute`] returns only once this broker's image has applied them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use strom_controller::metadata::wire::{self, WireError};
use strom_controller::request::{ControllerReply, ControllerRequest};
use strom_proto::broker_api::broker_api_client::BrokerApiClient;
use strom_proto::broker_api::{
    ExecuteRequest, HeartbeatRequest, ListenerEndpoint, RegisterBrokerRequest, WatchRequest, watch_event,
};
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

use super::{BrokerEndpoint, MetadataImage, MetadataRecord};
use crate::error_code::ErrorCode;
use crate::metadata::ops::OpError;

/// Kafka's NOT_CONTROLLER code, returned by a controller that is not the leader.
const NOT_CONTROLLER: i32 = ErrorCode::NotController as i32;
/// How long a metadata change may take before the client gets REQUEST_TIMED_OUT.
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a change may wait for the watch stream before the broker follows another controller.
const STALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause before retrying another controller after a failure.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// A watch event this broker could not apply; the stream is dropped and followed again elsewhere.
#[derive(Debug, thiserror::Error)]
enum WatchEventError {
    /// The snapshot is not a JSON `MetadataImage`.
    #[error("bad snapshot: {0}")]
    Snapshot(#[from] serde_json::Error),
    /// The records are not an encoded `MetadataRecordBatch`.
    #[error("bad records: {0}")]
    Records(#[from] WireError),
}

/// Who this broker is, for registration and heartbeats.
#[derive(Debug, Clone)]
pub struct BrokerIdentity {
    /// Broker id.
    pub broker_id: i32,
    /// Changes on every start, so the controller tells a restart from a duplicate.
    pub incarnation_id: Uuid,
    /// Cluster id the broker expects.
    pub cluster_id: String,
    /// Advertised host of the inter-broker listener.
    pub host: String,
    /// Advertised port of the inter-broker listener.
    pub port: i32,
    /// Every advertised listener.
    pub endpoints: Vec<BrokerEndpoint>,
    /// Rack.
    pub rack: Option<String>,
}

/// The broker's view of the quorum and the image it follows.
pub struct ClusterMetadata {
    controllers: Vec<String>,
    identity: BrokerIdentity,
    channels: Mutex<HashMap<String, Channel>>,
    leader_hint: Mutex<Option<String>>,
    image: RwLock<Arc<MetadataImage>>,
    /// Raft index of the last applied watch event (where a new stream resumes).
    watch_index: std::sync::atomic::AtomicU64,
    /// Records applied (`MetadataImage::offset`): what changes and registrations wait for.
    applied: watch::Sender<u64>,
    fenced: watch::Sender<bool>,
    /// When the active controller last answered a heartbeat.
    last_heartbeat: Mutex<Option<std::time::Instant>>,
    /// Asks the follower to drop its stream and resume at another controller (the one it follows
    /// stopped delivering what the leader committed).
    resubscribe: tokio::sync::Notify,
    /// How long one heartbeat attempt may take before the next controller is tried.
    heartbeat_attempt_timeout: Duration,
}

fn op_error(code: ErrorCode, message: impl Into<String>) -> OpError {
    OpError { code, message: message.into() }
}

impl ClusterMetadata {
    /// A follower of `controllers` (gRPC `host:port` addresses) for this broker.
    pub fn new(controllers: Vec<String>, identity: BrokerIdentity) -> Self {
        Self {
            controllers,
            identity,
            channels: Mutex::new(HashMap::new()),
            leader_hint: Mutex::new(None),
            image: RwLock::new(Arc::new(MetadataImage::default())),
            watch_index: std::sync::atomic::AtomicU64::new(0),
            applied: watch::channel(0).0,
            fenced: watch::channel(true).0,
            last_heartbeat: Mutex::new(None),
            resubscribe: tokio::sync::Notify::new(),
            heartbeat_attempt_timeout: Duration::from_secs(2),
        }
    }

    /// Bounds each heartbeat attempt (default 2 s; the broker uses its heartbeat interval). A
    /// controller that stopped answering without closing the connection (paused, or cut off) must
    /// not hold the heartbeats past the broker's session: the new active controller starts every
    /// broker's session afresh when it takes over and fences the ones that do not heartbeat in time.
    pub fn with_heartbeat_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_attempt_timeout = timeout;
        self
    }

    /// The image as of the last applied watch event.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Metadata offset (records applied) of the image.
    pub fn applied_offset(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Whether the controller last reported this broker fenced.
    pub fn is_fenced(&self) -> bool {
        *self.fenced.borrow()
    }

    /// Time since the active controller last answered a heartbeat (`None` before the first answer).
    pub fn heartbeat_age(&self) -> Option<std::time::Duration> {
        self.last_heartbeat.lock().unwrap_or_else(|e| e.into_inner()).map(|at| at.elapsed())
    }

    fn client(&self, addr: &str) -> Result<BrokerApiClient<Channel>, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(addr) {
            return Ok(BrokerApiClient::new(channel.clone()));
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(BrokerApiClient::new(channel))
    }

    /// Controllers to try, the last known leader first.
    fn candidates(&self) -> Vec<String> {
        let hint = self.leader_hint.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out: Vec<String> = hint.into_iter().collect();
        for controller in &self.controllers {
            if !out.contains(controller) {
                out.push(controller.clone());
            }
        }
        out
    }

    fn set_leader_hint(&self, addr: Option<String>) {
        *self.leader_hint.lock().unwrap_or_else(|e| e.into_inner()) = addr;
    }

    /// Registers with the active controller, retrying across controllers until `deadline`; returns the
    /// cluster id once this broker's image shows the registration.
    pub async fn register(&self, deadline: tokio::time::Instant) -> Result<String, OpError> {
        let id = &self.identity;
        let request = RegisterBrokerRequest {
            broker_id: id.broker_id,
            incarnation_id: id.incarnation_id.to_string(),
            cluster_id: id.cluster_id.clone(),
            host: id.host.clone(),
            port: id.port,
            rack: id.rack.clone(),
            endpoints: id
                .endpoints
                .iter()
                .map(|e| ListenerEndpoint { name: e.name.clone(), host: e.host.clone(), port: e.port })
                .collect(),
        };
        loop {
            for addr in self.candidates() {
                let Ok(mut client) = self.client(&addr) else { continue };
                match client.register_broker(request.clone()).await {
                    Ok(response) => {
                        let response = response.into_inner();
                        if response.error_code == 0 {
                            self.set_leader_hint(Some(addr));
                            self.wait_applied(response.log_index, deadline).await?;
                            return Ok(response.cluster_id);
                        }
                        // Anything but a refusal is retried until the deadline: a quorum still forming,
                        // a leader change, or a restarted broker's previous session not expired yet.
                        let fatal = [ErrorCode::InconsistentClusterId, ErrorCode::InvalidRequest]
                            .map(|c| i32::from(c.code()));
                        if fatal.contains(&response.error_code) {
                            let code = i16::try_from(response.error_code).ok().and_then(ErrorCode::from_code);
                            return Err(op_error(
                                code.unwrap_or(ErrorCode::InvalidRequest),
                                response.error_message,
                            ));
                        }
                        tracing::debug!(controller = %addr, reason = %response.error_message, "registration deferred");
                    }
                    Err(status) => {
                        tracing::debug!(controller = %addr, %status, "registration attempt failed")
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(op_error(ErrorCode::RequestTimedOut, "no controller accepted the registration"));
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    /// Waits until the image has applied metadata offset `offset`. If the stream it follows does not
    /// deliver it within [`STALL_TIMEOUT`], the follower moves to another controller.
    async fn wait_applied(&self, offset: u64, deadline: tokio::time::Instant) -> Result<(), OpError> {
        let mut applied = self.applied.subscribe();
        loop {
            let stall = (tokio::time::Instant::now() + STALL_TIMEOUT).min(deadline);
            match tokio::time::timeout_at(stall, applied.wait_for(|a| *a >= offset)).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(_)) => break,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tracing::info!(offset, "metadata stream stalled; switching controller");
                    self.resubscribe.notify_one();
                }
                Err(_) => break,
            }
        }
        Err(op_error(ErrorCode::RequestTimedOut, format!("metadata offset {offset} not applied in time")))
    }

    /// Sends a change to the active controller; returns once this broker's image has applied it.
    pub async fn execute(&self, request: &ControllerRequest) -> Result<ControllerReply, OpError> {
        let deadline = tokio::time::Instant::now() + EXECUTE_TIMEOUT;
        let body = serde_json::to_vec(request)
            .map_err(|e| op_error(ErrorCode::UnknownServerError, e.to_string()))?;
        loop {
            for addr in self.candidates() {
                let Ok(mut client) = self.client(&addr) else { continue };
                let response = match client.execute(ExecuteRequest { request_json: body.clone() }).await {
                    Ok(response) => response.into_inner(),
                    Err(status) => {
                        tracing::debug!(controller = %addr, %status, "execute attempt failed");
                        continue;
                    }
                };
                if response.error_code == NOT_CONTROLLER {
                    tracing::debug!(controller = %addr, leader = %response.leader_addr, "not the active controller");
                    let leader = (!response.leader_addr.is_empty()).then_some(response.leader_addr);
                    self.set_leader_hint(leader);
                    continue;
                }
                self.set_leader_hint(Some(addr));
                if response.error_code != 0 {
                    let code = i16::try_from(response.error_code).ok().and_then(ErrorCode::from_code);
                    let code = code.unwrap_or(ErrorCode::UnknownServerError);
                    return Err(op_error(code, response.error_message));
                }
                let reply: ControllerReply = serde_json::from_slice(&response.reply_json)
                    .map_err(|e| op_error(ErrorCode::UnknownServerError, e.to_string()))?;
                self.wait_applied(response.log_index, deadline).await?;
                return Ok(reply);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(op_error(ErrorCode::RequestTimedOut, "no active controller answered"));
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    /// One heartbeat to the active controller; returns whether shutdown may proceed (when asked).
    pub async fn heartbeat(&self, want_shutdown: bool) -> Option<bool> {
        let id = &self.identity;
        let request = HeartbeatRequest {
            broker_id: id.broker_id,
            incarnation_id: id.incarnation_id.to_string(),
            applied_index: self.applied_offset(),
            want_shutdown,
        };
        for addr in self.candidates() {
            let Ok(mut client) = self.client(&addr) else { continue };
            let attempt =
                tokio::time::timeout(self.heartbeat_attempt_timeout, client.heartbeat(request.clone()));
            let Ok(answer) = attempt.await else {
                tracing::debug!(controller = %addr, "heartbeat attempt timed out");
                continue;
            };
            match answer {
                Ok(response) => {
                    let response = response.into_inner();
                    if response.error_code == NOT_CONTROLLER {
                        continue;
                    }
                    self.set_leader_hint(Some(addr));
                    self.fenced.send_replace(response.fenced);
                    *self.last_heartbeat.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(std::time::Instant::now());
                    return Some(response.shutdown_ready);
                }
                Err(status) => tracing::debug!(controller = %addr, %status, "heartbeat failed"),
            }
        }
        None
    }

    /// Applies one watch event to the image.
    fn apply_event(
        &self,
        log_index: u64,
        event: watch_event::Event,
    ) -> Result<Arc<MetadataImage>, WatchEventError> {
        let image = match event {
            watch_event::Event::SnapshotJson(json) => serde_json::from_slice::<MetadataImage>(&json)?,
            watch_event::Event::Records(bytes) => {
                let records: Vec<MetadataRecord> = wire::decode_batch(&bytes)?;
                let mut image = MetadataImage::clone(&self.image());
                for record in &records {
                    image.replay(record);
                }
                image
            }
        };
        let image = Arc::new(image);
        *self.image.write().unwrap_or_else(|e| e.into_inner()) = image.clone();
        self.watch_index.store(log_index, std::sync::atomic::Ordering::SeqCst);
        self.applied.send_replace(image.offset);
        Ok(image)
    }

    /// Follows the watch stream forever (until `shutdown`), calling `on_image` after every applied
    /// event. Moves to the next controller whenever a stream ends or fails.
    pub async fn follow(
        self: Arc<Self>,
        on_image: impl Fn(&MetadataImage) + Send + Sync,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut next = 0usize;
        loop {
            let addr = self.controllers[next % self.controllers.len()].clone();
            next += 1;
            let from_index = self.watch_index.load(std::sync::atomic::Ordering::SeqCst);
            let request = WatchRequest { broker_id: self.identity.broker_id, from_index };
            let stream = match self.client(&addr) {
                Ok(mut client) => client.watch(request).await.map(tonic::Response::into_inner),
                Err(e) => Err(tonic::Status::unavailable(e.to_string())),
            };
            if let Ok(mut stream) = stream {
                loop {
                    let message = tokio::select! {
                        m = stream.message() => m,
                        _ = self.resubscribe.notified() => break,
                        _ = shutdown.changed() => return,
                    };
                    let Ok(Some(event)) = message else { break };
                    let Some(body) = event.event else { continue };
                    match self.apply_event(event.log_index, body) {
                        Ok(image) => on_image(&image),
                        Err(e) => {
                            tracing::error!(controller = %addr, error = %e, "bad watch event");
                            break;
                        }
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_BACKOFF) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

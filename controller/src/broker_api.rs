//! The gRPC service brokers use (`broker_api.proto`): registration, heartbeats with session expiry and
//! fencing, the metadata watch stream, and metadata changes.
//!
//! Every change is decided by the pure functions of `metadata::ops` / `request::decide` on the active
//! controller's image, one at a time (a lock covers decide + Raft write + apply), so each decision sees
//! the previous one. Followers refuse changes with NOT_CONTROLLER and the leader's address; any node
//! serves the watch stream from its own applied image. Broker sessions ([`BrokerSessions`]) are timed
//! on the injected clock's monotonic reading, never on the wall clock.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use strom_proto::broker_api::broker_api_server::BrokerApi;
use strom_proto::broker_api::{
    BrokerLiveness, DescribeBrokersRequest, DescribeBrokersResponse, ExecuteRequest, ExecuteResponse,
    HeartbeatRequest, HeartbeatResponse, RegisterBrokerRequest, RegisterBrokerResponse, WatchEvent,
    WatchRequest, watch_event,
};
use tokio::sync::{broadcast, mpsc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::broker_sessions::BrokerSessions;
use crate::clock::Clock;
use crate::error_code::ErrorCode;
use crate::metadata::ops::{self, BrokerHeartbeat, BrokerRegistration, OpError};
use crate::metadata::{BrokerEndpoint, MetadataImage, MetadataRecord, wire};
use crate::node::{Controller, ControllerError};
use crate::request::{self, ControllerRequest};

/// How long a new leader may take to apply its first entry before a decision gives up.
const OWN_TERM_TIMEOUT: Duration = Duration::from_secs(2);

/// Kafka's NOT_CONTROLLER.
const NOT_CONTROLLER: i32 = ErrorCode::NotController as i32;

/// Settings of the broker-facing service.
#[derive(Debug, Clone)]
pub struct BrokerApiConfig {
    /// The cluster id brokers must present (or adopt when they have none yet).
    pub cluster_id: String,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub session_timeout_ms: i64,
}

/// The broker-facing service of one controller node.
#[derive(Clone)]
pub struct BrokerApiService {
    controller: Controller,
    config: BrokerApiConfig,
    decide_lock: Arc<tokio::sync::Mutex<()>>,
    /// Liveness of brokers as the active controller sees it; reset whenever this node becomes leader.
    sessions: Arc<Mutex<BrokerSessions>>,
    /// Flips to true when the node stops: open watch streams end so brokers move to another node.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// A decision that failed: either the request was refused or this node could not commit it.
pub(crate) enum DecideError {
    /// The decision refused the request.
    Refused(OpError),
    /// Not the leader, or the write did not commit.
    Controller(ControllerError),
}

impl From<OpError> for DecideError {
    fn from(e: OpError) -> Self {
        Self::Refused(e)
    }
}

impl BrokerApiService {
    /// A service over `controller`, timing broker sessions on `clock`'s monotonic reading.
    pub fn new(controller: Controller, config: BrokerApiConfig, clock: Arc<dyn Clock>) -> Self {
        let sessions = BrokerSessions::new(clock, config.session_timeout_ms);
        Self {
            controller,
            config,
            decide_lock: Arc::new(tokio::sync::Mutex::new(())),
            sessions: Arc::new(Mutex::new(sessions)),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, BrokerSessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since each registered broker's last heartbeat to this node, as the active
    /// controller tracks them on its monotonic clock (`None`: none since this node became leader).
    pub fn heartbeat_ages_ms(&self) -> Vec<(i32, Option<i64>)> {
        let image = self.controller.image();
        let sessions = self.sessions();
        image.brokers().map(|b| (b.broker_id, sessions.age_ms(b.broker_id))).collect()
    }

    /// Ends every open watch stream (the node is stopping).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    fn leader_addr(&self) -> String {
        self.controller.describe().leader_addr.unwrap_or_default()
    }

    /// Resets liveness when this node has just become leader: every registered unfenced broker gets a
    /// fresh session, as Kafka's controller does after a failover.
    fn refresh_leadership(&self, image: &MetadataImage) {
        let term = self.controller.metrics().current_term;
        self.sessions().refresh(term, image);
    }

    /// Decides on the latest image and commits the records; returns the image offset that includes
    /// them (for the broker to wait on) and the decision's output.
    pub(crate) async fn decide<T>(
        &self,
        op: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), OpError>,
    ) -> Result<(u64, T), DecideError> {
        if !self.controller.is_leader() {
            return Err(DecideError::Controller(ControllerError::NotLeader {
                leader_id: None,
                leader_addr: Some(self.leader_addr()),
            }));
        }
        let _guard = self.decide_lock.lock().await;
        self.wait_own_term_applied().await.map_err(DecideError::Controller)?;
        let image = self.controller.image();
        self.refresh_leadership(&image);
        let (records, out) = op(&image)?;
        if !records.is_empty() {
            self.controller.write(records).await.map_err(|e| {
                tracing::debug!(error = %e, "metadata write not committed");
                DecideError::Controller(e)
            })?;
        }
        Ok((self.controller.image().offset, out))
    }

    /// Waits until this leader has applied an entry of its own term (the blank entry every new leader
    /// commits): from then on its image holds every record committed by earlier leaders, so decisions
    /// never see a stale image after a failover.
    async fn wait_own_term_applied(&self) -> Result<(), ControllerError> {
        let own_term = |m: &openraft::RaftMetrics<u64, openraft::BasicNode>| {
            m.last_applied.is_some_and(|id| id.leader_id.term == m.current_term)
        };
        let mut metrics = self.controller.raft().metrics();
        let deadline = tokio::time::Instant::now() + OWN_TERM_TIMEOUT;
        loop {
            {
                let current = metrics.borrow_and_update();
                if own_term(&current) {
                    return Ok(());
                }
            }
            if !self.controller.is_leader() {
                return Err(ControllerError::NotLeader {
                    leader_id: None,
                    leader_addr: Some(self.leader_addr()),
                });
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => {}
                _ => {
                    return Err(ControllerError::NoQuorum { waited_ms: OWN_TERM_TIMEOUT.as_millis() as u64 });
                }
            }
        }
    }

    /// Fences every broker whose session expired. Runs on every node; only the leader acts.
    pub async fn expire_sessions(&self) {
        if !self.controller.is_leader() {
            return;
        }
        self.refresh_leadership(&self.controller.image());
        let expired = self.sessions().expired();
        for broker_id in expired {
            let fenced = self.decide(|image| Ok((ops::fence_broker(image, broker_id)?, ()))).await;
            match fenced {
                Ok(_) => {
                    tracing::warn!(broker_id, "broker session expired: fenced");
                    self.sessions().remove(broker_id);
                }
                Err(DecideError::Refused(e)) => {
                    tracing::warn!(broker_id, error = %e.message, "fencing refused")
                }
                Err(DecideError::Controller(e)) => {
                    tracing::debug!(broker_id, error = %e, "fencing not committed")
                }
            }
        }
    }

    /// Runs [`expire_sessions`](Self::expire_sessions) every `interval` until the task is dropped.
    pub async fn run_expiry(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            self.expire_sessions().await;
        }
    }
}

fn error_parts(e: DecideError) -> (i32, String, String) {
    match e {
        DecideError::Refused(e) => (i32::from(e.code.code()), e.message, String::new()),
        DecideError::Controller(ControllerError::NotLeader { leader_addr, .. }) => {
            (NOT_CONTROLLER, "not the active controller".into(), leader_addr.unwrap_or_default())
        }
        DecideError::Controller(e) => {
            (i32::from(ErrorCode::RequestTimedOut.code()), e.to_string(), String::new())
        }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl BrokerApi for BrokerApiService {
    async fn register_broker(
        &self,
        request: Request<RegisterBrokerRequest>,
    ) -> Result<Response<RegisterBrokerResponse>, Status> {
        let r = request.into_inner();
        let incarnation_id =
            Uuid::parse_str(&r.incarnation_id).map_err(|_| Status::invalid_argument("bad incarnation id"))?;
        let registration = BrokerRegistration {
            broker_id: r.broker_id,
            incarnation_id,
            cluster_id: if r.cluster_id.is_empty() { self.config.cluster_id.clone() } else { r.cluster_id },
            host: r.host,
            port: r.port,
            endpoints: r
                .endpoints
                .into_iter()
                .map(|e| BrokerEndpoint { name: e.name, host: e.host, port: e.port })
                .collect(),
            rack: r.rack,
        };
        let outcome = self
            .decide(|image| {
                let previous = image.broker(registration.broker_id);
                let restarted =
                    previous.is_some_and(|b| b.incarnation_id != registration.incarnation_id && !b.fenced);
                let alive = self.sessions().has_live_session(registration.broker_id);
                if restarted && alive {
                    return Err(OpError {
                        code: ErrorCode::DuplicateBrokerRegistration,
                        message: format!("broker {} still has a live session", registration.broker_id),
                    });
                }
                Ok((ops::register_broker(image, &registration, &self.config.cluster_id)?, ()))
            })
            .await;
        let response = match outcome {
            Ok((offset, ())) => {
                self.sessions().heartbeat(registration.broker_id);
                tracing::info!(broker_id = registration.broker_id, "broker registered");
                RegisterBrokerResponse {
                    error_code: 0,
                    error_message: String::new(),
                    log_index: offset,
                    cluster_id: self.config.cluster_id.clone(),
                }
            }
            Err(e) => {
                let (error_code, error_message, _) = error_parts(e);
                RegisterBrokerResponse { error_code, error_message, log_index: 0, cluster_id: String::new() }
            }
        };
        Ok(Response::new(response))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let r = request.into_inner();
        let incarnation_id =
            Uuid::parse_str(&r.incarnation_id).map_err(|_| Status::invalid_argument("bad incarnation id"))?;
        let outcome = self
            .decide(|image| {
                let broker = image
                    .broker(r.broker_id)
                    .filter(|b| b.incarnation_id == incarnation_id)
                    .ok_or_else(|| OpError {
                        code: ErrorCode::StaleBrokerEpoch,
                        message: "unknown broker incarnation".into(),
                    })?;
                let heartbeat = BrokerHeartbeat {
                    broker_id: r.broker_id,
                    broker_epoch: broker.broker_epoch,
                    current_metadata_offset: r.applied_index,
                    want_fence: false,
                    want_shut_down: r.want_shutdown,
                };
                ops::broker_heartbeat(image, &heartbeat)
            })
            .await;
        let response = match outcome {
            Ok((_, state)) => {
                self.sessions().heartbeat(r.broker_id);
                HeartbeatResponse {
                    error_code: 0,
                    fenced: state.is_fenced,
                    shutdown_ready: state.should_shut_down,
                }
            }
            Err(e) => {
                let (error_code, _, _) = error_parts(e);
                HeartbeatResponse { error_code, fenced: true, shutdown_ready: false }
            }
        };
        Ok(Response::new(response))
    }

    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let from_index = request.into_inner().from_index;
        let controller = self.controller.clone();
        let mut stopping = self.stopping.subscribe();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut batches = controller.subscribe();
            let mut current = from_index;
            let (image, index) = controller.snapshot();
            // A broker ahead of this node (it followed a faster controller) waits for this node to
            // catch up instead of being sent an older image.
            if index > current {
                if tx.send(snapshot_event(&image, index)).await.is_err() {
                    return;
                }
                current = index;
            }
            loop {
                let received = tokio::select! {
                    received = batches.recv() => received,
                    _ = stopping.wait_for(|stop| *stop) => return,
                };
                let event = match received {
                    Ok((index, _)) if index <= current => continue,
                    Ok((index, records)) if index == current + 1 => records_event(index, &records),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let (image, index) = controller.snapshot();
                        if index <= current {
                            continue;
                        }
                        snapshot_event(&image, index)
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                current = match &event {
                    Ok(e) => e.log_index,
                    Err(_) => current,
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream_from(rx))))
    }

    async fn describe_brokers(
        &self,
        _request: Request<DescribeBrokersRequest>,
    ) -> Result<Response<DescribeBrokersResponse>, Status> {
        if !self.controller.is_leader() {
            return Ok(Response::new(DescribeBrokersResponse {
                error_code: NOT_CONTROLLER,
                leader_addr: self.leader_addr(),
                brokers: Vec::new(),
            }));
        }
        let brokers = self
            .heartbeat_ages_ms()
            .into_iter()
            .map(|(broker_id, age)| BrokerLiveness { broker_id, last_heartbeat_age_ms: age.unwrap_or(-1) })
            .collect();
        Ok(Response::new(DescribeBrokersResponse { error_code: 0, leader_addr: String::new(), brokers }))
    }

    async fn execute(&self, request: Request<ExecuteRequest>) -> Result<Response<ExecuteResponse>, Status> {
        let body = request.into_inner().request_json;
        let change: ControllerRequest = serde_json::from_slice(&body)
            .map_err(|e| Status::invalid_argument(format!("bad request: {e}")))?;
        let outcome = self.decide(|image| request::decide(image, &change, Uuid::new_v4())).await;
        let response = match outcome {
            Ok((offset, reply)) => ExecuteResponse {
                error_code: 0,
                error_message: String::new(),
                reply_json: serde_json::to_vec(&reply).map_err(|e| Status::internal(e.to_string()))?,
                log_index: offset,
                leader_addr: String::new(),
            },
            Err(e) => {
                let (error_code, error_message, leader_addr) = error_parts(e);
                ExecuteResponse {
                    error_code,
                    error_message,
                    reply_json: Vec::new(),
                    log_index: 0,
                    leader_addr,
                }
            }
        };
        Ok(Response::new(response))
    }
}

fn snapshot_event(image: &MetadataImage, index: u64) -> Result<WatchEvent, Status> {
    let json = serde_json::to_vec(image).map_err(|e| Status::internal(e.to_string()))?;
    Ok(WatchEvent { log_index: index, event: Some(watch_event::Event::SnapshotJson(json)) })
}

fn records_event(index: u64, records: &[MetadataRecord]) -> Result<WatchEvent, Status> {
    let records = wire::encode_batch(records);
    Ok(WatchEvent { log_index: index, event: Some(watch_event::Event::Records(records)) })
}

/// Adapts an mpsc receiver to a `Stream`.
fn tokio_stream_from<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

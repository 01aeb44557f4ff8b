//! Raft RPCs to peers over gRPC: one pooled, lazily connected tonic `Channel` per peer.
//!
//! Messages are openraft's own types as JSON inside `RaftBytes` (see `proto/raft.proto`). A
//! transport failure maps to `Unreachable` (the peer is down or not listening yet: openraft backs
//! off) or `NetworkError`; the RPC deadline comes from openraft's `RPCOption`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strom_proto::raft::RaftBytes;
use strom_proto::raft::raft_service_client::RaftServiceClient;
use tonic::transport::{Channel, Endpoint};

use super::type_config::{NodeId, TypeConfig};

/// How long establishing a TCP connection to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long openraft waits before retrying a peer that was unreachable.
const UNREACHABLE_BACKOFF: Duration = Duration::from_millis(200);

/// Creates [`PeerClient`]s, reusing one channel per peer address.
#[derive(Debug, Clone)]
pub struct Network {
    node_id: NodeId,
    channels: Arc<Mutex<HashMap<NodeId, (String, Channel)>>>,
}

impl Network {
    /// A network for node `node_id` with no channels yet.
    pub fn new(node_id: NodeId) -> Self {
        Self { node_id, channels: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// The cached channel to `target` at `addr`, made (lazily connecting) if absent or if the peer's
    /// address changed.
    fn channel(&self, target: NodeId, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some((cached_addr, channel)) = channels.get(&target)
            && cached_addr == addr
        {
            return Ok(channel.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .connect_lazy();
        channels.insert(target, (addr.to_string(), channel.clone()));
        Ok(channel)
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        let channel = self.channel(target, &node.addr).map_err(|e| Unreachable::new(&e));
        PeerClient { node_id: self.node_id, target, channel }
    }
}

/// Sends Raft RPCs to one peer.
#[derive(Debug)]
pub struct PeerClient {
    node_id: NodeId,
    target: NodeId,
    /// The channel, or why the peer's address could not be used.
    channel: Result<Channel, Unreachable>,
}

/// Which RPC of `RaftService` to call.
#[derive(Debug, Clone, Copy)]
enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl PeerClient {
    /// Sends `request` as JSON, waits at most `ttl`, and decodes the peer's `Result<Resp, E>`.
    async fn call<Req, Resp, E>(
        &self,
        rpc: Rpc,
        request: &Req,
        ttl: Duration,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let channel = self.channel.clone().map_err(RPCError::Unreachable)?;
        let json = serde_json::to_vec(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut client = RaftServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let mut message = tonic::Request::new(RaftBytes { json });
        message.set_timeout(ttl);
        let call = async {
            match rpc {
                Rpc::AppendEntries => client.append_entries(message).await,
                Rpc::Vote => client.vote(message).await,
                Rpc::InstallSnapshot => client.install_snapshot(message).await,
            }
        };
        let response = match tokio::time::timeout(ttl, call).await {
            Err(_elapsed) => return Err(RPCError::Timeout(self.timeout(rpc, ttl))),
            Ok(Err(status)) => return Err(status_to_rpc_error(status, rpc, self, ttl)),
            Ok(Ok(response)) => response.into_inner(),
        };
        let result: Result<Resp, E> =
            serde_json::from_slice(&response.json).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    fn timeout(&self, rpc: Rpc, ttl: Duration) -> Timeout<NodeId> {
        let action = match rpc {
            Rpc::AppendEntries => RPCTypes::AppendEntries,
            Rpc::Vote => RPCTypes::Vote,
            Rpc::InstallSnapshot => RPCTypes::InstallSnapshot,
        };
        Timeout { action, id: self.node_id, target: self.target, timeout: ttl }
    }
}

/// `Unavailable` (refused, reset, not listening) → `Unreachable`; a deadline → `Timeout`; anything
/// else → `NetworkError`.
fn status_to_rpc_error<E: std::error::Error>(
    status: tonic::Status,
    rpc: Rpc,
    peer: &PeerClient,
    ttl: Duration,
) -> RPCError<NodeId, BasicNode, E> {
    match status.code() {
        tonic::Code::Unavailable => RPCError::Unreachable(Unreachable::new(&status)),
        tonic::Code::DeadlineExceeded => RPCError::Timeout(peer.timeout(rpc, ttl)),
        _ => RPCError::Network(NetworkError::new(&status)),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Rpc::AppendEntries, &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Rpc::InstallSnapshot, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Rpc::Vote, &rpc, option.hard_ttl()).await
    }

    fn backoff(&self) -> openraft::network::Backoff {
        openraft::network::Backoff::new(std::iter::repeat(UNREACHABLE_BACKOFF))
    }
}

//! The gRPC server side of the Raft transport: decodes openraft messages (JSON) and hands them to
//! the local Raft node.

use serde::Serialize;
use serde::de::DeserializeOwned;
use strom_proto::raft::RaftBytes;
use strom_proto::raft::raft_service_server::RaftService;
use tonic::{Request, Response, Status};

use super::type_config::Raft;

/// Serves `RaftService` for one Raft node.
#[derive(Clone)]
pub struct RaftServiceImpl {
    raft: Raft,
}

impl RaftServiceImpl {
    /// A service delivering RPCs to `raft`.
    pub fn new(raft: Raft) -> Self {
        Self { raft }
    }
}

fn decode<T: DeserializeOwned>(request: Request<RaftBytes>) -> Result<T, Status> {
    serde_json::from_slice(&request.into_inner().json)
        .map_err(|e| Status::invalid_argument(format!("undecodable Raft message: {e}")))
}

/// Encodes the node's whole `Result`: Raft-level errors travel to the caller as data, gRPC errors are
/// reserved for transport and decoding failures.
fn encode<T: Serialize>(result: &T) -> Result<Response<RaftBytes>, Status> {
    let json =
        serde_json::to_vec(result).map_err(|e| Status::internal(format!("encoding Raft reply: {e}")))?;
    Ok(Response::new(RaftBytes { json }))
}

#[tonic::async_trait]
impl RaftService for RaftServiceImpl {
    async fn append_entries(&self, request: Request<RaftBytes>) -> Result<Response<RaftBytes>, Status> {
        let rpc = decode(request)?;
        encode(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, request: Request<RaftBytes>) -> Result<Response<RaftBytes>, Status> {
        let rpc = decode(request)?;
        encode(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(&self, request: Request<RaftBytes>) -> Result<Response<RaftBytes>, Status> {
        let rpc = decode(request)?;
        encode(&self.raft.install_snapshot(rpc).await)
    }
}

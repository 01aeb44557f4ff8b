//! `ControllerAdmin` over gRPC: writes, quorum description, membership changes and image reads,
//! delegated to the local [`Controller`].
//!
//! Errors: `NotLeader` → FAILED_PRECONDITION with the leader in metadata
//! ([`strom_proto::LEADER_ID_METADATA`], [`strom_proto::LEADER_ADDR_METADATA`]); `NoQuorum` →
//! UNAVAILABLE; undecodable records → INVALID_ARGUMENT; anything else → INTERNAL.

use strom_proto::controller::controller_admin_server::ControllerAdmin;
use strom_proto::controller::{
    AddVoterRequest, DescribeQuorumRequest, DescribeQuorumResponse, MembershipResponse, ReadImageRequest,
    ReadImageResponse, RemoveVoterRequest, Voter, WriteRequest, WriteResponse,
};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::metadata::MetadataRecord;
use crate::node::{Controller, ControllerError, VoterState};

/// Serves `ControllerAdmin` for one node.
#[derive(Clone)]
pub struct AdminService {
    controller: Controller,
}

impl AdminService {
    /// A service for `controller`.
    pub fn new(controller: Controller) -> Self {
        Self { controller }
    }
}

/// The gRPC status a client sees for `err`.
pub fn error_to_status(err: &ControllerError) -> Status {
    match err {
        ControllerError::NotLeader { leader_id, leader_addr } => {
            let mut status = Status::failed_precondition(err.to_string());
            if let Some(id) = leader_id {
                status.metadata_mut().insert(strom_proto::LEADER_ID_METADATA, MetadataValue::from(*id));
            }
            if let Some(value) = leader_addr.as_deref().and_then(|addr| MetadataValue::try_from(addr).ok()) {
                status.metadata_mut().insert(strom_proto::LEADER_ADDR_METADATA, value);
            }
            status
        }
        ControllerError::NoQuorum { .. } => Status::unavailable(err.to_string()),
        ControllerError::Membership(_) => Status::failed_precondition(error_chain(err)),
        _ => Status::internal(error_chain(err)),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn voter(state: VoterState) -> Voter {
    Voter { node_id: state.node_id, addr: state.addr, matched_index: state.matched_index, lag: state.lag }
}

impl AdminService {
    fn membership_response(&self, log_index: u64) -> MembershipResponse {
        MembershipResponse {
            log_index,
            voters: self.controller.describe().voters.into_iter().map(voter).collect(),
        }
    }
}

#[tonic::async_trait]
impl ControllerAdmin for AdminService {
    async fn write(&self, request: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        let records = request
            .into_inner()
            .records_json
            .iter()
            .map(|json| serde_json::from_slice::<MetadataRecord>(json))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Status::invalid_argument(format!("undecodable record: {e}")))?;
        let log_index = self.controller.write(records).await.map_err(|e| error_to_status(&e))?;
        Ok(Response::new(WriteResponse { log_index }))
    }

    async fn describe_quorum(
        &self,
        _request: Request<DescribeQuorumRequest>,
    ) -> Result<Response<DescribeQuorumResponse>, Status> {
        let state = self.controller.describe();
        Ok(Response::new(DescribeQuorumResponse {
            node_id: state.node_id,
            state: state.state,
            leader_id: state.leader_id,
            leader_addr: state.leader_addr.unwrap_or_default(),
            term: state.term,
            commit_index: state.commit_index,
            last_applied: state.last_applied,
            last_log_index: state.last_log_index,
            voters: state.voters.into_iter().map(voter).collect(),
            learners: state.learners.into_iter().map(voter).collect(),
        }))
    }

    async fn add_voter(
        &self,
        request: Request<AddVoterRequest>,
    ) -> Result<Response<MembershipResponse>, Status> {
        let request = request.into_inner();
        let log_index = self
            .controller
            .add_voter(request.node_id, &request.addr)
            .await
            .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(self.membership_response(log_index)))
    }

    async fn remove_voter(
        &self,
        request: Request<RemoveVoterRequest>,
    ) -> Result<Response<MembershipResponse>, Status> {
        let log_index = self
            .controller
            .remove_voter(request.into_inner().node_id)
            .await
            .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(self.membership_response(log_index)))
    }

    async fn read_image(
        &self,
        _request: Request<ReadImageRequest>,
    ) -> Result<Response<ReadImageResponse>, Status> {
        // Read the index first: the image is at least that new.
        let applied_index = self.controller.applied_index();
        let image = self.controller.image();
        let image_json =
            serde_json::to_vec(&*image).map_err(|e| Status::internal(format!("encoding the image: {e}")))?;
        Ok(Response::new(ReadImageResponse { applied_index, image_json }))
    }
}

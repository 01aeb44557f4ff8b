//! CreateAcls (key 30), versions 1–3: stores ACL bindings through the controller. Each creation
//! succeeds or fails on its own; invalid bindings get INVALID_REQUEST. ACLs are stored only; nothing
//! enforces them yet.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;
use strom_controller::metadata::acl::{
    AclBinding, AclOperation, AclPatternType, AclPermissionType, AclResourceType,
};
use strom_controller::request::{ControllerReply, ControllerRequest, RequestError};

use crate::error_code::ErrorCode;
use crate::state::BrokerState;

/// A binding from its wire fields; undefined codes become `Unknown`, which validation rejects.
fn binding(c: &AclCreation) -> AclBinding {
    AclBinding {
        resource_type: AclResourceType::from_code(c.resource_type).unwrap_or(AclResourceType::Unknown),
        resource_name: c.resource_name.to_string(),
        pattern_type: AclPatternType::from_code(c.resource_pattern_type).unwrap_or(AclPatternType::Unknown),
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: AclOperation::from_code(c.operation).unwrap_or(AclOperation::Unknown),
        permission_type: AclPermissionType::from_code(c.permission_type)
            .unwrap_or(AclPermissionType::Unknown),
    }
}

fn result(outcome: Result<(), RequestError>) -> AclCreationResult {
    match outcome {
        Ok(()) => AclCreationResult::default(),
        Err(e) => AclCreationResult::default()
            .with_error_code(e.code)
            .with_error_message(Some(StrBytes::from_string(e.message))),
    }
}

/// Handles a CreateAcls request.
pub async fn handle(state: &BrokerState, request: CreateAclsRequest) -> CreateAclsResponse {
    let bindings: Vec<AclBinding> = request.creations.iter().map(binding).collect();
    let count = bindings.len();
    let outcomes = match state.execute(ControllerRequest::CreateAcls { bindings }).await {
        Ok(ControllerReply::AclsCreated { results }) if results.len() == count => results,
        Ok(reply) => {
            let e = RequestError {
                code: ErrorCode::UnknownServerError.code(),
                message: format!("unexpected controller reply {reply:?}"),
            };
            vec![Err(e); count]
        }
        Err(e) => vec![Err(e.into()); count],
    };
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    tracing::info!(requested = count, created, "create acls");
    CreateAclsResponse::default().with_results(outcomes.into_iter().map(result).collect())
}

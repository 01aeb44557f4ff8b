//! DeleteAcls (key 31), versions 1–3: removes the ACLs each filter matches, through the controller.
//! Each filter reports every ACL it matched, or its own error (INVALID_REQUEST for UNKNOWN elements).

use kafka_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsMatchingAcl};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::StrBytes;
use strom_controller::metadata::acl::{AclBinding, AclFilter};
use strom_controller::request::{ControllerReply, ControllerRequest, RequestError};

use super::describe_acls::acl_filter;
use crate::error_code::ErrorCode;
use crate::state::BrokerState;

fn matching_acl(b: AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(StrBytes::from_string(b.resource_name))
        .with_pattern_type(b.pattern_type.code())
        .with_principal(StrBytes::from_string(b.principal))
        .with_host(StrBytes::from_string(b.host))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission_type.code())
}

fn result(outcome: Result<Vec<AclBinding>, RequestError>) -> DeleteAclsFilterResult {
    match outcome {
        Ok(matched) => DeleteAclsFilterResult::default()
            .with_matching_acls(matched.into_iter().map(matching_acl).collect()),
        Err(e) => DeleteAclsFilterResult::default()
            .with_error_code(e.code)
            .with_error_message(Some(StrBytes::from_string(e.message))),
    }
}

/// Handles a DeleteAcls request.
pub async fn handle(state: &BrokerState, request: DeleteAclsRequest) -> DeleteAclsResponse {
    let filters: Vec<AclFilter> = request
        .filters
        .iter()
        .map(|f| {
            acl_filter(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let count = filters.len();
    let outcomes = match state.execute(ControllerRequest::DeleteAcls { filters }).await {
        Ok(ControllerReply::AclsDeleted { results }) if results.len() == count => results,
        Ok(reply) => {
            let e = RequestError {
                code: ErrorCode::UnknownServerError.code(),
                message: format!("unexpected controller reply {reply:?}"),
            };
            vec![Err(e); count]
        }
        Err(e) => vec![Err(e.into()); count],
    };
    let deleted: usize = outcomes.iter().filter_map(|o| o.as_ref().ok()).map(Vec::len).sum();
    tracing::info!(filters = count, deleted, "delete acls");
    DeleteAclsResponse::default().with_filter_results(outcomes.into_iter().map(result).collect())
}

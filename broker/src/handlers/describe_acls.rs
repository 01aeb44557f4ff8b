//! DescribeAcls (key 29), versions 1–3: lists the stored ACLs matching a filter, grouped by resource
//! pattern. Served from this broker's metadata image, without a controller round trip. ACLs are stored
//! only; nothing enforces them yet.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::StrBytes;
use strom_controller::metadata::acl::{
    AclFilter, AclOperation, AclPatternType, AclPermissionType, AclResourceType,
};

use crate::metadata::ops::validate_acl_filter;
use crate::state::BrokerState;

/// A filter from its wire fields; undefined codes become `Unknown`, which validation rejects (as
/// Kafka's `fromCode` does).
pub(super) fn acl_filter(
    resource_type: i8,
    resource_name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission_type: i8,
) -> AclFilter {
    AclFilter {
        resource_type: AclResourceType::from_code(resource_type).unwrap_or(AclResourceType::Unknown),
        resource_name: resource_name.map(|n| n.to_string()),
        pattern_type: AclPatternType::from_code(pattern_type).unwrap_or(AclPatternType::Unknown),
        principal: principal.map(|p| p.to_string()),
        host: host.map(|h| h.to_string()),
        operation: AclOperation::from_code(operation).unwrap_or(AclOperation::Unknown),
        permission_type: AclPermissionType::from_code(permission_type).unwrap_or(AclPermissionType::Unknown),
    }
}

/// Handles a DescribeAcls request.
pub fn handle(state: &BrokerState, request: DescribeAclsRequest) -> DescribeAclsResponse {
    let filter = acl_filter(
        request.resource_type_filter,
        request.resource_name_filter.as_ref(),
        request.pattern_type_filter,
        request.principal_filter.as_ref(),
        request.host_filter.as_ref(),
        request.operation,
        request.permission_type,
    );
    if let Err(e) = validate_acl_filter(&filter) {
        return DescribeAclsResponse::default()
            .with_error_code(e.code.code())
            .with_error_message(Some(StrBytes::from_string(e.message)));
    }
    let image = state.image();
    let mut resources: BTreeMap<(i8, &str, i8), Vec<AclDescription>> = BTreeMap::new();
    for (_, binding) in image.acls().filter(|(_, b)| filter.matches(b)) {
        let key = (binding.resource_type.code(), binding.resource_name.as_str(), binding.pattern_type.code());
        resources.entry(key).or_default().push(
            AclDescription::default()
                .with_principal(StrBytes::from_string(binding.principal.clone()))
                .with_host(StrBytes::from_string(binding.host.clone()))
                .with_operation(binding.operation.code())
                .with_permission_type(binding.permission_type.code()),
        );
    }
    let resources = resources
        .into_iter()
        .map(|((resource_type, name, pattern_type), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(StrBytes::from_string(name.to_string()))
                .with_pattern_type(pattern_type)
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

//! ACL records: CreateAcls and DeleteAcls. Stored and replicated only; enforcement comes later.

use uuid::Uuid;

use super::OpError;
use crate::error_code::ErrorCode;
use crate::metadata::acl::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermissionType, AclResourceType,
    CLUSTER_RESOURCE_NAME,
};
use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

fn invalid(message: impl Into<String>) -> OpError {
    OpError::new(ErrorCode::InvalidRequest, message)
}

/// Kafka's principal form `Type:name`, both parts non-empty.
fn valid_principal(principal: &str) -> bool {
    principal.split_once(':').is_some_and(|(kind, name)| !kind.is_empty() && !name.is_empty())
}

/// Checks a binding to be stored: concrete resource type, `Literal` or `Prefixed` pattern, concrete
/// operation and permission, non-empty resource name and host, `Type:name` principal, and for `Cluster`
/// the name `kafka-cluster`.
pub fn validate_acl_binding(binding: &AclBinding) -> Result<(), OpError> {
    if matches!(binding.resource_type, AclResourceType::Any | AclResourceType::Unknown) {
        return Err(invalid("resource type must be concrete"));
    }
    if !matches!(binding.pattern_type, AclPatternType::Literal | AclPatternType::Prefixed) {
        return Err(invalid("pattern type must be LITERAL or PREFIXED"));
    }
    if matches!(binding.operation, AclOperation::Any | AclOperation::Unknown) {
        return Err(invalid("operation must be concrete"));
    }
    if !matches!(binding.permission_type, AclPermissionType::Allow | AclPermissionType::Deny) {
        return Err(invalid("permission type must be ALLOW or DENY"));
    }
    if binding.resource_name.is_empty() {
        return Err(invalid("resource name must not be empty"));
    }
    if binding.resource_type == AclResourceType::Cluster && binding.resource_name != CLUSTER_RESOURCE_NAME {
        return Err(invalid(format!(
            "the only valid name for the CLUSTER resource is {CLUSTER_RESOURCE_NAME}"
        )));
    }
    if !valid_principal(&binding.principal) {
        return Err(invalid(format!("principal '{}' is not of the form Type:name", binding.principal)));
    }
    if binding.host.is_empty() {
        return Err(invalid("host must not be empty (use '*' for any host)"));
    }
    Ok(())
}

/// Checks a DeleteAcls filter: no `Unknown` values.
pub fn validate_acl_filter(filter: &AclFilter) -> Result<(), OpError> {
    let unknown = filter.resource_type == AclResourceType::Unknown
        || filter.pattern_type == AclPatternType::Unknown
        || filter.operation == AclOperation::Unknown
        || filter.permission_type == AclPermissionType::Unknown;
    if unknown {
        return Err(invalid("the filter contains UNKNOWN elements"));
    }
    Ok(())
}

/// CreateAcls for one binding, stored under `id` (chosen by the caller, so the function stays pure).
/// A binding that already exists is a success with no records.
pub fn create_acl(
    image: &MetadataImage,
    binding: &AclBinding,
    id: Uuid,
) -> Result<Vec<MetadataRecord>, OpError> {
    validate_acl_binding(binding)?;
    if image.acls().any(|(_, existing)| existing == binding) {
        return Ok(Vec::new());
    }
    if image.acl(id).is_some() {
        return Err(invalid(format!("ACL id {id} is already in use")));
    }
    Ok(vec![MetadataRecord::AccessControlEntry { id, binding: binding.clone() }])
}

/// The outcome of DeleteAcls for one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclDeletion {
    /// The ACLs the filter matched, by id (the response lists them).
    pub matched: Vec<(Uuid, AclBinding)>,
    /// The records removing them.
    pub records: Vec<MetadataRecord>,
}

/// DeleteAcls for one filter: the matching ACLs and the records removing them.
pub fn delete_acls(image: &MetadataImage, filter: &AclFilter) -> Result<AclDeletion, OpError> {
    validate_acl_filter(filter)?;
    let matched: Vec<(Uuid, AclBinding)> =
        image.acls().filter(|(_, b)| filter.matches(b)).map(|(id, b)| (id, b.clone())).collect();
    let records =
        matched.iter().map(|(id, _)| MetadataRecord::RemoveAccessControlEntry { id: *id }).collect();
    Ok(AclDeletion { matched, records })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(principal: &str) -> AclBinding {
        AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: "orders".into(),
            pattern_type: AclPatternType::Literal,
            principal: principal.into(),
            host: "*".into(),
            operation: AclOperation::Write,
            permission_type: AclPermissionType::Allow,
        }
    }

    fn any_filter() -> AclFilter {
        AclFilter {
            resource_type: AclResourceType::Any,
            resource_name: None,
            pattern_type: AclPatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }

    #[test]
    fn create_is_idempotent_and_delete_matches_filter() {
        let mut image = MetadataImage::default();
        for (i, principal) in ["User:a", "User:b"].iter().enumerate() {
            for r in create_acl(&image, &binding(principal), Uuid::from_u128(i as u128 + 1)).expect("create")
            {
                image.replay(&r);
            }
        }
        assert_eq!(create_acl(&image, &binding("User:a"), Uuid::from_u128(9)), Ok(vec![]));
        assert_eq!(image.acls().count(), 2);
        let filter = AclFilter { principal: Some("User:a".into()), ..any_filter() };
        let AclDeletion { matched, records } = delete_acls(&image, &filter).expect("delete");
        assert_eq!(matched.len(), 1);
        for r in &records {
            image.replay(r);
        }
        assert_eq!(image.acls().map(|(_, b)| b.principal.as_str()).collect::<Vec<_>>(), vec!["User:b"]);
    }

    #[test]
    fn rejects_filter_values_in_bindings() {
        let image = MetadataImage::default();
        let code =
            |b: AclBinding| create_acl(&image, &b, Uuid::nil()).map_or_else(|e| e.code, |_| ErrorCode::None);
        assert_eq!(
            code(AclBinding { resource_type: AclResourceType::Any, ..binding("User:a") }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(AclBinding { pattern_type: AclPatternType::Match, ..binding("User:a") }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(AclBinding { operation: AclOperation::Unknown, ..binding("User:a") }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(AclBinding { permission_type: AclPermissionType::Any, ..binding("User:a") }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code(binding("alice")), ErrorCode::InvalidRequest);
        assert_eq!(
            code(AclBinding { resource_type: AclResourceType::Cluster, ..binding("User:a") }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code(AclBinding { host: String::new(), ..binding("User:a") }), ErrorCode::InvalidRequest);
        let bad_filter = AclFilter { operation: AclOperation::Unknown, ..any_filter() };
        assert_eq!(delete_acls(&image, &bad_filter).unwrap_err().code, ErrorCode::InvalidRequest);
    }
}

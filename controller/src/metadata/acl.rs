//! ACL vocabulary: Kafka's resource types, pattern types, operations and permission types, with their
//! wire codes (`org.apache.kafka.common.acl` / `resource`). Stored entries never hold the filter-only
//! values `Any` / `Match` / `Unknown`; filters may.

use serde::{Deserialize, Serialize};

macro_rules! kafka_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The Kafka wire code.
            pub fn code(self) -> i8 {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The value for a Kafka wire code, `None` when the code is not defined.
            pub fn from_code(code: i8) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

kafka_enum! {
    /// Kind of resource an ACL protects (`ResourceType`).
    AclResourceType {
        /// Unknown (never stored).
        Unknown = 0,
        /// Any resource type (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster.
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user principal.
        User = 7,
    }
}

kafka_enum! {
    /// How `resource_name` matches resources (`PatternType`).
    AclPatternType {
        /// Unknown (never stored).
        Unknown = 0,
        /// Any pattern type (filters only).
        Any = 1,
        /// Literal or prefixed patterns that match a name (filters only).
        Match = 2,
        /// Exact name, or `*` for every resource.
        Literal = 3,
        /// Name prefix.
        Prefixed = 4,
    }
}

kafka_enum! {
    /// The operation an ACL allows or denies (`AclOperation`).
    AclOperation {
        /// Unknown (never stored).
        Unknown = 0,
        /// Any operation (filters only).
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read.
        Read = 3,
        /// Write.
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Cluster action (inter-broker).
        ClusterAction = 9,
        /// Describe configs.
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent write.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
    }
}

kafka_enum! {
    /// Whether an ACL allows or denies (`AclPermissionType`).
    AclPermissionType {
        /// Unknown (never stored).
        Unknown = 0,
        /// Any permission type (filters only).
        Any = 1,
        /// Deny.
        Deny = 2,
        /// Allow.
        Allow = 3,
    }
}

/// One access-control binding: who may (or may not) do what on which resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    /// Resource type.
    pub resource_type: AclResourceType,
    /// Resource name (or prefix, or `*`).
    pub resource_name: String,
    /// How `resource_name` matches.
    pub pattern_type: AclPatternType,
    /// Principal, `Type:name` (e.g. `User:alice`, `User:*`).
    pub principal: String,
    /// Host, or `*` for any host.
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission_type: AclPermissionType,
}

/// A DeleteAcls / DescribeAcls filter: `None` strings match anything; `Any` enums match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclFilter {
    /// Resource type, or `Any`.
    pub resource_type: AclResourceType,
    /// Resource name, or `None` for any.
    pub resource_name: Option<String>,
    /// Pattern type: `Any`, `Match` (literal, `*` and prefixes matching the name) or exact.
    pub pattern_type: AclPatternType,
    /// Principal, or `None` for any.
    pub principal: Option<String>,
    /// Host, or `None` for any.
    pub host: Option<String>,
    /// Operation, or `Any`.
    pub operation: AclOperation,
    /// Permission type, or `Any`.
    pub permission_type: AclPermissionType,
}

/// The only resource name a `Cluster` ACL may have (Kafka's `Resource.CLUSTER_NAME`).
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";

impl AclFilter {
    /// Whether `binding` matches this filter (Kafka's `AclBindingFilter#matches`).
    pub fn matches(&self, binding: &AclBinding) -> bool {
        let resource_type =
            self.resource_type == AclResourceType::Any || self.resource_type == binding.resource_type;
        let operation = self.operation == AclOperation::Any || self.operation == binding.operation;
        let permission =
            self.permission_type == AclPermissionType::Any || self.permission_type == binding.permission_type;
        let principal = self.principal.as_ref().is_none_or(|p| *p == binding.principal);
        let host = self.host.as_ref().is_none_or(|h| *h == binding.host);
        resource_type && operation && permission && principal && host && self.matches_pattern(binding)
    }

    fn matches_pattern(&self, binding: &AclBinding) -> bool {
        match self.pattern_type {
            AclPatternType::Any => self.resource_name.as_ref().is_none_or(|n| *n == binding.resource_name),
            AclPatternType::Match => match &self.resource_name {
                None => true,
                Some(name) => match binding.pattern_type {
                    AclPatternType::Literal => binding.resource_name == *name || binding.resource_name == "*",
                    AclPatternType::Prefixed => name.starts_with(&binding.resource_name),
                    _ => false,
                },
            },
            exact => {
                exact == binding.pattern_type
                    && self.resource_name.as_ref().is_none_or(|n| *n == binding.resource_name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=14 {
            let op = AclOperation::from_code(code).expect("defined");
            assert_eq!(op.code(), code);
        }
        assert_eq!(AclOperation::from_code(15), None);
        assert_eq!(AclResourceType::from_code(7), Some(AclResourceType::User));
        assert_eq!(AclPatternType::Prefixed.code(), 4);
        assert_eq!(AclPermissionType::Allow.code(), 3);
    }

    #[test]
    fn match_filter_covers_literal_wildcard_and_prefix() {
        let binding = |name: &str, pattern| AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:a".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission_type: AclPermissionType::Allow,
        };
        let filter = AclFilter {
            resource_type: AclResourceType::Topic,
            resource_name: Some("orders-eu".into()),
            pattern_type: AclPatternType::Match,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        };
        assert!(filter.matches(&binding("orders-eu", AclPatternType::Literal)));
        assert!(filter.matches(&binding("*", AclPatternType::Literal)));
        assert!(filter.matches(&binding("orders-", AclPatternType::Prefixed)));
        assert!(!filter.matches(&binding("orders", AclPatternType::Literal)));
        assert!(!filter.matches(&binding("payments", AclPatternType::Prefixed)));
    }
}

//! Kafka wire error codes that Strom returns. Codes are Kafka's (`Errors.java`); never reuse or renumber.

/// A Kafka protocol error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum ErrorCode {
    /// Unexpected server error.
    UnknownServerError = -1,
    /// Success.
    None = 0,
    /// Offset outside the log.
    OffsetOutOfRange = 1,
    /// CRC mismatch or otherwise corrupt batch.
    CorruptMessage = 2,
    /// Topic or partition not hosted here.
    UnknownTopicOrPartition = 3,
    /// Leader not available yet.
    LeaderNotAvailable = 5,
    /// This broker is not the leader or follower asked for.
    NotLeaderOrFollower = 6,
    /// Request timed out.
    RequestTimedOut = 7,
    /// Batch larger than max.message.bytes.
    MessageTooLarge = 10,
    /// Committed-offset metadata longer than `offset.metadata.max.bytes`.
    OffsetMetadataTooLarge = 12,
    /// Illegal topic name.
    InvalidTopicException = 17,
    /// Batch size or format rejected.
    RecordListTooLarge = 18,
    /// acks other than -1, 0, 1.
    InvalidRequiredAcks = 21,
    /// Group id empty or otherwise invalid.
    InvalidGroupId = 24,
    /// The group coordinator is not available (no live broker, or its offsets store is unreachable).
    CoordinatorNotAvailable = 15,
    /// This broker does not coordinate the group.
    NotCoordinator = 16,
    /// The generation id does not match the group's.
    IllegalGeneration = 22,
    /// The member id is not in the group.
    UnknownMemberId = 25,
    /// Timestamp out of range.
    InvalidTimestamp = 32,
    /// API version not supported.
    UnsupportedVersion = 35,
    /// Topic already exists.
    TopicAlreadyExists = 36,
    /// Partition count invalid.
    InvalidPartitions = 37,
    /// Replication factor invalid.
    InvalidReplicationFactor = 38,
    /// Replica assignment invalid.
    InvalidReplicaAssignment = 39,
    /// Cancelling a partition reassignment that is not in progress.
    NoReassignmentInProgress = 85,
    /// Config invalid.
    InvalidConfig = 40,
    /// This controller is not the active controller.
    NotController = 41,
    /// Request malformed or not allowed.
    InvalidRequest = 42,
    /// Producer sequence gap.
    OutOfOrderSequenceNumber = 45,
    /// Duplicate sequence (never returned for successful de-duplication).
    DuplicateSequenceNumber = 46,
    /// Producer epoch fenced.
    InvalidProducerEpoch = 47,
    /// Producer id not known.
    UnknownProducerId = 59,
    /// Leader epoch in the request is older than the partition's.
    FencedLeaderEpoch = 74,
    /// Leader epoch in the request is newer than the partition's.
    UnknownLeaderEpoch = 75,
    /// The broker epoch in the request is not the broker's current registration.
    StaleBrokerEpoch = 77,
    /// The preferred replica cannot lead: not in the ISR, fenced or shutting down.
    PreferredLeaderNotAvailable = 80,
    /// No replica can lead the partition (unclean election found no live replica).
    EligibleLeadersNotAvailable = 83,
    /// The partition already has the leader the election asked for.
    ElectionNotNeeded = 84,
    /// Fewer in-sync replicas than min.insync.replicas (checked before the append).
    NotEnoughReplicas = 19,
    /// Appended, but the ISR shrank below `min.insync.replicas` before the write was committed.
    NotEnoughReplicasAfterAppend = 20,
    /// The replica's log could not be read or written (an I/O error such as a full disk); the
    /// client refreshes metadata and retries. Kafka's `KAFKA_STORAGE_ERROR`.
    KafkaStorageError = 56,
    /// Record failed validation.
    InvalidRecord = 87,
    /// The partition epoch (or another version) in the request is not the current one.
    InvalidUpdateVersion = 95,
    /// Topic id unknown.
    UnknownTopicId = 100,
    /// Another live broker is registered with this broker id.
    DuplicateBrokerRegistration = 101,
    /// The broker id is not registered.
    BrokerIdNotRegistered = 102,
    /// The cluster id in the request is not this cluster's.
    InconsistentClusterId = 104,
    /// The new ISR contains a fenced, shutting-down or unknown replica.
    IneligibleReplica = 107,
    /// The group coordinator is still loading the group's state (Kafka returns it before the load ends).
    CoordinatorLoadInProgress = 14,
    /// The member's protocol type or protocols do not match the group's.
    InconsistentGroupProtocol = 23,
    /// The session timeout is outside `[group.min.session.timeout.ms, group.max.session.timeout.ms]`.
    InvalidSessionTimeout = 26,
    /// The group is rebalancing: the member must rejoin.
    RebalanceInProgress = 27,
    /// The group still has members (DeleteGroups).
    NonEmptyGroup = 68,
    /// The group does not exist.
    GroupIdNotFound = 69,
    /// OffsetDelete on a topic an active member of the group consumes.
    GroupSubscribedToTopic = 86,
    /// A dynamic member must rejoin with the member id in the response (KIP-394).
    MemberIdRequired = 79,
    /// The group already has `group.max.size` members.
    GroupMaxSizeReached = 81,
    /// Another member with the same `group.instance.id` replaced this one (KIP-345).
    FencedInstanceId = 82,
    /// Offsets of a pending transaction are not committed yet (OffsetFetch with require_stable).
    UnstableOffsetCommit = 88,
}

impl ErrorCode {
    /// Every code Strom returns.
    pub const ALL: &[ErrorCode] = &[
        Self::UnknownServerError,
        Self::None,
        Self::OffsetOutOfRange,
        Self::CorruptMessage,
        Self::UnknownTopicOrPartition,
        Self::LeaderNotAvailable,
        Self::NotLeaderOrFollower,
        Self::RequestTimedOut,
        Self::MessageTooLarge,
        Self::OffsetMetadataTooLarge,
        Self::InvalidTopicException,
        Self::RecordListTooLarge,
        Self::InvalidRequiredAcks,
        Self::InvalidGroupId,
        Self::CoordinatorNotAvailable,
        Self::NotCoordinator,
        Self::IllegalGeneration,
        Self::UnknownMemberId,
        Self::InvalidTimestamp,
        Self::UnsupportedVersion,
        Self::TopicAlreadyExists,
        Self::InvalidPartitions,
        Self::InvalidReplicationFactor,
        Self::InvalidReplicaAssignment,
        Self::NoReassignmentInProgress,
        Self::InvalidConfig,
        Self::NotController,
        Self::InvalidRequest,
        Self::OutOfOrderSequenceNumber,
        Self::DuplicateSequenceNumber,
        Self::InvalidProducerEpoch,
        Self::UnknownProducerId,
        Self::FencedLeaderEpoch,
        Self::UnknownLeaderEpoch,
        Self::StaleBrokerEpoch,
        Self::PreferredLeaderNotAvailable,
        Self::EligibleLeadersNotAvailable,
        Self::ElectionNotNeeded,
        Self::NotEnoughReplicas,
        Self::NotEnoughReplicasAfterAppend,
        Self::KafkaStorageError,
        Self::InvalidRecord,
        Self::InvalidUpdateVersion,
        Self::UnknownTopicId,
        Self::DuplicateBrokerRegistration,
        Self::BrokerIdNotRegistered,
        Self::InconsistentClusterId,
        Self::IneligibleReplica,
        Self::CoordinatorLoadInProgress,
        Self::InconsistentGroupProtocol,
        Self::InvalidSessionTimeout,
        Self::RebalanceInProgress,
        Self::NonEmptyGroup,
        Self::GroupIdNotFound,
        Self::GroupSubscribedToTopic,
        Self::MemberIdRequired,
        Self::GroupMaxSizeReached,
        Self::FencedInstanceId,
        Self::UnstableOffsetCommit,
    ];

    /// The wire value.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// The variant for a wire value, `None` for codes Strom does not define.
    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(ErrorCode::from_code(code.code()), Some(*code));
            assert!(ErrorCode::ALL[i + 1..].iter().all(|c| c.code() != code.code()), "{code:?} reused");
        }
        assert_eq!(ErrorCode::from_code(104), Some(ErrorCode::InconsistentClusterId));
        assert_eq!(ErrorCode::from_code(9999), None);
    }
}

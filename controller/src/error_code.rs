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
    /// Illegal topic name.
    InvalidTopicException = 17,
    /// Batch size or format rejected.
    RecordListTooLarge = 18,
    /// acks other than -1, 0, 1.
    InvalidRequiredAcks = 21,
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
    /// Config invalid.
    InvalidConfig = 40,
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
    /// Fewer in-sync replicas than min.insync.replicas (checked before the append).
    NotEnoughReplicas = 19,
    /// Record failed validation.
    InvalidRecord = 87,
    /// Topic id unknown.
    UnknownTopicId = 100,
}

impl ErrorCode {
    /// The wire value.
    pub fn code(self) -> i16 {
        self as i16
    }
}

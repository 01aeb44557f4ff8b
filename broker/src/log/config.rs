//! The subset of topic configuration the partition log itself obeys.

/// Per-partition log settings, derived from the topic's effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it would exceed this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment when its first batch is older than this.
    pub segment_ms: i64,
    /// `retention.ms`: delete whole segments whose newest record is older; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest whole segments while the log is larger; -1 is unlimited.
    pub retention_bytes: i64,
    /// `flush.messages`: fsync after this many records; `i64::MAX` leaves flushing to the OS.
    pub flush_messages: i64,
    /// `flush.ms`: fsync when unflushed data is older than this; `i64::MAX` leaves it to the OS.
    pub flush_ms: i64,
    /// `index.interval.bytes`: bytes between sparse offset-index entries.
    pub index_interval_bytes: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            index_interval_bytes: 4096,
        }
    }
}

impl LogConfig {
    /// The log settings of a topic's effective configuration.
    pub fn from_topic(config: &strom_controller::topic_config::TopicConfig) -> Self {
        Self {
            segment_bytes: config.long("segment.bytes").max(14) as u64,
            segment_ms: config.long("segment.ms"),
            retention_ms: config.long("retention.ms"),
            retention_bytes: config.long("retention.bytes"),
            flush_messages: config.long("flush.messages"),
            flush_ms: config.long("flush.ms"),
            index_interval_bytes: 4096,
        }
    }
}

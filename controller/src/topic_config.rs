//! Topic configuration with Kafka's names and defaults: validation of overrides, the effective config
//! of a topic (override, else broker default, else Kafka default) and its description for
//! DescribeConfigs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A topic config name or value that Kafka would reject.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopicConfigError {
    /// Name not among the supported topic configs.
    #[error("unknown topic config '{0}'")]
    UnknownName(String),
    /// Value that does not parse or is out of range.
    #[error("invalid value '{value}' for config '{name}': {reason}")]
    InvalidValue {
        /// Config name.
        name: String,
        /// Offending value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
}

/// Broker-level defaults (`log.retention.ms`, `log.segment.bytes`, …) for every topic config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicDefaults {
    /// `log.retention.ms` (default 7 days).
    pub retention_ms: i64,
    /// `log.retention.bytes` (default -1, unlimited).
    pub retention_bytes: i64,
    /// `log.segment.bytes` (default 1 GiB).
    pub segment_bytes: i64,
    /// `log.roll.ms` (default 7 days).
    pub segment_ms: i64,
    /// `message.max.bytes` (default 1048588).
    pub max_message_bytes: i64,
    /// `min.insync.replicas` (default 1).
    pub min_insync_replicas: i64,
    /// `log.message.timestamp.type` (default CreateTime).
    pub message_timestamp_type: String,
    /// `compression.type` (default producer).
    pub compression_type: String,
    /// `unclean.leader.election.enable` (default false).
    pub unclean_leader_election_enable: bool,
    /// `log.flush.interval.messages` (default i64::MAX: leave it to the OS).
    pub flush_messages: i64,
    /// `log.flush.interval.ms` (default i64::MAX).
    pub flush_ms: i64,
    /// `log.cleanup.policy` (default delete).
    pub cleanup_policy: String,
}

impl Default for TopicDefaults {
    fn default() -> Self {
        Self {
            retention_ms: 604_800_000,
            retention_bytes: -1,
            segment_bytes: 1_073_741_824,
            segment_ms: 604_800_000,
            max_message_bytes: 1_048_588,
            min_insync_replicas: 1,
            message_timestamp_type: "CreateTime".into(),
            compression_type: "producer".into(),
            unclean_leader_election_enable: false,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            cleanup_policy: "delete".into(),
        }
    }
}

/// Where an effective config value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic (`DYNAMIC_TOPIC_CONFIG` = 1).
    Topic,
    /// Set dynamically for this broker (`DYNAMIC_BROKER_CONFIG` = 2).
    DynamicBroker,
    /// Set dynamically as the cluster-wide default (`DYNAMIC_DEFAULT_BROKER_CONFIG` = 3).
    DynamicDefaultBroker,
    /// From the broker's configuration (`STATIC_BROKER_CONFIG` = 4).
    Broker,
    /// Kafka's built-in default (`DEFAULT_CONFIG` = 5).
    Default,
}

impl ConfigSource {
    /// Kafka's wire code for the source.
    pub fn code(self) -> i8 {
        match self {
            Self::Topic => 1,
            Self::DynamicBroker => 2,
            Self::DynamicDefaultBroker => 3,
            Self::Broker => 4,
            Self::Default => 5,
        }
    }
}

/// One described config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Kafka config name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Kafka's type code (DescribeConfigs v3+): 1 boolean, 2 string, 3 int, 4 short, 5 long, 7 list.
    pub config_type: i8,
    /// Human description.
    pub documentation: &'static str,
}

/// Static description of one supported topic config.
struct Spec {
    name: &'static str,
    config_type: i8,
    documentation: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "cleanup.policy",
        config_type: 7,
        documentation: "Retention policy: delete (compaction is not supported yet).",
    },
    Spec {
        name: "compression.type",
        config_type: 2,
        documentation: "Final compression of the topic's data; 'producer' keeps the producer's codec.",
    },
    Spec { name: "flush.messages", config_type: 5, documentation: "Fsync the log after this many messages." },
    Spec {
        name: "flush.ms",
        config_type: 5,
        documentation: "Fsync the log when unflushed data is this old.",
    },
    Spec { name: "max.message.bytes", config_type: 3, documentation: "Largest record batch size allowed." },
    Spec { name: "message.timestamp.type", config_type: 2, documentation: "CreateTime or LogAppendTime." },
    Spec {
        name: "min.insync.replicas",
        config_type: 3,
        documentation: "Minimum in-sync replicas for acks=all writes.",
    },
    Spec {
        name: "retention.bytes",
        config_type: 5,
        documentation: "Largest size of a partition before old segments are deleted; -1 unlimited.",
    },
    Spec {
        name: "retention.ms",
        config_type: 5,
        documentation: "Longest time a segment is kept; -1 forever.",
    },
    Spec { name: "segment.bytes", config_type: 3, documentation: "Size of one log segment file." },
    Spec {
        name: "segment.ms",
        config_type: 5,
        documentation: "Time after which the active segment is rolled.",
    },
    Spec {
        name: "unclean.leader.election.enable",
        config_type: 1,
        documentation: "Allow out-of-sync replicas to become leader (may lose data).",
    },
];

impl TopicDefaults {
    /// These defaults with dynamic broker configs applied: the cluster-wide defaults, then the ones set
    /// for `broker_id` (Kafka's order). Values were validated when they were written; an unparsable
    /// one is skipped.
    pub fn with_dynamic(&self, image: &crate::metadata::MetadataImage, broker_id: i32) -> Self {
        let mut out = self.clone();
        let layers = [Some(image.cluster_broker_configs()), image.broker_configs(broker_id)];
        for (name, value) in layers.into_iter().flatten().flat_map(|configs| configs.iter()) {
            let long = || value.parse::<i64>().ok();
            match topic_synonym(name) {
                Some("retention.ms") => out.retention_ms = long().unwrap_or(out.retention_ms),
                Some("retention.bytes") => out.retention_bytes = long().unwrap_or(out.retention_bytes),
                Some("segment.bytes") => out.segment_bytes = long().unwrap_or(out.segment_bytes),
                Some("segment.ms") => out.segment_ms = long().unwrap_or(out.segment_ms),
                Some("max.message.bytes") => out.max_message_bytes = long().unwrap_or(out.max_message_bytes),
                Some("min.insync.replicas") => {
                    out.min_insync_replicas = long().unwrap_or(out.min_insync_replicas)
                }
                Some("flush.messages") => out.flush_messages = long().unwrap_or(out.flush_messages),
                Some("flush.ms") => out.flush_ms = long().unwrap_or(out.flush_ms),
                Some("message.timestamp.type") => out.message_timestamp_type = value.clone(),
                Some("compression.type") => out.compression_type = value.clone(),
                Some("cleanup.policy") => out.cleanup_policy = value.clone(),
                Some("unclean.leader.election.enable") => {
                    out.unclean_leader_election_enable = value.eq_ignore_ascii_case("true");
                }
                _ => {}
            }
        }
        out
    }
}

/// Broker-level names (`log.retention.ms`, `message.max.bytes`, …) of the topic configs, as Kafka's
/// `TopicConfig` synonyms: `(broker name, topic name)`.
pub const BROKER_SYNONYMS: &[(&str, &str)] = &[
    ("log.cleanup.policy", "cleanup.policy"),
    ("compression.type", "compression.type"),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("message.max.bytes", "max.message.bytes"),
    ("log.message.timestamp.type", "message.timestamp.type"),
    ("min.insync.replicas", "min.insync.replicas"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.retention.ms", "retention.ms"),
    ("log.segment.bytes", "segment.bytes"),
    ("log.roll.ms", "segment.ms"),
    ("unclean.leader.election.enable", "unclean.leader.election.enable"),
];

/// The topic config a broker-level config name stands for, if any.
pub fn topic_synonym(broker_name: &str) -> Option<&'static str> {
    BROKER_SYNONYMS.iter().find(|(b, _)| *b == broker_name).map(|(_, t)| *t)
}

/// Names of all supported topic configs, sorted.
pub fn config_names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|spec| spec.name)
}

fn invalid(name: &str, value: &str, reason: &'static str) -> TopicConfigError {
    TopicConfigError::InvalidValue { name: name.into(), value: value.into(), reason }
}

fn parse_long(name: &str, value: &str, min: i64, max: i64) -> Result<i64, TopicConfigError> {
    let parsed: i64 = value.trim().parse().map_err(|_| invalid(name, value, "not a number"))?;
    if parsed < min || parsed > max {
        return Err(invalid(name, value, "out of range"));
    }
    Ok(parsed)
}

/// Checks that `name` is a supported topic config and `value` is legal for it; returns the value in
/// canonical form.
pub fn validate(name: &str, value: &str) -> Result<String, TopicConfigError> {
    let int_max = i64::from(i32::MAX);
    match name {
        "retention.ms" | "retention.bytes" => parse_long(name, value, -1, i64::MAX).map(|v| v.to_string()),
        "segment.bytes" => parse_long(name, value, 14, int_max).map(|v| v.to_string()),
        "segment.ms" | "flush.ms" => parse_long(name, value, 0, i64::MAX).map(|v| v.to_string()),
        "flush.messages" => parse_long(name, value, 1, i64::MAX).map(|v| v.to_string()),
        "max.message.bytes" => parse_long(name, value, 0, int_max).map(|v| v.to_string()),
        "min.insync.replicas" => parse_long(name, value, 1, int_max).map(|v| v.to_string()),
        "message.timestamp.type" => match value {
            "CreateTime" | "LogAppendTime" => Ok(value.into()),
            _ => Err(invalid(name, value, "must be CreateTime or LogAppendTime")),
        },
        "compression.type" => match value {
            "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => Ok(value.into()),
            _ => Err(invalid(name, value, "must be producer, uncompressed, gzip, snappy, lz4 or zstd")),
        },
        "unclean.leader.election.enable" => match value.to_ascii_lowercase().as_str() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(invalid(name, value, "must be true or false")),
        },
        "cleanup.policy" => match value {
            "delete" => Ok(value.into()),
            "compact" | "compact,delete" | "delete,compact" => {
                Err(invalid(name, value, "compaction is not supported yet"))
            }
            _ => Err(invalid(name, value, "must be delete")),
        },
        _ => Err(TopicConfigError::UnknownName(name.into())),
    }
}

/// A topic's config overrides resolved against broker defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    overrides: BTreeMap<String, String>,
    defaults: TopicDefaults,
}

impl TopicConfig {
    /// Effective config from validated `overrides` and the broker's `defaults`.
    pub fn new(overrides: BTreeMap<String, String>, defaults: TopicDefaults) -> Self {
        Self { overrides, defaults }
    }

    fn default_of(&self, name: &str) -> (String, ConfigSource) {
        let d = &self.defaults;
        let k = TopicDefaults::default();
        let pick = |ours: String, kafka: String| {
            let source = if ours == kafka { ConfigSource::Default } else { ConfigSource::Broker };
            (ours, source)
        };
        match name {
            "retention.ms" => pick(d.retention_ms.to_string(), k.retention_ms.to_string()),
            "retention.bytes" => pick(d.retention_bytes.to_string(), k.retention_bytes.to_string()),
            "segment.bytes" => pick(d.segment_bytes.to_string(), k.segment_bytes.to_string()),
            "segment.ms" => pick(d.segment_ms.to_string(), k.segment_ms.to_string()),
            "max.message.bytes" => pick(d.max_message_bytes.to_string(), k.max_message_bytes.to_string()),
            "min.insync.replicas" => {
                pick(d.min_insync_replicas.to_string(), k.min_insync_replicas.to_string())
            }
            "message.timestamp.type" => pick(d.message_timestamp_type.clone(), k.message_timestamp_type),
            "compression.type" => pick(d.compression_type.clone(), k.compression_type),
            "unclean.leader.election.enable" => pick(
                d.unclean_leader_election_enable.to_string(),
                k.unclean_leader_election_enable.to_string(),
            ),
            "flush.messages" => pick(d.flush_messages.to_string(), k.flush_messages.to_string()),
            "flush.ms" => pick(d.flush_ms.to_string(), k.flush_ms.to_string()),
            "cleanup.policy" => pick(d.cleanup_policy.clone(), k.cleanup_policy),
            _ => (String::new(), ConfigSource::Default),
        }
    }

    /// Effective value of `name` and its source.
    pub fn get(&self, name: &str) -> (String, ConfigSource) {
        match self.overrides.get(name) {
            Some(value) => (value.clone(), ConfigSource::Topic),
            None => self.default_of(name),
        }
    }

    /// Effective value of a numeric config (`i64::MAX` if it does not parse).
    pub fn long(&self, name: &str) -> i64 {
        self.get(name).0.parse().unwrap_or(i64::MAX)
    }

    /// The topic-level overrides.
    pub fn overrides(&self) -> &BTreeMap<String, String> {
        &self.overrides
    }

    /// Every supported config with its effective value, source and type.
    pub fn describe(&self) -> Vec<ConfigEntry> {
        SPECS
            .iter()
            .map(|spec| {
                let (value, source) = self.get(spec.name);
                ConfigEntry {
                    name: spec.name.into(),
                    value,
                    source,
                    config_type: spec.config_type,
                    documentation: spec.documentation,
                }
            })
            .collect()
    }

    /// `max.message.bytes`.
    pub fn max_message_bytes(&self) -> i64 {
        self.long("max.message.bytes")
    }

    /// `min.insync.replicas`.
    pub fn min_insync_replicas(&self) -> i64 {
        self.long("min.insync.replicas")
    }

    /// Whether `message.timestamp.type` is LogAppendTime.
    pub fn log_append_time(&self) -> bool {
        self.get("message.timestamp.type").0 == "LogAppendTime"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_kafka_names_and_ranges() {
        assert_eq!(validate("retention.ms", "1000"), Ok("1000".into()));
        assert!(validate("retention.ms", "abc").is_err());
        assert!(validate("segment.bytes", "10").is_err());
        assert!(matches!(validate("no.such", "1"), Err(TopicConfigError::UnknownName(_))));
        assert_eq!(validate("message.timestamp.type", "LogAppendTime"), Ok("LogAppendTime".into()));
    }

    #[test]
    fn describe_reports_sources() {
        let mut overrides = BTreeMap::new();
        overrides.insert("retention.ms".to_string(), "1000".to_string());
        let defaults = TopicDefaults { segment_bytes: 1 << 20, ..TopicDefaults::default() };
        let config = TopicConfig::new(overrides, defaults);
        let entries = config.describe();
        let find = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        assert_eq!(find("retention.ms").source, ConfigSource::Topic);
        assert_eq!(find("segment.bytes").source, ConfigSource::Broker);
        assert_eq!(find("segment.bytes").value, "1048576");
        assert_eq!(find("max.message.bytes").source, ConfigSource::Default);
        assert_eq!(config.long("retention.ms"), 1000);
    }

    #[test]
    fn dynamic_broker_configs_override_static_defaults() {
        use crate::metadata::{MetadataImage, MetadataRecord};
        let mut image = MetadataImage::default();
        image.replay(&MetadataRecord::BrokerConfig {
            broker_id: None,
            name: "log.retention.ms".into(),
            value: Some("5000".into()),
        });
        image.replay(&MetadataRecord::BrokerConfig {
            broker_id: Some(2),
            name: "log.retention.ms".into(),
            value: Some("7000".into()),
        });
        image.replay(&MetadataRecord::BrokerConfig {
            broker_id: None,
            name: "log.segment.bytes".into(),
            value: Some("1048576".into()),
        });
        let defaults = TopicDefaults::default();
        let one = defaults.with_dynamic(&image, 1);
        assert_eq!((one.retention_ms, one.segment_bytes), (5000, 1_048_576));
        assert_eq!(defaults.with_dynamic(&image, 2).retention_ms, 7000);
        assert_eq!(defaults.with_dynamic(&MetadataImage::default(), 1), defaults);
    }
}

//! Broker node configuration: a TOML file whose keys mirror Kafka's broker settings (dots become
//! underscores), overridable by the `strom` binary's flags and `STROM_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::listener::{ListenerError, ListenerPlan, ListenerSpec};
use crate::topic_config::TopicDefaults;

/// A configuration file that could not be read or parsed.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`BrokerConfig`].
    #[error("invalid config: {0}")]
    Parse(#[from] toml::de::Error),
    /// The listener settings do not fit together.
    #[error("invalid listener config: {0}")]
    Listeners(#[from] ListenerError),
}

/// Everything one broker node needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// `node.id`: this broker's id in the cluster.
    pub node_id: i32,
    /// Address the single Kafka listener (named `PLAINTEXT`) binds when `listeners` is empty; port 0
    /// picks an ephemeral port.
    pub listener: SocketAddr,
    /// Host the single listener advertises to clients in Metadata; defaults to the bound IP.
    pub advertised_host: Option<String>,
    /// Port the single listener advertises; defaults to the bound port.
    pub advertised_port: Option<u16>,
    /// `listeners`: named Kafka listeners, `NAME://HOST:PORT` each (replaces `listener`).
    pub listeners: Vec<ListenerSpec>,
    /// `advertised.listeners`: the address clients are told to use per listener name; a listener
    /// without one advertises its bound address. Port 0 means the port the listener bound.
    pub advertised_listeners: Vec<ListenerSpec>,
    /// `inter.broker.listener.name`: the listener followers use to reach leaders (default: the first).
    pub inter_broker_listener_name: Option<String>,
    /// Where the HTTP endpoint (`/metrics`, `/health/live`, `/health/ready`) binds; none when unset.
    /// The `strom` binary defaults it to `127.0.0.1:9464`.
    pub metrics_listen: Option<SocketAddr>,
    /// Rack of this broker (`broker.rack`).
    pub rack: Option<String>,
    /// `log.dirs`: where partition logs and local metadata live.
    pub data_dir: PathBuf,
    /// `socket.request.max.bytes`: largest request frame accepted (default 100 MiB).
    pub socket_request_max_bytes: usize,
    /// `auto.create.topics.enable` (default true).
    pub auto_create_topics_enable: bool,
    /// `num.partitions`: partitions of auto-created topics and of CreateTopics with -1 (default 1).
    pub num_partitions: i32,
    /// `default.replication.factor` (default 1).
    pub default_replication_factor: i16,
    /// `log.retention.check.interval.ms` (default 300000).
    pub log_retention_check_interval_ms: u64,
    /// `log.flush.scheduler.interval.ms`: how often `flush.ms` is checked (default 1000).
    pub log_flush_scheduler_interval_ms: u64,
    /// Controller quorum gRPC addresses (`controller.quorum.bootstrap.servers`). Empty: single-node
    /// mode, where the broker keeps the metadata log itself.
    pub controllers: Vec<String>,
    /// `broker.heartbeat.interval.ms` (default 2000).
    pub broker_heartbeat_interval_ms: u64,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR (default 30000).
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms`: how long a leader may hold a follower's fetch (default 500).
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.max.bytes`: bytes per partition per follower fetch (default 4 MiB).
    pub replica_fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`: bytes per follower fetch response (default 16 MiB).
    pub replica_fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: wait after a failed follower fetch (default 1000).
    pub replica_fetch_backoff_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms` (default 5000).
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// `group.initial.rebalance.delay.ms`: how long a new group's first rebalance waits for more
    /// members (default 3000).
    pub group_initial_rebalance_delay_ms: i32,
    /// `group.min.session.timeout.ms` (default 6000).
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (default 1800000).
    pub group_max_session_timeout_ms: i32,
    /// `group.max.size` (default unlimited).
    pub group_max_size: i32,
    /// `offsets.retention.minutes`: committed offsets of a group without members expire this long after
    /// they were committed (default 10080, 7 days).
    pub offsets_retention_minutes: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets are looked for (default 600000).
    pub offsets_retention_check_interval_ms: u64,
    /// Broker-level defaults for topic configs (`log.retention.ms`, `log.segment.bytes`, …).
    pub topic_defaults: TopicDefaults,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            listener: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_host: None,
            advertised_port: None,
            listeners: Vec::new(),
            advertised_listeners: Vec::new(),
            inter_broker_listener_name: None,
            metrics_listen: None,
            rack: None,
            data_dir: PathBuf::from("./strom-data"),
            socket_request_max_bytes: 100 * 1024 * 1024,
            auto_create_topics_enable: true,
            num_partitions: 1,
            default_replication_factor: 1,
            log_retention_check_interval_ms: 300_000,
            log_flush_scheduler_interval_ms: 1_000,
            controllers: Vec::new(),
            broker_heartbeat_interval_ms: 2_000,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 4 * 1024 * 1024,
            replica_fetch_response_max_bytes: 16 * 1024 * 1024,
            replica_fetch_backoff_ms: 1_000,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_max_size: i32::MAX,
            offsets_retention_minutes: 10_080,
            offsets_retention_check_interval_ms: 600_000,
            topic_defaults: TopicDefaults::default(),
        }
    }
}

impl BrokerConfig {
    /// The group coordinator settings.
    pub fn group_config(&self) -> crate::group::GroupConfig {
        crate::group::GroupConfig {
            min_session_timeout_ms: self.group_min_session_timeout_ms,
            max_session_timeout_ms: self.group_max_session_timeout_ms,
            initial_rebalance_delay_ms: self.group_initial_rebalance_delay_ms,
            max_size: self.group_max_size,
            ..crate::group::GroupConfig::default()
        }
    }

    /// The replica fetcher settings.
    pub fn fetcher_settings(&self) -> crate::replication::FetcherSettings {
        crate::replication::FetcherSettings {
            wait_max_ms: self.replica_fetch_wait_max_ms,
            partition_max_bytes: self.replica_fetch_max_bytes,
            response_max_bytes: self.replica_fetch_response_max_bytes,
            backoff_ms: self.replica_fetch_backoff_ms,
        }
    }

    /// Checks the listener settings and works out every listener to run.
    pub fn listener_plan(&self) -> Result<ListenerPlan, ListenerError> {
        ListenerPlan::from_config(self)
    }

    /// Parses a TOML document; missing keys take their defaults.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_toml_str(&text)
    }
}

//! Shared Kafka client plumbing for the tools: connection flags, rdkafka configs, cluster metadata and
//! Kafka error names.
//!
//! Every tool talks to the cluster through librdkafka (via `rdkafka`), so the same commands work against
//! Strom and Apache Kafka. Settings are layered: tool defaults, then `--command-config FILE`, then each
//! `--client-property k=v` (the last one wins).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use serde::Serialize;

/// Connection flags shared by every tool that talks to a cluster.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Bootstrap servers, comma-separated.
    #[arg(
        long,
        env = "STROM_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT[,HOST:PORT]"
    )]
    pub bootstrap_server: String,
    /// A librdkafka client setting, e.g. `security.protocol=ssl` (repeatable; wins over defaults).
    #[arg(long = "client-property", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub client_property: Vec<(String, String)>,
    /// A file of `key=value` client settings (Java properties syntax, `#` comments).
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Timeout for metadata and admin requests.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub request_timeout_ms: u64,
}

impl ConnectArgs {
    /// Builds a client config: bootstrap servers, then `defaults`, then the user's settings on top.
    pub fn client_config(&self, defaults: &[(&str, String)]) -> Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server);
        config.set("client.id", "strom-cli");
        for (key, value) in defaults {
            config.set(*key, value);
        }
        if let Some(path) = &self.command_config {
            for (key, value) in read_properties_file(path)? {
                config.set(key, value);
            }
        }
        for (key, value) in &self.client_property {
            config.set(key, value);
        }
        Ok(config)
    }

    /// The `--request-timeout-ms` value.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Creates an admin client.
    pub fn admin_client(&self) -> Result<AdminClient<DefaultClientContext>> {
        self.client_config(&[])?.create().context("creating Kafka admin client")
    }

    /// Admin request options carrying `--request-timeout-ms` as both request and operation timeout.
    pub fn admin_options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.request_timeout()))
            .operation_timeout(Some(self.request_timeout()))
    }
}

/// A producer compression codec (`compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    // No variant docs: clap would turn them into a long help block.
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The librdkafka `compression.type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Parses `--acks`: `all` (same as `-1`), `1` or `0`; returns the librdkafka `acks` value.
pub fn parse_acks(text: &str) -> Result<String, String> {
    match text {
        "all" | "-1" => Ok("all".into()),
        "1" | "0" => Ok(text.into()),
        _ => Err(format!("expected all, -1, 1 or 0, got `{text}`")),
    }
}

/// Parses `KEY=VALUE` (the value may itself contain `=`).
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

/// Reads a Java-style properties file: `key=value` lines, blank lines and `#`/`!` comments ignored.
pub fn read_properties_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut properties = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        match parse_key_value(line) {
            Ok((key, value)) => properties.push((key, value.trim().to_string())),
            Err(err) => bail!("{}:{}: {err}", path.display(), number + 1),
        }
    }
    Ok(properties)
}

/// One partition as seen in cluster metadata.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Leader broker id (-1 when there is none).
    pub leader: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
    /// Kafka error name reported for the partition, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One topic as seen in cluster metadata.
#[derive(Debug, Clone, Serialize)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionInfo>,
    /// Kafka error name reported for the topic, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Ids of the brokers in the cluster metadata (Strom lists only unfenced ones, as KRaft does).
pub fn live_brokers<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Result<Vec<i32>> {
    let metadata = client.fetch_metadata(None, timeout).map_err(kafka_error).context("fetching metadata")?;
    Ok(metadata.brokers().iter().map(|b| b.id()).collect())
}

/// Fetches metadata for all topics, sorted by name.
///
/// Always asks for every topic: a Metadata request naming one topic may auto-create it on the broker,
/// which a `--describe` must never do.
pub fn fetch_topics<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Result<Vec<TopicInfo>> {
    let metadata = client.fetch_metadata(None, timeout).map_err(kafka_error).context("fetching metadata")?;
    let mut topics: Vec<TopicInfo> = metadata
        .topics()
        .iter()
        .map(|topic| {
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions()
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                    error: p.error().map(|e| error_name(RDKafkaErrorCode::from(e))),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            TopicInfo {
                name: topic.name().to_string(),
                partitions,
                error: topic.error().map(|e| error_name(RDKafkaErrorCode::from(e))),
            }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(topics)
}

/// Fetches one topic's metadata; fails with `UNKNOWN_TOPIC_OR_PARTITION` if it does not exist.
pub fn fetch_topic<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<TopicInfo> {
    let found = fetch_topics(client, timeout)?.into_iter().find(|t| t.name == topic);
    match found {
        Some(info) if info.error.is_none() && !info.partitions.is_empty() => Ok(info),
        Some(TopicInfo { error: Some(error), .. }) => bail!("{error}: topic '{topic}'"),
        _ => bail!("UNKNOWN_TOPIC_OR_PARTITION: topic '{topic}' does not exist"),
    }
}

/// Kafka-style name of an error code: `TOPIC_ALREADY_EXISTS`; librdkafka-local errors get a leading
/// underscore as in librdkafka (`_TIMED_OUT`).
pub fn error_name(code: RDKafkaErrorCode) -> String {
    let camel = format!("{code:?}");
    let mut name = String::with_capacity(camel.len() + 8);
    if (code as i32) < 0 {
        name.push('_');
    }
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(ch.to_ascii_uppercase());
    }
    name
}

/// `NAME: description` for an error code, e.g. `TOPIC_ALREADY_EXISTS: Broker: Topic already exists`.
pub fn describe_code(code: RDKafkaErrorCode) -> String {
    // rdkafka displays a code as `TopicAlreadyExists (Broker: Topic already exists)`; keep the text.
    let shown = code.to_string();
    let prefix = format!("{code:?} (");
    let text = shown.strip_prefix(&prefix).and_then(|t| t.strip_suffix(')')).unwrap_or(&shown);
    format!("{}: {text}", error_name(code))
}

/// Converts a client error into an `anyhow` error that leads with the Kafka error name when known:
/// `_TRANSPORT: Local: Broker transport failure (Meta data fetch error)`.
pub fn kafka_error(err: KafkaError) -> anyhow::Error {
    match err.rdkafka_error_code() {
        Some(code) => {
            let shown = err.to_string();
            match shown.split_once(": ") {
                Some((operation, _)) => anyhow::anyhow!("{} ({operation})", describe_code(code)),
                None => anyhow::anyhow!("{}", describe_code(code)),
            }
        }
        None => anyhow::anyhow!("{err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_follow_kafka_spelling() {
        assert_eq!(error_name(RDKafkaErrorCode::TopicAlreadyExists), "TOPIC_ALREADY_EXISTS");
        assert_eq!(error_name(RDKafkaErrorCode::UnknownTopicOrPartition), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(RDKafkaErrorCode::OperationTimedOut), "_OPERATION_TIMED_OUT");
        assert_eq!(
            describe_code(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS: Broker: Topic already exists"
        );
    }

    #[test]
    fn key_value_parsing() {
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_key_value("a="), Ok(("a".into(), String::new())));
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}

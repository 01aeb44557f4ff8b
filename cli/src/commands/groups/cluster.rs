//! The I/O shell of `strom groups`: one [`WireConn`] per broker (opened on first use), the cluster's
//! brokers and partition leaders from Metadata, and the partition-level requests that go to leaders:
//! ListOffsets (log start, log end = high watermark, offset for a timestamp) and a one-batch Fetch to
//! read the timestamp of the record at a consumer's position.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, ListOffsetsRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::wire::{WireConn, connect_any, error_name};

/// ListOffsets timestamp asking for the log end offset (the high watermark under read_uncommitted).
pub const LATEST_TIMESTAMP: i64 = -1;
/// ListOffsets timestamp asking for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// Kafka's LEADER_NOT_AVAILABLE, reported for partitions without a known leader.
const LEADER_NOT_AVAILABLE: i16 = 5;
/// Kafka's UNKNOWN_TOPIC_OR_PARTITION.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// A topic partition, `(topic, partition)`.
pub type TopicPartition = (String, i32);

/// Wraps a topic name for a request.
pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// The version of `key` to use on `conn` within `[min, max]`, or an error naming the API the broker
/// does not support (older brokers, or Strom before it implemented the API).
pub fn require_version(conn: &WireConn, key: ApiKey, min: i16, max: i16) -> Result<i16> {
    conn.version(key, min, max).with_context(|| {
        format!("API not supported by the broker: {} does not support {key:?} v{min}–{max}", conn.addr())
    })
}

/// Connections and metadata of one cluster, for the length of one command.
pub struct Cluster {
    bootstrap: String,
    timeout: Duration,
    conns: BTreeMap<String, WireConn>,
    /// Broker id → `host:port`.
    brokers: BTreeMap<i32, String>,
    /// Topic → partition → leader id (-1: none); topics absent here were not asked for yet.
    leaders: BTreeMap<String, BTreeMap<i32, i32>>,
}

impl Cluster {
    /// Connects to a bootstrap server and learns the brokers.
    pub async fn connect(bootstrap: &str, timeout: Duration) -> Result<Self> {
        let conn = connect_any(bootstrap, timeout).await?;
        let bootstrap = conn.addr().to_string();
        let mut cluster = Self {
            bootstrap: bootstrap.clone(),
            timeout,
            conns: BTreeMap::from([(bootstrap, conn)]),
            brokers: BTreeMap::new(),
            leaders: BTreeMap::new(),
        };
        cluster.refresh_metadata(&[]).await?;
        Ok(cluster)
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Every broker, id → `host:port`.
    pub fn brokers(&self) -> &BTreeMap<i32, String> {
        &self.brokers
    }

    /// The connection to the bootstrap server.
    pub fn bootstrap_conn(&mut self) -> Result<&mut WireConn> {
        self.conns.get_mut(&self.bootstrap).context("the bootstrap connection was closed")
    }

    /// The connection to `addr`, opened on first use.
    pub async fn conn(&mut self, addr: &str) -> Result<&mut WireConn> {
        if !self.conns.contains_key(addr) {
            let conn = WireConn::connect(addr, self.timeout).await?;
            self.conns.insert(addr.to_string(), conn);
        }
        self.conns.get_mut(addr).context("connection vanished")
    }

    /// The connection to broker `id`.
    pub async fn broker_conn(&mut self, id: i32) -> Result<&mut WireConn> {
        let addr =
            self.brokers.get(&id).cloned().with_context(|| format!("broker {id} is not in the metadata"))?;
        self.conn(&addr).await
    }

    /// Asks the bootstrap server for the brokers and for `topics`' partitions and leaders.
    pub async fn refresh_metadata(&mut self, topics: &[String]) -> Result<()> {
        let response = crate::wire::metadata(self.bootstrap_conn()?, Some(topics)).await?;
        self.brokers =
            response.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port))).collect();
        for topic in &response.topics {
            let Some(name) = &topic.name else { continue };
            let partitions = if topic.error_code == 0 {
                topic.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect()
            } else {
                BTreeMap::new()
            };
            self.leaders.insert(name.0.to_string(), partitions);
        }
        Ok(())
    }

    /// Makes sure the leaders of `topics` are known (one Metadata request for the missing ones).
    pub async fn ensure_topics(&mut self, topics: impl IntoIterator<Item = &String>) -> Result<()> {
        let missing: Vec<String> =
            topics.into_iter().filter(|t| !self.leaders.contains_key(*t)).cloned().collect();
        if missing.is_empty() { Ok(()) } else { self.refresh_metadata(&missing).await }
    }

    /// The partitions of `topic`, sorted; empty for a topic that does not exist (after
    /// [`Self::ensure_topics`]).
    pub fn partitions(&self, topic: &str) -> Vec<i32> {
        self.leaders.get(topic).map(|p| p.keys().copied().collect()).unwrap_or_default()
    }

    fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.leaders.get(topic)?.get(&partition).copied().filter(|id| *id >= 0)
    }

    /// ListOffsets with `timestamp` ([`LATEST_TIMESTAMP`], [`EARLIEST_TIMESTAMP`] or a time in ms)
    /// for each partition, sent to its leader. Each answer is the offset (-1 when no record has a
    /// timestamp at or after a time asked for) or the partition's Kafka error code.
    pub async fn list_offsets(
        &mut self,
        partitions: &[TopicPartition],
        timestamp: i64,
    ) -> Result<BTreeMap<TopicPartition, Result<i64, i16>>> {
        self.ensure_topics(partitions.iter().map(|(t, _)| t)).await?;
        let mut out = BTreeMap::new();
        let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for (topic, partition) in partitions {
            match self.leader(topic, *partition) {
                Some(leader) => {
                    by_leader.entry(leader).or_default().entry(topic).or_default().push(*partition)
                }
                None if self.partitions(topic).contains(partition) => {
                    out.insert((topic.clone(), *partition), Err(LEADER_NOT_AVAILABLE));
                }
                None => {
                    out.insert((topic.clone(), *partition), Err(UNKNOWN_TOPIC_OR_PARTITION));
                }
            }
        }
        for (leader, topics) in by_leader {
            let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        ListOffsetsTopic::default().with_name(topic_name(t)).with_partitions(
                            ps.iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*p)
                                        .with_timestamp(timestamp)
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            );
            let conn = self.broker_conn(leader).await?;
            let version = require_version(conn, ApiKey::ListOffsets, 1, 7)?;
            let ResponseKind::ListOffsets(response) =
                conn.send(ApiKey::ListOffsets, version, &RequestKind::ListOffsets(request)).await?
            else {
                bail!("unexpected response to ListOffsets");
            };
            for t in &response.topics {
                for p in &t.partitions {
                    let answer = if p.error_code == 0 { Ok(p.offset) } else { Err(p.error_code) };
                    out.insert((t.name.0.to_string(), p.partition_index), answer);
                }
            }
        }
        Ok(out)
    }

    /// Like [`Self::list_offsets`], but any partition error fails the whole call.
    pub async fn list_offsets_strict(
        &mut self,
        partitions: &[TopicPartition],
        timestamp: i64,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let answers = self.list_offsets(partitions, timestamp).await?;
        let mut out = BTreeMap::new();
        for tp in partitions {
            match answers.get(tp) {
                Some(Ok(offset)) => out.insert(tp.clone(), *offset),
                Some(Err(code)) => bail!("ListOffsets for {}-{}: {}", tp.0, tp.1, error_name(*code)),
                None => bail!("ListOffsets for {}-{}: no answer", tp.0, tp.1),
            };
        }
        Ok(out)
    }

    /// The timestamp of the record at `offset` (or the first one after it, if it was compacted or
    /// is a transaction marker) of `topic`-`partition`, fetched from the leader; `None` when the
    /// leader returned no record batch at or after it.
    pub async fn record_timestamp(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<Option<i64>> {
        let leader = self
            .leader(topic, partition)
            .with_context(|| format!("{topic}-{partition}: {}", error_name(LEADER_NOT_AVAILABLE)))?;
        // One byte per partition and in total: the broker still returns the first whole batch
        // (KIP-74), which holds the record at `offset`.
        let request =
            FetchRequest::default().with_max_wait_ms(0).with_min_bytes(0).with_max_bytes(1).with_topics(
                vec![FetchTopic::default().with_topic(topic_name(topic)).with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1),
                    ])],
            );
        let conn = self.broker_conn(leader).await?;
        let version = require_version(conn, ApiKey::Fetch, 4, 12)?;
        let ResponseKind::Fetch(response) =
            conn.send(ApiKey::Fetch, version, &RequestKind::Fetch(request)).await?
        else {
            bail!("unexpected response to Fetch");
        };
        if response.error_code != 0 {
            bail!("Fetch {topic}-{partition}: {}", error_name(response.error_code));
        }
        let data =
            response.responses.iter().flat_map(|t| &t.partitions).find(|p| p.partition_index == partition);
        let Some(data) = data else { return Ok(None) };
        if data.error_code != 0 {
            bail!("Fetch {topic}-{partition} at offset {offset}: {}", error_name(data.error_code));
        }
        Ok(data
            .records
            .as_deref()
            .and_then(|records| strom_broker::record::timestamp::record_timestamp(records, offset)))
    }
}

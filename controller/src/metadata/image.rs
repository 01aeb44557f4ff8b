//! The metadata image: the broker's read-only view of cluster state, changed only by [`replay`].
//!
//! [`replay`]: MetadataImage::replay

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::acl::AclBinding;
use super::records::MetadataRecord;

/// One named Kafka listener of a broker, as clients reach it (Kafka's `BrokerEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerEndpoint {
    /// Listener name (`INTERNAL`, `EXTERNAL`, `PLAINTEXT`, …).
    pub name: String,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerImage {
    /// Broker id.
    pub broker_id: i32,
    /// Advertised host of the broker's inter-broker listener.
    pub host: String,
    /// Advertised port of the broker's inter-broker listener.
    pub port: i32,
    /// Every advertised listener, in the broker's `listeners` order. Empty for registrations written
    /// before named listeners existed: such a broker has `host`/`port` on every listener name.
    #[serde(default)]
    pub endpoints: Vec<BrokerEndpoint>,
    /// Rack.
    pub rack: Option<String>,
    /// The registered run of the broker process.
    #[serde(default)]
    pub incarnation_id: Uuid,
    /// Offset of the registration record in the metadata log (Kafka's broker epoch); requests from
    /// the broker carry it so the controller can refuse a previous incarnation.
    #[serde(default)]
    pub broker_epoch: i64,
    /// Fenced: not heartbeating (or never yet), may not lead or be added to an ISR.
    #[serde(default)]
    pub fenced: bool,
    /// Shutting down cleanly: its leadership is being moved away.
    #[serde(default)]
    pub in_controlled_shutdown: bool,
}

impl BrokerImage {
    /// Eligible to lead and to join ISRs: neither fenced nor shutting down.
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }

    /// The advertised `(host, port)` of listener `name`; `None` when the broker has no such listener.
    /// A registration without endpoints (written before named listeners) answers every name with its
    /// `host`/`port`.
    pub fn endpoint(&self, name: &str) -> Option<(&str, i32)> {
        if self.endpoints.is_empty() {
            return Some((&self.host, self.port));
        }
        self.endpoints.iter().find(|e| e.name == name).map(|e| (e.host.as_str(), e.port))
    }
}

/// Kafka's `LeaderRecoveryState`: whether the leader's log may miss committed records after an unclean
/// election.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaderRecoveryState {
    /// Normal: the leader came from the ISR.
    #[default]
    Recovered,
    /// Elected uncleanly; the ISR stays the leader alone until it reports `Recovered`.
    Recovering,
}

impl LeaderRecoveryState {
    /// The wire value (0 recovered, 1 recovering).
    pub fn code(self) -> i8 {
        match self {
            Self::Recovered => 0,
            Self::Recovering => 1,
        }
    }
}

/// One partition's replicas and leadership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Leader id, -1 when offline.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Partition epoch.
    pub partition_epoch: i32,
    /// `Recovering` after an unclean election.
    #[serde(default)]
    pub leader_recovery_state: LeaderRecoveryState,
    /// Replicas a reassignment is adding (also in `replicas`).
    #[serde(default)]
    pub adding_replicas: Vec<i32>,
    /// Replicas a reassignment will remove once the added ones are in sync (also in `replicas`).
    #[serde(default)]
    pub removing_replicas: Vec<i32>,
}

impl PartitionImage {
    /// Whether a reassignment is in progress.
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// Applies a `PartitionChange` or `PartitionReassignment` record addressed to this partition (other
    /// records are ignored). The one place these records change a partition: replay and the decisions
    /// that need the state after their own records both use it.
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::PartitionChange {
                leader,
                isr,
                leader_epoch,
                partition_epoch,
                leader_recovery_state,
                ..
            } => {
                self.leader = *leader;
                self.isr.clone_from(isr);
                self.leader_epoch = *leader_epoch;
                self.partition_epoch = *partition_epoch;
                self.leader_recovery_state = *leader_recovery_state;
            }
            MetadataRecord::PartitionReassignment {
                replicas,
                adding_replicas,
                removing_replicas,
                partition_epoch,
                ..
            } => {
                self.replicas.clone_from(replicas);
                self.adding_replicas.clone_from(adding_replicas);
                self.removing_replicas.clone_from(removing_replicas);
                self.partition_epoch = *partition_epoch;
            }
            _ => {}
        }
    }

    /// The replica set a reassignment is moving to (the replicas when none is in progress).
    pub fn target_replicas(&self) -> Vec<i32> {
        self.replicas.iter().copied().filter(|r| !self.removing_replicas.contains(r)).collect()
    }
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionImage>,
    /// Config overrides (validated when written).
    pub configs: BTreeMap<String, String>,
    /// Leader epochs begun by unclean elections, per partition (the latest few).
    #[serde(default)]
    pub unclean_epochs: BTreeMap<i32, Vec<i32>>,
    /// The data-loss ledger: records discarded because of unclean elections (the latest
    /// [`DATA_LOSS_LEDGER_SIZE`] entries).
    #[serde(default)]
    pub data_loss: Vec<DataLossEntry>,
}

/// Name of the read-only entry in a topic's DescribeConfigs that carries its data-loss ledger.
pub const DATA_LOSS_LEDGER_CONFIG: &str = "strom.data.loss.ledger";

/// Entries kept in a topic's data-loss ledger.
pub const DATA_LOSS_LEDGER_SIZE: usize = 100;

impl std::fmt::Display for DataLossEntry {
    /// `partition 0 offsets [120,140) discarded by broker 1 after the unclean election of leader epoch 4`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "partition {} offsets [{},{}) discarded by broker {} after the unclean election of leader epoch {}",
            self.partition, self.start_offset, self.end_offset, self.broker_id, self.unclean_epoch
        )
    }
}

/// The ledger as one string (entries joined by `; `), as DescribeConfigs reports it.
pub fn format_data_loss_ledger(entries: &[DataLossEntry]) -> String {
    entries.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Unclean-election epochs remembered per partition.
const UNCLEAN_EPOCHS_KEPT: usize = 16;

/// One entry of a topic's data-loss ledger (see [`MetadataRecord::DataLoss`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLossEntry {
    /// Partition index.
    pub partition: i32,
    /// Leader epoch the replica followed when it truncated.
    pub leader_epoch: i32,
    /// Epoch of the unclean election that caused the loss.
    pub unclean_epoch: i32,
    /// The replica that discarded the records.
    pub broker_id: i32,
    /// First offset lost.
    pub start_offset: i64,
    /// One past the last offset lost.
    pub end_offset: i64,
    /// When it was recorded (ms since the Unix epoch).
    pub timestamp_ms: i64,
}

/// A consumer group's committed position in one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The next offset the group will consume.
    pub offset: i64,
    /// Leader epoch of the committed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
    /// When the commit was accepted.
    pub commit_timestamp_ms: i64,
}

/// Committed offsets of one group: topic name → partition → offset.
pub type GroupOffsets = BTreeMap<String, BTreeMap<i32, CommittedOffset>>;

/// Cluster metadata at one point of the metadata log.
///
/// Serializable so the controller's state machine can snapshot it; fields added later carry serde
/// defaults so older snapshots still load. Every map is ordered, so equal images serialize to equal
/// bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    brokers: BTreeMap<i32, BrokerImage>,
    topics: BTreeMap<String, TopicImage>,
    names_by_id: BTreeMap<Uuid, String>,
    next_producer_id: i64,
    #[serde(default)]
    acls: BTreeMap<Uuid, AclBinding>,
    #[serde(default)]
    committed_offsets: BTreeMap<String, GroupOffsets>,
    #[serde(default)]
    cluster_broker_configs: BTreeMap<String, String>,
    #[serde(default)]
    broker_configs: BTreeMap<i32, BTreeMap<String, String>>,
    /// Number of records replayed (the image's offset in the metadata log).
    pub offset: u64,
}

impl MetadataImage {
    /// Applies one record. The only way the image changes.
    pub fn replay(&mut self, record: &MetadataRecord) {
        self.offset += 1;
        match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                host,
                port,
                endpoints,
                rack,
                fenced,
            } => {
                let broker = BrokerImage {
                    broker_id: *broker_id,
                    host: host.clone(),
                    port: *port,
                    endpoints: endpoints.clone(),
                    rack: rack.clone(),
                    incarnation_id: *incarnation_id,
                    broker_epoch: i64::try_from(self.offset).unwrap_or(i64::MAX),
                    fenced: *fenced,
                    in_controlled_shutdown: false,
                };
                self.brokers.insert(*broker_id, broker);
            }
            MetadataRecord::FenceBroker { broker_id } => {
                if let Some(broker) = self.brokers.get_mut(broker_id) {
                    broker.fenced = true;
                }
            }
            MetadataRecord::UnfenceBroker { broker_id } => {
                if let Some(broker) = self.brokers.get_mut(broker_id) {
                    broker.fenced = false;
                    broker.in_controlled_shutdown = false;
                }
            }
            MetadataRecord::BrokerControlledShutdown { broker_id } => {
                if let Some(broker) = self.brokers.get_mut(broker_id) {
                    broker.in_controlled_shutdown = true;
                }
            }
            MetadataRecord::Topic { name, topic_id } => {
                self.names_by_id.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        topic_id: *topic_id,
                        partitions: BTreeMap::new(),
                        configs: BTreeMap::new(),
                        unclean_epochs: BTreeMap::new(),
                        data_loss: Vec::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => {
                if let Some(topic) = self.topic_by_id_mut(*topic_id) {
                    topic.partitions.insert(
                        *partition,
                        PartitionImage {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: *leader,
                            leader_epoch: *leader_epoch,
                            partition_epoch: *partition_epoch,
                            leader_recovery_state: LeaderRecoveryState::Recovered,
                            adding_replicas: Vec::new(),
                            removing_replicas: Vec::new(),
                        },
                    );
                }
            }
            MetadataRecord::PartitionChange { topic_id, partition, .. }
            | MetadataRecord::PartitionReassignment { topic_id, partition, .. } => {
                if let Some(topic) = self.topic_by_id_mut(*topic_id)
                    && let Some(state) = topic.partitions.get_mut(partition)
                {
                    let epoch_before = state.leader_epoch;
                    state.apply(record);
                    let unclean = state.leader_recovery_state == LeaderRecoveryState::Recovering
                        && state.leader_epoch != epoch_before;
                    if unclean {
                        let epochs = topic.unclean_epochs.entry(*partition).or_default();
                        epochs.push(state.leader_epoch);
                        if epochs.len() > UNCLEAN_EPOCHS_KEPT {
                            epochs.remove(0);
                        }
                    }
                }
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(name) = self.names_by_id.remove(topic_id) {
                    self.topics.remove(&name);
                    self.committed_offsets.retain(|_, group| {
                        group.remove(&name);
                        !group.is_empty()
                    });
                }
            }
            MetadataRecord::TopicConfig { topic, name, value } => {
                if let Some(topic) = self.topics.get_mut(topic) {
                    set_or_remove(&mut topic.configs, name, value.as_ref());
                }
            }
            MetadataRecord::BrokerConfig { broker_id, name, value } => match broker_id {
                None => set_or_remove(&mut self.cluster_broker_configs, name, value.as_ref()),
                Some(broker_id) => {
                    let configs = self.broker_configs.entry(*broker_id).or_default();
                    set_or_remove(configs, name, value.as_ref());
                    if configs.is_empty() {
                        self.broker_configs.remove(broker_id);
                    }
                }
            },
            MetadataRecord::AccessControlEntry { id, binding } => {
                self.acls.insert(*id, binding.clone());
            }
            MetadataRecord::RemoveAccessControlEntry { id } => {
                self.acls.remove(id);
            }
            MetadataRecord::OffsetCommit {
                group,
                topic,
                partition,
                offset,
                leader_epoch,
                metadata,
                commit_timestamp_ms,
            } => {
                if self.topics.contains_key(topic) {
                    let committed = CommittedOffset {
                        offset: *offset,
                        leader_epoch: *leader_epoch,
                        metadata: metadata.clone(),
                        commit_timestamp_ms: *commit_timestamp_ms,
                    };
                    self.committed_offsets
                        .entry(group.clone())
                        .or_default()
                        .entry(topic.clone())
                        .or_default()
                        .insert(*partition, committed);
                }
            }
            MetadataRecord::OffsetDelete { group, topic, partition } => match topic {
                None => {
                    self.committed_offsets.remove(group);
                }
                Some(topic) => {
                    if let Some(offsets) = self.committed_offsets.get_mut(group) {
                        if let Some(partitions) = offsets.get_mut(topic) {
                            partitions.remove(partition);
                            if partitions.is_empty() {
                                offsets.remove(topic);
                            }
                        }
                        if offsets.is_empty() {
                            self.committed_offsets.remove(group);
                        }
                    }
                }
            },
            MetadataRecord::ProducerIds { next_producer_id } => {
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
            }
            MetadataRecord::DataLoss {
                topic_id,
                partition,
                leader_epoch,
                unclean_epoch,
                broker_id,
                start_offset,
                end_offset,
                timestamp_ms,
            } => {
                if let Some(topic) = self.topic_by_id_mut(*topic_id) {
                    topic.data_loss.push(DataLossEntry {
                        partition: *partition,
                        leader_epoch: *leader_epoch,
                        unclean_epoch: *unclean_epoch,
                        broker_id: *broker_id,
                        start_offset: *start_offset,
                        end_offset: *end_offset,
                        timestamp_ms: *timestamp_ms,
                    });
                    if topic.data_loss.len() > DATA_LOSS_LEDGER_SIZE {
                        topic.data_loss.remove(0);
                    }
                }
            }
        }
    }

    fn topic_by_id_mut(&mut self, topic_id: Uuid) -> Option<&mut TopicImage> {
        let name = self.names_by_id.get(&topic_id)?;
        self.topics.get_mut(name)
    }

    /// Topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    /// Topic by id.
    pub fn topic_by_id(&self, topic_id: Uuid) -> Option<&TopicImage> {
        self.topics.get(self.names_by_id.get(&topic_id)?)
    }

    /// All topics, ordered by name.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values()
    }

    /// One partition's state.
    pub fn partition(&self, topic_id: Uuid, partition: i32) -> Option<&PartitionImage> {
        self.topic_by_id(topic_id)?.partitions.get(&partition)
    }

    /// All registered brokers, ordered by id.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerImage> {
        self.brokers.values()
    }

    /// Broker by id.
    pub fn broker(&self, broker_id: i32) -> Option<&BrokerImage> {
        self.brokers.get(&broker_id)
    }

    /// Whether `broker_id` is registered, unfenced and not shutting down (may lead, may join ISRs).
    pub fn is_active(&self, broker_id: i32) -> bool {
        self.broker(broker_id).is_some_and(BrokerImage::is_active)
    }

    /// First producer id not yet handed out.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    /// All ACLs by id.
    pub fn acls(&self) -> impl Iterator<Item = (Uuid, &AclBinding)> {
        self.acls.iter().map(|(id, binding)| (*id, binding))
    }

    /// One ACL.
    pub fn acl(&self, id: Uuid) -> Option<&AclBinding> {
        self.acls.get(&id)
    }

    /// Committed offset of `group` for one partition.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.committed_offsets.get(group)?.get(topic)?.get(&partition)
    }

    /// Every committed offset of one group.
    pub fn group_offsets(&self, group: &str) -> Option<&GroupOffsets> {
        self.committed_offsets.get(group)
    }

    /// Groups that have committed offsets, ordered by id.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.committed_offsets.keys().map(String::as_str)
    }

    /// Dynamic config overrides for one broker (not including the cluster default).
    pub fn broker_configs(&self, broker_id: i32) -> Option<&BTreeMap<String, String>> {
        self.broker_configs.get(&broker_id)
    }

    /// Cluster-wide dynamic broker config defaults.
    pub fn cluster_broker_configs(&self) -> &BTreeMap<String, String> {
        &self.cluster_broker_configs
    }

    /// Effective dynamic value of a broker config: the broker's override, else the cluster default,
    /// else `None` (the broker's static config applies).
    pub fn broker_config(&self, broker_id: i32, name: &str) -> Option<&str> {
        self.broker_configs
            .get(&broker_id)
            .and_then(|configs| configs.get(name))
            .or_else(|| self.cluster_broker_configs.get(name))
            .map(String::as_str)
    }
}

fn set_or_remove(configs: &mut BTreeMap<String, String>, name: &str, value: Option<&String>) {
    match value {
        Some(value) => configs.insert(name.to_owned(), value.clone()),
        None => configs.remove(name),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_builds_and_removes_topics() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::new_v4();
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        });
        image.replay(&MetadataRecord::TopicConfig {
            topic: "t".into(),
            name: "retention.ms".into(),
            value: Some("5".into()),
        });
        let topic = image.topic("t").expect("topic");
        assert_eq!(topic.partitions.len(), 1);
        assert_eq!(topic.configs.get("retention.ms").map(String::as_str), Some("5"));
        assert_eq!(image.topic_by_id(topic_id).map(|t| t.name.as_str()), Some("t"));
        image.replay(&MetadataRecord::RemoveTopic { topic_id });
        assert!(image.topic("t").is_none());
        assert!(image.topic_by_id(topic_id).is_none());
        assert_eq!(image.offset, 4);
    }

    #[test]
    fn image_round_trips_through_json() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::from_u128(5);
        let records = [
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: Uuid::from_u128(1),
                host: "h".into(),
                port: 9092,
                endpoints: Vec::new(),
                rack: Some("r1".into()),
                fenced: true,
            },
            MetadataRecord::Topic { name: "t".into(), topic_id },
            MetadataRecord::Partition {
                topic_id,
                partition: 0,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            },
            MetadataRecord::BrokerConfig {
                broker_id: Some(1),
                name: "num.io.threads".into(),
                value: Some("4".into()),
            },
            MetadataRecord::OffsetCommit {
                group: "g".into(),
                topic: "t".into(),
                partition: 0,
                offset: 7,
                leader_epoch: 0,
                metadata: String::new(),
                commit_timestamp_ms: 1,
            },
        ];
        for record in &records {
            let json = serde_json::to_string(record).expect("record to json");
            let back: MetadataRecord = serde_json::from_str(&json).expect("record from json");
            assert_eq!(&back, record);
            image.replay(record);
        }
        let json = serde_json::to_string(&image).expect("image to json");
        let back: MetadataImage = serde_json::from_str(&json).expect("image from json");
        assert_eq!(back, image);
    }

    #[test]
    fn records_written_before_new_fields_still_load() {
        let old = r#"{"type":"RegisterBroker","broker_id":1,"host":"h","port":9092,"rack":null}"#;
        let record: MetadataRecord = serde_json::from_str(old).expect("old record");
        let mut image = MetadataImage::default();
        image.replay(&record);
        let broker = image.broker(1).expect("broker");
        assert!(!broker.fenced && broker.incarnation_id.is_nil());
        // No endpoints: the one registered host/port serves every listener name.
        assert!(broker.endpoints.is_empty());
        assert_eq!(broker.endpoint("EXTERNAL"), Some(("h", 9092)));
    }
}

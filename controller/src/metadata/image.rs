//! The metadata image: the broker's read-only view of cluster state, changed only by [`replay`].
//!
//! [`replay`]: MetadataImage::replay

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::records::MetadataRecord;

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerImage {
    /// Broker id.
    pub broker_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised Kafka port.
    pub port: i32,
    /// Rack.
    pub rack: Option<String>,
}

/// One partition's replicas and leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionImage>,
    /// Config overrides (validated when written).
    pub configs: BTreeMap<String, String>,
}

/// Cluster metadata at one point of the metadata log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    brokers: BTreeMap<i32, BrokerImage>,
    topics: BTreeMap<String, TopicImage>,
    names_by_id: HashMap<Uuid, String>,
    next_producer_id: i64,
    /// Number of records replayed (the image's offset in the metadata log).
    pub offset: u64,
}

impl MetadataImage {
    /// Applies one record. The only way the image changes.
    pub fn replay(&mut self, record: &MetadataRecord) {
        self.offset += 1;
        match record {
            MetadataRecord::RegisterBroker { broker_id, host, port, rack } => {
                let broker = BrokerImage {
                    broker_id: *broker_id,
                    host: host.clone(),
                    port: *port,
                    rack: rack.clone(),
                };
                self.brokers.insert(*broker_id, broker);
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
                        },
                    );
                }
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(name) = self.names_by_id.remove(topic_id) {
                    self.topics.remove(&name);
                }
            }
            MetadataRecord::TopicConfig { topic, name, value } => {
                if let Some(topic) = self.topics.get_mut(topic) {
                    match value {
                        Some(value) => topic.configs.insert(name.clone(), value.clone()),
                        None => topic.configs.remove(name),
                    };
                }
            }
            MetadataRecord::ProducerIds { next_producer_id } => {
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
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

    /// All registered brokers, ordered by id.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerImage> {
        self.brokers.values()
    }

    /// Broker by id.
    pub fn broker(&self, broker_id: i32) -> Option<&BrokerImage> {
        self.brokers.get(&broker_id)
    }

    /// First producer id not yet handed out.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }
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
}

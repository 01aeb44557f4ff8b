//! librdkafka (rdkafka crate) clients for a [`crate::BrokerProcess`], with the settings every test
//! shares, and helpers that fail loudly with the broker's error.
//!
//! Strom has no consumer groups yet, so consumers get a `group.id` (librdkafka's `assign` requires
//! one) but only ever use manual `assign` with explicit offsets and never commit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;

/// Timeout for one admin or metadata round trip.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings shared by every client: IPv4 loopback, short retries so failures show up fast.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "10000")
        .set("reconnect.backoff.ms", "20")
        .set("reconnect.backoff.max.ms", "500")
        .set("topic.metadata.refresh.interval.ms", "1000");
    config
}

/// A `FutureProducer` with librdkafka defaults plus `extra` settings.
pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = client_config(bootstrap);
    config.set("message.timeout.ms", "20000").set("linger.ms", "5");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("create producer")
}

/// A `BaseConsumer` for manual assignment: no auto commit, no offset store, earliest reset.
pub fn consumer(bootstrap: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut config = client_config(bootstrap);
    config
        .set("group.id", crate::unique_topic("strom-test-group"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("create consumer")
}

/// An admin client.
pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client_config(bootstrap).create().expect("create admin client")
}

/// Admin options with [`REQUEST_TIMEOUT`] as request and operation timeout.
pub fn admin_options() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT)).operation_timeout(Some(REQUEST_TIMEOUT))
}

/// Creates a topic with `partitions` partitions, replication factor 1 and `configs`; panics with the
/// broker's error code on failure.
pub async fn create_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    create_replicated_topic(admin, name, partitions, 1, configs).await;
}

/// Creates a topic with `partitions` partitions, `replication_factor` replicas each and `configs`;
/// panics with the broker's error code on failure.
pub async fn create_replicated_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    partitions: i32,
    replication_factor: i32,
    configs: &[(&str, &str)],
) {
    if let Err(error) = try_create_topic(admin, name, partitions, replication_factor, configs).await {
        panic!("CreateTopics {name}: {error:?}");
    }
}

/// Why [`try_create_topic`] failed.
#[derive(Debug)]
pub enum CreateTopicError {
    /// The request itself failed (no answer in time, no broker reachable, …).
    Request(KafkaError),
    /// The broker answered with an error code for the topic.
    Topic(RDKafkaErrorCode),
}

/// Creates one topic; returns the request's or the topic's error instead of panicking.
pub async fn try_create_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    partitions: i32,
    replication_factor: i32,
    configs: &[(&str, &str)],
) -> Result<(), CreateTopicError> {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication_factor));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = admin.create_topics([&topic], &admin_options()).await.map_err(CreateTopicError::Request)?;
    assert_eq!(results.len(), 1, "one result per topic: {results:?}");
    match results.into_iter().next().expect("one result") {
        Ok(_) => Ok(()),
        Err((_, code)) => Err(CreateTopicError::Topic(code)),
    }
}

/// Convenience: starts an admin client for `bootstrap` and creates one topic.
pub async fn create_topic_at(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    create_topic(&admin(bootstrap), name, partitions, configs).await;
}

/// Assigns `partitions` of `topic` starting at `offset` each.
pub fn assign(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    offset: Offset,
) {
    let mut list = TopicPartitionList::new();
    for partition in partitions {
        list.add_partition_offset(topic, partition, offset).expect("valid offset");
    }
    consumer.assign(&list).expect("assign");
}

/// Polls until `count` messages arrived (returned in arrival order) or `timeout` passes (panics,
/// listing what did arrive). A consumer error also panics.
pub fn consume(consumer: &BaseConsumer, count: usize, timeout: Duration) -> Vec<OwnedMessage> {
    match try_consume(consumer, count, timeout) {
        Ok(messages) => messages,
        Err(ConsumeError::Kafka(error, got)) => {
            panic!("consumer error after {} of {count} messages: {error:?}", got.len())
        }
        Err(ConsumeError::Timeout(got)) => panic!(
            "only {} of {count} messages within {timeout:?}; last: {:?}",
            got.len(),
            got.last().map(|m| (m.partition(), m.offset()))
        ),
    }
}

/// Why [`try_consume`] stopped early; each variant carries what arrived before.
#[derive(Debug)]
pub enum ConsumeError {
    /// The consumer reported an error.
    Kafka(KafkaError, Vec<OwnedMessage>),
    /// The deadline passed first.
    Timeout(Vec<OwnedMessage>),
}

/// Like [`consume`] but returns errors and timeouts instead of panicking.
pub fn try_consume(
    consumer: &BaseConsumer,
    count: usize,
    timeout: Duration,
) -> Result<Vec<OwnedMessage>, ConsumeError> {
    let deadline = Instant::now() + timeout;
    let mut messages = Vec::with_capacity(count);
    while messages.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConsumeError::Timeout(messages));
        }
        match consumer.poll(left.min(Duration::from_millis(200))) {
            None => {}
            Some(Ok(message)) => messages.push(message.detach()),
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(error)) => return Err(ConsumeError::Kafka(error, messages)),
        }
    }
    Ok(messages)
}

/// Groups messages by partition, keeping arrival order within each.
pub fn by_partition(messages: &[OwnedMessage]) -> HashMap<i32, Vec<&OwnedMessage>> {
    let mut map: HashMap<i32, Vec<&OwnedMessage>> = HashMap::new();
    for message in messages {
        map.entry(message.partition()).or_default().push(message);
    }
    map
}

/// Partition count of `topic` per a fresh all-topics metadata request (which never auto-creates), or
/// `None` if the broker does not list it.
pub fn partition_count(consumer: &BaseConsumer, topic: &str) -> Option<usize> {
    let metadata = consumer.fetch_metadata(None, REQUEST_TIMEOUT).ok()?;
    let topic = metadata.topics().iter().find(|t| t.name() == topic)?;
    if topic.error().is_some() {
        return None;
    }
    Some(topic.partitions().len())
}

/// Leader broker id of each partition of `topic` (index = partition id; -1 for none) per a fresh
/// all-topics metadata request with `timeout`, or `None` if the request fails or the topic is
/// missing or reports an error.
pub fn partition_leaders(consumer: &BaseConsumer, topic: &str, timeout: Duration) -> Option<Vec<i32>> {
    let metadata = consumer.fetch_metadata(None, timeout).ok()?;
    let topic = metadata.topics().iter().find(|t| t.name() == topic)?;
    if topic.error().is_some() {
        return None;
    }
    let mut leaders = vec![-1; topic.partitions().len()];
    for partition in topic.partitions() {
        let slot = usize::try_from(partition.id()).ok().and_then(|id| leaders.get_mut(id))?;
        *slot = partition.leader();
    }
    Some(leaders)
}

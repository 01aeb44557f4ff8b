//! A 3-controller + 3-broker cluster of real processes, driven by librdkafka, losing nodes to kill -9.
//!
//! - A broker dies: once its session times out the controllers fence it and move its leaderships to
//!   other replicas; clients see the new leaders in metadata and keep producing and consuming.
//!   (Replication between brokers does not exist yet, so a new leader starts from its own, empty, log:
//!   only leadership and liveness are asserted, not that old records survive.)
//! - The quorum leader dies: the other controllers elect a new one and topic creation keeps working;
//!   the killed controller rejoins as a voter.
//! - A broker whose `meta.properties` names another cluster is refused and exits with that error.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use rdkafka::Offset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use strom_tests::cluster::{BROKER_READY_PREFIX, BROKER_SESSION_TIMEOUT, CLUSTER_ID, ClusterProcesses};
use strom_tests::kafka::{self, CreateTopicError, assign, consume, partition_leaders, try_create_topic};
use strom_tests::node::Startup;
use strom_tests::wire::Connection;
use strom_tests::{unique_topic, wait_until};

const PARTITIONS: i32 = 6;
const REPLICATION_FACTOR: i32 = 3;
const RECORDS: usize = 100;
/// One metadata round trip while polling: short, so a request sent to a dead broker costs little.
const METADATA_POLL_TIMEOUT: Duration = Duration::from_secs(2);
const CONSUME_TIMEOUT: Duration = Duration::from_secs(30);
/// Failover must finish within the session timeout + 1 s, plus this margin for loaded CI machines.
const FAILOVER_LIMIT: Duration = Duration::from_secs(8);
const QUORUM_TIMEOUT: Duration = Duration::from_secs(20);

/// Polls rdkafka metadata until every partition of `topic` has a leader among `allowed`; returns the
/// leaders (index = partition id). Panics with the last leaders seen after `timeout`.
fn wait_for_leaders(consumer: &BaseConsumer, topic: &str, allowed: &[i32], timeout: Duration) -> Vec<i32> {
    let mut last = None;
    let ok = wait_until(timeout, || {
        last = partition_leaders(consumer, topic, METADATA_POLL_TIMEOUT);
        last.as_ref().is_some_and(|leaders| {
            leaders.len() == PARTITIONS as usize && leaders.iter().all(|l| allowed.contains(l))
        })
    });
    assert!(
        ok,
        "partitions of {topic} not all led by {allowed:?} within {timeout:?}; last leaders: {last:?}"
    );
    last.expect("leaders")
}

/// Sends `values` round-robin over the partitions (value i to partition i % PARTITIONS), all
/// pipelined, and returns each record's (partition, offset); panics on any failed delivery.
async fn produce_all(producer: &FutureProducer, topic: &str, values: &[String]) -> Vec<(i32, i64)> {
    let pending: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let partition = i as i32 % PARTITIONS;
            let record = FutureRecord::to(topic).partition(partition).key(value.as_str()).payload(value);
            producer.send_result(record).map_err(|(e, _)| e).expect("enqueue record")
        })
        .collect();
    let mut acked = Vec::with_capacity(values.len());
    for (delivery, value) in pending.into_iter().zip(values) {
        let delivery = delivery
            .await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("record {value} not acknowledged: {e:?}"));
        acked.push((delivery.partition, delivery.offset));
    }
    acked
}

/// Reads every partition of `topic` from the beginning until all of `wanted` arrived (other values are
/// skipped); panics listing what is missing after `timeout`, or on a consumer error other than a
/// broker connection failure.
fn read_until_all_seen(bootstrap: &str, topic: &str, wanted: &[String], timeout: Duration) {
    let consumer = kafka::consumer(bootstrap, &[]);
    assign(&consumer, topic, 0..PARTITIONS, Offset::Beginning);
    let mut missing: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let deadline = Instant::now() + timeout;
    while !missing.is_empty() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Ok(message)) => {
                let value = std::str::from_utf8(message.payload().unwrap_or_default()).expect("utf-8 value");
                missing.remove(value);
            }
            // librdkafka reports a failed connection (to the killed broker, which metadata still
            // lists) as a consumer error; it is informational and the consumer carries on.
            Some(Err(error @ KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure))) => {
                eprintln!("consumer (ignored, transient): {error}");
            }
            Some(Err(error)) => panic!("consumer error with {} values missing: {error:?}", missing.len()),
        }
    }
    let mut missing: Vec<&str> = missing.into_iter().collect();
    missing.sort_unstable();
    assert!(
        missing.is_empty(),
        "{} of {} values not read within {timeout:?}: {missing:?}",
        missing.len(),
        wanted.len()
    );
}

fn values(prefix: &str) -> Vec<String> {
    (0..RECORDS).map(|i| format!("{prefix}-{i:03}")).collect()
}

#[tokio::test]
async fn broker_failover_moves_leadership() {
    let mut cluster = ClusterProcesses::start(3, 3);
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("failover");
    let admin = kafka::admin(&bootstrap);
    kafka::create_replicated_topic(&admin, &topic, PARTITIONS, REPLICATION_FACTOR, &[]).await;
    let metadata = kafka::consumer(&bootstrap, &[]);
    let all_brokers = cluster.broker_ids();
    let leaders = wait_for_leaders(&metadata, &topic, &all_brokers, Duration::from_secs(10));
    eprintln!("leaders before the kill (index = partition): {leaders:?}");
    assert!(
        leaders.contains(&2),
        "broker 2 leads no partition of {topic}, so killing it tests nothing: {leaders:?}"
    );

    let producer = kafka::producer(&bootstrap, &[("acks", "all")]);
    let before = values("before");
    produce_all(&producer, &topic, &before).await;
    let consumer = kafka::consumer(&bootstrap, &[]);
    assign(&consumer, &topic, 0..PARTITIONS, Offset::Beginning);
    let read: BTreeSet<String> = consume(&consumer, RECORDS, CONSUME_TIMEOUT)
        .iter()
        .map(|m| String::from_utf8(m.payload().unwrap_or_default().to_vec()).expect("utf-8 value"))
        .collect();
    assert_eq!(read, before.iter().cloned().collect(), "values read back before the failover");

    let killed_at = Instant::now();
    cluster.kill9_broker(2);
    let survivors = cluster.live_broker_ids();
    let leaders = wait_for_leaders(&metadata, &topic, &survivors, Duration::from_secs(20));
    let failover = killed_at.elapsed();
    eprintln!(
        "failover: every partition led by {survivors:?} {failover:?} after kill -9 of broker 2 \
         (session timeout {BROKER_SESSION_TIMEOUT:?}); leaders now {leaders:?}"
    );
    assert!(failover < FAILOVER_LIMIT, "failover took {failover:?}, limit {FAILOVER_LIMIT:?}");
    let listed: Vec<i32> = metadata
        .fetch_metadata(None, kafka::REQUEST_TIMEOUT)
        .map(|m| m.brokers().iter().map(|b| b.id()).collect())
        .unwrap_or_default();
    eprintln!("brokers listed in metadata after the failover: {listed:?}");

    // The producer created before the kill must find the new leaders by itself.
    let after = values("after");
    let acked = produce_all(&producer, &topic, &after).await;
    for (i, (partition, _)) in acked.iter().enumerate() {
        assert_eq!(*partition, i as i32 % PARTITIONS, "partition of record {i}");
    }
    read_until_all_seen(&cluster.bootstrap(), &topic, &after, CONSUME_TIMEOUT);
}

/// Topic names in a Metadata (v12, all topics) response from the broker at `addr`, each with the
/// number of its partitions that have a leader.
async fn topics_on_broker(addr: std::net::SocketAddr) -> Vec<(String, usize)> {
    let mut connection = Connection::connect(addr).await;
    let response: MetadataResponse = connection.call(12, &MetadataRequest::default().with_topics(None)).await;
    response
        .topics
        .iter()
        .filter_map(|t| {
            let name = t.name.as_ref()?.0.to_string();
            Some((name, t.partitions.iter().filter(|p| p.leader_id.0 >= 0).count()))
        })
        .collect()
}

#[tokio::test]
async fn controller_leader_kill_keeps_admin_working() {
    let mut cluster = ClusterProcesses::start(3, 3);
    let leader = cluster.wait_for_quorum_leader(QUORUM_TIMEOUT);
    let killed_at = Instant::now();
    cluster.kill9_controller(leader);
    eprintln!("killed quorum leader controller-{leader}");

    let admin = kafka::admin(&cluster.bootstrap());
    let topic = unique_topic("controller-failover");
    let deadline = killed_at + Duration::from_secs(30);
    let mut attempts = Vec::new();
    loop {
        match try_create_topic(&admin, &topic, 3, REPLICATION_FACTOR, &[]).await {
            Ok(()) => break,
            // An earlier attempt that timed out on the client may have been applied after all.
            Err(CreateTopicError::Topic(RDKafkaErrorCode::TopicAlreadyExists)) if !attempts.is_empty() => {
                break;
            }
            Err(error) => {
                let retriable = matches!(
                    error,
                    CreateTopicError::Request(_)
                        | CreateTopicError::Topic(
                            RDKafkaErrorCode::RequestTimedOut
                                | RDKafkaErrorCode::NotController
                                | RDKafkaErrorCode::OperationTimedOut
                        )
                );
                assert!(
                    retriable,
                    "CreateTopics failed with a non-retriable error: {error:?} (after {attempts:?})"
                );
                attempts.push(format!("{:?}: {error:?}", killed_at.elapsed()));
                assert!(Instant::now() < deadline, "CreateTopics did not succeed within 30 s: {attempts:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    eprintln!(
        "CreateTopics succeeded {:?} after kill -9 of controller-{leader}; failed attempts: {attempts:?}",
        killed_at.elapsed()
    );

    for id in cluster.live_broker_ids() {
        let addr = cluster.broker_addr(id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let last = topics_on_broker(addr).await;
            if last.iter().any(|(name, led)| *name == topic && *led == 3) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "broker {id} does not list {topic} with 3 led partitions within 10 s: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    cluster.restart_controller(leader);
    let mut last = None;
    let rejoined = wait_until(QUORUM_TIMEOUT, || {
        last = cluster.describe_quorum();
        last.as_ref().is_some_and(|q| {
            q.from_leader()
                && q.voter_ids() == BTreeSet::from([1, 2, 3])
                && q.voters.iter().any(|v| v.node_id == leader && v.lag == Some(0))
        })
    });
    assert!(
        rejoined,
        "restarted controller-{leader} did not catch up as a voter within {QUORUM_TIMEOUT:?}: {last:?}"
    );
    eprintln!("quorum after restart: {last:?}");
}

#[tokio::test]
async fn wrong_cluster_id_is_refused() {
    let cluster = ClusterProcesses::start(3, 3);
    let data_dir = tempfile::Builder::new().prefix("strom-foreign-").tempdir().expect("temp dir");
    let meta = "version=1\ncluster.id=other\nnode.id=9\n";
    std::fs::write(data_dir.path().join("meta.properties"), meta).expect("write meta.properties");

    let mut foreign = cluster.spawn_extra_broker(9, data_dir.path());
    match foreign.wait_ready(BROKER_READY_PREFIX, Duration::from_secs(15)) {
        Startup::Exited(status) => {
            let stderr = foreign.stderr_tail();
            assert!(!status.success(), "broker with cluster.id=other exited successfully; stderr:\n{stderr}");
            let error = stderr.lines().filter(|l| l.contains("Error")).collect::<Vec<_>>().join("\n");
            assert!(
                error.contains("cluster id") && error.contains("other") && error.contains(CLUSTER_ID),
                "exit error does not name the cluster ids ('other' vs '{CLUSTER_ID}'); stderr:\n{stderr}"
            );
        }
        Startup::Ready(line) => panic!("broker with cluster.id=other was accepted: {line}"),
        Startup::TimedOut => panic!(
            "broker with cluster.id=other neither exited nor became ready within 15 s; stderr:\n{}",
            foreign.stderr_tail()
        ),
    }
    let meta_after =
        std::fs::read_to_string(data_dir.path().join("meta.properties")).expect("meta.properties");
    assert_eq!(meta_after, meta, "the refused broker rewrote its meta.properties");

    // The cluster is unaffected: the same three brokers, a working quorum, topics that work.
    let bootstrap = cluster.bootstrap();
    let metadata = kafka::consumer(&bootstrap, &[]);
    let brokers = metadata.fetch_metadata(None, kafka::REQUEST_TIMEOUT).expect("metadata");
    let ids: BTreeSet<i32> = brokers.brokers().iter().map(|b| b.id()).collect();
    assert_eq!(ids, BTreeSet::from([1, 2, 3]), "brokers in metadata");
    cluster.wait_for_quorum_leader(QUORUM_TIMEOUT);
    let topic = unique_topic("after-foreign");
    kafka::create_replicated_topic(&kafka::admin(&bootstrap), &topic, PARTITIONS, REPLICATION_FACTOR, &[])
        .await;
    wait_for_leaders(&metadata, &topic, &cluster.broker_ids(), Duration::from_secs(10));
    let producer = kafka::producer(&bootstrap, &[("acks", "all")]);
    let written = values("healthy");
    produce_all(&producer, &topic, &written).await;
    read_until_all_seen(&bootstrap, &topic, &written, CONSUME_TIMEOUT);
}

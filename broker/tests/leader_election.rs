//! Leader elections against an in-process cluster (one controller, three brokers replicating each
//! other): ElectLeaders PREFERRED hands a partition back to its preferred replica once that replica is
//! back in the ISR, and automatic leader rebalancing (`auto_leader_rebalance_enable` with a short
//! `leader_imbalance_check_interval_ms`) does the same without any request.

mod support;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::*;
use support::KafkaConn;
use support::cluster::{Cluster, metadata, name, poll, start_cluster_with};

#[global_allocator]
static GLOBAL: strom_broker::alloc::ReservingAllocator = strom_broker::alloc::ReservingAllocator;

const ELECTION_NOT_NEEDED: i16 = 84;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

async fn create_topic(conn: &mut KafkaConn, topic: &str, partitions: i32) {
    let request = CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![
        CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(3),
    ]);
    let ResponseKind::CreateTopics(response) =
        conn.send(ApiKey::CreateTopics, 7, &RequestKind::CreateTopics(request)).await
    else {
        panic!("wrong response");
    };
    assert_eq!(response.topics[0].error_code, 0, "{response:?}");
}

/// A partition's (leader, replicas, isr) as the broker behind `conn` reports it.
async fn partition_state(conn: &mut KafkaConn, topic: &str, partition: i32) -> (i32, Vec<i32>, Vec<i32>) {
    let response = metadata(conn, topic).await;
    let p = response.topics[0]
        .partitions
        .iter()
        .find(|p| p.partition_index == partition)
        .unwrap_or_else(|| panic!("{topic}-{partition} in {response:?}"));
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
    (p.leader_id.0, ids(&p.replica_nodes), ids(&p.isr_nodes))
}

/// ElectLeaders v`version`; `partitions` `None` means every partition. Returns the top-level error
/// code and (topic, partition, error code) per result.
async fn elect(
    conn: &mut KafkaConn,
    version: i16,
    election_type: i8,
    partitions: Option<Vec<(&str, Vec<i32>)>>,
) -> (i16, Vec<(String, i32, i16)>) {
    let topics = partitions.map(|ps| {
        ps.into_iter()
            .map(|(t, p)| TopicPartitions::default().with_topic(name(t)).with_partitions(p))
            .collect()
    });
    let request = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(10_000)
        .with_topic_partitions(topics);
    let ResponseKind::ElectLeaders(response) =
        conn.send(ApiKey::ElectLeaders, version, &RequestKind::ElectLeaders(request)).await
    else {
        panic!("wrong response");
    };
    let results = response
        .replica_election_results
        .iter()
        .flat_map(|t| {
            t.partition_result.iter().map(|p| (t.topic.0.to_string(), p.partition_id, p.error_code))
        })
        .collect();
    (response.error_code, results)
}

/// The broker whose connection to use while `avoid` is down.
fn other_than(cluster: &Cluster, avoid: i32) -> std::net::SocketAddr {
    let (_, broker) = cluster.brokers.iter().find(|(id, _)| **id != avoid).expect("another broker");
    broker.kafka_addr()
}

async fn stop(cluster: Cluster) {
    for (_, broker) in cluster.brokers {
        broker.shutdown().await.expect("broker shutdown");
    }
    for (_, controller) in cluster.controllers {
        controller.shutdown().await.expect("controller shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preferred_election_restores_the_preferred_leader() {
    let mut cluster = start_cluster_with(1, 3, |c| c.auto_leader_rebalance_enable = false, |_| {}).await;
    let topic = "orders";
    let mut conn = KafkaConn::connect(cluster.brokers[&1].kafka_addr()).await;
    create_topic(&mut conn, topic, 1).await;
    let (preferred, replicas) = poll("orders-0 led with a full ISR", async || {
        let (leader, replicas, isr) = partition_state(&mut conn, topic, 0).await;
        (leader == replicas[0] && isr.len() == 3).then_some((leader, replicas))
    })
    .await;
    assert_eq!(replicas.len(), 3);

    // Controlled shutdown of the preferred leader: leadership moves to another ISR member.
    cluster.brokers.remove(&preferred).expect("preferred broker").shutdown().await.expect("shutdown");
    let mut other = KafkaConn::connect(other_than(&cluster, preferred)).await;
    let interim = poll("leadership to move off the preferred replica", async || {
        let (leader, _, _) = partition_state(&mut other, topic, 0).await;
        (leader != preferred && leader != -1).then_some(leader)
    })
    .await;

    // Restart it on the same data directory: it follows the new leader and rejoins the ISR, but
    // (no automatic rebalancing here) does not lead.
    cluster.restart_broker(preferred).await;
    poll("the preferred replica to rejoin the ISR", async || {
        let (_, _, isr) = partition_state(&mut other, topic, 0).await;
        isr.contains(&preferred).then_some(())
    })
    .await;
    assert_eq!(partition_state(&mut other, topic, 0).await.0, interim, "no election without a request");

    // Unclean election on a partition that has a leader, and unknown partitions: per-partition errors.
    let (top, results) = elect(&mut other, 1, 1, Some(vec![(topic, vec![0])])).await;
    assert_eq!((top, results), (0, vec![(topic.to_string(), 0, ELECTION_NOT_NEEDED)]));
    let (top, results) = elect(&mut other, 2, 0, Some(vec![(topic, vec![7]), ("missing", vec![0])])).await;
    assert_eq!(
        (top, results),
        (
            0,
            vec![
                (topic.to_string(), 7, UNKNOWN_TOPIC_OR_PARTITION),
                ("missing".to_string(), 0, UNKNOWN_TOPIC_OR_PARTITION)
            ]
        )
    );

    // PREFERRED: the preferred replica leads again; the answering broker's image already shows it.
    let (top, results) = elect(&mut other, 2, 0, Some(vec![(topic, vec![0])])).await;
    assert_eq!((top, results), (0, vec![(topic.to_string(), 0, 0)]));
    let (leader, _, isr) = partition_state(&mut other, topic, 0).await;
    assert_eq!(leader, preferred);
    assert_eq!(isr.len(), 3);

    // Again: nothing to do, in every version; "all partitions" leaves such partitions out.
    for version in 0..=2 {
        let (top, results) = elect(&mut other, version, 0, Some(vec![(topic, vec![0])])).await;
        assert_eq!((top, results), (0, vec![(topic.to_string(), 0, ELECTION_NOT_NEEDED)]), "v{version}");
    }
    assert_eq!(elect(&mut other, 2, 0, None).await, (0, vec![]));
    stop(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_rebalance_restores_preferred_leaders_without_a_request() {
    let mut cluster = start_cluster_with(
        1,
        3,
        |c| {
            c.auto_leader_rebalance_enable = true;
            c.leader_imbalance_check_interval_ms = 200;
        },
        |_| {},
    )
    .await;
    let topic = "balanced";
    let mut conn = KafkaConn::connect(cluster.brokers[&1].kafka_addr()).await;
    create_topic(&mut conn, topic, 3).await;
    let preferred = poll("orders-0 led by its preferred replica with a full ISR", async || {
        let (leader, replicas, isr) = partition_state(&mut conn, topic, 0).await;
        (leader == replicas[0] && isr.len() == 3).then_some(leader)
    })
    .await;

    // Crash the preferred leader: once its session expires it is fenced and another replica leads.
    cluster.brokers.remove(&preferred).expect("preferred broker").kill().await;
    let mut other = KafkaConn::connect(other_than(&cluster, preferred)).await;
    poll("leadership to move off the crashed broker", async || {
        let (leader, _, isr) = partition_state(&mut other, topic, 0).await;
        (leader != preferred && leader != -1 && !isr.contains(&preferred)).then_some(())
    })
    .await;

    // Restart it: it catches up, rejoins the ISR, and the controller's next imbalance check (100 %
    // of its preferred partitions led elsewhere > 10 %) makes it the leader again.
    cluster.restart_broker(preferred).await;
    poll("the preferred replica to lead again", async || {
        let (leader, _, isr) = partition_state(&mut other, topic, 0).await;
        (leader == preferred && isr.contains(&preferred)).then_some(())
    })
    .await;
    stop(cluster).await;
}

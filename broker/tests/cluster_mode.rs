//! Brokers in cluster mode against an in-process controller quorum (real gRPC and Kafka sockets on
//! 127.0.0.1:0, temp dirs): registration, metadata followed from the watch stream, admin requests
//! forwarded to the active controller from any broker, fencing on session expiry, and a controller
//! failover under admin load.

mod support;

use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::*;
use support::KafkaConn;
use support::cluster::{metadata, name, poll, start_cluster};

#[global_allocator]
static GLOBAL: strom_broker::alloc::ReservingAllocator = strom_broker::alloc::ReservingAllocator;

async fn create_topic(conn: &mut KafkaConn, topic: &str, partitions: i32) -> i16 {
    let request = CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![
        CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1),
    ]);
    let ResponseKind::CreateTopics(response) =
        conn.send(ApiKey::CreateTopics, 7, &RequestKind::CreateTopics(request)).await
    else {
        panic!("wrong response");
    };
    response.topics[0].error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn brokers_follow_the_quorum_and_forward_admin_requests() {
    let cluster = start_cluster(3, 2, |_| {}).await;
    let mut b1 = KafkaConn::connect(cluster.brokers[&1].kafka_addr()).await;
    let mut b2 = KafkaConn::connect(cluster.brokers[&2].kafka_addr()).await;

    // Both brokers registered and visible to clients through either broker.
    let all = metadata(&mut b2, "none").await;
    assert_eq!(all.brokers.len(), 2, "{all:?}");
    assert!(!cluster.controller_addrs.is_empty());

    // CreateTopics on broker 1 is decided by the active controller; broker 2 knows the topic when the
    // response arrives on broker 1 (brokers wait for their own image), or shortly after.
    assert_eq!(create_topic(&mut b1, "orders", 4).await, 0);
    assert_eq!(
        create_topic(&mut b2, "orders", 4).await,
        ErrorCodeTopicAlreadyExists,
        "duplicate via the other broker"
    );
    let response = poll("broker 2 to see the topic", async || {
        let r = metadata(&mut b2, "orders").await;
        (r.topics[0].error_code == 0 && r.topics[0].partitions.len() == 4).then_some(r)
    })
    .await;
    let leaders: Vec<i32> = response.topics[0].partitions.iter().map(|p| p.leader_id.0).collect();
    assert!(leaders.contains(&1) && leaders.contains(&2), "leaders spread over both brokers: {leaders:?}");

    // Fail over the controller leader; admin requests keep working through the new one.
    let leader = poll("a controller leader", async || {
        cluster.controllers.iter().find(|(_, n)| n.is_leader()).map(|(id, _)| *id)
    })
    .await;
    let mut controllers = cluster.controllers;
    controllers.remove(&leader).expect("leader").shutdown().await.expect("shutdown");
    assert_eq!(create_topic(&mut b2, "after-failover", 2).await, 0);
    poll("broker 1 to see the new topic", async || {
        let r = metadata(&mut b1, "after-failover").await;
        (r.topics[0].error_code == 0).then_some(())
    })
    .await;

    // Broker 2 stops without a controlled shutdown: once its session expires it is fenced and its
    // partitions (replication factor 1) go offline, as the image served by broker 1 shows.
    let mut brokers = cluster.brokers;
    let b2_handle = brokers.remove(&2).expect("broker 2");
    b2_handle.kill().await;
    poll("broker 2's partitions to lose their leader", async || {
        let r = metadata(&mut b1, "orders").await;
        let leaderless: Vec<_> = r.topics[0].partitions.iter().filter(|p| p.leader_id.0 == -1).collect();
        // Its replicas are reported offline (Metadata v5+), and no partition names it as leader.
        let reported = leaderless.iter().all(|p| p.offline_replicas.iter().any(|b| b.0 == 2));
        let moved = r.topics[0].partitions.iter().all(|p| p.leader_id.0 != 2);
        (!leaderless.is_empty() && reported && moved).then_some(())
    })
    .await;
    for (_, broker) in brokers {
        broker.shutdown().await.expect("broker shutdown");
    }
    for (_, controller) in controllers {
        controller.shutdown().await.expect("controller shutdown");
    }
}

#[allow(non_upper_case_globals)]
const ErrorCodeTopicAlreadyExists: i16 = 36;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_requests_fail_promptly_without_a_quorum() {
    let cluster = start_cluster(3, 1, |_| {}).await;
    let mut b1 = KafkaConn::connect(cluster.brokers[&1].kafka_addr()).await;
    assert_eq!(create_topic(&mut b1, "with-quorum", 1).await, 0);

    // Stop both followers: the leader is alone and cannot commit anything.
    let leader = poll("a controller leader", async || {
        cluster.controllers.iter().find(|(_, n)| n.is_leader()).map(|(id, _)| *id)
    })
    .await;
    let mut controllers = cluster.controllers;
    let followers: Vec<u64> = controllers.keys().copied().filter(|id| *id != leader).collect();
    for id in followers {
        controllers.remove(&id).expect("follower").shutdown().await.expect("shutdown");
    }
    let started = Instant::now();
    let code = create_topic(&mut b1, "without-quorum", 1).await;
    let waited = started.elapsed();
    assert!(code == 7 || code == 41, "REQUEST_TIMED_OUT or NOT_CONTROLLER, got {code}");
    eprintln!("no-quorum CreateTopics answered with {code} after {waited:?}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    let r = metadata(&mut b1, "without-quorum").await;
    assert_ne!(r.topics[0].error_code, 0, "the topic must not exist");

    let mut brokers = cluster.brokers;
    brokers.remove(&1).expect("broker").kill().await;
    for (_, controller) in controllers {
        controller.shutdown().await.expect("controller shutdown");
    }
}

//! Committed offsets of a standalone consumer (librdkafka, `assign` + `commit`) against 3 controllers +
//! 3 brokers as processes: FindCoordinator names the group's broker, the commit (with metadata)
//! round-trips, and it survives kill -9 of the coordinator broker and of the controller leader —
//! offsets live in the controller quorum, not on the coordinator. A subscribed member's commit is where
//! the group resumes on a new coordinator; offsets of a group without members expire.

use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use strom_tests::cluster::ClusterProcesses;
use strom_tests::kafka;
use strom_tests::{unique_topic, wait_until};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The group's committed offset and metadata for partition 0 as a fresh consumer of `group` reads it.
fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<(i64, String)> {
    let consumer = kafka::consumer(bootstrap, &[("group.id", group)]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = consumer.committed_offsets(tpl, Duration::from_secs(5)).ok()?;
    let elem = got.find_partition(topic, 0)?;
    match elem.offset() {
        Offset::Offset(o) => Some((o, elem.metadata().to_string())),
        _ => None,
    }
}

/// Commits `offset` with `metadata` for partition 0 as a standalone member of `group`.
fn commit(bootstrap: &str, group: &str, topic: &str, offset: i64, metadata: &str) -> bool {
    let consumer = kafka::consumer(bootstrap, &[("group.id", group)]);
    let mut tpl = TopicPartitionList::new();
    let Ok(()) = tpl.add_partition_offset(topic, 0, Offset::Offset(offset)) else { return false };
    if let Some(mut elem) = tpl.find_partition(topic, 0) {
        elem.set_metadata(metadata);
    }
    consumer.commit(&tpl, CommitMode::Sync).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_the_coordinator_and_the_controller_leader() {
    let mut cluster = ClusterProcesses::start(3, 3);
    let topic = unique_topic("commits");
    let group = unique_topic("group");
    let admin = kafka::admin(&cluster.bootstrap());
    kafka::create_replicated_topic(&admin, &topic, 1, 3, &[]).await;

    let bootstrap = cluster.bootstrap();
    assert!(wait_until(TIMEOUT, || commit(&bootstrap, &group, &topic, 60, "after-60")), "first commit");
    assert_eq!(committed(&bootstrap, &group, &topic), Some((60, "after-60".to_string())));

    // The coordinator dies: another broker takes the group over once the controllers fence it.
    let coordinator = strom_tests::replica::group_coordinator(cluster.broker_addr(1), &group)
        .await
        .expect("FindCoordinator");
    eprintln!("group {group} is coordinated by broker {coordinator}");
    cluster.kill9_broker(coordinator);
    let bootstrap = cluster.bootstrap();
    let survived =
        wait_until(TIMEOUT, || committed(&bootstrap, &group, &topic) == Some((60, "after-60".into())));
    assert!(survived, "the commit is readable from the new coordinator");
    let moved =
        strom_tests::replica::group_coordinator(cluster.broker_addr(cluster.live_broker_ids()[0]), &group)
            .await
            .expect("FindCoordinator");
    assert_ne!(moved, coordinator, "the group moved off the dead broker");

    // The controller leader dies: commits keep working and nothing committed is lost.
    let leader = cluster.wait_for_quorum_leader(TIMEOUT);
    cluster.kill9_controller(leader);
    assert!(
        wait_until(TIMEOUT, || commit(&bootstrap, &group, &topic, 80, "after-80")),
        "commit after failover"
    );
    assert_eq!(committed(&bootstrap, &group, &topic), Some((80, "after-80".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_of_a_group_without_members_expire_after_the_retention() {
    let broker = strom_tests::BrokerProcess::start_with_config(
        "offsets_retention_minutes = 0\noffsets_retention_check_interval_ms = 100\ngroup_initial_rebalance_delay_ms = 0\n",
    );
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("expiry");
    kafka::create_topic_at(&bootstrap, &topic, 1, &[]).await;
    let group = unique_topic("group");

    // An active member's commits stay, however old.
    let member = kafka::consumer(&bootstrap, &[("group.id", &group), ("session.timeout.ms", "6000")]);
    member.subscribe(&[&topic]).expect("subscribe");
    let joined = wait_until(TIMEOUT, || {
        let _ = member.poll(Duration::from_millis(50));
        member.assignment().is_ok_and(|a| a.count() == 1)
    });
    assert!(joined, "the member got the partition");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(5)).expect("offset");
    member.commit(&tpl, CommitMode::Sync).expect("member commit");
    let window = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < window {
        let _ = member.poll(Duration::from_millis(50));
        assert_eq!(committed(&bootstrap, &group, &topic).map(|c| c.0), Some(5), "expired while active");
    }

    // Once the group is empty, the next check removes them.
    drop(member);
    let expired = wait_until(TIMEOUT, || committed(&bootstrap, &group, &topic).is_none());
    assert!(expired, "offsets of the empty group expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_resumes_where_the_group_committed_after_the_coordinator_dies() {
    let mut cluster = ClusterProcesses::start(3, 3);
    let topic = unique_topic("group-failover");
    let group = unique_topic("group");
    let admin = kafka::admin(&cluster.bootstrap());
    kafka::create_replicated_topic(&admin, &topic, 1, 3, &[]).await;
    let producer = kafka::producer(&cluster.bootstrap(), &[("acks", "all")]);
    for i in 0..20 {
        let value = format!("r{i:02}");
        let record = rdkafka::producer::FutureRecord::<(), _>::to(&topic).partition(0).payload(&value);
        producer.send(record, Duration::from_secs(10)).await.expect("produce");
    }

    // A subscribed member consumes 10 records and commits after processing them.
    let member =
        kafka::consumer(&cluster.bootstrap(), &[("group.id", &group), ("session.timeout.ms", "6000")]);
    member.subscribe(&[&topic]).expect("subscribe");
    let mut read = Vec::new();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while read.len() < 10 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = member.poll(Duration::from_millis(50)) {
            read.push(m.offset());
        }
    }
    assert_eq!(read, (0..10).collect::<Vec<i64>>(), "the member read the first ten");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(10)).expect("offset");
    member.commit(&tpl, CommitMode::Sync).expect("member commit");
    drop(member);

    // The coordinator dies; a new member of the group starts at the committed offset.
    let coordinator = strom_tests::replica::group_coordinator(cluster.broker_addr(1), &group)
        .await
        .expect("FindCoordinator");
    cluster.kill9_broker(coordinator);
    let bootstrap = cluster.bootstrap();
    let next = kafka::consumer(&bootstrap, &[("group.id", &group), ("session.timeout.ms", "6000")]);
    next.subscribe(&[&topic]).expect("subscribe");
    let mut first = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while first.is_none() && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = next.poll(Duration::from_millis(50)) {
            first = Some(m.offset());
        }
    }
    assert_eq!(first, Some(10), "the new member resumed at the group's committed offset");
}

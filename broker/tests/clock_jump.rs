//! Wall-clock steps against an in-process cluster (one controller, two brokers, each with its own
//! injected [`SkewedClock`], as libfaketime skews `CLOCK_REALTIME`): stepping every node's wall clock
//! forward or back fences no broker, changes no ISR and expires no group member, because sessions and
//! lag are timed on the monotonic clock; and after a backward step a killed broker is still fenced
//! within a few session timeouts, not after the step's length.

mod support;

use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use support::KafkaConn;
use support::cluster::{Cluster, metadata, name, poll, start_cluster_with};

#[global_allocator]
static GLOBAL: strom_broker::alloc::ReservingAllocator = strom_broker::alloc::ReservingAllocator;

const TOPIC: &str = "clock-jump";
const GROUP: &str = "clock-jump-group";
/// The step: far beyond every timeout in play.
const STEP_MS: i64 = 60_000;
/// How long each step is watched: longer than the broker session (1.5 s) and the ISR lag time (1 s).
const HOLD: Duration = Duration::from_secs(4);
/// Controller broker session timeout (the support cluster's).
const SESSION: Duration = Duration::from_millis(1_500);

/// One member of `GROUP`, joined and synced, heartbeating through its coordinator.
struct Member {
    conn: KafkaConn,
    member_id: StrBytes,
    generation_id: i32,
}

impl Member {
    async fn join(cluster: &Cluster) -> Self {
        let mut any = KafkaConn::connect(cluster.brokers[&1].kafka_addr()).await;
        let find = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str(GROUP));
        let coordinator = poll("the group coordinator", async || {
            let ResponseKind::FindCoordinator(r) =
                any.send(ApiKey::FindCoordinator, 3, &RequestKind::FindCoordinator(find.clone())).await
            else {
                panic!("wrong response");
            };
            (r.error_code == 0).then_some(r.node_id.0)
        })
        .await;
        let mut conn = KafkaConn::connect(cluster.brokers[&coordinator].kafka_addr()).await;
        let mut member_id = StrBytes::default();
        let joined = loop {
            let join = JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
                .with_session_timeout_ms(6_000)
                .with_rebalance_timeout_ms(6_000)
                .with_member_id(member_id.clone())
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![
                    join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_static_str("range"))
                        .with_metadata(bytes::Bytes::from_static(b"\0\0")),
                ]);
            let ResponseKind::JoinGroup(r) =
                conn.send(ApiKey::JoinGroup, 5, &RequestKind::JoinGroup(join)).await
            else {
                panic!("wrong response");
            };
            member_id = r.member_id.clone();
            match r.error_code {
                0 => break r,
                79 => continue, // MEMBER_ID_REQUIRED: join again with the id.
                code => panic!("JoinGroup: error {code}"),
            }
        };
        let sync = SyncGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
            .with_generation_id(joined.generation_id)
            .with_member_id(member_id.clone())
            .with_assignments(vec![
                SyncGroupRequestAssignment::default()
                    .with_member_id(member_id.clone())
                    .with_assignment(bytes::Bytes::from_static(b"\0\0")),
            ]);
        let ResponseKind::SyncGroup(synced) =
            conn.send(ApiKey::SyncGroup, 3, &RequestKind::SyncGroup(sync)).await
        else {
            panic!("wrong response");
        };
        assert_eq!(synced.error_code, 0, "SyncGroup");
        Self { conn, member_id, generation_id: joined.generation_id }
    }

    /// The Heartbeat error code (0: the member is still in its generation).
    async fn heartbeat(&mut self) -> i16 {
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
            .with_generation_id(self.generation_id)
            .with_member_id(self.member_id.clone());
        let ResponseKind::Heartbeat(r) =
            self.conn.send(ApiKey::Heartbeat, 3, &RequestKind::Heartbeat(request)).await
        else {
            panic!("wrong response");
        };
        r.error_code
    }
}

/// Steps the wall clock of every node to `offset_ms` off the host's.
fn skew_every_node(cluster: &Cluster, offset_ms: i64) {
    for clock in cluster.controller_clocks.values().chain(cluster.broker_clocks.values()) {
        clock.set_offset_ms(offset_ms);
    }
}

/// (broker 1 fenced, broker 2 fenced, the partition's epoch and ISR) in the controller's image.
fn controller_view(cluster: &Cluster) -> (bool, bool, i32, Vec<i32>) {
    let image = cluster.controllers[&1].controller().image();
    let fenced = |id| image.broker(id).is_none_or(|b| b.fenced);
    let partition = image.topic(TOPIC).and_then(|t| t.partitions.get(&0)).expect("the partition");
    (fenced(1), fenced(2), partition.partition_epoch, partition.isr.clone())
}

/// For [`HOLD`], checks every 200 ms that the controller's view stays `expected` and the member's
/// heartbeats are answered NONE.
async fn hold(cluster: &Cluster, member: &mut Member, expected: &(bool, bool, i32, Vec<i32>), step: &str) {
    let until = Instant::now() + HOLD;
    while Instant::now() < until {
        assert_eq!(
            &controller_view(cluster),
            expected,
            "after a {step} step: (fenced 1, fenced 2, epoch, isr)"
        );
        assert_eq!(member.heartbeat().await, 0, "after a {step} step the member's session holds");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create_topic(conn: &mut KafkaConn) {
    let assignment = CreatableReplicaAssignment::default()
        .with_partition_index(0)
        .with_broker_ids(vec![BrokerId(1), BrokerId(2)]);
    let request = CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![
        CreatableTopic::default()
            .with_name(name(TOPIC))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(vec![assignment]),
    ]);
    let ResponseKind::CreateTopics(response) =
        conn.send(ApiKey::CreateTopics, 7, &RequestKind::CreateTopics(request)).await
    else {
        panic!("wrong response");
    };
    assert_eq!(response.topics[0].error_code, 0, "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wall_clock_steps_fence_nobody_shrink_no_isr_expire_no_member_and_a_dead_broker_is_still_fenced() {
    let mut cluster = start_cluster_with(
        1,
        2,
        |_| {},
        |c| {
            c.replica_lag_time_max_ms = 1_000;
            c.group_initial_rebalance_delay_ms = 0;
        },
    )
    .await;
    let mut conn = KafkaConn::connect(cluster.brokers[&1].kafka_addr()).await;
    create_topic(&mut conn).await;
    poll("both replicas in the ISR", async || {
        let response = metadata(&mut conn, TOPIC).await;
        let p = response.topics[0].partitions.first()?;
        let isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
        (p.leader_id.0 == 1 && isr == [1, 2]).then_some(())
    })
    .await;
    let mut member = Member::join(&cluster).await;
    let steady = controller_view(&cluster);
    assert_eq!((steady.0, steady.1, &steady.3), (false, false, &vec![1, 2]));

    skew_every_node(&cluster, STEP_MS);
    hold(&cluster, &mut member, &steady, "+60 s").await;
    skew_every_node(&cluster, -STEP_MS);
    hold(&cluster, &mut member, &steady, "-120 s").await;

    // Broker 2 dies with every clock 60 s behind: it is fenced (and leaves the ISR) within a few
    // session timeouts, not after the 120 s step.
    let killed = Instant::now();
    cluster.brokers.remove(&2).expect("broker 2").kill().await;
    poll("broker 2 fenced and out of the ISR", async || {
        let (_, fenced, _, isr) = controller_view(&cluster);
        (fenced && isr == [1]).then_some(())
    })
    .await;
    let took = killed.elapsed();
    assert!(took < SESSION * 4, "broker 2 fenced {took:?} after it died (session {SESSION:?})");
}

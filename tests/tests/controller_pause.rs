//! The quorum leader freezes (SIGSTOP) with its connections open, as a stalled VM or a cut-off
//! network does, while an idempotent producer runs:
//! - the brokers' heartbeats give up on it within one heartbeat interval and find the new active
//!   controller, so the fresh sessions it starts on taking over do not expire: no broker is fenced;
//! - the producer created before the pause keeps getting writes acknowledged after it (a Metadata
//!   answer with no broker at all would make librdkafka forget every broker it knows, for good).

use std::time::{Duration, Instant};

use rdkafka::producer::FutureRecord;
use strom_tests::cluster::ClusterProcesses;
use strom_tests::http::{get_ok, sample};
use strom_tests::kafka;
use strom_tests::unique_topic;

const PAUSE: Duration = Duration::from_secs(6);
const QUORUM_TIMEOUT: Duration = Duration::from_secs(20);

/// `strom_fenced_brokers` as the active controller among `controllers` reports it.
fn fenced_brokers(cluster: &ClusterProcesses, controllers: &[u64]) -> Option<f64> {
    controllers.iter().find_map(|id| {
        let text = get_ok(cluster.controller_metrics_addr(*id), "/metrics")?;
        (sample(&text, "strom_active_controller", &[]) == Some(1.0))
            .then(|| sample(&text, "strom_fenced_brokers", &[]))
            .flatten()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_quorum_leader_fences_no_broker_and_producers_go_on() {
    let cluster = ClusterProcesses::start(3, 3);
    let topic = unique_topic("frozen-controller");
    let admin = kafka::admin(&cluster.bootstrap());
    kafka::create_replicated_topic(&admin, &topic, 3, 3, &[("min.insync.replicas", "2")]).await;
    let producer = kafka::producer(
        &cluster.bootstrap(),
        &[("enable.idempotence", "true"), ("acks", "all"), ("topic.metadata.refresh.interval.ms", "200")],
    );
    let send = |i: usize| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            let value = format!("v{i}");
            producer.send(FutureRecord::<(), _>::to(&topic).payload(&value), Duration::from_secs(0)).await
        }
    };
    send(0).await.expect("a write before the pause");

    let leader = cluster.wait_for_quorum_leader(QUORUM_TIMEOUT);
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != leader).collect();
    cluster.pause_controller(leader);
    let paused_at = Instant::now();
    let mut max_fenced = 0.0f64;
    let mut i = 1;
    let mut in_flight = Vec::new();
    while paused_at.elapsed() < PAUSE {
        in_flight.push(tokio::spawn(send(i)));
        i += 1;
        if let Some(fenced) = fenced_brokers(&cluster, &others) {
            max_fenced = max_fenced.max(fenced);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.resume_controller(leader);
    assert_eq!(max_fenced, 0.0, "brokers were fenced while controller-{leader} was frozen");

    // Every write sent during the pause is acknowledged, and so is one sent after it.
    for (n, write) in in_flight.into_iter().enumerate() {
        let outcome = write.await.expect("send task");
        assert!(outcome.is_ok(), "write {} sent during the pause: {:?}", n + 1, outcome.err());
    }
    let after = tokio::time::timeout(Duration::from_secs(15), send(i)).await;
    assert!(
        matches!(after, Ok(Ok(_))),
        "a write after controller-{leader} resumed was not acknowledged: {after:?}"
    );
}

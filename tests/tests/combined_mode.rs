//! `strom combined`: one process running a controller (a one-voter quorum) and a broker that follows it,
//! used end to end through rdkafka: create a topic, produce, consume, and a clean stop.

use std::time::Duration;

use rdkafka::Offset;
use rdkafka::producer::FutureRecord;
use strom_tests::cluster::free_ports;
use strom_tests::kafka::{admin, assign, consume, consumer, create_topic, producer};
use strom_tests::node::NodeProcess;
use strom_tests::unique_topic;

#[tokio::test]
async fn combined_node_serves_kafka_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = free_ports(2);
    let config = dir.path().join("combined.toml");
    std::fs::write(
        &config,
        format!(
            "[controller]\nnode_id = 1\nlisten = \"127.0.0.1:{c}\"\ndata_dir = \"{d}/controller\"\n\
             cluster_id = \"combined-test\"\n[controller.voters]\n1 = \"127.0.0.1:{c}\"\n\
             [broker]\nnode_id = 1\nlistener = \"127.0.0.1:{b}\"\ndata_dir = \"{d}/broker\"\n\
             broker_heartbeat_interval_ms = 200\n",
            c = ports[0],
            b = ports[1],
            d = dir.path().display()
        ),
    )
    .expect("write config");
    let mut node = NodeProcess::spawn("combined", ["combined", "--config", &config.display().to_string()]);
    node.expect_ready("strom controller ready:", Duration::from_secs(30));
    let line = node.expect_ready("strom broker ready:", Duration::from_secs(30));
    let bootstrap = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("kafka="))
        .expect("kafka address in the ready line")
        .to_string();

    let topic = unique_topic("combined");
    create_topic(&admin(&bootstrap), &topic, 2, &[]).await;
    let producer = producer(&bootstrap, &[("enable.idempotence", "true")]);
    for i in 0..20 {
        let value = format!("v{i}");
        producer
            .send(FutureRecord::<str, str>::to(&topic).key(&value).payload(&value), Duration::from_secs(10))
            .await
            .expect("delivered");
    }
    let consumer = consumer(&bootstrap, &[]);
    assign(&consumer, &topic, [0, 1], Offset::Beginning);
    assert_eq!(consume(&consumer, 20, Duration::from_secs(20)).len(), 20);

    let status = node.terminate(Duration::from_secs(20)).expect("combined node stops on SIGTERM");
    assert!(status.success(), "clean exit: {status}; stderr:\n{}", node.stderr_tail());
}

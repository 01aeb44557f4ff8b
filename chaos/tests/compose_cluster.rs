//! The compose backend against `deploy/docker-compose.yml`: slow (an image build and `compose up`),
//! so it runs only with `STROM_CHAOS_COMPOSE_TEST=1` (and needs docker, a compose tool and the
//! `strom` binary). Builds a uniquely tagged image, kills, pauses and isolates nodes, copies a
//! broker's data out, and checks that no container or volume is left.

mod poll;

use std::process::Command;
use std::time::Duration;

use poll::poll;

use strom_chaos::cluster::{Cluster, ComposeCluster, ComposeOptions, Node, is_unsupported};

const HEALTHY: Duration = Duration::from_secs(90);

fn docker_lines(args: &[&str]) -> Vec<String> {
    let output = Command::new("docker").args(args).output().expect("run docker");
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// Removes the test image whatever happens.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

fn exercise(cluster: &mut ComposeCluster) {
    assert_eq!(cluster.running().len(), 6);
    let leader = poll(HEALTHY, "a controller leader", || cluster.controller_leader());

    cluster.kill_broker(2).expect("docker kill broker-2");
    assert!(!cluster.running().contains(&Node::Broker(2)));
    cluster.start_broker(2).expect("docker start broker-2");
    cluster.pause_broker(3).expect("docker pause broker-3");
    assert!(!cluster.running().contains(&Node::Broker(3)));
    cluster.resume_broker(3).expect("docker unpause broker-3");

    cluster.isolate(Node::Broker(1)).expect("disconnect broker-1");
    assert!(!cluster.running().contains(&Node::Broker(1)));
    let cut_off = cluster.wait_healthy(Duration::from_secs(1)).expect_err("broker-1 is unreachable");
    assert!(cut_off.to_string().contains("broker-1"), "{cut_off:#}");
    cluster.heal_network().expect("reconnect broker-1");
    cluster.wait_healthy(HEALTHY).expect("healthy after kill, pause and isolation");

    cluster.kill_controller(leader).expect("kill the controller leader");
    let next = poll(HEALTHY, "a new controller leader", || cluster.controller_leader());
    assert_ne!(next, leader);
    cluster.start_controller(leader).expect("start the old leader");
    cluster.stop_broker(1).expect("docker stop broker-1");
    cluster.start_broker(1).expect("start broker-1 again");
    cluster.wait_healthy(HEALTHY).expect("healthy at the end");

    let err = cluster.fill_disk(1).expect_err("no disk faults in compose");
    assert!(is_unsupported(&err), "{err:#}");
    let copy = cluster.broker_data_dir(1).expect("a copy of broker-1's data");
    assert!(std::fs::read_dir(&copy).expect("copied dir").next().is_some(), "{} is empty", copy.display());
}

#[test]
fn compose_cluster_kills_pauses_isolates_and_cleans_up() {
    if std::env::var("STROM_CHAOS_COMPOSE_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: set STROM_CHAOS_COMPOSE_TEST=1 to run the compose backend test");
        return;
    }
    let logs = tempfile::tempdir().expect("log dir");
    let mut options = ComposeOptions::new(logs.path());
    options.image = format!("strom:chaos-test-{}", std::process::id());
    let _image = Image(options.image.clone());
    let mut cluster = ComposeCluster::start(options).expect("compose up");
    let project = cluster.project_name().to_string();
    exercise(&mut cluster);
    Box::new(cluster).shutdown();

    let label = format!("label=com.docker.compose.project={project}");
    assert_eq!(docker_lines(&["ps", "-aq", "--filter", &label]), Vec::<String>::new(), "containers left");
    assert_eq!(
        docker_lines(&["volume", "ls", "-q", "--filter", &label]),
        Vec::<String>::new(),
        "volumes left"
    );
    let log = std::fs::read_to_string(logs.path().join("broker-2.log")).expect("broker-2 log saved");
    assert!(log.contains("ready"), "broker-2.log: {log}");
}

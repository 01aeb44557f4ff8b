//! The nemesis against an in-memory cluster: one fault at a time, each recorded with its start and
//! end, unsupported kinds skipped, failed undos retried, the stop flag honoured, and `heal_all`
//! bringing everything back (clocks included). Fast (schedules of a few hundred ms).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use strom_chaos::History;
use strom_chaos::cluster::{Cluster, Node, Unsupported};
use strom_chaos::history::FaultKind;
use strom_chaos::nemesis::{FaultSpec, Nemesis, Schedule, SharedCluster};

const TOPIC: &str = "t";
const PARTITIONS: i32 = 6;

/// Three brokers, three controllers, in memory. Network isolation is unsupported, and clock skew
/// too when `no_clock`; the first `failing_starts` starts fail.
#[derive(Default)]
struct FakeCluster {
    down: BTreeSet<Node>,
    paused: BTreeSet<Node>,
    full: BTreeSet<i32>,
    /// Nodes whose clock is off, with the offset in seconds.
    skewed: BTreeMap<Node, i64>,
    no_clock: bool,
    failing_starts: usize,
    calls: Arc<Mutex<Vec<String>>>,
}

impl FakeCluster {
    fn call(&self, call: String) {
        self.calls.lock().expect("calls").push(call);
    }

    fn down(&mut self, node: Node, how: &str) -> anyhow::Result<()> {
        if !self.running().contains(&node) {
            bail!("{node} is not running");
        }
        self.call(format!("{how} {node}"));
        self.down.insert(node);
        Ok(())
    }

    fn up(&mut self, node: Node) -> anyhow::Result<()> {
        if self.failing_starts > 0 {
            self.failing_starts -= 1;
            bail!("{node} failed to start");
        }
        self.call(format!("start {node}"));
        self.down.remove(&node);
        Ok(())
    }

    fn pause(&mut self, node: Node) -> anyhow::Result<()> {
        self.call(format!("pause {node}"));
        self.paused.insert(node);
        Ok(())
    }

    fn resume(&mut self, node: Node) -> anyhow::Result<()> {
        self.call(format!("resume {node}"));
        self.paused.remove(&node);
        Ok(())
    }
}

impl Cluster for FakeCluster {
    fn backend(&self) -> &'static str {
        "fake"
    }
    fn bootstrap(&self) -> String {
        String::new()
    }
    fn broker_ids(&self) -> Vec<i32> {
        vec![1, 2, 3]
    }
    fn controller_ids(&self) -> Vec<u64> {
        vec![1, 2, 3]
    }
    fn kill_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.down(Node::Broker(id), "kill")
    }
    fn stop_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.down(Node::Broker(id), "stop")
    }
    fn start_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.up(Node::Broker(id))
    }
    fn pause_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.pause(Node::Broker(id))
    }
    fn resume_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.resume(Node::Broker(id))
    }
    fn kill_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.down(Node::Controller(id), "kill")
    }
    fn start_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.up(Node::Controller(id))
    }
    fn pause_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.pause(Node::Controller(id))
    }
    fn resume_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.resume(Node::Controller(id))
    }
    fn isolate(&mut self, _node: Node) -> anyhow::Result<()> {
        Err(Unsupported { backend: "fake", operation: "isolate", reason: "in memory".into() }.into())
    }
    fn heal_network(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn fill_disk(&mut self, broker: i32) -> anyhow::Result<()> {
        self.call(format!("fill broker-{broker}"));
        self.full.insert(broker);
        Ok(())
    }
    fn free_disk(&mut self, broker: i32) -> anyhow::Result<()> {
        self.call(format!("free broker-{broker}"));
        self.full.remove(&broker);
        Ok(())
    }
    fn skew_clock(&mut self, node: Node, offset_secs: i64) -> anyhow::Result<()> {
        if self.no_clock {
            return Err(
                Unsupported { backend: "fake", operation: "skew_clock", reason: "no clock".into() }.into()
            );
        }
        self.call(format!("skew {node} {offset_secs:+}"));
        match offset_secs {
            0 => self.skewed.remove(&node),
            _ => self.skewed.insert(node, offset_secs),
        };
        Ok(())
    }
    fn controller_leader(&self) -> Option<u64> {
        self.running().into_iter().find_map(|n| if let Node::Controller(id) = n { Some(id) } else { None })
    }
    fn partition_leader(&self, _topic: &str, partition: i32) -> Option<i32> {
        Some(partition % 3 + 1).filter(|id| self.running().contains(&Node::Broker(*id)))
    }
    fn broker_data_dir(&self, _id: i32) -> Option<PathBuf> {
        None
    }
    fn running(&self) -> Vec<Node> {
        let all = (1..=3).map(Node::Broker).chain((1..=3).map(Node::Controller));
        all.filter(|n| !self.down.contains(n) && !self.paused.contains(n)).collect()
    }
    fn wait_healthy(&self, _timeout: Duration) -> anyhow::Result<()> {
        let healed = self.running().len() == 6 && self.full.is_empty() && self.skewed.is_empty();
        if healed { Ok(()) } else { bail!("unhealthy") }
    }
    fn shutdown(self: Box<Self>) {}
}

fn run(seed: u64, kinds: &[FaultKind], cluster: FakeCluster) -> (Nemesis, SharedCluster, History) {
    let interval = Duration::from_millis(20)..Duration::from_millis(40);
    let hold = Duration::from_millis(10)..Duration::from_millis(30);
    let schedule = Schedule::new(seed, Duration::from_millis(800), kinds, interval, hold);
    let nemesis = Nemesis::new(schedule, TOPIC, PARTITIONS);
    let shared: SharedCluster = Arc::new(Mutex::new(Box::new(cluster)));
    let history = Arc::new(Mutex::new(History::new(seed, TOPIC, PARTITIONS)));
    nemesis.run(&shared, &history, Instant::now());
    nemesis.heal_all(&shared, Duration::from_secs(1)).expect("heal_all");
    let history = history.lock().expect("history").clone();
    (nemesis, shared, history)
}

#[test]
fn injects_one_fault_at_a_time_and_records_each() {
    for seed in 0..5 {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let cluster = FakeCluster { calls: calls.clone(), ..FakeCluster::default() };
        let (nemesis, shared, history) = run(seed, FaultSpec::all().kinds(), cluster);
        let report = nemesis.report();
        assert!(report.injected >= 5, "seed {seed}: {report:?}");
        assert_eq!(history.faults.len(), report.injected, "seed {seed}");
        for pair in history.faults.windows(2) {
            let end = pair[0].end_ms.expect("healed");
            assert!(end <= pair[1].start_ms, "seed {seed}: overlapping faults {pair:?}");
        }
        assert!(history.faults.iter().all(|f| f.end_ms.is_some_and(|end| end >= f.start_ms)), "seed {seed}");
        assert!(history.faults.iter().all(|f| f.kind != FaultKind::Partition), "seed {seed}: unsupported");
        for skipped in &report.skipped {
            assert_eq!(skipped.kind, FaultKind::Partition, "seed {seed}: {skipped:?}");
            assert!(skipped.reason.contains("not supported"), "seed {seed}: {skipped:?}");
        }
        assert!(report.errors.is_empty(), "seed {seed}: {:?}", report.errors);
        assert_eq!(shared.lock().expect("cluster").running().len(), 6, "seed {seed}: healed");
        let calls = calls.lock().expect("calls");
        let kills = calls.iter().filter(|c| c.starts_with("kill") || c.starts_with("stop")).count();
        let starts = calls.iter().filter(|c| c.starts_with("start")).count();
        assert_eq!(kills, starts, "seed {seed}: every kill is undone: {calls:?}");
    }
}

#[test]
fn targets_are_named_as_the_history_records_them() {
    let kinds = [
        FaultKind::KillLeader,
        FaultKind::KillControllerLeader,
        FaultKind::RollingRestart,
        FaultKind::ClockSkew,
    ];
    let (_, _, history) = run(3, &kinds, FakeCluster::default());
    for fault in &history.faults {
        let ok = match fault.kind {
            FaultKind::KillLeader => {
                fault.target.starts_with("broker-") && fault.target.contains("(leader of p")
            }
            FaultKind::KillControllerLeader => fault.target == "controller-1",
            FaultKind::RollingRestart => fault.target == "broker-1,broker-2,broker-3",
            FaultKind::ClockSkew => fault.target.contains(" (clock +") || fault.target.contains(" (clock -"),
            _ => false,
        };
        assert!(ok, "{fault:?}");
    }
    assert!(history.faults.iter().any(|f| f.kind == FaultKind::ClockSkew), "{:?}", history.faults);
}

/// Each skew moves the scheduled node's clock by the scheduled offset and is put back when it ends.
#[test]
fn clock_skews_move_one_clock_by_the_scheduled_offset_and_reset_it() {
    for seed in 0..5 {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let cluster = FakeCluster { calls: calls.clone(), ..FakeCluster::default() };
        let (nemesis, _, history) = run(seed, &[FaultKind::ClockSkew], cluster);
        let report = nemesis.report();
        assert!(report.injected >= 5 && report.skipped.is_empty(), "seed {seed}: {report:?}");
        let scheduled = &nemesis.schedule().faults;
        let calls = calls.lock().expect("calls");
        assert_eq!(calls.len(), 2 * history.faults.len(), "seed {seed}: a skew and a reset each: {calls:?}");
        for ((fault, planned), pair) in history.faults.iter().zip(scheduled).zip(calls.chunks(2)) {
            let offset = planned.clock_offset_secs;
            let node = fault.target.split(' ').next().expect("node");
            assert_eq!(fault.target, format!("{node} (clock {offset:+}s)"), "seed {seed}");
            assert_eq!(pair, [format!("skew {node} {offset:+}"), format!("skew {node} +0")], "seed {seed}");
            assert!(fault.end_ms.is_some(), "seed {seed}: {fault:?}");
        }
    }
}

#[test]
fn clock_skews_are_skipped_where_the_backend_cannot_skew() {
    let cluster = FakeCluster { no_clock: true, ..FakeCluster::default() };
    let (nemesis, _, history) = run(2, &[FaultKind::ClockSkew, FaultKind::Pause], cluster);
    let report = nemesis.report();
    let skipped: Vec<_> = report.skipped.iter().filter(|s| s.kind == FaultKind::ClockSkew).collect();
    assert!(!skipped.is_empty(), "{report:?}");
    assert!(skipped.iter().all(|s| s.reason.contains("skew_clock is not supported")), "{skipped:?}");
    assert!(history.faults.iter().all(|f| f.kind == FaultKind::Pause), "{:?}", history.faults);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn a_failed_restart_is_retried_and_healed() {
    let cluster = FakeCluster { failing_starts: 2, ..FakeCluster::default() };
    let (nemesis, shared, history) = run(11, &[FaultKind::KillBroker], cluster);
    let report = nemesis.report();
    assert!(report.errors.iter().any(|e| e.contains("failed to start")), "{report:?}");
    assert!(history.faults.iter().all(|f| f.end_ms.is_some()), "{:?}", history.faults);
    assert_eq!(shared.lock().expect("cluster").running().len(), 6);
}

#[test]
fn the_stop_flag_ends_the_run_and_heal_all_ends_the_held_fault() {
    let hold = Duration::from_secs(60)..Duration::from_secs(60);
    let interval = Duration::from_millis(10)..Duration::from_millis(10);
    let schedule = Schedule::new(1, Duration::from_secs(600), &[FaultKind::Pause], interval, hold);
    let nemesis = Nemesis::new(schedule, TOPIC, PARTITIONS);
    let shared: SharedCluster = Arc::new(Mutex::new(Box::new(FakeCluster::default())));
    let history = Arc::new(Mutex::new(History::new(1, TOPIC, PARTITIONS)));
    let stop = nemesis.stop_flag();
    let started = Instant::now();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
    });
    nemesis.run(&shared, &history, started);
    stopper.join().expect("stopper");
    assert!(started.elapsed() < Duration::from_secs(5), "stopped promptly: {:?}", started.elapsed());
    assert_eq!(history.lock().expect("history").faults[0].end_ms, None, "still held when stopped");
    assert_eq!(shared.lock().expect("cluster").running().len(), 5, "one node paused");
    nemesis.heal_all(&shared, Duration::from_secs(1)).expect("heal_all");
    assert!(history.lock().expect("history").faults[0].end_ms.is_some());
    assert_eq!(shared.lock().expect("cluster").running().len(), 6);
}

#[test]
fn heal_all_resets_a_clock_skew_still_held_when_the_run_ends() {
    let hold = Duration::from_secs(60)..Duration::from_secs(60);
    let interval = Duration::from_millis(10)..Duration::from_millis(10);
    let schedule = Schedule::new(4, Duration::from_millis(300), &[FaultKind::ClockSkew], interval, hold);
    let nemesis = Nemesis::new(schedule, TOPIC, PARTITIONS);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let cluster = FakeCluster { calls: calls.clone(), ..FakeCluster::default() };
    let shared: SharedCluster = Arc::new(Mutex::new(Box::new(cluster)));
    let history = Arc::new(Mutex::new(History::new(4, TOPIC, PARTITIONS)));
    nemesis.run(&shared, &history, Instant::now());
    assert_eq!(history.lock().expect("history").faults[0].end_ms, None, "still held at the end");
    assert!(shared.lock().expect("cluster").wait_healthy(Duration::ZERO).is_err(), "a clock is off");
    nemesis.heal_all(&shared, Duration::from_secs(1)).expect("heal_all puts the clock back");
    assert!(history.lock().expect("history").faults[0].end_ms.is_some());
    let calls = calls.lock().expect("calls");
    assert!(calls.last().is_some_and(|c| c.ends_with(" +0")), "{calls:?}");
}

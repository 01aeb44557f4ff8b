//! Failover times on hand-made faults and writes, to the millisecond.

mod support;

use strom_chaos::{FailoverSample, FailoverStats, FaultKind, WriteOutcome, check};
use support::HistoryBuilder;

fn ok(offset: i64) -> WriteOutcome {
    WriteOutcome::Ok { offset }
}

#[test]
fn failover_is_the_first_ack_of_a_write_sent_after_the_fault() {
    let mut b = HistoryBuilder::new(2);
    b.fault(FaultKind::KillLeader, 1000, Some(3000)).fault(FaultKind::Pause, 5000, Some(6000));
    // Partition 0: the write in flight when the fault began proves nothing; of the writes sent
    // after, the earliest ack counts (even though it was sent later).
    b.write_timed(0, 0, "in-flight", 900, 1100, ok(0));
    b.write_timed(0, 0, "slow", 1200, 2000, ok(1));
    b.write_timed(1, 0, "fast", 1500, 1800, ok(2));
    b.write_timed(1, 0, "after-pause", 5100, 5600, ok(3));
    // Partition 1: a write sent exactly at the fault's start counts; unknown writes never do.
    b.write_timed(0, 1, "unknown", 1000, 1300, WriteOutcome::Unknown { error: "timed out".into() });
    b.write_timed(0, 1, "at-start", 1000, 4000, ok(0));
    b.write_timed(1, 1, "later", 2000, 4500, ok(1));
    let result = check(&b.build());

    let sample = |fault, kind, partition, failover_ms| FailoverSample { fault, kind, partition, failover_ms };
    assert_eq!(
        result.failover.samples,
        vec![
            sample(0, FaultKind::KillLeader, 0, Some(800)),
            sample(0, FaultKind::KillLeader, 1, Some(3000)),
            sample(1, FaultKind::Pause, 0, Some(600)),
            sample(1, FaultKind::Pause, 1, None),
        ]
    );
    assert_eq!(
        result.failover.overall,
        FailoverStats {
            samples: 4,
            unrecovered: 1,
            p50_ms: Some(800),
            p99_ms: Some(3000),
            max_ms: Some(3000)
        }
    );
    assert_eq!(
        result.failover.by_kind[&FaultKind::KillLeader],
        FailoverStats {
            samples: 2,
            unrecovered: 0,
            p50_ms: Some(800),
            p99_ms: Some(3000),
            max_ms: Some(3000)
        }
    );
    assert_eq!(
        result.failover.by_kind[&FaultKind::Pause],
        FailoverStats { samples: 2, unrecovered: 1, p50_ms: Some(600), p99_ms: Some(600), max_ms: Some(600) }
    );
    assert_eq!(result.failover.by_kind.len(), 2);
    assert_eq!(result.faults_by_kind[&FaultKind::KillLeader], 1);
    assert_eq!(result.faults_by_kind[&FaultKind::Pause], 1);
}

#[test]
fn percentiles_use_the_nearest_rank() {
    // One fault, 100 partitions recovering after 1, 2, ..., 100 ms.
    let mut b = HistoryBuilder::new(100);
    b.fault(FaultKind::Partition, 10_000, None);
    for partition in 0..100 {
        b.write_timed(0, partition, "v", 10_000, 10_001 + partition as u64, ok(0));
    }
    let overall = check(&b.build()).failover.overall;
    assert_eq!(
        overall,
        FailoverStats { samples: 100, unrecovered: 0, p50_ms: Some(50), p99_ms: Some(99), max_ms: Some(100) }
    );
}

#[test]
fn run_without_faults_or_acks_has_empty_statistics() {
    let mut b = HistoryBuilder::new(3);
    assert_eq!(check(&b.build()).failover.overall, FailoverStats::default());
    b.fault(FaultKind::DiskFull, 0, Some(10));
    let overall = check(&b.build()).failover.overall;
    assert_eq!(
        overall,
        FailoverStats { samples: 3, unrecovered: 3, p50_ms: None, p99_ms: None, max_ms: None }
    );
}

#[test]
fn a_stretch_without_acknowledgements_is_noted_as_a_stall() {
    let mut b = HistoryBuilder::new(1);
    b.write_timed(0, 0, "a", 0, 100, ok(0)).log_insert(0, 0, "a");
    b.write_timed(0, 0, "b", 200, 9_000, ok(1)).log_insert(0, 1, "b");
    let result = check(&b.build());
    assert!(result.notes.iter().all(|n| !n.contains("stalled")), "9 s is no stall: {:?}", result.notes);

    // Writes keep being sent after 9 s, but none is acknowledged until the run ends 30 s later.
    b.write_timed(0, 0, "c", 9_100, 29_000, WriteOutcome::Unknown { error: "timed out".into() });
    b.write_timed(0, 0, "d", 29_100, 40_000, WriteOutcome::Unknown { error: "timed out".into() });
    b.at(40_000);
    let result = check(&b.build());
    assert!(result.ok, "a stall is not a safety anomaly");
    let stall: Vec<&String> = result.notes.iter().filter(|n| n.contains("stalled")).collect();
    assert_eq!(stall.len(), 1, "{:?}", result.notes);
    assert!(stall[0].contains("from 9000 ms"), "{}", stall[0]);
}

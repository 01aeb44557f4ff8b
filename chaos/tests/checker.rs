//! The checker on hand-made histories: a clean run, and each anomaly planted alone.

mod support;

use strom_chaos::{AnomalyKind, CheckResult, FaultKind, History, check};
use support::{HistoryBuilder, clean};

/// Asserts the result holds exactly one anomaly, of `kind`, on `partition`, and returns its detail.
fn only_anomaly(result: &CheckResult, kind: AnomalyKind, partition: i32) -> String {
    assert!(!result.ok, "expected a {kind} anomaly");
    assert_eq!(result.anomalies.len(), 1, "expected only one {kind}, got {:#?}", result.anomalies);
    let anomaly = &result.anomalies[0];
    assert_eq!((anomaly.kind, anomaly.partition), (kind, partition), "{anomaly:?}");
    assert_eq!(result.count(kind), 1);
    anomaly.detail.clone()
}

fn assert_clean(history: &History) -> CheckResult {
    let result = check(history);
    assert!(result.ok && result.anomalies.is_empty(), "{:#?}", result.anomalies);
    result
}

#[test]
fn clean_history_has_no_anomalies_and_correct_counts() {
    let result = assert_clean(&clean().build());
    let c = &result.counts;
    assert_eq!(
        (
            c.writes_attempted,
            c.writes_ok,
            c.writes_failed,
            c.writes_unknown,
            c.unknown_recovered,
            c.unknown_absent
        ),
        (8, 8, 0, 0, 0, 0)
    );
    assert_eq!((c.reads, c.consumer_events, c.committed_offset_observations), (8, 1, 4));
    assert_eq!((c.final_records, c.faults, c.replica_checks, c.observed_unwritten_values), (8, 1, 2, 0));
    assert_eq!(result.faults_by_kind.get(&FaultKind::KillLeader), Some(&1));
    assert!(result.unchecked_partitions.is_empty() && result.notes.is_empty());
}

#[test]
fn checking_is_deterministic() {
    let mut b = clean();
    b.ok(0, 1, "lost", 4).lose(1, "lost").log_insert(0, 9, "p0-w0-0").revoked("c1", &[0]);
    let history = b.build();
    assert_eq!(check(&history), check(&history));
}

#[test]
fn lost_write_is_reported() {
    let mut b = clean();
    b.ok(0, 1, "p1-lost", 4).lose(1, "p1-lost");
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::LostWrite, 1);
    assert!(detail.contains("\"p1-lost\"") && detail.contains("offset 4"), "{detail}");
}

#[test]
fn acked_write_at_another_offset_is_a_wrong_offset() {
    let mut b = clean();
    b.ok(0, 1, "moved", 4).lose(1, "moved").log_insert(1, 5, "moved");
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::WrongOffset, 1);
    assert!(detail.contains("acknowledged at offset 4 is at offset 5"), "{detail}");
}

#[test]
fn write_acked_without_an_offset_must_be_present_but_has_no_offset_to_match() {
    let mut b = clean();
    b.ok_without_offset(0, 1, "dup-ack", 4);
    let result = assert_clean(&b.build());
    assert_eq!(result.counts.writes_ok, 9);
    b.lose(1, "dup-ack");
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::LostWrite, 1);
    assert!(detail.contains("\"dup-ack\" (producer 0, seq 2) acknowledged without an offset"), "{detail}");
}

#[test]
fn value_at_two_offsets_in_the_final_read_is_a_duplicate() {
    let mut b = clean();
    b.log_insert(0, 4, "p0-w0-0");
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::Duplicate, 0);
    assert!(detail.contains("{0, 4}"), "{detail}");
}

#[test]
fn value_read_at_two_offsets_is_a_duplicate() {
    let mut b = clean();
    b.read("c1", 1, 9, "p1-w1-1");
    only_anomaly(&check(&b.build()), AnomalyKind::Duplicate, 1);
}

#[test]
fn two_values_at_one_offset_is_an_inconsistent_offset() {
    let mut b = clean();
    b.assigned("c2", &[0]).read("c2", 0, 1, "ghost");
    let result = check(&b.build());
    let detail = only_anomaly(&result, AnomalyKind::InconsistentOffset, 0);
    assert!(detail.contains("offset 1") && detail.contains("ghost"), "{detail}");
    assert_eq!(result.counts.observed_unwritten_values, 1);
    assert_eq!(result.notes.len(), 1);
}

#[test]
fn producer_writes_acked_out_of_seq_order_are_reordered() {
    let mut b = clean();
    b.ok(2, 0, "r0", 5).ok(2, 0, "r1", 4);
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::Reordered, 0);
    assert!(
        detail.contains("producer 2: seq 1 acknowledged at offset 4 after seq 0 at offset 5"),
        "{detail}"
    );
}

#[test]
fn reordering_is_reported_once_per_producer_and_partition() {
    let mut b = clean();
    b.ok(2, 1, "r0", 7).ok(2, 1, "r1", 6).ok(2, 1, "r2", 5).ok(2, 1, "r3", 4);
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::Reordered, 1);
    assert!(detail.contains("3 inversion(s) among 4"), "{detail}");
}

#[test]
fn read_of_a_failed_write_is_reported() {
    let mut b = clean();
    b.failed(1, 0, "rejected").assigned("c2", &[0]).read("c2", 0, 6, "rejected");
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::ReadOfFailedWrite, 0);
    assert!(detail.contains("NOT_ENOUGH_REPLICAS"), "{detail}");
}

#[test]
fn failed_write_in_the_final_read_is_reported() {
    let mut b = clean();
    b.failed(1, 1, "rejected").log_insert(1, 4, "rejected");
    only_anomaly(&check(&b.build()), AnomalyKind::ReadOfFailedWrite, 1);
}

#[test]
fn unknown_writes_are_counted_recovered_or_absent_never_anomalies() {
    let mut b = clean();
    b.unknown_appended(0, 1, "maybe-yes", 4).unknown(1, 1, "maybe-no");
    let result = assert_clean(&b.build());
    assert_eq!(result.counts.writes_unknown, 2);
    assert_eq!((result.counts.unknown_recovered, result.counts.unknown_absent), (1, 1));
}

#[test]
fn unknown_write_read_by_a_consumer_then_gone_is_lost() {
    let mut b = clean();
    b.unknown(0, 1, "seen-then-gone").read("c1", 1, 4, "seen-then-gone");
    let result = check(&b.build());
    let detail = only_anomaly(&result, AnomalyKind::LostWrite, 1);
    assert!(
        detail.contains("unknown outcome") && detail.contains("consumers read it at offset 4"),
        "{detail}"
    );
    assert_eq!(result.counts.unknown_recovered, 1);
}

#[test]
fn consumer_going_back_without_a_position_event_is_reported() {
    let mut b = clean();
    b.read("c1", 0, 1, "p0-w1-0").read("c1", 0, 2, "p0-w0-1").read("c1", 0, 3, "p0-w1-1");
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::ConsumerWentBack, 0);
    assert!(detail.contains("read offset 1") && detail.contains("after offset 3"), "{detail}");
}

#[test]
fn consumer_rereading_the_same_offset_is_going_back() {
    let mut b = clean();
    b.read("c1", 1, 3, "p1-w1-1");
    only_anomaly(&check(&b.build()), AnomalyKind::ConsumerWentBack, 1);
}

#[test]
fn consumer_may_go_back_after_revoke_assign_or_seek() {
    let mut b = clean();
    b.revoked("c1", &[0, 1]).assigned("c1", &[0]).read_log("c1", 0, 2);
    b.seek("c1", 0, 0).read_log("c1", 0, 0);
    b.assigned("c1", &[1]).read_log("c1", 1, 1);
    assert_clean(&b.build());
}

#[test]
fn position_event_for_another_partition_or_consumer_does_not_excuse_going_back() {
    let mut b = clean();
    b.seek("c1", 1, 0).assigned("c2", &[0]).read("c1", 0, 0, "p0-w0-0");
    only_anomaly(&check(&b.build()), AnomalyKind::ConsumerWentBack, 0);
}

#[test]
fn committed_offset_going_back_is_reported() {
    let mut b = clean();
    b.committed("g", 1, 3).committed("g", 1, 4);
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::CommitWentBack, 1);
    assert!(detail.contains("observed 3") && detail.contains("after 4"), "{detail}");
}

#[test]
fn committed_offsets_of_other_groups_are_independent() {
    let mut b = clean();
    b.committed("other", 0, 1).committed("g", 0, 4).committed("other", 0, 1);
    assert_clean(&b.build());
}

#[test]
fn diverging_replicas_are_reported() {
    let mut b = clean();
    b.replica(1, false);
    let detail = only_anomaly(&check(&b.build()), AnomalyKind::ReplicaDivergence, 1);
    assert!(detail.contains("broker-2 differs"), "{detail}");
}

#[test]
fn partition_without_final_read_is_unchecked_not_lost() {
    let mut b = clean();
    b.ok(0, 1, "lost", 4).lose(1, "lost").skip_final(1);
    let result = assert_clean(&b.build());
    assert_eq!(result.unchecked_partitions, vec![1]);
}

#[test]
fn anomalies_are_ordered_by_kind_then_partition() {
    let mut b = clean();
    b.replica(0, false).ok(0, 1, "lost-1", 4).lose(1, "lost-1").ok(0, 0, "lost-0", 4).lose(0, "lost-0");
    let result = check(&b.build());
    let order: Vec<_> = result.anomalies.iter().map(|a| (a.kind, a.partition)).collect();
    assert_eq!(
        order,
        vec![(AnomalyKind::LostWrite, 0), (AnomalyKind::LostWrite, 1), (AnomalyKind::ReplicaDivergence, 0)]
    );
}

#[test]
fn value_written_twice_is_noted() {
    let mut b = HistoryBuilder::new(1);
    b.ok(0, 0, "same", 0).failed(0, 0, "same");
    let result = assert_clean(&b.build());
    assert_eq!(result.notes.len(), 1, "{:?}", result.notes);
    assert!(result.notes[0].contains("\"same\""));
}

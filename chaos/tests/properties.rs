//! Properties over random clean histories: no anomalies, exact counts; one planted lost write is
//! always reported, alone.

use proptest::prelude::*;
use proptest::sample::Index;

use strom_chaos::{
    AnomalyKind, CommittedOffset, ConsumerEvent, ConsumerEventKind, Fault, FaultKind, FinalRead, History,
    Read, Write, WriteOutcome, check,
};

/// What happened to one write attempt.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Acked,
    Failed,
    UnknownAppended,
    UnknownAbsent,
}

/// One consumer pass over a partition's log: a position event, then records `from..from + len`.
#[derive(Debug, Clone)]
struct Pass {
    consumer: u8,
    partition: Index,
    event: u8,
    from: Index,
    len: usize,
}

#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    /// Per partition: (producer, fate, skip an offset before it) per attempt.
    partitions: Vec<Vec<(u32, Fate, bool)>>,
    passes: Vec<Pass>,
    commit_steps: Vec<(Index, i64)>,
    faults: Vec<(usize, u64, Option<u64>)>,
}

fn plan() -> impl Strategy<Value = Plan> {
    let fate = prop_oneof![
        4 => Just(Fate::Acked),
        1 => Just(Fate::Failed),
        1 => Just(Fate::UnknownAppended),
        1 => Just(Fate::UnknownAbsent),
    ];
    let attempt = (0u32..3, fate, prop::bool::weighted(0.1));
    let pass = (0u8..3, any::<Index>(), 0u8..3, any::<Index>(), 0usize..20)
        .prop_map(|(consumer, partition, event, from, len)| Pass { consumer, partition, event, from, len });
    (
        any::<u64>(),
        prop::collection::vec(prop::collection::vec(attempt, 0..25), 1..5),
        prop::collection::vec(pass, 0..6),
        prop::collection::vec((any::<Index>(), 0i64..5), 0..12),
        prop::collection::vec((0usize..8, 0u64..10_000, prop::option::of(0u64..5_000)), 0..5),
    )
        .prop_map(|(seed, partitions, passes, commit_steps, faults)| Plan {
            seed,
            partitions,
            passes,
            commit_steps,
            faults,
        })
}

/// A history consistent with a correct broker: logs are built from the attempts, consumers read
/// them after a position event, commits only move forward, the final read is the log.
fn clean_history(plan: &Plan) -> (History, Vec<Vec<(i64, String)>>) {
    let mut history = History::new(plan.seed, "props", plan.partitions.len() as i32);
    let mut logs = Vec::new();
    let mut now = 0u64;
    for (partition, attempts) in plan.partitions.iter().enumerate() {
        let partition = partition as i32;
        let mut log = Vec::new();
        let mut next_offset = 0i64;
        let mut seqs = [0u64; 3];
        for (i, &(producer, fate, skip)) in attempts.iter().enumerate() {
            next_offset += i64::from(skip);
            let value = format!("p{partition}-{i}");
            let outcome = match fate {
                Fate::Acked => WriteOutcome::Ok { offset: next_offset },
                Fate::Failed => WriteOutcome::Failed { error: "rejected".into() },
                Fate::UnknownAppended | Fate::UnknownAbsent => {
                    WriteOutcome::Unknown { error: "timeout".into() }
                }
            };
            if matches!(fate, Fate::Acked | Fate::UnknownAppended) {
                log.push((next_offset, value.clone()));
                next_offset += 1;
            }
            now += 3;
            let seq = &mut seqs[producer as usize];
            history.record_write(Write {
                producer,
                key: format!("k{producer}"),
                partition,
                value,
                seq: *seq,
                start_ms: now,
                end_ms: now + 7,
                outcome,
            });
            *seq += 1;
        }
        logs.push(log);
    }
    for pass in &plan.passes {
        let partition = pass.partition.index(logs.len());
        let log = &logs[partition];
        let consumer = format!("c{}", pass.consumer);
        let partition = partition as i32;
        let from = if log.is_empty() { 0 } else { pass.from.index(log.len()) };
        now += 1;
        let kind = match pass.event {
            0 => ConsumerEventKind::Assigned { partitions: vec![partition] },
            1 => ConsumerEventKind::Revoked { partitions: vec![partition, partition + 1] },
            _ => ConsumerEventKind::Seek { partition, offset: log.get(from).map_or(0, |r| r.0) },
        };
        history.record_consumer_event(ConsumerEvent { consumer: consumer.clone(), time_ms: now, kind });
        for (offset, value) in log.iter().skip(from).take(pass.len) {
            now += 1;
            let read = Read {
                consumer: consumer.clone(),
                partition,
                offset: *offset,
                value: value.clone(),
                time_ms: now,
            };
            history.record_read(read);
        }
    }
    let mut committed = vec![-1i64; logs.len()];
    for (partition, step) in &plan.commit_steps {
        let partition = partition.index(logs.len());
        committed[partition] += step;
        now += 1;
        history.record_committed_offset(CommittedOffset {
            group: "g".into(),
            partition: partition as i32,
            offset: committed[partition],
            time_ms: now,
        });
    }
    for &(kind, start_ms, length) in &plan.faults {
        let kind = FaultKind::ALL[kind];
        history.record_fault(Fault {
            kind,
            target: "b1".into(),
            start_ms,
            end_ms: length.map(|l| start_ms + l),
        });
    }
    for (partition, log) in logs.iter().enumerate() {
        history.record_final_read(FinalRead { partition: partition as i32, records: log.clone() });
    }
    history.set_duration_ms(now);
    (history, logs)
}

proptest! {
    #[test]
    fn clean_histories_have_no_anomalies(plan in plan()) {
        let (history, logs) = clean_history(&plan);
        let result = check(&history);
        prop_assert!(result.ok, "seed {}: {:#?}", plan.seed, result.anomalies);
        prop_assert!(result.anomalies.is_empty() && result.notes.is_empty() && result.unchecked_partitions.is_empty());

        let fates: Vec<Fate> = plan.partitions.iter().flatten().map(|a| a.1).collect();
        let count = |f: fn(&Fate) -> bool| fates.iter().filter(|x| f(x)).count();
        let c = &result.counts;
        prop_assert_eq!(c.writes_attempted, fates.len());
        prop_assert_eq!(c.writes_ok, count(|f| matches!(f, Fate::Acked)));
        prop_assert_eq!(c.writes_failed, count(|f| matches!(f, Fate::Failed)));
        prop_assert_eq!(c.unknown_recovered, count(|f| matches!(f, Fate::UnknownAppended)));
        prop_assert_eq!(c.unknown_absent, count(|f| matches!(f, Fate::UnknownAbsent)));
        prop_assert_eq!(c.final_records, logs.iter().map(Vec::len).sum::<usize>());
        prop_assert_eq!(c.faults, plan.faults.len());
        prop_assert_eq!(result.failover.samples.len(), plan.faults.len() * logs.len());
    }

    #[test]
    fn one_planted_lost_write_is_reported_exactly_once(plan in plan(), victim in any::<Index>()) {
        let (mut history, _) = clean_history(&plan);
        let acked: Vec<usize> = (0..history.writes.len())
            .filter(|&i| history.writes[i].acked_offset().is_some())
            .collect();
        prop_assume!(!acked.is_empty());
        let lost = history.writes[acked[victim.index(acked.len())]].clone();
        let final_read = history.final_reads.iter_mut().find(|f| f.partition == lost.partition).unwrap();
        final_read.records.retain(|(_, value)| *value != lost.value);

        let result = check(&history);
        prop_assert_eq!(result.anomalies.len(), 1, "seed {}: {:#?}", plan.seed, result.anomalies);
        prop_assert_eq!(result.anomalies[0].kind, AnomalyKind::LostWrite);
        prop_assert_eq!(result.anomalies[0].partition, lost.partition);
        let quoted = format!("{:?}", lost.value);
        prop_assert!(result.anomalies[0].detail.contains(&quoted), "{}", result.anomalies[0].detail);
    }
}

//! A builder for hand-made histories, shared by the integration tests.
//!
//! Each test binary uses a different subset of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strom_chaos::{
    CommittedOffset, ConsumerEvent, ConsumerEventKind, Fault, FaultKind, FinalRead, History, Read,
    ReplicaCheck, Write, WriteOutcome,
};

/// Builds a [`History`] step by step. A clock advances 10 ms per event unless set with `at`;
/// writes get `seq` in call order per `(producer, partition)`. Every acknowledged write (and every
/// `unknown_appended` one) enters its partition's log, which becomes the final read at `build`.
pub struct HistoryBuilder {
    history: History,
    now: u64,
    seqs: HashMap<(u32, i32), u64>,
    logs: BTreeMap<i32, BTreeMap<i64, Vec<String>>>,
    skip_final: BTreeSet<i32>,
}

impl HistoryBuilder {
    pub fn new(partitions: i32) -> Self {
        Self {
            history: History::new(7, "chaos", partitions),
            now: 0,
            seqs: HashMap::new(),
            logs: (0..partitions).map(|p| (p, BTreeMap::new())).collect(),
            skip_final: BTreeSet::new(),
        }
    }

    /// Sets the clock.
    pub fn at(&mut self, ms: u64) -> &mut Self {
        self.now = ms;
        self
    }

    fn tick(&mut self) -> u64 {
        self.now += 10;
        self.now
    }

    fn next_seq(&mut self, producer: u32, partition: i32) -> u64 {
        let seq = self.seqs.entry((producer, partition)).or_insert(0);
        *seq += 1;
        *seq - 1
    }

    /// A write with explicit times and no effect on the log.
    pub fn write_timed(
        &mut self,
        producer: u32,
        partition: i32,
        value: &str,
        start_ms: u64,
        end_ms: u64,
        outcome: WriteOutcome,
    ) -> &mut Self {
        let seq = self.next_seq(producer, partition);
        self.history.record_write(Write {
            producer,
            key: format!("k{producer}"),
            partition,
            value: value.to_owned(),
            seq,
            start_ms,
            end_ms,
            outcome,
        });
        self
    }

    fn write(&mut self, producer: u32, partition: i32, value: &str, outcome: WriteOutcome) -> &mut Self {
        let start = self.tick();
        self.write_timed(producer, partition, value, start, start + 5, outcome)
    }

    /// An acknowledged write; the value enters the log at `offset`.
    pub fn ok(&mut self, producer: u32, partition: i32, value: &str, offset: i64) -> &mut Self {
        self.log_insert(partition, offset, value);
        self.write(producer, partition, value, WriteOutcome::Ok { offset })
    }

    /// A write the client acknowledged without an offset (librdkafka's -1001), stored at `offset`.
    pub fn ok_without_offset(
        &mut self,
        producer: u32,
        partition: i32,
        value: &str,
        offset: i64,
    ) -> &mut Self {
        self.log_insert(partition, offset, value);
        self.write(producer, partition, value, WriteOutcome::Ok { offset: -1001 })
    }

    /// A write that definitely failed.
    pub fn failed(&mut self, producer: u32, partition: i32, value: &str) -> &mut Self {
        self.write(producer, partition, value, WriteOutcome::Failed { error: "NOT_ENOUGH_REPLICAS".into() })
    }

    /// A write with unknown outcome that never reached the log.
    pub fn unknown(&mut self, producer: u32, partition: i32, value: &str) -> &mut Self {
        self.write(producer, partition, value, WriteOutcome::Unknown { error: "timed out".into() })
    }

    /// A write with unknown outcome that did reach the log at `offset`.
    pub fn unknown_appended(&mut self, producer: u32, partition: i32, value: &str, offset: i64) -> &mut Self {
        self.log_insert(partition, offset, value);
        self.unknown(producer, partition, value)
    }

    /// Puts a value in a partition's log (and so in its final read).
    pub fn log_insert(&mut self, partition: i32, offset: i64, value: &str) -> &mut Self {
        self.logs.entry(partition).or_default().entry(offset).or_default().push(value.to_owned());
        self
    }

    /// Removes a value from a partition's log: the final read will not hold it.
    pub fn lose(&mut self, partition: i32, value: &str) -> &mut Self {
        if let Some(log) = self.logs.get_mut(&partition) {
            for values in log.values_mut() {
                values.retain(|v| v != value);
            }
        }
        self
    }

    /// Records no final read for `partition`.
    pub fn skip_final(&mut self, partition: i32) -> &mut Self {
        self.skip_final.insert(partition);
        self
    }

    pub fn read(&mut self, consumer: &str, partition: i32, offset: i64, value: &str) -> &mut Self {
        let time_ms = self.tick();
        self.history.record_read(Read {
            consumer: consumer.to_owned(),
            partition,
            offset,
            value: value.to_owned(),
            time_ms,
        });
        self
    }

    /// Reads every record of the partition's log from `from` on, in order.
    pub fn read_log(&mut self, consumer: &str, partition: i32, from: i64) -> &mut Self {
        let records: Vec<(i64, String)> = self.logs[&partition]
            .range(from..)
            .flat_map(|(offset, values)| values.iter().map(move |v| (*offset, v.clone())))
            .collect();
        for (offset, value) in records {
            self.read(consumer, partition, offset, &value);
        }
        self
    }

    fn event(&mut self, consumer: &str, kind: ConsumerEventKind) -> &mut Self {
        let time_ms = self.tick();
        self.history.record_consumer_event(ConsumerEvent { consumer: consumer.to_owned(), time_ms, kind });
        self
    }

    pub fn assigned(&mut self, consumer: &str, partitions: &[i32]) -> &mut Self {
        self.event(consumer, ConsumerEventKind::Assigned { partitions: partitions.to_vec() })
    }

    pub fn revoked(&mut self, consumer: &str, partitions: &[i32]) -> &mut Self {
        self.event(consumer, ConsumerEventKind::Revoked { partitions: partitions.to_vec() })
    }

    pub fn seek(&mut self, consumer: &str, partition: i32, offset: i64) -> &mut Self {
        self.event(consumer, ConsumerEventKind::Seek { partition, offset })
    }

    pub fn committed(&mut self, group: &str, partition: i32, offset: i64) -> &mut Self {
        let time_ms = self.tick();
        self.history.record_committed_offset(CommittedOffset {
            group: group.to_owned(),
            partition,
            offset,
            time_ms,
        });
        self
    }

    pub fn fault(&mut self, kind: FaultKind, start_ms: u64, end_ms: Option<u64>) -> &mut Self {
        self.history.record_fault(Fault { kind, target: "broker-1".into(), start_ms, end_ms });
        self
    }

    pub fn replica(&mut self, partition: i32, identical: bool) -> &mut Self {
        let detail =
            if identical { "3 replicas identical".to_owned() } else { "broker-2 differs at offset 3".into() };
        self.history.record_replica_check(ReplicaCheck { partition, identical_up_to_hw: identical, detail });
        self
    }

    /// The history, with a final read per partition from its log (except skipped ones).
    pub fn build(&self) -> History {
        let mut history = self.history.clone();
        for (partition, log) in &self.logs {
            if self.skip_final.contains(partition) {
                continue;
            }
            let records = log
                .iter()
                .flat_map(|(offset, values)| values.iter().map(move |v| (*offset, v.clone())))
                .collect();
            history.record_final_read(FinalRead { partition: *partition, records });
        }
        history.set_duration_ms(self.now + 10);
        history
    }
}

/// A clean run: 2 partitions, 2 producers writing 2 values each per partition, one consumer reading
/// everything, commits moving forward, one healed fault, identical replicas.
pub fn clean() -> HistoryBuilder {
    let mut b = HistoryBuilder::new(2);
    for partition in 0..2 {
        for round in 0..2 {
            for producer in 0..2u32 {
                let offset = i64::from(round * 2) + i64::from(producer);
                b.ok(producer, partition, &format!("p{partition}-w{producer}-{round}"), offset);
            }
        }
    }
    b.assigned("c1", &[0, 1]).read_log("c1", 0, 0).read_log("c1", 1, 0);
    b.committed("g", 0, 2).committed("g", 1, 2).committed("g", 0, 4).committed("g", 1, 4);
    b.fault(FaultKind::KillLeader, 15, Some(45));
    b.replica(0, true).replica(1, true);
    b
}

/// A deterministic, run-like history: `seconds` of writes every 20 ms to each of 3 partitions, with
/// a leader kill, a pause and a network partition during which acks stall; consumers read it all.
pub fn simulated_run(seconds: u64) -> HistoryBuilder {
    let outages = [(FaultKind::KillLeader, 0.2), (FaultKind::Pause, 0.5), (FaultKind::Partition, 0.75)];
    let mut b = HistoryBuilder::new(3);
    let faults: Vec<(u64, u64)> = outages
        .iter()
        .map(|(kind, at)| {
            let start = (seconds as f64 * 1000.0 * at) as u64;
            b.fault(*kind, start, Some(start + 3000));
            (start, start + 3000)
        })
        .collect();
    let mut offsets = [0i64; 3];
    for tick in 0..seconds * 50 {
        let start = tick * 20;
        for partition in 0..3 {
            let value = format!("v{partition}-{tick}");
            // Writes sent during an outage are acked 1.5 s after it began; others after 3 to 12 ms.
            let stall = faults.iter().find(|(s, e)| (*s..*e).contains(&start)).map(|(s, _)| s + 1500);
            let end =
                stall.map_or(start + 3 + (tick * 7 + partition as u64 * 3) % 10, |ack| ack.max(start + 3));
            let offset = offsets[partition as usize];
            offsets[partition as usize] += 1;
            b.log_insert(partition, offset, &value);
            b.write_timed(0, partition, &value, start, end, WriteOutcome::Ok { offset });
        }
    }
    b.at(seconds * 1000).assigned("c1", &[0, 1, 2]);
    for partition in 0..3 {
        b.read_log("c1", partition, 0).committed("g", partition, offsets[partition as usize]);
    }
    b.replica(0, true).replica(1, true).replica(2, true);
    b
}

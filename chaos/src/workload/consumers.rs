//! The workload's readers, each on its own thread (librdkafka's consumer is polled synchronously):
//! - the assigned reader: every partition from the beginning, no group;
//! - group members: `subscribe` in one group, commit after processing (also before a partition is
//!   revoked), recording each assignment and revocation in order with their reads;
//! - the commit observer: the group's committed offsets (OffsetFetch) once a second.

use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::{Recorder, Stop, WorkloadConfig, base_config};
use crate::history::{CommittedOffset, ConsumerEvent, ConsumerEventKind, Read};

/// How often a group member commits what it has processed.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// Starts the assigned reader.
pub fn spawn_reader(
    config: &WorkloadConfig,
    recorder: &Recorder,
    stop: &Stop,
) -> anyhow::Result<JoinHandle<()>> {
    let consumer: BaseConsumer = base_config(&config.bootstrap)
        .set("group.id", format!("{}-reader", config.group))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..config.partitions {
        assignment.add_partition_offset(&config.topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let name = "reader".to_string();
    recorder.lock().record_consumer_event(ConsumerEvent {
        consumer: name.clone(),
        time_ms: recorder.now_ms(),
        kind: ConsumerEventKind::Assigned { partitions: (0..config.partitions).collect() },
    });
    let (recorder, stop) = (recorder.clone(), stop.clone());
    Ok(std::thread::spawn(move || {
        while !stop.is_stopped() {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                record_read(&recorder, &name, &message);
            }
        }
    }))
}

fn record_read(recorder: &Recorder, consumer: &str, message: &impl Message) {
    let value = message.payload().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
    recorder.lock().record_read(Read {
        consumer: consumer.to_string(),
        partition: message.partition(),
        offset: message.offset(),
        value,
        time_ms: recorder.now_ms(),
    });
}

/// Records a member's assignments and revocations (on the polling thread, so in order with reads)
/// and commits what it processed before a partition goes.
struct MemberContext {
    name: String,
    recorder: Recorder,
}

impl ClientContext for MemberContext {}

impl ConsumerContext for MemberContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            // Commit after processing: hand over exactly what this member has consumed.
            let _ = consumer.commit_consumer_state(CommitMode::Sync);
            self.event(ConsumerEventKind::Revoked { partitions: partitions(list) });
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            self.event(ConsumerEventKind::Assigned { partitions: partitions(list) });
        }
    }
}

impl MemberContext {
    fn event(&self, kind: ConsumerEventKind) {
        let time_ms = self.recorder.now_ms();
        self.recorder.lock().record_consumer_event(ConsumerEvent {
            consumer: self.name.clone(),
            time_ms,
            kind,
        });
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<i32> {
    list.elements().iter().map(|e| e.partition()).collect()
}

/// Starts group member `index`.
pub fn spawn_member(
    index: u32,
    config: &WorkloadConfig,
    recorder: &Recorder,
    stop: &Stop,
) -> anyhow::Result<JoinHandle<()>> {
    let name = format!("member-{index}");
    let context = MemberContext { name: name.clone(), recorder: recorder.clone() };
    let consumer: BaseConsumer<MemberContext> = base_config(&config.bootstrap)
        .set("group.id", &config.group)
        .set("client.id", &name)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create_with_context(context)?;
    consumer.subscribe(&[&config.topic])?;
    let (recorder, stop) = (recorder.clone(), stop.clone());
    Ok(std::thread::spawn(move || {
        let mut last_commit = std::time::Instant::now();
        let mut uncommitted = false;
        while !stop.is_stopped() {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                record_read(&recorder, &name, &message);
                uncommitted = true;
            }
            if uncommitted && last_commit.elapsed() >= COMMIT_EVERY {
                let _ = consumer.commit_consumer_state(CommitMode::Sync);
                (last_commit, uncommitted) = (std::time::Instant::now(), false);
            }
        }
        if uncommitted {
            let _ = consumer.commit_consumer_state(CommitMode::Sync);
        }
        consumer.unsubscribe();
    }))
}

/// Starts the observer of the group's committed offsets.
pub fn spawn_commit_observer(
    config: &WorkloadConfig,
    recorder: &Recorder,
    stop: &Stop,
) -> anyhow::Result<JoinHandle<()>> {
    let consumer: BaseConsumer = base_config(&config.bootstrap)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .create()?;
    let mut all = TopicPartitionList::new();
    for p in 0..config.partitions {
        all.add_partition(&config.topic, p);
    }
    let (group, recorder, stop) = (config.group.clone(), recorder.clone(), stop.clone());
    Ok(std::thread::spawn(move || {
        while !stop.is_stopped() {
            observe_commits(&consumer, &all, &group, &recorder);
            let deadline = std::time::Instant::now() + Duration::from_secs(1);
            while !stop.is_stopped() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        observe_commits(&consumer, &all, &group, &recorder);
    }))
}

fn observe_commits(consumer: &BaseConsumer, all: &TopicPartitionList, group: &str, recorder: &Recorder) {
    let Ok(committed) = consumer.committed_offsets(all.clone(), Duration::from_secs(3)) else { return };
    let time_ms = recorder.now_ms();
    let mut history = recorder.lock();
    for element in committed.elements() {
        if let Offset::Offset(offset) = element.offset() {
            history.record_committed_offset(CommittedOffset {
                group: group.to_string(),
                partition: element.partition(),
                offset,
                time_ms,
            });
        }
    }
}

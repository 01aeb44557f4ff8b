//! The nemesis: faults on a seeded, replayable [`Schedule`], injected one at a time into a
//! [`Cluster`] and recorded into the run's [`History`].
//!
//! ```text
//!  --faults ──▶ FaultSpec ─┐
//!  seed, duration ─────────┴─▶ Schedule [(at_ms, kind, target index, hold_ms, clock offset)…]
//!                                  │  Nemesis::run (blocking; one fault at a time)
//!                                  ▼
//!   wait until at_ms ─▶ choose target among live nodes ─▶ apply ─▶ hold ─▶ undo ─▶ next
//!                         │ nothing to hit / Unsupported: skipped (NemesisReport), not a failure
//!                         └ History::begin_fault(kind, target, ms) … end_fault(ms) when undone
//!   Nemesis::heal_all: undo what is outstanding, start any node that is down, wait healthy
//! ```
//!
//! A fault healed later than planned (a restart waits for the node to be ready) delays the rest of
//! the schedule by the overrun, so every fault is followed by its planned quiet interval.
//!
//! What it must never do: run two faults at once, draw randomness outside the schedule (target
//! choice is the schedule's index into the sorted live nodes at fault time), or block for a fault
//! past the run's duration (a fault still held then is left for [`Nemesis::heal_all`]).

mod action;
mod schedule;
mod spec;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::{Deserialize, Serialize};

pub use self::action::{Action, Undo, choose};
pub use self::schedule::{CLOCK_OFFSET_SECS, Schedule, ScheduledFault};
pub use self::spec::{FaultSpec, UnknownFault};
use crate::cluster::{Cluster, Node, is_unsupported};
use crate::history::{FaultId, FaultKind, History};

/// The cluster as the runner shares it.
pub type SharedCluster = Arc<Mutex<Box<dyn Cluster>>>;

/// Longest sleep between two checks of the stop flag.
const TICK: Duration = Duration::from_millis(50);

/// A scheduled fault that was not injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFault {
    /// When it was due, in ms since the run start.
    pub at_ms: u64,
    /// Its kind.
    pub kind: FaultKind,
    /// Why: unsupported by the backend, no target, or the injection failed.
    pub reason: String,
}

/// What the nemesis did, besides the faults recorded in the history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisReport {
    /// Faults injected (each is in the history).
    pub injected: usize,
    /// Scheduled faults not injected.
    pub skipped: Vec<SkippedFault>,
    /// Failed injections or undos (an undo that failed is retried before the next fault and by
    /// [`Nemesis::heal_all`]).
    pub errors: Vec<String>,
}

/// An undo not done yet, with the fault it ends.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    undo: Undo,
    fault: FaultId,
}

#[derive(Default)]
struct State {
    outstanding: Vec<Outstanding>,
    /// Where faults are recorded and the run's start, set by [`Nemesis::run`].
    recorder: Option<(Arc<Mutex<History>>, Instant)>,
    report: NemesisReport,
}

/// Runs a [`Schedule`] against a cluster; see the module docs.
pub struct Nemesis {
    schedule: Schedule,
    topic: String,
    partitions: i32,
    healthy_timeout: Duration,
    stop: Arc<AtomicBool>,
    state: Mutex<State>,
}

impl Nemesis {
    /// A nemesis for `schedule`; leader kills pick among `topic`'s `partitions` partitions.
    pub fn new(schedule: Schedule, topic: impl Into<String>, partitions: i32) -> Self {
        Self {
            schedule,
            topic: topic.into(),
            partitions,
            healthy_timeout: Duration::from_secs(60),
            stop: Arc::new(AtomicBool::new(false)),
            state: Mutex::new(State::default()),
        }
    }

    /// How long a rolling restart waits for the cluster to be healthy after each broker (default 60 s).
    pub fn with_healthy_timeout(mut self, timeout: Duration) -> Self {
        self.healthy_timeout = timeout;
        self
    }

    /// The schedule it runs.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// A flag that, once set, makes [`Nemesis::run`] return at its next check (within ~50 ms, or
    /// after the fault operation in progress).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// What it did so far.
    pub fn report(&self) -> NemesisReport {
        self.lock().report.clone()
    }

    /// Runs the schedule (blocking) until its duration is over or the stop flag is set, recording
    /// each fault into `history` with times in ms since `start`. A fault still held at the end stays
    /// outstanding for [`Nemesis::heal_all`].
    pub fn run(
        &self,
        cluster: &SharedCluster,
        history: &Arc<Mutex<History>>,
        start: Instant,
    ) -> NemesisReport {
        self.lock().recorder = Some((history.clone(), start));
        let duration_ms = self.schedule.duration_ms;
        // How late the schedule runs: a fault healed after its planned end delays the rest by the
        // overrun, so each fault is still followed by its planned quiet interval.
        let mut shift_ms = 0;
        for fault in &self.schedule.faults {
            let due_ms = fault.at_ms + shift_ms;
            if due_ms >= duration_ms || !self.sleep_until(start, due_ms) {
                break;
            }
            if !self.undo_outstanding(cluster) {
                self.skip(fault, "the previous fault is not healed yet".to_string());
                continue;
            }
            let applied_at = ms_since(start);
            if self.inject(cluster, history, start, fault) {
                let hold_end = (applied_at + fault.hold_ms).min(duration_ms);
                if !self.sleep_until(start, hold_end) || ms_since(start) >= duration_ms {
                    break;
                }
                self.undo_outstanding(cluster);
            }
            shift_ms += ms_since(start).saturating_sub(due_ms + fault.hold_ms);
        }
        self.sleep_until(start, duration_ms);
        self.report()
    }

    /// Undoes every outstanding fault, starts any node that is down, and waits until the whole
    /// cluster is healthy. Errors if something could not be healed within `timeout`.
    pub fn heal_all(&self, cluster: &SharedCluster, timeout: Duration) -> anyhow::Result<()> {
        self.undo_outstanding(cluster);
        {
            // Nodes that died on their own (or whose restart failed above): controllers first.
            let mut guard = lock(cluster);
            let running = guard.running();
            let mut down: Vec<Node> = guard.controller_ids().into_iter().map(Node::Controller).collect();
            down.extend(guard.broker_ids().into_iter().map(Node::Broker));
            down.retain(|node| !running.contains(node));
            for node in down {
                tracing::info!(%node, "healing: starting a node that is down");
                if let Err(err) = Undo::Start(node).run(&mut **guard) {
                    self.error(format!("healing: starting {node} failed: {err:#}"));
                }
            }
        }
        // Ends the faults whose node the loop above brought back.
        if !self.undo_outstanding(cluster) {
            let left: Vec<String> = self.lock().outstanding.iter().map(|o| format!("{:?}", o.undo)).collect();
            bail!("faults could not be healed: {}", left.join(", "));
        }
        lock(cluster).wait_healthy(timeout)
    }

    /// Chooses the target and injects `fault`; true if something was injected (and recorded).
    fn inject(
        &self,
        cluster: &SharedCluster,
        history: &Arc<Mutex<History>>,
        start: Instant,
        fault: &ScheduledFault,
    ) -> bool {
        let mut guard = lock(cluster);
        let (action, target) = match choose(&**guard, fault, &self.topic, self.partitions) {
            Ok(chosen) => chosen,
            Err(reason) => {
                self.skip(fault, reason);
                return false;
            }
        };
        let start_ms = ms_since(start);
        let mut undo = Vec::new();
        let result = action.apply(&mut **guard, &mut undo, self.healthy_timeout);
        drop(guard);
        match result {
            Ok(()) => {}
            Err(err) if undo.is_empty() && is_unsupported(&err) => {
                self.skip(fault, format!("{err:#}"));
                return false;
            }
            Err(err) if undo.is_empty() => {
                self.error(format!("{} on {target} failed: {err:#}", fault.kind));
                self.skip(fault, format!("failed: {err:#}"));
                return false;
            }
            // Partly injected: recorded, and healed like any other fault.
            Err(err) => self.error(format!("{} on {target} failed half-way: {err:#}", fault.kind)),
        }
        tracing::info!(kind = %fault.kind, %target, start_ms, "fault injected");
        let mut history = lock(history);
        let id = history.begin_fault(fault.kind, target, start_ms);
        if undo.is_empty() {
            history.end_fault(id, ms_since(start));
        }
        let mut state = self.lock();
        state.report.injected += 1;
        state.outstanding.extend(undo.into_iter().map(|undo| Outstanding { undo, fault: id }));
        true
    }

    /// Runs every outstanding undo, in [`Undo::rank`] order; a fault ends (in the history) when its
    /// last undo succeeded. Failed undos stay outstanding. True if nothing is outstanding after.
    fn undo_outstanding(&self, cluster: &SharedCluster) -> bool {
        let (mut pending, recorder) = {
            let mut state = self.lock();
            (std::mem::take(&mut state.outstanding), state.recorder.clone())
        };
        pending.sort_by_key(|o| o.undo.rank());
        let mut failed = Vec::new();
        let mut done = Vec::new();
        for outstanding in pending {
            let result = outstanding.undo.run(&mut **lock(cluster));
            match result {
                Ok(()) => done.push(outstanding.fault),
                Err(err) => {
                    self.error(format!("undo {:?} failed: {err:#}", outstanding.undo));
                    failed.push(outstanding);
                }
            }
        }
        if let Some((history, start)) = recorder {
            let end_ms = ms_since(start);
            let mut history = lock(&history);
            done.sort_by_key(|id| id.0);
            done.dedup();
            for id in done.into_iter().filter(|id| failed.iter().all(|f| f.fault != *id)) {
                history.end_fault(id, end_ms);
            }
        }
        let healed = failed.is_empty();
        self.lock().outstanding.extend(failed);
        healed
    }

    /// Sleeps until `at_ms` after `start`; false if the stop flag was set first.
    fn sleep_until(&self, start: Instant, at_ms: u64) -> bool {
        let due = start + Duration::from_millis(at_ms);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(TICK));
        }
    }

    fn skip(&self, fault: &ScheduledFault, reason: String) {
        tracing::info!(kind = %fault.kind, at_ms = fault.at_ms, %reason, "fault skipped");
        let skipped = SkippedFault { at_ms: fault.at_ms, kind: fault.kind, reason };
        self.lock().report.skipped.push(skipped);
    }

    fn error(&self, message: String) {
        tracing::warn!(%message, "nemesis error");
        self.lock().report.errors.push(message);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Locks, ignoring poisoning (a panicking holder leaves plain data behind).
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

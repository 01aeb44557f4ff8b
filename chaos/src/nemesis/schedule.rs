//! [`Schedule`]: the faults of a run, drawn up front from the run's seed, so the same seed replays
//! the same faults at the same times (against whatever nodes are live then).

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::history::FaultKind;

/// Mixed into the run's seed so the nemesis draws from its own random stream, unrelated to the
/// workload's draws from the same seed (`"nemesis!"` in ASCII).
const STREAM: u64 = 0x6e65_6d65_7369_7321;

/// How far a clock skew moves a node's wall clock, in whole seconds, either way.
pub const CLOCK_OFFSET_SECS: RangeInclusive<i64> = 5..=60;

/// One planned fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// When to inject it, in ms since the run start (later if the previous fault overran).
    pub at_ms: u64,
    /// What to inject.
    pub kind: FaultKind,
    /// Target choice: an index, modulo the length, into the sorted list of candidates at fault time
    /// (live brokers, live nodes, or the workload topic's partitions for a leader kill).
    pub target: u32,
    /// How long the fault lasts before it is undone, in ms (unused by a rolling restart).
    pub hold_ms: u64,
    /// For a clock skew, the offset of the target's wall clock in seconds (negative: behind; its
    /// size within [`CLOCK_OFFSET_SECS`]); 0 for every other kind.
    #[serde(default)]
    pub clock_offset_secs: i64,
}

/// The faults of a run, in time order, never overlapping: each starts `interval` after the
/// previous one's hold ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The run's seed.
    pub seed: u64,
    /// Faults start before this, in ms since the run start.
    pub duration_ms: u64,
    /// The planned faults.
    pub faults: Vec<ScheduledFault>,
}

impl Schedule {
    /// Draws the schedule of a run of `duration` with `seed`: the first fault after one `interval`,
    /// each kind uniformly from `kinds`, each hold from `hold`, a clock skew's offset (drawn only for
    /// that kind, so schedules without skews draw as before), the next fault one `interval` after the
    /// hold ends. Empty `kinds` give an empty schedule; an empty range means its start.
    pub fn new(
        seed: u64,
        duration: Duration,
        kinds: &[FaultKind],
        interval: Range<Duration>,
        hold: Range<Duration>,
    ) -> Self {
        let duration_ms = millis(duration);
        let mut rng = StdRng::seed_from_u64(seed ^ STREAM);
        let mut faults = Vec::new();
        if !kinds.is_empty() {
            let mut at_ms = draw(&mut rng, &interval);
            while at_ms < duration_ms {
                let kind = kinds[rng.random_range(0..kinds.len())];
                let target = rng.random::<u32>();
                let hold_ms = draw(&mut rng, &hold);
                let clock_offset_secs = match kind {
                    FaultKind::ClockSkew => draw_clock_offset(&mut rng),
                    _ => 0,
                };
                faults.push(ScheduledFault { at_ms, kind, target, hold_ms, clock_offset_secs });
                at_ms += hold_ms + draw(&mut rng, &interval);
            }
        }
        Self { seed, duration_ms, faults }
    }
}

/// A size uniform in [`CLOCK_OFFSET_SECS`], then a sign.
fn draw_clock_offset(rng: &mut StdRng) -> i64 {
    let size = rng.random_range(CLOCK_OFFSET_SECS);
    if rng.random::<bool>() { size } else { -size }
}

/// A uniform draw in whole ms from `range` (its start if it is empty).
fn draw(rng: &mut StdRng, range: &Range<Duration>) -> u64 {
    let (start, end) = (millis(range.start), millis(range.end));
    if start >= end { start } else { rng.random_range(start..end) }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

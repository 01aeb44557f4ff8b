//! Time sources, injected wherever something times out, expires, measures an age or stamps a time.
//!
//! Two clocks, and a value read from one is never compared with a value read from the other:
//! - the **wall clock** ([`Clock::now_ms`], ms since the Unix epoch) for what *is* a timestamp: record
//!   timestamps and LogAppendTime, the time index, segment roll and retention by time, offset commit
//!   times and their expiry — whatever is persisted or compared with something persisted;
//! - the **monotonic clock** ([`Clock::monotonic_ms`], ms since a process-wide anchor) for every
//!   timeout, session, lag time and age kept in memory (broker sessions on the controller, group
//!   member sessions and rebalance deadlines, ISR lag), so an NTP step or a skewed `CLOCK_REALTIME`
//!   neither expires nor prolongs anything. Its values mean nothing outside this process: they are
//!   never written to disk, the Raft log or the wire.
//!
//! [`SystemClock`] reads the host's clocks; [`ManualClock`] (both readings set by hand) and
//! [`SkewedClock`] (the host's clocks with the wall reading shifted, as libfaketime does) let tests
//! jump the wall clock.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync {
    /// Wall-clock now, in ms since the Unix epoch. Jumps when the host's clock is stepped.
    fn now_ms(&self) -> i64;
    /// Monotonic now, in ms since an arbitrary per-process anchor. Never goes back, never jumps.
    fn monotonic_ms(&self) -> i64;
}

/// The host's wall clock, in ms since the Unix epoch.
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Milliseconds since a process-wide [`Instant`] anchor (taken on first use).
pub fn monotonic_ms() -> i64 {
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    i64::try_from(ANCHOR.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The host's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        wall_ms()
    }

    fn monotonic_ms(&self) -> i64 {
        monotonic_ms()
    }
}

/// A clock whose two readings only move when a test moves them.
#[derive(Debug, Default)]
pub struct ManualClock {
    wall_ms: AtomicI64,
    monotonic_ms: AtomicI64,
}

impl ManualClock {
    /// A clock reading `wall_ms` on the wall clock and `monotonic_ms` on the monotonic one.
    pub fn new(wall_ms: i64, monotonic_ms: i64) -> Self {
        Self { wall_ms: AtomicI64::new(wall_ms), monotonic_ms: AtomicI64::new(monotonic_ms) }
    }

    /// Lets `ms` pass: both readings move on.
    pub fn advance(&self, ms: i64) {
        self.wall_ms.fetch_add(ms, Ordering::SeqCst);
        self.monotonic_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Steps the wall clock by `delta_ms` (either way) while no time passes.
    pub fn jump_wall(&self, delta_ms: i64) {
        self.wall_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::SeqCst)
    }

    fn monotonic_ms(&self) -> i64 {
        self.monotonic_ms.load(Ordering::SeqCst)
    }
}

/// The host's clocks with the wall reading shifted by a settable offset, as libfaketime shifts
/// `CLOCK_REALTIME` and leaves the monotonic clock alone.
#[derive(Debug, Default)]
pub struct SkewedClock {
    offset_ms: AtomicI64,
}

impl SkewedClock {
    /// An unskewed clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the wall clock `offset_ms` off the host's (0 undoes the skew).
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::SeqCst);
    }
}

impl Clock for SkewedClock {
    fn now_ms(&self) -> i64 {
        wall_ms().saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    fn monotonic_ms(&self) -> i64 {
        monotonic_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_jump_leaves_the_monotonic_reading_alone() {
        let clock = ManualClock::new(1_000_000, 5);
        clock.jump_wall(60_000);
        assert_eq!((clock.now_ms(), clock.monotonic_ms()), (1_060_000, 5));
        clock.jump_wall(-120_000);
        clock.advance(10);
        assert_eq!((clock.now_ms(), clock.monotonic_ms()), (940_010, 15));

        let skewed = SkewedClock::new();
        let before = skewed.monotonic_ms();
        skewed.set_offset_ms(-3_600_000);
        assert!(skewed.now_ms() < wall_ms() - 3_500_000);
        assert!(skewed.monotonic_ms() >= before, "monotonic never goes back");
    }
}

//! Time source, injected wherever something times out, rolls, expires, measures lag or is stamped.
//!
//! The broker shares the controller crate's clocks ([`strom_controller::clock`]): the wall clock
//! ([`Clock::now_ms`]) for timestamps — LogAppendTime, segment roll and retention by time, offset
//! commit times and their expiry, consumer lag in seconds — and the monotonic clock
//! ([`Clock::monotonic_ms`]) for group member sessions and rebalance deadlines, ISR lag times, the
//! replication throttle and housekeeping intervals. The two are never compared with each other.

pub use strom_controller::clock::{Clock, ManualClock, SkewedClock, SystemClock};

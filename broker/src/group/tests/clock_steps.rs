//! The group driven as the coordinator drives it — at its clock's monotonic reading — while the wall
//! clock is stepped: no session expires on a step; a silent member still expires after its session
//! timeout of monotonic time, however far the wall clock went back.

use super::*;
use crate::clock::{Clock, ManualClock};

#[test]
fn a_wall_clock_step_expires_no_session_but_silence_still_does() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a", "b"], 0);
    let (a, b) = (&ids[0], &ids[1]);
    let clock = ManualClock::new(1_700_000_000_000, done_ms);
    for step in [60_000, -120_000] {
        clock.jump_wall(step);
        clock.advance(1_000);
        let tick = h.group.tick(clock.monotonic_ms());
        assert!(tick.effects.is_empty(), "a {step:+} ms step: {:?}", tick.effects);
        assert_eq!(h.group.state(), GroupState::Stable);
        assert_eq!(h.heartbeat(a, 1, clock.monotonic_ms()), ErrorCode::None);
        assert_eq!(h.heartbeat(b, 1, clock.monotonic_ms()), ErrorCode::None);
    }
    // The wall clock is now 60 s behind where it started; b stops heartbeating.
    let silent_since = clock.monotonic_ms();
    for _ in 0..4 {
        clock.advance(2_000);
        assert_eq!(h.heartbeat(a, 1, clock.monotonic_ms()), ErrorCode::None);
    }
    clock.advance(i64::from(SESSION_MS) - 8_001);
    assert!(h.group.tick(clock.monotonic_ms()).effects.is_empty());
    assert!(h.group.member(b).is_some(), "not yet {SESSION_MS} ms of silence");
    clock.advance(1);
    assert_eq!(clock.monotonic_ms(), silent_since + i64::from(SESSION_MS));
    assert!(h.group.tick(clock.monotonic_ms()).effects.is_empty(), "nobody waits on a join");
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert!(h.group.member(b).is_none(), "b expired {SESSION_MS} ms after its last heartbeat");
    assert!(h.group.member(a).is_some());
}

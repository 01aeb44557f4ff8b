//! The leader's replication throttle (`leader.replication.throttled.rate`, bytes per second): a token
//! bucket that bounds the bytes served to replicas a reassignment is adding, so moving a partition does
//! not starve producers, consumers and in-sync followers. The bucket holds at most one second of rate;
//! a read may overdraw it (whole batches), and the debt is paid before the next throttled read.

use std::sync::Mutex;

/// Broker config naming the rate.
pub const LEADER_THROTTLED_RATE: &str = "leader.replication.throttled.rate";

#[derive(Debug)]
struct Bucket {
    rate: Option<u64>,
    tokens: f64,
    last_ms: i64,
}

/// A token bucket in bytes.
#[derive(Debug)]
pub struct Throttle {
    bucket: Mutex<Bucket>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self { bucket: Mutex::new(Bucket { rate: None, tokens: 0.0, last_ms: 0 }) }
    }
}

impl Throttle {
    /// Sets the rate (`None`: unthrottled).
    pub fn set_rate(&self, rate: Option<u64>) {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        if bucket.rate != rate {
            bucket.rate = rate;
            bucket.tokens = bucket.tokens.min(rate.unwrap_or(0) as f64);
        }
    }

    /// Bytes a throttled read may take at `now_ms` on the monotonic clock (`usize::MAX` when
    /// unthrottled, 0 while in debt).
    pub fn available(&self, now_ms: i64) -> usize {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let Some(rate) = bucket.rate else { return usize::MAX };
        let elapsed = (now_ms - bucket.last_ms).max(0) as f64 / 1000.0;
        bucket.last_ms = now_ms;
        bucket.tokens = (bucket.tokens + elapsed * rate as f64).min(rate as f64);
        if bucket.tokens <= 0.0 { 0 } else { bucket.tokens as usize }
    }

    /// Records `bytes` served by a throttled read.
    pub fn consume(&self, bytes: usize) {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        if bucket.rate.is_some() {
            bucket.tokens -= bytes as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_rate_and_caps_at_one_second() {
        let t = Throttle::default();
        assert_eq!(t.available(0), usize::MAX, "unthrottled");
        t.set_rate(Some(1000));
        assert_eq!(t.available(0), 0);
        assert_eq!(t.available(500), 500);
        t.consume(800);
        assert_eq!(t.available(500), 0, "in debt after overdrawing");
        assert_eq!(t.available(1000), 200);
        assert_eq!(t.available(60_000), 1000, "at most one second of rate");
        t.set_rate(None);
        assert_eq!(t.available(60_001), usize::MAX);
    }
}

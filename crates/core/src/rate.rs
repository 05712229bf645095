//! A keyed rate limiter (GCRA): each key may act `rate` times a second with a
//! burst of `burst`. State is one timestamp per key; idle keys are dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::clock::Timestamp;

#[derive(Debug)]
pub struct RateLimiter<K> {
    /// Milliseconds each action costs.
    interval_ms: i64,
    /// How far ahead of now a key's schedule may run.
    tolerance_ms: i64,
    /// Per key: the theoretical arrival time of its next action.
    next: Mutex<HashMap<K, i64>>,
}

impl<K: Eq + Hash + Copy> RateLimiter<K> {
    /// `rate` of 0 turns limiting off.
    pub fn new(rate: u32, burst: u32) -> Self {
        let interval_ms = if rate == 0 { 0 } else { (1000 / i64::from(rate)).max(1) };
        let tolerance_ms = interval_ms * i64::from(burst.max(1) - 1);
        Self { interval_ms, tolerance_ms, next: Mutex::new(HashMap::new()) }
    }

    /// Takes one action for `key`, or says in how many seconds to retry.
    pub fn check(&self, key: K, now: Timestamp) -> Result<(), u32> {
        if self.interval_ms == 0 {
            return Ok(());
        }
        let now = now.millis();
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if next.len() > 100_000 {
            next.retain(|_, t| *t > now);
        }
        let tat = next.get(&key).copied().unwrap_or(now).max(now);
        if tat - now > self.tolerance_ms {
            let wait_ms = tat - now - self.tolerance_ms;
            return Err(u32::try_from((wait_ms + 999) / 1000).unwrap_or(u32::MAX).max(1));
        }
        next.insert(key, tat + self.interval_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let rl = RateLimiter::new(10, 3);
        let t = Timestamp(1_000_000);
        assert!(rl.check(1, t).is_ok());
        assert!(rl.check(1, t).is_ok());
        assert!(rl.check(1, t).is_ok());
        assert_eq!(rl.check(1, t), Err(1));
        assert!(rl.check(2, t).is_ok(), "keys are independent");
        assert!(rl.check(1, Timestamp(t.0 + 100)).is_ok(), "one interval later one more is allowed");
        assert!(rl.check(1, Timestamp(t.0 + 100)).is_err());
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let rl = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            assert!(rl.check(1, Timestamp(0)).is_ok());
        }
    }
}

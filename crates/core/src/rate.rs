//! Rate limits by GCRA: an actor may act `rate` times a second with a burst
//! of `burst`. [`Gcra`] is one actor's schedule (one timestamp); the keyed
//! [`RateLimiter`] holds one per key and drops idle keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::clock::Timestamp;

/// One actor's rate: the theoretical arrival time of its next action.
#[derive(Debug, Clone, Copy)]
pub struct Gcra {
    /// Milliseconds each action costs; 0 turns limiting off.
    interval_ms: i64,
    /// How far ahead of now the schedule may run.
    tolerance_ms: i64,
    /// When the next action is due, in milliseconds.
    tat: i64,
}

impl Gcra {
    /// `rate` of 0 turns limiting off.
    pub fn new(rate: u32, burst: u32) -> Self {
        let interval_ms = if rate == 0 { 0 } else { (1000 / i64::from(rate)).max(1) };
        let tolerance_ms = interval_ms * i64::from(burst.max(1) - 1);
        Self { interval_ms, tolerance_ms, tat: i64::MIN }
    }

    /// Takes one action, or says in how many seconds to retry.
    pub fn check(&mut self, now: Timestamp) -> Result<(), u32> {
        if self.interval_ms == 0 {
            return Ok(());
        }
        let now = now.millis();
        let tat = self.tat.max(now);
        if tat - now > self.tolerance_ms {
            let wait_ms = tat - now - self.tolerance_ms;
            return Err(u32::try_from((wait_ms + 999) / 1000).unwrap_or(u32::MAX).max(1));
        }
        self.tat = tat + self.interval_ms;
        Ok(())
    }

    /// Whether the schedule has run out, so forgetting it changes nothing.
    fn idle(&self, now: i64) -> bool {
        self.tat <= now
    }
}

/// A [`Gcra`] per key, all with the same rate and burst.
#[derive(Debug)]
pub struct RateLimiter<K> {
    template: Gcra,
    next: Mutex<HashMap<K, Gcra>>,
}

impl<K: Eq + Hash + Copy> RateLimiter<K> {
    /// `rate` of 0 turns limiting off.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self { template: Gcra::new(rate, burst), next: Mutex::new(HashMap::new()) }
    }

    /// Takes one action for `key`, or says in how many seconds to retry.
    pub fn check(&self, key: K, now: Timestamp) -> Result<(), u32> {
        if self.template.interval_ms == 0 {
            return Ok(());
        }
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if next.len() > 100_000 {
            next.retain(|_, g| !g.idle(now.millis()));
        }
        next.entry(key).or_insert(self.template).check(now)
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
    fn one_schedule_refills_at_the_rate() {
        let mut g = Gcra::new(10, 2);
        let t = Timestamp(5_000);
        assert!(g.check(t).is_ok());
        assert!(g.check(t).is_ok());
        assert_eq!(g.check(t), Err(1));
        assert!(g.check(Timestamp(t.0 + 100)).is_ok());
        assert!(g.check(Timestamp(t.0 + 100)).is_err());
        assert!(g.check(Timestamp(t.0 + 10_000)).is_ok(), "a long pause gives the burst back");
        assert!(g.check(Timestamp(t.0 + 10_000)).is_ok());
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let rl = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            assert!(rl.check(1, Timestamp(0)).is_ok());
        }
    }
}

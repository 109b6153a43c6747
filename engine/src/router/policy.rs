//! The router's knobs, with the defaults of DESIGN §3.

use crate::failure::FailureClass;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Retry the same candidate only when the server asks for a wait this
    /// short or shorter…
    pub max_retry_wait_ms: i64,
    /// …and at most this many times per call.
    pub max_retries: u32,
    /// Cooldowns without a server hint: 30 s → 1 m → 5 m → 25 m.
    pub backoff_ms: Vec<i64>,
    /// Transient failures (5xx, overload, timeouts, broken streams) of one
    /// (provider, model) in a row before it is cooled down for everyone. One
    /// slow or unlucky call moves its own run on at once but does not take
    /// the model away from every other agent.
    pub transient_failures_before_cooldown: i64,
    /// Consecutive provider-health failures that open the circuit.
    pub circuit_failures: i64,
    /// First open period; doubles each time it reopens, up to the last step
    /// of `backoff_ms`.
    pub circuit_open_ms: i64,
    /// How long a probe holds its claim before another caller may probe.
    pub probe_lease_ms: i64,
    /// `fallback: codex`: wait before the one supervised restart of a
    /// failed Codex process.
    pub harness_restart_backoff_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_retry_wait_ms: 2_000,
            max_retries: 2,
            backoff_ms: vec![30_000, 60_000, 300_000, 1_500_000],
            transient_failures_before_cooldown: 2,
            circuit_failures: 5,
            circuit_open_ms: 30_000,
            probe_lease_ms: 120_000,
            harness_restart_backoff_ms: 1_000,
        }
    }
}

impl Policy {
    /// The cooldown after `failures` consecutive failures of `class`, or
    /// `None` when it should not cool down yet.
    pub fn cooldown_ms(
        &self,
        class: FailureClass,
        failures: i64,
        hint_ms: Option<i64>,
    ) -> Option<i64> {
        let step = if class.is_account_level() || hint_ms.is_some() {
            failures - 1
        } else {
            failures - self.transient_failures_before_cooldown
        };
        if step < 0 {
            return None;
        }
        let ladder = self.backoff_ms[(step as usize).min(self.backoff_ms.len() - 1)];
        Some(hint_ms.unwrap_or(ladder).max(class.min_cooldown_ms()))
    }

    pub fn circuit_open_for_ms(&self, times_opened: i64) -> i64 {
        let cap = *self.backoff_ms.last().unwrap_or(&self.circuit_open_ms);
        let doubled = self
            .circuit_open_ms
            .saturating_mul(1_i64 << times_opened.clamp(0, 20));
        doubled.min(cap.max(self.circuit_open_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureClass::*;

    #[test]
    fn cooldowns_follow_hints_then_the_ladder() {
        let p = Policy::default();
        assert_eq!(
            p.cooldown_ms(RateLimit, 1, Some(3_600_000)),
            Some(3_600_000)
        );
        assert_eq!(p.cooldown_ms(RateLimit, 1, None), Some(30_000));
        assert_eq!(p.cooldown_ms(RateLimit, 2, None), Some(60_000));
        assert_eq!(p.cooldown_ms(RateLimit, 3, None), Some(300_000));
        assert_eq!(p.cooldown_ms(RateLimit, 9, None), Some(1_500_000));
        assert_eq!(
            p.cooldown_ms(UsageLimit, 1, None),
            Some(600_000),
            "billing/usage: 10 min at least"
        );
        assert_eq!(p.cooldown_ms(Billing, 1, Some(5_000)), Some(600_000));
        assert_eq!(
            p.cooldown_ms(ServerError, 1, None),
            None,
            "one transient failure cools nothing"
        );
        assert_eq!(p.cooldown_ms(ServerError, 2, None), Some(30_000));
        assert_eq!(
            p.cooldown_ms(Overloaded, 1, Some(10_000)),
            Some(10_000),
            "a server's hint is honoured at once"
        );
    }

    #[test]
    fn circuit_periods_double_up_to_the_cap() {
        let p = Policy::default();
        let periods: Vec<i64> = (0..8).map(|n| p.circuit_open_for_ms(n)).collect();
        assert_eq!(
            periods,
            [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_500_000, 1_500_000]
        );
    }
}

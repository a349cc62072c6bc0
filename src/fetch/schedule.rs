//! When to poll a feed next: its interval after a success; exponential
//! backoff with jitter after failures, never sooner than Retry-After (as
//! clamped by [`crate::time::server_delay`]).

use std::time::Duration;

use crate::time::{backoff, server_delay};

/// The longest backoff after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Delay before the next poll. `errors_in_row` is 0 after a success.
/// `jitter` is a number in [0, 1) (random in production, fixed in tests).
pub fn next_delay(
    interval: Duration,
    errors_in_row: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    if errors_in_row == 0 {
        return interval;
    }
    let delay = backoff(
        interval.saturating_mul(2),
        errors_in_row,
        MAX_BACKOFF.max(interval),
        jitter,
    );
    delay.max(retry_after.map(server_delay).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_keeps_the_interval() {
        assert_eq!(
            next_delay(Duration::from_secs(60), 0, None, 0.3),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn failures_back_off_and_cap() {
        let i = Duration::from_secs(60);
        let d1 = next_delay(i, 1, None, 0.5);
        let d3 = next_delay(i, 3, None, 0.5);
        assert_eq!(d1, Duration::from_secs(120));
        assert_eq!(d3, Duration::from_secs(480));
        assert_eq!(next_delay(i, 30, None, 0.5), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_honoured() {
        let d = next_delay(
            Duration::from_secs(60),
            1,
            Some(Duration::from_secs(3600)),
            0.0,
        );
        assert_eq!(d, Duration::from_secs(3600));
    }

    #[test]
    fn a_hostile_retry_after_is_clamped() {
        let d = next_delay(
            Duration::from_secs(60),
            1,
            Some(Duration::from_secs(99_999_999_999_999)),
            0.0,
        );
        assert_eq!(d, crate::time::MAX_SERVER_DELAY);
    }
}

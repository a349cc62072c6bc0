//! Time arithmetic that cannot panic: every addition to a point in time
//! saturates, every delay a server chooses is clamped, and one backoff
//! function serves feeds and mail.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest delay a server may ask for (`Retry-After`): longer ones are
/// taken as this. A feed is polled again, and a message offered again, at
/// least once a day whatever a server says.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(24 * 3600);

/// `d` as a chrono duration; the largest one when `d` does not fit.
fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `t + d`, or the last representable time when that overflows.
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(to_chrono(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, or the first representable time when that overflows.
pub fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(to_chrono(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The time from `from` to `to`; zero when `to` is not later.
pub fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// A delay asked for by a server, clamped to [`MAX_SERVER_DELAY`].
pub fn server_delay(d: Duration) -> Duration {
    d.min(MAX_SERVER_DELAY)
}

/// Exponential backoff: `first` after one failure, doubling with each
/// further one, never above `cap`; spread by ±20 % (`jitter` in [0, 1),
/// random in production) so that what failed together does not retry
/// together.
pub fn backoff(first: Duration, failures: u32, cap: Duration, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    let base = first
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(cap);
    base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_saturate() {
        let now = Utc::now();
        assert_eq!(after(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(before(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            after(now, Duration::from_secs(60)) - now,
            chrono::Duration::seconds(60)
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(30), 1, s(3600), 0.5), s(30));
        assert_eq!(backoff(s(30), 2, s(3600), 0.5), s(60));
        assert_eq!(backoff(s(30), 7, s(3600), 0.5), s(1920));
        // The cap is reached (the old mail backoff stopped at 32 minutes).
        assert_eq!(backoff(s(30), 8, s(3600), 0.5), s(3600));
        assert_eq!(backoff(s(30), u32::MAX, s(3600), 0.99), s(3600));
        assert_eq!(backoff(Duration::MAX, 3, s(10), 0.0), s(8));
    }

    #[test]
    fn server_delays_are_clamped() {
        assert_eq!(
            server_delay(Duration::from_secs(99_999_999_999_999)),
            MAX_SERVER_DELAY
        );
        assert_eq!(
            server_delay(Duration::from_secs(120)),
            Duration::from_secs(120)
        );
    }
}

//! When to poll a feed next.
//!
//! After a success, the next poll waits the largest of:
//! - the feed's interval: the one the config sets (honoured as written,
//!   and then the feed's own hints are not consulted), else an adaptive one
//!   from how often the feed publishes, within `[poll] min_interval` ..
//!   `max_interval`;
//! - what the feed asks: RSS `<ttl>` or `sy:updatePeriod`, and the
//!   response's `Cache-Control: max-age`, each taken up to `max_interval`
//!   (a feed cannot make raqib miss a day of news);
//!
//! spread by up to +10 % so feeds started together do not poll in lockstep.
//! After failures: exponential backoff with jitter, never sooner than
//! Retry-After (as clamped by [`crate::time::server_delay`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::DEFAULT_INTERVAL;
use crate::time::{backoff, server_delay};

/// The longest backoff after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Publication times kept per feed to estimate how often it publishes.
pub const KEPT_DATES: usize = 20;

/// What a response said about polling it again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// `<ttl>` / `sy:updatePeriod` of the feed.
    pub ttl: Option<Duration>,
    /// `Cache-Control: max-age` of the response.
    pub max_age: Option<Duration>,
}

/// The bounds and settings a feed is scheduled with.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The interval set in the config for this feed, if any.
    pub configured: Option<Duration>,
    pub min_interval: Duration,
    pub max_interval: Duration,
}

/// The delay before the next poll, and what chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub delay: Duration,
    pub reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Configured,
    /// How often the feed publishes.
    Adaptive,
    /// No dates yet: the default interval.
    Default,
    Ttl,
    MaxAge,
    Backoff,
    RetryAfter,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Configured => "configured",
            Reason::Adaptive => "adaptive",
            Reason::Default => "default",
            Reason::Ttl => "feed ttl",
            Reason::MaxAge => "cache-control max-age",
            Reason::Backoff => "backoff",
            Reason::RetryAfter => "retry-after",
        }
    }
}

/// Adds `new` publication times to `kept`: dates in the future (beyond a
/// small clock skew) are the feed's mistakes and left out; the newest
/// [`KEPT_DATES`] distinct ones stay.
pub fn remember_dates(
    kept: &mut Vec<DateTime<Utc>>,
    new: impl IntoIterator<Item = DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    let latest = crate::time::after(now, Duration::from_secs(3600));
    kept.extend(new.into_iter().filter(|d| *d <= latest));
    kept.sort_unstable_by(|a, b| b.cmp(a));
    kept.dedup();
    kept.truncate(KEPT_DATES);
}

/// The mean time between publications over the kept dates, counted up to
/// `now` (so a feed that went quiet is polled less and less often), or
/// `None` with fewer than two dates.
pub fn publishing_gap(dates: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<Duration> {
    if dates.len() < 2 {
        return None;
    }
    let oldest = dates.iter().min()?;
    Some(crate::time::span(*oldest, now) / dates.len() as u32)
}

/// The next poll after a success. `jitter` is a number in [0, 1) (random
/// in production, fixed in tests).
pub fn after_success(
    policy: &Policy,
    dates: &[DateTime<Utc>],
    hints: Hints,
    now: DateTime<Utc>,
    jitter: f64,
) -> Plan {
    let plan = match policy.configured {
        Some(interval) => Plan {
            delay: interval,
            reason: Reason::Configured,
        },
        None => {
            let bounded = |d: Duration| d.clamp(policy.min_interval, policy.max_interval);
            let mut plan = match publishing_gap(dates, now) {
                // Polling twice per gap finds most items within half of it.
                Some(gap) => Plan {
                    delay: bounded(gap / 2),
                    reason: Reason::Adaptive,
                },
                None => Plan {
                    delay: bounded(DEFAULT_INTERVAL),
                    reason: Reason::Default,
                },
            };
            for (hint, reason) in [(hints.ttl, Reason::Ttl), (hints.max_age, Reason::MaxAge)] {
                if let Some(h) = hint.map(|h| h.min(policy.max_interval)) {
                    if h > plan.delay {
                        plan = Plan { delay: h, reason };
                    }
                }
            }
            plan
        }
    };
    Plan {
        delay: plan.delay.mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0)),
        ..plan
    }
}

/// The next poll after `errors_in_row` failures in a row.
pub fn after_failure(
    interval: Duration,
    errors_in_row: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Plan {
    let delay = backoff(
        interval.saturating_mul(2),
        errors_in_row,
        MAX_BACKOFF.max(interval),
        jitter,
    );
    match retry_after.map(server_delay) {
        Some(asked) if asked > delay => Plan {
            delay: asked,
            reason: Reason::RetryAfter,
        },
        _ => Plan {
            delay,
            reason: Reason::Backoff,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(configured: Option<u64>) -> Policy {
        Policy {
            configured: configured.map(Duration::from_secs),
            min_interval: Duration::from_secs(300),
            max_interval: Duration::from_secs(3600),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn every(minutes: i64, n: i64) -> Vec<DateTime<Utc>> {
        (0..n)
            .map(|i| now() - chrono::Duration::minutes(minutes * i))
            .collect()
    }

    #[test]
    fn a_configured_interval_is_honoured_as_written() {
        let hints = Hints {
            ttl: Some(Duration::from_secs(7200)),
            max_age: Some(Duration::from_secs(900)),
        };
        let p = after_success(&policy(Some(2)), &every(1, 10), hints, now(), 0.0);
        assert_eq!(p.delay, Duration::from_secs(2));
        assert_eq!(p.reason, Reason::Configured);
    }

    #[test]
    fn the_interval_adapts_to_how_often_a_feed_publishes() {
        let busy = after_success(&policy(None), &every(12, 10), Hints::default(), now(), 0.0);
        // Ten items twelve minutes apart: a gap of 10.8 min counted to now, polled at half.
        assert_eq!(busy.reason, Reason::Adaptive);
        assert_eq!(busy.delay, Duration::from_secs(324));
        let very_busy = after_success(&policy(None), &every(1, 10), Hints::default(), now(), 0.0);
        assert_eq!(very_busy.delay, Duration::from_secs(300), "the lower bound");
        let quiet = after_success(&policy(None), &every(600, 10), Hints::default(), now(), 0.0);
        assert_eq!(quiet.delay, Duration::from_secs(3600), "the upper bound");
        let unknown = after_success(&policy(None), &every(5, 1), Hints::default(), now(), 0.0);
        assert_eq!(
            (unknown.delay, unknown.reason),
            (DEFAULT_INTERVAL, Reason::Default)
        );
        // A feed that went quiet is polled less often as time passes.
        let later = now() + chrono::Duration::hours(3);
        let gone_quiet = after_success(&policy(None), &every(12, 10), Hints::default(), later, 0.0);
        assert!(gone_quiet.delay > busy.delay, "{gone_quiet:?}");
    }

    #[test]
    fn the_feeds_hints_lengthen_the_interval_up_to_the_bound() {
        let ttl = Hints {
            ttl: Some(Duration::from_secs(1800)),
            max_age: None,
        };
        let p = after_success(&policy(None), &every(1, 10), ttl, now(), 0.0);
        assert_eq!(
            (p.delay, p.reason),
            (Duration::from_secs(1800), Reason::Ttl)
        );
        let max_age = Hints {
            ttl: Some(Duration::from_secs(1800)),
            max_age: Some(Duration::from_secs(2400)),
        };
        let p = after_success(&policy(None), &every(1, 10), max_age, now(), 0.0);
        assert_eq!(
            (p.delay, p.reason),
            (Duration::from_secs(2400), Reason::MaxAge)
        );
        let huge = Hints {
            ttl: Some(Duration::from_secs(86_400 * 365)),
            max_age: None,
        };
        let p = after_success(&policy(None), &every(1, 10), huge, now(), 0.0);
        assert_eq!(p.delay, Duration::from_secs(3600));
    }

    #[test]
    fn jitter_spreads_by_at_most_a_tenth() {
        let a = after_success(&policy(None), &[], Hints::default(), now(), 0.0);
        let b = after_success(&policy(None), &[], Hints::default(), now(), 0.999);
        assert!(
            b.delay > a.delay && b.delay < a.delay.mul_f64(1.1),
            "{a:?} {b:?}"
        );
    }

    #[test]
    fn dates_from_the_future_are_not_kept_and_the_newest_stay() {
        let mut kept = Vec::new();
        let future = now() + chrono::Duration::days(400);
        remember_dates(&mut kept, every(1, 30).into_iter().chain([future]), now());
        assert_eq!(kept.len(), KEPT_DATES);
        assert_eq!(kept[0], now());
        assert!(!kept.contains(&future));
        remember_dates(&mut kept, [now()], now());
        assert_eq!(kept.len(), KEPT_DATES, "a date seen twice counts once");
    }

    #[test]
    fn failures_back_off_and_cap() {
        let i = Duration::from_secs(60);
        assert_eq!(
            after_failure(i, 1, None, 0.5).delay,
            Duration::from_secs(120)
        );
        assert_eq!(
            after_failure(i, 3, None, 0.5).delay,
            Duration::from_secs(480)
        );
        assert_eq!(after_failure(i, 30, None, 0.5).delay, MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = after_failure(
            Duration::from_secs(60),
            1,
            Some(Duration::from_secs(3600)),
            0.0,
        );
        assert_eq!(
            (p.delay, p.reason),
            (Duration::from_secs(3600), Reason::RetryAfter)
        );
    }

    #[test]
    fn a_hostile_retry_after_is_clamped() {
        let p = after_failure(
            Duration::from_secs(60),
            1,
            Some(Duration::from_secs(99_999_999_999_999)),
            0.0,
        );
        assert_eq!(p.delay, crate::time::MAX_SERVER_DELAY);
    }
}

//! The long-lived tasks beside the poll pipeline: delivery, digests,
//! housekeeping, systemd's watchdog. Each takes the shutdown signal and
//! selects on it wherever it waits.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::writer::WriterHandle;
use super::{notify_systemd, unwind_safe, Engine, Prune, PRUNE_EVERY};
use crate::time::{after, span};

/// How long delivery may go on after the stop signal: the message in
/// flight, not the rest (well inside the unit's `TimeoutStopSec`).
pub const DELIVERY_GRACE: Duration = Duration::from_secs(10);

/// The longest sleep of a task that waits for a time: the wall clock may
/// jump (suspend, NTP).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// Sleeps for `d` or until stop; true when told to stop.
pub async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.changed() => true,
    }
}

/// Sends what the outbox holds when it falls due: woken when the writer
/// adds to the outbox, or when the earliest waiting message falls due;
/// never by polling. When stopped, the message in flight may finish within
/// [`DELIVERY_GRACE`]; the rest wait in the outbox for the next start.
pub async fn delivery_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        let stop_flag = stop.clone();
        let drain = unwind_safe(engine.deliver_until(false, move || *stop_flag.borrow()));
        tokio::pin!(drain);
        let result = tokio::select! {
            r = &mut drain => r,
            _ = stop.changed() => match tokio::time::timeout(DELIVERY_GRACE, &mut drain).await {
                Ok(r) => r,
                Err(_) => {
                    warn!("a message was still in flight at shutdown; it stays in the outbox");
                    return;
                }
            },
        };
        let wait = match result {
            Ok(Ok(r)) => {
                if r.sent + r.failed > 0 {
                    debug!(
                        sent = r.sent,
                        failed = r.failed,
                        waiting = r.waiting,
                        "outbox drained"
                    );
                }
                r.next_due
                    .map_or(MAX_SLEEP, |d| span(Utc::now(), d).min(MAX_SLEEP))
            }
            Ok(Err(e)) => {
                error!(error = %e, "delivery failed");
                Duration::from_secs(30)
            }
            Err(panic) => {
                error!(panic = %panic, "internal error while delivering; retried later");
                Duration::from_secs(30)
            }
        };
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = engine.outbox_changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Hourly housekeeping through the writer: the retention window (on
/// start only if the last prune is an hour old: a reload restarts this).
///
/// Also asks `run` to reopen the store when the database has grown (the
/// rewrite happens as it opens), from the second round on: the store was
/// just opened, so a rewrite that could not be done then is tried again an
/// hour later rather than at once.
pub async fn maintenance_loop(
    engine: Arc<Engine>,
    writer: WriterHandle,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = true;
    loop {
        let pruned = tokio::select! {
            r = writer.prune(if first { Prune::IfDue } else { Prune::Now }) => r,
            _ = stop.changed() => return,
        };
        match pruned {
            Ok(_) if first => {}
            Ok(_) => match engine.store.has_grown() {
                Ok(true) => {
                    info!("the database has grown; reopening it to rewrite it");
                    engine.reopen.notify_one();
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "could not read the database's size"),
            },
            Err(e) => error!(error = %e, "pruning failed"),
        }
        first = false;
        if sleep_or_stop(PRUNE_EVERY, &mut stop).await {
            return;
        }
    }
}

/// Where the digest schedule reads the time: the system clock, or a start
/// time advanced by tokio's clock (tests pause and advance it).
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Virtual {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `base` now and follows tokio's (pausable) time.
    pub fn starting_at(base: DateTime<Utc>) -> Clock {
        Clock::Virtual {
            base,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Virtual { base, start } => after(*base, start.elapsed()),
        }
    }
}

/// Makes digests (through the writer) when they are due, until stopped.
pub async fn digest_loop(
    engine: Arc<Engine>,
    writer: WriterHandle,
    mut stop: watch::Receiver<bool>,
    clock: Clock,
) {
    if engine.config.digest.is_none() {
        return;
    }
    loop {
        let now = clock.now();
        let made = tokio::select! {
            r = writer.digests_due(now) => r,
            _ = stop.changed() => return,
        };
        let wait = match made {
            Ok((ids, next)) => {
                if !ids.is_empty() {
                    engine.outbox_changed.notify_one();
                }
                next.map_or(MAX_SLEEP, |n| span(now, n).max(Duration::from_millis(100)))
            }
            Err(e) => {
                error!(error = %e, "digest failed");
                Duration::from_secs(60)
            }
        };
        if sleep_or_stop(wait.min(MAX_SLEEP), &mut stop).await {
            return;
        }
    }
}

/// Feeds systemd's watchdog while the database answers.
pub async fn watchdog_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let period = Duration::from_micros(usec / 2);
    loop {
        if engine.store.feed_state("").is_ok() {
            notify_systemd(&[sd_notify::NotifyState::Watchdog]);
        }
        if sleep_or_stop(period, &mut stop).await {
            return;
        }
    }
}

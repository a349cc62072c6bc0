//! The scheduler: keeps every feed's next poll in a queue ordered by time
//! (loaded from the store, so a restart polls only what is due), starts a
//! poll task for each feed that falls due, and queues the feed again at
//! the time its poll chose. One poll per feed at a time; the bounds on
//! fetching and parsing are the poll stage's ([`super::poll::Limits`]).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::error;

use super::poll::{self, Limits};
use super::writer::{WriterHandle, Written};
use super::{DaemonError, Engine, PollReport};

/// Once every feed (`raqib once`), or each at its time until stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Once,
    Forever,
}

/// After a poll the writer could not store (the store is in trouble).
const AFTER_STORE_ERROR: Duration = Duration::from_secs(30);

/// Polls the configured feeds as `mode` says; returns the reports of the
/// polls that ended (for `once`: every feed's). When stopped, polls in
/// flight are cancelled: nothing of theirs was written, so they are polled
/// again at the next start; what the writer was handed is written.
pub(super) async fn poll_feeds(
    engine: Arc<Engine>,
    writer: WriterHandle,
    mode: Mode,
    mut stop: watch::Receiver<bool>,
    progress: indicatif::ProgressBar,
) -> Vec<Result<PollReport, DaemonError>> {
    let feeds = Arc::new(engine.config.feeds.clone());
    progress.set_length(feeds.len() as u64);
    let limits = Limits::new(engine.config.poll.concurrency);
    let now = Utc::now();
    let mut queue: BinaryHeap<Reverse<(DateTime<Utc>, usize)>> = BinaryHeap::new();
    for (i, f) in feeds.iter().enumerate() {
        let at = match mode {
            Mode::Once => now,
            Mode::Forever => engine
                .store
                .feed_state(f.url.as_str())
                .ok()
                .and_then(|s| s.next_poll)
                .unwrap_or(now),
        };
        queue.push(Reverse((at, i)));
    }
    let mut running: JoinSet<Result<Written, DaemonError>> = JoinSet::new();
    let mut feed_of: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut reports = Vec::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let now = Utc::now();
        while let Some(Reverse((at, i))) = queue.peek().copied() {
            if at > now {
                break;
            }
            queue.pop();
            let begun = poll::begin(&engine, &feeds[i]);
            let (engine, writer, feeds, limits) = (
                engine.clone(),
                writer.clone(),
                feeds.clone(),
                limits.clone(),
            );
            // Thousands of these may wait at once: each keeps what it
            // needs while waiting small (568 bytes), and allocates the
            // rest when it runs.
            let task = running.spawn(async move {
                let feed = &feeds[i];
                let (outcome, slot) = poll::poll(&engine, feed, &limits, begun).await;
                let write = Box::pin(writer.poll(feed.clone(), outcome, slot));
                write.await
            });
            feed_of.insert(task.id(), i);
        }
        if mode == Mode::Once && queue.is_empty() && running.is_empty() {
            break;
        }
        let wait = queue
            .peek()
            .map(|Reverse((at, _))| crate::time::span(now, *at))
            // Wake at least hourly: the wall clock may jump (suspend, NTP).
            .map_or(Duration::from_secs(3600), |w| {
                w.min(Duration::from_secs(3600))
            });
        tokio::select! {
            _ = stop.changed() => break,
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let (id, result) = match done {
                    Ok((id, r)) => (id, r),
                    Err(e) => {
                        // Polls never panic (see poll::poll); the writer
                        // catches its own. Should one still: retried later.
                        error!(error = %e, "poll task ended abnormally");
                        (e.id(), Err(DaemonError::Stopped))
                    }
                };
                let Some(i) = feed_of.remove(&id) else { continue };
                let next = match &result {
                    Ok(w) => w.next_poll,
                    Err(e) => {
                        error!(feed = %feeds[i].name, error = %e, "storing a poll failed");
                        crate::time::after(Utc::now(), AFTER_STORE_ERROR)
                    }
                };
                if mode == Mode::Forever {
                    queue.push(Reverse((next, i)));
                }
                reports.push(result.map(|w| w.report));
                progress.inc(1);
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
    running.abort_all();
    while running.join_next().await.is_some() {}
    progress.finish_and_clear();
    reports
}

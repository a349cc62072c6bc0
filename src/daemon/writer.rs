//! The writer: one task that alone writes items, stories, the copy index,
//! alerts and feed states while the daemon runs. Polls hand it their
//! [`Outcome`]s over a bounded channel (a slow disk slows the fetchers, it
//! never fills memory); housekeeping (retention, digests) goes through it
//! too, so no two writes ever race and no lock is held across an await.
//!
//! Its jobs run on the blocking pool, one batch at a time: sled's writes
//! are synchronous. The polls of a batch are staged and committed in one
//! transaction (see `store::staged` for why); a poll's reply, and the
//! wake-up of delivery for its alerts, wait for that commit.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use super::poll::{Outcome, Prepared};
use super::{DaemonError, Engine, PollReport, Prune};
use crate::config::FeedConfig;
use crate::fetch::schedule::{self, Hints, Plan, Policy};
use crate::store::{Alert, AlertKind, Copy, FeedState, Item, NewItem, Queued, StoreError};
use crate::time::after;
use crate::watchlist::AlertMode;

/// Work for the writer.
enum Job {
    Poll {
        feed: FeedConfig,
        outcome: Box<Outcome>,
        reply: oneshot::Sender<Result<Written, DaemonError>>,
    },
    Prune {
        when: Prune,
        reply: oneshot::Sender<Result<usize, DaemonError>>,
    },
    Digests {
        now: DateTime<Utc>,
        reply: oneshot::Sender<DigestsDue>,
    },
}

type DigestsDue = Result<(Vec<String>, Option<DateTime<Utc>>), DaemonError>;

/// What the writer did with a poll.
#[derive(Debug, Clone)]
pub(super) struct Written {
    pub report: PollReport,
    pub next_poll: DateTime<Utc>,
    /// A notice for the admin went to the outbox with the feed's state.
    notice: bool,
}

type Reply = oneshot::Sender<Result<Written, DaemonError>>;

/// Jobs waiting for the writer before senders wait.
const QUEUE: usize = 64;

/// A handle on the writer: cheap to clone; the writer ends when the last
/// handle is dropped and the jobs already sent are done.
#[derive(Clone)]
pub struct WriterHandle {
    jobs: mpsc::Sender<Job>,
}

/// Resolves when the writer has finished every job it was handed.
pub struct WriterDone(tokio::task::JoinHandle<()>);

impl WriterDone {
    pub async fn wait(self) {
        if let Err(e) = self.0.await {
            error!(error = %e, "the writer ended abnormally");
        }
    }
}

/// Jobs done in one trip to the blocking pool when they queue up (and
/// committed together). Round 1 of the 10,000-feed benchmark, runs side by
/// side: 16 took 30.3 and 31.6 s with a peak of 132-133 MB, 32 took 28.4
/// and 34.0 s with 143-146 MB.
const BATCH: usize = 16;

/// Items staged before the batch is committed, whatever the number of
/// polls: a batch's items are held three times until it is written (the
/// polls' results, their encodings, sled's transaction).
const BATCH_ITEMS: usize = 1000;

/// Starts the writer for `engine`: a task that takes jobs in order and
/// does them on the blocking pool (sled's writes block), a batch of those
/// waiting at a time, one batch at a time.
pub fn start(engine: Arc<Engine>) -> (WriterHandle, WriterDone) {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
    let done = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let engine = engine.clone();
            let run = tokio::task::spawn_blocking(move || {
                let mut polls: Vec<(Reply, Result<Written, DaemonError>)> = Vec::new();
                for job in batch {
                    match job {
                        Job::Poll {
                            feed,
                            outcome,
                            reply,
                        } => {
                            let written =
                                guarded(|| write_poll(&engine, &feed, *outcome, Utc::now()));
                            // A poll that panicked is dropped: its caller hears
                            // the writer is gone, and the feed is polled again.
                            if let Some(written) = written {
                                polls.push((reply, written));
                            }
                            // Feeds with thousands of entries: the batch is
                            // written before it holds more than a few MB.
                            if engine.store.staged_items() >= BATCH_ITEMS {
                                settle(&engine, &mut polls);
                            }
                        }
                        // Housekeeping reads what the polls before it wrote.
                        other => {
                            settle(&engine, &mut polls);
                            guarded(|| run_job(&engine, other));
                        }
                    }
                }
                settle(&engine, &mut polls);
            });
            if let Err(e) = run.await {
                error!(error = %e, "writer batch ended abnormally");
            }
        }
        debug!("writer done");
    });
    (WriterHandle { jobs: tx }, WriterDone(done))
}

/// Runs `f`, catching a panic: a bug some input reaches ends one job,
/// never the writer.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(t) => Some(t),
        Err(panic) => {
            let what = super::panic_message(panic.as_ref());
            error!(panic = %what, "internal error in the writer; the job is dropped");
            None
        }
    }
}

/// Commits what the polls staged, then answers them: with what they
/// wrote, or with the commit's error (nothing they staged was written, so
/// their feeds keep their old state and are fetched again).
fn settle(engine: &Engine, polls: &mut Vec<(Reply, Result<Written, DaemonError>)>) {
    let committed = engine.store.commit();
    if let Err(e) = &committed {
        error!(error = %e, polls = polls.len(), "writing a batch of polls failed");
    }
    let mut wake = false;
    for (reply, written) in polls.drain(..) {
        let answer = match (&committed, written) {
            (Ok(()), Ok(w)) => {
                metrics::counter!(crate::api::metrics::ITEMS).increment(w.report.new_items as u64);
                metrics::counter!(crate::api::metrics::COPIES).increment(w.report.copies as u64);
                wake |= w.report.alerts > 0 || w.notice;
                Ok(w)
            }
            (Err(e), Ok(_)) => Err(DaemonError::Store(StoreError::Unwritten(e.to_string()))),
            (_, Err(e)) => Err(e),
        };
        let _ = reply.send(answer);
    }
    if wake {
        engine.outbox_changed.notify_one();
    }
    engine.status_changed();
}

fn run_job(engine: &Engine, job: Job) {
    match job {
        // Polls are staged by the batch (see `start`).
        Job::Poll { .. } => {}
        Job::Prune { when, reply } => {
            let _ = reply.send(engine.prune_now(when));
        }
        Job::Digests { now, reply } => {
            let _ = reply.send(engine.digests_due_now(now));
        }
    }
}

/// The writer has stopped (the daemon is shutting down).
fn gone() -> DaemonError {
    DaemonError::Stopped
}

impl WriterHandle {
    /// Hands `job` to the writer.
    async fn submit(&self, job: Job) -> Result<(), DaemonError> {
        self.jobs.send(job).await.map_err(|_| gone())
    }

    /// Stores what a poll of `feed` found; returns when it is written.
    /// `slot` (the poll's, see [`super::poll::Limits`]) is let go once the
    /// writer's queue has taken the outcome.
    pub(super) async fn poll(
        &self,
        feed: FeedConfig,
        outcome: Outcome,
        slot: Option<tokio::sync::SemaphorePermit<'_>>,
    ) -> Result<Written, DaemonError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Poll {
            feed,
            outcome: Box::new(outcome),
            reply,
        })
        .await?;
        drop(slot);
        answer.await.map_err(|_| gone())?
    }

    /// Forgets what is past the retention window (see [`Engine::prune_now`]).
    pub async fn prune(&self, when: Prune) -> Result<usize, DaemonError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Prune { when, reply }).await?;
        answer.await.map_err(|_| gone())?
    }

    /// Makes the digests due at `now`; returns their ids and the next slot.
    pub async fn digests_due(&self, now: DateTime<Utc>) -> DigestsDue {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Digests { now, reply }).await?;
        answer.await.map_err(|_| gone())?
    }
}

/// Writes one poll's outcome: the new items with their alerts, then the
/// feed's state with its next poll (and a notice to the admin when the
/// feed broke or recovered).
fn write_poll(
    engine: &Engine,
    feed: &FeedConfig,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<Written, DaemonError> {
    let url = feed.url.as_str();
    let mut state = engine.store.feed_state(url)?;
    state.name = Some(feed.name.clone());
    let mut report = PollReport::default();
    let policy = Policy {
        configured: feed.interval.or(engine.config.poll.interval),
        min_interval: engine.config.poll.min_interval,
        max_interval: engine.config.poll.max_interval,
    };
    let (plan, notice) = match outcome {
        Outcome::Failed {
            message,
            retry_after,
        } => {
            report.failed = true;
            state.errors_in_row = state.errors_in_row.saturating_add(1);
            let since = *state.failing_since.get_or_insert(now);
            let plan = schedule::after_failure(
                engine.config.interval_of(feed),
                state.errors_in_row,
                retry_after,
                fastrand::f64(),
            );
            warn!(feed = %feed.name, error = %message, errors_in_row = state.errors_in_row,
                  retry_in = ?plan.delay, "poll failed");
            state.last_error = Some(message);
            // The feed a page linked may be gone: the page is read again.
            state.discovered = None;
            let broken =
                !state.admin_told && state.broken_for(now, engine.config.alerts.broken_feed_after);
            let notice = broken.then(|| {
                state.admin_told = true;
                warn!(feed = %feed.name, since = %since, "feed broken; telling the admin");
                Alert::feed_notice(
                    url,
                    &feed.name,
                    since,
                    state.last_error.clone(),
                    false,
                    now,
                    after(now, engine.config.alerts.notice_window()),
                )
            });
            (plan, notice)
        }
        Outcome::NotModified {
            max_age,
            moved_to,
            discovered,
        } => {
            report.not_modified = true;
            state.moved_to = moved_to;
            state.discovered = discovered;
            let hints = Hints { ttl: None, max_age };
            let plan = schedule::after_success(&policy, &state.dates, hints, now, fastrand::f64());
            (plan, recovered(&mut state, feed, now, &engine.config))
        }
        Outcome::Fresh {
            new,
            listed,
            listed_keys,
            dates,
            validators,
            ttl,
            max_age,
            moved_to,
            recovered: repaired,
            discovered,
        } => {
            report.entries = listed;
            let backlog = backlog_cutoff(&state, engine.config.alerts.max_age, now);
            for prepared in new {
                let id = prepared.entry.id.clone();
                match store_entry(engine, feed, prepared, backlog, now) {
                    Ok(Some(stored)) => {
                        report.new_items += 1;
                        report.copies += usize::from(stored.copy);
                        report.alerts += stored.alerts;
                        report.held += usize::from(stored.held);
                        state.items += 1;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        // A store failure is not the feed's fault: the old
                        // validators stay, so the entries are fetched again.
                        error!(feed = %feed.name, item = %id, error = %e, "storing an item failed");
                        engine.store.stage_feed_state(url, &state, None)?;
                        return Err(e);
                    }
                }
            }
            // Only now, with every new entry staged: an entry remembered
            // as listed is never looked up again.
            state.listed = listed_keys;
            state.etag = validators.etag;
            state.last_modified = validators.last_modified;
            state.moved_to = moved_to;
            if repaired.is_some() && state.recovered != repaired {
                info!(feed = %feed.name, repaired = ?repaired, "feed parsed after repairs");
            }
            state.recovered = repaired;
            state.discovered = discovered;
            schedule::remember_dates(&mut state.dates, dates, now);
            let hints = Hints { ttl, max_age };
            let plan = schedule::after_success(&policy, &state.dates, hints, now, fastrand::f64());
            (plan, recovered(&mut state, feed, now, &engine.config))
        }
    };
    if !report.failed {
        state.last_ok = Some(now);
        state.last_error = None;
        state.errors_in_row = 0;
        state.failing_since = None;
        info!(feed = %feed.name, entries = report.entries, new = report.new_items, copies = report.copies,
              alerts = report.alerts, not_modified = report.not_modified, next_in = ?plan.delay,
              interval = plan.reason.as_str(), "polled");
    }
    let Plan { delay, reason } = plan;
    let next_poll = after(now, delay);
    state.next_poll = Some(next_poll);
    state.interval_secs = Some(delay.as_secs());
    state.interval_reason = Some(reason.as_str().to_string());
    engine
        .store
        .stage_feed_state(url, &state, notice.as_ref())?;
    Ok(Written {
        report,
        next_poll,
        notice: notice.is_some(),
    })
}

/// After a success: the admin's notice that a feed they were told is
/// broken works again.
fn recovered(
    state: &mut FeedState,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    config: &crate::config::Config,
) -> Option<Alert> {
    let since = state.failing_since?;
    if !std::mem::take(&mut state.admin_told) {
        return None;
    }
    info!(feed = %feed.name, "feed recovered; telling the admin");
    Some(Alert::feed_notice(
        feed.url.as_str(),
        &feed.name,
        since,
        None,
        true,
        now,
        after(now, config.alerts.notice_window()),
    ))
}

/// On a feed's first success, or its first after failing longer than
/// `max_age`, what it carries is a backlog: entries published before the
/// returned time are stored but not alerted.
fn backlog_cutoff(
    state: &FeedState,
    max_age: std::time::Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let returning = state.last_ok.is_none_or(|ok| after(ok, max_age) <= now);
    returning.then(|| crate::time::before(now, max_age))
}

struct Stored {
    copy: bool,
    alerts: usize,
    /// An old entry of a backlog: stored without alerts.
    held: bool,
}

/// Deduplicates and stores one new entry with its alerts. `None` when it
/// was stored before.
fn store_entry(
    engine: &Engine,
    feed: &FeedConfig,
    prepared: Prepared,
    backlog: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<Stored>, DaemonError> {
    let Prepared {
        entry,
        text,
        fingerprint,
        matches,
    } = prepared;
    // Another feed of this round may have carried the same entry id.
    if engine.store.has_item(&entry.id)? {
        return Ok(None);
    }
    let copy = Copy {
        item: entry.id.clone(),
        feed_name: feed.name.clone(),
        title: entry.title.clone(),
        link: entry.link.clone(),
        seen: Some(now),
        published: entry.published,
    };
    let crate::dedup::Assignment { story, is_copy } = crate::dedup::assign(
        &engine.store,
        &fingerprint,
        &entry.id,
        &entry.title,
        copy,
        now,
    )?;
    let watchlist = engine.watchlist();
    let due = after(now, engine.config.alerts.window);
    let limit = engine.config.alerts.max_per_hour as usize;
    let mut alerts: Vec<Alert> = Vec::new();
    let mut queued: Vec<Queued> = Vec::new();
    let mut held: Vec<String> = Vec::new();
    // Undated entries count as new: nothing says they are old.
    let old = matches!((backlog, entry.published), (Some(cutoff), Some(p)) if p < cutoff);
    for m in &matches {
        let Some(topic) = watchlist.topic(&m.topic) else {
            continue;
        };
        let mut folded = false;
        let id = Alert::id_for(&story.id, &m.topic);
        if old {
            held.push(id);
            continue;
        }
        // A copy joining a story whose alert exists (or went out) adds nothing.
        if topic.alert == AlertMode::Immediate && !engine.store.has_alert(&id)? {
            let recent = if limit > 0 {
                engine
                    .store
                    .alerts_since(&m.topic, now - chrono::Duration::hours(1))?
            } else {
                0
            };
            if limit > 0 && recent >= limit {
                folded = true;
                info!(feed = %feed.name, item = %entry.id, topic = %m.topic, "hourly alert limit reached; story goes to the digest");
            } else {
                let kind = if limit > 0 && recent + 1 == limit {
                    AlertKind::StoryLastBeforeLimit
                } else {
                    AlertKind::Story
                };
                alerts.push(Alert {
                    id,
                    story: story.id.clone(),
                    topic: m.topic.clone(),
                    created: now,
                    due,
                    attempts: 0,
                    last_error: None,
                    kind,
                    failing_since: None,
                });
                // Without a limit nothing reads the times: with one, at
                // most `limit` a topic are kept (a list rewritten each time).
                if limit > 0 {
                    engine.store.note_alert(&m.topic, now)?;
                }
            }
        }
        queued.push(Queued {
            topic: m.topic.clone(),
            story: story.id.clone(),
            created: now,
            folded,
        });
    }
    let n_alerts = alerts.len();
    // Each webhook hears of a new story once, for the topics it follows,
    // whatever the topics' email settings; a backlog's stories are held
    // for it as for mail.
    for hook in &engine.config.webhooks {
        let topics: Vec<String> = matches
            .iter()
            .filter(|m| watchlist.topic(&m.topic).is_some() && hook.hears(&m.topic))
            .map(|m| m.topic.clone())
            .collect();
        let Some(first) = topics.first().cloned() else {
            continue;
        };
        let key = hook.key();
        let id = Alert::webhook_id(&story.id, &key);
        if old {
            held.push(id);
            continue;
        }
        if engine.store.has_alert(&id)? {
            continue;
        }
        alerts.push(Alert {
            id,
            story: story.id.clone(),
            topic: first,
            created: now,
            due,
            attempts: 0,
            last_error: None,
            kind: AlertKind::Webhook { hook: key, topics },
            failing_since: None,
        });
    }
    if old && !held.is_empty() {
        info!(feed = %feed.name, item = %entry.id, published = ?entry.published,
              "backlog entry older than max_age: stored, not alerted");
    }
    let is_held = !held.is_empty();
    let topics: Vec<String> = matches.iter().map(|m| m.topic.clone()).collect();
    let item = Item {
        id: entry.id.clone(),
        feed: feed.url.to_string(),
        feed_name: feed.name.clone(),
        title: entry.title,
        text,
        link: entry.link,
        published: entry.published,
        seen: now,
        story: story.id.clone(),
        matches,
        sample: Vec::new(),
    };
    let inserted = engine.store.stage(&NewItem {
        item,
        fingerprint,
        story,
        alerts,
        queued,
        held,
    })?;
    debug!(feed = %feed.name, item = %entry.id, copy = is_copy, alerts = n_alerts, "stored");
    if inserted {
        for t in topics {
            metrics::counter!(crate::api::metrics::MATCHES, "topic" => t).increment(1);
        }
    }
    Ok(inserted.then_some(Stored {
        copy: is_copy,
        alerts: if is_copy { 0 } else { n_alerts },
        held: is_held,
    }))
}

//! Wires the stages together: poll → parse → (article) → clean → dedup →
//! classify → store + outbox → deliver.
//!
//! `once` polls every feed and then delivers every pending alert. `run`
//! starts one task per feed (each waits for its next poll, bounded by a
//! global semaphore) and one delivery task, until it is told to stop. The
//! control channel is a parameter so tests start and stop the real daemon.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use tokio::sync::{mpsc, watch, Mutex, RwLock, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::config::{Config, ConfigError, FeedConfig};
use crate::feed::{self, Entry};
use crate::fetch::{schedule, FetchError, Fetched, Fetcher, Validators};
use crate::notify::{digest, DrainReport, Mailer, NotifyError};
use crate::store::{Alert, AlertKind, Copy, FeedState, Item, NewItem, Queued, Store, StoreError};
use crate::text::{self, fingerprint::Fingerprint};
use crate::time::after;
use crate::watchlist::{AlertMode, Watchlist};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("opening the database in {path}: {source}")]
    Open { path: PathBuf, source: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// What the daemon is told from outside (signals, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: re-read config and watchlist.
    Reload,
    /// SIGTERM / SIGINT: finish what is in flight and exit.
    Shutdown,
}

/// What one poll of one feed did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    /// The poll failed (fetch, parse, or an internal error): the feed's
    /// state holds the message and its next try.
    pub failed: bool,
    pub not_modified: bool,
    pub entries: usize,
    pub new_items: usize,
    pub copies: usize,
    pub alerts: usize,
}

/// The engine with everything it needs, shared by the tasks.
pub struct Engine {
    pub config: Config,
    pub store: Store,
    fetcher: Fetcher,
    mailer: Mailer,
    watchlist: RwLock<Arc<Watchlist>>,
    /// Items are processed one at a time: dedup reads the index, then writes it.
    process: Mutex<()>,
    /// Told by the maintenance task when the database should be rewritten:
    /// `run` then reopens the store (see [`crate::store::compact_if_grown`]).
    reopen: tokio::sync::Notify,
}

impl Engine {
    /// Loads the config's watchlist, opens the store and builds the clients.
    pub fn open(config: Config) -> Result<Engine, DaemonError> {
        let watchlist = config.load_watchlist()?;
        let open = || {
            Store::open(&config.storage).map_err(|source| DaemonError::Open {
                path: config.storage.clone(),
                source,
            })
        };
        let mut store = open()?;
        // Nothing else has the database open here: the moment to rewrite
        // it if sled let it grow. A failure leaves it as it was.
        if store.has_grown()? {
            drop(store);
            match crate::store::compact_if_grown(&config.storage) {
                Ok(Some(c)) => info!(
                    before_mb = c.before >> 20,
                    after_mb = c.after >> 20,
                    "database rewritten to give back the space sled kept"
                ),
                Ok(None) => {}
                Err(e) => warn!(error = %e, "could not rewrite the database; it stays as it is"),
            }
            store = open()?;
        }
        if let Some(was) = store.record_fold_hamza_seats(config.fold_hamza_seats)? {
            warn!(
                was,
                now = config.fold_hamza_seats,
                "[text] fold_hamza_seats changed: copies of items stored before may go unrecognised until they leave the retention window"
            );
        }
        let fetcher = Fetcher::new(&config.poll)?;
        let mailer = Mailer::new(&config.email)?
            .fold_stale_after(config.digest.as_ref().map(|_| config.alerts.stale_after));
        Ok(Engine {
            config,
            store,
            fetcher,
            mailer,
            watchlist: RwLock::new(Arc::new(watchlist)),
            process: Mutex::new(()),
            reopen: tokio::sync::Notify::new(),
        })
    }

    pub async fn watchlist(&self) -> Arc<Watchlist> {
        self.watchlist.read().await.clone()
    }

    pub async fn set_watchlist(&self, w: Watchlist) {
        *self.watchlist.write().await = Arc::new(w);
    }

    /// Polls one feed now and records the outcome in its state.
    pub async fn poll(&self, feed: &FeedConfig) -> Result<PollReport, DaemonError> {
        let url = feed.url.as_str();
        let mut state = self.store.feed_state(url)?;
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        let now = Utc::now();
        let result = match self.fetcher.fetch(&feed.url, &validators).await {
            Ok(Fetched::NotModified) => Ok((
                PollReport {
                    not_modified: true,
                    ..Default::default()
                },
                None,
            )),
            Ok(Fetched::Body {
                bytes,
                charset,
                validators,
            }) => match feed::parse(url, &bytes, charset.as_deref()) {
                Ok(entries) => Ok((
                    PollReport {
                        entries: entries.len(),
                        ..Default::default()
                    },
                    Some((entries, validators)),
                )),
                Err(e) => Err((e.to_string(), None)),
            },
            Err(e) => {
                let ra = e.retry_after();
                Err((e.to_string(), ra))
            }
        };
        let interval = self.config.interval_of(feed);
        match result {
            Ok((mut report, parsed)) => {
                if let Some((entries, v)) = parsed {
                    for entry in entries {
                        match self.process_entry(feed, entry).await {
                            Ok(Some(outcome)) => {
                                report.new_items += 1;
                                report.copies += usize::from(outcome.copy);
                                report.alerts += outcome.alerts;
                                state.items += 1;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                // A store failure is not the feed's fault: keep the
                                // validators so the entries are fetched again.
                                self.store.put_feed_state(url, &state)?;
                                return Err(e);
                            }
                        }
                    }
                    state.etag = v.etag;
                    state.last_modified = v.last_modified;
                }
                state.last_ok = Some(now);
                state.last_error = None;
                state.errors_in_row = 0;
                state.next_poll = Some(after(now, schedule::next_delay(interval, 0, None, 0.0)));
                info!(feed = %feed.name, entries = report.entries, new = report.new_items, copies = report.copies,
                      alerts = report.alerts, not_modified = report.not_modified, "polled");
                self.store.put_feed_state(url, &state)?;
                write_status_snapshot(&self.config, &self.store);
                Ok(report)
            }
            Err((message, retry_after)) => self.record_failure(feed, state, message, retry_after),
        }
    }

    /// Records a failed poll in the feed's state: the message, and the next
    /// try after the backoff (never sooner than the server asked).
    fn record_failure(
        &self,
        feed: &FeedConfig,
        mut state: FeedState,
        message: String,
        retry_after: Option<Duration>,
    ) -> Result<PollReport, DaemonError> {
        state.errors_in_row = state.errors_in_row.saturating_add(1);
        state.last_error = Some(message);
        let delay = schedule::next_delay(
            self.config.interval_of(feed),
            state.errors_in_row,
            retry_after,
            fastrand::f64(),
        );
        state.next_poll = Some(after(Utc::now(), delay));
        warn!(feed = %feed.name, error = %state.last_error.as_deref().unwrap_or_default(),
              errors_in_row = state.errors_in_row, retry_in = ?delay, "poll failed");
        self.store.put_feed_state(feed.url.as_str(), &state)?;
        write_status_snapshot(&self.config, &self.store);
        Ok(PollReport {
            failed: true,
            ..PollReport::default()
        })
    }

    /// [`Engine::poll`], with a panic anywhere in it (a bug that some input
    /// reached) turned into a failure of this feed alone: logged, recorded
    /// in the feed's state (so `feeds` shows it) and retried with backoff,
    /// while the other feeds go on.
    pub async fn poll_guarded(&self, feed: &FeedConfig) -> Result<PollReport, DaemonError> {
        match unwind_safe(self.poll(feed)).await {
            Ok(r) => r,
            Err(what) => {
                error!(feed = %feed.name, panic = %what, "internal error while polling; the feed is retried later");
                let state = self.store.feed_state(feed.url.as_str())?;
                self.record_failure(feed, state, format!("internal error: {what}"), None)
            }
        }
    }

    /// Cleans, deduplicates, classifies and stores one entry. `None` when
    /// the entry was stored before.
    async fn process_entry(
        &self,
        feed: &FeedConfig,
        entry: Entry,
    ) -> Result<Option<Processed>, DaemonError> {
        if self.store.has_item(&entry.id)? {
            return Ok(None);
        }
        let raw_text = match (&entry.link, feed.fetch_article) {
            (Some(link), true) => self.article_text(feed, &entry, link).await,
            _ => entry.text.clone(),
        };
        let cleaned = text::clean::clean_keyed(&raw_text);
        let fingerprint = Fingerprint::from_cleaned(&entry.title, &cleaned);
        let text = cleaned.text;
        let watchlist = self.watchlist().await;
        let matches = watchlist.classify(&entry.title, &text);

        let _guard = self.process.lock().await;
        if self.store.has_item(&entry.id)? {
            return Ok(None);
        }
        let now = Utc::now();
        let copy = Copy {
            item: entry.id.clone(),
            feed_name: feed.name.clone(),
            title: entry.title.clone(),
            link: entry.link.clone(),
        };
        let crate::dedup::Assignment { story, is_copy } = crate::dedup::assign(
            &self.store,
            &fingerprint,
            &entry.id,
            &entry.title,
            copy,
            now,
        )?;
        let due = after(now, self.config.alerts.window);
        let limit = self.config.alerts.max_per_hour as usize;
        let mut alerts: Vec<Alert> = Vec::new();
        let mut queued: Vec<Queued> = Vec::new();
        for m in &matches {
            let Some(topic) = watchlist.topic(&m.topic) else {
                continue;
            };
            let mut folded = false;
            let id = Alert::id_for(&story.id, &m.topic);
            // A copy joining a story whose alert exists (or went out) adds nothing.
            if topic.alert == AlertMode::Immediate && !self.store.has_alert(&id)? {
                let recent = if limit > 0 {
                    self.store
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
                    self.store.note_alert(&m.topic, now)?;
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
        let inserted = self.store.insert(&NewItem {
            item,
            fingerprint,
            story,
            alerts,
            queued,
        })?;
        debug!(feed = %feed.name, item = %entry.id, copy = is_copy, alerts = n_alerts, "stored");
        Ok(inserted.then_some(Processed {
            copy: is_copy,
            alerts: if is_copy { 0 } else { n_alerts },
        }))
    }

    /// The article page's main text, or the feed's text when the page cannot
    /// be had (the item is not lost for a slow site).
    async fn article_text(&self, feed: &FeedConfig, entry: &Entry, link: &str) -> String {
        let Ok(url) = url::Url::parse(link) else {
            return entry.text.clone();
        };
        match self.fetcher.fetch_page(&url).await {
            Ok(page) => {
                let main = text::extract::extract_main(&page);
                if main.trim().is_empty() {
                    entry.text.clone()
                } else {
                    main
                }
            }
            Err(e) => {
                warn!(feed = %feed.name, item = %entry.id, error = %e, "article fetch failed; using the feed text");
                entry.text.clone()
            }
        }
    }

    /// Delivers due alerts (all of them when `ignore_due`).
    pub async fn deliver(&self, ignore_due: bool) -> Result<DrainReport, DaemonError> {
        let watchlist = self.watchlist().await;
        let report = self
            .mailer
            .drain(&self.store, &watchlist, Utc::now(), ignore_due)
            .await?;
        self.store.flush().await?;
        Ok(report)
    }

    /// One round: every feed, then every pending alert.
    pub async fn once(&self) -> Result<OnceReport, DaemonError> {
        self.prune().await?;
        let results: Vec<Result<PollReport, DaemonError>> = stream::iter(self.config.feeds.iter())
            .map(|f| self.poll_guarded(f))
            .buffer_unordered(self.config.poll.concurrency)
            .collect()
            .await;
        let mut report = OnceReport {
            feeds: results.len(),
            ..OnceReport::default()
        };
        for r in results {
            let r = r?;
            report.feeds_failed += usize::from(r.failed);
            report.new_items += r.new_items;
        }
        report.delivery = self.deliver(true).await?;
        Ok(report)
    }
}

/// Runs `f`, turning a panic in it into `Err` with the panic's message, so
/// that a bug some input reaches ends one step of one task, never the task
/// or the daemon.
async fn unwind_safe<T>(f: impl std::future::Future<Output = T>) -> Result<T, String> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(f)
        .catch_unwind()
        .await
        .map_err(|panic| {
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        })
}

/// What `raqib once` did, for its summary line and exit status.
#[derive(Debug, Default, Clone)]
pub struct OnceReport {
    pub feeds: usize,
    pub feeds_failed: usize,
    pub new_items: usize,
    pub delivery: DrainReport,
}

impl OnceReport {
    /// The exit status: 3 when every feed failed, 4 when messages were due
    /// and none could be delivered (they stay in the outbox for the next
    /// run), 5 when both; else 0. A part failing (one outlet down, a server
    /// refusing midway) is routine, and shows in the summary and in `feeds`.
    pub fn exit_code(&self) -> u8 {
        let no_feed = self.feeds > 0 && self.feeds_failed == self.feeds;
        let no_delivery = self.delivery.failed > 0 && self.delivery.sent == 0;
        match (no_feed, no_delivery) {
            (false, false) => 0,
            (true, false) => 3,
            (false, true) => 4,
            (true, true) => 5,
        }
    }

    /// One line for the log or a cron mail.
    pub fn summary(&self) -> String {
        let d = &self.delivery;
        format!(
            "{} feeds polled, {} failed; {} new items; {} messages delivered, {} failed, {} waiting, {} folded into a digest",
            self.feeds, self.feeds_failed, self.new_items, d.sent, d.failed, d.waiting, d.folded
        )
    }
}

struct Processed {
    copy: bool,
    alerts: usize,
}

/// `raqib once`.
pub async fn once(config: Config) -> Result<OnceReport, DaemonError> {
    let engine = Engine::open(config)?;
    let report = engine.once().await?;
    engine.store.flush().await?;
    Ok(report)
}

/// `raqib run`: runs until `Control::Shutdown` (or the channel closes).
/// `Control::Reload` re-reads the config and watchlist; an invalid edit is
/// logged and the running configuration stays.
pub async fn run(
    config_path: &Path,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), DaemonError> {
    let config = Config::load(config_path)?;
    crate::text::normalize::set_fold_hamza_seats(config.fold_hamza_seats);
    let mut engine = Arc::new(Engine::open(config)?);
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    info!(feeds = engine.config.feeds.len(), "running");
    write_status_snapshot(&engine.config, &engine.store);
    loop {
        let (stop_tx, stop_rx) = watch::channel(false);
        let tasks = start_tasks(engine.clone(), stop_rx);
        let watched = modified(&engine.config.watchlist);
        let mut rewrite = false;
        let next = tokio::select! {
            c = control.recv() => c.unwrap_or(Control::Shutdown),
            () = file_changed(&engine.config.watchlist, watched) => {
                info!(file = %engine.config.watchlist.display(), "watchlist changed on disk");
                Control::Reload
            }
            () = engine.reopen.notified() => {
                rewrite = true;
                Control::Reload
            }
        };
        let _ = stop_tx.send(true);
        finish(tasks).await;
        if next == Control::Shutdown {
            break;
        }
        if rewrite {
            engine.store.flush().await?;
            let config = engine.config.clone();
            drop(engine);
            engine = Arc::new(Engine::open(config)?);
            continue;
        }
        notify_systemd(&[sd_notify::NotifyState::Reloading]);
        match reload(&engine, config_path).await {
            Ok(None) => info!("watchlist reloaded; the rest of the configuration is unchanged"),
            Ok(Some(new_config)) => {
                engine.store.flush().await?;
                let old_config = engine.config.clone();
                // Every task has ended, so this is the last handle on the
                // database: sled lets one handle at a time open it.
                drop(engine);
                engine = match Engine::open(new_config) {
                    Ok(e) => {
                        info!("configuration reloaded");
                        Arc::new(e)
                    }
                    Err(e) => {
                        error!(error = %e, "new configuration failed to start; keeping the old one");
                        Arc::new(Engine::open(old_config)?)
                    }
                };
            }
            Err(e) => error!(error = %e, "reload rejected; keeping the running configuration"),
        }
        notify_systemd(&[sd_notify::NotifyState::Ready]);
    }
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    engine.store.flush().await?;
    info!("stopped");
    Ok(())
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Returns once the file's modification time differs from `since`.
async fn file_changed(path: &Path, since: Option<std::time::SystemTime>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if modified(path) != since {
            return;
        }
    }
}

/// Applies a reload. Returns the new config when more than the watchlist
/// changed (the daemon restarts its tasks with it); `None` when only the
/// watchlist changed (swapped in place). Logs which sections changed, and
/// names those that only a restart applies.
async fn reload(engine: &Engine, path: &Path) -> Result<Option<Config>, ConfigError> {
    let config = Config::load(path)?;
    let watchlist = config.load_watchlist()?;
    let changed = changed_sections(&engine.config, &config);
    let restart_only: Vec<&str> = changed
        .iter()
        .copied()
        .filter(|s| RESTART_ONLY.contains(s))
        .collect();
    if !restart_only.is_empty() {
        warn!(keys = ?restart_only, "these settings change on restart, not on reload");
    }
    let applied: Vec<&str> = changed
        .into_iter()
        .filter(|s| !RESTART_ONLY.contains(s))
        .collect();
    if !applied.is_empty() {
        info!(sections = ?applied, "configuration changed");
    }
    engine.set_watchlist(watchlist).await;
    Ok((!applied.is_empty()).then_some(config))
}

/// Settings read once at start: the text engine's folding is process-wide
/// and the stored hashes were made with it.
const RESTART_ONLY: &[&str] = &["[text] fold_hamza_seats"];

/// The parts of the configuration that differ between `old` and `new`.
fn changed_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    // Every field of Config, so that a key added later is not forgotten
    // here: the destructuring fails to compile until it is named.
    let Config {
        file: _,
        watchlist,
        watchlist_set: _,
        storage,
        retention,
        poll,
        feeds,
        email,
        alerts,
        digest,
        fold_hamza_seats,
    } = old;
    let differs =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    let mut out = Vec::new();
    for (name, changed) in [
        ("watchlist", watchlist != &new.watchlist),
        ("[storage] path", storage != &new.storage),
        ("[storage] retention", retention != &new.retention),
        ("[poll]", differs(poll, &new.poll)),
        ("[[feeds]]", differs(feeds, &new.feeds)),
        ("[email]", differs(email, &new.email)),
        ("[alerts]", differs(alerts, &new.alerts)),
        ("[digest]", digest != &new.digest),
        (
            "[text] fold_hamza_seats",
            *fold_hamza_seats != new.fold_hamza_seats,
        ),
    ] {
        if changed {
            out.push(name);
        }
    }
    out
}

fn start_tasks(engine: Arc<Engine>, stop: watch::Receiver<bool>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let limit = Arc::new(Semaphore::new(engine.config.poll.concurrency));
    for feed in engine.config.feeds.clone() {
        set.spawn(feed_loop(engine.clone(), feed, limit.clone(), stop.clone()));
    }
    set.spawn(watchdog_loop(engine.clone(), stop.clone()));
    set.spawn(maintenance_loop(engine.clone(), stop.clone()));
    set.spawn(digest_loop(engine.clone(), stop.clone(), Clock::System));
    set.spawn(delivery_loop(engine, stop));
    set
}

async fn finish(mut tasks: JoinSet<()>) {
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            error!(error = %e, "task ended abnormally");
        }
    }
}

/// Sleeps for `d` or until stop; true when told to stop.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.changed() => true,
    }
}

async fn feed_loop(
    engine: Arc<Engine>,
    feed: FeedConfig,
    limit: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let next = engine
            .store
            .feed_state(feed.url.as_str())
            .ok()
            .and_then(|s| s.next_poll);
        let wait = next
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::ZERO);
        if sleep_or_stop(wait, &mut stop).await {
            return;
        }
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => p,
            _ = stop.changed() => return,
        };
        let Ok(_permit) = permit else { return };
        if let Err(e) = engine.poll_guarded(&feed).await {
            error!(feed = %feed.name, error = %e, "processing failed");
            // The store is in trouble; do not spin.
            if sleep_or_stop(Duration::from_secs(30), &mut stop).await {
                return;
            }
        }
    }
}

async fn delivery_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        match unwind_safe(engine.deliver(false)).await {
            Ok(Ok(r)) if r.sent + r.failed > 0 => debug!(
                sent = r.sent,
                failed = r.failed,
                waiting = r.waiting,
                "outbox drained"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => error!(error = %e, "delivery failed"),
            Err(panic) => error!(panic = %panic, "internal error while delivering; retried later"),
        }
        if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
            return;
        }
    }
}

fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(false, state) {
            warn!(error = %e, "sd_notify failed");
        }
    }
}

impl Engine {
    /// Forgets items older than the retention window.
    pub async fn prune(&self) -> Result<usize, DaemonError> {
        let _guard = self.process.lock().await;
        let before = crate::time::before(Utc::now(), self.config.retention);
        let n = self.store.prune(before)?;
        if n > 0 {
            info!(items = n, "forgot items past the retention window");
        }
        let urls: Vec<&str> = self.config.feeds.iter().map(|f| f.url.as_str()).collect();
        let gone = self.store.forget_feeds_except(&urls)?;
        if gone > 0 {
            info!(
                feeds = gone,
                "forgot the state of feeds no longer configured"
            );
        }
        Ok(n)
    }
}

/// Hourly housekeeping: the retention window.
///
/// Also asks `run` to reopen the store when the database has grown (the
/// rewrite happens as it opens), from the second round on: the store was
/// just opened, so a rewrite that could not be done then is tried again an
/// hour later rather than at once.
async fn maintenance_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let mut first = true;
    loop {
        match unwind_safe(engine.prune()).await {
            Ok(Ok(_)) if first => {}
            Ok(Ok(_)) => match engine.store.has_grown() {
                Ok(true) => {
                    info!("the database has grown; reopening it to rewrite it");
                    engine.reopen.notify_one();
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "could not read the database's size"),
            },
            Ok(Err(e)) => error!(error = %e, "pruning failed"),
            Err(panic) => error!(panic = %panic, "internal error while pruning; retried later"),
        }
        first = false;
        if sleep_or_stop(Duration::from_secs(3600), &mut stop).await {
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

impl Engine {
    /// Makes every digest that is due at `now`; returns the ids queued.
    /// A digest never made before starts its schedule now.
    pub async fn digests_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, Option<DateTime<Utc>>), DaemonError> {
        let Some(d) = &self.config.digest else {
            return Ok((Vec::new(), None));
        };
        let watchlist = self.watchlist().await;
        let _guard = self.process.lock().await;
        let mut made = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        for (key, topics) in digest::keys(d, &watchlist) {
            let last = match self.store.digest_last(&key)? {
                Some(l) => l,
                None => {
                    self.store.commit_digest(&key, now, None, &[])?;
                    now
                }
            };
            let slot = digest::next_slot(last, d);
            if slot <= now {
                if let Some(id) = digest::make(&self.store, d, &key, &topics, now)? {
                    info!(digest = %id, "digest made");
                    made.push(id);
                }
                let following = digest::next_slot(now, d);
                next = Some(next.map_or(following, |n| n.min(following)));
            } else {
                next = Some(next.map_or(slot, |n| n.min(slot)));
            }
        }
        Ok((made, next))
    }

    /// Makes every digest now, whatever the schedule (`raqib digest send`).
    pub async fn digests_now(&self, now: DateTime<Utc>) -> Result<Vec<String>, DaemonError> {
        // Without a [digest] table, one digest of all topics, sent even if empty.
        let d = self.config.digest.clone().unwrap_or(crate::config::Digest {
            at: Vec::new(),
            timezone: self.config.email.timezone,
            per_topic: false,
            send_empty: true,
        });
        let watchlist = self.watchlist().await;
        let _guard = self.process.lock().await;
        let mut made = Vec::new();
        for (key, topics) in digest::keys(&d, &watchlist) {
            if let Some(id) = digest::make(&self.store, &d, &key, &topics, now)? {
                made.push(id);
            }
        }
        Ok(made)
    }
}

/// Makes digests when they are due, until stopped.
pub async fn digest_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>, clock: Clock) {
    if engine.config.digest.is_none() {
        return;
    }
    loop {
        let now = clock.now();
        let wait = match unwind_safe(engine.digests_due(now)).await {
            Ok(Ok((_, Some(next)))) => (next - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(100)),
            Ok(Ok((_, None))) => Duration::from_secs(3600),
            Ok(Err(e)) => {
                error!(error = %e, "digest failed");
                Duration::from_secs(60)
            }
            Err(panic) => {
                error!(panic = %panic, "internal error while making digests; retried later");
                Duration::from_secs(60)
            }
        };
        // Wake at least hourly: the wall clock may jump (suspend, NTP).
        if sleep_or_stop(wait.min(Duration::from_secs(3600)), &mut stop).await {
            return;
        }
    }
}

/// Feeds systemd's watchdog while the database answers.
async fn watchdog_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
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

/// The file in the storage folder where a running daemon keeps the feeds
/// listing, for `raqib feeds` while the database is locked by the daemon.
const STATUS_FILE: &str = "feeds.json";

/// Writes the feeds listing next to the database (write, then rename).
fn write_status_snapshot(config: &Config, store: &Store) {
    let Ok(list) = feed_statuses(config, store) else {
        return;
    };
    let Ok(json) = serde_json::to_vec(&list) else {
        return;
    };
    let path = config.storage.join(STATUS_FILE);
    let tmp = config.storage.join(format!("{STATUS_FILE}.tmp"));
    if let Err(e) = std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path)) {
        debug!(error = %e, "could not write the status snapshot");
    }
}

/// The listing a running daemon last wrote, if any.
pub fn read_status_snapshot(config: &Config) -> Option<Vec<FeedStatus>> {
    let bytes = std::fs::read(config.storage.join(STATUS_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `feeds` listing: each configured feed with its state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FeedStatus {
    pub url: String,
    pub name: String,
    pub state: String,
    pub error: Option<String>,
    pub items: u64,
    pub last_ok: Option<DateTime<Utc>>,
    pub next_poll: Option<DateTime<Utc>>,
}

pub fn feed_statuses(config: &Config, store: &Store) -> Result<Vec<FeedStatus>, StoreError> {
    config
        .feeds
        .iter()
        .map(|f| {
            let s: FeedState = store.feed_state(f.url.as_str())?;
            Ok(FeedStatus {
                url: f.url.to_string(),
                name: f.name.clone(),
                state: if s.last_error.is_some() {
                    "error"
                } else {
                    "ok"
                }
                .to_string(),
                error: s.last_error,
                items: s.items,
                last_ok: s.last_ok,
                next_poll: s.next_poll,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        match Config::parse(Path::new("/x/raqib.toml"), extra) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn reload_names_every_changed_section() {
        let base = config("[[feeds]]\nurl = \"file:///f.xml\"\n");
        assert!(changed_sections(&base, &base).is_empty());
        let edited = config(
            "[storage]\nretention = \"1d\"\n[[feeds]]\nurl = \"file:///f.xml\"\n\
             [digest]\nat = [\"07:00\"]\n[text]\nfold_hamza_seats = false\n",
        );
        assert_eq!(
            changed_sections(&base, &edited),
            vec!["[storage] retention", "[digest]", "[text] fold_hamza_seats"]
        );
    }

    #[tokio::test]
    async fn a_panic_in_a_step_is_an_error_of_that_step() {
        let r: Result<(), String> = unwind_safe(async { panic!("bad input") }).await;
        assert_eq!(r, Err("bad input".to_string()));
        assert_eq!(unwind_safe(async { 7 }).await, Ok(7));
    }
}

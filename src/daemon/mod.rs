//! The daemon: the stages as tokio tasks joined by channels.
//!
//! ```text
//!  scheduler ──spawns──> poll task (per due feed)
//!                          │ host turn, then a slot of [poll] concurrency
//!                          │ fetch (async) → parse, clean, fingerprint,
//!                          │ classify (blocking pool, one job per core)
//!                          ▼
//!                   mpsc (bounded) ──> writer (one thread: dedup, items,
//!                                       alerts, feed states, retention,
//!                                       digests) ──Notify──> delivery
//!  api (unix socket, [http] listen), status (systemd STATUS= every 5 s
//!  when changed), maintenance (hourly,
//!  through the writer), digests (through the writer), watchdog
//! ```
//!
//! - [`scheduler`]: the queue of next polls; starts poll tasks.
//! - [`poll`]: fetch and prepare one feed; never writes.
//! - [`writer`]: the only writer of the store while the daemon runs.
//! - [`tasks`]: delivery, digests, maintenance, watchdog.
//! - [`status`]: the `feeds` listing, and the daemon's state for systemd.
//!
//! Every task takes the stop signal (a `watch` channel) and selects on it
//! wherever it waits. On stop, polls in flight are cancelled (nothing of
//! theirs was written: they run again at the next start), the writer
//! finishes the jobs it was handed, and delivery lets the message in flight
//! finish within [`tasks::DELIVERY_GRACE`]; all of it within
//! [`SHUTDOWN_GRACE`], under the unit's `TimeoutStopSec=30s`.
//!
//! `once` runs the same pipeline over every feed once, then delivers
//! every pending alert. The control channel of `run` is a parameter so
//! tests start and stop the real daemon.

mod poll;
mod scheduler;
pub mod status;
pub mod tasks;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError};
use crate::fetch::{FetchError, Fetcher};
use crate::notify::{digest, DrainReport, Mailer, NotifyError};
use crate::store::{Store, StoreError};
use crate::watchlist::Watchlist;

pub use status::{feed_statuses, FeedStatus};
pub use tasks::{digest_loop, Clock};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("opening the database in {path}")]
    Open { path: PathBuf, source: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("the daemon is stopping")]
    Stopped,
}

/// What the daemon is told from outside (signals, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: re-read config and watchlist.
    Reload,
    /// SIGTERM / SIGINT: finish what is in flight and exit.
    Shutdown,
}

/// The longest a stop waits for the tasks: then they are cancelled. Under
/// the unit's `TimeoutStopSec=30s`, so systemd never has to kill raqib.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

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
    /// New entries of a backlog older than `[alerts] max_age`: stored,
    /// not alerted.
    pub held: usize,
}

/// How often a daemon applies the retention window (see [`Engine::prune_every`]).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Whether [`Engine::prune_now`] applies the retention window whatever the
/// time of the last prune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    Now,
    IfDue,
}

/// What the tasks share: configuration, store, clients, the watchlist, and
/// the signals between tasks. Writes go through the writer.
pub struct Engine {
    pub config: Config,
    pub store: Store,
    fetcher: Fetcher,
    mailer: Mailer,
    watchlist: std::sync::RwLock<Arc<Watchlist>>,
    /// Told by the maintenance task when the database should be rewritten:
    /// `run` then reopens the store (see [`crate::store::compact_if_grown`]).
    reopen: tokio::sync::Notify,
    /// Told by the writer when it added to the outbox: wakes delivery.
    outbox_changed: tokio::sync::Notify,
    /// A feed's state changed since systemd's status line was written.
    status_dirty: AtomicBool,
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
        let mut mailer = Mailer::new(&config.email)?
            .fold_stale_after(config.digest.as_ref().map(|_| config.alerts.stale_after))
            .list_broken_after(config.alerts.list_broken_after());
        if !config.webhooks.is_empty() {
            for hook in &config.webhooks {
                for t in hook.topics.iter().flatten() {
                    if watchlist.topic(t).is_none() {
                        warn!(webhook = %hook.url, topic = %t, "a webhook names a topic the watchlist does not have");
                    }
                }
            }
            mailer = mailer.with_webhooks(
                crate::notify::webhook::Webhooks::new(&config.webhooks)
                    .map_err(NotifyError::from)?,
            );
        }
        Ok(Engine {
            config,
            store,
            fetcher,
            mailer,
            watchlist: std::sync::RwLock::new(Arc::new(watchlist)),
            reopen: tokio::sync::Notify::new(),
            outbox_changed: tokio::sync::Notify::new(),
            status_dirty: AtomicBool::new(true),
        })
    }

    /// Wakes delivery: the outbox has something new.
    pub fn outbox_changed(&self) {
        self.outbox_changed.notify_one();
    }

    pub fn watchlist(&self) -> Arc<Watchlist> {
        self.watchlist
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_watchlist(&self, w: Watchlist) {
        *self
            .watchlist
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(w);
    }

    /// A feed's state changed: systemd's status line is due for a rewrite.
    fn status_changed(&self) {
        self.status_dirty.store(true, Ordering::Release);
    }

    /// Delivers due alerts (all of them when `ignore_due`).
    pub async fn deliver(&self, ignore_due: bool) -> Result<DrainReport, DaemonError> {
        self.deliver_until(ignore_due, || false).await
    }

    /// [`Engine::deliver`], stopping before the next message once `stop`
    /// says so.
    pub async fn deliver_until(
        &self,
        ignore_due: bool,
        stop: impl Fn() -> bool + Send + Sync,
    ) -> Result<DrainReport, DaemonError> {
        let watchlist = self.watchlist();
        let report = self
            .mailer
            .drain(&self.store, &watchlist, Utc::now(), ignore_due, &stop)
            .await?;
        self.store.flush().await?;
        Ok(report)
    }

    /// One round: every feed through the pipeline, then every pending alert.
    pub async fn once(self: &Arc<Self>) -> Result<OnceReport, DaemonError> {
        self.once_showing(indicatif::ProgressBar::hidden()).await
    }

    /// [`Engine::once`], counting the feeds done on `progress`.
    pub async fn once_showing(
        self: &Arc<Self>,
        progress: indicatif::ProgressBar,
    ) -> Result<OnceReport, DaemonError> {
        let (writer, done) = writer::start(self.clone());
        writer.prune(Prune::IfDue).await?;
        let (_stop_tx, stop_rx) = watch::channel(false);
        let results = scheduler::poll_feeds(
            self.clone(),
            writer.clone(),
            scheduler::Mode::Once,
            stop_rx,
            progress,
        )
        .await;
        drop(writer);
        done.wait().await;
        let mut report = OnceReport {
            feeds: results.len(),
            ..OnceReport::default()
        };
        for r in results {
            let r = r?;
            report.feeds_failed += usize::from(r.failed);
            report.new_items += r.new_items;
            report.held += r.held;
        }
        report.delivery = self.deliver(true).await?;
        Ok(report)
    }

    /// Forgets items older than the retention window, and the state of
    /// feeds no longer configured (the writer's job while the daemon runs).
    ///
    /// With `Prune::IfDue`, the retention window is applied only when the
    /// last prune is at least [`Engine::prune_every`] old: a prune reads
    /// every tombstone and copy-index record, and `once` run from cron every
    /// few minutes, or a daemon reloaded often, would pay that each time.
    pub fn prune_now(&self, when: Prune) -> Result<usize, DaemonError> {
        let now = Utc::now();
        let due = match (when, self.store.last_pruned()?) {
            (Prune::Now, _) | (Prune::IfDue, None) => true,
            (Prune::IfDue, Some(last)) => {
                let every = i64::try_from(self.prune_every().as_secs()).unwrap_or(i64::MAX);
                // A last prune in the future means the clock went back.
                last > now.timestamp() || now.timestamp().saturating_sub(last) >= every
            }
        };
        let mut n = 0;
        if due {
            let before = crate::time::before(now, self.config.retention);
            n = self.store.prune(before)?;
            self.store.record_pruned(now)?;
            if n > 0 {
                info!(items = n, "forgot items past the retention window");
            }
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

    /// How often the retention window is applied: hourly, or more often
    /// when the window itself is shorter than a day.
    pub fn prune_every(&self) -> Duration {
        (self.config.retention / 24).min(PRUNE_EVERY)
    }

    /// Makes every digest that is due at `now`; returns the ids queued and
    /// the next slot (the writer's job while the daemon runs).
    /// A digest never made before starts its schedule now.
    pub fn digests_due_now(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, Option<DateTime<Utc>>), DaemonError> {
        let Some(d) = &self.config.digest else {
            return Ok((Vec::new(), None));
        };
        let watchlist = self.watchlist();
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
        let watchlist = self.watchlist();
        let mut made = Vec::new();
        for (key, topics) in digest::keys(&d, &watchlist) {
            if let Some(id) = digest::make(&self.store, &d, &key, &topics, now)? {
                made.push(id);
            }
        }
        Ok(made)
    }
}

/// Runs `f`, turning a panic in it into `Err` with the panic's message, so
/// that a bug some input reaches ends one step of one task, never the task
/// or the daemon.
fn unwind_safe<F: std::future::Future>(
    f: F,
) -> impl std::future::Future<Output = Result<F::Output, String>> {
    // A plain function, not `async`: an async one would keep `f` twice in
    // its state (the argument and the wrapped future), and every waiting
    // poll task carries this future.
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(f)
        .catch_unwind()
        .map(|r| r.map_err(|panic| panic_message(panic.as_ref())))
}

/// The message a panic was raised with (empty when it carried none).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// What `raqib once` did, for its summary line and exit status.
#[derive(Debug, Default, Clone)]
pub struct OnceReport {
    pub feeds: usize,
    pub feeds_failed: usize,
    pub new_items: usize,
    /// Of the new items, old backlog entries stored without alerts.
    pub held: usize,
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
        let held = if self.held > 0 {
            format!(" ({} older than [alerts] max_age, not alerted)", self.held)
        } else {
            String::new()
        };
        format!(
            "{} feeds polled, {} failed; {} new items{held}; {} messages delivered, {} failed, {} waiting, {} folded into a digest",
            self.feeds, self.feeds_failed, self.new_items, d.sent, d.failed, d.waiting, d.folded
        )
    }
}

/// `raqib once`; `progress` counts the feeds done.
pub async fn once(
    config: Config,
    progress: indicatif::ProgressBar,
) -> Result<OnceReport, DaemonError> {
    let engine = Arc::new(Engine::open(config)?);
    let report = engine.once_showing(progress).await?;
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
    crate::api::metrics::install();
    // Older releases kept a snapshot of the feeds here; the API serves it.
    let _ = std::fs::remove_file(engine.config.storage.join("feeds.json"));
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    info!(feeds = engine.config.feeds.len(), "running");
    loop {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (tasks, writer_done) = start_tasks(engine.clone(), stop_rx);
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
        if next == Control::Shutdown {
            notify_systemd(&[sd_notify::NotifyState::Stopping]);
            info!("stopping");
        }
        let _ = stop_tx.send(true);
        finish(tasks, writer_done).await;
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
    engine.store.flush().await?;
    info!("stopped");
    Ok(())
}

/// Starts the pipeline and the tasks beside it; returns them and the
/// writer's end (it ends when the last handle, held by the tasks, goes).
fn start_tasks(
    engine: Arc<Engine>,
    stop: watch::Receiver<bool>,
) -> (JoinSet<()>, writer::WriterDone) {
    let (writer, writer_done) = writer::start(engine.clone());
    let mut set = JoinSet::new();
    {
        let (engine, writer, stop) = (engine.clone(), writer.clone(), stop.clone());
        set.spawn(async move {
            let hidden = indicatif::ProgressBar::hidden();
            scheduler::poll_feeds(engine, writer, scheduler::Mode::Forever, stop, hidden).await;
        });
    }
    set.spawn(tasks::watchdog_loop(engine.clone(), stop.clone()));
    set.spawn(tasks::maintenance_loop(
        engine.clone(),
        writer.clone(),
        stop.clone(),
    ));
    set.spawn(tasks::digest_loop(
        engine.clone(),
        writer,
        stop.clone(),
        Clock::System,
    ));
    set.spawn(status::status_loop(engine.clone(), stop.clone()));
    set.spawn(crate::api::serve(engine.clone(), stop.clone()));
    set.spawn(crate::api::metrics::upkeep_loop(stop.clone()));
    set.spawn(tasks::delivery_loop(engine, stop));
    (set, writer_done)
}

/// Waits for the stopped tasks, then for the writer to finish the jobs it
/// was handed; whatever is still running after [`SHUTDOWN_GRACE`] is
/// cancelled.
async fn finish(mut tasks: JoinSet<()>, writer_done: writer::WriterDone) {
    let all = async {
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                error!(error = %e, "task ended abnormally");
            }
        }
        writer_done.wait().await;
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
        warn!(
            grace = ?SHUTDOWN_GRACE,
            "tasks still running at the end of the grace period were cancelled"
        );
    }
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
    engine.set_watchlist(watchlist);
    Ok((!applied.is_empty()).then_some(config))
}

/// Settings read once at start: the text engine's folding is process-wide
/// and the stored hashes were made with it.
const RESTART_ONLY: &[&str] = &["[text] fold_hamza_seats", "log_level"];

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
        webhooks,
        http,
        log_level,
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
        ("[[webhooks]]", webhooks != &new.webhooks),
        ("[http]", http != &new.http),
        ("log_level", log_level != &new.log_level),
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

fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(false, state) {
            warn!(error = %e, "sd_notify failed");
        }
    }
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
    fn a_panics_message_is_read_whether_fixed_or_formatted() {
        let fixed = std::panic::catch_unwind(|| panic!("fixed")).err();
        let n = 7;
        let formatted = std::panic::catch_unwind(|| panic!("formatted {n}")).err();
        let of = |p: Option<Box<dyn std::any::Any + Send>>| p.map(|p| panic_message(p.as_ref()));
        assert_eq!(of(fixed).as_deref(), Some("fixed"));
        assert_eq!(of(formatted).as_deref(), Some("formatted 7"));
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

    #[test]
    fn the_retention_window_is_applied_once_an_hour_unless_asked_now() -> Result<(), DaemonError> {
        use crate::store::test_support::{item, starting};
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let engine = Engine::open(config(&format!(
            "[storage]\npath = {:?}\nretention = \"2d\"\n",
            dir.path()
        )))?;
        assert_eq!(engine.prune_every(), Duration::from_secs(3600));
        let old = |id: &str| -> Result<(), DaemonError> {
            let mut it = item(id, id);
            it.seen = Utc::now() - chrono::Duration::days(3);
            let fp = crate::text::fingerprint::Fingerprint::new("t", "x");
            engine.store.insert(&starting(it, fp, id))?;
            Ok(())
        };
        old("a")?;
        // Never pruned: due.
        assert_eq!(engine.prune_now(Prune::IfDue)?, 1);
        old("b")?;
        assert_eq!(engine.prune_now(Prune::IfDue)?, 0, "pruned a moment ago");
        assert!(engine.store.item("b")?.is_some());
        assert_eq!(engine.prune_now(Prune::Now)?, 1);
        // An hour later it is due again; a last prune in the future (the
        // clock went back) makes it due too.
        old("c")?;
        engine
            .store
            .record_pruned(Utc::now() - chrono::Duration::minutes(61))?;
        assert_eq!(engine.prune_now(Prune::IfDue)?, 1);
        old("d")?;
        engine
            .store
            .record_pruned(Utc::now() + chrono::Duration::days(1))?;
        assert_eq!(engine.prune_now(Prune::IfDue)?, 1);
        // A short window is applied more often.
        let short = Engine {
            config: config("[storage]\nretention = \"1h\"\n"),
            ..engine
        };
        assert_eq!(short.prune_every(), Duration::from_secs(150));
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_feed_remembers_the_entries_it_listed_for_its_next_poll() -> Result<(), DaemonError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let feed = dir.path().join("f.xml");
        let write_feed = |guids: &[&str]| -> std::io::Result<()> {
            let items: String = guids
                .iter()
                .map(|g| {
                    format!(
                        "<item><guid>{g}</guid><title>خبر رقم {g} عن سوريا</title>\
                         <description>نص الخبر {g} عن المحادثات في جنيف</description></item>"
                    )
                })
                .collect();
            std::fs::write(
                &feed,
                format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"),
            )
        };
        let engine = Arc::new(Engine::open(config(&format!(
            "[storage]\npath = {:?}\n[[feeds]]\nurl = \"file://{}\"\n",
            dir.path().join("db"),
            feed.display()
        )))?);
        let url = engine.config.feeds[0].url.to_string();
        let listed = |engine: &Engine| -> Result<(Vec<u64>, Vec<u64>), DaemonError> {
            let mut keys = engine.store.feed_state(&url)?.listed;
            keys.sort_unstable();
            let mut stored = engine
                .store
                .items()
                .map(|i| i.map(|i| crate::store::listed_key(&i.id)))
                .collect::<Result<Vec<_>, _>>()?;
            stored.sort_unstable();
            Ok((keys, stored))
        };
        write_feed(&["g1", "g2"]).map_err(|e| StoreError::Sled(e.into()))?;
        assert_eq!(engine.once().await?.new_items, 2);
        let (keys, stored) = listed(&engine)?;
        assert_eq!(keys.len(), 2);
        assert_eq!(keys, stored);
        // One entry more, one gone: the state lists what the feed lists now,
        // and only the new entry is stored.
        write_feed(&["g3", "g2"]).map_err(|e| StoreError::Sled(e.into()))?;
        assert_eq!(engine.once().await?.new_items, 1);
        let (keys, stored) = listed(&engine)?;
        assert_eq!(keys.len(), 2);
        assert_eq!(stored.len(), 3);
        assert!(keys.iter().all(|k| stored.contains(k)));
        Ok(())
    }

    #[tokio::test]
    async fn a_panic_in_a_step_is_an_error_of_that_step() {
        let r: Result<(), String> = unwind_safe(async { panic!("bad input") }).await;
        assert_eq!(r, Err("bad input".to_string()));
        assert_eq!(unwind_safe(async { 7 }).await, Ok(7));
    }
}

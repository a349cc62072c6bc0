//! The feeds listing (`raqib feeds`, `/api/feeds`), and the daemon's
//! state as systemd shows it (`STATUS=`), updated by one task at most
//! every few seconds and only when a poll changed something: never once
//! per feed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::debug;

use super::Engine;
use crate::config::Config;
use crate::store::{FeedState, Store, StoreError};

/// How often systemd's status line is updated at most.
pub const STATUS_EVERY: Duration = Duration::from_secs(5);

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
    /// Where a permanent redirect said the feed lives now: the config
    /// should be updated to it.
    #[serde(default)]
    pub moved_to: Option<String>,
    /// The interval the last poll chose, in seconds, and what chose it.
    #[serde(default)]
    pub interval_secs: Option<u64>,
    #[serde(default)]
    pub interval_reason: Option<String>,
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    /// The feed parses only after repairs (named): it works, but its
    /// publisher should fix it.
    #[serde(default)]
    pub recovered: Option<String>,
    /// The configured URL is a page: the feed found on it (the config
    /// should name it).
    #[serde(default)]
    pub discovered: Option<String>,
}

impl FeedStatus {
    /// Its last poll failed.
    pub fn is_failing(&self) -> bool {
        self.state != "ok"
    }

    /// Failing, or working in a way its config or its publisher should
    /// change: moved permanently, found on a page, parsed after repairs.
    pub fn needs_a_look(&self) -> bool {
        self.is_failing()
            || self.moved_to.is_some()
            || self.discovered.is_some()
            || self.recovered.is_some()
    }
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
                moved_to: s.moved_to,
                interval_secs: s.interval_secs,
                interval_reason: s.interval_reason,
                failing_since: s.failing_since,
                recovered: s.recovered,
                discovered: s.discovered,
            })
        })
        .collect()
}

/// Tells systemd (`STATUS=`, shown by `systemctl status`) how the feeds
/// and the outbox stand, when polls changed something, at most every
/// [`STATUS_EVERY`].
pub(super) async fn status_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    loop {
        if engine.status_dirty.swap(false, Ordering::AcqRel) {
            let e = engine.clone();
            let line = tokio::task::spawn_blocking(move || status_line(&e)).await;
            match line {
                Ok(Ok(line)) => super::notify_systemd(&[sd_notify::NotifyState::Status(&line)]),
                Ok(Err(e)) => debug!(error = %e, "no status line"),
                Err(e) => debug!(error = %e, "no status line"),
            }
        }
        if super::tasks::sleep_or_stop(STATUS_EVERY, &mut stop).await {
            return;
        }
    }
}

/// "12 feeds ok, 1 failing; 3 alerts pending; last poll 14:02:11 UTC".
pub fn status_line(engine: &Engine) -> Result<String, StoreError> {
    let list = feed_statuses(&engine.config, &engine.store)?;
    let failing = list.iter().filter(|f| f.is_failing()).count();
    let pending = engine.store.outbox()?.len();
    let last = list
        .iter()
        .filter_map(|f| f.last_ok)
        .max()
        .map(|t| format!("; last poll {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default();
    Ok(format!(
        "{} feeds ok, {failing} failing; {pending} alerts pending{last}",
        list.len() - failing
    ))
}

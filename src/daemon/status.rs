//! The feeds listing (`raqib feeds`), and the snapshot of it a running
//! daemon keeps next to the database for readers while it holds the lock.
//! The snapshot is written by one task, at most every few seconds and only
//! when a poll changed something: never once per feed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::debug;

use super::Engine;
use crate::config::Config;
use crate::store::{FeedState, Store, StoreError};

/// The file in the storage folder where a running daemon keeps the feeds
/// listing, for `raqib feeds` while the database is locked by the daemon.
const STATUS_FILE: &str = "feeds.json";

/// How often the snapshot is rewritten at most.
pub const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Writes the feeds listing next to the database (write, then rename).
pub fn write_status_snapshot(config: &Config, store: &Store) {
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

/// Rewrites the snapshot when polls changed feed states, at most every
/// [`STATUS_EVERY`], and once more when stopped.
pub(super) async fn status_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        let stopped = super::tasks::sleep_or_stop(STATUS_EVERY, &mut stop).await;
        if engine.status_dirty.swap(false, Ordering::AcqRel) {
            let e = engine.clone();
            let _ = tokio::task::spawn_blocking(move || {
                write_status_snapshot(&e.config, &e.store);
            })
            .await;
        }
        if stopped {
            return;
        }
    }
}

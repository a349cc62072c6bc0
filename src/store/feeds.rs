//! What raqib remembers about a feed between polls.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{dec, enc, Store, StoreError};

/// What raqib remembers about a feed between polls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_ok: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[serde(default)]
    pub errors_in_row: u32,
    pub next_poll: Option<DateTime<Utc>>,
    #[serde(default)]
    pub items: u64,
    /// The feed's name when last polled (for the admin emails and digests).
    #[serde(default)]
    pub name: Option<String>,
    /// Since when the feed has been failing without a success in between.
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    /// The admin was told the feed is broken (and is owed the recovery).
    #[serde(default)]
    pub admin_told: bool,
    /// Where a 301/308 said the feed now lives: polled there until the
    /// config is updated.
    #[serde(default)]
    pub moved_to: Option<String>,
    /// The newest publication times seen in the feed (at most
    /// [`crate::fetch::schedule::KEPT_DATES`]): how often it publishes.
    #[serde(default)]
    pub dates: Vec<DateTime<Utc>>,
    /// The interval the last poll chose, and why (for `feeds`).
    #[serde(default)]
    pub interval_secs: Option<u64>,
    #[serde(default)]
    pub interval_reason: Option<String>,
    /// The last body parsed only after repairs: what they were.
    #[serde(default)]
    pub recovered: Option<String>,
    /// The configured URL is a page; the feed it links, polled instead.
    #[serde(default)]
    pub discovered: Option<String>,
    /// The entries the last body parsed listed (at most [`MAX_LISTED`]), by
    /// [`listed_key`]: stored, so the next poll knows them without looking
    /// each up (most entries of a feed are the ones it listed before).
    #[serde(default)]
    pub listed: Vec<u64>,
}

/// Entries a feed's state remembers as listed: enough for any feed's usual
/// window, small enough to rewrite at every poll and to keep while a poll
/// waits for its host (1.6 KB at most). Entries beyond are looked up in
/// the store.
pub const MAX_LISTED: usize = 200;

/// How a listed entry is remembered: a 64-bit hash of its id (a new entry
/// taken for one listed before is a 1 in ~10^16 chance per entry).
/// Persisted: the hash must never change.
pub fn listed_key(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

impl FeedState {
    /// True when the feed is failing and has been for at least `after`.
    pub fn broken_for(&self, now: DateTime<Utc>, after: std::time::Duration) -> bool {
        self.failing_since
            .is_some_and(|since| crate::time::after(since, after) <= now)
    }
}

impl Store {
    /// Forgets the state of every feed not in `configured` (a feed removed
    /// from the config); returns how many went.
    pub fn forget_feeds_except(&self, configured: &[&str]) -> Result<usize, StoreError> {
        // A set: with thousands of feeds, a scan per key would be quadratic.
        let configured: std::collections::HashSet<&[u8]> =
            configured.iter().map(|u| u.as_bytes()).collect();
        let mut gone = 0;
        for key in self.feeds.iter().keys() {
            let key = key?;
            if !configured.contains(key.as_ref()) {
                self.feeds.remove(key)?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    pub fn feed_state(&self, url: &str) -> Result<FeedState, StoreError> {
        if let Some(b) = self.staged().feed_state(url) {
            return dec("feeds", b);
        }
        Ok(self
            .feeds
            .get(url)?
            .map(|b| dec("feeds", &b))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn put_feed_state(&self, url: &str, state: &FeedState) -> Result<(), StoreError> {
        self.feeds.insert(url, enc("feeds", state)?)?;
        Ok(())
    }

    /// Stores a feed's state and, in the same transaction, a notice for the
    /// admin: a crash never sends the notice twice nor loses it.
    pub fn put_feed_state_with(
        &self,
        url: &str,
        state: &FeedState,
        notice: Option<&super::Alert>,
    ) -> Result<(), StoreError> {
        use sled::transaction::{ConflictableTransactionError, Transactional};
        let Some(notice) = notice else {
            return self.put_feed_state(url, state);
        };
        let s = enc("feeds", state)?;
        let n = enc("outbox", notice)?;
        (&self.feeds, &self.outbox).transaction(|(feeds, outbox)| {
            feeds.insert(url.as_bytes(), s.as_slice())?;
            outbox.insert(notice.id.as_bytes(), n.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Every stored feed state, by URL.
    pub fn feed_states(&self) -> Result<Vec<(String, FeedState)>, StoreError> {
        self.feeds
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((String::from_utf8_lossy(&k).into_owned(), dec("feeds", &v)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_of_feeds_no_longer_configured_is_forgotten() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let urls: Vec<String> = (0..2000)
            .map(|i| format!("https://site{i}.example/rss"))
            .collect();
        for (i, u) in urls.iter().enumerate() {
            let state = FeedState {
                items: i as u64,
                ..FeedState::default()
            };
            s.put_feed_state(u, &state)?;
        }
        // Every other feed stays configured.
        let kept: Vec<&str> = urls.iter().step_by(2).map(String::as_str).collect();
        assert_eq!(s.forget_feeds_except(&kept)?, 1000);
        let left = s.feed_states()?;
        assert_eq!(left.len(), 1000);
        assert!(left.iter().all(|(u, _)| kept.contains(&u.as_str())));
        assert_eq!(s.feed_state(&urls[4])?.items, 4);
        assert_eq!(s.forget_feeds_except(&kept)?, 0);
        Ok(())
    }
}

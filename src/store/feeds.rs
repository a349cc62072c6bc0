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
}

impl Store {
    /// Forgets the state of every feed not in `configured` (a feed removed
    /// from the config); returns how many went.
    pub fn forget_feeds_except(&self, configured: &[&str]) -> Result<usize, StoreError> {
        let mut gone = 0;
        for key in self.feeds.iter().keys() {
            let key = key?;
            if !configured.iter().any(|u| u.as_bytes() == key.as_ref()) {
                self.feeds.remove(key)?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    pub fn feed_state(&self, url: &str) -> Result<FeedState, StoreError> {
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
}

//! Persistent state in sled. The only module that imports sled.
//!
//! Trees:
//! - `items`: item id → [`Item`]
//! - `stories`: story id → [`Story`] (the first item and every copy)
//! - `fingerprints`: item id → [`Fingerprint`]
//! - `bands`: LSH band key (8 bytes) ‖ item id → story id
//! - `outbox`: alert id → [`Alert`], removed only once the mail server accepted it
//! - `sent`: alert id → time sent, so an alert is never created twice
//! - `feeds`: feed URL → [`FeedState`]
//!
//! An item, its story, its fingerprint and its alerts are written in one
//! transaction, so a crash leaves either all of them or none.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::text::fingerprint::Fingerprint;
use crate::watchlist::Match;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in {tree}: {source}")]
    Codec {
        tree: &'static str,
        source: serde_json::Error,
    },
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// One feed entry, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub feed: String,
    pub feed_name: String,
    pub title: String,
    /// Cleaned text: the feed's summary, or the extracted article.
    pub text: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub seen: DateTime<Utc>,
    pub story: String,
    #[serde(default)]
    pub matches: Vec<Match>,
}

/// An outlet's copy of a story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    pub item: String,
    pub feed_name: String,
    pub title: String,
    pub link: Option<String>,
}

/// One article and every copy of it that other outlets carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub id: String,
    pub title: String,
    pub created: DateTime<Utc>,
    pub copies: Vec<Copy>,
}

/// A pending immediate alert: one per story per topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub story: String,
    pub topic: String,
    pub created: DateTime<Utc>,
    /// Not sent before this time (grouping window, retry backoff).
    pub due: DateTime<Utc>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Alert {
    pub fn id_for(story: &str, topic: &str) -> String {
        format!("{story}/{topic}")
    }
}

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

/// What to write for one new item.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub item: Item,
    pub fingerprint: Fingerprint,
    /// The story after this item joined it (or the new story).
    pub story: Story,
    pub alerts: Vec<Alert>,
}

/// Handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    items: sled::Tree,
    stories: sled::Tree,
    fingerprints: sled::Tree,
    bands: sled::Tree,
    outbox: sled::Tree,
    sent: sled::Tree,
    feeds: sled::Tree,
}

fn enc<T: Serialize>(tree: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|source| StoreError::Codec { tree, source })
}

fn dec<T: DeserializeOwned>(tree: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|source| StoreError::Codec { tree, source })
}

fn band_prefix(key: u64) -> [u8; 8] {
    key.to_be_bytes()
}

impl Store {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new().path(path).open()?;
        Ok(Store {
            items: db.open_tree("items")?,
            stories: db.open_tree("stories")?,
            fingerprints: db.open_tree("fingerprints")?,
            bands: db.open_tree("bands")?,
            outbox: db.open_tree("outbox")?,
            sent: db.open_tree("sent")?,
            feeds: db.open_tree("feeds")?,
            db,
        })
    }

    /// Flushes to disk; called before exit and after deliveries.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    pub fn has_item(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.items.contains_key(id)?)
    }

    pub fn item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.items.get(id)?.map(|b| dec("items", &b)).transpose()
    }

    pub fn story(&self, id: &str) -> Result<Option<Story>, StoreError> {
        self.stories
            .get(id)?
            .map(|b| dec("stories", &b))
            .transpose()
    }

    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// Every stored item (for replays and tests).
    pub fn items(&self) -> impl Iterator<Item = Result<Item, StoreError>> + '_ {
        self.items.iter().map(|r| {
            let (_, v) = r?;
            dec("items", &v)
        })
    }

    /// The story of the first stored item that `fp` is a copy of.
    pub fn find_copy(&self, fp: &Fingerprint) -> Result<Option<String>, StoreError> {
        let mut checked: Vec<sled::IVec> = Vec::new();
        for key in fp.band_keys() {
            for entry in self.bands.scan_prefix(band_prefix(key)) {
                let (k, story) = entry?;
                let item_id = sled::IVec::from(&k[8..]);
                if checked.contains(&item_id) {
                    continue;
                }
                let Some(other) = self.fingerprints.get(&item_id)? else {
                    continue;
                };
                let other: Fingerprint = dec("fingerprints", &other)?;
                checked.push(item_id);
                if fp.compare(&other).duplicate {
                    return Ok(Some(String::from_utf8_lossy(&story).into_owned()));
                }
            }
        }
        Ok(None)
    }

    /// Writes an item with its fingerprint, story and alerts in one
    /// transaction. An alert that exists in the outbox or was sent is kept
    /// as it is. Returns false when the item was already stored.
    pub fn insert(&self, new: &NewItem) -> Result<bool, StoreError> {
        let item = enc("items", &new.item)?;
        let story = enc("stories", &new.story)?;
        let fp = enc("fingerprints", &new.fingerprint)?;
        let alerts: Vec<(String, Vec<u8>)> = new
            .alerts
            .iter()
            .map(|a| Ok((a.id.clone(), enc("outbox", a)?)))
            .collect::<Result<_, StoreError>>()?;
        let band_keys: Vec<Vec<u8>> = new
            .fingerprint
            .band_keys()
            .into_iter()
            .map(|k| {
                let mut key = band_prefix(k).to_vec();
                key.extend_from_slice(new.item.id.as_bytes());
                key
            })
            .collect();
        let id = new.item.id.as_bytes();
        let story_id = new.story.id.as_bytes();
        let inserted = (
            &self.items,
            &self.stories,
            &self.fingerprints,
            &self.bands,
            &self.outbox,
            &self.sent,
        )
            .transaction(|(items, stories, fps, bands, outbox, sent)| {
                if items.get(id)?.is_some() {
                    return Ok(false);
                }
                items.insert(id, item.as_slice())?;
                stories.insert(story_id, story.as_slice())?;
                fps.insert(id, fp.as_slice())?;
                for k in &band_keys {
                    bands.insert(k.as_slice(), story_id)?;
                }
                for (aid, a) in &alerts {
                    if outbox.get(aid.as_bytes())?.is_none() && sent.get(aid.as_bytes())?.is_none()
                    {
                        outbox.insert(aid.as_bytes(), a.as_slice())?;
                    }
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(true)
            })?;
        Ok(inserted)
    }

    /// Every alert in the outbox.
    pub fn outbox(&self) -> Result<Vec<Alert>, StoreError> {
        self.outbox.iter().map(|r| dec("outbox", &r?.1)).collect()
    }

    /// Records that the mail server accepted `alert`: removes it from the
    /// outbox and remembers it as sent, atomically.
    pub fn mark_sent(&self, alert: &Alert, at: DateTime<Utc>) -> Result<(), StoreError> {
        let when = enc("sent", &at)?;
        let id = alert.id.as_bytes();
        (&self.outbox, &self.sent).transaction(|(outbox, sent)| {
            outbox.remove(id)?;
            sent.insert(id, when.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Stores a changed alert (after a failed attempt).
    pub fn update_alert(&self, alert: &Alert) -> Result<(), StoreError> {
        // Only while it is still pending: a concurrent success wins.
        let id = alert.id.as_bytes();
        let v = enc("outbox", alert)?;
        let _ = self
            .outbox
            .fetch_and_update(id, |old| old.map(|_| v.clone()))?;
        Ok(())
    }

    pub fn was_sent(&self, alert_id: &str) -> Result<bool, StoreError> {
        Ok(self.sent.contains_key(alert_id)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, story: &str) -> Item {
        Item {
            id: id.into(),
            feed: "file:///f".into(),
            feed_name: "F".into(),
            title: "t".into(),
            text: "x".into(),
            link: None,
            published: None,
            seen: Utc::now(),
            story: story.into(),
            matches: vec![],
        }
    }

    #[test]
    fn insert_is_once_and_alerts_survive_reopen() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let alert = Alert {
            id: Alert::id_for("s1", "t"),
            story: "s1".into(),
            topic: "t".into(),
            created: Utc::now(),
            due: Utc::now(),
            attempts: 0,
            last_error: None,
        };
        let new = NewItem {
            item: item("a", "s1"),
            fingerprint: Fingerprint::new("عنوان", "نص"),
            story: Story {
                id: "s1".into(),
                title: "t".into(),
                created: Utc::now(),
                copies: vec![],
            },
            alerts: vec![alert.clone()],
        };
        {
            let s = Store::open(dir.path())?;
            assert!(s.insert(&new)?);
            assert!(!s.insert(&new)?);
            assert_eq!(s.outbox()?.len(), 1);
        }
        let s = Store::open(dir.path())?;
        assert_eq!(s.outbox()?, vec![alert.clone()]);
        s.mark_sent(&alert, Utc::now())?;
        assert!(s.outbox()?.is_empty());
        // A later item of the same story cannot re-create a sent alert.
        let mut again = new.clone();
        again.item.id = "b".into();
        assert!(s.insert(&again)?);
        assert!(s.outbox()?.is_empty());
        Ok(())
    }
}

//! What the commands that read the store answer, whether the CLI opened
//! the database itself or asked the running daemon for it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::watchlist::Watchlist;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no topic {0:?} in the watchlist")]
    NoTopic(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One stored item, as `items --json` and `/api/items` list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRow {
    pub id: String,
    pub title: String,
    pub feed: String,
    pub feed_name: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub seen: DateTime<Utc>,
    pub story: String,
    pub topics: Vec<String>,
}

/// Hands `f` each item seen after `after` (all when `None`) matching
/// `topic` (any when `None`), newest first, one at a time: a listing of
/// months of items never holds them all (the CLI prints each, the API
/// sends each).
pub fn each_item<E: From<StoreError>>(
    store: &Store,
    after: Option<DateTime<Utc>>,
    topic: Option<&str>,
    mut f: impl FnMut(ItemRow) -> Result<(), E>,
) -> Result<(), E> {
    for item in store.items_newest_first(after) {
        let item = item?;
        if topic.is_some_and(|t| !item.matches.iter().any(|m| m.topic == t)) {
            continue;
        }
        f(ItemRow {
            topics: item.matches.iter().map(|m| m.topic.clone()).collect(),
            id: item.id,
            title: item.title,
            feed: item.feed,
            feed_name: item.feed_name,
            link: item.link,
            published: item.published,
            seen: item.seen,
            story: item.story,
        })?;
    }
    Ok(())
}

/// `watchlist test`: the stored items replayed through `wl`, as text.
pub fn watchlist_test(
    store: &Store,
    wl: &Watchlist,
    after: Option<DateTime<Utc>>,
    topic: Option<&str>,
    progress: &indicatif::ProgressBar,
) -> Result<String, QueryError> {
    if let Some(id) = topic.filter(|id| wl.topic(id).is_none()) {
        return Err(QueryError::NoTopic(id.to_string()));
    }
    let report = crate::replay::replay(store, wl, after, topic, progress)?;
    progress.finish_and_clear();
    Ok(crate::replay::render(&report))
}

/// A digest as it would go out now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The next digest of `topic` (of every topic when `None`), in the zone
/// the sent one uses.
pub fn digest_preview(
    cfg: &Config,
    store: &Store,
    wl: &Watchlist,
    topic: Option<&str>,
) -> Result<Preview, QueryError> {
    let topics: Vec<String> = match topic {
        Some(id) if wl.topic(id).is_none() => return Err(QueryError::NoTopic(id.to_string())),
        Some(id) => vec![id.to_string()],
        None => wl.topics.iter().map(|t| t.id.clone()).collect(),
    };
    let queued = crate::notify::digest::queued(store, &topics)?;
    let sections = crate::notify::digest::sections(store, wl, &topics, &queued)?;
    let now = Utc::now();
    let broken = crate::notify::digest::broken_feeds(store, now, cfg.alerts.list_broken_after())?;
    let r = crate::notify::render::digest(&sections, &broken, now, cfg.email.timezone);
    Ok(Preview {
        subject: r.subject,
        text: r.text,
        html: r.html,
    })
}

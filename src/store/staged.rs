//! Writes held for one commit: the writer stages the items and feed states
//! of a batch of polls and commits them in one transaction.
//!
//! Why: sled seals its log buffer twice for every transaction (before and
//! after the marker that makes it atomic), and each seal is a write handed
//! to sled's I/O threads, all of which wake for it. One transaction per
//! item made the first round of the 10,000-feed benchmark spend more time
//! in the kernel (thread wake-ups, 1.5 million context switches) than in
//! raqib. A batch costs those two seals once.
//!
//! While a batch is staged, the reads the writer makes to decide the next
//! item (`has_item`, `item`, `sample`, `story`, `record`, `has_alert`,
//! `feed_state`) see the staged writes, so an item can be a copy of one
//! staged before it. A crash before the commit loses the whole batch,
//! feed states with it: the feeds keep their old validators and their
//! entries are fetched and stored again.

use std::collections::{HashMap, HashSet};

use sled::transaction::{ConflictableTransactionError, Transactional};

use super::items::item_key;
use super::outbox::queue_key;
use super::sketches::SketchRecord;
use super::{enc, Alert, FeedState, NewItem, Store, StoreError, Story};
use crate::text::fingerprint::Sketch;

/// One item's records, encoded.
struct StagedItem {
    id: String,
    item: Vec<u8>,
    /// When it was first seen (seconds): its tombstone, and with its id
    /// the key of the item and of its sample (see `items::item_key`).
    seen: i64,
    sample: Option<Vec<u8>>,
    story_id: String,
    /// The story's key (see [`Store::story_key`]).
    story_key: Vec<u8>,
    /// The story's record; none for the story the item starts (see
    /// [`super::Story::started_by`]).
    story: Option<Vec<u8>>,
    slot: u32,
    record: Vec<u8>,
    alerts: Vec<(String, Vec<u8>)>,
    held: Vec<String>,
    held_at: Vec<u8>,
    queued: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One feed's state, with the admin's notice that goes with it.
struct StagedFeed {
    url: String,
    state: Vec<u8>,
    notice: Option<(String, Vec<u8>)>,
}

/// What waits for the next commit, and where reads find it.
#[derive(Default)]
pub(super) struct Staged {
    items: Vec<StagedItem>,
    feeds: Vec<StagedFeed>,
    /// Item id → its place in `items`.
    by_id: HashMap<String, usize>,
    /// Sketch slot → its item's place in `items`.
    by_slot: HashMap<u32, usize>,
    /// Story id → its newest encoding (copies join a story in order).
    stories: HashMap<String, Vec<u8>>,
    /// Alerts staged into the outbox or marked sent.
    alerts: HashSet<String>,
    /// Feed URL → its newest place in `feeds`.
    feed_at: HashMap<String, usize>,
}

impl Staged {
    pub(super) fn has_item(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub(super) fn item(&self, id: &str) -> Option<&[u8]> {
        self.by_id.get(id).map(|&i| self.items[i].item.as_slice())
    }

    /// The sample of a staged item: `Some(None)` when it has none.
    pub(super) fn sample(&self, id: &str) -> Option<Option<&[u8]>> {
        self.by_id.get(id).map(|&i| self.items[i].sample.as_deref())
    }

    /// When a staged item was first seen.
    pub(super) fn seen(&self, id: &str) -> Option<i64> {
        self.by_id.get(id).map(|&i| self.items[i].seen)
    }

    pub(super) fn story(&self, id: &str) -> Option<&[u8]> {
        self.stories.get(id).map(Vec::as_slice)
    }

    pub(super) fn record(&self, slot: u32) -> Option<&[u8]> {
        self.by_slot
            .get(&slot)
            .map(|&i| self.items[i].record.as_slice())
    }

    pub(super) fn has_alert(&self, id: &str) -> bool {
        self.alerts.contains(id)
    }

    pub(super) fn feed_state(&self, url: &str) -> Option<&[u8]> {
        self.feed_at
            .get(url)
            .map(|&i| self.feeds[i].state.as_slice())
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty() && self.feeds.is_empty()
    }
}

impl Store {
    /// Stages an item with its sketch, story and alerts for the next
    /// [`Store::commit`], and adds its sketch to the copy index. Returns
    /// false when the item is stored or staged already.
    pub fn stage(&self, new: &NewItem) -> Result<bool, StoreError> {
        if self.has_item(&new.item.id)? {
            return Ok(false);
        }
        let (item, sample) = if new.item.sample.is_empty() {
            (enc("items", &new.item)?, new.fingerprint.wide_sample())
        } else {
            let mut item = new.item.clone();
            let sample = std::mem::take(&mut item.sample);
            (enc("items", &item)?, sample)
        };
        // A title-only item has none: no entry (sled spends ~75 bytes on one).
        let sample = (!sample.is_empty()).then(|| Sketch::encode_sample(&sample));
        let slot = self.new_slot()?;
        let record = SketchRecord {
            sketch: new.fingerprint.sketch(),
            seen: new.item.seen.timestamp(),
            item: new.item.id.clone(),
            story: new.story.id.clone(),
        };
        let staged = StagedItem {
            id: new.item.id.clone(),
            item,
            seen: new.item.seen.timestamp(),
            sample,
            story_id: new.story.id.clone(),
            story_key: if new.story.id == new.item.id {
                item_key(new.item.seen.timestamp(), &new.story.id)
            } else {
                self.story_key(&new.story.id)?
            },
            story: (new.story != Story::started_by(&new.item))
                .then(|| enc("stories", &new.story))
                .transpose()?,
            slot,
            record: record.to_bytes(),
            alerts: new
                .alerts
                .iter()
                .map(|a| Ok((a.id.clone(), enc("outbox", a)?)))
                .collect::<Result<_, StoreError>>()?,
            held: new.held.clone(),
            held_at: enc("sent", &new.item.seen)?,
            queued: new
                .queued
                .iter()
                .map(|q| Ok((queue_key(&q.topic, &q.story), enc("digest_queue", q)?)))
                .collect::<Result<_, StoreError>>()?,
        };
        // Indexed first: building the index is what can fail, and an item
        // staged is an item committed.
        self.index_sketch(slot, &new.fingerprint, &record)?;
        {
            let mut st = self.staged();
            let at = st.items.len();
            st.by_id.insert(staged.id.clone(), at);
            st.by_slot.insert(slot, at);
            match &staged.story {
                Some(story) => st.stories.insert(staged.story_id.clone(), story.clone()),
                None => st.stories.remove(&staged.story_id),
            };
            for (aid, _) in &staged.alerts {
                st.alerts.insert(aid.clone());
            }
            for aid in &staged.held {
                st.alerts.insert(aid.clone());
            }
            st.items.push(staged);
        }
        Ok(true)
    }

    /// How many items are staged.
    pub fn staged_items(&self) -> usize {
        self.staged().items.len()
    }

    /// Stages a feed's state and, with it, a notice for the admin: the
    /// commit writes both or neither, so a crash never sends the notice
    /// twice nor loses it.
    pub fn stage_feed_state(
        &self,
        url: &str,
        state: &FeedState,
        notice: Option<&Alert>,
    ) -> Result<(), StoreError> {
        let feed = StagedFeed {
            url: url.to_string(),
            state: enc("feeds", state)?,
            notice: notice
                .map(|n| Ok::<_, StoreError>((n.id.clone(), enc("outbox", n)?)))
                .transpose()?,
        };
        let mut st = self.staged();
        let at = st.feeds.len();
        st.feed_at.insert(feed.url.clone(), at);
        if let Some((id, _)) = &feed.notice {
            st.alerts.insert(id.clone());
        }
        st.feeds.push(feed);
        Ok(())
    }

    /// Writes everything staged in one transaction. An alert that exists
    /// in the outbox or was sent is kept as it is. On failure nothing
    /// staged is written, and the copy index forgets the staged sketches.
    /// Staging and committing are the writer's alone (one thread).
    pub fn commit(&self) -> Result<(), StoreError> {
        let staged = std::mem::take(&mut *self.staged());
        if staged.is_empty() {
            return Ok(());
        }
        let written = (
            &self.items,
            &self.samples,
            &self.stories,
            &self.sketches,
            &self.outbox,
            &self.sent,
            &self.digest_queue,
            &self.tombstones,
            &self.feeds,
        )
            .transaction(
                |(items, samples, stories, sketches, outbox, sent, queue, tombs, feeds)| {
                    // `stage` turned away items stored or staged before: with
                    // one writer, nothing stored one since (reading the
                    // tombstones again was a disk read an item).
                    for it in &staged.items {
                        let key = item_key(it.seen, &it.id);
                        items.insert(key.as_slice(), it.item.as_slice())?;
                        tombs.insert(it.id.as_bytes(), &it.seen.to_be_bytes())?;
                        if let Some(sample) = &it.sample {
                            samples.insert(key.as_slice(), sample.as_slice())?;
                        }
                        if let Some(story) = &it.story {
                            stories.insert(it.story_key.as_slice(), story.as_slice())?;
                        }
                        sketches.insert(&it.slot.to_be_bytes(), it.record.as_slice())?;
                        for (aid, a) in &it.alerts {
                            if outbox.get(aid.as_bytes())?.is_none()
                                && sent.get(aid.as_bytes())?.is_none()
                            {
                                outbox.insert(aid.as_bytes(), a.as_slice())?;
                            }
                        }
                        for aid in &it.held {
                            if outbox.get(aid.as_bytes())?.is_none()
                                && sent.get(aid.as_bytes())?.is_none()
                            {
                                sent.insert(aid.as_bytes(), it.held_at.as_slice())?;
                            }
                        }
                        for (k, q) in &it.queued {
                            // A story is queued once per topic: its first item decides.
                            if queue.get(k.as_slice())?.is_none() {
                                queue.insert(k.as_slice(), q.as_slice())?;
                            }
                        }
                    }
                    for f in &staged.feeds {
                        feeds.insert(f.url.as_bytes(), f.state.as_slice())?;
                        if let Some((id, n)) = &f.notice {
                            outbox.insert(id.as_bytes(), n.as_slice())?;
                        }
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                },
            );
        match written {
            Ok(()) => {
                self.note_seen(staged.items.iter().map(|it| it.id.as_str()));
                if let Some(high) = staged.items.iter().map(|it| it.slot).max() {
                    self.fold_behind_or_warn(high);
                }
                Ok(())
            }
            Err(e) => {
                // The staged sketches are in the index without records:
                // lookups would skip them, but the index is dropped (built
                // again at its next use) so that it holds what is stored.
                if !staged.items.is_empty() {
                    self.drop_index();
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::dedup::{assign, find_copy};
    use crate::store::test_support::*;
    use crate::store::Copy;
    use crate::text::fingerprint::Fingerprint;

    const BODY: &str = "قال وزير الخارجية الروسي إن المحادثات مع الولايات المتحدة حول سوريا متوقفة منذ أسابيع طويلة.\nوأضاف أن موسكو مستعدة لاستئناف الحوار مع واشنطن في أي وقت إذا توفرت الإرادة السياسية.";

    fn copy(id: &str) -> Copy {
        Copy {
            item: id.into(),
            feed_name: "F".into(),
            title: "t".into(),
            link: None,
            seen: Some(Utc::now()),
            published: None,
        }
    }

    /// Stages item "a" (story "a", alert "a/t") and a new etag for its
    /// feed, with `notice` beside it.
    fn stage_a(s: &Store, fp: &Fingerprint, notice: Option<&Alert>) -> Result<(), StoreError> {
        let mut first = starting(item("a", "a"), fp.clone(), "a");
        first.alerts.push(alert("a/t", "a"));
        assert!(s.stage(&first)?);
        assert!(!s.stage(&first)?, "staged twice");
        let mut state = s.feed_state("file:///f")?;
        state.etag = Some("v2".into());
        s.stage_feed_state("file:///f", &state, notice)
    }

    #[test]
    fn a_batch_is_read_back_before_its_commit_and_written_whole() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fp = Fingerprint::new("عنوان الخبر", BODY);
        {
            let s = Store::open(dir.path())?;
            stage_a(&s, &fp, Some(&alert("notice", "")))?;
            // The next item of the same batch sees the first: as stored,
            // as a copy, and its alert as existing.
            assert!(s.has_item("a")? && s.item("a")?.is_some() && s.has_alert("a/t")?);
            assert_eq!(find_copy(&s, &fp)?, Some("a".to_string()));
            let joined = assign(&s, &fp, "b", "عنوان", copy("b"), Utc::now())?;
            assert!(joined.is_copy);
            let second = NewItem {
                story: joined.story,
                ..starting(item("b", "a"), fp.clone(), "a")
            };
            assert!(s.stage(&second)?);
            assert_eq!(s.feed_state("file:///f")?.etag.as_deref(), Some("v2"));
            // Nothing is in sled yet.
            assert!(!s.tombstones.contains_key("a")? && s.outbox()?.is_empty());
            s.commit()?;
        }
        let s = Store::open(dir.path())?;
        assert!(s.has_item("a")? && s.has_item("b")?);
        let story = s.story("a")?.ok_or(StoreError::Schema)?;
        assert_eq!(story.copies.len(), 1, "the copy joined the staged story");
        assert_eq!(s.outbox()?.len(), 2, "the item's alert and the notice");
        assert_eq!(s.feed_state("file:///f")?.etag.as_deref(), Some("v2"));
        // The copy index is built from what the commit wrote.
        assert_eq!(find_copy(&s, &fp)?, Some("a".to_string()));
        Ok(())
    }

    #[test]
    fn a_batch_never_committed_leaves_nothing() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fp = Fingerprint::new("عنوان الخبر", BODY);
        {
            let s = Store::open(dir.path())?;
            stage_a(&s, &fp, None)?;
            s.db.flush()?;
            // Dropped here, as a crash would: the batch is gone whole.
        }
        let s = Store::open(dir.path())?;
        assert!(!s.has_item("a")? && s.story("a")?.is_none() && s.outbox()?.is_empty());
        assert_eq!(s.feed_state("file:///f")?.etag, None);
        assert_eq!(find_copy(&s, &fp)?, None);
        Ok(())
    }
}

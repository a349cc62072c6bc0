//! Items, stories, samples and tombstones: what one feed entry leaves in the
//! store, written in one transaction with its sketch and alerts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::seen::Seen;
use super::{dec, Store, StoreError, SEEN_FOR};
use super::{Alert, Queued};
use crate::text::fingerprint::{Fingerprint, Sketch};
use crate::watchlist::Match;

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
    /// The smallest shingle hashes of the body
    /// ([`Fingerprint::wide_sample`]), as items stored before the `samples`
    /// tree held them; empty in newer items. [`Store::insert`] stores a
    /// sample given here (or else the fingerprint's) in that tree, and
    /// [`Store::sample`] reads either.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "packed_hashes")]
    pub sample: Vec<u32>,
}

/// The part of a stored item a copy lookup reads first.
#[derive(Deserialize)]
struct SampleOnly {
    #[serde(default, with = "packed_hashes")]
    sample: Vec<u32>,
}

/// Hashes as base64 of their little-endian bytes: 256 of them take 1,366
/// characters instead of about 2,800 as a JSON array.
mod packed_hashes {
    use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|h| h.to_le_bytes()).collect();
        s.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD_NO_PAD.decode(text).map_err(D::Error::custom)?;
        if bytes.len() % 4 != 0 {
            return Err(D::Error::custom(
                "packed hashes: length not a multiple of 4",
            ));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// An outlet's copy of a story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    pub item: String,
    pub feed_name: String,
    pub title: String,
    pub link: Option<String>,
    /// When raqib first saw it (stories stored by older releases lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<DateTime<Utc>>,
    /// When the outlet says it published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
}

/// One article and every copy of it that other outlets carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub id: String,
    pub title: String,
    pub created: DateTime<Utc>,
    pub copies: Vec<Copy>,
}

impl Copy {
    /// When the outlet reported it, as far as raqib can tell: the outlet's
    /// own time where it is plausible (not after raqib saw it; copies found
    /// in one round are seen together, and told apart by it), else when
    /// raqib saw it.
    pub fn reported_at(&self) -> Option<DateTime<Utc>> {
        match (self.seen, self.published) {
            (Some(s), Some(p)) if p <= s => Some(p),
            (Some(s), _) => Some(s),
            (None, p) => p,
        }
    }
}

impl Story {
    /// The story `item` starts when no stored story has it as a copy:
    /// what [`crate::dedup::assign`] makes for a new story. Such a story
    /// has no record of its own (most stories never get a second copy):
    /// it is read from its item, and written only once a copy joins it
    /// (or its item is pruned while an alert for it waits).
    pub fn started_by(item: &Item) -> Story {
        Story {
            id: item.id.clone(),
            title: item.title.clone(),
            created: item.seen,
            copies: vec![Copy {
                item: item.id.clone(),
                feed_name: item.feed_name.clone(),
                title: item.title.clone(),
                link: item.link.clone(),
                seen: Some(item.seen),
                published: item.published,
            }],
        }
    }

    /// When the story was first reported: its earliest copy's time, or
    /// when it was stored.
    pub fn first_reported(&self) -> DateTime<Utc> {
        self.copies
            .iter()
            .filter_map(Copy::reported_at)
            .min()
            .unwrap_or(self.created)
    }
}

/// What to write for one new item.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub item: Item,
    pub fingerprint: Fingerprint,
    /// The story after this item joined it (or the new story).
    pub story: Story,
    pub alerts: Vec<Alert>,
    /// Entries for the digests of the topics it matched.
    pub queued: Vec<Queued>,
    /// Alerts settled without a message (a new feed's old backlog): marked
    /// as sent, so a later copy of the story does not alert either.
    pub held: Vec<String>,
}

/// When a tombstone's item was first seen (seconds, big-endian i64);
/// `None` for a value of another length.
fn tombstone_time(value: &[u8]) -> Option<i64> {
    value.try_into().map(i64::from_be_bytes).ok()
}

/// The key of an item and of its sample: when it was first seen (seconds,
/// as its tombstone says), then its id. Items arrive in the order they are
/// seen, so a new one lands at the end of the tree, in pages sled keeps in
/// memory; keyed by id alone, each went to a random page that sled read
/// back from disk first (most of round 1's writing time on the
/// 10,000-feed benchmark).
pub(super) fn item_key(seen: i64, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    key.extend_from_slice(&u64::try_from(seen).unwrap_or(0).to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// Decodes an entry of the items tree, leaving out an item seen before
/// `after` (its key's time is in seconds).
fn seen_since(
    after: Option<DateTime<Utc>>,
) -> impl Fn(sled::Result<(sled::IVec, sled::IVec)>) -> Option<Result<Item, StoreError>> {
    move |entry| {
        let item = entry
            .map_err(StoreError::from)
            .and_then(|(_, v)| dec::<Item>("items", &v));
        match item {
            Ok(item) if after.is_some_and(|a| item.seen < a) => None,
            other => Some(other),
        }
    }
}

/// True for a key made by [`item_key`]: its first byte is that of a time
/// before the year two billion, 0; an id (a text) never begins with NUL.
fn is_item_key(key: &[u8]) -> bool {
    key.len() > 8 && key[0] == 0
}

/// Moves every entry of `tree` still keyed by id to the key `new_key`
/// gives it (none: the entry goes), a thousand per batch. New keys sort
/// before every old one (they begin with 0), so the scan never meets what
/// it wrote.
fn rekey(
    tree: &sled::Tree,
    new_key: impl Fn(&[u8], &[u8]) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<(), StoreError> {
    const CHUNK: usize = 1000;
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for entry in tree.iter() {
        let (key, value) = entry?;
        if is_item_key(&key) {
            continue;
        }
        if let Some(new) = new_key(&key, &value)? {
            batch.insert(new, value);
        }
        batch.remove(key);
        n += 1;
        if n % CHUNK == 0 {
            tree.apply_batch(std::mem::take(&mut batch))?;
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

impl Store {
    /// Schema 1 → 2: a tombstone for every stored item.
    pub(super) fn write_missing_tombstones(&self) -> Result<(), StoreError> {
        for item in self.items() {
            let item = item?;
            if !self.tombstones.contains_key(&item.id)? {
                self.tombstones
                    .insert(&item.id, &item.seen.timestamp().to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// True when an entry with this id was stored, even if its item has
    /// since been pruned. Every item has a tombstone (written with it, kept
    /// longer, and by the schema 2 migration for older items), so only the
    /// small tombstones are read: a miss in `items` reads a leaf full of
    /// stored texts, which on the 10,000-feed benchmark's second round was
    /// a disk read for nearly every new entry. An id the filter over the
    /// tombstones never had (see `seen.rs`) reads nothing.
    pub fn has_item(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.staged().has_item(id)
            || (self.may_have_seen(id)? && self.tombstones.contains_key(id)?))
    }

    /// False when no tombstone holds `id` (see `seen.rs`).
    fn may_have_seen(&self, id: &str) -> Result<bool, StoreError> {
        {
            let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = seen.as_ref() {
                return Ok(s.may_hold(id.as_bytes()));
            }
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.is_none() {
            // Built under the lock, so a commit waits to add its ids to it
            // (or, before, has written what the scan then reads).
            let keys = self.tombstones.iter().keys();
            *seen = Some(Seen::build(self.tombstones.len(), keys)?);
        }
        Ok(seen.as_ref().is_none_or(|s| s.may_hold(id.as_bytes())))
    }

    /// Tells the filter over the tombstones of the ids a commit wrote.
    /// Until then a look-up finds them neither staged nor stored, as it
    /// did while the commit ran; that is safe because only the writer, the
    /// one committing, looks up the ids of a poll being written.
    pub(super) fn note_seen<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = seen.as_mut() {
            for id in ids {
                s.insert(id.as_bytes());
            }
            if s.is_full() {
                *seen = None;
            }
        }
    }

    pub fn item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        if let Some(b) = self.staged().item(id) {
            return dec("items", b).map(Some);
        }
        let Some(key) = self.key_of(id)? else {
            return Ok(None);
        };
        self.items.get(key)?.map(|b| dec("items", &b)).transpose()
    }

    /// The key of a stored item (see [`item_key`]), from its tombstone.
    pub(super) fn key_of(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tombstones
            .get(id)?
            .and_then(|t| tombstone_time(&t))
            .map(|seen| item_key(seen, id)))
    }

    /// Schema 2 → 3: items and samples keyed by [`item_key`] instead of
    /// by id. Keys already moved are left alone, so a migration a crash
    /// cut short is finished at the next open.
    pub(super) fn rekey_items(&self) -> Result<(), StoreError> {
        rekey(&self.items, |_, value| {
            let item: Item = dec("items", value)?;
            Ok(Some(item_key(item.seen.timestamp(), &item.id)))
        })?;
        // Every item has a tombstone since schema 2; a sample without one
        // has lost its item and goes.
        rekey(&self.samples, |key, _| {
            self.key_of(&String::from_utf8_lossy(key))
        })
    }

    /// The stored sample of an item's smallest shingle hashes (empty when
    /// there is none).
    pub fn sample(&self, id: &str) -> Result<Vec<u32>, StoreError> {
        if let Some(staged) = self.staged().sample(id) {
            return match staged {
                Some(b) => Sketch::decode_sample(b).map_err(|_| StoreError::Sample(id.to_string())),
                None => Ok(Vec::new()),
            };
        }
        self.lookup_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(key) = self.key_of(id)? else {
            return Ok(Vec::new());
        };
        if let Some(b) = self.samples.get(&key)? {
            return Sketch::decode_sample(&b).map_err(|_| StoreError::Sample(id.to_string()));
        }
        // An item stored before the samples tree.
        match self.items.get(&key)? {
            Some(raw) => Ok(dec::<SampleOnly>("items", &raw)?.sample),
            None => Ok(Vec::new()),
        }
    }

    /// A story: its record, or else the story its first item implies
    /// (see [`Story::started_by`]).
    pub fn story(&self, id: &str) -> Result<Option<Story>, StoreError> {
        if let Some(b) = self.staged().story(id) {
            return dec("stories", b).map(Some);
        }
        // The story's key is its first item's: one look at the tombstone
        // serves both reads.
        let key = self.story_key(id)?;
        if let Some(b) = self.stories.get(&key)? {
            return dec("stories", &b).map(Some);
        }
        let staged: Option<Item> = self
            .staged()
            .item(id)
            .map(|b| dec("items", b))
            .transpose()?;
        let item = match staged {
            Some(item) => Some(item),
            None => self
                .items
                .get(&key)?
                .map(|b| dec("items", &b))
                .transpose()?,
        };
        Ok(item
            .filter(|item| item.story == item.id)
            .map(|item| Story::started_by(&item)))
    }

    /// The key of a story: that of the item which started it (a story's id
    /// is its first item's), so that new stories land at the end of the
    /// tree as new items do. The time comes from the item, staged or stored
    /// (its tombstone); a story with no such item (none is written so
    /// today) is under time 0, where reads and writes both look.
    pub(super) fn story_key(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        if let Some(seen) = self.staged().seen(id) {
            return Ok(item_key(seen, id));
        }
        Ok(self.key_of(id)?.unwrap_or_else(|| item_key(0, id)))
    }

    /// Schema 3 → 4: stories keyed by [`Store::story_key`] instead of by
    /// id (as `rekey_items`, a cut-short run is finished at the next open).
    pub(super) fn rekey_stories(&self) -> Result<(), StoreError> {
        rekey(&self.stories, |key, _| {
            self.story_key(&String::from_utf8_lossy(key)).map(Some)
        })
    }

    /// Every stored item (for replays and tests).
    pub fn items(&self) -> impl Iterator<Item = Result<Item, StoreError>> + '_ {
        self.items.iter().map(|r| {
            let (_, v) = r?;
            dec("items", &v)
        })
    }

    /// The items first seen at or after `after`, every item when `None`,
    /// oldest first. With a bound, only the newer part of the tree is read
    /// (reading every item to keep a few brought all their pages into
    /// memory: ~100 MB at 100,000).
    pub fn items_since(
        &self,
        after: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = Result<Item, StoreError>> + '_ {
        self.items_range(after).filter_map(seen_since(after))
    }

    /// [`Store::items_since`], newest first: listings print or send each
    /// item as it comes instead of holding them all.
    pub fn items_newest_first(
        &self,
        after: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = Result<Item, StoreError>> + '_ {
        self.items_range(after).rev().filter_map(seen_since(after))
    }

    /// The part of the items tree that holds those seen at or after `after`
    /// (and a few seen in the same second before it).
    fn items_range(&self, after: Option<DateTime<Utc>>) -> sled::Iter {
        self.items
            .range(item_key(after.map_or(0, |a| a.timestamp()), "")..)
    }

    /// Writes an item with its sketch, story and alerts in one
    /// transaction (with whatever else was staged): [`Store::stage`], then
    /// [`Store::commit`]. Returns false when the item was already stored.
    pub fn insert(&self, new: &NewItem) -> Result<bool, StoreError> {
        let staged = self.stage(new)?;
        self.commit()?;
        Ok(staged)
    }

    /// Forgets every item first seen before `before`: the item, its
    /// sketch (so the copy index forgets it too), and the story it started
    /// unless an alert for that story is still pending (a later prune takes
    /// that one once the alert is gone). Returns how many items went.
    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        // The items come in the order they were seen, the old ones first;
        // they go a chunk at a time, each chunk in one transaction.
        let end = item_key(before.timestamp().saturating_add(1), "");
        let mut pruned = 0;
        let mut chunk = Vec::with_capacity(PRUNE_CHUNK);
        let mut kept = Vec::new();
        for entry in self.items.range(..end) {
            let (key, value) = entry?;
            let item: Item = dec("items", &value)?;
            if item.seen >= before {
                continue;
            }
            // A story read from its item outlives it only as a record.
            if item.story == item.id
                && self.alert_waits(&item.id)
                && !self.stories.contains_key(&key)?
            {
                kept.push((
                    key.clone(),
                    super::enc("stories", &Story::started_by(&item))?,
                ));
            }
            chunk.push(key);
            if chunk.len() == PRUNE_CHUNK {
                pruned += self.forget_items(&mut chunk, &mut kept)?;
            }
        }
        pruned += self.forget_items(&mut chunk, &mut kept)?;
        self.prune_stories(before)?;
        // The copy index forgets the same items.
        self.prune_sketches(before.timestamp())?;
        self.prune_tombstones(crate::time::before(before, SEEN_FOR).timestamp())?;
        self.prune_outbox(before)?;
        Ok(pruned)
    }

    /// When the last prune ended (seconds since the epoch), if one has.
    pub fn last_pruned(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .meta
            .get(PRUNED_KEY)?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes)))
    }

    /// Records that a prune ended at `at`.
    pub fn record_pruned(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.meta
            .insert(PRUNED_KEY, &at.timestamp().to_be_bytes())?;
        Ok(())
    }

    /// Removes the items (and samples) under these keys in one
    /// transaction, with the records of the stories they started that
    /// must stay (`kept`); empties both and returns how many items went.
    fn forget_items(
        &self,
        chunk: &mut Vec<sled::IVec>,
        kept: &mut Vec<(sled::IVec, Vec<u8>)>,
    ) -> Result<usize, StoreError> {
        if chunk.is_empty() {
            return Ok(0);
        }
        (&self.items, &self.samples, &self.stories).transaction(|(items, samples, stories)| {
            for (key, story) in kept.iter() {
                stories.insert(key, story.as_slice())?;
            }
            for key in chunk.iter() {
                items.remove(key)?;
                samples.remove(key)?;
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        let n = chunk.len();
        chunk.clear();
        kept.clear();
        Ok(n)
    }

    /// True when an alert for this story waits in the outbox.
    fn alert_waits(&self, story: &str) -> bool {
        let mut prefix = story.as_bytes().to_vec();
        prefix.push(b'/');
        self.outbox.scan_prefix(&prefix).next().is_some()
    }

    /// Forgets the stories whose first item was seen before `before` (a
    /// whole second earlier: the key's time is in seconds), but not one an
    /// alert still waits for: a later prune takes it once the alert is
    /// sent or dead.
    fn prune_stories(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for key in self
            .stories
            .range(..item_key(before.timestamp(), ""))
            .keys()
        {
            let key = key?;
            let story = String::from_utf8_lossy(key.get(8..).unwrap_or_default());
            if !self.alert_waits(&story) {
                batch.remove(key);
                n += 1;
                if n % PRUNE_CHUNK == 0 {
                    self.stories.apply_batch(std::mem::take(&mut batch))?;
                }
            }
        }
        self.stories.apply_batch(batch)?;
        Ok(())
    }

    /// Forgets the ids first seen before `horizon` (seconds), but not one
    /// whose story is still kept (for a waiting alert): the story's key has
    /// the tombstone's time.
    fn prune_tombstones(&self, horizon: i64) -> Result<(), StoreError> {
        let mut expired = Vec::new();
        for entry in self.tombstones.iter() {
            let (k, v) = entry?;
            let seen = tombstone_time(&v).unwrap_or(0);
            if seen < horizon
                && !self
                    .stories
                    .contains_key(item_key(seen, &String::from_utf8_lossy(&k)))?
            {
                expired.push(k);
            }
        }
        for k in expired {
            self.tombstones.remove(k)?;
        }
        Ok(())
    }
}

/// The `meta` key of the time the last prune ended.
const PRUNED_KEY: &str = "pruned_at";

/// How many items or stories one step of a prune removes.
const PRUNE_CHUNK: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::find_copy;
    use crate::store::test_support::*;

    #[test]
    fn ids_stored_before_the_filter_was_built_and_after_are_both_known() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(2);
        {
            let before = Store::open(dir.path())?;
            before.insert(&starting(item("a", "a"), fps[0].clone(), "a"))?;
        }
        let s = Store::open(dir.path())?;
        // The first look-up builds the filter from the tombstones.
        assert!(!s.has_item("b")?);
        assert!(s.has_item("a")?);
        s.insert(&starting(item("b", "b"), fps[1].clone(), "b"))?;
        assert!(s.has_item("b")? && s.has_item("a")?);
        assert!(!s.has_item("c")?);
        Ok(())
    }

    /// A new story as the writer makes it: the one its item implies.
    fn new_story(item: Item, fingerprint: Fingerprint) -> NewItem {
        NewItem {
            story: Story::started_by(&item),
            item,
            fingerprint,
            alerts: vec![],
            queued: vec![],
            held: vec![],
        }
    }

    #[test]
    fn a_story_without_copies_is_read_from_its_item_until_a_copy_joins() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(2);
        let s = Store::open(dir.path())?;
        let mut first = item("a", "a");
        first.title = "عنوان".into();
        first.link = Some("https://example.org/a".into());
        s.insert(&new_story(first.clone(), fps[0].clone()))?;
        assert_eq!(s.stories.len(), 0, "no record for a story without copies");
        assert_eq!(s.story("a")?, Some(Story::started_by(&first)));
        // A copy joins: the story is written whole, with both.
        let mut story = Story::started_by(&first);
        let copy = item("b", "a");
        story.copies.push(Story::started_by(&copy).copies.remove(0));
        s.insert(&NewItem {
            story: story.clone(),
            ..new_story(copy, fps[1].clone())
        })?;
        assert_eq!(s.stories.len(), 1);
        drop(s);
        let s = Store::open(dir.path())?;
        assert_eq!(s.story("a")?, Some(story));
        // An item that is a copy implies no story of its own.
        assert_eq!(s.story("b")?, None);
        Ok(())
    }

    #[test]
    fn a_pruned_item_leaves_its_story_while_an_alert_for_it_waits() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(2);
        let s = Store::open(dir.path())?;
        let old = chrono::Utc::now() - chrono::Duration::days(40);
        let (mut waiting, mut quiet) = (item("w", "w"), item("q", "q"));
        waiting.seen = old;
        quiet.seen = old;
        let story = Story::started_by(&waiting);
        s.insert(&NewItem {
            alerts: vec![alert("w/t", "w")],
            ..new_story(waiting, fps[0].clone())
        })?;
        s.insert(&new_story(quiet, fps[1].clone()))?;
        assert_eq!(s.stories.len(), 0);
        assert_eq!(s.prune(chrono::Utc::now() - chrono::Duration::days(30))?, 2);
        assert!(s.item("w")?.is_none() && s.item("q")?.is_none());
        assert_eq!(s.story("w")?, Some(story), "kept for the waiting alert");
        assert_eq!(s.story("q")?, None);
        // Once the alert is gone, the next prune takes the story.
        s.mark_sent(&alert("w/t", "w"), chrono::Utc::now())?;
        s.prune(chrono::Utc::now() - chrono::Duration::days(30))?;
        assert_eq!(s.story("w")?, None);
        assert_eq!(s.stories.len(), 0);
        Ok(())
    }

    #[test]
    fn prune_forgets_old_items_and_their_index_entries() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let body = "قال وزير الخارجية الروسي إن المحادثات مع الولايات المتحدة حول سوريا متوقفة منذ أسابيع طويلة.\nوأضاف أن موسكو مستعدة لاستئناف الحوار مع واشنطن في أي وقت إذا توفرت الإرادة السياسية.";
        let fp = Fingerprint::new("عنوان الخبر", body);
        let mut old = item("old", "old");
        old.seen = Utc::now() - chrono::Duration::days(40);
        let story = Story {
            id: "old".into(),
            title: "t".into(),
            created: old.seen,
            copies: vec![],
        };
        s.insert(&NewItem {
            item: old,
            fingerprint: fp.clone(),
            story,
            alerts: vec![],
            queued: vec![],
            held: vec![],
        })?;
        assert_eq!(find_copy(&s, &fp)?, Some("old".to_string()));
        // The anchor index is built from sled after the store opens.
        drop(s);
        let s = Store::open(dir.path())?;
        assert_eq!(find_copy(&s, &fp)?, Some("old".to_string()));
        assert_eq!(s.prune(Utc::now() - chrono::Duration::days(30))?, 1);
        assert!(s.item("old")?.is_none());
        assert!(s.has_item("old")?, "its tombstone stays");
        assert!(s.story("old")?.is_none());
        assert_eq!(find_copy(&s, &fp)?, None, "the copy index forgot it");
        assert_eq!(s.sketches.len(), 0);
        assert_eq!(s.samples.len(), 0);
        assert_eq!(s.index_size()?.1, 0);
        Ok(())
    }

    #[test]
    fn items_since_reads_the_newer_ones_only() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let now = Utc::now();
        for (id, days_ago) in [("a", 40), ("b", 3), ("c", 0), ("gone", 1)] {
            let mut it = item(id, id);
            it.seen = now - chrono::Duration::days(days_ago);
            s.insert(&NewItem {
                story: Story {
                    id: id.into(),
                    title: "t".into(),
                    created: it.seen,
                    copies: vec![],
                },
                item: it,
                fingerprint: Fingerprint::new(id, "نص"),
                alerts: vec![],
                queued: vec![],
                held: vec![],
            })?;
        }
        // An item pruned by hand keeps its tombstone and is not listed.
        let gone = s.key_of("gone")?.ok_or(StoreError::Schema)?;
        assert!(s.items.remove(gone)?.is_some());
        let ids = |after| -> Result<Vec<String>, StoreError> {
            s.items_since(after)
                .map(|i| i.map(|i| i.id))
                .collect::<Result<Vec<_>, _>>()
        };
        // Oldest first: the tree is in the order items were seen.
        assert_eq!(ids(Some(now - chrono::Duration::days(7)))?, ["b", "c"]);
        assert_eq!(ids(Some(now))?, ["c"]);
        assert_eq!(ids(None)?, ["a", "b", "c"]);
        let newest = |after| -> Result<Vec<String>, StoreError> {
            s.items_newest_first(after)
                .map(|i| i.map(|i| i.id))
                .collect::<Result<Vec<_>, _>>()
        };
        assert_eq!(newest(Some(now - chrono::Duration::days(7)))?, ["c", "b"]);
        assert_eq!(newest(None)?, ["c", "b", "a"]);
        Ok(())
    }

    #[test]
    fn insert_is_once_and_alerts_survive_reopen() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let alert = alert(&Alert::id_for("s1", "t"), "s1");
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
            queued: vec![],
            held: vec![],
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

    #[test]
    fn a_pruned_item_is_still_known_until_its_tombstone_expires() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let fp = Fingerprint::new("عنوان", "نص قصير");
        let mut old = item("old", "old");
        old.seen = Utc::now() - chrono::Duration::days(2);
        assert!(s.insert(&starting(old.clone(), fp.clone(), "old"))?);
        assert_eq!(s.prune(Utc::now() - chrono::Duration::days(1))?, 1);
        assert!(s.item("old")?.is_none());
        assert!(s.has_item("old")?);
        // Inserting it again (the feed still carries it) is refused.
        assert!(!s.insert(&starting(old, fp, "old"))?);
        // Past SEEN_FOR, the tombstone goes too.
        let later = Utc::now() + chrono::Duration::from_std(SEEN_FOR).unwrap_or_default();
        s.prune(later)?;
        assert!(!s.has_item("old")?);
        assert_eq!(s.tombstones.len(), 0);
        Ok(())
    }
}

#[cfg(test)]
mod rekey_tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn a_schema_2_database_is_rekeyed_by_time_even_after_a_cut_short_run() -> Result<(), StoreError>
    {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let now = Utc::now();
        let sample = Sketch::encode_sample(&[7, 11, 13]);
        {
            // Schema 2's layout, written by hand: items and samples by id;
            // "moved" was rekeyed by a migration that a crash then cut short.
            let s = Store::open(dir.path())?;
            for (id, days_ago) in [("old", 9), ("new", 1), ("moved", 5)] {
                let mut it = item(id, id);
                it.seen = now - chrono::Duration::days(days_ago);
                let seen = it.seen.timestamp();
                let key = if id == "moved" {
                    item_key(seen, id)
                } else {
                    id.as_bytes().to_vec()
                };
                s.items.insert(&key, crate::store::enc("items", &it)?)?;
                s.samples.insert(&key, sample.as_slice())?;
                s.tombstones.insert(id, &seen.to_be_bytes())?;
            }
            // A sample whose item is gone with its tombstone.
            s.samples.insert("orphan", sample.as_slice())?;
            s.meta
                .insert(crate::store::SCHEMA_KEY, &2u32.to_be_bytes())?;
            s.db.flush()?;
        }
        let s = Store::open(dir.path())?;
        assert_eq!(s.schema()?, crate::store::SCHEMA);
        for id in ["old", "new", "moved"] {
            assert_eq!(s.item(id)?.map(|i| i.id).as_deref(), Some(id));
            assert_eq!(s.sample(id)?, vec![7, 11, 13]);
        }
        assert!(s
            .items
            .iter()
            .keys()
            .all(|k| k.is_ok_and(|k| is_item_key(&k))));
        assert_eq!(s.samples.len(), 3, "the orphan sample is gone");
        let since: Vec<String> = s
            .items_since(Some(now - chrono::Duration::days(6)))
            .map(|i| i.map(|i| i.id))
            .collect::<Result<_, _>>()?;
        assert_eq!(since, ["moved", "new"]);
        assert_eq!(s.prune(now - chrono::Duration::days(3))?, 2);
        assert!(s.item("old")?.is_none() && s.item("new")?.is_some());
        assert_eq!(s.samples.len(), 1);
        Ok(())
    }
}

#[cfg(test)]
mod story_rekey_tests {
    use super::*;
    use crate::store::test_support::*;

    fn story(id: &str, title: &str) -> Story {
        Story {
            id: id.into(),
            title: title.into(),
            created: Utc::now(),
            copies: vec![],
        }
    }

    #[test]
    fn a_schema_3_database_has_its_stories_rekeyed_by_their_first_item() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let now = Utc::now();
        {
            // Schema 3's layout: stories by id. "moved" was rekeyed by a
            // migration a crash cut short; "lone" has no item (nor tombstone).
            let s = Store::open(dir.path())?;
            for (id, days_ago) in [("old", 9), ("moved", 5), ("new", 1)] {
                let mut it = item(id, id);
                it.seen = now - chrono::Duration::days(days_ago);
                let seen = it.seen.timestamp();
                s.items
                    .insert(item_key(seen, id), crate::store::enc("items", &it)?)?;
                s.tombstones.insert(id, &seen.to_be_bytes())?;
                let key = if id == "moved" {
                    item_key(seen, id)
                } else {
                    id.as_bytes().to_vec()
                };
                s.stories
                    .insert(key, crate::store::enc("stories", &story(id, id))?)?;
            }
            s.stories
                .insert("lone", crate::store::enc("stories", &story("lone", "x"))?)?;
            s.meta
                .insert(crate::store::SCHEMA_KEY, &3u32.to_be_bytes())?;
            s.db.flush()?;
        }
        let s = Store::open(dir.path())?;
        assert_eq!(s.schema()?, crate::store::SCHEMA);
        for id in ["old", "moved", "new", "lone"] {
            assert_eq!(s.story(id)?.map(|st| st.id).as_deref(), Some(id));
        }
        assert!(s
            .stories
            .iter()
            .keys()
            .all(|k| k.is_ok_and(|k| is_item_key(&k))));
        // In the order their items were seen, as items are.
        let order: Vec<String> = s
            .stories
            .iter()
            .values()
            .map(|v| Ok(dec::<Story>("stories", &v?)?.id))
            .collect::<Result<_, StoreError>>()?;
        assert_eq!(order, ["lone", "old", "moved", "new"]);
        // Pruning an item takes the story it started with it.
        assert_eq!(s.prune(now - chrono::Duration::days(7))?, 1);
        assert!(s.story("old")?.is_none() && s.story("moved")?.is_some());
        Ok(())
    }

    #[test]
    fn a_copy_joins_its_story_under_the_first_items_key() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let fp = Fingerprint::new("عنوان", "نص");
        let mut first = item("a", "a");
        first.seen = Utc::now() - chrono::Duration::hours(5);
        let mut new = starting(first, fp.clone(), "a");
        new.story.title = "first".into();
        assert!(s.insert(&new)?);
        // A copy seen later, in another commit: the story is rewritten in
        // place, not stored a second time under the copy's time.
        let mut copy = starting(item("b", "a"), fp, "a");
        copy.story.title = "joined".into();
        assert!(s.insert(&copy)?);
        assert_eq!(s.stories.len(), 1);
        assert_eq!(s.story("a")?.map(|st| st.title).as_deref(), Some("joined"));
        Ok(())
    }
}

#[cfg(test)]
mod pending_story_tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn a_story_kept_for_a_waiting_alert_stays_readable_past_its_tombstones_time(
    ) -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let mut old = item("old", "old");
        old.seen = Utc::now() - chrono::Duration::days(2);
        let mut new = starting(old, Fingerprint::new("عنوان", "نص"), "old");
        new.alerts.push(alert("old/t", "old"));
        assert!(s.insert(&new)?);
        let later = Utc::now() + chrono::Duration::from_std(SEEN_FOR).unwrap_or_default();
        assert_eq!(s.prune(later)?, 1);
        assert!(s.item("old")?.is_none());
        // The mail server never took the alert: its story is still there
        // to render it, found through the tombstone that was kept for it.
        assert!(s.story("old")?.is_some());
        assert!(s.has_item("old")?);
        // Once the alert is sent, the next prune takes the story and then
        // its tombstone.
        s.mark_sent(&alert("old/t", "old"), Utc::now())?;
        s.prune(later)?;
        assert!(s.story("old")?.is_none());
        assert!(!s.has_item("old")?);
        Ok(())
    }
}

//! Persistent state in sled. The only module that imports sled.
//!
//! Trees:
//! - `items`: item id → [`Item`]
//! - `samples`: item id → its 256 smallest shingle hashes, Rice-coded
//!   ([`Sketch::encode_sample`]): a copy lookup reads them when a sketch
//!   cannot decide, before the text. Items stored before this tree existed
//!   hold them in the item itself ([`Item::sample`]), where they are still read.
//! - `stories`: story id → [`Story`] (the first item and every copy)
//! - `sketches`: the copy index's records (time seen ‖ item id ‖ story id
//!   when it is not the item's ‖ [`Sketch`]). A record is written under its
//!   slot (u32, big-endian); once the inserts have moved past its block of
//!   `BLOCK_SLOTS` slots, the block's records are folded into one value
//!   under the block's key (`0xFF` ‖ block number): sled spends about 75
//!   bytes and 70 % of the value on each entry on disk, which one key per
//!   ~95-byte record would pay 64 times over. The in-memory
//!   [`AnchorIndex`] (anchor table and a copy of every sketch) is rebuilt
//!   from them on open and after pruning.
//! - `outbox`: alert id → [`Alert`], removed only once the mail server accepted it
//! - `sent`: alert id → time sent, so an alert is never created twice
//! - `feeds`: feed URL → [`FeedState`]
//! - `tombstones`: item id → when it was first seen (i64 seconds, big-endian).
//!   Kept for [`SEEN_FOR`] (or the retention, when longer), after the item
//!   itself is pruned, so that an entry a feed still carries is never taken
//!   for new and alerted again.
//! - `meta`: the schema version (`schema`, u32 big-endian; see [`SCHEMA`]),
//!   the text settings the stored hashes depend on, rate-limit and digest times.
//!
//! An item, its tombstone, its story, its sketch and its alerts are written
//! in one transaction, so a crash leaves either all of them or none.
//!
//! Sketch slots are dense: the next slot is one past the highest stored
//! (found when the store opens), so the in-memory arena that is indexed by
//! slot costs the same however often the database was opened.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::index::AnchorIndex;
use crate::text::fingerprint::{get_varint, put_varint, Fingerprint, Sketch};
use crate::watchlist::Match;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in sketches (slot {0})")]
    Sketch(u32),
    #[error("corrupt sample of item {0}")]
    Sample(String),
    #[error("no free slot left in the copy index")]
    SlotsExhausted,
    #[error("corrupt schema version in meta")]
    Schema,
    #[error(
        "the database was written by a newer raqib (schema {found}; this one reads up to {SCHEMA}): \
         upgrade raqib, or point [storage] path at another folder"
    )]
    TooNew { found: u32 },
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
    /// What the message is.
    #[serde(default)]
    pub kind: AlertKind,
    /// When a permanent refusal was first seen (for the dead letters).
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
}

/// What an outbox entry sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The immediate alert for `story` on `topic`.
    #[default]
    Story,
    /// The last alert of the hour before the topic's rate limit.
    StoryLastBeforeLimit,
    /// A digest of these (topic, story) pairs, for these topics.
    Digest {
        topics: Vec<String>,
        stories: Vec<Queued>,
        since: Option<DateTime<Utc>>,
    },
}

/// A story waiting for the next digest of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    pub topic: String,
    pub story: String,
    pub created: DateTime<Utc>,
    /// True when the rate limit kept it from an immediate alert.
    pub folded: bool,
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
    /// Entries for the digests of the topics it matched.
    pub queued: Vec<Queued>,
}

/// Handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    items: sled::Tree,
    samples: sled::Tree,
    stories: sled::Tree,
    sketches: sled::Tree,
    index: Arc<Mutex<AnchorIndex>>,
    /// Blocks below this one have no single sketch records left (held
    /// while folding or pruning them).
    folded: Arc<Mutex<u32>>,
    outbox: sled::Tree,
    sent: sled::Tree,
    feeds: sled::Tree,
    digest_queue: sled::Tree,
    meta: sled::Tree,
    dead: sled::Tree,
    tombstones: sled::Tree,
    /// The slot the next sketch gets.
    next_slot: Arc<AtomicU32>,
}

/// The version of the database's layout. Every change of a record format
/// or of the trees bumps it; [`Store::open`] migrates older databases and
/// refuses newer ones.
/// - 1 (no `schema` key): sketch slots from sled's `generate_id`, which
///   jumps by a million or more at every open; no tombstones.
/// - 2: dense slots, tombstones.
pub const SCHEMA: u32 = 2;

/// How long an entry's id is remembered after its item was first seen, at
/// least: a feed that still carries an entry after this long and after the
/// retention window has it taken for new (entries published before it are
/// ignored, see [`Store::seen_horizon`]).
pub const SEEN_FOR: std::time::Duration = std::time::Duration::from_secs(400 * 24 * 3600);

fn enc<T: Serialize>(tree: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|source| StoreError::Codec { tree, source })
}

fn dec<T: DeserializeOwned>(tree: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|source| StoreError::Codec { tree, source })
}

fn queue_key(topic: &str, story: &str) -> Vec<u8> {
    let mut k = topic.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(story.as_bytes());
    k
}

/// The `meta` key of the schema version.
const SCHEMA_KEY: &str = "schema";

/// Candidates read from the copy index per new item at most.
const MAX_CANDIDATES: usize = 16;

/// Slots per block of folded sketch records.
const BLOCK_SLOTS: u32 = 64;

/// The key of a block of sketch records: one byte longer than a slot's.
fn block_key(block: u32) -> [u8; 5] {
    let [a, b, c, d] = block.to_be_bytes();
    [0xFF, a, b, c, d]
}

fn block_of(key: &[u8]) -> Option<u32> {
    match key {
        [0xFF, rest @ ..] => Some(u32::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// The records of a block: each is its slot's offset in the block, its
/// length and its bytes.
fn block_records(block: u32, b: &[u8]) -> Result<Vec<(u32, &[u8])>, StoreError> {
    BlockRecords { block, rest: b }.collect()
}

/// [`block_records`] one at a time, so that a lookup of one slot stops
/// where it is found.
struct BlockRecords<'a> {
    block: u32,
    rest: &'a [u8],
}

impl<'a> Iterator for BlockRecords<'a> {
    type Item = Result<(u32, &'a [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&offset, after) = self.rest.split_first()?;
        let block = self.block;
        let bad = || StoreError::Sketch(block.saturating_mul(BLOCK_SLOTS));
        let parsed = get_varint(after)
            .and_then(|(len, after)| after.split_at_checked(len as usize))
            .and_then(|(rec, after)| {
                let slot = block
                    .checked_mul(BLOCK_SLOTS)?
                    .checked_add(u32::from(offset))?;
                Some((slot, rec, after))
            });
        match parsed {
            Some((slot, rec, after)) => {
                self.rest = after;
                Some(Ok((slot, rec)))
            }
            None => {
                // A damaged block ends here: the error once, then nothing.
                self.rest = &[];
                Some(Err(bad()))
            }
        }
    }
}

fn put_block_record(out: &mut Vec<u8>, slot: u32, rec: &[u8]) {
    out.push((slot % BLOCK_SLOTS) as u8);
    put_varint(out, rec.len() as u32);
    out.extend_from_slice(rec);
}

/// A sketch as stored: the sketch, when its item was seen, the item and
/// its story.
struct SketchRecord {
    sketch: Sketch,
    seen: i64,
    item: String,
    story: String,
}

/// Record formats: 1 began with the sketch (version 1 itself); 2 and 3
/// begin with the time seen (u32 seconds) and the item id, and 3 then has
/// the story id, which 2 leaves out because the item started its story.
impl SketchRecord {
    fn to_bytes(&self) -> Vec<u8> {
        let own_story = self.story == self.item;
        let mut out = Vec::with_capacity(128);
        out.push(if own_story { 2 } else { 3 });
        let seen = u32::try_from(self.seen.max(0)).unwrap_or(u32::MAX);
        out.extend_from_slice(&seen.to_le_bytes());
        put_id(&mut out, &self.item);
        if !own_story {
            put_id(&mut out, &self.story);
        }
        out.extend_from_slice(&self.sketch.to_bytes());
        out
    }

    fn from_bytes(slot: u32, b: &[u8]) -> Result<SketchRecord, StoreError> {
        let bad = || StoreError::Sketch(slot);
        let (&format, rest) = b.split_first().ok_or_else(bad)?;
        if format == 1 {
            let (sketch, rest) = Sketch::from_bytes(b).map_err(|_| bad())?;
            let (seen, rest) = rest.split_at_checked(8).ok_or_else(bad)?;
            let seen = i64::from_le_bytes(seen.try_into().map_err(|_| bad())?);
            let (item, rest) = get_id(rest).ok_or_else(bad)?;
            let (story, _) = get_id(rest).ok_or_else(bad)?;
            return Ok(SketchRecord {
                sketch,
                seen,
                item,
                story,
            });
        }
        if !matches!(format, 2 | 3) {
            return Err(bad());
        }
        let (seen, rest) = rest.split_at_checked(4).ok_or_else(bad)?;
        let seen = i64::from(u32::from_le_bytes(seen.try_into().map_err(|_| bad())?));
        let (item, rest) = get_id(rest).ok_or_else(bad)?;
        let (story, rest) = if format == 3 {
            get_id(rest).ok_or_else(bad)?
        } else {
            (item.clone(), rest)
        };
        let (sketch, _) = Sketch::from_bytes(rest).map_err(|_| bad())?;
        Ok(SketchRecord {
            sketch,
            seen,
            item,
            story,
        })
    }
}

/// Item ids are 24 hex digits: stored as their 12 bytes (tag 0), any other
/// id as its length and bytes (tag 1).
fn put_id(out: &mut Vec<u8>, id: &str) {
    let hex = id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex {
        out.push(0);
        for pair in id.as_bytes().chunks(2) {
            let v = |b: u8| {
                if b.is_ascii_digit() {
                    b - b'0'
                } else {
                    b - b'a' + 10
                }
            };
            out.push(v(pair[0]) << 4 | v(pair[1]));
        }
    } else {
        let n = id.len().min(255);
        out.push(1);
        out.push(n as u8);
        out.extend_from_slice(&id.as_bytes()[..n]);
    }
}

fn get_id(b: &[u8]) -> Option<(String, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    if tag == 0 {
        let (raw, rest) = rest.split_at_checked(12)?;
        Some((raw.iter().map(|x| format!("{x:02x}")).collect(), rest))
    } else {
        let (&n, rest) = rest.split_first()?;
        let (raw, rest) = rest.split_at_checked(n as usize)?;
        Some((String::from_utf8(raw.to_vec()).ok()?, rest))
    }
}

/// A sketch as the in-memory index keeps it: without the lead anchors,
/// which only place it in the anchor table (comparisons never read them).
fn in_memory(sketch: &Sketch) -> Vec<u8> {
    Sketch {
        lead: Vec::new(),
        ..sketch.clone()
    }
    .to_bytes()
}

fn slot_of(key: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(key.try_into().ok()?))
}

impl Store {
    /// Opens (or creates) the database in `path`, migrating an older
    /// layout (see [`SCHEMA`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new().path(path).open()?;
        let store = Store {
            items: db.open_tree("items")?,
            samples: db.open_tree("samples")?,
            stories: db.open_tree("stories")?,
            sketches: db.open_tree("sketches")?,
            index: Arc::new(Mutex::new(AnchorIndex::new())),
            folded: Arc::new(Mutex::new(0)),
            outbox: db.open_tree("outbox")?,
            sent: db.open_tree("sent")?,
            feeds: db.open_tree("feeds")?,
            digest_queue: db.open_tree("digest_queue")?,
            meta: db.open_tree("meta")?,
            dead: db.open_tree("dead")?,
            tombstones: db.open_tree("tombstones")?,
            next_slot: Arc::new(AtomicU32::new(1)),
            db,
        };
        store.migrate()?;
        store.next_slot.store(
            store.highest_slot()?.saturating_add(1).max(1),
            Ordering::Relaxed,
        );
        store.rebuild_index()?;
        Ok(store)
    }

    /// The database's schema version: 1 when it has none (written before
    /// versions were recorded), [`SCHEMA`] for a new database.
    pub fn schema(&self) -> Result<u32, StoreError> {
        match self.meta.get(SCHEMA_KEY)? {
            Some(v) => v
                .as_ref()
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Schema),
            None if self.items.is_empty() && self.sketches.is_empty() => Ok(SCHEMA),
            None => Ok(1),
        }
    }

    /// Brings an older database to [`SCHEMA`]; refuses a newer one.
    fn migrate(&self) -> Result<(), StoreError> {
        let found = self.schema()?;
        if found > SCHEMA {
            return Err(StoreError::TooNew { found });
        }
        if found < 2 {
            self.migrate_fingerprints()?;
            self.renumber_slots()?;
            self.write_missing_tombstones()?;
            tracing::info!(from = found, to = SCHEMA, "database migrated");
        }
        self.meta.insert(SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Schema 1 → 2: every sketch record gets a dense slot (1, 2, …, in the
    /// order of the old slots), folded into blocks. The records are held in
    /// memory once, while the tree is rewritten.
    fn renumber_slots(&self) -> Result<(), StoreError> {
        let mut records: Vec<Vec<u8>> = Vec::new();
        self.for_each_in_slot_order(|_, rec| {
            records.push(rec.to_vec());
            Ok(())
        })?;
        let mut batch = sled::Batch::default();
        for k in self.sketches.iter().keys() {
            batch.remove(k?);
        }
        let mut block: Option<(u32, Vec<u8>)> = None;
        for (i, rec) in records.iter().enumerate() {
            // Slot 0 is never used.
            let slot = u32::try_from(i + 1).map_err(|_| StoreError::SlotsExhausted)?;
            let b = slot / BLOCK_SLOTS;
            match &mut block {
                Some((held, value)) if *held == b => put_block_record(value, slot, rec),
                _ => {
                    if let Some((held, value)) = block.take() {
                        batch.insert(&block_key(held), value);
                    }
                    let mut value = Vec::new();
                    put_block_record(&mut value, slot, rec);
                    block = Some((b, value));
                }
            }
        }
        if let Some((held, value)) = block {
            batch.insert(&block_key(held), value);
        }
        self.sketches.apply_batch(batch)?;
        Ok(())
    }

    /// Calls `f` with every stored sketch record (its slot and bytes) in
    /// slot order: the folded blocks and the single records merged.
    fn for_each_in_slot_order(
        &self,
        mut f: impl FnMut(u32, &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Singles are the records not yet folded: the newest block's, and
        // any a crash left behind; few.
        let mut singles: Vec<(u32, sled::IVec)> = Vec::new();
        for entry in self.sketches.range(..[0xFFu8].as_slice()) {
            let (k, v) = entry?;
            if let Some(slot) = slot_of(&k) {
                singles.push((slot, v));
            }
        }
        let mut singles = singles.into_iter().peekable();
        for entry in self.sketches.range([0xFFu8].as_slice()..) {
            let (k, v) = entry?;
            let Some(block) = block_of(&k) else { continue };
            for (slot, rec) in block_records(block, &v)? {
                while let Some((s, single)) = singles.next_if(|(s, _)| *s < slot) {
                    f(s, &single)?;
                }
                f(slot, rec)?;
            }
        }
        for (s, single) in singles {
            f(s, &single)?;
        }
        Ok(())
    }

    /// Schema 1 → 2: a tombstone for every stored item.
    fn write_missing_tombstones(&self) -> Result<(), StoreError> {
        for item in self.items() {
            let item = item?;
            if !self.tombstones.contains_key(&item.id)? {
                self.tombstones
                    .insert(&item.id, &item.seen.timestamp().to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// The highest slot holding a record (0 when there is none).
    fn highest_slot(&self) -> Result<u32, StoreError> {
        let mut high = 0;
        // Singles sort before blocks (their keys are one byte shorter and
        // below 0xFF…); the last of each kind holds the highest of its kind.
        if let Some((k, _)) = self
            .sketches
            .range(..[0xFFu8].as_slice())
            .next_back()
            .transpose()?
        {
            high = high.max(slot_of(&k).unwrap_or(0));
        }
        if let Some((k, v)) = self
            .sketches
            .range([0xFFu8].as_slice()..)
            .next_back()
            .transpose()?
        {
            if let Some(block) = block_of(&k) {
                for r in block_records(block, &v)? {
                    high = high.max(r.0);
                }
            }
        }
        Ok(high)
    }

    fn index(&self) -> MutexGuard<'_, AnchorIndex> {
        // A panic while holding the lock cannot leave the table half-written
        // in a way that matters: at worst an item is missing from it.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds the anchor index from the stored sketches, in slot order:
    /// the arena keeps a sketch only after every slot kept before it.
    fn rebuild_index(&self) -> Result<(), StoreError> {
        let mut ix = AnchorIndex::new();
        self.for_each_in_slot_order(|slot, rec| {
            let rec = SketchRecord::from_bytes(slot, rec)?;
            ix.insert(slot, &rec.sketch.anchors());
            ix.keep_sketch(slot, &in_memory(&rec.sketch));
            Ok(())
        })?;
        *self.index() = ix;
        Ok(())
    }

    /// The stored record of `slot`, in its block or single. The block is
    /// read first: all but the newest slots have been folded, and a read
    /// that finds nothing costs as much as one that finds.
    fn record(&self, slot: u32) -> Result<Option<SketchRecord>, StoreError> {
        let block = slot / BLOCK_SLOTS;
        if let Some(v) = self.sketches.get(block_key(block))? {
            for r in (BlockRecords { block, rest: &v }) {
                let (s, rec) = r?;
                if s == slot {
                    return SketchRecord::from_bytes(s, rec).map(Some);
                }
            }
        }
        match self.sketches.get(slot.to_be_bytes())? {
            Some(v) => SketchRecord::from_bytes(slot, &v).map(Some),
            None => Ok(None),
        }
    }

    /// [`Store::fold_behind`] after an insert has committed: a failure
    /// leaves the records as singles (still read, folded by a later
    /// insert), so it is no reason to fail the insert.
    fn fold_behind_or_warn(&self, slot: u32) {
        if let Err(e) = self.fold_behind(slot) {
            tracing::warn!(slot, error = %e, "sketch records left unfolded");
        }
    }

    /// Once inserts have reached `slot`'s block, folds the single records
    /// of the blocks before it into their blocks (merging with what a
    /// block holds already: a record written late, or left by a crash).
    fn fold_behind(&self, slot: u32) -> Result<(), StoreError> {
        let block = slot / BLOCK_SLOTS;
        let mut folded = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        if block <= *folded {
            return Ok(());
        }
        let limit = block * BLOCK_SLOTS;
        let mut singles: Vec<(u32, sled::IVec)> = Vec::new();
        for entry in self.sketches.range(..limit.to_be_bytes()) {
            let (k, v) = entry?;
            if let Some(s) = slot_of(&k) {
                singles.push((s, v));
            }
        }
        for group in singles.chunk_by(|a, b| a.0 / BLOCK_SLOTS == b.0 / BLOCK_SLOTS) {
            let Some(&(first, _)) = group.first() else {
                continue;
            };
            let key = block_key(first / BLOCK_SLOTS);
            let mut value = self
                .sketches
                .get(key)?
                .map(|v| v.to_vec())
                .unwrap_or_default();
            let held: Vec<u32> = block_records(first / BLOCK_SLOTS, &value)?
                .iter()
                .map(|&(s, _)| s)
                .collect();
            let mut batch = sled::Batch::default();
            for (s, rec) in group {
                // A slot is in a block once (the block's record is older).
                if !held.contains(s) {
                    put_block_record(&mut value, *s, rec);
                }
                batch.remove(&s.to_be_bytes());
            }
            batch.insert(&key, value);
            self.sketches.apply_batch(batch)?;
        }
        *folded = block;
        Ok(())
    }

    /// Databases written before sketches kept full fingerprints and LSH
    /// bands: turn each fingerprint into a sketch, then drop both trees.
    fn migrate_fingerprints(&self) -> Result<(), StoreError> {
        let names = self.db.tree_names();
        if !names.iter().any(|n| n.as_ref() == b"fingerprints") {
            return Ok(());
        }
        let fps = self.db.open_tree("fingerprints")?;
        for entry in fps.iter() {
            let (id, v) = entry?;
            let fp: Fingerprint = dec("fingerprints", &v)?;
            let Some(item) = self.items.get(&id)? else {
                continue;
            };
            let item: Item = dec("items", &item)?;
            self.add_sketch(&item.id, &item.story, item.seen, &fp)?;
        }
        self.db.drop_tree("fingerprints")?;
        if names.iter().any(|n| n.as_ref() == b"bands") {
            self.db.drop_tree("bands")?;
        }
        Ok(())
    }

    /// Adds an item to the copy index alone (no item, story or alert):
    /// for migrations and benchmarks.
    pub fn add_sketch(
        &self,
        item: &str,
        story: &str,
        seen: DateTime<Utc>,
        fp: &Fingerprint,
    ) -> Result<(), StoreError> {
        let rec = SketchRecord {
            sketch: fp.sketch(),
            seen: seen.timestamp(),
            item: item.to_string(),
            story: story.to_string(),
        };
        let slot = self.new_slot()?;
        self.sketches.insert(slot.to_be_bytes(), rec.to_bytes())?;
        {
            let mut ix = self.index();
            ix.insert(slot, &fp.anchors());
            ix.keep_sketch(slot, &in_memory(&rec.sketch));
        }
        self.fold_behind_or_warn(slot);
        Ok(())
    }

    /// A fresh slot for a sketch (never 0): one past the last handed out.
    fn new_slot(&self) -> Result<u32, StoreError> {
        self.next_slot
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_add(1))
            .map_err(|_| StoreError::SlotsExhausted)
    }

    /// Bytes of the anchor index in memory, and its entries.
    pub fn index_size(&self) -> (usize, usize) {
        let ix = self.index();
        (ix.memory(), ix.len())
    }

    /// Flushes to disk; called before exit and after deliveries.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// True when an entry with this id was stored, even if its item has
    /// since been pruned (its tombstone is kept longer).
    pub fn has_item(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.tombstones.contains_key(id)? || self.items.contains_key(id)?)
    }

    pub fn item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.items.get(id)?.map(|b| dec("items", &b)).transpose()
    }

    /// The stored sample of an item's smallest shingle hashes (empty when
    /// there is none).
    pub fn sample(&self, id: &str) -> Result<Vec<u32>, StoreError> {
        if let Some(b) = self.samples.get(id)? {
            return Sketch::decode_sample(&b).map_err(|_| StoreError::Sample(id.to_string()));
        }
        // An item stored before the samples tree.
        match self.items.get(id)? {
            Some(raw) => Ok(dec::<SampleOnly>("items", &raw)?.sample),
            None => Ok(Vec::new()),
        }
    }

    pub fn story(&self, id: &str) -> Result<Option<Story>, StoreError> {
        self.stories
            .get(id)?
            .map(|b| dec("stories", &b))
            .transpose()
    }

    /// Every stored item (for replays and tests).
    pub fn items(&self) -> impl Iterator<Item = Result<Item, StoreError>> + '_ {
        self.items.iter().map(|r| {
            let (_, v) = r?;
            dec("items", &v)
        })
    }

    /// The story of the first stored item that `fp` is a copy of: the
    /// items sharing the most anchors with it are compared first, on their
    /// sketches, and on their full text when a sketch cannot decide.
    pub fn find_copy(&self, fp: &Fingerprint) -> Result<Option<String>, StoreError> {
        // The candidates' sketches are in memory: most are turned away
        // without reading the store.
        let looked: Vec<(u32, Option<Sketch>)> = {
            let ix = self.index();
            ix.candidates(&fp.query_anchors())
                .into_iter()
                .take(MAX_CANDIDATES)
                .map(|(slot, _)| {
                    let kept = ix
                        .sketch(slot)
                        .and_then(|b| Sketch::from_bytes(b).ok())
                        .map(|(sketch, _)| sketch);
                    (slot, kept)
                })
                .collect()
        };
        for (slot, kept) in looked {
            let by_kept = kept.map(|k| fp.compare_sketch(&k));
            if let Some(Some(c)) = by_kept {
                if !c.duplicate {
                    continue;
                }
            }
            let Some(rec) = self.record(slot)? else {
                continue;
            };
            let by_sketch = by_kept.unwrap_or_else(|| fp.compare_sketch(&rec.sketch));
            let c = match by_sketch {
                Some(c) => c,
                None => {
                    // The item's wider sample first: reading it skips the
                    // text, and fingerprinting the text is most of the cost.
                    let wide = self.sample(&rec.item)?;
                    match rec
                        .sketch
                        .widened(&wide)
                        .and_then(|w| fp.compare_sketch(&w))
                    {
                        Some(c) => c,
                        None => match self.item(&rec.item)? {
                            Some(item) => {
                                fp.compare(&Fingerprint::from_clean(&item.title, &item.text))
                            }
                            None => continue,
                        },
                    }
                }
            };
            if c.duplicate {
                return Ok(Some(rec.story));
            }
        }
        Ok(None)
    }

    /// Writes an item with its sketch, story and alerts in one
    /// transaction. An alert that exists in the outbox or was sent is kept
    /// as it is. Returns false when the item was already stored.
    pub fn insert(&self, new: &NewItem) -> Result<bool, StoreError> {
        let (item, sample) = if new.item.sample.is_empty() {
            (enc("items", &new.item)?, new.fingerprint.wide_sample())
        } else {
            let mut item = new.item.clone();
            let sample = std::mem::take(&mut item.sample);
            (enc("items", &item)?, sample)
        };
        // A title-only item has none: no entry (sled spends ~75 bytes on one).
        let sample = (!sample.is_empty()).then(|| Sketch::encode_sample(&sample));
        let story = enc("stories", &new.story)?;
        let slot = self.new_slot()?;
        let record = SketchRecord {
            sketch: new.fingerprint.sketch(),
            seen: new.item.seen.timestamp(),
            item: new.item.id.clone(),
            story: new.story.id.clone(),
        };
        let sketch = record.to_bytes();
        let alerts: Vec<(String, Vec<u8>)> = new
            .alerts
            .iter()
            .map(|a| Ok((a.id.clone(), enc("outbox", a)?)))
            .collect::<Result<_, StoreError>>()?;
        let queued: Vec<(Vec<u8>, Vec<u8>)> = new
            .queued
            .iter()
            .map(|q| Ok((queue_key(&q.topic, &q.story), enc("digest_queue", q)?)))
            .collect::<Result<_, StoreError>>()?;
        let id = new.item.id.as_bytes();
        let story_id = new.story.id.as_bytes();
        let seen = new.item.seen.timestamp().to_be_bytes();
        let inserted = (
            &self.items,
            &self.samples,
            &self.stories,
            &self.sketches,
            &self.outbox,
            &self.sent,
            &self.digest_queue,
            &self.tombstones,
        )
            .transaction(
                |(items, samples, stories, sketches, outbox, sent, queue, tombs)| {
                    if items.get(id)?.is_some() || tombs.get(id)?.is_some() {
                        return Ok(false);
                    }
                    items.insert(id, item.as_slice())?;
                    tombs.insert(id, &seen)?;
                    if let Some(sample) = &sample {
                        samples.insert(id, sample.as_slice())?;
                    }
                    stories.insert(story_id, story.as_slice())?;
                    sketches.insert(&slot.to_be_bytes(), sketch.as_slice())?;
                    for (aid, a) in &alerts {
                        if outbox.get(aid.as_bytes())?.is_none()
                            && sent.get(aid.as_bytes())?.is_none()
                        {
                            outbox.insert(aid.as_bytes(), a.as_slice())?;
                        }
                    }
                    for (k, q) in &queued {
                        // A story is queued once per topic: its first item decides.
                        if queue.get(k.as_slice())?.is_none() {
                            queue.insert(k.as_slice(), q.as_slice())?;
                        }
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(true)
                },
            )?;
        if inserted {
            {
                let mut ix = self.index();
                ix.insert(slot, &new.fingerprint.anchors());
                ix.keep_sketch(slot, &in_memory(&record.sketch));
            }
            self.fold_behind_or_warn(slot);
        }
        Ok(inserted)
    }

    /// Every alert in the outbox.
    pub fn outbox(&self) -> Result<Vec<Alert>, StoreError> {
        self.outbox.iter().map(|r| dec("outbox", &r?.1)).collect()
    }

    /// Records that the mail server accepted `alert`: removes it from the
    /// outbox and remembers it as sent, atomically.
    pub fn mark_sent(&self, alert: &Alert, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.take_from_outbox(alert, &self.sent, &enc("sent", &at)?)
    }

    /// Removes `alert` from the outbox and writes `value` under its id in
    /// `to`, in one transaction.
    fn take_from_outbox(
        &self,
        alert: &Alert,
        to: &sled::Tree,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let id = alert.id.as_bytes();
        (&self.outbox, to).transaction(|(outbox, to)| {
            outbox.remove(id)?;
            to.insert(id, value)?;
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

    /// Stories waiting for the digest of `topic`.
    pub fn queued(&self, topic: &str) -> Result<Vec<Queued>, StoreError> {
        let mut prefix = topic.as_bytes().to_vec();
        prefix.push(0);
        self.digest_queue
            .scan_prefix(prefix)
            .map(|r| dec("digest_queue", &r?.1))
            .collect()
    }

    /// Immediate alerts created for `topic` since `since` (sent or pending).
    pub fn alerts_since(&self, topic: &str, since: DateTime<Utc>) -> Result<usize, StoreError> {
        let key = format!("rate/{topic}");
        let times: Vec<DateTime<Utc>> = match self.meta.get(key)? {
            Some(b) => dec("meta", &b)?,
            None => Vec::new(),
        };
        Ok(times.iter().filter(|t| **t >= since).count())
    }

    /// Records an immediate alert for the rate limit (keeps the last hour).
    pub fn note_alert(&self, topic: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let key = format!("rate/{topic}");
        let mut times: Vec<DateTime<Utc>> = match self.meta.get(&key)? {
            Some(b) => dec("meta", &b)?,
            None => Vec::new(),
        };
        times.retain(|t| *t > at - chrono::Duration::hours(1));
        times.push(at);
        self.meta.insert(key, enc("meta", &times)?)?;
        Ok(())
    }

    /// When the digest `key` was last made.
    pub fn digest_last(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.meta
            .get(format!("digest/{key}"))?
            .map(|b| dec("meta", &b))
            .transpose()
    }

    /// Makes a digest in one transaction: its outbox entry (if any), the
    /// queue entries it took, and the time it was made.
    pub fn commit_digest(
        &self,
        key: &str,
        at: DateTime<Utc>,
        digest: Option<&Alert>,
        taken: &[Queued],
    ) -> Result<(), StoreError> {
        let when = enc("meta", &at)?;
        let entry = digest
            .map(|d| Ok::<_, StoreError>((d.id.clone(), enc("outbox", d)?)))
            .transpose()?;
        let keys: Vec<Vec<u8>> = taken
            .iter()
            .map(|q| queue_key(&q.topic, &q.story))
            .collect();
        let meta_key = format!("digest/{key}");
        (&self.outbox, &self.digest_queue, &self.meta).transaction(|(outbox, queue, meta)| {
            if let Some((id, bytes)) = &entry {
                outbox.insert(id.as_bytes(), bytes.as_slice())?;
            }
            for k in &keys {
                queue.remove(k.as_slice())?;
            }
            meta.insert(meta_key.as_bytes(), when.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Takes a story alert out of the outbox unsent (it counts as sent, so it
    /// is never made again) and marks its story in the digest queue as
    /// folded, in one transaction.
    pub fn fold_alert(&self, alert: &Alert, at: DateTime<Utc>) -> Result<(), StoreError> {
        let when = enc("sent", &at)?;
        let qk = queue_key(&alert.topic, &alert.story);
        let queued = Queued {
            topic: alert.topic.clone(),
            story: alert.story.clone(),
            created: alert.created,
            folded: true,
        };
        let q = enc("digest_queue", &queued)?;
        let id = alert.id.as_bytes();
        (&self.outbox, &self.sent, &self.digest_queue).transaction(|(outbox, sent, queue)| {
            outbox.remove(id)?;
            sent.insert(id, when.as_slice())?;
            queue.insert(qk.as_slice(), q.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Moves an alert the server keeps refusing to the dead letters.
    pub fn bury(&self, alert: &Alert) -> Result<(), StoreError> {
        self.take_from_outbox(alert, &self.dead, &enc("dead", alert)?)
    }

    /// Forgets every item first seen before `before`: the item, its
    /// sketch (so the copy index forgets it too),
    /// and the story it started unless an alert for that story is still
    /// pending. Returns how many items went.
    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut old: Vec<Item> = Vec::new();
        for item in self.items() {
            let item = item?;
            if item.seen < before {
                old.push(item);
            }
        }
        let mut pruned = 0;
        for item in old {
            let mut story_prefix = item.story.as_bytes().to_vec();
            story_prefix.push(b'/');
            let pending = self.outbox.scan_prefix(&story_prefix).next().is_some();
            let drop_story = item.story == item.id && !pending;
            let id = item.id.as_bytes();
            let story_id = item.story.as_bytes();
            (&self.items, &self.samples, &self.stories).transaction(
                |(items, samples, stories)| {
                    items.remove(id)?;
                    samples.remove(id)?;
                    if drop_story {
                        stories.remove(story_id)?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                },
            )?;
            pruned += 1;
        }
        // The copy index forgets the same items.
        let cutoff = before.timestamp();
        let _folding = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        for entry in self.sketches.iter() {
            let (k, v) = entry?;
            if let Some(slot) = slot_of(&k) {
                if SketchRecord::from_bytes(slot, &v)?.seen < cutoff {
                    self.sketches.remove(k)?;
                }
            } else if let Some(block) = block_of(&k) {
                let records = block_records(block, &v)?;
                let mut kept = Vec::with_capacity(v.len());
                for &(slot, rec) in &records {
                    if SketchRecord::from_bytes(slot, rec)?.seen >= cutoff {
                        put_block_record(&mut kept, slot, rec);
                    }
                }
                if kept.is_empty() {
                    self.sketches.remove(k)?;
                } else if kept.len() < v.len() {
                    self.sketches.insert(k, kept)?;
                }
            }
        }
        if pruned > 0 {
            self.rebuild_index()?;
        }
        // Tombstones outlive their items by SEEN_FOR.
        let horizon = Store::seen_horizon(before).timestamp();
        for entry in self.tombstones.iter() {
            let (k, v) = entry?;
            let at = v.as_ref().try_into().map(i64::from_be_bytes).unwrap_or(0);
            if at < horizon {
                self.tombstones.remove(k)?;
            }
        }
        // Sent-alert records older than the window go too: their stories are gone.
        for entry in self.sent.iter() {
            let (k, v) = entry?;
            let at: DateTime<Utc> = dec("sent", &v)?;
            if at < before {
                self.sent.remove(k)?;
            }
        }
        // So do digest entries no digest took (none is configured, or it
        // never came), and dead letters: their stories are gone too.
        for entry in self.digest_queue.iter() {
            let (k, v) = entry?;
            if dec::<Queued>("digest_queue", &v)?.created < before {
                self.digest_queue.remove(k)?;
            }
        }
        for entry in self.dead.iter() {
            let (k, v) = entry?;
            if dec::<Alert>("dead", &v)?.created < before {
                self.dead.remove(k)?;
            }
        }
        Ok(pruned)
    }

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

    /// Entries first seen before this are forgotten altogether when the
    /// items seen before `before` are pruned: [`SEEN_FOR`] earlier.
    pub fn seen_horizon(before: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(SEEN_FOR)
            .ok()
            .and_then(|d| before.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The dead letters.
    pub fn dead_letters(&self) -> Result<Vec<Alert>, StoreError> {
        self.dead.iter().map(|r| dec("dead", &r?.1)).collect()
    }

    /// True when the alert is pending or was sent.
    pub fn has_alert(&self, alert_id: &str) -> Result<bool, StoreError> {
        Ok(self.outbox.contains_key(alert_id)? || self.sent.contains_key(alert_id)?)
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
            sample: Vec::new(),
        }
    }

    /// An item that starts story `story`, with no alerts.
    fn starting(item: Item, fingerprint: Fingerprint, story: &str) -> NewItem {
        NewItem {
            item,
            fingerprint,
            story: Story {
                id: story.into(),
                title: "t".into(),
                created: Utc::now(),
                copies: vec![],
            },
            alerts: vec![],
            queued: vec![],
        }
    }

    #[test]
    fn sketch_records_read_back() -> Result<(), StoreError> {
        let fp = Fingerprint::new("عنوان", "نص قصير من كلمات قليلة");
        for (item, story) in [("00ff00ff00ff00ff00ff00ff", "story-1"), ("x", "")] {
            let rec = SketchRecord {
                sketch: fp.sketch(),
                seen: 1_700_000_000,
                item: item.into(),
                story: story.into(),
            };
            let back = SketchRecord::from_bytes(1, &rec.to_bytes())?;
            assert_eq!(
                (
                    back.sketch,
                    back.seen,
                    back.item.as_str(),
                    back.story.as_str()
                ),
                (fp.sketch(), 1_700_000_000, item, story)
            );
        }
        assert!(SketchRecord::from_bytes(1, &[1, 2, 3]).is_err());
        assert!(SketchRecord::from_bytes(1, &[2, 0, 0]).is_err());
        Ok(())
    }

    #[test]
    fn a_record_written_after_its_block_was_folded_is_merged_later() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let fp = |n: u32| {
            let body: Vec<String> = (0..30).map(|i| format!("كلمة{n}x{i}")).collect();
            Fingerprint::new("عنوان", &body.join(" "))
        };
        let now = Utc::now();
        for n in 0..140 {
            s.add_sketch(&format!("{n:024x}"), "s", now, &fp(n))?;
        }
        // The last block behind the inserts (a full one: slot 0 is never used).
        let first_block = s.new_slot()? / BLOCK_SLOTS - 1;
        assert!(first_block >= 1);
        // A record of the folded block that arrives late (a slow insert, or
        // one left by a crash between its write and the fold).
        let late_slot = first_block * BLOCK_SLOTS + 1;
        assert!(s.record(late_slot)?.is_some(), "block folded, slot in use");
        let mut block = s.sketches.get(block_key(first_block))?.map(|v| v.to_vec());
        // Free the slot in the block, then write the record as a single.
        if let Some(b) = block.as_mut() {
            let kept: Vec<u8> = block_records(first_block, b)?
                .into_iter()
                .filter(|&(slot, _)| slot != late_slot)
                .fold(Vec::new(), |mut out, (slot, rec)| {
                    put_block_record(&mut out, slot, rec);
                    out
                });
            s.sketches.insert(block_key(first_block), kept)?;
        }
        let late = SketchRecord {
            sketch: fp(999).sketch(),
            seen: now.timestamp(),
            item: "late".into(),
            story: "late-story".into(),
        };
        s.sketches
            .insert(late_slot.to_be_bytes(), late.to_bytes())?;
        // Inserts move on past the next block: the single is folded in.
        for n in 140..280 {
            s.add_sketch(&format!("{n:024x}"), "s", now, &fp(n))?;
        }
        assert!(s.sketches.get(late_slot.to_be_bytes())?.is_none());
        let back = s.record(late_slot)?.map(|r| (r.item, r.story));
        assert_eq!(back, Some(("late".to_string(), "late-story".to_string())));
        let in_block = s
            .sketches
            .get(block_key(first_block))?
            .map(|v| block_records(first_block, &v).map(|r| r.len()))
            .transpose()?;
        assert_eq!(
            in_block,
            Some(BLOCK_SLOTS as usize),
            "every slot of the block, once"
        );
        Ok(())
    }

    #[test]
    fn records_of_the_first_format_still_read() -> Result<(), StoreError> {
        let sketch = Fingerprint::new("عنوان", "نص قصير من كلمات قليلة").sketch();
        // Format 1: version-1 sketch, i64 time seen, item id, story id.
        let mut b = vec![1u8];
        b.extend_from_slice(&sketch.body_len.to_le_bytes());
        for list in [&sketch.body, &sketch.lead, &sketch.title] {
            b.push(list.len() as u8);
            for h in list.iter() {
                b.extend_from_slice(&h.to_le_bytes());
            }
        }
        b.push(sketch.numbers.len() as u8);
        for h in &sketch.numbers {
            b.extend_from_slice(&h.to_le_bytes());
        }
        b.extend_from_slice(&1_700_000_000i64.to_le_bytes());
        put_id(&mut b, "00ff00ff00ff00ff00ff00ff");
        put_id(&mut b, "s");
        let back = SketchRecord::from_bytes(1, &b)?;
        assert_eq!(back.sketch, sketch);
        assert_eq!(
            (back.seen, back.item.as_str(), back.story.as_str()),
            (1_700_000_000, "00ff00ff00ff00ff00ff00ff", "s")
        );
        Ok(())
    }

    #[test]
    fn sketch_records_fold_into_blocks_and_stay_findable() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let letters: Vec<char> = "بتثجحخدذرزسشصضطظعغفقكلمنهي".chars().collect();
        // A word per number: its digits in base 27, scrambled.
        let word = |i: u32| -> String {
            let mut x = i.wrapping_mul(2_654_435_761);
            (0..5)
                .map(|_| {
                    let c = letters[(x % letters.len() as u32) as usize];
                    x /= letters.len() as u32;
                    c
                })
                .collect()
        };
        // Distinct articles: each its own run of words.
        let fps: Vec<Fingerprint> = (0..150u32)
            .map(|n| {
                let body: Vec<String> = (0..40).map(|i| word(n * 1000 + i)).collect();
                Fingerprint::new(&format!("خبر {n}"), &body.join(" "))
            })
            .collect();
        let old = Utc::now() - chrono::Duration::days(40);
        for (n, fp) in fps.iter().enumerate() {
            // The first 100 are old, and items of their own; the rest copies.
            let (seen, story) = if n < 100 {
                (old, format!("{n:024x}"))
            } else {
                (Utc::now(), "story".to_string())
            };
            s.add_sketch(&format!("{n:024x}"), &story, seen, fp)?;
        }
        let (singles, blocks) = s
            .sketches
            .iter()
            .keys()
            .flatten()
            .fold((0, 0), |(n, b), k| {
                (n + usize::from(k.len() == 4), b + usize::from(k.len() == 5))
            });
        assert!(
            blocks >= 2 && singles < 64,
            "{blocks} blocks, {singles} singles"
        );
        for (n, fp) in fps.iter().enumerate() {
            let want = if n < 100 {
                format!("{n:024x}")
            } else {
                "story".to_string()
            };
            assert_eq!(s.find_copy(fp)?, Some(want), "item {n}");
        }
        let entries = s.index_size().1;
        drop(s);
        let s = Store::open(dir.path())?;
        assert_eq!(
            s.index_size().1,
            entries,
            "reopened from blocks and singles"
        );
        assert_eq!(s.find_copy(&fps[10])?, Some(format!("{:024x}", 10)));
        s.prune(Utc::now() - chrono::Duration::days(30))?;
        let mut left = 0;
        s.for_each_in_slot_order(|_, _| {
            left += 1;
            Ok(())
        })?;
        assert_eq!(left, 50);
        assert_eq!(s.find_copy(&fps[10])?, None, "pruned from its block");
        assert_eq!(s.find_copy(&fps[120])?, Some("story".to_string()));
        Ok(())
    }

    #[test]
    fn a_database_with_full_fingerprints_is_migrated_to_sketches() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let body = "قال وزير الخارجية الروسي إن المحادثات مع الولايات المتحدة حول سوريا متوقفة منذ أسابيع طويلة.\nوأضاف أن موسكو مستعدة لاستئناف الحوار مع واشنطن في أي وقت إذا توفرت الإرادة السياسية.";
        let fp = Fingerprint::new("عنوان الخبر", body);
        {
            // The layout before sketches: items, fingerprints and bands.
            let db = sled::Config::new().path(dir.path()).open()?;
            db.open_tree("items")?
                .insert("a1", enc("items", &item("a1", "a1"))?)?;
            // Fingerprints then had no lead.
            let mut old = serde_json::to_value(&fp).map_err(|source| StoreError::Codec {
                tree: "fingerprints",
                source,
            })?;
            if let Some(o) = old.as_object_mut() {
                o.remove("lead");
            }
            db.open_tree("fingerprints")?
                .insert("a1", enc("fingerprints", &old)?)?;
            db.open_tree("bands")?.insert([1u8; 8], "a1")?;
            db.flush()?;
        }
        let s = Store::open(dir.path())?;
        assert_eq!(s.find_copy(&fp)?, Some("a1".to_string()));
        let names = s.db.tree_names();
        assert!(!names.iter().any(|n| n.as_ref() == b"fingerprints"));
        assert!(!names.iter().any(|n| n.as_ref() == b"bands"));
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
        })?;
        assert_eq!(s.find_copy(&fp)?, Some("old".to_string()));
        // The anchor index is rebuilt from sled when the store opens.
        drop(s);
        let s = Store::open(dir.path())?;
        assert_eq!(s.find_copy(&fp)?, Some("old".to_string()));
        assert_eq!(s.prune(Utc::now() - chrono::Duration::days(30))?, 1);
        assert!(s.item("old")?.is_none());
        assert!(s.has_item("old")?, "its tombstone stays");
        assert!(s.story("old")?.is_none());
        assert_eq!(s.find_copy(&fp)?, None, "the copy index forgot it");
        assert_eq!(s.sketches.len(), 0);
        assert_eq!(s.samples.len(), 0);
        assert_eq!(s.index_size().1, 0);
        Ok(())
    }

    #[test]
    fn a_copy_cut_to_its_lead_is_decided_on_the_stored_sample() -> Result<(), StoreError> {
        // A long article from a varied vocabulary, and its first two lines.
        let vocab: Vec<String> = (0..400u32)
            .map(|i| {
                let letters: Vec<char> = "بتثجحخدذرزسشصضطظعغفقكلمنهي".chars().collect();
                (0..5)
                    .map(|k| letters[((i * 7 + k * 11 + i / 26) % 26) as usize])
                    .collect()
            })
            .collect();
        let mut x: u64 = 99;
        let lines: Vec<String> = (0..30)
            .map(|_| {
                (0..16)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        vocab[(x >> 33) as usize % vocab.len()].as_str()
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
                    + "."
            })
            .collect();
        let body = lines.join("\n");
        let full = Fingerprint::from_clean("عنوان", &body);
        let cut = Fingerprint::from_clean("عنوان آخر", &lines[..3].join("\n"));
        // The sketch cannot tell; the wider sample can.
        assert!(cut.compare_sketch(&full.sketch()).is_none());
        let wide = full.sketch().widened(&full.wide_sample());
        let by_sample = wide.and_then(|w| cut.compare_sketch(&w));
        assert!(by_sample.is_some_and(|c| c.duplicate), "{by_sample:?}");

        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let mut stored = item("a", "s1");
        stored.text = body.clone();
        assert!(s.insert(&starting(stored, full.clone(), "s1"))?);
        assert_eq!(s.sample("a")?, full.wide_sample());
        assert_eq!(s.item("a")?.map(|i| i.sample.len()), Some(0));
        assert_eq!(s.find_copy(&cut)?, Some("s1".to_string()));

        // An item stored before the samples tree: the sample in the item.
        let mut old = s.item("a")?.ok_or(StoreError::Sample("a".into()))?;
        old.sample = full.wide_sample();
        s.items.insert("a", enc("items", &old)?)?;
        s.samples.remove("a")?;
        assert_eq!(s.sample("a")?, full.wide_sample());
        assert_eq!(s.find_copy(&cut)?, Some("s1".to_string()));
        // With neither, only the text is left to compare.
        let mut bare = old.clone();
        bare.sample.clear();
        s.items.insert("a", enc("items", &bare)?)?;
        assert!(s.sample("a")?.is_empty());
        assert_eq!(s.find_copy(&cut)?, Some("s1".to_string()));
        // A damaged sample is an error, not a wrong answer.
        s.samples.insert("a", &[200u8, 1][..])?;
        assert!(matches!(s.sample("a"), Err(StoreError::Sample(_))));

        // A title-only item has no sample, and no entry for one.
        let title_only = Fingerprint::new("عنوان فقط بلا نص", "");
        assert!(s.insert(&starting(item("t", "s2"), title_only, "s2"))?);
        assert!(s.has_item("t")? && !s.samples.contains_key("t")?);
        assert!(s.sample("t")?.is_empty());
        Ok(())
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
            kind: AlertKind::Story,
            failing_since: None,
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
            queued: vec![],
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

    /// Opens the store again once the last handle's background flusher has
    /// let go of the lock (a few milliseconds after the drop).
    fn reopen(path: &Path) -> Result<Store, StoreError> {
        for _ in 0..200 {
            match Store::open(path) {
                Err(StoreError::Sled(sled::Error::Io(e)))
                    if e.to_string().contains("could not acquire lock") =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => return other,
            }
        }
        Store::open(path)
    }

    /// Distinct articles for the index tests: each its own run of words.
    fn distinct_fingerprints(n: u32) -> Vec<Fingerprint> {
        let letters: Vec<char> = "بتثجحخدذرزسشصضطظعغفقكلمنهي".chars().collect();
        let word = |i: u32| -> String {
            let mut x = i.wrapping_mul(2_654_435_761);
            (0..5)
                .map(|_| {
                    let c = letters[(x % letters.len() as u32) as usize];
                    x /= letters.len() as u32;
                    c
                })
                .collect()
        };
        (0..n)
            .map(|n| {
                let body: Vec<String> = (0..40).map(|i| word(n * 1000 + i)).collect();
                Fingerprint::new(&format!("خبر {n}"), &body.join(" "))
            })
            .collect()
    }

    #[test]
    fn a_database_opened_thousands_of_times_keeps_dense_slots() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(400);
        let mut memory_after_first = 0;
        // One start of `raqib once` per item, as a timer runs it.
        for (n, fp) in fps.iter().enumerate() {
            let s = reopen(dir.path())?;
            let id = format!("{n:024x}");
            assert!(s.insert(&starting(item(&id, &id), fp.clone(), &id))?);
            assert_eq!(
                s.next_slot.load(Ordering::Relaxed) as usize,
                n + 2,
                "slots stay dense across opens"
            );
            if n == 0 {
                memory_after_first = s.index_size().0;
            }
        }
        let s = reopen(dir.path())?;
        // The arena holds 400 sketches of ~100 bytes: not a slot per
        // generated id (sled's jump by a million per open took 4 MB per open).
        let memory = s.index_size().0;
        assert!(
            memory < memory_after_first + 400 * 1024,
            "{memory} bytes after 400 opens"
        );
        assert_eq!(s.find_copy(&fps[3])?, Some(format!("{:024x}", 3)));
        Ok(())
    }

    #[test]
    fn sketches_of_folded_blocks_are_reloaded_after_reopen() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(150);
        let kept = |s: &Store| -> Result<(usize, usize), StoreError> {
            let mut slots = 0;
            let mut in_memory = 0;
            let ix = s.index();
            s.for_each_in_slot_order(|slot, _| {
                slots += 1;
                in_memory += usize::from(ix.sketch(slot).is_some());
                Ok(())
            })?;
            Ok((slots, in_memory))
        };
        {
            let s = Store::open(dir.path())?;
            for (n, fp) in fps.iter().enumerate() {
                s.add_sketch(&format!("{n:024x}"), "s", Utc::now(), fp)?;
            }
            assert_eq!(kept(&s)?, (150, 150));
        }
        // Blocks (slots 1..=127) and singles (128..=150): every sketch is
        // read from memory, so no lookup falls back to sled.
        let s = Store::open(dir.path())?;
        assert_eq!(kept(&s)?, (150, 150), "after a reopen");
        s.prune(Utc::now() - chrono::Duration::days(1))?;
        assert_eq!(kept(&s)?, (150, 150), "after a prune");
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

    #[test]
    fn a_newer_database_is_refused() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        {
            let s = Store::open(dir.path())?;
            assert_eq!(s.schema()?, SCHEMA);
            s.meta.insert(SCHEMA_KEY, &(SCHEMA + 1).to_be_bytes())?;
            s.db.flush()?;
        }
        match Store::open(dir.path()) {
            Err(e @ StoreError::TooNew { .. }) => {
                assert!(e.to_string().contains("newer raqib"), "{e}")
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a newer database was opened"),
        }
        Ok(())
    }
}

//! Persistent state in sled. The only module that imports sled; one file
//! per entity, one [`Store`] handle with a small surface.
//!
//! - `items`: items, stories, the per-item sample of shingle hashes and
//!   tombstones of seen entries; [`Store::insert`] writes an item with
//!   everything that goes with it in one transaction; [`Store::prune`].
//! - `sketches`: the copy index's records on disk (dense slots, folded
//!   into blocks) and the in-memory [`AnchorIndex`] built from them when a
//!   copy lookup or an insert first needs it (listings never do). The
//!   copy *decision* is [`crate::dedup`]'s: the store hands out candidates
//!   and records.
//! - `outbox`: alerts waiting for delivery, sent marks, dead letters, the
//!   digest queue, rate-limit and digest times.
//! - `feeds`: what raqib remembers about each feed between polls.
//! - `compact`: rewrites a database that sled let grow, and finishes a
//!   rewrite a crash interrupted.
//! - `staged`: the writes the writer stages for a batch of polls, committed
//!   in one transaction, and seen by its reads until then.
//! - `seen`: a Bloom filter over the tombstones, so that an id never seen
//!   is known new without reading them.
//! - here: opening, the schema version and migrations, flushing.
//!
//! Trees:
//! - `items`: time first seen (u64 seconds, big-endian) ‖ item id → [`Item`]:
//!   new items land at the end of the tree, where sled's few cached pages
//!   are; lookups by id find the time in the item's tombstone.
//! - `samples`: the same key → the item's 256 smallest shingle hashes, Rice-coded
//!   ([`Sketch::encode_sample`](crate::text::fingerprint::Sketch::encode_sample)):
//!   a copy lookup reads them when a sketch cannot decide, before the text.
//!   Items stored before this tree existed hold them in the item itself
//!   ([`Item::sample`]), where they are still read.
//! - `stories`: the key of the item that started the story (a story's id
//!   is its first item's) → [`Story`] (the first item and every copy).
//!   A story without copies has no record: it is read from its item
//!   ([`Story::started_by`]); its record is written when a copy joins it,
//!   or when its item is pruned while an alert for it waits.
//! - `sketches`: the copy index's records (see `sketches.rs`).
//! - `tombstones`: item id → when it was first seen (i64 seconds, big-endian).
//!   Kept for [`SEEN_FOR`] after the retention window, so that an entry a
//!   feed still carries is never taken for new and alerted again.
//! - `outbox`: alert id → [`Alert`], removed only once the mail server accepted it
//! - `sent`: alert id → time sent, so an alert is never created twice
//! - `dead`: alert id → [`Alert`] the server kept refusing
//! - `digest_queue`: topic ‖ 0 ‖ story id → [`Queued`]
//! - `feeds`: feed URL → [`FeedState`]
//! - `meta`: the schema version (`schema`, u32 big-endian; see [`SCHEMA`]),
//!   the text settings the stored hashes depend on, rate-limit and digest times.
//!
//! An item, its tombstone, its story, its sketch and its alerts are written
//! in one transaction (with the rest of the writer's batch and the feeds'
//! states), so a crash leaves either all of them or none.

mod compact;
mod feeds;
mod items;
mod outbox;
mod seen;
mod sketches;
mod staged;

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{de::DeserializeOwned, Serialize};
use sled::transaction::TransactionError;

use crate::index::AnchorIndex;

pub use compact::{compact_if_grown, Compaction};
pub use feeds::{listed_key, FeedState, MAX_LISTED};
pub use items::{Copy, Item, NewItem, Story};
pub use outbox::{Alert, AlertKind, Queued};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// (Its message is sled's; not also given as the source, which would
    /// print it twice in an error chain.)
    #[error("database: {}", sled_message(.0))]
    Sled(sled::Error),
    #[error("corrupt record in sketches (slot {0})")]
    Sketch(u32),
    #[error("corrupt sample of item {0}")]
    Sample(String),
    #[error("no free slot left in the copy index")]
    SlotsExhausted,
    /// A staged write that a failed commit left unwritten (the commit's
    /// error, as text: one failure answers every write of the batch).
    #[error("not written: {0}")]
    Unwritten(String),
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

/// sled's page cache (its whole memory use is several times this). On the
/// 10,000-feed benchmark 4 MiB against 16 took 133 MB instead of 145 at the
/// peak of round 1 and 125 instead of 135 in round 2, in the same time
/// (42.9 s and 7.1 s against 41.5 s and 7.2 s); idle after a first round
/// over 1,000 feeds, 55 MB instead of 61. 1 MiB saved nothing more.
const CACHE_BYTES: u64 = 4 << 20;

/// How raqib opens every sled database, the compaction's copy included.
fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        // sled's default page cache is 1 GiB; the hot set (recent items,
        // the copy index's blocks, feed states) is far smaller, and a
        // daemon should not grow to a gigabyte.
        .cache_capacity(CACHE_BYTES)
}

/// Opens the sled database in `path`. A handle this process dropped a
/// moment ago keeps the lock until sled's background thread ends: a lock
/// error is retried for up to two seconds (another process holding the
/// database is then reported).
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let mut tries = 0;
    loop {
        match sled_config(path).open().map_err(StoreError::from) {
            Err(e) if e.is_locked() && tries < 40 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Sled(e)
    }
}

/// sled's message, in words where sled prints a debug structure.
fn sled_message(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            "another process has it open".into()
        }
        other => other.to_string(),
    }
}

impl StoreError {
    /// True when another handle holds the database (this process's last
    /// one lets go a few milliseconds after it is dropped).
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Sled(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock"))
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// Handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    items: sled::Tree,
    samples: sled::Tree,
    stories: sled::Tree,
    sketches: sled::Tree,
    /// The copy index, built from the stored sketches at its first use
    /// (listings and most commands never need it) and dropped to be built
    /// again when it no longer matches them (after a prune).
    index: Arc<Mutex<Option<AnchorIndex>>>,
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
    /// Sketch records and samples read from sled by copy lookups: the
    /// in-memory index exists to keep this low.
    lookup_reads: Arc<AtomicU64>,
    /// Writes waiting for [`Store::commit`].
    staged: Arc<Mutex<staged::Staged>>,
    /// The ids the tombstones may hold (see `seen.rs`), built at its first
    /// use.
    seen: Arc<RwLock<Option<seen::Seen>>>,
}

/// The version of the database's layout. Every change of a record format
/// or of the trees bumps it; [`Store::open`] migrates older databases and
/// refuses newer ones.
/// - 1 (no `schema` key): sketch slots from sled's `generate_id`, which
///   jumps by a million or more at every open; no tombstones.
/// - 2: dense slots, tombstones.
/// - 3: items and samples keyed by the time first seen, then the id.
/// - 4: stories keyed as the item that started them.
/// - 5: no record for a story without copies (read from its item; older
///   releases would take it for missing). Nothing to migrate.
pub const SCHEMA: u32 = 5;

/// How long an entry's id (its tombstone) is remembered after the retention
/// window has pruned its item: a feed that still carries an entry after
/// both would have it taken for new. Feeds keep entries for weeks, rarely
/// for months; half a year bounds the tree (~90 bytes an entry on disk).
pub const SEEN_FOR: std::time::Duration = std::time::Duration::from_secs(180 * 24 * 3600);

fn enc<T: Serialize>(tree: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|source| StoreError::Codec { tree, source })
}

fn dec<T: DeserializeOwned>(tree: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|source| StoreError::Codec { tree, source })
}

/// The `meta` key of the `[text] fold_hamza_seats` setting (one byte).
const FOLD_KEY: &str = "text/fold_hamza_seats";

/// The `meta` key of the schema version.
pub(super) const SCHEMA_KEY: &str = "schema";

impl Store {
    /// Opens (or creates) the database in `path`, migrating an older
    /// layout (see [`SCHEMA`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        compact::recover(path)?;
        let db = open_db(path)?;
        let store = Store {
            items: db.open_tree("items")?,
            samples: db.open_tree("samples")?,
            stories: db.open_tree("stories")?,
            sketches: db.open_tree("sketches")?,
            index: Arc::new(Mutex::new(None)),
            folded: Arc::new(Mutex::new(0)),
            outbox: db.open_tree("outbox")?,
            sent: db.open_tree("sent")?,
            feeds: db.open_tree("feeds")?,
            digest_queue: db.open_tree("digest_queue")?,
            meta: db.open_tree("meta")?,
            dead: db.open_tree("dead")?,
            tombstones: db.open_tree("tombstones")?,
            next_slot: Arc::new(AtomicU32::new(1)),
            lookup_reads: Arc::new(AtomicU64::new(0)),
            seen: Arc::default(),
            staged: Arc::default(),
            db,
        };
        store.migrate()?;
        store.next_slot.store(
            store.highest_slot()?.saturating_add(1).max(1),
            Ordering::Relaxed,
        );
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

    /// How many sketch records and samples copy lookups have read from
    /// sled since the store was opened.
    pub fn lookup_reads(&self) -> u64 {
        self.lookup_reads.load(Ordering::Relaxed)
    }

    /// Records the `[text] fold_hamza_seats` setting the stored hashes
    /// are made with; returns the one recorded before when it differs (the
    /// copies of items stored before the change may then go unrecognised
    /// until they leave the retention window).
    pub fn record_fold_hamza_seats(&self, on: bool) -> Result<Option<bool>, StoreError> {
        let old = self.meta.insert(FOLD_KEY, &[u8::from(on)])?;
        Ok(old
            .and_then(|v| v.first().map(|&b| b != 0))
            .filter(|&was| was != on))
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
        }
        if found < 3 {
            self.rekey_items()?;
        }
        if found < 4 {
            self.rekey_stories()?;
        }
        if found < SCHEMA {
            tracing::info!(from = found, to = SCHEMA, "database migrated");
        }
        self.meta.insert(SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn staged(&self) -> MutexGuard<'_, staged::Staged> {
        // Staging fills its lists under the lock with nothing that can
        // fail in between: a poisoned lock holds whole entries.
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn index(&self) -> MutexGuard<'_, Option<AnchorIndex>> {
        // A panic while holding the lock cannot leave the table half-written
        // in a way that matters: at worst an item is missing from it.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flushes to disk; called before exit and after deliveries.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_hamza_folding_is_noticed() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        assert_eq!(s.record_fold_hamza_seats(true)?, None);
        assert_eq!(s.record_fold_hamza_seats(true)?, None);
        assert_eq!(s.record_fold_hamza_seats(false)?, Some(true));
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

/// Helpers for the store's tests, shared by its modules.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::text::fingerprint::Fingerprint;
    use chrono::Utc;

    pub(crate) fn item(id: &str, story: &str) -> Item {
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

    /// An alert for topic "t", due now.
    pub(crate) fn alert(id: &str, story: &str) -> Alert {
        Alert {
            id: id.into(),
            story: story.into(),
            topic: "t".into(),
            created: Utc::now(),
            due: Utc::now(),
            attempts: 0,
            last_error: None,
            kind: AlertKind::Story,
            failing_since: None,
        }
    }

    /// An item that starts story `story`, with no alerts.
    pub(crate) fn starting(item: Item, fingerprint: Fingerprint, story: &str) -> NewItem {
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
            held: vec![],
        }
    }

    /// Distinct articles for the index tests: each its own run of words.
    pub(crate) fn distinct_fingerprints(n: u32) -> Vec<Fingerprint> {
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
}

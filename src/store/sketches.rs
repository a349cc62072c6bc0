//! The copy index on disk, and the in-memory [`AnchorIndex`] built from it.
//!
//! A record (time seen ‖ item id ‖ story id when it is not the item's ‖
//! [`Sketch`]) is written under its slot (u32, big-endian) in the item's
//! transaction; once the inserts have moved past its block of
//! [`BLOCK_SLOTS`] slots, the block's records are folded into one value
//! under the block's key (`0xFF` ‖ block number): sled spends about 75 bytes
//! and 70 % of the value on each entry on disk, which one key per ~95-byte
//! record would pay 64 times over.
//!
//! Slots are dense: the next is one past the highest stored (found when the
//! store opens), so the in-memory arena indexed by slot costs the same
//! however often the database was opened.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::items::Item;
use super::{dec, Store, StoreError};
use crate::index::AnchorIndex;
use crate::text::fingerprint::{get_varint, put_varint, Fingerprint, Sketch};

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
pub(crate) struct SketchRecord {
    pub(crate) sketch: Sketch,
    pub(crate) seen: i64,
    pub(crate) item: String,
    pub(crate) story: String,
}

/// Record formats: 1 began with the sketch (version 1 itself); 2 and 3
/// begin with the time seen (u32 seconds) and the item id, and 3 then has
/// the story id, which 2 leaves out because the item started its story.
impl SketchRecord {
    pub(super) fn to_bytes(&self) -> Vec<u8> {
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
    /// Schema 1 → 2: every sketch record gets a dense slot (1, 2, …, in the
    /// order of the old slots), folded into blocks. The records are held in
    /// memory once, while the tree is rewritten.
    pub(super) fn renumber_slots(&self) -> Result<(), StoreError> {
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
    pub(super) fn for_each_in_slot_order(
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

    /// The highest slot holding a record (0 when there is none).
    pub(super) fn highest_slot(&self) -> Result<u32, StoreError> {
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

    /// Builds the anchor index from the stored sketches, in slot order:
    /// the arena keeps a sketch only after every slot kept before it.
    /// Folding waits meanwhile, so no record is read both as a single and
    /// in its block.
    fn build_index(&self) -> Result<AnchorIndex, StoreError> {
        let _folding = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        let mut ix = AnchorIndex::new();
        self.for_each_in_slot_order(|slot, rec| {
            let rec = SketchRecord::from_bytes(slot, rec)?;
            ix.insert(slot, &rec.sketch.anchors());
            ix.keep_sketch(slot, &in_memory(&rec.sketch));
            Ok(())
        })?;
        Ok(ix)
    }

    /// Runs `f` on the copy index, built first if this is its first use
    /// since the store opened or since it was dropped.
    pub(super) fn with_index<T>(
        &self,
        f: impl FnOnce(&mut AnchorIndex) -> T,
    ) -> Result<T, StoreError> {
        let mut guard = self.index();
        let ix = match guard.take() {
            Some(ix) => ix,
            None => self.build_index()?,
        };
        Ok(f(guard.insert(ix)))
    }

    /// Forgets the copy index: its next use builds it from what is stored.
    pub(super) fn drop_index(&self) {
        *self.index() = None;
    }

    /// The stored record of `slot`, in its block or single. The block is
    /// read first: all but the newest slots have been folded, and a read
    /// that finds nothing costs as much as one that finds.
    pub(crate) fn record(&self, slot: u32) -> Result<Option<SketchRecord>, StoreError> {
        if let Some(b) = self.staged().record(slot) {
            return SketchRecord::from_bytes(slot, b).map(Some);
        }
        self.lookup_reads.fetch_add(1, Ordering::Relaxed);
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
    pub(super) fn fold_behind_or_warn(&self, slot: u32) {
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
        // Blocks go a few dozen per batch: sled seals its log once for each
        // batch, which cost more than the fold itself when every block had
        // its own (after every commit of the writer).
        const BLOCKS_PER_BATCH: usize = 32;
        let mut batch = sled::Batch::default();
        let groups = singles.chunk_by(|a, b| a.0 / BLOCK_SLOTS == b.0 / BLOCK_SLOTS);
        for (n, group) in groups.enumerate() {
            if n > 0 && n % BLOCKS_PER_BATCH == 0 {
                self.sketches.apply_batch(std::mem::take(&mut batch))?;
            }
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
            for (s, rec) in group {
                // A slot is in a block once (the block's record is older).
                if !held.contains(s) {
                    put_block_record(&mut value, *s, rec);
                }
                batch.remove(&s.to_be_bytes());
            }
            batch.insert(&key, value);
        }
        self.sketches.apply_batch(batch)?;
        *folded = block;
        Ok(())
    }

    /// Databases written before sketches kept full fingerprints and LSH
    /// bands: turn each fingerprint into a sketch, then drop both trees.
    pub(super) fn migrate_fingerprints(&self) -> Result<(), StoreError> {
        let names = self.db.tree_names();
        if !names.iter().any(|n| n.as_ref() == b"fingerprints") {
            return Ok(());
        }
        let fps = self.db.open_tree("fingerprints")?;
        for entry in fps.iter() {
            let (id, v) = entry?;
            let fp: Fingerprint = dec("fingerprints", &v)?;
            // Schema 1: items are still keyed by id (see `rekey_items`).
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
        // Built before the record is stored, which it would read again.
        self.with_index(|_| ())?;
        let slot = self.new_slot()?;
        self.sketches.insert(slot.to_be_bytes(), rec.to_bytes())?;
        self.with_index(|ix| {
            ix.insert(slot, &fp.anchors());
            ix.keep_sketch(slot, &in_memory(&rec.sketch));
        })?;
        self.fold_behind_or_warn(slot);
        Ok(())
    }

    /// A fresh slot for a sketch (never 0): one past the last handed out.
    pub(super) fn new_slot(&self) -> Result<u32, StoreError> {
        self.next_slot
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_add(1))
            .map_err(|_| StoreError::SlotsExhausted)
    }

    /// Bytes of the anchor index in memory, and its entries (building it
    /// if it was not yet).
    pub fn index_size(&self) -> Result<(usize, usize), StoreError> {
        self.with_index(|ix| (ix.memory(), ix.len()))
    }

    /// The stored items sharing the most anchors with `fp`, most first (at
    /// most `MAX_CANDIDATES`), each with its sketch when the index keeps it
    /// in memory: [`crate::dedup::find_copy`] turns most of them away
    /// without reading the store.
    pub fn copy_candidates(
        &self,
        fp: &Fingerprint,
    ) -> Result<Vec<(u32, Option<Sketch>)>, StoreError> {
        self.with_index(|ix| {
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
        })
    }

    /// Forgets the records of items seen before `cutoff` (seconds); the
    /// in-memory index is dropped when any went (its next use builds it).
    pub(super) fn prune_sketches(&self, cutoff: i64) -> Result<(), StoreError> {
        if self.forget_sketches(cutoff)? {
            self.drop_index();
        }
        Ok(())
    }

    /// Whether any record went.
    fn forget_sketches(&self, cutoff: i64) -> Result<bool, StoreError> {
        let _folding = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        let mut forgot = false;
        for entry in self.sketches.iter() {
            let (k, v) = entry?;
            if let Some(slot) = slot_of(&k) {
                if SketchRecord::from_bytes(slot, &v)?.seen < cutoff {
                    self.sketches.remove(k)?;
                    forgot = true;
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
                    forgot = true;
                } else if kept.len() < v.len() {
                    self.sketches.insert(k, kept)?;
                    forgot = true;
                }
            }
        }
        Ok(forgot)
    }

    /// Registers a staged record in the in-memory index.
    pub(super) fn index_sketch(
        &self,
        slot: u32,
        fp: &Fingerprint,
        record: &SketchRecord,
    ) -> Result<(), StoreError> {
        self.with_index(|ix| {
            ix.insert(slot, &fp.anchors());
            ix.keep_sketch(slot, &in_memory(&record.sketch));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::find_copy;
    use crate::store::enc;
    use crate::store::test_support::*;

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
        let fps = distinct_fingerprints(150);
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
            assert_eq!(find_copy(&s, fp)?, Some(want), "item {n}");
        }
        let entries = s.index_size()?.1;
        drop(s);
        let s = Store::open(dir.path())?;
        assert_eq!(
            s.index_size()?.1,
            entries,
            "reopened from blocks and singles"
        );
        assert_eq!(find_copy(&s, &fps[10])?, Some(format!("{:024x}", 10)));
        s.prune(Utc::now() - chrono::Duration::days(30))?;
        let mut left = 0;
        s.for_each_in_slot_order(|_, _| {
            left += 1;
            Ok(())
        })?;
        assert_eq!(left, 50);
        assert_eq!(find_copy(&s, &fps[10])?, None, "pruned from its block");
        assert_eq!(find_copy(&s, &fps[120])?, Some("story".to_string()));
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
        assert_eq!(find_copy(&s, &fp)?, Some("a1".to_string()));
        let names = s.db.tree_names();
        assert!(!names.iter().any(|n| n.as_ref() == b"fingerprints"));
        assert!(!names.iter().any(|n| n.as_ref() == b"bands"));
        Ok(())
    }

    #[test]
    fn a_database_opened_thousands_of_times_keeps_dense_slots() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(400);
        let mut memory_after_first = 0;
        // One start of `raqib once` per item, as a timer runs it.
        for (n, fp) in fps.iter().enumerate() {
            let s = Store::open(dir.path())?;
            let id = format!("{n:024x}");
            assert!(s.insert(&starting(item(&id, &id), fp.clone(), &id))?);
            assert_eq!(
                s.next_slot.load(Ordering::Relaxed) as usize,
                n + 2,
                "slots stay dense across opens"
            );
            if n == 0 {
                memory_after_first = s.index_size()?.0;
            }
        }
        let s = Store::open(dir.path())?;
        // The arena holds 400 sketches of ~100 bytes: not a slot per
        // generated id (sled's jump by a million per open took 4 MB per open).
        let memory = s.index_size()?.0;
        assert!(
            memory < memory_after_first + 400 * 1024,
            "{memory} bytes after 400 opens"
        );
        assert_eq!(find_copy(&s, &fps[3])?, Some(format!("{:024x}", 3)));
        Ok(())
    }

    #[test]
    fn a_lookup_reads_the_store_as_often_after_a_reopen() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let words = |n: u32, from: u32, to: u32| -> Vec<String> {
            (from..to).map(|i| format!("كلمة{n}و{i}")).collect()
        };
        // Queries keep half of a stored article and add their own text:
        // candidates through shared anchors, and no copies.
        let queries: Vec<Fingerprint> = (0..150u32)
            .map(|n| {
                let mut body = words(n, 0, 20);
                body.extend(words(n + 1000, 0, 30));
                Fingerprint::new("سؤال", &body.join(" "))
            })
            .collect();
        let reads = |s: &Store| -> Result<(u64, usize), StoreError> {
            let before = s.lookup_reads();
            let mut with_candidates = 0;
            for q in &queries {
                with_candidates += usize::from(!s.copy_candidates(q)?.is_empty());
                assert_eq!(find_copy(s, q)?, None);
            }
            Ok((s.lookup_reads() - before, with_candidates))
        };
        let first = {
            let s = Store::open(dir.path())?;
            for n in 0..150u32 {
                let fp = Fingerprint::new("خبر", &words(n, 0, 40).join(" "));
                s.add_sketch(&format!("{n:024x}"), "s", Utc::now(), &fp)?;
            }
            reads(&s)?
        };
        assert!(first.1 > 0, "no query found a candidate");
        let s = Store::open(dir.path())?;
        assert_eq!(reads(&s)?, first, "store reads per lookup after a reopen");
        Ok(())
    }

    #[test]
    fn the_copy_index_is_built_at_its_first_use_and_a_bad_record_fails_that_use(
    ) -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(3);
        {
            let s = Store::open(dir.path())?;
            for (n, fp) in fps.iter().enumerate() {
                s.add_sketch(&format!("{n:024x}"), &format!("story-{n}"), Utc::now(), fp)?;
            }
        }
        let s = Store::open(dir.path())?;
        assert!(s.index().is_none(), "opening does not build it");
        assert_eq!(s.items().count(), 0);
        assert!(s.index().is_none(), "a listing does not either");
        assert_eq!(find_copy(&s, &fps[1])?, Some("story-1".to_string()));
        assert!(s.index().is_some());
        // A prune that forgets nothing keeps it; one that forgets drops it.
        s.prune(Utc::now() - chrono::Duration::days(1))?;
        assert!(s.index().is_some());
        s.prune(Utc::now() + chrono::Duration::days(1))?;
        assert!(s.index().is_none());
        assert_eq!(find_copy(&s, &fps[1])?, None);

        // A record that does not decode: the store still opens (listings
        // work), and what needs the index fails with the record's slot,
        // staging nothing.
        s.sketches.insert(9u32.to_be_bytes(), &b"\xff\x01"[..])?;
        drop(s);
        let s = Store::open(dir.path())?;
        assert!(find_copy(&s, &fps[0]).is_err());
        let staged = s.stage(&starting(item("n", "n"), fps[2].clone(), "n"));
        assert!(matches!(staged, Err(StoreError::Sketch(9))), "{staged:?}");
        assert_eq!(s.staged_items(), 0);
        Ok(())
    }

    #[test]
    fn sketches_of_folded_blocks_are_reloaded_after_reopen() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let fps = distinct_fingerprints(150);
        let kept = |s: &Store| -> Result<(usize, usize), StoreError> {
            let mut slots = Vec::new();
            s.for_each_in_slot_order(|slot, _| {
                slots.push(slot);
                Ok(())
            })?;
            let in_memory = s.with_index(|ix| {
                slots
                    .iter()
                    .filter(|&&slot| ix.sketch(slot).is_some())
                    .count()
            })?;
            Ok((slots.len(), in_memory))
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
        assert_eq!(find_copy(&s, &cut)?, Some("s1".to_string()));

        // An item stored before the samples tree: the sample in the item.
        let mut old = s.item("a")?.ok_or(StoreError::Sample("a".into()))?;
        old.sample = full.wide_sample();
        let key = s.key_of("a")?.ok_or(StoreError::Sample("a".into()))?;
        s.items.insert(&key, enc("items", &old)?)?;
        s.samples.remove(&key)?;
        assert_eq!(s.sample("a")?, full.wide_sample());
        assert_eq!(find_copy(&s, &cut)?, Some("s1".to_string()));
        // With neither, only the text is left to compare.
        let mut bare = old.clone();
        bare.sample.clear();
        s.items.insert(&key, enc("items", &bare)?)?;
        assert!(s.sample("a")?.is_empty());
        assert_eq!(find_copy(&s, &cut)?, Some("s1".to_string()));
        // A damaged sample is an error, not a wrong answer.
        s.samples.insert(&key, &[200u8, 1][..])?;
        assert!(matches!(s.sample("a"), Err(StoreError::Sample(_))));

        // A title-only item has no sample, and no entry for one.
        let title_only = Fingerprint::new("عنوان فقط بلا نص", "");
        assert!(s.insert(&starting(item("t", "s2"), title_only, "s2"))?);
        assert!(s.has_item("t")? && s.samples.len() == 1);
        assert!(s.sample("t")?.is_empty());
        Ok(())
    }
}

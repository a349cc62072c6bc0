//! The in-memory anchor index over stored sketches: anchor hash → slots,
//! and slot → the sketch's bytes.
//!
//! The sketches themselves live in sled (see `store`); the index is
//! built from them at its first use after the store opens or a prune, and answers
//! "which stored items share one of these hashes, and what are their
//! sketches" without touching disk.
//! It is an open-addressing table of `u64` entries (anchor in the high half,
//! slot in the low half), probed linearly: one entry is eight bytes, and an
//! anchor's entries sit next to each other, so a lookup reads one or two
//! cache lines.

/// An anchor with this many items takes no more: it is a shingle every
/// outlet writes ("قال المتحدث باسم ..."), and it is no longer looked up.
const STOP_AFTER: usize = 64;
/// A candidate must share at least one anchor this rare: an item that only
/// shares common phrases with the new one is not worth reading.
const RARE: usize = 4;

/// Anchor hash → slots. Slots are the sketches' keys in the store.
#[derive(Debug, Clone, Default)]
pub struct AnchorIndex {
    table: Vec<u64>,
    entries: usize,
    /// Anchors that reached [`STOP_AFTER`] items.
    stopped: rustc_hash::FxHashSet<u32>,
    sketches: SketchArena,
}

/// Entries per table slot at most, before the table grows by a third.
const MAX_LOAD: f64 = 0.75;

/// Where `anchor`'s probe starts in a table of `cap` slots: the high bits of
/// a multiply, scaled to `cap` (any size, not only powers of two, so that
/// the table stays between 56 % and 75 % full).
fn home(anchor: u32, cap: usize) -> usize {
    // Anchors are uniform hashes already; the multiply spreads any that are not.
    let spread = u64::from(anchor).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    ((spread * cap as u64) >> 32) as usize
}

fn next(i: usize, cap: usize) -> usize {
    if i + 1 == cap {
        0
    } else {
        i + 1
    }
}

/// Makes room for `more` elements, growing by an eighth rather than
/// doubling: a million sketches would otherwise leave up to half the arena
/// unused.
fn grow_by_eighths<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(more.max(v.len() / 8).max(1024));
    }
}

/// The sketches' bytes, one after another in slot order: slot `base + i`
/// has `bytes[starts[i]..starts[i + 1]]` (empty for a slot with none).
/// Slots only grow (the store hands them out in order), so a sketch costs
/// its bytes and four more.
#[derive(Debug, Clone, Default)]
struct SketchArena {
    base: u32,
    starts: Vec<u32>,
    bytes: Vec<u8>,
}

impl SketchArena {
    fn put(&mut self, slot: u32, sketch: &[u8]) -> bool {
        if self.starts.is_empty() {
            self.base = slot;
            self.starts.push(0);
        }
        let Some(i) = slot.checked_sub(self.base).map(|i| i as usize) else {
            return false;
        };
        // Only a slot after the last one can be added (a gap stays empty),
        // and offsets are 32-bit.
        if i + 1 < self.starts.len() || self.bytes.len() + sketch.len() > u32::MAX as usize {
            return false;
        }
        let end = self.bytes.len() as u32;
        while self.starts.len() < i + 1 {
            grow_by_eighths(&mut self.starts, 1);
            self.starts.push(end);
        }
        grow_by_eighths(&mut self.bytes, sketch.len());
        self.bytes.extend_from_slice(sketch);
        grow_by_eighths(&mut self.starts, 1);
        self.starts.push(self.bytes.len() as u32);
        true
    }

    fn get(&self, slot: u32) -> Option<&[u8]> {
        let i = slot.checked_sub(self.base)? as usize;
        let (&from, &to) = (self.starts.get(i)?, self.starts.get(i + 1)?);
        self.bytes
            .get(from as usize..to as usize)
            .filter(|b| !b.is_empty())
    }

    fn memory(&self) -> usize {
        self.starts.capacity() * 4 + self.bytes.capacity()
    }
}

impl AnchorIndex {
    pub fn new() -> AnchorIndex {
        AnchorIndex::default()
    }

    /// Number of (anchor, slot) entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Bytes held by the table and the sketches.
    pub fn memory(&self) -> usize {
        self.table.len() * std::mem::size_of::<u64>() + self.sketches.memory()
    }

    /// Keeps a copy of `slot`'s sketch bytes, so that a lookup reads no
    /// disk. False (and nothing kept) when `slot` is not after every slot
    /// kept so far: the caller then reads the sketch from the store.
    pub fn keep_sketch(&mut self, slot: u32, sketch: &[u8]) -> bool {
        self.sketches.put(slot, sketch)
    }

    /// The sketch bytes kept for `slot`.
    pub fn sketch(&self, slot: u32) -> Option<&[u8]> {
        self.sketches.get(slot)
    }

    /// Adds an item's anchors under `slot`. Slot 0 is never used by the
    /// store, so that an empty entry is 0.
    pub fn insert(&mut self, slot: u32, anchors: &[u32]) {
        if slot == 0 {
            return;
        }
        let needed = self.entries + anchors.len();
        if self.table.is_empty() || needed as f64 > self.table.len() as f64 * MAX_LOAD {
            // Grown by a third, it is three quarters of 0.75 full again.
            let cap = (self.table.len() + self.table.len() / 3).max(1024);
            self.resize(cap.max((needed as f64 / MAX_LOAD) as usize + 1));
        }
        let cap = self.table.len();
        for &a in anchors {
            if self.stopped.contains(&a) {
                continue;
            }
            let mut i = home(a, cap);
            let mut same = 0;
            while self.table[i] != 0 {
                same += usize::from((self.table[i] >> 32) as u32 == a);
                i = next(i, cap);
            }
            if same >= STOP_AFTER {
                self.stopped.insert(a);
                continue;
            }
            self.table[i] = u64::from(a) << 32 | u64::from(slot);
            self.entries += 1;
        }
    }

    fn resize(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.table, vec![0; cap]);
        for e in old.into_iter().filter(|&e| e != 0) {
            let mut i = home((e >> 32) as u32, cap);
            while self.table[i] != 0 {
                i = next(i, cap);
            }
            self.table[i] = e;
        }
    }

    /// The slots sharing any of `anchors`, with how many they share, most
    /// first; only slots that share at least one rare anchor.
    pub fn candidates(&self, anchors: &[u32]) -> Vec<(u32, u32)> {
        if self.table.is_empty() {
            return Vec::new();
        }
        let cap = self.table.len();
        // Every anchor's home slot, and the slot seven on (the next cache
        // line when a probe run crosses one), is read first, in a loop whose
        // loads do not depend on each other, so that their cache misses
        // overlap (a million items make a table far larger than the
        // caches); the probes then start from lines already fetched.
        let homes: Vec<usize> = anchors.iter().map(|&a| home(a, cap)).collect();
        let warm: u64 = homes.iter().fold(0, |acc, &i| {
            acc ^ self.table.get(i).copied().unwrap_or(0)
                ^ self.table.get(i + 7).copied().unwrap_or(0)
        });
        std::hint::black_box(warm);
        // Slots under a rare anchor are the candidates; slots under a
        // semi-common one only add to the count of a candidate. Those can
        // be many (up to `STOP_AFTER` per anchor), so they are looked up
        // in the few candidates rather than sorted with them.
        let mut rare: Vec<u32> = Vec::with_capacity(anchors.len() * RARE);
        let mut common: Vec<u32> = Vec::new();
        for (&a, &start) in anchors.iter().zip(&homes) {
            if self.stopped.contains(&a) {
                continue;
            }
            let mark = common.len();
            let mut i = start;
            while self.table[i] != 0 {
                let e = self.table[i];
                if (e >> 32) as u32 == a {
                    common.push(e as u32);
                }
                i = next(i, cap);
            }
            if common.len() - mark <= RARE {
                rare.extend(common.drain(mark..));
            }
        }
        rare.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::new();
        for s in rare {
            match out.last_mut() {
                Some((last, n)) if *last == s => *n += 1,
                _ => out.push((s, 1)),
            }
        }
        if !out.is_empty() {
            for s in common {
                if let Ok(k) = out.binary_search_by_key(&s, |c| c.0) {
                    out[k].1 += 1;
                }
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketches_are_kept_by_slot_in_order() {
        let mut ix = AnchorIndex::new();
        assert!(ix.keep_sketch(5, b"five"));
        assert!(ix.keep_sketch(9, b"nine!"));
        // Before the first, or not after the last: not kept.
        assert!(!ix.keep_sketch(4, b"four"));
        assert!(!ix.keep_sketch(9, b"again"));
        assert_eq!(ix.sketch(5), Some(&b"five"[..]));
        assert_eq!(ix.sketch(9), Some(&b"nine!"[..]));
        for gap in [0, 4, 6, 8, 10, u32::MAX] {
            assert_eq!(ix.sketch(gap), None, "slot {gap}");
        }
    }

    #[test]
    fn finds_what_shares_an_anchor_most_first() {
        let mut ix = AnchorIndex::new();
        ix.insert(1, &[10, 20, 30]);
        ix.insert(2, &[30, 40]);
        ix.insert(3, &[50]);
        assert_eq!(ix.candidates(&[20, 30, 99]), vec![(1, 2), (2, 1)]);
        assert!(ix.candidates(&[99]).is_empty());
    }

    #[test]
    fn a_slot_sharing_only_semi_common_anchors_is_no_candidate() {
        let mut ix = AnchorIndex::new();
        for slot in 1..=(RARE as u32 + 1) {
            ix.insert(slot, &[7]);
        }
        ix.insert(100, &[7, 9]);
        assert_eq!(ix.candidates(&[7, 9]), vec![(100, 2)]);
    }

    #[test]
    fn grows_and_keeps_every_entry() {
        let mut ix = AnchorIndex::new();
        for slot in 1..5000u32 {
            ix.insert(slot, &[slot.wrapping_mul(2_654_435_761), slot]);
        }
        assert_eq!(ix.len(), 2 * 4999);
        for slot in [1u32, 777, 4999] {
            assert_eq!(ix.candidates(&[slot]), vec![(slot, 1)]);
        }
    }

    #[test]
    fn candidates_match_a_plain_count() {
        // Anchors drawn from a small range, so that many are shared by a
        // few items, some by more than `RARE` and some by `STOP_AFTER`.
        let mut next = crate::text::fingerprint::tests::xorshift(0xA11CE);
        let mut ix = AnchorIndex::new();
        let mut items: Vec<(u32, Vec<u32>)> = Vec::new();
        for slot in 1..3000u32 {
            let mut a: Vec<u32> = (0..1 + next() % 8)
                .map(|_| (next() % 4000) as u32)
                .collect();
            a.sort_unstable();
            a.dedup();
            ix.insert(slot, &a);
            items.push((slot, a));
        }
        for _ in 0..300 {
            let mut q: Vec<u32> = (0..1 + next() % 64)
                .map(|_| (next() % 4000) as u32)
                .collect();
            q.sort_unstable();
            q.dedup();
            // Which items each anchor was kept for, as the table holds them.
            let held = |a: u32| -> Vec<u32> {
                if ix.stopped.contains(&a) {
                    return Vec::new();
                }
                items
                    .iter()
                    .filter(|(_, v)| v.contains(&a))
                    .map(|(s, _)| *s)
                    .take(STOP_AFTER)
                    .collect()
            };
            let per_anchor: Vec<Vec<u32>> = q.iter().map(|&a| held(a)).collect();
            let mut want: Vec<(u32, u32)> = items
                .iter()
                .filter_map(|(s, _)| {
                    let sharing = per_anchor.iter().filter(|h| h.contains(s));
                    let n = sharing.clone().count() as u32;
                    let rare = sharing.into_iter().any(|h| h.len() <= RARE);
                    rare.then_some((*s, n))
                })
                .collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
            assert_eq!(ix.candidates(&q), want, "query {q:?}");
        }
    }

    #[test]
    fn a_common_anchor_is_skipped() {
        let mut ix = AnchorIndex::new();
        for slot in 1..=(STOP_AFTER as u32 + 1) {
            ix.insert(slot, &[7]);
        }
        ix.insert(500, &[8]);
        ix.insert(501, &[7]);
        assert_eq!(ix.candidates(&[7, 8]), vec![(500, 1)]);
        assert_eq!(ix.len(), STOP_AFTER + 1, "the stopped anchor took no more");
    }
}

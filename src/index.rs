//! The in-memory anchor index over stored sketches: anchor hash → slots.
//!
//! The sketches themselves live in sled (see `store`); this table is
//! rebuilt from them when the store opens and after pruning, and answers
//! "which stored items share one of these hashes" without touching disk.
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
}

/// Entries per table slot at most, before the table doubles.
const MAX_LOAD: f64 = 0.75;

fn home(anchor: u32, mask: usize) -> usize {
    // Anchors are uniform hashes already; the multiply spreads any that are not.
    ((u64::from(anchor).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize) & mask
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

    /// Bytes held by the table.
    pub fn memory(&self) -> usize {
        self.table.len() * std::mem::size_of::<u64>()
    }

    /// Adds an item's anchors under `slot`. Slot 0 is never used by the
    /// store, so that an empty entry is 0.
    pub fn insert(&mut self, slot: u32, anchors: &[u32]) {
        if slot == 0 {
            return;
        }
        let needed = self.entries + anchors.len();
        if self.table.is_empty() || needed as f64 > self.table.len() as f64 * MAX_LOAD {
            self.grow(needed);
        }
        let mask = self.table.len() - 1;
        for &a in anchors {
            if self.stopped.contains(&a) {
                continue;
            }
            let mut i = home(a, mask);
            let mut same = 0;
            while self.table[i] != 0 {
                same += usize::from((self.table[i] >> 32) as u32 == a);
                i = (i + 1) & mask;
            }
            if same >= STOP_AFTER {
                self.stopped.insert(a);
                continue;
            }
            self.table[i] = u64::from(a) << 32 | u64::from(slot);
            self.entries += 1;
        }
    }

    fn grow(&mut self, needed: usize) {
        let mut cap = self.table.len().max(1024);
        while needed as f64 > cap as f64 * MAX_LOAD {
            cap *= 2;
        }
        let old = std::mem::replace(&mut self.table, vec![0; cap]);
        let mask = cap - 1;
        for e in old.into_iter().filter(|&e| e != 0) {
            let mut i = home((e >> 32) as u32, mask);
            while self.table[i] != 0 {
                i = (i + 1) & mask;
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
        let mask = self.table.len() - 1;
        // Every anchor's home slot is read first, in a loop whose loads do
        // not depend on each other, so that their cache misses overlap
        // (a million items make a table far larger than the caches); the
        // probes then start from lines already fetched.
        let homes: Vec<usize> = anchors.iter().map(|&a| home(a, mask)).collect();
        let warm: u64 = homes
            .iter()
            .fold(0, |acc, &i| acc ^ self.table.get(i).copied().unwrap_or(0));
        std::hint::black_box(warm);
        // (slot, shares a rare anchor)
        let mut found: Vec<(u32, bool)> = Vec::with_capacity(anchors.len() * 2);
        let mut these: Vec<u32> = Vec::new();
        for (&a, &start) in anchors.iter().zip(&homes) {
            if self.stopped.contains(&a) {
                continue;
            }
            these.clear();
            let mut i = start;
            while self.table[i] != 0 {
                let e = self.table[i];
                if (e >> 32) as u32 == a {
                    these.push(e as u32);
                }
                i = (i + 1) & mask;
            }
            let rare = these.len() <= RARE;
            found.extend(these.iter().map(|&s| (s, rare)));
        }
        found.sort_unstable();
        let mut out: Vec<(u32, u32, bool)> = Vec::new();
        for (s, rare) in found {
            match out.last_mut() {
                Some((last, n, r)) if *last == s => {
                    *n += 1;
                    *r |= rare;
                }
                _ => out.push((s, 1, rare)),
            }
        }
        let mut out: Vec<(u32, u32)> = out
            .into_iter()
            .filter(|c| c.2)
            .map(|(s, n, _)| (s, n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

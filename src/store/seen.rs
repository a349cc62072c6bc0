//! Which ids the tombstones may hold: a Bloom filter over them, so that
//! looking up an entry never seen (every entry of a new feed, and the
//! writer's second look before storing one) reads nothing from sled.
//!
//! The tombstones are keyed by a hash of the id, so each look-up is a
//! random read of a tree that does not fit in sled's cache: on the
//! 10,000-feed benchmark's first round, three for each of 100,000 new items
//! (the poll's, and two by the writer). With the filter, that round took
//! 15.9-16.3 s against 16.9-18.2 s, runs side by side. An id the filter has
//! never had is not stored; one it may have had is looked up as before
//! (about 1 in 100 of the new ones).
//!
//! The filter is built from the tombstones at its first use, takes every
//! id a commit stores, and is built again, larger, once it holds more than
//! it was sized for. Pruned tombstones stay in it until then: they only
//! cost a look-up.

use fastbloom::BloomFilter;

/// Ids a filter is sized for, at the least: ~120 KB.
const MIN_CAPACITY: usize = 100_000;

/// A look-up in vain for this share of the ids never seen.
const FALSE_POSITIVES: f64 = 0.01;

pub(super) struct Seen {
    filter: BloomFilter,
    held: usize,
    capacity: usize,
}

impl Seen {
    /// A filter holding `ids` (the tombstones' keys), with room for as many
    /// again.
    pub(super) fn build<E>(
        count: usize,
        ids: impl Iterator<Item = Result<sled::IVec, E>>,
    ) -> Result<Seen, E> {
        let capacity = count.saturating_mul(2).max(MIN_CAPACITY);
        let mut seen = Seen {
            filter: BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity),
            held: 0,
            capacity,
        };
        for id in ids {
            seen.insert(&id?);
        }
        Ok(seen)
    }

    /// False when `id` was never stored.
    pub(super) fn may_hold(&self, id: &[u8]) -> bool {
        self.filter.contains(id)
    }

    pub(super) fn insert(&mut self, id: &[u8]) {
        self.filter.insert(id);
        self.held += 1;
    }

    /// Past its size, it answers "maybe" too often: build it again.
    pub(super) fn is_full(&self) -> bool {
        self.held > self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(range: std::ops::Range<u32>) -> Vec<Result<sled::IVec, ()>> {
        range
            .map(|i| Ok(sled::IVec::from(format!("id{i}").as_bytes())))
            .collect()
    }

    #[test]
    fn every_id_held_is_maybe_and_most_others_are_no() -> Result<(), ()> {
        let mut seen = Seen::build(50_000, keys(0..50_000).into_iter())?;
        seen.insert(b"later");
        assert!((0..50_000).all(|i| seen.may_hold(format!("id{i}").as_bytes())));
        assert!(seen.may_hold(b"later"));
        let maybe = (50_000..150_000)
            .filter(|i| seen.may_hold(format!("id{i}").as_bytes()))
            .count();
        // Sized for twice what it holds: well under 1 %.
        assert!(
            maybe < 1_000,
            "{maybe} of 100,000 unseen ids answered maybe"
        );
        assert!(!seen.is_full());
        Ok(())
    }

    #[test]
    fn a_filter_that_took_more_than_its_size_asks_to_be_built_again() -> Result<(), ()> {
        let mut seen = Seen::build(0, keys(0..0).into_iter())?;
        for i in 0..=MIN_CAPACITY {
            seen.insert(format!("n{i}").as_bytes());
        }
        assert!(seen.is_full());
        Ok(())
    }
}

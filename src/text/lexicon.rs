//! Word keys and the per-thread token cache: the lexicon that cleanup and
//! fingerprints share (each reads it; it reads neither).

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::affixes::FUNCTION_WORDS;
use super::normalize::canonical_token;

/// Headline words that say nothing of the story, besides the function
/// words ([`FUNCTION_WORDS`]).
pub(crate) const TITLE_STOP: &[&str] = &["عاجل", "فيديو", "صور", "بالفيديو", "بالصور"];

pub(crate) fn strip_article(t: &str) -> &str {
    match t.strip_prefix("ال") {
        Some(rest) if rest.chars().count() >= 3 => rest,
        _ => t,
    }
}

/// True for a token of ASCII digits.
pub fn is_number(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// A word's key in the [`TokenCache`]: a faster hash than the token hash
/// (which is part of the stored sketches and cannot change), as good for
/// telling words apart.
#[inline]
pub fn word_key(w: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x0072_6171_6962).build_hasher();
    h.write(w.as_bytes());
    h.finish()
}

pub(crate) fn token_hash(t: &str) -> u64 {
    xxh3_64_with_seed(t.as_bytes(), 5)
}

/// The token hash of a normalised word (of its canonical form), and whether
/// it is a number.
pub fn word_token(w: &str) -> (u64, bool) {
    let c = canonical_token(w);
    (token_hash(&c), is_number(&c))
}

/// Sets of a [`TokenCache`], two words each: 256 KiB, which holds the
/// words a stream of news uses most.
const TOKEN_CACHE_SETS: usize = 1 << 13;

/// The low bits of a word key choose its set, so a way keeps flags there
/// instead.
const SET_BITS: u64 = TOKEN_CACHE_SETS as u64 - 1;
/// The way holds a word (an empty way answers for none).
const OCCUPIED: u64 = 1;
/// The word is a number.
const NUMBER: u64 = 1 << 1;
/// The key is also that of a chunk of raw text (between two spaces) that
/// folds to exactly one word, with no `:` or `©`, whose token this is.
const CHUNK: u64 = 1 << 2;
/// ... and the chunk folds to itself: it is its own key word.
const PLAIN: u64 = 1 << 3;
/// [`Chunk::starts_pattern`].
const STARTS_PATTERN: u64 = 1 << 4;
/// [`Chunk::ends_caption`].
const ENDS_CAPTION: u64 = 1 << 5;

/// [`word_token`] remembered: the hash of a word that is its own canonical
/// form (nearly all) is its token hash, but telling so costs more than the
/// hash. A two-way set-associative table from word key to token hash
/// answers for the words seen before (two ways: a direct-mapped table of
/// 8,192 slots loses about 1 − e^(−3000/8192), a third, of a 3,000-word
/// vocabulary to collisions); 64-bit keys make a wrong
/// answer as unlikely as a collision in the fingerprint itself.
///
/// The same table answers for chunks of raw text ([`TokenCache::chunk`]):
/// most words of a text were seen before spelt the same way, and a chunk
/// found needs no folding at all.
pub struct TokenCache {
    sets: Vec<CacheSet>,
    /// Word key → [`TokenCache::title_word`], direct-mapped: titles use
    /// few words.
    titles: Vec<(u64, u64)>,
}

/// Slots of the title-word table: 32 KiB.
const TITLE_CACHE_SLOTS: usize = 1 << 11;

/// Two (word key's high bits | flags, token hash) pairs, the most recent
/// first, on one cache line.
#[derive(Clone, Copy, Default)]
#[repr(align(32))]
struct CacheSet([(u64, u64); 2]);

/// What [`TokenCache::chunk`] knows of a chunk of raw text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunk {
    /// The token hash of its one word.
    pub token: u64,
    /// Whether that word is a number.
    pub number: bool,
    /// Whether the chunk is that word as it is (it folds to itself).
    pub plain: bool,
    /// Two facts about the word that cleanup asks of a line's first and
    /// last words (see `clean::starts_pattern`, `clean::ends_caption`),
    /// kept so that it need not fold them to ask.
    pub starts_pattern: bool,
    pub ends_caption: bool,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            sets: vec![CacheSet::default(); TOKEN_CACHE_SETS],
            titles: (1..=TITLE_CACHE_SLOTS as u64).map(|k| (k, 0)).collect(),
        }
    }
}

impl TokenCache {
    /// Runs `f` with this thread's cache.
    pub fn with<R>(f: impl FnOnce(&mut TokenCache) -> R) -> R {
        thread_local! {
            static CACHE: std::cell::RefCell<Option<TokenCache>> = const { std::cell::RefCell::new(None) };
        }
        CACHE.with(|c| match c.try_borrow_mut() {
            Ok(mut c) => f(c.get_or_insert_with(TokenCache::default)),
            // Re-entered (f itself asked for the cache): a fresh one.
            Err(_) => f(&mut TokenCache::default()),
        })
    }

    /// Appends the token hash of `w` to `tokens`, and to `numbers` (as 32
    /// bits) when it is a number.
    pub fn push_token(&mut self, w: &str, tokens: &mut Vec<u64>, numbers: &mut Vec<u32>) {
        let (h, number) = self.token(w);
        tokens.push(h);
        if number {
            numbers.push(h as u32);
        }
    }

    /// [`word_token`] of `w`.
    #[inline]
    pub fn token(&mut self, w: &str) -> (u64, bool) {
        self.token_keyed(word_key(w), w)
    }

    /// The way holding key `h` (moved to the front of its set) and its
    /// flags.
    #[inline]
    fn find(&mut self, h: u64) -> Option<(&mut (u64, u64), u64)> {
        let set = self.sets.get_mut((h & SET_BITS) as usize)?;
        let want = (h & !SET_BITS) | OCCUPIED;
        let mask = !SET_BITS | OCCUPIED;
        let [first, second] = &mut set.0;
        if first.0 & mask == want {
            let flags = first.0 & SET_BITS;
            return Some((first, flags));
        }
        if second.0 & mask == want {
            std::mem::swap(first, second);
            let flags = first.0 & SET_BITS;
            return Some((first, flags));
        }
        None
    }

    /// Puts key `h` in front of its set, dropping the set's older way.
    fn insert(&mut self, h: u64, token: u64, flags: u64) {
        if let Some(set) = self.sets.get_mut((h & SET_BITS) as usize) {
            let [first, second] = &mut set.0;
            *second = std::mem::replace(first, ((h & !SET_BITS) | flags | OCCUPIED, token));
        }
    }

    /// [`TokenCache::token`] of `w`, whose [`word_key`] is `h`.
    #[inline]
    pub(crate) fn token_keyed(&mut self, h: u64, w: &str) -> (u64, bool) {
        if let Some((way, flags)) = self.find(h) {
            return (way.1, flags & NUMBER != 0);
        }
        let number = is_number(w);
        let token = token_hash(&canonical_token(w));
        self.insert(h, token, if number { NUMBER } else { 0 });
        (token, number)
    }

    /// What is known of the chunk of raw text whose [`word_key`] is `h`
    /// (see [`TokenCache::remember_chunk`]); `None` when it must be folded.
    #[inline]
    pub fn chunk(&mut self, h: u64) -> Option<Chunk> {
        let (way, flags) = self.find(h)?;
        (flags & CHUNK != 0).then_some(Chunk {
            token: way.1,
            number: flags & NUMBER != 0,
            plain: flags & PLAIN != 0,
            starts_pattern: flags & STARTS_PATTERN != 0,
            ends_caption: flags & ENDS_CAPTION != 0,
        })
    }

    /// Remembers that the chunk of raw text whose [`word_key`] is `h`
    /// folds to exactly one word (itself when `chunk.plain`), with no `:`
    /// or `©`, and without NFKC.
    pub fn remember_chunk(&mut self, h: u64, chunk: Chunk) {
        let mut flags = CHUNK;
        if chunk.number {
            flags |= NUMBER;
        }
        for (set, flag) in [
            (chunk.plain, PLAIN),
            (chunk.starts_pattern, STARTS_PATTERN),
            (chunk.ends_caption, ENDS_CAPTION),
        ] {
            if set {
                flags |= flag;
            }
        }
        match self.find(h) {
            // A plain chunk's key is its word's, usually just looked up.
            Some((way, _)) if way.1 == chunk.token => way.0 |= flags,
            _ => self.insert(h, chunk.token, flags),
        }
    }

    /// The hash a title keeps for the (non-number) word `w`: its canonical
    /// form without the article; `None` for function words and title
    /// labels ("عاجل"), which tell no two stories apart. `h`: its
    /// [`word_key`].
    pub(crate) fn title_word(&mut self, h: u64, w: &str) -> Option<u32> {
        let slot = self
            .titles
            .get_mut((h as usize) & (TITLE_CACHE_SLOTS - 1))?;
        if slot.0 != h {
            let c = canonical_token(w);
            let kept = !FUNCTION_WORDS.contains(&c.as_ref()) && !TITLE_STOP.contains(&c.as_ref());
            // The hash in the low 32 bits, whether the word counts above.
            let v = if kept {
                1 << 32 | u64::from(token_hash(strip_article(&c)) as u32)
            } else {
                0
            };
            *slot = (h, v);
        }
        (slot.1 >> 32 == 1).then_some(slot.1 as u32)
    }
}

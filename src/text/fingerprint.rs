//! Near-duplicate fingerprints: exact shingle sets for the item at hand,
//! compact sketches for the items already stored, and anchors to find them.
//!
//! A wire story republished by another outlet keeps its sentences but may be
//! cut short, get a new headline, a dateline or a footer, or spell names
//! differently. So the decision is made on *containment* (how much of the
//! shorter text is inside the longer one) of word 3-gram shingles over
//! normalised, canonical tokens, not on Jaccard. Two different articles that
//! share a template ("another veto", "this week's rates") differ in their
//! facts: a number in the shorter one that the longer one lacks vetoes the
//! merge. Title-only items are compared on their title words.
//!
//! Stored items are kept as a [`Sketch`]: the smallest shingle hashes of the
//! body (a bottom-k MinHash; the hashes are uniform, so the smallest ones
//! are a consistent sample of any set), title words and numbers, about
//! 100 bytes. An item is findable by its smallest hashes ([`ANCHORS`]);
//! a new item looks up its own smallest [`QUERY_ANCHORS`]. Of two copies,
//! the smaller's smallest hashes are among the larger's smallest, which is
//! what a cut-down copy needs: banded MinHash estimates Jaccard, and a lead
//! paragraph has a low Jaccard with its full article. When a sketch cannot
//! decide (too few sampled shingles, or an estimate near the threshold),
//! [`Fingerprint::compare_sketch`] says so and the caller compares full
//! fingerprints.

use serde::{Deserialize, Serialize};

use super::clean;
pub use super::codec::{get_varint, put_varint};
use super::codec::{rice, CodecError, Reader};
use super::lexicon::{word_key, TokenCache};
use super::normalize::normalize_into;
use super::tokens::words;

/// Body shingle hashes kept in a [`Sketch`]: the smallest ones.
pub const SKETCH_BODY: usize = 16;
/// Of those, how many an item is findable by.
pub const ANCHORS: usize = 8;
/// Shingles at the start of the body that make the lead.
const LEAD: usize = 32;
/// Anchors taken from the lead.
const LEAD_ANCHORS: usize = 4;
/// How many of its smallest hashes a new item looks up.
pub const QUERY_ANCHORS: usize = 64;
/// A containment estimated from fewer sampled shingles is not trusted.
const MIN_SAMPLE: usize = 8;
/// Nor is an estimate this close to the threshold (about one standard
/// error of a 16-shingle sample near 0.8; a larger sample's band narrows
/// as the square root of its size).
const UNSURE: f64 = 0.1;
/// Body shingle hashes kept with the stored item (not in the index): the
/// second look when the sketch cannot decide, before the full text.
pub const WIDE_SAMPLE: usize = 256;
/// Containment at or above this makes two bodies copies.
const CONTAINMENT: f64 = 0.8;
/// Title words are anchors in their own space, apart from body shingles.
const TITLE_SPACE: u32 = 0x9E37_79B9;

/// Shorter bodies than this (in shingles) are compared as titles + body.
const MIN_BODY_SHINGLES: usize = 12;

/// Fingerprint of one item. Small enough to store beside the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Fingerprint {
    /// Sorted, distinct 32-bit hashes of the body's word 3-grams.
    pub body: Vec<u32>,
    /// Sorted, distinct hashes of the title's content words.
    pub title: Vec<u32>,
    /// Sorted, distinct hashes of the numbers in title and body.
    pub numbers: Vec<u32>,
    /// The smallest hashes of the body's first shingles: a copy cut down
    /// to the lead paragraph holds them even when it holds none of the
    /// article's smallest.
    #[serde(default)]
    pub lead: Vec<u32>,
}

/// Why two items were (or were not) judged copies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub duplicate: bool,
    /// Containment of the shorter shingle set in the longer one.
    pub containment: f64,
    /// Containment of the shorter title in the longer one.
    pub title_containment: f64,
    /// True when the shorter item has a number the longer one lacks.
    pub facts_differ: bool,
}

impl Fingerprint {
    /// Fingerprints an item from its title and raw body text (cleaned first).
    pub fn new(title: &str, body: &str) -> Fingerprint {
        Fingerprint::from_clean(title, &clean::clean(body))
    }

    /// Fingerprints an item from its cleaned body ([`clean::clean_keyed`]):
    /// the body's tokens were hashed while it was cleaned.
    pub fn from_cleaned(title: &str, cleaned: &clean::Cleaned) -> Fingerprint {
        Fingerprint::build(title, cleaned)
    }

    /// Fingerprints an item whose body is already cleaned text (a stored
    /// item, when a sketch cannot decide: it is on the lookup path).
    pub fn from_clean(title: &str, body: &str) -> Fingerprint {
        let mut word = String::new();
        let mut lines = clean::Cleaned::default();
        let (tokens, numbers) = (&mut lines.tokens, &mut lines.numbers);
        TokenCache::with(|cache| {
            for line in body.lines() {
                let (t0, n0) = (tokens.len(), numbers.len());
                // A chunk cleanup has seen gives its token without folding.
                let folded = clean::split_spaces(line)
                    .filter(|c| !c.is_empty())
                    .all(|chunk| match cache.chunk(word_key(chunk)) {
                        Some(c) => {
                            tokens.push(c.token);
                            if c.number {
                                numbers.push(c.token as u32);
                            }
                            true
                        }
                        None => super::normalize::fold_words(chunk, &mut word, |w| {
                            cache.push_token(w, tokens, numbers)
                        }),
                    });
                if !folded {
                    // Text that needs NFKC: normalise the line, then split it.
                    tokens.truncate(t0);
                    numbers.truncate(n0);
                    let mut buf = String::new();
                    normalize_into(line, &mut buf);
                    for w in words(&buf) {
                        cache.push_token(w, tokens, numbers);
                    }
                }
                lines.ends.push((tokens.len() as u32, numbers.len() as u32));
            }
        });
        Fingerprint::from_cleaned(title, &lines)
    }

    /// The fingerprint of a title and a cleaned body's token runs.
    fn build(title: &str, cleaned: &clean::Cleaned) -> Fingerprint {
        let mut t = TitleParts {
            tokens: Vec::with_capacity(32),
            numbers: Vec::with_capacity(cleaned.numbers.len() + 4),
            words: Vec::with_capacity(32),
        };
        TokenCache::with(|cache| {
            let mut word = String::new();
            // As cleanup reads a line: a chunk of the title seen before as
            // its own word is not folded.
            let folded = clean::split_spaces(title)
                .filter(|c| !c.is_empty())
                .all(|chunk| {
                    let h = word_key(chunk);
                    match cache.chunk(h) {
                        Some(c) if c.plain => {
                            t.push(cache, h, chunk, (c.token, c.number));
                            true
                        }
                        _ => super::normalize::fold_words(chunk, &mut word, |w| {
                            t.add(cache, w);
                        }),
                    }
                });
            if !folded {
                // A title that needs NFKC: normalise it, then split it.
                t.tokens.clear();
                t.numbers.clear();
                t.words.clear();
                let mut buf = String::new();
                normalize_into(title, &mut buf);
                for w in words(&buf) {
                    t.add(cache, w);
                }
            }
        });
        let TitleParts {
            tokens: title_tokens,
            mut numbers,
            words: mut title_words,
        } = t;

        numbers.extend_from_slice(&cleaned.numbers);
        // The headline printed again at the top of the body says nothing
        // new; most bodies do not repeat it, and are shingled as they are.
        // When it is repeated, it is nearly always the first line: the rest
        // of the tokens are shingled where they are.
        let is_title = |t: &[u64]| t == title_tokens.as_slice();
        let mut lines = cleaned.line_tokens();
        let mut from = 0;
        for (t, _) in lines.by_ref() {
            if !is_title(t) {
                break;
            }
            from += t.len();
        }
        let body_tokens: std::borrow::Cow<[u64]> = if lines.any(|(t, _)| is_title(t)) {
            let mut v = Vec::with_capacity(cleaned.tokens.len());
            for (t, _) in cleaned.line_tokens().filter(|(t, _)| !is_title(t)) {
                v.extend_from_slice(t);
            }
            v.into()
        } else {
            cleaned.tokens.get(from..).unwrap_or_default().into()
        };
        numbers.sort_unstable();
        numbers.dedup();
        let mut body = shingles(&body_tokens);
        let lead = smallest_distinct(body.iter().copied().take(LEAD), LEAD_ANCHORS);
        sort_hashes(&mut body);
        dedup_sorted(&mut body);
        title_words.sort_unstable();
        title_words.dedup();
        Fingerprint {
            body,
            title: title_words,
            numbers,
            lead,
        }
    }

    /// True when the item has a body long enough to compare on its own.
    pub fn has_body(&self) -> bool {
        self.body.len() >= MIN_BODY_SHINGLES
    }

    /// The compact form kept in the index.
    pub fn sketch(&self) -> Sketch {
        Sketch {
            body_len: self.body.len() as u32,
            body: self.body.iter().copied().take(SKETCH_BODY).collect(),
            lead: self.lead.clone(),
            // Titles decide only between title-only items.
            title: if self.has_body() {
                Vec::new()
            } else {
                self.title.clone()
            },
            numbers: short_hashes(&self.numbers),
        }
    }

    /// The smallest [`WIDE_SAMPLE`] body hashes: stored with the item, they
    /// widen its sketch ([`Sketch::widened`]) when the sketch cannot decide.
    pub fn wide_sample(&self) -> Vec<u32> {
        self.body.iter().copied().take(WIDE_SAMPLE).collect()
    }

    /// The hashes this item is findable by: its smallest body shingles and
    /// its lead's, or its title words when the body is too short to compare.
    pub fn anchors(&self) -> Vec<u32> {
        if self.has_body() {
            body_anchors(&self.body, &self.lead)
        } else {
            title_anchors(&self.title, ANCHORS)
        }
    }

    /// The hashes to look up for this item's copies.
    pub fn query_anchors(&self) -> Vec<u32> {
        if self.has_body() {
            self.body.iter().copied().take(QUERY_ANCHORS).collect()
        } else {
            title_anchors(&self.title, QUERY_ANCHORS)
        }
    }

    /// Decides whether `self` and a stored item are copies, from the stored
    /// item's sketch. `None` when the sketch cannot tell: then compare the
    /// full fingerprints.
    pub fn compare_sketch(&self, other: &Sketch) -> Option<Comparison> {
        let numbers = short_hashes(&self.numbers);
        let title_containment = containment(&self.title, &other.title);
        let facts_differ = facts_differ(&numbers, &other.numbers);
        let other_has_body = other.body_len as usize >= MIN_BODY_SHINGLES;
        let mut c = Comparison {
            duplicate: false,
            containment: 0.0,
            title_containment,
            facts_differ,
        };
        if self.has_body() && other_has_body {
            let other_whole = other.body_len as usize <= other.body.len();
            let (estimate, exact) = if other_whole {
                (containment(&self.body, &other.body), true)
            } else if other.body_len as usize <= self.body.len() {
                // The stored item is the smaller: its sample, looked up in
                // the whole of this one.
                let n = intersection(&other.body, &self.body);
                (n as f64 / other.body.len() as f64, false)
            } else {
                // This item is the smaller: its hashes up to the stored
                // sample's largest are a sample of it at the same rate.
                let tau = other.body.last().copied().unwrap_or(0);
                let upto = self.body.partition_point(|&h| h <= tau);
                // Differing facts decide without an estimate, as below.
                if upto < MIN_SAMPLE && !facts_differ {
                    return None;
                }
                let n = intersection(&self.body[..upto], &other.body);
                (n as f64 / upto.max(1) as f64, false)
            };
            let band = UNSURE * (SKETCH_BODY as f64 / other.body.len().max(1) as f64).sqrt();
            if !exact && !facts_differ && (estimate - CONTAINMENT).abs() < band {
                return None;
            }
            c.containment = estimate;
            c.duplicate = !facts_differ && estimate >= CONTAINMENT;
        } else if !self.has_body() && !other_has_body {
            // The stored body is whole: shorter than the sketch.
            let short_bodies = containment_or_empty(&self.body, &other.body);
            c.duplicate = !facts_differ && title_containment >= 0.75 && short_bodies >= 0.6;
        }
        Some(c)
    }

    /// Decides whether `self` and `other` are copies of one article.
    pub fn compare(&self, other: &Fingerprint) -> Comparison {
        let title_containment = containment(&self.title, &other.title);
        let both_bodies = self.has_body() && other.has_body();
        let containment = if both_bodies {
            containment(&self.body, &other.body)
        } else {
            0.0
        };
        let facts_differ = facts_differ(&self.numbers, &other.numbers);
        let duplicate = if both_bodies {
            !facts_differ && containment >= CONTAINMENT
        } else if !self.has_body() && !other.has_body() {
            // Title (plus perhaps a lead sentence) on both sides.
            let short_bodies = containment_or_empty(&self.body, &other.body);
            !facts_differ && title_containment >= 0.75 && short_bodies >= 0.6
        } else {
            false
        };
        Comparison {
            duplicate,
            containment,
            title_containment,
            facts_differ,
        }
    }
}

fn containment_or_empty<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() || b.is_empty() {
        1.0
    } else {
        containment(a, b)
    }
}

/// |A ∩ B| / min(|A|, |B|) over sorted distinct slices.
pub fn containment<T: Ord>(a: &[T], b: &[T]) -> f64 {
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return 0.0;
    }
    intersection(a, b) as f64 / smaller as f64
}

fn intersection<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// True when the item with fewer numbers (sorted, distinct hashes) has one
/// that the other lacks.
fn facts_differ<T: Ord>(a: &[T], b: &[T]) -> bool {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    !small.is_empty() && intersection(small, large) < small.len()
}

/// A title's token hashes, numbers and title-word hashes, as they are read.
struct TitleParts {
    tokens: Vec<u64>,
    numbers: Vec<u32>,
    words: Vec<u32>,
}

impl TitleParts {
    /// Adds the folded word `w`.
    fn add(&mut self, cache: &mut TokenCache, w: &str) {
        let key = word_key(w);
        let token = cache.token_keyed(key, w);
        self.push(cache, key, w, token);
    }

    /// Adds the folded word `w`, whose [`word_key`] is `key` and whose
    /// token hash and number-ness are `token`.
    fn push(&mut self, cache: &mut TokenCache, key: u64, w: &str, (token, number): (u64, bool)) {
        self.tokens.push(token);
        if number {
            self.numbers.push(token as u32);
        } else if let Some(t) = cache.title_word(key, w) {
            self.words.push(t);
        }
    }
}

/// Word 3-gram shingles (single words when the text is shorter).
fn shingles(tokens: &[u64]) -> Vec<u32> {
    if tokens.len() < 3 {
        return tokens.iter().map(|&t| t as u32).collect();
    }
    tokens
        .windows(3)
        .map(|w| {
            let h = w[0].rotate_left(21) ^ w[1].rotate_left(42) ^ w[2];
            (mix64(h) >> 32) as u32
        })
        .collect()
}

/// The `k` smallest distinct values of `values`, sorted.
fn smallest_distinct(values: impl Iterator<Item = u32>, k: usize) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(k + 1);
    for h in values {
        if out.len() == k && out.last().is_some_and(|&l| h >= l) {
            continue;
        }
        let at = out.partition_point(|&x| x < h);
        if out.get(at) != Some(&h) {
            out.insert(at, h);
            out.truncate(k);
        }
    }
    out
}

/// Sorts uniformly distributed hashes: a counting pass on their top bits
/// (about one hash per bucket) leaves them nearly sorted, and insertion
/// finishes. A 4 KB article has a few hundred shingles, where this does a
/// fifth of the work of a comparison sort (and of a byte-wise radix sort,
/// which clears four 256-entry tables per call). Other inputs only cost
/// more: the result is sorted whatever the distribution.
fn sort_hashes(v: &mut Vec<u32>) {
    const MAX_BITS: u32 = 10;
    let n = v.len();
    if !(32..=1 << (MAX_BITS + 2)).contains(&n) {
        v.sort_unstable();
        return;
    }
    let bits = n.next_power_of_two().trailing_zeros().min(MAX_BITS);
    let shift = 32 - bits;
    let mut starts = [0u16; (1 << MAX_BITS) + 1];
    for &h in v.iter() {
        starts[(h >> shift) as usize + 1] += 1;
    }
    // Over the buckets in use, with the running sum in a register (summing
    // in place waits on each store).
    let mut sum = 0u16;
    for s in starts.iter_mut().take((1 << bits) + 1) {
        sum += *s;
        *s = sum;
    }
    let mut out = vec![0u32; n];
    for &h in v.iter() {
        let at = &mut starts[(h >> shift) as usize];
        if let Some(o) = out.get_mut(usize::from(*at)) {
            *o = h;
        }
        *at += 1;
    }
    // Insertion, with the common step (a hash and its neighbour, in order
    // or not) made without a branch: a bucket holds two hashes in a random
    // order often enough that guessing costs more than it saves. The last
    // two hashes placed stay in registers (`last` is not yet stored).
    let (mut before, mut last) = (0, out[0]);
    for i in 1..n {
        let h = out[i];
        let lo = last.min(h);
        last = last.max(h);
        out[i - 1] = lo;
        if lo < before {
            // Three or more in one bucket: `lo` belongs further back.
            let mut j = i - 1;
            while j > 0 && out[j - 1] > lo {
                out[j] = out[j - 1];
                j -= 1;
            }
            out[j] = lo;
            before = out[i - 1];
        } else {
            before = lo;
        }
    }
    out[n - 1] = last;
    *v = out;
}

/// `Vec::dedup` for sorted hashes, without a branch per hash: an article
/// repeats a fair share of its shingles, at no predictable place.
fn dedup_sorted(v: &mut Vec<u32>) {
    let Some(&first) = v.first() else {
        return;
    };
    let (mut kept, mut last) = (1, first);
    for i in 1..v.len() {
        let h = v[i];
        v[kept] = h;
        kept += usize::from(h != last);
        last = h;
    }
    v.truncate(kept);
}

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The smallest body hashes and the lead's, sorted and distinct.
fn body_anchors(body: &[u32], lead: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = body.iter().copied().take(ANCHORS).collect();
    v.extend_from_slice(lead);
    v.sort_unstable();
    v.dedup();
    v
}

/// The `n` smallest title-word anchors (in their own hash space).
fn title_anchors(title: &[u32], n: usize) -> Vec<u32> {
    let mut v: Vec<u32> = title.iter().map(|h| h ^ TITLE_SPACE).collect();
    v.sort_unstable();
    v.truncate(n);
    v
}

/// Sorted, distinct 16-bit forms of 32-bit hashes: a sketch's numbers are
/// few, and one false equality in 65,536 is harmless.
fn short_hashes(h: &[u32]) -> Vec<u16> {
    let mut v: Vec<u16> = h.iter().map(|&x| (x ^ (x >> 16)) as u16).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The compact form of a stored item's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sketch {
    /// Number of distinct body shingles.
    pub body_len: u32,
    /// The smallest body shingle hashes, sorted (all of them when the body
    /// has at most [`SKETCH_BODY`]).
    pub body: Vec<u32>,
    /// The lead's anchors ([`Fingerprint::lead`]).
    pub lead: Vec<u32>,
    /// Title word hashes, sorted, of a title-only item (its anchors).
    pub title: Vec<u32>,
    pub numbers: Vec<u16>,
}

/// A sketch's bytes were not one.
#[derive(Debug, thiserror::Error)]
#[error("malformed sketch")]
pub struct SketchError;

impl From<CodecError> for SketchError {
    fn from(_: CodecError) -> SketchError {
        SketchError
    }
}

impl Sketch {
    /// Version 2: the version, `body_len` as a varint, the body's sorted
    /// hashes Rice-coded as gaps (they are the smallest of `body_len`
    /// uniform hashes, so their gaps are small: ~25 bits each instead of
    /// 32), then the lead, title and numbers as counted little-endian
    /// lists. A body that is not strictly ascending is written in version 1
    /// (each list as it is), so no sketch is ever altered by writing it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let ascending = self.body.windows(2).all(|w| w[0] < w[1]);
        let mut out = Vec::with_capacity(
            11 + 4 * (self.body.len() + self.lead.len() + self.title.len())
                + 2 * self.numbers.len(),
        );
        let body = &self.body[..self.body.len().min(255)];
        if ascending {
            out.push(2);
            put_varint(&mut out, self.body_len);
            out.push(body.len() as u8);
            rice::encode(body, &mut out);
        } else {
            out.push(1);
            out.extend_from_slice(&self.body_len.to_le_bytes());
            put_list(&mut out, body);
        }
        put_list(&mut out, &self.lead);
        put_list(&mut out, &self.title);
        let n = self.numbers.len().min(255);
        out.push(n as u8);
        for h in self.numbers.iter().take(n) {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    /// Reads a sketch back (either version); returns the bytes after it.
    pub fn from_bytes(b: &[u8]) -> Result<(Sketch, &[u8]), SketchError> {
        let mut r = Reader(b);
        let (body_len, body) = match r.take::<1>()? {
            [1] => {
                let body_len = u32::from_le_bytes(r.take()?);
                (body_len, r.list()?)
            }
            [2] => {
                let body_len = r.varint()?;
                let n = r.take::<1>()?[0] as usize;
                let (body, rest) = rice::decode(r.0, n)?;
                r.0 = rest;
                (body_len, body)
            }
            _ => return Err(SketchError),
        };
        let lead = r.list()?;
        let title = r.list()?;
        let n = r.take::<1>()?[0] as usize;
        let numbers = (0..n)
            .map(|_| r.take().map(u16::from_le_bytes))
            .collect::<Result<_, _>>()?;
        Ok((
            Sketch {
                body_len,
                body,
                lead,
                title,
                numbers,
            },
            r.0,
        ))
    }

    /// Codes a [`Fingerprint::wide_sample`] (ascending hashes) for storing:
    /// its length, then its gaps Rice-coded, about three bytes a hash.
    pub fn encode_sample(sample: &[u32]) -> Vec<u8> {
        // Gaps are taken as unsigned: a list out of order would code a
        // wrapped gap in billions of bits. A fingerprint's sample is in
        // order already, and is not copied.
        let sorted: std::borrow::Cow<[u32]> = if sample.windows(2).all(|w| w[0] < w[1]) {
            sample.into()
        } else {
            let mut v = sample.to_vec();
            v.sort_unstable();
            v.dedup();
            v.into()
        };
        let mut out = Vec::with_capacity(4 + sorted.len() * 3);
        put_varint(&mut out, sorted.len() as u32);
        rice::encode(&sorted, &mut out);
        out
    }

    /// Reads back what [`Sketch::encode_sample`] wrote.
    pub fn decode_sample(b: &[u8]) -> Result<Vec<u32>, SketchError> {
        let (n, code) = get_varint(b).ok_or(SketchError)?;
        // Each hash takes at least one bit: a longer count is damage.
        if n as usize > code.len().saturating_mul(8) {
            return Err(SketchError);
        }
        let (sample, rest) = rice::decode(code, n as usize)?;
        if !rest.is_empty() {
            return Err(SketchError);
        }
        Ok(sample)
    }

    /// This sketch with a larger sample of the same item's smallest body
    /// hashes ([`Fingerprint::wide_sample`]), when it has one.
    pub fn widened(&self, sample: &[u32]) -> Option<Sketch> {
        (sample.len() > self.body.len()).then(|| Sketch {
            body: sample.to_vec(),
            ..self.clone()
        })
    }

    /// The hashes the item is findable by (see [`Fingerprint::anchors`]).
    pub fn anchors(&self) -> Vec<u32> {
        if self.body_len as usize >= MIN_BODY_SHINGLES {
            body_anchors(&self.body, &self.lead)
        } else {
            title_anchors(&self.title, ANCHORS)
        }
    }
}

/// A counted list of at most 255 hashes.
fn put_list(out: &mut Vec<u8>, list: &[u32]) {
    let n = list.len().min(255);
    out.push(n as u8);
    for h in list.iter().take(n) {
        out.extend_from_slice(&h.to_le_bytes());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::text::affixes::FUNCTION_WORDS;
    use crate::text::lexicon::{is_number, strip_article, token_hash, word_token, TITLE_STOP};
    use crate::text::normalize::canonical_token;

    const BODY: &str = "قالت وزارة الخارجية الروسية اليوم إن المحادثات مع الولايات المتحدة حول سوريا متوقفة منذ أسابيع.\n\
        وأضافت الوزارة في بيان أن موسكو مستعدة لاستئناف الحوار مع واشنطن في أي وقت إذا توفرت الإرادة السياسية.\n\
        وكان وزير الخارجية الأمريكي قد أعلن تعليق الاتصالات بعد انهيار الهدنة في حلب الشهر الماضي.";

    #[test]
    fn a_copy_with_variants_and_a_dateline_is_a_duplicate() {
        let a = Fingerprint::new("موسكو: المحادثات مع واشنطن حول سوريا متوقفة", BODY);
        let copy = format!(
            "موسكو - وكالات\n{}",
            BODY.replace("سوريا", "سورية")
                .replace("الأمريكي", "الأميركي")
                .replace("الخارجية", "الخارجيّة")
        );
        let b = Fingerprint::new(
            "المحادثات الروسية الأمريكية حول سورية متوقفة | شام تايمز",
            &copy,
        );
        let c = a.compare(&b);
        assert!(c.duplicate, "{c:?}");
        assert!(a.anchors().iter().any(|k| b.query_anchors().contains(k)));
        let by_sketch = b
            .compare_sketch(&a.sketch())
            .unwrap_or_else(|| b.compare(&a));
        assert!(by_sketch.duplicate, "{by_sketch:?}");
    }

    #[test]
    fn a_short_item_with_other_facts_is_decided_on_the_sketch() {
        // A long stored article, and a lead of one line: too few of the
        // lead's hashes fall under the sketch's largest to estimate.
        let words = [
            "مجلس",
            "الأمن",
            "روسيا",
            "واشنطن",
            "دمشق",
            "الوزير",
            "قال",
            "اجتماع",
        ];
        let mut next = xorshift(0xFAC7);
        let line = |next: &mut dyn FnMut() -> u64| -> String {
            (0..12)
                .map(|_| words[(next() % words.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let body: Vec<String> = (0..60).map(|_| line(&mut next)).collect();
        let stored = Fingerprint::new("عنوان", &format!("{}\nفي عام 2016", body.join("\n")));
        let same_facts = Fingerprint::new("عنوان آخر", &format!("{}\nفي عام 2016", body[0]));
        let other_facts = Fingerprint::new("عنوان آخر", &format!("{}\nفي عام 1999", body[0]));
        assert_eq!(same_facts.compare_sketch(&stored.sketch()), None);
        let c = other_facts.compare_sketch(&stored.sketch());
        assert!(c.is_some_and(|c| !c.duplicate && c.facts_differ), "{c:?}");
        assert!(!other_facts.compare(&stored).duplicate);
    }

    #[test]
    fn samples_round_trip_and_damage_is_an_error() {
        let mut next = xorshift(0x5A4);
        for n in [0usize, 1, 3, 255, 256, 300] {
            let mut v: Vec<u32> = (0..n).map(|_| next() as u32).collect();
            v.sort_unstable();
            v.dedup();
            let b = Sketch::encode_sample(&v);
            assert_eq!(Sketch::decode_sample(&b).ok(), Some(v.clone()), "n = {n}");
            if n > 0 {
                assert!(
                    Sketch::decode_sample(&b[..b.len() - 1]).is_err(),
                    "cut, n = {n}"
                );
                let mut longer = b.clone();
                longer.push(0);
                assert!(Sketch::decode_sample(&longer).is_err(), "trailing, n = {n}");
            }
        }
        // Out of order or repeated, it is stored sorted and distinct.
        let b = Sketch::encode_sample(&[9, 3, 3, u32::MAX, 0]);
        assert_eq!(
            Sketch::decode_sample(&b).ok(),
            Some(vec![0, 3, 9, u32::MAX])
        );
        assert!(Sketch::decode_sample(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 5]).is_err());
    }

    #[test]
    fn cleaned_tokens_and_text_give_the_same_fingerprint() {
        let raw = format!("العنوان\nشام تايمز\n{BODY}\nشام تايمز\nاقرأ أيضاً: خبر آخر");
        let cleaned = clean::clean_keyed(&raw);
        assert_eq!(
            Fingerprint::from_cleaned("العنوان", &cleaned),
            Fingerprint::from_clean("العنوان", &cleaned.text)
        );
        assert_eq!(
            Fingerprint::from_cleaned("العنوان", &cleaned),
            Fingerprint::new("العنوان", &raw)
        );
    }

    #[test]
    fn text_fingerprints_equal_the_normalise_then_split_way() {
        // Diacritics, hamza forms, a presentation-form line (NFKC), digits.
        let body = format!(
            "{BODY}\nقالَ الرئيسُ الأميركيّ إنّ «سورية» ـــ مهمة، و٢٠١٦ كان عاماً صعباً.\n\u{FEB3}\u{FEEE}\u{FEAD}\u{FEF3}\u{FE8E} \u{FEF7}\u{FEE3}\u{FEE3}"
        );
        let lines: Vec<(Vec<u64>, Vec<u32>)> = body
            .lines()
            .map(|l| {
                let n = crate::text::normalize::normalize(l);
                let tokens: Vec<(u64, bool)> = words(&n).map(word_token).collect();
                (
                    tokens.iter().map(|t| t.0).collect(),
                    tokens.iter().filter(|t| t.1).map(|t| t.0 as u32).collect(),
                )
            })
            .collect();
        let mut cleaned = clean::Cleaned::default();
        for (t, n) in &lines {
            cleaned.tokens.extend_from_slice(t);
            cleaned.numbers.extend_from_slice(n);
            cleaned
                .ends
                .push((cleaned.tokens.len() as u32, cleaned.numbers.len() as u32));
        }
        let expected = Fingerprint::build("عنوان", &cleaned);
        assert_eq!(Fingerprint::from_clean("عنوان", &body), expected);
        // Again once cleanup has remembered the text's chunks.
        clean::clean_keyed(&body);
        assert_eq!(Fingerprint::from_clean("عنوان", &body), expected);
    }

    /// A title is read from the chunks cleanup remembered where it can:
    /// the result equals a read by folding alone (on a thread whose cache
    /// has seen nothing).
    #[test]
    fn titles_read_from_remembered_chunks_equal_a_cold_read() {
        let titles = [
            "عاجل: لافروف يلتقي بلينكن في جنيف لبحث الملف السوري",
            "قالَ الرئيسُ الأميركيّ إنّ «سورية» ـــ مهمة، و٢٠١٦ كان عاماً صعباً",
            "الأمم المتحدة: 300 ألف نازح في إدلب خلال 2024",
            "Kremlin-Moscow ABC \u{FEB3}\u{FEEE}\u{FEAD}\u{FEF3}\u{FE8E} سوريا",
            "بالفيديو | مجلس الأمن يصوت على القرار 2254",
        ];
        let cold = std::thread::spawn(move || {
            titles
                .iter()
                .map(|t| Fingerprint::from_clean(t, ""))
                .collect::<Vec<_>>()
        })
        .join()
        .expect("cold thread");
        for _ in 0..2 {
            for t in titles {
                clean::clean_keyed(t);
            }
        }
        let warm: Vec<Fingerprint> = titles
            .iter()
            .map(|t| Fingerprint::from_clean(t, ""))
            .collect();
        assert_eq!(warm, cold);
        assert!(cold.iter().all(|f| !f.title.is_empty()));
    }

    #[test]
    fn the_headline_repeated_in_the_body_is_not_shingled() {
        let title = "موسكو تعلق المحادثات مع واشنطن";
        let plain = Fingerprint::from_clean(title, BODY);
        let repeated = Fingerprint::from_clean(title, &format!("{title}\n{BODY}"));
        assert_eq!(repeated, plain);
        let (first, rest) = BODY.split_once('\n').expect("two lines");
        let inside = Fingerprint::from_clean(title, &format!("{first}\n{title}\n{rest}"));
        assert_eq!(inside, plain, "a headline between paragraphs");
        let twice = Fingerprint::from_clean(title, &format!("{title}\n{title}\n{BODY}\n{title}"));
        assert_eq!(twice, plain);
        let other = Fingerprint::from_clean(title, &format!("عنوان آخر تماما\n{BODY}"));
        assert_ne!(other.body, plain.body);
    }

    #[test]
    fn smallest_distinct_equals_sort_dedup_truncate() {
        let v = [9u32, 3, 3, 7, 1, 9, 12, 0, 5, 5, 2];
        for k in 0..12 {
            let mut want = v.to_vec();
            want.sort_unstable();
            want.dedup();
            want.truncate(k);
            assert_eq!(smallest_distinct(v.iter().copied(), k), want, "k {k}");
        }
    }

    /// A xorshift generator: uniform 64-bit values, the same every run.
    pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn hashes_sort_and_dedup_like_the_standard_ones() {
        let mut next = xorshift(7);
        for n in [0, 1, 31, 32, 33, 390, 1000, 4096, 5000] {
            // Uniform hashes, then clustered ones and repeats: the bucket
            // pass must not rely on the distribution for its result.
            for spread in [32, 12, 3] {
                let v: Vec<u32> = (0..n).map(|_| (next() >> (64 - spread)) as u32).collect();
                let mut a = v.clone();
                sort_hashes(&mut a);
                let mut b = v;
                b.sort_unstable();
                assert_eq!(a, b, "n {n} spread {spread}");
                dedup_sorted(&mut a);
                b.dedup();
                assert_eq!(a, b, "dedup: n {n} spread {spread}");
            }
        }
    }

    #[test]
    fn the_token_cache_answers_as_word_token_through_evictions() {
        let letters: Vec<char> = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي".chars().collect();
        let word = |i: usize| -> String {
            let mut x = i;
            let mut w = String::from("ال");
            for _ in 0..4 {
                w.push(letters[x % letters.len()]);
                x /= letters.len();
            }
            w
        };
        let mut cache = TokenCache::default();
        // More words than the cache holds, twice, and variant spellings.
        for round in 0..2 {
            for i in (0..40_000).step_by(7) {
                let w = word(i);
                assert_eq!(cache.token(&w), word_token(&w), "{w} round {round}");
            }
            for w in ["سوريه", "وسوريه", "الاميركيه", "2024", "١٢"] {
                assert_eq!(cache.token(w), word_token(w), "{w}");
            }
        }
    }

    #[test]
    fn title_words_equal_the_normalise_then_split_way() {
        for title in [
            "عاجل: الرئيسُ الأميركيّ يبحث مع بوتين الملفَّ «السوري» في ٢٠٢٤",
            "Kremlin: Putin and Biden — 12 talks",
            "ﺳﻮﺭﻳﺎ presentation forms في العنوان",
            "",
        ] {
            let mut want_words: Vec<u32> = Vec::new();
            let mut want_numbers: Vec<u32> = Vec::new();
            for w in words(&crate::text::normalize::normalize(title)) {
                let c = canonical_token(w);
                let h = token_hash(&c);
                if is_number(&c) {
                    want_numbers.push(h as u32);
                } else if !FUNCTION_WORDS.contains(&c.as_ref()) && !TITLE_STOP.contains(&c.as_ref())
                {
                    want_words.push(token_hash(strip_article(&c)) as u32);
                }
            }
            want_words.sort_unstable();
            want_words.dedup();
            want_numbers.sort_unstable();
            want_numbers.dedup();
            // Twice: the second time from the caches.
            for _ in 0..2 {
                let fp = Fingerprint::from_clean(title, "");
                assert_eq!(fp.title, want_words, "{title}");
                assert_eq!(fp.numbers, want_numbers, "{title}");
            }
        }
    }

    #[test]
    fn sketches_round_trip_through_both_versions() {
        let mut next = xorshift(11);
        for body_len in [0u32, 1, 3, 16, 40, 390, 5000, u32::MAX] {
            // The smallest of `body_len` uniform hashes, as a sketch keeps.
            let mut all: Vec<u32> = (0..body_len.min(5000)).map(|_| next() as u32).collect();
            all.sort_unstable();
            all.dedup();
            all.truncate(SKETCH_BODY);
            let extremes = vec![0, 1, u32::MAX - 1, u32::MAX];
            let unsorted = vec![5, 3, 3, 9];
            for body in [all, extremes, unsorted] {
                let sketch = Sketch {
                    body_len,
                    body: body.clone(),
                    lead: vec![next() as u32, 7],
                    title: vec![],
                    numbers: vec![3, next() as u16],
                };
                let mut b = sketch.to_bytes();
                let ascending = body.windows(2).all(|w| w[0] < w[1]);
                assert_eq!(b[0], if ascending { 2 } else { 1 }, "{body:?}");
                b.extend_from_slice(b"rest");
                let (back, rest) = Sketch::from_bytes(&b).expect("a written sketch reads back");
                assert_eq!(back, sketch);
                assert_eq!(rest, b"rest");
            }
        }
    }

    #[test]
    fn a_rice_coded_body_is_smaller_than_its_words() {
        let fp = Fingerprint::new("عنوان", BODY);
        let sketch = fp.sketch();
        let body = sketch.body.len() * 4;
        let plain = 11 + body + 4 * sketch.lead.len() + 2 * sketch.numbers.len();
        assert!(
            sketch.to_bytes().len() < plain,
            "{} vs {plain}",
            sketch.to_bytes().len()
        );
    }

    #[test]
    fn cut_or_altered_sketch_bytes_are_errors_not_panics() {
        let sketch = Fingerprint::new("عنوان", BODY).sketch();
        let b = sketch.to_bytes();
        for cut in 0..b.len() {
            let _ = Sketch::from_bytes(&b[..cut]);
        }
        for at in 0..b.len() {
            for v in [0u8, 0x7F, 0x80, 0xFF] {
                let mut c = b.clone();
                c[at] = v;
                let _ = Sketch::from_bytes(&c);
            }
        }
        assert!(Sketch::from_bytes(&b[..b.len() - 1]).is_err());
        assert!(Sketch::from_bytes(&[2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }

    #[test]
    fn a_different_number_vetoes_the_merge() {
        let a = Fingerprint::new("تقرير", &BODY.replace("الشهر الماضي", "يوم 12 أيلول"));
        let b = Fingerprint::new("تقرير", &BODY.replace("الشهر الماضي", "يوم 19 أيلول"));
        let c = a.compare(&b);
        assert!(c.facts_differ && !c.duplicate, "{c:?}");
    }

    #[test]
    fn unrelated_articles_are_not_duplicates() {
        let a = Fingerprint::new("عنوان", BODY);
        let b = Fingerprint::new(
            "عنوان آخر",
            "أعلن الاتحاد الأوروبي اليوم حزمة جديدة من المساعدات الإنسانية للاجئين في لبنان والأردن.\n\
             وقال مسؤول أوروبي إن المساعدات تشمل الغذاء والدواء والمأوى لفصل الشتاء المقبل في المخيمات.",
        );
        assert!(!a.compare(&b).duplicate);
    }
}

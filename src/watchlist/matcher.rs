//! The compiled matcher: one dictionary of every term of every topic, keyed
//! by the term's first word. A document is scanned once: each token is split
//! into (clitic prefix, stem, suffix) candidates, and each candidate stem is
//! tested against a bit set of the keys' hashes before the dictionary is
//! read. The topics then read the occurrences they need.
//!
//! An Aho-Corasick automaton over the keys was measured too: with thousands
//! of terms its DFA takes megabytes and every byte of text becomes a cache
//! miss, while the candidates of a token are few (a handful of prefixes and
//! suffixes) and the bit set stays in the first-level cache.

use rustc_hash::FxHashMap as HashMap;
use xxhash_rust::xxh3::xxh3_64;

use serde::{Deserialize, Serialize};

use crate::text::normalize::{canonical_token, fold_words, normalize, normalize_into};
use crate::text::tokens::{clitic_prefixes_of, noun_suffixes_of, token_matches, words, Affixes};

/// Where a term was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Body,
}

/// Where a term may be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Any,
    Title,
    Body,
}

impl Scope {
    fn allows(self, f: Field) -> bool {
        matches!(
            (self, f),
            (Scope::Any, _) | (Scope::Title, Field::Title) | (Scope::Body, Field::Body)
        )
    }
}

/// One term that matched, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub term: String,
    pub field: Field,
    /// Which rule of the topic it satisfied (its `all` group, in order).
    #[serde(default)]
    pub group: u16,
}

/// A topic that matched an item, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub topic: String,
    pub hits: Vec<Hit>,
    /// The weighted score, when the topic has weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

impl Match {
    /// One line for a reader: "سوريا، واشنطن، موسكو — in title".
    pub fn explain(&self) -> String {
        // One term per rule, preferring one in the title: the reader sees
        // why at a glance, not every synonym that hit.
        let mut chosen: Vec<&Hit> = Vec::new();
        for h in &self.hits {
            match chosen.iter_mut().find(|c| c.group == h.group) {
                Some(c) if c.field == Field::Body && h.field == Field::Title => *c = h,
                Some(_) => {}
                None => chosen.push(h),
            }
        }
        let mut terms: Vec<&str> = Vec::new();
        for h in &chosen {
            if !terms.contains(&h.term.as_str()) {
                terms.push(&h.term);
            }
        }
        let in_title = chosen.iter().any(|h| h.field == Field::Title);
        let in_body = chosen.iter().any(|h| h.field == Field::Body);
        let place = match (in_title, in_body) {
            (true, false) => "في العنوان",
            (false, true) => "في النص",
            _ => "في العنوان والنص",
        };
        format!("{} — {place}", terms.join("، "))
    }

    /// Every term that hit, and the score: for logs and replays.
    pub fn explain_all(&self) -> String {
        let mut terms: Vec<&str> = Vec::new();
        for h in &self.hits {
            if !terms.contains(&h.term.as_str()) {
                terms.push(&h.term);
            }
        }
        let mut s = terms.join("، ");
        if let (Some(score), Some(t)) = (self.score, self.threshold) {
            s.push_str(&format!(" (score {score:.1}, threshold {t:.1})"));
        }
        s
    }
}

/// A compiled term: its canonical words and affix rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub(crate) display: String,
    words: Vec<String>,
    affixes: Affixes,
}

impl Term {
    pub(crate) fn new(text: &str, affixes: Affixes) -> Option<Term> {
        let n = normalize(text);
        let words: Vec<String> = words(&n).map(|w| canonical_token(w).into_owned()).collect();
        if words.is_empty() {
            return None;
        }
        Some(Term {
            display: text.trim().to_string(),
            words,
            affixes,
        })
    }

    /// True when the rest of a phrase follows at `tokens[start + 1..]`.
    fn rest_matches(&self, tokens: &Tokens<'_>, start: usize) -> bool {
        self.words[1..].iter().enumerate().all(|(i, w)| {
            let rule = if self.affixes == Affixes::Exact {
                Affixes::Exact
            } else {
                Affixes::Word
            };
            tokens
                .get(start + 1 + i)
                .is_some_and(|t| token_matches(t, w, rule))
        })
    }
}

/// Every term of the watchlist, indexed by first word.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dictionary {
    terms: Vec<Term>,
    /// The keys: first words of terms, adjective stems of names and first
    /// words without their article.
    keys: Vec<KeyEntry>,
    key_ids: HashMap<String, u32>,
    /// Term id by words and form, so a term shared by topics is scanned once.
    ids: HashMap<(String, Affixes), u32>,
    /// One bit per key hash ([`key_bit`]): most candidate stems of a
    /// document are not keys, and this says so without reading the map.
    bits: Vec<u64>,
    /// Which compiled dictionary this is, for the word cache.
    generation: u64,
}

/// What one key leads to.
#[derive(Debug, Clone, Default)]
struct KeyEntry {
    /// Terms whose first word is the key.
    first_word: Vec<u32>,
    /// Country names ending in ا also match their adjectives (سوريا →
    /// سوري، السورية، السوريين; أمريكا → أمريكي): names whose adjective
    /// stem is the key (flag: the stem ends in ي).
    nisba: Vec<(u32, bool)>,
    /// Terms whose first word is the article + the key: "لل" absorbs the
    /// article (للكرملين = ل + الكرملين).
    sans_article: Vec<u32>,
}

/// Adjective endings after a stem that ends in ي (سوري|ه، سوري|ين).
const NISBA_AFTER_YA: &[&str] = &["", "ه", "ين", "ون", "ان", "ات", "تين", "تان"];
/// Adjective endings after a bare stem (أمريك|ي، أمريك|يه).
const NISBA: &[&str] = &["ي", "يه", "يين", "يون", "يان", "يتين", "يتان", "يات"];

/// The adjective stem of a one-word name ending in ا, and whether it ends in ي.
fn nisba_stem(w: &str) -> Option<(&str, bool)> {
    let stem = w.strip_suffix('ا')?;
    (stem.chars().count() >= 3).then(|| (stem, stem.ends_with('ي')))
}

/// Bits in the key filter: 32 KiB, a false positive for about one
/// candidate in 50 with five thousand keys.
const KEY_BITS: usize = 1 << 18;

/// The filter bit of a candidate stem: a multiply-xor hash over its bytes
/// read eight at a time (stems are a few letters: one to three rounds).
fn key_bit(bytes: &[u8]) -> usize {
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(0x9E3779B97F4A7C15);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let w = rest
            .iter()
            .enumerate()
            .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i));
        h = (h.rotate_left(23) ^ w).wrapping_mul(0x9E3779B97F4A7C15);
    }
    (h >> (64 - 18)) as usize
}

/// One occurrence of a term in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Occurrence {
    pub(crate) term: u32,
    pub(crate) field: Field,
    pub(crate) pos: u32,
}

impl Dictionary {
    fn key(&mut self, k: &str) -> &mut KeyEntry {
        let next = self.keys.len() as u32;
        let i = *self.key_ids.entry(k.to_string()).or_insert(next);
        if i == next {
            self.keys.push(KeyEntry::default());
        }
        &mut self.keys[i as usize]
    }

    /// Adds a term (or finds the same one) and returns its id.
    pub(crate) fn add(&mut self, term: Term) -> u32 {
        let key = (term.words.join(" "), term.affixes);
        if let Some(&i) = self.ids.get(&key) {
            return i;
        }
        let id = self.terms.len() as u32;
        self.ids.insert(key, id);
        self.key(&term.words[0]).first_word.push(id);
        if let Some(rest) = term.words[0].strip_prefix("ال").filter(|r| r.len() >= 4) {
            if term.affixes != Affixes::Exact {
                self.key(rest).sans_article.push(id);
            }
        }
        if let ([w], Affixes::Word) = (term.words.as_slice(), term.affixes) {
            if let Some((stem, ya)) = nisba_stem(w) {
                self.key(stem).nisba.push((id, ya));
            }
        }
        self.terms.push(term);
        id
    }

    /// Sets the key bits; called once every term is in.
    pub(crate) fn finish(&mut self) {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        self.generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.bits = vec![0; KEY_BITS / 64];
        for k in self.key_ids.keys() {
            let b = key_bit(k.as_bytes());
            self.bits[b / 64] |= 1 << (b % 64);
        }
    }

    pub(crate) fn term(&self, id: u32) -> &Term {
        &self.terms[id as usize]
    }

    /// Number of terms.
    pub(crate) fn len(&self) -> usize {
        self.terms.len()
    }

    /// Every occurrence of every term, sorted by term id.
    pub(crate) fn scan(&self, doc: &Document) -> Vec<Occurrence> {
        let mut out = scratch(|s| s.occurrences.pop()).unwrap_or_default();
        if self.bits.is_empty() {
            return out;
        }
        for &(k, start, end, key) in &doc.hits {
            self.candidate(doc, k as usize, start, end, key as usize, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The canonical form of a normalised word and the keys in it.
    fn analyse(&self, w: &str) -> WordInfo {
        let canonical = canonical_token(w);
        let mut found = Vec::new();
        if !self.bits.is_empty() {
            self.keys_in(&canonical, 0, &mut found);
        }
        WordInfo {
            keys: found
                .into_iter()
                .filter_map(|(s, e, k)| Some((u8::try_from(s).ok()?, u8::try_from(e).ok()?, k)))
                .collect(),
            canonical: canonical.into(),
        }
    }

    /// Every (clitic prefix, stem, noun suffix) split of `tok` whose stem
    /// is a key, as (start, end, key) with `tok` at `offset`.
    fn keys_in(&self, tok: &str, offset: u32, found: &mut Vec<(u32, u32, u32)>) {
        for prefix in std::iter::once("").chain(clitic_prefixes_of(tok)) {
            let rest = &tok[prefix.len()..];
            for suffix in std::iter::once("").chain(noun_suffixes_of(rest)) {
                let (start, end) = (prefix.len(), tok.len() - suffix.len());
                let b = key_bit(&tok.as_bytes()[start..end]);
                if self.bits[b / 64] & (1 << (b % 64)) == 0 {
                    continue;
                }
                if let Some(&key) = self.key_ids.get(&tok[start..end]) {
                    found.push((offset + start as u32, offset + end as u32, key));
                }
            }
        }
    }

    /// Records the terms of a key found at `start..end` in token `k`, a
    /// split into clitic prefix, stem and noun suffix made by
    /// [`Dictionary::keys_in`], when the terms allow that prefix and suffix.
    fn candidate(
        &self,
        doc: &Document,
        k: usize,
        start: u32,
        end: u32,
        key: usize,
        out: &mut Vec<Occurrence>,
    ) {
        let (Some(&(ts, te)), Some(entry)) = (doc.spans.get(k), self.keys.get(key)) else {
            return;
        };
        let Some(tok) = doc.buf.get(ts as usize..te as usize) else {
            return;
        };
        if start < ts || end > te {
            return;
        }
        let (field, pos) = if k < doc.title_len {
            (Field::Title, k)
        } else {
            (Field::Body, k - doc.title_len)
        };
        let tokens = doc.tokens(field);
        let (p, s) = ((start - ts) as usize, (end - ts) as usize);
        let (prefix, stem, suffix) = (&tok[..p], &tok[p..s], &tok[s..]);
        let mut push = |term: u32| {
            out.push(Occurrence {
                term,
                field,
                pos: pos as u32,
            })
        };
        // "لل" absorbs the article: للكرملين = ل + الكرملين.
        if !entry.sans_article.is_empty() && matches!(prefix, "لل" | "ولل" | "فلل") {
            for &id in &entry.sans_article {
                let t = &self.terms[id as usize];
                if (suffix.is_empty() || t.affixes == Affixes::Word) && t.rest_matches(&tokens, pos)
                {
                    push(id);
                }
            }
        }
        for &(id, ya) in &entry.nisba {
            let ok = if ya {
                NISBA_AFTER_YA.contains(&suffix)
            } else {
                NISBA.contains(&suffix)
            };
            if ok {
                push(id);
            }
        }
        for &id in &entry.first_word {
            let t = &self.terms[id as usize];
            if allows(t, prefix, suffix, stem) && t.rest_matches(&tokens, pos) {
                push(id);
            }
        }
    }
}

/// Whether a term accepts this prefix and suffix around `stem`.
fn allows(t: &Term, prefix: &str, suffix: &str, stem: &str) -> bool {
    match t.affixes {
        Affixes::Exact => prefix.is_empty() && suffix.is_empty(),
        Affixes::Name => suffix.is_empty() && !prefix.contains("ال"),
        // A term that starts with the article takes no second article.
        Affixes::Word => !(prefix.contains("ال") && stem.starts_with("ال")),
    }
}

/// An item's text, tokenised once for every topic: canonical tokens in one
/// buffer, and the dictionary keys found in them.
pub(crate) struct Document {
    buf: String,
    /// Byte spans of the title's tokens, then the body's.
    spans: Vec<(u32, u32)>,
    title_len: usize,
    /// (token, start, end, key): a key found at `start..end` of the buffer.
    hits: Vec<(u32, u32, u32, u32)>,
}

/// A key found in a word: (start, end, key) within its canonical form.
type WordKey = (u8, u8, u32);

/// What the scan learns about one normalised word: its canonical form and
/// the keys in it.
struct WordInfo {
    canonical: Box<str>,
    keys: Box<[WordKey]>,
}

/// A cached word: its bytes and its canonical form side by side in the text
/// arena, its keys in the key arena, so that a lookup touches few cache lines.
#[derive(Clone, Copy)]
struct Entry {
    at: u32,
    word_len: u16,
    canonical_len: u16,
    keys_at: u32,
    keys_len: u16,
}

/// Words already analysed, per thread, for one dictionary. A news stream
/// reuses its vocabulary: after the first articles nearly every word is
/// here, and the scan costs one lookup per word. Words are found by a
/// 64-bit hash and then compared, so the table stays small.
#[derive(Default)]
struct WordCache {
    generation: u64,
    index: HashMap<u64, u32>,
    entries: Vec<Entry>,
    text: String,
    keys: Vec<WordKey>,
}

impl WordCache {
    /// The canonical form and keys of `w`, if cached.
    fn get(&self, hash: u64, w: &str) -> Option<(&str, &[WordKey])> {
        let e = *self.entries.get(*self.index.get(&hash)? as usize)?;
        let at = e.at as usize;
        let word_end = at + usize::from(e.word_len);
        let word = self.text.as_bytes().get(at..word_end)?;
        if !same_bytes(word, w.as_bytes()) {
            return None;
        }
        let canonical = self
            .text
            .get(word_end..word_end + usize::from(e.canonical_len))?;
        let keys = self
            .keys
            .get(e.keys_at as usize..e.keys_at as usize + usize::from(e.keys_len))?;
        Some((canonical, keys))
    }

    /// Keeps `w`'s analysis, unless its canonical form is too long for the
    /// one-byte key offsets ([`WordKey`]) to cover.
    fn insert(&mut self, hash: u64, w: &str, info: &WordInfo) {
        if info.canonical.len() > usize::from(u8::MAX) {
            return;
        }
        let (Ok(word_len), Ok(canonical_len), Ok(keys_len)) = (
            u16::try_from(w.len()),
            u16::try_from(info.canonical.len()),
            u16::try_from(info.keys.len()),
        ) else {
            return;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = self.index.entry(hash) {
            slot.insert(self.entries.len() as u32);
            self.entries.push(Entry {
                at: self.text.len() as u32,
                word_len,
                canonical_len,
                keys_at: self.keys.len() as u32,
                keys_len,
            });
            self.text.push_str(w);
            self.text.push_str(&info.canonical);
            self.keys.extend_from_slice(&info.keys);
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.text.clear();
        self.keys.clear();
    }
}

/// Byte equality without a library call: words are a few bytes long.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Words kept at most; the cache starts over when full.
const CACHE_WORDS: usize = 200_000;

thread_local! {
    static WORDS: std::cell::RefCell<WordCache> = std::cell::RefCell::new(WordCache::default());
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Buffers a classification leaves for the next one on the same thread:
/// an item needs a dozen of them, and allocating them each time cost more
/// than the scan of a short item.
#[derive(Default)]
struct Scratch {
    docs: Vec<Document>,
    occurrences: Vec<Vec<Occurrence>>,
    starts: Vec<Vec<u32>>,
}

fn scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

/// Gives a scan's occurrences back for reuse.
pub(crate) fn recycle_occurrences(mut occ: Vec<Occurrence>) {
    occ.clear();
    scratch(|s| s.occurrences.push(occ));
}

/// The tokens of one field.
pub(crate) struct Tokens<'a> {
    buf: &'a str,
    spans: &'a [(u32, u32)],
}

impl<'a> Tokens<'a> {
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        self.spans
            .get(i)
            .and_then(|&(a, b)| self.buf.get(a as usize..b as usize))
    }
}

/// Drops what a field's fast pass added to `doc`.
fn rewind(doc: &mut Document, spans: usize, hits: usize) {
    let end = doc.spans.get(spans).map_or(doc.buf.len(), |s| s.0 as usize);
    doc.buf.truncate(end);
    doc.spans.truncate(spans);
    doc.hits.truncate(hits);
}

impl Document {
    pub(crate) fn new(dict: &Dictionary, title: &str, body: &str) -> Document {
        let mut doc = scratch(|s| s.docs.pop()).unwrap_or(Document {
            buf: String::with_capacity(title.len() + body.len()),
            spans: Vec::with_capacity(body.len() / 8),
            title_len: 0,
            hits: Vec::new(),
        });
        WORDS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.generation != dict.generation || cache.entries.len() >= CACHE_WORDS {
                cache.clear();
                cache.generation = dict.generation;
            }
            let mut word = String::new();
            for (i, text) in [title, body].into_iter().enumerate() {
                let (spans, hits) = (doc.spans.len(), doc.hits.len());
                if !fold_words(text, &mut word, |w| doc.add_word(dict, &mut cache, w)) {
                    // Text that needs NFKC: start the field over the slow way.
                    let mut norm = String::with_capacity(text.len());
                    normalize_into(text, &mut norm);
                    rewind(&mut doc, spans, hits);
                    for w in words(&norm) {
                        doc.add_word(dict, &mut cache, w);
                    }
                }
                if i == 0 {
                    doc.title_len = doc.spans.len();
                }
            }
        });
        doc
    }

    /// Appends the normalised word `w`, analysed once per thread.
    fn add_word(&mut self, dict: &Dictionary, cache: &mut WordCache, w: &str) {
        let hash = xxh3_64(w.as_bytes());
        if let Some((canonical, keys)) = cache.get(hash, w) {
            self.push(canonical, keys);
        } else {
            let info = dict.analyse(w);
            self.push(&info.canonical, &info.keys);
            cache.insert(hash, w, &info);
        }
    }

    /// Gives the buffers back for the next document on this thread.
    pub(crate) fn recycle(mut self) {
        self.buf.clear();
        self.spans.clear();
        self.hits.clear();
        self.title_len = 0;
        scratch(|s| s.docs.push(self));
    }

    fn push(&mut self, canonical: &str, keys: &[WordKey]) {
        let k = self.spans.len() as u32;
        let start = self.buf.len() as u32;
        self.buf.push_str(canonical);
        self.spans.push((start, self.buf.len() as u32));
        for &(s, e, key) in keys {
            self.hits
                .push((k, start + u32::from(s), start + u32::from(e), key));
        }
    }

    pub(crate) fn tokens(&self, field: Field) -> Tokens<'_> {
        let spans = match field {
            Field::Title => &self.spans[..self.title_len],
            Field::Body => &self.spans[self.title_len..],
        };
        Tokens {
            buf: &self.buf,
            spans,
        }
    }
}

/// The occurrences of one document, for the topics to query.
pub(crate) struct Found<'a> {
    occ: &'a [Occurrence],
    /// Where each term's occurrences start in `occ` (`u32::MAX`: none),
    /// indexed by term id: topics ask for hundreds of terms per item.
    start: Vec<u32>,
}

impl<'a> Found<'a> {
    /// `occ` sorted by term; `terms`: the dictionary's size.
    pub(crate) fn new(occ: &'a [Occurrence], terms: usize) -> Found<'a> {
        let mut start = scratch(|s| s.starts.pop()).unwrap_or_default();
        // A reused table has every entry at MAX (see `recycle`).
        start.resize(terms, u32::MAX);
        for (i, o) in occ.iter().enumerate().rev() {
            if let Some(s) = start.get_mut(o.term as usize) {
                *s = i as u32;
            }
        }
        Found { occ, start }
    }

    /// Resets the entries this document set and gives the table back.
    pub(crate) fn recycle(self) {
        let mut start = self.start;
        for o in self.occ {
            if let Some(s) = start.get_mut(o.term as usize) {
                *s = u32::MAX;
            }
        }
        scratch(|s| s.starts.push(start));
    }

    /// Occurrences of `term` in `scope`.
    pub(crate) fn of(&self, term: u32, scope: Scope) -> impl Iterator<Item = &'a Occurrence> + 'a {
        let from = match self.start.get(term as usize) {
            Some(&s) if s != u32::MAX => s as usize,
            _ => self.occ.len(),
        };
        self.occ[from..]
            .iter()
            .take_while(move |o| o.term == term)
            .filter(move |o| scope.allows(o.field))
    }
}

/// Terms of which any one may match, in a scope.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    pub(crate) terms: Vec<u32>,
    pub(crate) scope: Scope,
}

impl Group {
    /// True when any term occurs (in scope).
    pub(crate) fn any(&self, found: &Found<'_>) -> bool {
        self.terms
            .iter()
            .any(|&t| found.of(t, self.scope).next().is_some())
    }

    /// The first occurrence of each matching term.
    pub(crate) fn hits(&self, found: &Found<'_>, dict: &Dictionary, group: u16) -> Vec<Hit> {
        let mut hits = Vec::new();
        for &t in &self.terms {
            if let Some(o) = found.of(t, self.scope).next() {
                hits.push(Hit {
                    term: dict.term(t).display.clone(),
                    field: o.field,
                    group,
                });
            }
        }
        hits
    }

    /// Number of distinct places where a term occurs, each term counted at
    /// most `cap` times. Two terms matching one word ("سوري" and "سوريا" on
    /// سوريا) count once.
    pub(crate) fn count(&self, found: &Found<'_>, cap: usize) -> usize {
        let mut places: Vec<(Field, u32)> = self
            .terms
            .iter()
            .flat_map(|&t| found.of(t, self.scope).take(cap).map(|o| (o.field, o.pos)))
            .collect();
        places.sort_unstable();
        places.dedup();
        places.len()
    }

    /// Positions (field, token index) of every occurrence.
    pub(crate) fn positions(&self, found: &Found<'_>) -> Vec<(Field, u32)> {
        let mut v: Vec<(Field, u32)> = self
            .terms
            .iter()
            .flat_map(|&t| found.of(t, self.scope).map(|o| (o.field, o.pos)))
            .collect();
        v.sort_unstable_by_key(|(f, p)| (*f as u8, *p));
        v
    }
}

/// Groups that must all occur within `within` words of each other.
#[derive(Debug, Clone)]
pub(crate) struct Near {
    pub(crate) groups: Vec<Group>,
    pub(crate) within: u32,
}

impl Near {
    pub(crate) fn holds(&self, found: &Found<'_>) -> bool {
        let lists: Vec<Vec<(Field, u32)>> =
            self.groups.iter().map(|g| g.positions(found)).collect();
        let Some((first, rest)) = lists.split_first() else {
            return false;
        };
        // Anchor on each occurrence of the first group; every other group
        // needs an occurrence in the same field within the window.
        first.iter().any(|&(f, p)| {
            rest.iter().all(|l| {
                l.iter()
                    .any(|&(g, q)| g == f && p.abs_diff(q) <= self.within)
            })
        })
    }
}

//! The compiled matcher: one dictionary of every term of every topic, keyed
//! by the term's first word. A document is scanned once: each token is split
//! into (clitic prefix, stem, suffix) candidates, and each candidate stem is
//! looked up. The topics then read the occurrences they need.

use rustc_hash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

use crate::text::normalize::{canonical_token, normalize, normalize_into};
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
    /// Terms by first word, and names by the stem of their adjective:
    /// country names ending in ا also match their adjectives (سوريا →
    /// سوري، السورية، السوريين; أمريكا → أمريكي).
    by_stem: HashMap<String, StemEntry>,
    /// Terms whose first word starts with the article, keyed by the word
    /// without it: "لل" absorbs the article (للكرملين = ل + الكرملين).
    by_word_sans_article: HashMap<String, Vec<u32>>,
    /// Term id by words and form, so a term shared by topics is scanned once.
    ids: HashMap<(String, Affixes), u32>,
}

/// What one stem leads to.
#[derive(Debug, Clone, Default)]
struct StemEntry {
    /// Terms whose first word is the stem.
    first_word: Vec<u32>,
    /// Names ending in ا whose adjective stem this is (flag: stem ends in ي).
    nisba: Vec<(u32, bool)>,
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

/// One occurrence of a term in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Occurrence {
    pub(crate) term: u32,
    pub(crate) field: Field,
    pub(crate) pos: u32,
}

impl Dictionary {
    /// Adds a term (or finds the same one) and returns its id.
    pub(crate) fn add(&mut self, term: Term) -> u32 {
        let key = (term.words.join(" "), term.affixes);
        if let Some(&i) = self.ids.get(&key) {
            return i;
        }
        let id = self.terms.len() as u32;
        self.ids.insert(key, id);
        self.by_stem
            .entry(term.words[0].clone())
            .or_default()
            .first_word
            .push(id);
        if let Some(rest) = term.words[0].strip_prefix("ال").filter(|r| r.len() >= 4) {
            if term.affixes != Affixes::Exact {
                self.by_word_sans_article
                    .entry(rest.to_string())
                    .or_default()
                    .push(id);
            }
        }
        if let ([w], Affixes::Word) = (term.words.as_slice(), term.affixes) {
            if let Some((stem, ya)) = nisba_stem(w) {
                self.by_stem
                    .entry(stem.to_string())
                    .or_default()
                    .nisba
                    .push((id, ya));
            }
        }
        self.terms.push(term);
        id
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
        let mut out = Vec::new();
        let mut seen_here: Vec<u32> = Vec::new();
        for field in [Field::Title, Field::Body] {
            let tokens = doc.tokens(field);
            for pos in 0..tokens.len() {
                let Some(tok) = tokens.get(pos) else { continue };
                seen_here.clear();
                let mut push = |id: u32, out: &mut Vec<Occurrence>| {
                    if !seen_here.contains(&id) {
                        seen_here.push(id);
                        out.push(Occurrence {
                            term: id,
                            field,
                            pos: pos as u32,
                        });
                    }
                };
                for prefix in std::iter::once("").chain(clitic_prefixes_of(tok)) {
                    let rest = &tok[prefix.len()..];
                    for suffix in std::iter::once("").chain(noun_suffixes_of(rest)) {
                        let stem = &rest[..rest.len() - suffix.len()];
                        let Some(entry) = self.by_stem.get(stem) else {
                            continue;
                        };
                        for &(id, ya) in &entry.nisba {
                            let ok = if ya {
                                NISBA_AFTER_YA.contains(&suffix)
                            } else {
                                NISBA.contains(&suffix)
                            };
                            if ok {
                                push(id, &mut out);
                            }
                        }
                        for &id in &entry.first_word {
                            let t = &self.terms[id as usize];
                            if allows(t, prefix, suffix, stem) && t.rest_matches(&tokens, pos) {
                                push(id, &mut out);
                            }
                        }
                    }
                }
                // "لل" absorbs the article: للكرملين = ل + الكرملين.
                for p in ["لل", "ولل", "فلل"] {
                    let Some(rest) = tok.strip_prefix(p).filter(|r| r.len() >= 4) else {
                        continue;
                    };
                    for suffix in std::iter::once("").chain(noun_suffixes_of(rest)) {
                        let stem = &rest[..rest.len() - suffix.len()];
                        for &id in self.by_word_sans_article.get(stem).into_iter().flatten() {
                            let t = &self.terms[id as usize];
                            let suffix_ok = suffix.is_empty() || t.affixes == Affixes::Word;
                            if suffix_ok && t.rest_matches(&tokens, pos) {
                                push(id, &mut out);
                            }
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out
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

/// An item's text, tokenised once for every topic: canonical tokens
/// stored in one buffer.
pub(crate) struct Document {
    buf: String,
    title: Vec<(u32, u32)>,
    body: Vec<(u32, u32)>,
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

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

impl Document {
    pub(crate) fn new(title: &str, body: &str) -> Document {
        let mut buf = String::with_capacity(title.len() + body.len());
        let mut norm = String::with_capacity(body.len());
        let mut spans = |text: &str, buf: &mut String| -> Vec<(u32, u32)> {
            norm.clear();
            normalize_into(text, &mut norm);
            let mut v = Vec::new();
            for w in words(&norm) {
                let start = buf.len() as u32;
                buf.push_str(&canonical_token(w));
                v.push((start, buf.len() as u32));
            }
            v
        };
        let title = spans(title, &mut buf);
        let body = spans(body, &mut buf);
        Document { buf, title, body }
    }

    pub(crate) fn tokens(&self, field: Field) -> Tokens<'_> {
        let spans = match field {
            Field::Title => &self.title,
            Field::Body => &self.body,
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
}

impl<'a> Found<'a> {
    pub(crate) fn new(occ: &'a [Occurrence]) -> Found<'a> {
        Found { occ }
    }

    /// Occurrences of `term` in `scope`.
    pub(crate) fn of(&self, term: u32, scope: Scope) -> impl Iterator<Item = &'a Occurrence> + 'a {
        let start = self.occ.partition_point(|o| o.term < term);
        self.occ[start..]
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

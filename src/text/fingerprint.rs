//! Near-duplicate fingerprints: exact shingle sets for verification, MinHash
//! with LSH banding for finding candidates.
//!
//! A wire story republished by another outlet keeps its sentences but may be
//! cut short, get a new headline, a dateline or a footer, or spell names
//! differently. So the decision is made on *containment* (how much of the
//! shorter text is inside the longer one) of word 3-gram shingles over
//! normalised, canonical tokens, not on Jaccard. Two different articles that
//! share a template ("another veto", "this week's rates") differ in their
//! facts: a number in the shorter one that the longer one lacks vetoes the
//! merge. Title-only items are compared on their title words.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::clean;
use super::normalize::{canonical_token, normalize_into};
use super::tokens::words;

/// Number of MinHash permutations.
pub const MINHASH_K: usize = 64;
/// LSH bands over the MinHash signature (`MINHASH_K / BANDS` rows each).
/// Two rows per band find pairs down to Jaccard ≈ 0.25 (truncated copies)
/// with high probability; the exact check removes the false candidates.
pub const BANDS: usize = 32;
const ROWS: usize = MINHASH_K / BANDS;

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

/// Words that carry no identity in a headline: site-name separators and
/// common function words. Kept short on purpose; names must never be here.
const TITLE_STOP: &[&str] = &[
    "في",
    "من",
    "الي",
    "علي",
    "عن",
    "مع",
    "ان",
    "او",
    "و",
    "ما",
    "لا",
    "قد",
    "بعد",
    "قبل",
    "خلال",
    "بين",
    "هذا",
    "هذه",
    "التي",
    "الذي",
    "حول",
    "عاجل",
    "فيديو",
    "صور",
    "بالفيديو",
    "بالصور",
];

impl Fingerprint {
    /// Fingerprints an item from its title and raw body text (cleaned first).
    pub fn new(title: &str, body: &str) -> Fingerprint {
        Fingerprint::from_clean(title, &clean::clean(body))
    }

    /// Fingerprints an item from its title and the keys of its cleaned body
    /// ([`clean::clean_keyed`]): the body is not normalised again.
    pub fn from_keys(title: &str, keys: &[String]) -> Fingerprint {
        Fingerprint::build(title, keys.iter().map(|k| (k.as_str(), true)))
    }

    /// Fingerprints an item whose body is already cleaned text.
    pub fn from_clean(title: &str, body: &str) -> Fingerprint {
        Fingerprint::build(title, body.lines().map(|l| (l, false)))
    }

    /// `lines`: (text, already normalised).
    fn build<'a>(title: &str, lines: impl Iterator<Item = (&'a str, bool)>) -> Fingerprint {
        let mut buf = String::with_capacity(256);
        let mut title_tokens: Vec<u64> = Vec::new();
        let mut numbers: Vec<u32> = Vec::new();
        let mut title_words: Vec<u32> = Vec::new();
        normalize_into(title, &mut buf);
        for w in words(&buf) {
            let c = canonical_token(w);
            let h = token_hash(&c);
            title_tokens.push(h);
            if is_number(&c) {
                numbers.push(h as u32);
            } else if !TITLE_STOP.contains(&c.as_ref()) {
                title_words.push(token_hash(strip_article(&c)) as u32);
            }
        }

        let mut body_tokens: Vec<u64> = Vec::with_capacity(512);
        let mut line_tokens: Vec<u64> = Vec::new();
        for (line, normalised) in lines {
            let text = if normalised {
                line
            } else {
                buf.clear();
                normalize_into(line, &mut buf);
                buf.as_str()
            };
            line_tokens.clear();
            for w in words(text) {
                let c = canonical_token(w);
                let h = token_hash(&c);
                if is_number(&c) {
                    numbers.push(h as u32);
                }
                line_tokens.push(h);
            }
            // The headline printed again at the top of the body says nothing new.
            if line_tokens == title_tokens {
                continue;
            }
            body_tokens.extend_from_slice(&line_tokens);
        }
        numbers.sort_unstable();
        numbers.dedup();
        let mut body = shingles(&body_tokens);
        body.sort_unstable();
        body.dedup();
        title_words.sort_unstable();
        title_words.dedup();
        Fingerprint {
            body,
            title: title_words,
            numbers,
        }
    }

    /// True when the item has a body long enough to compare on its own.
    pub fn has_body(&self) -> bool {
        self.body.len() >= MIN_BODY_SHINGLES
    }

    /// MinHash signature of the set used for candidate search.
    pub fn minhash(&self) -> [u32; MINHASH_K] {
        let mut sig = [u32::MAX; MINHASH_K];
        let set = if self.has_body() {
            &self.body
        } else {
            &self.title
        };
        for &x in set {
            for (i, slot) in sig.iter_mut().enumerate() {
                let h = mix(x, i as u32);
                if h < *slot {
                    *slot = h;
                }
            }
        }
        sig
    }

    /// LSH band keys: items sharing any key are candidates. Body-based and
    /// title-based keys are kept apart so a title never matches a body.
    pub fn band_keys(&self) -> Vec<u64> {
        if self.body.is_empty() && self.title.is_empty() {
            return Vec::new();
        }
        let sig = self.minhash();
        let kind: u64 = if self.has_body() { 1 } else { 2 };
        let mut keys: Vec<u64> = sig
            .chunks(ROWS)
            .enumerate()
            .map(|(band, rows)| {
                let mut bytes = Vec::with_capacity(4 * ROWS + 2);
                bytes.push(kind as u8);
                bytes.push(band as u8);
                for r in rows {
                    bytes.extend_from_slice(&r.to_le_bytes());
                }
                xxh3_64_with_seed(&bytes, 11)
            })
            .collect();
        // Items with a body are also findable by title, so that a feed item
        // carrying only a headline meets the full article it came from.
        if self.has_body() && !self.title.is_empty() {
            let t = Fingerprint {
                body: Vec::new(),
                title: self.title.clone(),
                numbers: Vec::new(),
            };
            keys.extend(t.band_keys());
        }
        keys
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
        let facts_differ = facts_differ(self, other);
        let duplicate = if both_bodies {
            !facts_differ && containment >= 0.8
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

fn containment_or_empty(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || b.is_empty() {
        1.0
    } else {
        containment(a, b)
    }
}

/// |A ∩ B| / min(|A|, |B|) over sorted distinct slices.
pub fn containment(a: &[u32], b: &[u32]) -> f64 {
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return 0.0;
    }
    intersection(a, b) as f64 / smaller as f64
}

fn intersection(a: &[u32], b: &[u32]) -> usize {
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

/// True when the item with fewer numbers has one that the other lacks.
fn facts_differ(a: &Fingerprint, b: &Fingerprint) -> bool {
    let (small, large) = if a.numbers.len() <= b.numbers.len() {
        (a, b)
    } else {
        (b, a)
    };
    if small.numbers.is_empty() {
        return false;
    }
    intersection(&small.numbers, &large.numbers) < small.numbers.len()
}

fn strip_article(t: &str) -> &str {
    match t.strip_prefix("ال") {
        Some(rest) if rest.chars().count() >= 3 => rest,
        _ => t,
    }
}

fn is_number(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

fn token_hash(t: &str) -> u64 {
    xxh3_64_with_seed(t.as_bytes(), 5)
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

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One of `MINHASH_K` hash permutations of a 32-bit value.
fn mix(x: u32, i: u32) -> u32 {
    let mut z = (u64::from(x) << 32 | u64::from(i)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(a.band_keys().iter().any(|k| b.band_keys().contains(k)));
    }

    #[test]
    fn keys_and_text_give_the_same_fingerprint() {
        let raw = format!("العنوان\nشام تايمز\n{BODY}\nشام تايمز\nاقرأ أيضاً: خبر آخر");
        let cleaned = clean::clean_keyed(&raw);
        assert_eq!(
            Fingerprint::from_keys("العنوان", &cleaned.keys),
            Fingerprint::from_clean("العنوان", &cleaned.text())
        );
        assert_eq!(
            Fingerprint::from_keys("العنوان", &cleaned.keys),
            Fingerprint::new("العنوان", &raw)
        );
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

//! Arabic normalisation for matching and fingerprinting.
//!
//! The output is never shown to a reader: it exists so that two spellings of the
//! same word compare equal. Every step folds a distinction that Arabic news
//! outlets make inconsistently (hamza seats, ta marbuta, digits, diacritics).

use unicode_normalization::UnicodeNormalization;

/// Normalises `input` for matching: NFKC, no diacritics or tatweel, folded
/// alef/hamza/ya/ta-marbuta forms, ASCII digits, lower-case Latin, unified
/// punctuation and no bidi or zero-width controls.
///
/// The function is idempotent: `normalize(&normalize(s)) == normalize(s)`.
pub fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    normalize_into(input, &mut out);
    out
}

/// [`normalize`] into a reused buffer (appends).
pub fn normalize_into(input: &str, out: &mut String) {
    let start = out.len();
    if fast_path(input, out) {
        return;
    }
    // A character that needs NFKC: redo the whole text the slow way.
    out.truncate(start);
    // NFKC turns presentation forms (U+FBxx, U+FExx), ligatures and
    // compatibility characters into base letters for the folding below.
    for c in input.nfkc() {
        if let Some(folded) = fold_char(c) {
            out.push(folded);
        }
    }
    // Folding can make text NFKC composes further: a lower-cased letter
    // meets a combining mark (H + U+0331 has no composed form, h + U+0331
    // is ẖ), or a dropped diacritic brings two characters together. Fold
    // again until nothing changes, so that the result is idempotent.
    for _ in 0..4 {
        let again: String = out[start..].nfkc().filter_map(fold_char).collect();
        if again == out[start..] {
            break;
        }
        out.truncate(start);
        out.push_str(&again);
    }
}

/// Whether ؤ and ئ fold to و and ي (the default): outlets write رئيس and
/// رييس, مؤتمر and موتمر alike, but a user who matches on the hamza seat
/// can turn it off (`[text] fold_hamza_seats = false`). Set once at start.
static FOLD_SEATS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Sets whether ؤ and ئ fold (see `FOLD_SEATS`); call before any text is
/// normalised.
pub fn set_fold_hamza_seats(on: bool) {
    FOLD_SEATS.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn seats() -> usize {
    usize::from(FOLD_SEATS.load(std::sync::atomic::Ordering::Relaxed))
}

/// What the folding does to one character of the Arabic block.
#[derive(Clone, Copy, PartialEq)]
enum Fold {
    Same,
    Drop,
    To(char),
    /// One of the few characters NFKC changes (ٵ = ا + ٴ and kin).
    Nfkc,
}

/// The folding of every character of the Arabic block (U+0600–U+06FF),
/// computed once from [`fold_char`] so both paths agree.
fn arabic_table() -> &'static [Fold; 256] {
    static TABLE: [std::sync::OnceLock<[Fold; 256]>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    TABLE[seats()].get_or_init(|| {
        let mut t = [Fold::Same; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let Some(c) = char::from_u32(0x600 + i as u32) else {
                continue;
            };
            let nfkc_same = std::iter::once(c).nfkc().eq(std::iter::once(c));
            *slot = match fold_char(c) {
                None => Fold::Drop,
                Some(_) if !nfkc_same => Fold::Nfkc,
                Some(f) if f == c => Fold::Same,
                Some(f) => Fold::To(f),
            };
        }
        t
    })
}

/// Normalises byte by byte: ASCII and the two-byte Arabic block by table,
/// other characters one by one. Runs of characters that stay as they are
/// (most of any text) are copied whole. False (with partial output) when a
/// character needs NFKC.
fn fast_path(input: &str, out: &mut String) -> bool {
    let table = arabic_table();
    let bytes = input.as_bytes();
    // Start of the run of unchanged characters not yet copied.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b.is_ascii_uppercase() {
                out.push_str(&input[run..i]);
                out.push(char::from(b.to_ascii_lowercase()));
                run = i + 1;
            }
            i += 1;
            continue;
        }
        let (fold, len) = if (0xD8..=0xDB).contains(&b) && i + 1 < bytes.len() {
            // U+0600..U+06FF is encoded as D8..DB followed by one byte.
            let cp = ((usize::from(b) & 0x1F) << 6) | (usize::from(bytes[i + 1]) & 0x3F);
            (table[cp - 0x600], 2)
        } else {
            let Some(c) = input.get(i..).and_then(|s| s.chars().next()) else {
                return false;
            };
            let fold = if needs_nfkc(c) {
                Fold::Nfkc
            } else {
                match fold_char(c) {
                    None => Fold::Drop,
                    Some(f) if f == c => Fold::Same,
                    Some(f) => Fold::To(f),
                }
            };
            (fold, c.len_utf8())
        };
        match fold {
            Fold::Same => {}
            Fold::Nfkc => return false,
            Fold::Drop => {
                out.push_str(&input[run..i]);
                run = i + len;
            }
            Fold::To(c) => {
                out.push_str(&input[run..i]);
                out.push(c);
                run = i + len;
            }
        }
        i += len;
    }
    out.push_str(&input[run..]);
    true
}

/// Whether each character of the Arabic block is a word character once
/// folded (what [`crate::text::tokens::words`] sees after [`normalize`]).
fn arabic_word_table() -> &'static [bool; 256] {
    static TABLE: [std::sync::OnceLock<[bool; 256]>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    TABLE[seats()].get_or_init(|| {
        let mut t = [false; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            if let Some(f) = char::from_u32(0x600 + i as u32).and_then(fold_char) {
                *slot = super::affixes::is_word_char(f);
            }
        }
        t
    })
}

/// Arabic-block characters that folding keeps and that belong to words.
fn arabic_same_letter_table() -> &'static [bool; 256] {
    static TABLE: [std::sync::OnceLock<[bool; 256]>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    TABLE[seats()].get_or_init(|| {
        let (fold, word) = (arabic_table(), arabic_word_table());
        let mut t = [false; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            *slot = fold[i] == Fold::Same && word[i];
        }
        t
    })
}

/// Calls `f` with each word of `input`, the words that
/// `tokens::words(&normalize(input))` gives, in one pass and without
/// building the normalised text: a word that folding leaves as it is is
/// passed as a slice of `input`, others are built in `word`. Returns false
/// (having called `f` for some words) when `input` needs NFKC: the caller
/// then normalises and splits the slow way.
pub fn fold_words(input: &str, word: &mut String, mut f: impl FnMut(&str)) -> bool {
    fold_words_keeping::<false>(input, word, |w, _| f(w))
}

/// [`fold_words`] where `:` and `©` also belong to words: the words of a
/// cleanup line key, where "تصوير:" and "© ..." mark photo credits. `f`
/// also learns whether the word holds one of them.
pub fn fold_key_words(input: &str, word: &mut String, f: impl FnMut(&str, bool)) -> bool {
    fold_words_keeping::<true>(input, word, f)
}

fn fold_words_keeping<const KEY: bool>(
    input: &str,
    word: &mut String,
    mut f: impl FnMut(&str, bool),
) -> bool {
    let table = arabic_table();
    let is_word = arabic_word_table();
    let same_letter = arabic_same_letter_table();
    let bytes = input.as_bytes();
    // Start of the current word in `input`, and whether it is being built
    // in `word` (a character in it was folded or dropped).
    let mut start: Option<usize> = None;
    let mut built = false;
    // Whether the current word holds ':' or '©' (KEY only).
    let mut marked = false;
    let mut i = 0;
    while i < bytes.len() {
        // The common case first, with no table of folds: a run of Arabic
        // letters that stay as they are, inside a word.
        let run = i;
        while let (Some(&b @ 0xD8..=0xD9), Some(&b2)) = (bytes.get(i), bytes.get(i + 1)) {
            let cp = ((usize::from(b) & 0x1F) << 6) | (usize::from(b2) & 0x3F);
            if !same_letter[(cp - 0x600) & 0xFF] {
                break;
            }
            i += 2;
        }
        if i > run {
            start.get_or_insert(run);
            if built {
                word.push_str(&input[run..i]);
            }
            if i >= bytes.len() {
                break;
            }
        }
        let b = bytes[i];
        if b == b' ' {
            // The common word end.
            if let Some(s) = start.take() {
                f(if built { word.as_str() } else { &input[s..i] }, marked);
                built = false;
            }
            marked = false;
            i += 1;
            continue;
        }
        let (fold, len, word_char) = if b < 0x80 {
            let fold = if b.is_ascii_uppercase() {
                Fold::To(char::from(b.to_ascii_lowercase()))
            } else {
                Fold::Same
            };
            let mark = KEY && b == b':';
            marked |= mark;
            (fold, 1, b.is_ascii_alphanumeric() || mark)
        } else if (0xD8..=0xDB).contains(&b) && i + 1 < bytes.len() {
            let cp = ((usize::from(b) & 0x1F) << 6) | (usize::from(bytes[i + 1]) & 0x3F);
            (table[cp - 0x600], 2, is_word[cp - 0x600])
        } else {
            let Some(c) = input.get(i..).and_then(|s| s.chars().next()) else {
                return false;
            };
            if needs_nfkc(c) {
                return false;
            }
            match fold_char(c) {
                None => (Fold::Drop, c.len_utf8(), false),
                Some(f) if f == c => {
                    let mark = KEY && c == '©';
                    marked |= mark;
                    (
                        Fold::Same,
                        c.len_utf8(),
                        super::affixes::is_word_char(c) || mark,
                    )
                }
                Some(f) => (Fold::To(f), c.len_utf8(), super::affixes::is_word_char(f)),
            }
        };
        match fold {
            Fold::Nfkc => return false,
            Fold::Drop => {
                // The word goes on after the dropped mark, but its letters
                // are no longer contiguous in `input`.
                if let (Some(s), false) = (start, built) {
                    word.clear();
                    word.push_str(&input[s..i]);
                    built = true;
                }
            }
            Fold::Same if word_char => {
                start.get_or_insert(i);
                if built {
                    word.push_str(&input[i..i + len]);
                }
            }
            Fold::To(c) if word_char => {
                let s = *start.get_or_insert(i);
                if !built {
                    word.clear();
                    word.push_str(&input[s..i]);
                    built = true;
                }
                word.push(c);
            }
            _ => {
                if let Some(s) = start.take() {
                    f(if built { word.as_str() } else { &input[s..i] }, marked);
                    built = false;
                }
                marked = false;
            }
        }
        i += len;
    }
    if let Some(s) = start {
        f(if built { word.as_str() } else { &input[s..] }, marked);
    }
    true
}

/// False for characters NFKC leaves alone, or whose NFKC change the folding
/// makes anyway. The Arabic block qualifies: NFKC only composes a letter with
/// a following hamza or madda mark (ا + ٔ → أ), and the folding removes the
/// mark and the hamza seat alike, so both paths give the same letter.
fn needs_nfkc(c: char) -> bool {
    if ('\u{0600}'..='\u{06FF}').contains(&c) {
        return arabic_table()[(c as u32 - 0x600) as usize] == Fold::Nfkc;
    }
    !(c.is_ascii()
        || ('\u{2000}'..='\u{206F}').contains(&c)
        || matches!(
            c,
            '\u{A0}' | '«' | '»' | '©' | '®' | '°' | '×' | '÷' | '\u{AD}'
        ))
}

/// Folds one character; `None` drops it.
fn fold_char(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c.to_ascii_lowercase());
    }
    let folded = match c {
        // Harakat, Quranic marks, superscript alef, tatweel.
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}'
        | '\u{0640}' => return None,
        // Bidi and zero-width controls that copy-paste leaves in titles.
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{061C}'
        | '\u{00AD}' => return None,
        'أ' | 'إ' | 'آ' | 'ٱ' | 'ٲ' | 'ٳ' => 'ا',
        'ئ' if seats() == 0 => 'ئ',
        'ؤ' if seats() == 0 => 'ؤ',
        'ى' | 'ی' | 'ې' | 'ۍ' | 'ئ' | 'ے' | 'ۓ' => 'ي',
        'ؤ' => 'و',
        'ة' | 'ۀ' | 'ە' | 'ھ' | 'ہ' | 'ۂ' => 'ه',
        'ک' | 'ڪ' => 'ك',
        'گ' => 'ك',
        '٠'..='٩' => digit(c as u32 - 0x0660),
        '۰'..='۹' => digit(c as u32 - 0x06F0),
        '،' => ',',
        '؛' => ';',
        '؟' => '?',
        '٪' => '%',
        '«' | '»' | '“' | '”' | '„' | '″' => '"',
        '‘' | '’' | '‚' | '′' => '\'',
        '–' | '—' | '‒' | '―' => '-',
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        // Every other Arabic-block character stays (and has no case).
        '\u{0600}'..='\u{06FF}' => c,
        c if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
        c if c.is_uppercase() => {
            // Non-ASCII Latin/Cyrillic: take the first lower-case char; names in
            // feeds are short enough that multi-char expansions do not matter.
            c.to_lowercase().next().unwrap_or(c)
        }
        c => c,
    };
    Some(folded)
}

fn digit(n: u32) -> char {
    char::from_digit(n, 10).unwrap_or('0')
}

/// Spelling variants that outlets use for the same name. Applied to whole
/// normalised tokens (also after a clitic prefix) so that "سورية" and
/// "سوريا", "البنتاجون" and "البنتاغون" become one token.
const TOKEN_VARIANTS: &[(&str, &str)] = &[
    ("سوريه", "سوريا"),
    ("ترمب", "ترامب"),
    ("بنتاجون", "بنتاغون"),
    ("سيرجي", "سيرغي"),
    ("جينيف", "جنيف"),
    ("نبينزيا", "نيبينزيا"),
    ("واشنطون", "واشنطن"),
    ("انجلترا", "انكلترا"),
    ("ستولتنبرج", "ستولتنبرغ"),
    ("بوجدانوف", "بوغدانوف"),
    ("شويجو", "شويغو"),
    ("جوتيريش", "غوتيريش"),
    ("غوتيرش", "غوتيريش"),
    ("بلنكن", "بلينكن"),
];

/// Substring rewrites inside a token: families of words whose stem is spelled
/// two ways (أميركي/أمريكي and every derived form).
const STEM_VARIANTS: &[(&str, &str)] = &[("اميرك", "امريك"), ("امركي", "امريكي")];

struct Variants {
    /// Every variant as (its last two letters, four bytes; from; to), sorted
    /// by the tail: a token is looked up by how it ends.
    by_tail: Vec<(u32, &'static str, &'static str)>,
    /// A 256-bit filter of the tails ([`tail_bit`]): most tokens are turned
    /// away without a search, which is most of the cost of a token.
    tail_bits: [u64; 4],
}

fn tail_bit(t: u32) -> (usize, u64) {
    let b = t.wrapping_mul(0x9E37_79B1) >> 24;
    ((b >> 6) as usize, 1 << (b & 63))
}

impl Variants {
    /// The variants `token` may end with.
    fn ending(&self, token: &[u8]) -> &[(u32, &'static str, &'static str)] {
        let Some(t) = tail(token) else {
            return &[];
        };
        let (word, bit) = tail_bit(t);
        if self.tail_bits[word] & bit == 0 {
            return &[];
        }
        let from = self.by_tail.partition_point(|v| v.0 < t);
        let to = self.by_tail.partition_point(|v| v.0 <= t);
        self.by_tail.get(from..to).unwrap_or_default()
    }
}

fn tail(bytes: &[u8]) -> Option<u32> {
    let t: [u8; 4] = bytes.get(bytes.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_le_bytes(t))
}

fn variants() -> &'static Variants {
    static V: std::sync::OnceLock<Variants> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut by_tail: Vec<(u32, &str, &str)> = TOKEN_VARIANTS
            .iter()
            .filter_map(|&(from, to)| Some((tail(from.as_bytes())?, from, to)))
            .collect();
        by_tail.sort_unstable();
        let mut tail_bits = [0; 4];
        for &(t, _, _) in &by_tail {
            let (word, bit) = tail_bit(t);
            tail_bits[word] |= bit;
        }
        Variants { by_tail, tail_bits }
    })
}

/// True when `token` may contain a stem variant: both start with "ام".
fn may_have_stem_variant(token: &str) -> bool {
    const ALEF_MEEM: u32 = u32::from_le_bytes([0xD8, 0xA7, 0xD9, 0x85]);
    token
        .as_bytes()
        .windows(4)
        .any(|w| matches!(w, &[a, b, c, d] if u32::from_le_bytes([a, b, c, d]) == ALEF_MEEM))
}

/// Returns the canonical spelling of a normalised token.
pub fn canonical_token(token: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    // Nearly every token ends like no variant: `ending` turns it away on
    // its tail filter.
    for &(_, from, to) in variants().ending(token.as_bytes()) {
        let Some(prefix) = token.strip_suffix(from) else {
            continue;
        };
        if prefix.is_empty() {
            return Cow::Borrowed(to);
        }
        // Clitic-prefixed forms of a variant (وسوريه، لسوريه، البنتاجون).
        if crate::text::affixes::clitic_prefixes_of(token).any(|p| p == prefix) {
            return Cow::Owned(format!("{prefix}{to}"));
        }
    }
    if may_have_stem_variant(token) {
        for (from, to) in STEM_VARIANTS {
            if token.contains(from) {
                return Cow::Owned(token.replace(from, to));
            }
        }
    }
    Cow::Borrowed(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_hamza_ta_marbuta_and_alef_maqsura() {
        assert_eq!(normalize("أمريكا إلى آخر"), "امريكا الي اخر");
        assert_eq!(normalize("سورية"), "سوريه");
        assert_eq!(normalize("مؤتمر رئيس"), "موتمر رييس");
    }

    #[test]
    fn drops_diacritics_tatweel_and_controls() {
        assert_eq!(normalize("سُورِيَا"), "سوريا");
        assert_eq!(normalize("مـــوسكو"), "موسكو");
        assert_eq!(normalize("\u{200F}روسيا\u{200C}"), "روسيا");
    }

    #[test]
    fn digits_become_ascii() {
        assert_eq!(normalize("٢٠١٦ و۱۳"), "2016 و13");
    }

    #[test]
    fn presentation_forms_fold_to_letters() {
        // U+FEB3 U+FEEE U+FEAD U+FEF3 U+FE8E: "سوريا" in presentation forms.
        assert_eq!(
            normalize("\u{FEB3}\u{FEEE}\u{FEAD}\u{FEF3}\u{FE8E}"),
            "سوريا"
        );
    }

    #[test]
    fn lower_casing_before_a_combining_mark_stays_idempotent() {
        // Found by the text_fingerprint fuzz target.
        for s in ["H\u{331}كي", "A\u{64E}\u{301}", "H\u{640}\u{331}"] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "{s:?}");
        }
    }

    #[test]
    fn fast_path_agrees_with_nfkc() {
        // Arabic text with marks in non-canonical order and a hamza mark.
        let s = "سُوريّا \u{0627}\u{0654}مريكا ٢٠١٦ «نص» – 5";
        let slow: String = s.nfkc().filter_map(fold_char).collect();
        assert_eq!(normalize(s), slow);
    }

    #[test]
    fn fast_path_agrees_with_nfkc_on_every_arabic_pair() {
        // Every pair of Arabic-block characters, after a letter and before
        // ASCII: marks, hamza seats, digits and punctuation in all orders.
        for a in 0x600u32..0x700 {
            for b in (0x600u32..0x700).step_by(3) {
                let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b)) else {
                    continue;
                };
                let s = format!("ب{a}{b}x");
                let slow: String = s.nfkc().filter_map(fold_char).collect();
                let slow = slow.nfkc().filter_map(fold_char).collect::<String>();
                let fast = normalize(&s);
                // Both must agree once normalised again (idempotence makes
                // the comparison fair for NFKC's recompositions).
                assert_eq!(
                    normalize(&fast),
                    normalize(&slow),
                    "{:04X} {:04X}",
                    a as u32,
                    b as u32
                );
            }
        }
    }

    #[test]
    fn fold_words_gives_the_words_of_the_normalised_text() {
        let samples = [
            "قالَ الرئيسُ الأمريكيّ إنّ «سورية» ـــ مهمة، و٢٠١٦ كان عاماً صعباً.",
            "Kremlin-Moscow: ABC def 12,5 كرملين\u{200C}موسكو \u{200F}روسيا",
            "ﻻ إله presentation ﺳﻮﺭﻳﺎ forms",
            "Ünïcödé Ωmega café — naïve",
            "",
            "  ، ؛ ؟ ",
            "سُورِيَا",
            "a\u{0301}b",
        ];
        let mut fast = 0;
        for s in samples {
            let want: Vec<String> = crate::text::tokens::words(&normalize(s))
                .map(str::to_string)
                .collect();
            let mut got: Vec<String> = Vec::new();
            let mut buf = String::new();
            if fold_words(s, &mut buf, |w| got.push(w.to_string())) {
                assert_eq!(got, want, "{s}");
                fast += 1;
            }
        }
        assert!(
            fast >= 5,
            "only the samples that need NFKC take the slow way"
        );
    }

    #[test]
    fn persian_letters_fold() {
        assert_eq!(normalize("کرملین"), "كرملين");
    }

    #[test]
    fn idempotent_on_samples() {
        for s in ["أميركيّة «سوريا» ٤٥", "ﻻ إله", "Kremlin — Moscow", "ـــ"]
        {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "{s}");
        }
    }

    #[test]
    fn variants_share_a_canonical_token() {
        assert_eq!(canonical_token("سوريه"), "سوريا");
        assert_eq!(canonical_token("وسوريه"), "وسوريا");
        assert_eq!(canonical_token("الاميركيه"), "الامريكيه");
        assert_eq!(canonical_token("البنتاجون"), "البنتاغون");
    }
}

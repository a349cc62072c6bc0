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
    // NFKC first: it turns presentation forms (U+FBxx, U+FExx) into base letters,
    // which the per-character folding below then handles.
    for c in input.nfkc() {
        if let Some(folded) = fold_char(c) {
            out.push(folded);
        }
    }
    out
}

/// Folds one character; `None` drops it.
fn fold_char(c: char) -> Option<char> {
    let folded = match c {
        // Harakat, Quranic marks, superscript alef, tatweel.
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}' => return None,
        // Bidi and zero-width controls that copy-paste leaves in titles.
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{061C}'
        | '\u{00AD}' => return None,
        'أ' | 'إ' | 'آ' | 'ٱ' | 'ٲ' | 'ٳ' => 'ا',
        'ى' | 'ی' | 'ې' | 'ۍ' | 'ئ' => 'ي',
        'ؤ' => 'و',
        'ة' | 'ۀ' | 'ە' | 'ھ' | 'ہ' => 'ه',
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
/// normalised tokens (after clitic prefixes are split off) so that
/// "سورية" and "سوريا", "البنتاجون" and "البنتاغون" become one token.
const TOKEN_VARIANTS: &[(&str, &str)] = &[
    ("سوريه", "سوريا"),
    ("ترمب", "ترامب"),
    ("بنتاجون", "بنتاغون"),
    ("سيرجي", "سيرغي"),
    ("لافروف", "لافروف"),
    ("جنيف", "جنيف"),
    ("جينيف", "جنيف"),
    ("نيبينزيا", "نيبينزيا"),
    ("نبينزيا", "نيبينزيا"),
    ("بيسكوف", "بيسكوف"),
    ("اوباما", "اوباما"),
    ("واشنطون", "واشنطن"),
    ("انجلترا", "انكلترا"),
    ("ستولتنبرج", "ستولتنبرغ"),
    ("بوغدانوف", "بوغدانوف"),
    ("بوجدانوف", "بوغدانوف"),
    ("شويجو", "شويغو"),
    ("جوتيريش", "غوتيريش"),
    ("غوتيرش", "غوتيريش"),
    ("حميميم", "حميميم"),
    ("الكرملين", "الكرملين"),
    ("كرملين", "كرملين"),
    ("بلينكن", "بلينكن"),
    ("بلنكن", "بلينكن"),
];

/// Substring rewrites inside a token: families of words whose stem is spelled
/// two ways (أميركي/أمريكي and every derived form).
const STEM_VARIANTS: &[(&str, &str)] = &[("اميرك", "امريك"), ("امركي", "امريكي")];

/// Returns the canonical spelling of a normalised token.
pub fn canonical_token(token: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    for (from, to) in TOKEN_VARIANTS {
        if token == *from {
            return Cow::Borrowed(to);
        }
    }
    // Clitic-prefixed forms of a variant (e.g. "وسوريه", "لسوريه").
    for (from, to) in TOKEN_VARIANTS {
        if let Some(prefix) = token.strip_suffix(from) {
            if !prefix.is_empty() && crate::text::tokens::is_clitic_prefix(prefix) {
                return Cow::Owned(format!("{prefix}{to}"));
            }
        }
    }
    for (from, to) in STEM_VARIANTS {
        if token.contains(from) {
            return Cow::Owned(token.replace(from, to));
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

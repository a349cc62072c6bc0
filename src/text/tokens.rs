//! Tokenizer for normalised Arabic text, aware of clitic prefixes and the
//! common noun/adjective suffixes.
//!
//! Arabic writes conjunctions, prepositions and the article attached to the
//! word (وبالعاصمة = و + ب + ال + عاصمة). A naive prefix stripper turns
//! واشنطن into اشنطن, so matching is term-driven instead: a token matches a
//! term when it is the term with an allowed prefix before it and an allowed
//! suffix after it.

use super::affixes::SUFFIXES;
pub use super::affixes::{
    clitic_prefixes_of, is_clitic_prefix, is_word_char, noun_suffixes_of, FUNCTION_WORDS,
};
use super::normalize::{canonical_token, normalize};

/// Splits normalised text into word tokens (letters and digits).
pub fn words(normalized: &str) -> impl Iterator<Item = &str> {
    normalized
        .split(|c: char| !is_word_char(c))
        .filter(|t| !t.is_empty())
}

/// Normalises `text` and returns its canonical tokens.
pub fn tokenize(text: &str) -> Vec<String> {
    let n = normalize(text);
    words(&n).map(|w| canonical_token(w).into_owned()).collect()
}

/// How a term may attach affixes when it is matched against a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Affixes {
    /// Only the exact token.
    Exact,
    /// Conjunction and preposition prefixes, no article and no suffix: proper
    /// names (بوتين, لبوتين, وبوتين; not «البوتين», the dish).
    Name,
    /// Every clitic prefix and the noun/adjective suffixes (سوري, السورية,
    /// السوريين).
    Word,
}

/// True when `token` is `term` with allowed clitics around it. Both must be
/// canonical normalised tokens.
pub fn token_matches(token: &str, term: &str, affixes: Affixes) -> bool {
    if token == term {
        return true;
    }
    if affixes == Affixes::Exact || token.len() < term.len() {
        return false;
    }
    // "لل" absorbs the article: للسوريا = ل + السوريا.
    if let (Some(rest), Affixes::Word) = (term.strip_prefix("ال"), affixes) {
        for p in ["لل", "ولل", "فلل"] {
            if let Some(after) = token.strip_prefix(p) {
                if let Some(suffix) = after.strip_prefix(rest) {
                    return suffix.is_empty()
                        || (affixes == Affixes::Word && SUFFIXES.contains(&suffix));
                }
            }
        }
    }

    let Some(pos) = token.find(term) else {
        return false;
    };
    // A term may occur more than once inside a token only in pathological
    // input; checking the first and last occurrence covers real words.
    for start in [pos, token.rfind(term).unwrap_or(pos)] {
        let prefix = &token[..start];
        let suffix = &token[start + term.len()..];
        let prefix_ok = prefix.is_empty()
            || (is_clitic_prefix(prefix) && (affixes == Affixes::Word || !prefix.contains("ال")))
            || {
                // A term that already starts with the article takes only the
                // conjunction/preposition before it (والسوريه, بالسوريه → لل...).
                term.starts_with("ال")
                    && matches!(prefix, "و" | "ف" | "ب" | "ك" | "وب" | "فب" | "وك" | "فك")
            };
        let suffix_ok =
            suffix.is_empty() || (affixes == Affixes::Word && SUFFIXES.contains(&suffix));
        if prefix_ok && suffix_ok {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::affixes::PREFIXES;

    #[test]
    fn prefix_splits_match_the_list() {
        for tok in [
            "وبالعاصمة",
            "والكرملين",
            "للكرملين",
            "فسيقول",
            "وواشنطن",
            "كالعادة",
            "بيت",
            "الدولة",
            "وللسوريين",
        ] {
            let mut walked: Vec<&str> = clitic_prefixes_of(tok).collect();
            let mut listed: Vec<&str> = PREFIXES
                .iter()
                .copied()
                .filter(|p| tok.len() >= p.len() + 4 && tok.starts_with(p))
                .collect();
            walked.sort();
            listed.sort();
            assert_eq!(walked, listed, "{tok}");
        }
    }

    #[test]
    fn suffix_splits_match_the_list() {
        for tok in [
            "السوريين",
            "الروسيون",
            "سوريتين",
            "سوريتان",
            "الحكومات",
            "الروسيات",
            "امريكيه",
            "روسيه",
            "روسي",
            "سوريا",
            "بيت",
            "الطرفان",
            "الامريكيان",
            "ن",
        ] {
            let mut walked: Vec<&str> = noun_suffixes_of(tok).collect();
            let mut listed: Vec<&str> = SUFFIXES
                .iter()
                .copied()
                .filter(|x| tok.len() >= x.len() + 4 && tok.ends_with(x))
                .collect();
            walked.sort();
            listed.sort();
            assert_eq!(walked, listed, "{tok}");
        }
    }

    #[test]
    fn prefixes_attach_to_names() {
        assert!(token_matches("وبوتين", "بوتين", Affixes::Name));
        assert!(token_matches("لموسكو", "موسكو", Affixes::Name));
        assert!(token_matches("وواشنطن", "واشنطن", Affixes::Name));
        assert!(!token_matches("اشنطن", "واشنطن", Affixes::Name));
    }

    #[test]
    fn suffixes_only_when_allowed() {
        assert!(token_matches("السوريين", "سوري", Affixes::Word));
        assert!(token_matches("الروسيه", "روسي", Affixes::Word));
        assert!(!token_matches("السوريين", "سوري", Affixes::Name));
        assert!(!token_matches("البوتين", "بوتين", Affixes::Exact));
    }

    #[test]
    fn article_terms_take_lil() {
        assert!(token_matches("للكرملين", "الكرملين", Affixes::Word));
        assert!(!token_matches("البوتين", "بوتين", Affixes::Name));
        assert!(token_matches("والكرملين", "الكرملين", Affixes::Name));
    }

    #[test]
    fn unrelated_words_do_not_match() {
        assert!(!token_matches("روسيات", "روس", Affixes::Name));
        assert!(!token_matches("مسوريا", "سوريا", Affixes::Word));
    }

    #[test]
    fn tokenize_canonicalises_variants() {
        assert_eq!(tokenize("سورية، والأميركية"), vec!["سوريا", "والامريكيه"]);
    }
}

//! The text engine: pure functions over strings, no I/O.
//!
//! - [`affixes`]: word characters, clitic prefixes, noun suffixes (a leaf).
//! - [`codec`]: varints and Rice codes for stored hashes (a leaf).
//! - [`lexicon`]: word keys and the per-thread token cache that cleanup and
//!   fingerprints share.
//! - [`normalize`]: Arabic normalisation for matching and spelling variants.
//! - [`tokens`]: tokenizer and clitic-aware term matching.
//! - [`clean`]: removal of repeated headlines, site names, "read also" and page furniture.
//! - [`nesting`]: bounds how deep HTML nests before it is parsed.
//! - [`extract`]: main text of an HTML page or fragment (scraper).
//! - [`fingerprint`]: near-duplicate fingerprints and the copy decision.
//! - [`event`]: which different articles report the same event (digest grouping).
//! - [`headline`]: outlet names learned and stripped from headlines, datelines
//!   from article openings; how tidy a headline is.

pub mod affixes;
pub mod clean;
pub mod codec;
pub mod event;
pub mod extract;
pub mod fingerprint;
pub mod headline;
pub mod lexicon;
pub mod nesting;
pub mod normalize;
pub mod tokens;

/// The text the engine keeps from raw input (HTML page, HTML fragment or
/// plain text): extracted, then cleaned; not normalised.
pub fn main_text(input: &str) -> String {
    if extract::looks_like_html(input) {
        clean::clean(&extract::extract_main(input))
    } else if input.contains('<') && input.contains('>') {
        clean::clean(&extract::html_to_text(input))
    } else {
        clean::clean(input)
    }
}

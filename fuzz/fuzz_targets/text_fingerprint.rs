//! Text → cleaned, normalised text and fingerprint: never a panic, and a
//! text is always a copy of itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raqib::text::{clean, fingerprint::Fingerprint, normalize};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (title, body) = text.split_once('\n').unwrap_or(("", &text));
    let n = normalize::normalize(body);
    assert_eq!(normalize::normalize(&n), n, "normalisation is idempotent");
    let cleaned = clean::clean_keyed(body);
    let fp = Fingerprint::from_cleaned(title, &cleaned);
    let again = Fingerprint::from_clean(title, &cleaned.text);
    let _ = fp.compare(&again);
    if let Some(c) = fp.compare_sketch(&fp.sketch()) {
        if !fp.anchors().is_empty() {
            assert!(c.duplicate, "a text is a copy of itself");
        }
    }
});

//! Feed bytes (any charset, any shape) → entries: never a panic, and every
//! entry has an id and some text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let charset = match data.first() {
        Some(b) if b % 3 == 0 => Some("windows-1256"),
        Some(b) if b % 3 == 1 => Some("iso-8859-6"),
        _ => None,
    };
    if let Ok(entries) = raqib::feed::parse("https://feed.example/rss", data, charset) {
        for e in entries {
            assert_eq!(e.id.len(), 24);
            assert!(!e.title.is_empty() || !e.text.is_empty());
        }
    }
});

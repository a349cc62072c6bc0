//! Watchlist TOML → matcher: never a panic; a watchlist that compiles
//! classifies any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let (toml, text) = src.split_once("\n---\n").unwrap_or((&src, "سوريا وروسيا وأمريكا"));
    if let Ok(w) = raqib::watchlist::Watchlist::parse(std::path::Path::new("w.toml"), toml) {
        for m in w.classify(text, text) {
            let _ = m.explain();
        }
    }
});

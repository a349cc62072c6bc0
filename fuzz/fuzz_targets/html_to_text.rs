//! HTML (a feed summary or a whole page) → text: never a panic, bounded in
//! time and stack whatever the nesting; and what the depth bound lets
//! through, the parser nests no deeper than a few times the bound.
#![no_main]

use ego_tree::iter::Edge;
use libfuzzer_sys::fuzz_target;
use raqib::text::{extract, nesting};
use scraper::Html;

fn parsed_depth(html: &str) -> usize {
    let doc = Html::parse_fragment(html);
    let (mut depth, mut max) = (0usize, 0usize);
    for edge in doc.root_element().traverse() {
        match edge {
            Edge::Open(n) if n.value().is_element() => {
                depth += 1;
                max = max.max(depth);
            }
            Edge::Close(n) if n.value().is_element() => depth -= 1,
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let _ = extract::html_to_text(&html);
    let _ = extract::extract_main(&html);
    let _ = raqib::text::main_text(&html);
    let bounded = nesting::bound(&html, 8);
    let depth = parsed_depth(&bounded);
    assert!(depth <= 8 * 4 + 8, "the parser nested {depth} deep");
});

//! Article extraction on Arabic news pages shaped like real outlets' (see
//! `tests/data/extraction/arabic-kinds/README.md`): menus, a weather strip,
//! bylines and dates, tag lines, share bars, in-body «اقرأ أيضاً» links,
//! related and most-read lists, recommendation widgets and captions must go;
//! the headline, a lead paragraph styled apart and the body must stay.

use raqib::eval::{extract, Gold};

#[test]
fn arabic_news_pages_keep_the_article_and_nothing_else() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/extraction/arabic-kinds");
    let mut pages = Vec::new();
    for name in ["youm", "bayan", "sputnik"] {
        let html = std::fs::read_to_string(dir.join(format!("{name}.html"))).expect("page");
        let gold = std::fs::read_to_string(dir.join(format!("{name}.txt"))).expect("gold");
        pages.push((html, Gold::Text(gold)));
    }
    let mut details = Vec::new();
    let score = extract("arabic-kinds", &pages, &mut details);
    for line in &details {
        let figures: Vec<f64> = line
            .split('\t')
            .filter_map(|f| f.split_once('=').and_then(|(_, v)| v.parse().ok()))
            .collect();
        assert!(figures.iter().all(|f| *f >= 0.95), "{line}");
    }
    assert_eq!(details.len(), 3);
    assert!(score.precision >= 0.95 && score.recall >= 0.95, "{score:?}");
}

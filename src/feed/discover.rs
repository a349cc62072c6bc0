//! Feed autodiscovery: the feed an HTML page names in its head
//! (`<link rel="alternate" type="application/rss+xml" href="…">`), for a
//! configured URL (or a `raqib try` argument) that is the site's page
//! rather than its feed.
//!
//! The page is the operator's choice, the link is the page's: raqib
//! follows it only over http or https and only on the page's own site
//! ([`same_site`]), so a page cannot send raqib anywhere else.

use scraper::{Html, Selector};
use url::Url;

/// Only the head is read, and at most this much of the page.
const HEAD_LIMIT: usize = 256 * 1024;

/// Feed media types, most preferred first.
const FEED_TYPES: [&str; 4] = [
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
];

/// The first feed `html` (a page fetched from `page`) links, resolved
/// against the page's URL (and its `<base href>`).
pub fn feed_link(html: &str, page: &Url) -> Option<Url> {
    let head = head_of(html);
    let doc = Html::parse_document(head);
    let base = Selector::parse("base[href]")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page.join(h.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let links = Selector::parse("link[href][type]").ok()?;
    let mut best: Option<(usize, Url)> = None;
    for link in doc.select(&links) {
        let el = link.value();
        let rel = el.attr("rel").unwrap_or("").to_ascii_lowercase();
        if !rel.split_ascii_whitespace().any(|r| r == "alternate") {
            continue;
        }
        let kind = el.attr("type").unwrap_or("").trim().to_ascii_lowercase();
        let Some(rank) = FEED_TYPES.iter().position(|t| kind == *t) else {
            continue;
        };
        let Some(url) = el.attr("href").and_then(|h| base.join(h.trim()).ok()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, url));
        }
    }
    best.map(|(_, u)| u)
}

/// The page up to the end of its head, and never more than
/// [`HEAD_LIMIT`] bytes.
fn head_of(html: &str) -> &str {
    let mut cut = html.len().min(HEAD_LIMIT);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    let html = &html[..cut];
    let lower = html.to_ascii_lowercase();
    match lower.find("</head") {
        Some(end) => &html[..end],
        None => html,
    }
}

/// True when `link` may be followed from `page`: http or https, on the
/// page's host or a subdomain of it (`www.` aside): `www.example.org`
/// may name `feeds.example.org`, not `tracker.example.net`.
pub fn same_site(page: &Url, link: &Url) -> bool {
    if !matches!(link.scheme(), "http" | "https") || !matches!(page.scheme(), "http" | "https") {
        return false;
    }
    let (Some(p), Some(l)) = (page.host_str(), link.host_str()) else {
        return false;
    };
    let site = p.strip_prefix("www.").unwrap_or(p);
    let l = l.strip_prefix("www.").unwrap_or(l);
    l == site || l.ends_with(&format!(".{site}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_feed_a_page_links_is_found_and_resolved() {
        let page = url("https://www.example.org/news/index.html");
        let html = r#"<!DOCTYPE html><html><head><title>أخبار</title>
            <link rel="stylesheet" type="text/css" href="/s.css">
            <link rel="alternate" type="application/atom+xml" href="/atom.xml">
            <link rel="Alternate" type="application/rss+xml" title="RSS" href="rss.xml">
            </head><body><link rel="alternate" type="application/rss+xml" href="/body.xml"></body></html>"#;
        assert_eq!(
            feed_link(html, &page),
            Some(url("https://www.example.org/news/rss.xml"))
        );
        let based = r#"<html><head><base href="https://cdn.example.org/x/">
            <link rel="alternate" type="application/feed+json" href="feed.json"></head></html>"#;
        assert_eq!(
            feed_link(based, &page),
            Some(url("https://cdn.example.org/x/feed.json"))
        );
        assert_eq!(
            feed_link("<html><head></head><body>لا شيء</body></html>", &page),
            None
        );
    }

    #[test]
    fn only_the_pages_own_site_is_followed() {
        let page = url("https://www.example.org/");
        assert!(same_site(&page, &url("https://example.org/rss")));
        assert!(same_site(&page, &url("http://feeds.example.org/rss")));
        assert!(!same_site(&page, &url("https://example.net/rss")));
        assert!(!same_site(&page, &url("https://badexample.org/rss")));
        assert!(!same_site(&page, &url("file:///etc/passwd")));
        assert!(!same_site(
            &url("file:///tmp/page.html"),
            &url("https://example.org/rss")
        ));
    }
}

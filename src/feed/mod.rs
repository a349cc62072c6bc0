//! feed-rs → [`Entry`]: the fields raqib uses, with a stable id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::fetch::charset::decode_xml;
use crate::text::extract::html_to_text;

pub mod discover;
pub mod lenient;

/// Why a document is not a feed raqib can read, in words that say what
/// it is instead.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the response is empty, not a feed")]
    Empty,
    #[error("this is an HTML page, not a feed{}", discovery_hint(.0))]
    Html(Option<String>),
    #[error("this is a JSON document, not a JSON Feed (it begins {0:?})")]
    Json(String),
    #[error("this is binary data ({0} bytes), not a feed")]
    Binary(usize),
    #[error("this is text, not a feed (it begins {0:?})")]
    Text(String),
    #[error("this is an XML document with root <{0}>, not RSS, Atom or RDF")]
    OtherXml(String),
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Invalid(String),
}

fn discovery_hint(feed: &Option<String>) -> String {
    match feed {
        Some(url) => format!(" (it links the feed {url})"),
        None => String::new(),
    }
}

/// One entry of a feed, decoded and stripped of markup.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable across polls: from the guid, else the link, else title + date,
    /// scoped to the feed.
    pub id: String,
    pub title: String,
    /// The summary or content, as plain text (not yet cleaned).
    pub text: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
}

/// A parsed feed: its entries, and how often it says to poll it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    /// RSS `<ttl>` (minutes), else `sy:updatePeriod` / `sy:updateFrequency`.
    pub ttl: Option<Duration>,
    /// Parsed only after repairs (what they were): feed-rs refused it as written.
    pub recovered: Option<String>,
}

/// Parses feed bytes. `http_charset` is the Content-Type charset, if any.
pub fn parse(
    feed_url: &str,
    bytes: &[u8],
    http_charset: Option<&str>,
) -> Result<Vec<Entry>, FeedError> {
    parse_feed(feed_url, bytes, http_charset).map(|p| p.entries)
}

/// [`parse`], with the feed's own polling hint. `feed_url` scopes the
/// entries' ids: it is the configured URL, wherever the feed moved.
pub fn parse_feed(
    feed_url: &str,
    bytes: &[u8],
    http_charset: Option<&str>,
) -> Result<Parsed, FeedError> {
    let utf8 = decode_xml(bytes, http_charset);
    let sy = syndication_period(&utf8);
    // An empty id from the generator tells us the entry had no guid, so our
    // own fallback (link, then title + date) applies.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    let mut repairs: Vec<&str> = Vec::new();
    let is_xml = utf8
        .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .starts_with('<');
    let doc = match is_xml.then(|| lenient::entities(&utf8)).flatten() {
        Some((fixed, bare)) => {
            if bare {
                repairs.push("a bare &");
            }
            std::borrow::Cow::Owned(fixed)
        }
        None => std::borrow::Cow::Borrowed(utf8.as_str()),
    };
    let doc = match is_xml.then(|| lenient::atom_03(&doc)).flatten() {
        Some(fixed) => {
            repairs.push("Atom 0.3");
            std::borrow::Cow::Owned(fixed)
        }
        None => doc,
    };
    let feed = match parser.parse(doc.as_bytes()) {
        Ok(feed) => feed,
        Err(first) => {
            let fixed = is_xml.then(|| repaired(&doc, &mut repairs)).flatten();
            match fixed.and_then(|f| parser.parse(f.as_bytes()).ok()) {
                Some(feed) => feed,
                None => return Err(what_it_is(bytes, &utf8, first)),
            }
        }
    };
    let ttl = feed
        .ttl
        .filter(|m| *m > 0)
        .map(|m| Duration::from_secs(u64::from(m).saturating_mul(60)))
        .or(sy);
    let mut out = Vec::with_capacity(feed.entries.len());
    for e in feed.entries {
        // A plain-text title is text even when it looks like markup: a
        // title "<script>" is shown as those characters, never run.
        let title = e
            .title
            .as_ref()
            .map(|t| {
                if t.content_type.essence().to_string() == "text/html" {
                    html_to_text(&t.content)
                } else {
                    t.content.clone()
                }
            })
            .unwrap_or_default();
        let mut title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        // A headline is a line: a feed's megabyte "title" is cut, not stored.
        if let Some((at, _)) = title.char_indices().nth(MAX_TITLE_CHARS) {
            title.truncate(at);
            title.push('…');
        }
        let link = e
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .or_else(|| e.links.first())
            .map(|l| l.href.trim().to_string())
            .filter(|l| !l.is_empty());
        let body = e
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .filter(|b| !b.trim().is_empty())
            .or_else(|| e.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        let text = html_to_text(&body);
        let published = e.published.or(e.updated);
        if title.is_empty() && text.is_empty() {
            continue;
        }
        let key = if !e.id.trim().is_empty() {
            format!("guid:{}", e.id.trim())
        } else if let Some(l) = &link {
            format!("link:{l}")
        } else {
            format!(
                "title:{title}\n{}",
                published.map(|p| p.to_rfc3339()).unwrap_or_default()
            )
        };
        out.push(Entry {
            id: item_id(feed_url, &key),
            title,
            text,
            link,
            published,
        });
    }
    // The outlet's name, learned from the feed's title and from what
    // recurs at one end of its headlines, leaves every headline.
    let feed_title = feed.title.as_ref().map(|t| html_to_text(&t.content));
    let titles: Vec<&str> = out.iter().map(|e| e.title.as_str()).collect();
    let outlet = crate::text::headline::Outlet::learn(feed_title.as_deref(), &titles);
    for e in &mut out {
        let stripped = outlet.strip(&e.title);
        if stripped.len() != e.title.len() {
            e.title = stripped.to_string();
        }
    }
    Ok(Parsed {
        entries: out,
        ttl,
        recovered: (!repairs.is_empty()).then(|| repairs.join(", ")),
    })
}

/// `doc` with the repairs that apply to a document feed-rs refused, each
/// named in `repairs`; `None` when none applies.
fn repaired(doc: &str, repairs: &mut Vec<&str>) -> Option<String> {
    let mut fixed: Option<String> = None;
    type Repair = fn(&str) -> Option<String>;
    let steps: [(&str, Repair); 3] = [
        ("no known RSS version", lenient::rss_root),
        ("an unknown text type", lenient::text_types),
        ("cut off", lenient::truncated),
    ];
    for (what, step) in steps {
        if let Some(f) = step(fixed.as_deref().unwrap_or(doc)) {
            repairs.push(what);
            fixed = Some(f);
        }
    }
    fixed
}

/// The error for a document no repair made readable: what it is instead,
/// when that can be told.
fn what_it_is(bytes: &[u8], text: &str, err: feed_rs::parser::ParseFeedError) -> FeedError {
    let body = text.trim_start_matches('\u{feff}').trim();
    if body.is_empty() {
        return FeedError::Empty;
    }
    let controls = bytes
        .iter()
        .take(4096)
        .filter(|b| **b == 0 || (**b < 0x20 && !b" \t\r\n\x0c".contains(b)))
        .count();
    if controls > 0 && bytes.len() > 8 {
        return FeedError::Binary(bytes.len());
    }
    if body.starts_with('{') || body.starts_with('[') {
        let begins: String = body.chars().take(60).collect();
        return FeedError::Json(begins);
    }
    let lower: String = body
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    if lower.starts_with("<!doctype html")
        || lower.contains("<html")
        || lower.starts_with("<head")
        || lower.starts_with("<body")
    {
        return FeedError::Html(None);
    }
    if !body.starts_with('<') {
        return FeedError::Text(body.chars().take(60).collect());
    }
    match lenient::root_name(body) {
        Some(root)
            if !matches!(
                root.rsplit(':').next(),
                Some("rss" | "feed" | "RDF" | "entry")
            ) =>
        {
            FeedError::OtherXml(root.chars().take(40).collect())
        }
        _ => FeedError::Invalid(err.to_string()),
    }
}

/// The longest headline kept, in characters.
const MAX_TITLE_CHARS: usize = 1000;

/// How far into the document the channel's `sy:` elements are looked for:
/// they belong to the channel, before the items.
const SY_SCAN: usize = 64 * 1024;

/// The RSS 1.0 syndication module's period (`sy:updatePeriod`, hourly …
/// yearly) divided by `sy:updateFrequency`, which feed-rs does not read.
fn syndication_period(xml: &str) -> Option<Duration> {
    let head = match xml.char_indices().nth(SY_SCAN) {
        Some((i, _)) => &xml[..i],
        None => xml,
    };
    let element = |name: &str| -> Option<&str> {
        let open = head.find(&format!(":{name}>"))?;
        let rest = &head[open + name.len() + 2..];
        Some(rest[..rest.find('<')?].trim())
    };
    let period: u64 = match element("updatePeriod")? {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let frequency = element("updateFrequency")
        .and_then(|f| f.parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(period / frequency))
}

/// Item id: a short hash of the feed URL and the entry's key.
pub fn item_id(feed_url: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(feed_url.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let d = h.finalize();
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>بوتين &amp; ترامب</title><link>https://x.org/1</link><guid>g-1</guid>
<description>&lt;p&gt;نص &lt;b&gt;الخبر&lt;/b&gt;&lt;/p&gt;</description><pubDate>Tue, 04 Oct 2016 10:00:00 GMT</pubDate></item>
<item><title>بلا معرف</title><link>https://x.org/2</link></item>
<item><title>بلا رابط</title></item>
</channel></rss>"#;

    #[test]
    fn ids_are_stable_and_fall_back() -> Result<(), FeedError> {
        let a = parse("https://x.org/rss", RSS.as_bytes(), None)?;
        let b = parse("https://x.org/rss", RSS.as_bytes(), None)?;
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].id, item_id("https://x.org/rss", "guid:g-1"));
        assert_eq!(
            a[1].id,
            item_id("https://x.org/rss", "link:https://x.org/2")
        );
        assert_eq!(a[0].title, "بوتين & ترامب");
        assert_eq!(a[0].text, "نص الخبر");
        assert!(a[0].published.is_some());
        Ok(())
    }

    #[test]
    fn the_feed_says_how_often_to_poll_it() -> Result<(), FeedError> {
        let ttl = RSS.replace("<title>t</title>", "<title>t</title><ttl>45</ttl>");
        let p = parse_feed("u", ttl.as_bytes(), None)?;
        assert_eq!(p.ttl, Some(Duration::from_secs(45 * 60)));
        let sy = RSS
            .replace(
                "<rss version=\"2.0\">",
                "<rss version=\"2.0\" xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\">",
            )
            .replace(
                "<title>t</title>",
                "<title>t</title><sy:updatePeriod> hourly </sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>",
            );
        let p = parse_feed("u", sy.as_bytes(), None)?;
        assert_eq!(p.ttl, Some(Duration::from_secs(900)));
        assert_eq!(parse_feed("u", RSS.as_bytes(), None)?.ttl, None);
        Ok(())
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("u", b"<html><body>no feed</body>", None).is_err());
        assert!(parse("u", b"\xff\xfe\x00garbage", None).is_err());
        assert!(parse("u", b"", None).is_err());
    }

    #[test]
    fn what_is_not_a_feed_is_named() {
        let err = |b: &[u8]| match parse_feed("u", b, None) {
            Err(e) => e.to_string(),
            Ok(_) => "parsed".into(),
        };
        assert!(err(b"  \n").contains("empty"));
        assert!(err(b"<!DOCTYPE html><html><body>x</body></html>").contains("HTML page"));
        assert!(err(b"{\"error\": \"not found\"}").contains("JSON document"));
        assert!(err(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").contains("binary data"));
        assert!(err(b"<catalog><book/></catalog>").contains("root <catalog>"));
        assert!(err(b"Service Unavailable").contains("this is text"));
    }

    #[test]
    fn feeds_of_clear_intent_are_recovered() -> Result<(), FeedError> {
        // No version, an HTML entity, a bare ampersand, cut off mid-item.
        let xml = "<rss><channel><title>t</title>\
            <item><guid>1</guid><title>Tom & Jerry&nbsp;!</title></item>\
            <item><guid>2</guid><title>cut";
        let p = parse_feed("u", xml.as_bytes(), None)?;
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.entries[0].title, "Tom & Jerry !");
        let how = p.recovered.unwrap_or_default();
        assert!(
            how.contains("bare &") && how.contains("version") && how.contains("cut off"),
            "{how}"
        );
        // A feed as written is not marked.
        assert_eq!(parse_feed("u", RSS.as_bytes(), None)?.recovered, None);
        Ok(())
    }
}

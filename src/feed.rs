//! feed-rs → [`Entry`]: the fields raqib uses, with a stable id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::fetch::charset::decode_xml;
use crate::text::extract::html_to_text;

#[derive(Debug, thiserror::Error)]
#[error("not a valid RSS, Atom or JSON feed: {0}")]
pub struct FeedError(String);

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
    let feed = parser
        .parse(utf8.as_bytes())
        .map_err(|e| FeedError(e.to_string()))?;
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
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
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
    Ok(Parsed {
        entries: out,
        ttl,
        recovered: None,
    })
}

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
}

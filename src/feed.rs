//! feed-rs → [`Entry`]: the fields raqib uses, with a stable id.

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

/// Parses feed bytes. `http_charset` is the Content-Type charset, if any.
pub fn parse(
    feed_url: &str,
    bytes: &[u8],
    http_charset: Option<&str>,
) -> Result<Vec<Entry>, FeedError> {
    let utf8 = decode_xml(bytes, http_charset);
    // An empty id from the generator tells us the entry had no guid, so our
    // own fallback (link, then title + date) applies.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser
        .parse(utf8.as_bytes())
        .map_err(|e| FeedError(e.to_string()))?;
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
    Ok(out)
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
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("u", b"<html><body>no feed</body>", None).is_err());
        assert!(parse("u", b"\xff\xfe\x00garbage", None).is_err());
        assert!(parse("u", b"", None).is_err());
    }
}

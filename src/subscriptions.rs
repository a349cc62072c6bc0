//! OPML, the format feed readers exchange subscription lists in (with the
//! `opml` crate): `raqib opml export` writes the configured feeds as OPML
//! 2.0; `raqib opml import FILE` reads another reader's export and prints
//! `[[feeds]]` tables for the feeds not configured yet, to append to the
//! config by hand (the config stays the one place feeds are listed).

use url::Url;

use crate::config::FeedConfig;

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not an OPML document: {0}")]
    Parse(String),
    #[error("the OPML file is larger than {0} bytes")]
    TooLarge(usize),
    #[error("outlines nest more than {0} deep")]
    TooDeep(usize),
}

/// A subscription list larger than this is not one.
pub const MAX_BYTES: usize = 10 << 20;

/// Outlines nested deeper than this are refused (the parser recurses).
const MAX_DEPTH: usize = 64;

/// The configured feeds as an OPML 2.0 document.
pub fn export(feeds: &[FeedConfig]) -> Result<String, OpmlError> {
    let mut doc = opml::OPML {
        version: "2.0".into(),
        head: Some(opml::Head {
            title: Some("raqib feeds".into()),
            ..opml::Head::default()
        }),
        ..opml::OPML::default()
    };
    for f in feeds {
        doc.body.outlines.push(opml::Outline {
            text: f.name.clone(),
            title: Some(f.name.clone()),
            r#type: Some("rss".into()),
            xml_url: Some(f.url.to_string()),
            ..opml::Outline::default()
        });
    }
    let xml = doc
        .to_string()
        .map_err(|e| OpmlError::Parse(e.to_string()))?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}\n"
    ))
}

/// A feed found in an OPML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub url: String,
    pub name: String,
    /// The folders it sat in ("أخبار/سوريا"), or its category attribute.
    pub category: Option<String>,
}

/// The feeds of `xml` (folders flattened, in document order, each URL
/// once) that are not among `configured`.
pub fn import(xml: &str, configured: &[Url]) -> Result<Vec<Imported>, OpmlError> {
    if xml.len() > MAX_BYTES {
        return Err(OpmlError::TooLarge(MAX_BYTES));
    }
    if outline_depth(xml) > MAX_DEPTH {
        return Err(OpmlError::TooDeep(MAX_DEPTH));
    }
    let doc = opml::OPML::from_str(xml).map_err(|e| OpmlError::Parse(e.to_string()))?;
    let mut out: Vec<Imported> = Vec::new();
    // Sets, not scans: an export can list thousands of feeds.
    let configured: std::collections::HashSet<&Url> = configured.iter().collect();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut stack: Vec<(&opml::Outline, Vec<String>)> = doc
        .body
        .outlines
        .iter()
        .rev()
        .map(|o| (o, Vec::new()))
        .collect();
    while let Some((o, folders)) = stack.pop() {
        let url = o
            .xml_url
            .as_deref()
            .or(o.url.as_deref().filter(|_| o.outlines.is_empty()))
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if let Some(url) = url {
            let known = Url::parse(url)
                .map(|u| configured.contains(&u))
                .unwrap_or(false);
            if !known && seen.insert(url) {
                let name = [o.title.as_deref(), Some(o.text.as_str())]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .find(|n| !n.is_empty())
                    .unwrap_or(url)
                    .to_string();
                let category = o
                    .category
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .or_else(|| (!folders.is_empty()).then(|| folders.join("/")));
                out.push(Imported {
                    url: url.to_string(),
                    name,
                    category,
                });
            }
        }
        let mut inner = folders.clone();
        if url.is_none() && !o.text.trim().is_empty() {
            inner.push(o.text.trim().to_string());
        }
        for child in o.outlines.iter().rev() {
            stack.push((child, inner.clone()));
        }
    }
    Ok(out)
}

/// `[[feeds]]` tables for `feeds`, the category as a comment.
pub fn as_toml(feeds: &[Imported]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    for f in feeds {
        if let Some(c) = &f.category {
            out.push_str(&format!("# {}\n", c.replace(['\n', '\r'], " ")));
        }
        out.push_str(&format!(
            "[[feeds]]\nurl = {}\nname = {}\n\n",
            quote(&f.url),
            quote(&f.name)
        ));
    }
    out
}

/// How deep `<outline>` elements nest (a scan, before any parsing).
fn outline_depth(xml: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if tag.starts_with("outline") {
            if !tag.ends_with('/') {
                depth += 1;
                max = max.max(depth);
            }
        } else if tag.starts_with("/outline") {
            depth = depth.saturating_sub(1);
        }
        rest = &rest[end..];
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An export the way feed readers write them: folders, a category
    /// attribute, `type` missing on one, `htmlUrl`s, a duplicate.
    const READER_EXPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="أخبار" title="أخبار">
      <outline text="سوريا">
        <outline type="rss" text="عنب بلدي" title="عنب بلدي" xmlUrl="https://www.enabbaladi.net/feed" htmlUrl="https://www.enabbaladi.net"/>
        <outline text="الجزيرة" xmlUrl="https://www.aljazeera.net/rss"/>
      </outline>
      <outline type="rss" text="BBC Arabic" xmlUrl="https://feeds.bbci.co.uk/arabic/rss.xml" category="/world/arabic"/>
    </outline>
    <outline type="rss" text="RT" xmlUrl="https://arabic.rt.com/rss/"/>
    <outline type="rss" text="الجزيرة مرة أخرى" xmlUrl="https://www.aljazeera.net/rss"/>
  </body>
</opml>"#;

    #[test]
    fn a_readers_export_is_imported_without_what_is_configured() -> Result<(), OpmlError> {
        let configured = vec![Url::parse("https://arabic.rt.com/rss/")
            .map_err(|e| OpmlError::Parse(e.to_string()))?];
        let feeds = import(READER_EXPORT, &configured)?;
        let urls: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://www.enabbaladi.net/feed",
                "https://www.aljazeera.net/rss",
                "https://feeds.bbci.co.uk/arabic/rss.xml"
            ]
        );
        assert_eq!(feeds[0].name, "عنب بلدي");
        assert_eq!(feeds[0].category.as_deref(), Some("أخبار/سوريا"));
        assert_eq!(feeds[2].category.as_deref(), Some("/world/arabic"));
        let toml_text = as_toml(&feeds);
        assert!(toml_text.contains("# أخبار/سوريا\n[[feeds]]\nurl = \"https://www.enabbaladi.net/feed\"\nname = \"عنب بلدي\""));
        Ok(())
    }

    #[test]
    fn export_round_trips() -> Result<(), OpmlError> {
        let url = |s: &str| Url::parse(s).map_err(|e| OpmlError::Parse(e.to_string()));
        let feeds = vec![
            FeedConfig {
                url: url("https://example.org/rss?a=1&b=2")?,
                name: "مثال \"مقتبس\"".into(),
                fetch_article: false,
                interval: None,
                selector: None,
                exclude: vec![],
            },
            FeedConfig {
                url: url("file:///var/lib/raqib/demo.xml")?,
                name: "demo".into(),
                fetch_article: false,
                interval: None,
                selector: None,
                exclude: vec![],
            },
        ];
        let xml = export(&feeds)?;
        assert!(xml.contains("version=\"2.0\""), "{xml}");
        let back = import(&xml, &[])?;
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].url, "https://example.org/rss?a=1&b=2");
        assert_eq!(back[0].name, "مثال \"مقتبس\"");
        // Everything configured: nothing to import.
        let all: Vec<Url> = feeds.iter().map(|f| f.url.clone()).collect();
        assert!(import(&xml, &all)?.is_empty());
        Ok(())
    }

    #[test]
    fn hostile_files_are_refused() {
        let deep = format!(
            "<opml version=\"2.0\"><body>{}{}</body></opml>",
            "<outline text=\"a\">".repeat(100),
            "</outline>".repeat(100)
        );
        assert!(matches!(import(&deep, &[]), Err(OpmlError::TooDeep(_))));
        assert!(matches!(
            import("<html></html>", &[]),
            Err(OpmlError::Parse(_))
        ));
    }
}

//! `raqib try URL`: fetches a feed once and says what raqib sees in it,
//! storing nothing: each entry as it would be stored (title, date, the
//! start of its cleaned text), the topics it matches and why, and whether
//! the store already holds it or a copy of its story. Users check a new
//! feed, and a watchlist edit, with it.
//!
//! The fetch, the repairs, autodiscovery and the text work are the
//! daemon's own; only the writing is left out.

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::config::Config;
use crate::feed::{self, FeedError};
use crate::fetch::{Content, FetchError, Fetcher, Validators};
use crate::store::{Store, StoreError};
use crate::text::{self, fingerprint::Fingerprint};
use crate::watchlist::{Match, Watchlist};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: {source}")]
    Feed { url: String, source: FeedError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

/// One entry as raqib sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    pub id: String,
    pub title: String,
    pub published: Option<DateTime<Utc>>,
    pub link: Option<String>,
    /// The cleaned text (what the watchlist and the copy index read).
    pub text: String,
    /// The ids of the topics it matches.
    pub topics: Vec<String>,
    /// Each match with its one-line explanation.
    pub matches: Vec<Explained>,
    /// The store holds this very entry.
    pub stored: bool,
    /// The stored story it is a copy of, if any.
    pub copy_of: Option<CopyOf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub topic: String,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyOf {
    pub story: String,
    pub title: String,
}

/// What one fetch gave.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub url: String,
    /// `url` is a page: the feed it links, read instead.
    pub discovered: Option<String>,
    /// The repairs the feed needed, if any.
    pub recovered: Option<String>,
    pub entries: Vec<Seen>,
}

/// The URL of a `try` argument: http(s) and file URLs as written; a
/// `file:` URL or a plain path relative to the working directory.
pub fn target(arg: &str) -> Result<Url, ProbeError> {
    let bad = |why: String| ProbeError::Other(format!("{arg:?}: {why}"));
    if let Some(rest) = arg.strip_prefix("file:") {
        if !rest.starts_with('/') {
            let cwd = std::env::current_dir().map_err(|e| bad(e.to_string()))?;
            return Url::from_file_path(cwd.join(rest)).map_err(|()| bad("not a path".into()));
        }
    }
    match Url::parse(arg) {
        Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => Ok(u),
        Ok(u) => Err(bad(format!("{} URLs are not read", u.scheme()))),
        Err(_) => {
            let path = std::path::Path::new(arg);
            let cwd = std::env::current_dir().map_err(|e| bad(e.to_string()))?;
            Url::from_file_path(cwd.join(path)).map_err(|()| bad("neither a URL nor a path".into()))
        }
    }
}

/// Fetches `url` once and reads it as the daemon would. `store`, when
/// given, is only read.
pub async fn probe(
    config: &Config,
    watchlist: &Watchlist,
    store: Option<&Store>,
    url: &Url,
) -> Result<Probe, ProbeError> {
    let fetcher = Fetcher::new(&config.poll)?;
    let scope = url.to_string();
    let body = |fetched: crate::fetch::Fetched| match fetched.content {
        Content::Body { bytes, charset, .. } => Ok((bytes, charset)),
        Content::NotModified => Err(ProbeError::Other(
            "the server answered 304 to a plain request".into(),
        )),
    };
    let (bytes, charset) = body(fetcher.fetch(url, &Validators::default()).await?)?;
    let mut discovered = None;
    let parsed = match feed::parse_feed(&scope, &bytes, charset.as_deref()) {
        Ok(p) => p,
        Err(FeedError::Html(_)) => {
            let html = crate::fetch::charset::decode_html(&bytes, charset.as_deref());
            let Some(link) = feed::discover::feed_link(&html, url) else {
                return Err(ProbeError::Feed {
                    url: scope,
                    source: FeedError::Html(None),
                });
            };
            if !feed::discover::same_site(url, &link) {
                return Err(ProbeError::Feed {
                    url: scope,
                    source: FeedError::Html(Some(format!("{link}, on another site: try that URL"))),
                });
            }
            let (bytes, charset) = body(fetcher.fetch(&link, &Validators::default()).await?)?;
            let parsed =
                feed::parse_feed(&scope, &bytes, charset.as_deref()).map_err(|source| {
                    ProbeError::Feed {
                        url: link.to_string(),
                        source,
                    }
                })?;
            discovered = Some(link.to_string());
            parsed
        }
        Err(source) => return Err(ProbeError::Feed { url: scope, source }),
    };
    let mut entries = Vec::with_capacity(parsed.entries.len());
    for e in parsed.entries {
        let cleaned = text::clean::clean_keyed(&e.text);
        let fingerprint = Fingerprint::from_cleaned(&e.title, &cleaned);
        let matches: Vec<Match> = watchlist.classify(&e.title, &cleaned.text);
        let (stored, copy_of) = match store {
            Some(s) => {
                let stored = s.has_item(&e.id)?;
                let copy_of = match crate::dedup::find_copy(s, &fingerprint)? {
                    Some(story) => {
                        let title = s.story(&story)?.map(|st| st.title).unwrap_or_default();
                        Some(CopyOf { story, title })
                    }
                    None => None,
                };
                (stored, copy_of)
            }
            None => (false, None),
        };
        entries.push(Seen {
            id: e.id,
            title: e.title,
            published: e.published,
            link: e.link,
            text: cleaned.text,
            topics: matches.iter().map(|m| m.topic.clone()).collect(),
            matches: matches
                .iter()
                .map(|m| Explained {
                    topic: m.topic.clone(),
                    explanation: m.explain(),
                })
                .collect(),
            stored,
            copy_of,
        });
    }
    Ok(Probe {
        url: scope,
        discovered,
        recovered: parsed.recovered,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_become_urls() -> Result<(), ProbeError> {
        assert_eq!(
            target("https://example.org/rss")?.as_str(),
            "https://example.org/rss"
        );
        assert_eq!(target("file:/tmp/x.xml")?.as_str(), "file:///tmp/x.xml");
        let cwd = std::env::current_dir().map_err(|e| ProbeError::Other(e.to_string()))?;
        assert_eq!(
            target("file:feeds/x.xml")?,
            Url::from_file_path(cwd.join("feeds/x.xml"))
                .map_err(|()| ProbeError::Other("path".into()))?
        );
        assert_eq!(
            target("feeds/x.xml")?,
            Url::from_file_path(cwd.join("feeds/x.xml"))
                .map_err(|()| ProbeError::Other("path".into()))?
        );
        assert!(target("ftp://example.org/x").is_err());
        Ok(())
    }
}

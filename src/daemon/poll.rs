//! The fetch and prepare stages of one poll: the feed is fetched in its
//! host's turn and a global slot, parsed on the blocking pool, its new
//! entries' article pages fetched when asked, and each new entry cleaned,
//! fingerprinted and classified on the blocking pool. What comes out
//! ([`Outcome`]) goes to the writer, which alone writes the store.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::warn;

use super::{unwind_safe, Engine};
use crate::config::FeedConfig;
use crate::feed::{self, Entry};
use crate::fetch::{Content, Validators};
use crate::store::{listed_key, MAX_LISTED};
use crate::text::{self, fingerprint::Fingerprint};
use crate::watchlist::Match;

/// The stages' shared bounds.
pub(super) struct Limits {
    /// Feeds in the fetch and prepare stages at once (`[poll] concurrency`),
    /// each slot held until the writer takes the outcome: bounds the
    /// bodies and prepared entries held in memory.
    pub slots: Semaphore,
    /// Blocking-pool jobs at once: one per core, so parsing never queues
    /// hundreds of threads.
    pub cpu: Semaphore,
}

impl Limits {
    pub fn new(concurrency: usize) -> Arc<Limits> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Limits {
            slots: Semaphore::new(concurrency.max(1)),
            cpu: Semaphore::new(cores),
        })
    }
}

/// A new entry, ready to be stored.
#[derive(Debug)]
pub(super) struct Prepared {
    pub entry: Entry,
    /// The cleaned text (the entry's `text` is left empty).
    pub text: String,
    pub fingerprint: Fingerprint,
    pub matches: Vec<Match>,
}

/// What one poll found, for the writer.
#[derive(Debug)]
pub(super) enum Outcome {
    NotModified {
        max_age: Option<Duration>,
        moved_to: Option<String>,
        discovered: Option<String>,
    },
    Fresh {
        /// Entries not stored before.
        new: Vec<Prepared>,
        /// Entries the feed lists.
        listed: usize,
        /// The first of them, as the feed's state remembers them.
        listed_keys: Vec<u64>,
        /// Their publication times (for the adaptive interval).
        dates: Vec<DateTime<Utc>>,
        validators: Validators,
        ttl: Option<Duration>,
        max_age: Option<Duration>,
        moved_to: Option<String>,
        /// What was repaired before the feed parsed, if anything.
        recovered: Option<String>,
        /// The configured URL is a page: the feed it links, polled instead.
        discovered: Option<String>,
    },
    Failed {
        message: String,
        retry_after: Option<Duration>,
    },
}

impl Outcome {
    fn failed(e: impl std::fmt::Display) -> Outcome {
        Outcome::Failed {
            message: e.to_string(),
            retry_after: None,
        }
    }
}

/// A poll begun: the feed's state read and its host's start reserved.
pub(super) struct Begun {
    state: crate::store::FeedState,
    target: url::Url,
    reservation: Option<crate::fetch::Reservation>,
}

/// Begins a poll of `feed` without waiting: the scheduler calls it in the
/// order feeds fall due, so feeds due together reach each host in that
/// order (the configured order, in `once`).
///
/// Boxed: thousands of polls may wait for their turn at once, and the
/// futures that carry it would each keep a copy of it.
pub(super) fn begin(engine: &Engine, feed: &FeedConfig) -> Result<Box<Begun>, String> {
    let state = engine
        .store
        .feed_state(feed.url.as_str())
        .map_err(|e| e.to_string())?;
    // A feed that moved permanently is polled where it is now; a page,
    // through the feed it links.
    let target = state
        .moved_to
        .as_deref()
        .or(state.discovered.as_deref())
        .and_then(|u| url::Url::parse(u).ok())
        .unwrap_or_else(|| feed.url.clone());
    let reservation =
        matches!(target.scheme(), "http" | "https").then(|| engine.fetcher.reserve(&target));
    Ok(Box::new(Begun {
        state,
        target,
        reservation,
    }))
}

/// Polls `feed`: never fails, never panics (a failure or a bug some input
/// reached is an [`Outcome::Failed`] of this feed alone).
///
/// Returns the outcome with the slot it was made in: the caller keeps the
/// slot until the writer has taken the outcome, so that fetching never
/// runs ahead of the writer with whole feeds waiting in memory.
pub(super) async fn poll<'a>(
    engine: &Arc<Engine>,
    feed: &FeedConfig,
    limits: &'a Limits,
    begun: Result<Box<Begun>, String>,
) -> (Outcome, Option<SemaphorePermit<'a>>) {
    let begun = match begun {
        Ok(b) => b,
        Err(e) => return (Outcome::failed(e), None),
    };
    match unwind_safe(poll_inner(engine, feed, limits, begun)).await {
        Ok(done) => done,
        Err(panic) => (Outcome::failed(format!("internal error: {panic}")), None),
    }
}

async fn poll_inner<'a>(
    engine: &Arc<Engine>,
    feed: &FeedConfig,
    limits: &'a Limits,
    mut begun: Box<Begun>,
) -> (Outcome, Option<SemaphorePermit<'a>>) {
    // The host's turn first, then a slot: feeds waiting for a busy host
    // hold no slot others could use.
    let turn = match begun.reservation.take() {
        Some(r) => match r.wait().await {
            Ok(t) => Some(t),
            Err(e) => return (Outcome::failed(e), None),
        },
        None => None,
    };
    let Ok(slot) = limits.slots.acquire().await else {
        return (Outcome::failed("shutting down"), None);
    };
    // Thousands of polls may wait for their host's turn at once: the
    // large part of the poll (the HTTP client's future, the bodies, the
    // feed's state) is unpacked only now, with a slot. (Boxed in a
    // statement of its own: a temporary lives to the end of its statement,
    // across the await, and would be kept in this future.)
    let Begun { state, target, .. } = *begun;
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let work = Box::pin(fetch_and_prepare(
        engine, feed, limits, state, target, validators, turn,
    ));
    let started = std::time::Instant::now();
    let outcome = work.await;
    metrics::histogram!(crate::api::metrics::POLL_SECONDS).record(started.elapsed().as_secs_f64());
    (outcome, Some(slot))
}

async fn fetch_and_prepare(
    engine: &Arc<Engine>,
    feed: &FeedConfig,
    limits: &Limits,
    state: crate::store::FeedState,
    target: url::Url,
    validators: Validators,
    turn: Option<crate::fetch::HostTurn>,
) -> Outcome {
    let fetched = match engine
        .fetcher
        .fetch_in_turn(turn, &target, &validators)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            return Outcome::Failed {
                retry_after: e.retry_after(),
                message: e.to_string(),
            }
        }
    };
    let moved_to = fetched
        .moved_to
        .map(|u| u.to_string())
        .or(state.moved_to.clone());
    let mut discovered = state.discovered.clone();
    let (bytes, charset, validators) = match fetched.content {
        Content::NotModified => {
            return Outcome::NotModified {
                max_age: fetched.max_age,
                moved_to,
                discovered,
            }
        }
        Content::Body {
            bytes,
            charset,
            validators,
        } => (bytes, charset, validators),
    };

    // Parse, and keep the entries not stored before.
    let mut listed = state.listed;
    listed.sort_unstable();
    let listed = Arc::new(listed);
    let body = parse_stage(
        engine,
        limits,
        feed,
        bytes,
        charset,
        target.clone(),
        listed.clone(),
    );
    let (parsed, new, validators) = match body.await {
        Parse::Feed(parsed, new) => (parsed, new, validators),
        Parse::Failed(e) => return Outcome::failed(e),
        // The configured URL is a page: its feed, if it names one on
        // its own site, is fetched and read instead.
        Parse::Page(Some(link))
            if discovered.is_none() && feed::discover::same_site(&target, &link) =>
        {
            let Ok(fetched) = engine.fetcher.fetch(&link, &Validators::default()).await
            else {
                return Outcome::failed(format!(
                    "this is an HTML page, not a feed; the feed it links ({link}) could not be fetched"
                ));
            };
            let Content::Body {
                bytes,
                charset,
                validators,
            } = fetched.content
            else {
                return Outcome::failed("the linked feed answered 304 to a plain request");
            };
            match parse_stage(engine, limits, feed, bytes, charset, link.clone(), listed)
                .await
            {
                Parse::Feed(parsed, new) => {
                    tracing::info!(feed = %feed.name, found = %link, "the configured URL is a page; polling the feed it links");
                    discovered = Some(link.to_string());
                    (parsed, new, validators)
                }
                Parse::Failed(e) => {
                    return Outcome::failed(format!("the feed the page links ({link}): {e}"))
                }
                Parse::Page(_) => {
                    return Outcome::failed(format!(
                        "this is an HTML page, not a feed; what it links as its feed ({link}) is a page too"
                    ))
                }
            }
        }
        Parse::Page(Some(link)) if !feed::discover::same_site(&target, &link) => {
            return Outcome::failed(format!(
                "this is an HTML page, not a feed (it links the feed {link}, on another site or not over http: put that URL in the config if you trust it)"
            ))
        }
        Parse::Page(link) => {
            return Outcome::failed(feed::FeedError::Html(link.map(|l| l.to_string())))
        }
    };

    let mut pages = Vec::with_capacity(new.len());
    for entry in &new {
        pages.push(match feed.fetch_article {
            true => article_page(engine, feed, entry).await,
            false => None,
        });
    }

    let watchlist = engine.watchlist();
    let rule = feed.site_rule();
    let feed_name = feed.name.clone();
    // The outlet's name as configured leaves its headlines too.
    let outlet = text::headline::Outlet::learn(Some(&feed.name), &[]);
    let prepared = blocking(limits, move || {
        new.into_iter()
            .zip(pages)
            .map(|(mut entry, page)| {
                // The article's main text (by the site's rule when it has
                // one and it still matches), else the feed's.
                let main = page
                    .map(|p| {
                        let by_rule = rule.as_ref().and_then(|r| {
                            let text = r.extract(&p);
                            if text.is_none() {
                                warn!(feed = %feed_name, item = %entry.id, "the feed's selector matched nothing on the page; using generic extraction");
                            }
                            text
                        });
                        by_rule.unwrap_or_else(|| text::extract::extract_main(&p))
                    })
                    .filter(|m| !m.trim().is_empty());
                let raw = main.unwrap_or_else(|| std::mem::take(&mut entry.text));
                entry.text.clear();
                let stripped = outlet.strip(&entry.title);
                if stripped.len() != entry.title.len() {
                    entry.title = stripped.to_string();
                }
                let cleaned = text::clean::clean_keyed(&raw);
                let fingerprint = Fingerprint::from_cleaned(&entry.title, &cleaned);
                let matches = watchlist.classify(&entry.title, &cleaned.text);
                Prepared {
                    entry,
                    text: cleaned.text,
                    fingerprint,
                    matches,
                }
            })
            .collect::<Vec<_>>()
    })
    .await;
    let new = match prepared {
        Ok(p) => p,
        Err(e) => return Outcome::failed(e),
    };
    Outcome::Fresh {
        new,
        listed: parsed.entries.len(),
        listed_keys: parsed
            .entries
            .iter()
            .take(MAX_LISTED)
            .map(|e| listed_key(&e.id))
            .collect(),
        dates: parsed.entries.iter().filter_map(|e| e.published).collect(),
        validators,
        ttl: parsed.ttl,
        max_age: fetched.max_age,
        moved_to,
        recovered: parsed.recovered,
        discovered,
    }
}

/// What the parse stage made of a body.
enum Parse {
    /// A feed, and its entries not stored before.
    Feed(feed::Parsed, Vec<Entry>),
    /// An HTML page, and the feed it links, if any.
    Page(Option<url::Url>),
    Failed(String),
}

/// Parses `bytes` (fetched from `from`) on the blocking pool; entry ids
/// stay scoped to the configured URL wherever the feed was found. Entries
/// in `listed` (sorted; the feed's last body) are known without a look-up.
async fn parse_stage(
    engine: &Arc<Engine>,
    limits: &Limits,
    feed: &FeedConfig,
    bytes: Vec<u8>,
    charset: Option<String>,
    from: url::Url,
    listed: Arc<Vec<u64>>,
) -> Parse {
    let scope = feed.url.to_string();
    let engine = engine.clone();
    let parsed = blocking(limits, move || {
        let parsed = match feed::parse_feed(&scope, &bytes, charset.as_deref()) {
            Ok(p) => p,
            Err(feed::FeedError::Html(_)) => {
                let html = crate::fetch::charset::decode_html(&bytes, charset.as_deref());
                return Parse::Page(feed::discover::feed_link(&html, &from));
            }
            Err(e) => return Parse::Failed(e.to_string()),
        };
        let mut new = Vec::new();
        for e in &parsed.entries {
            if listed.binary_search(&listed_key(&e.id)).is_ok() {
                continue;
            }
            match engine.store.has_item(&e.id) {
                Ok(true) => {}
                Ok(false) => new.push(e.clone()),
                Err(e) => return Parse::Failed(e.to_string()),
            }
        }
        Parse::Feed(parsed, new)
    })
    .await;
    parsed.unwrap_or_else(Parse::Failed)
}

/// Runs CPU work on the blocking pool, one job per core at a time; a panic
/// in it is an error.
async fn blocking<T: Send + 'static>(
    limits: &Limits,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let Ok(_cpu) = limits.cpu.acquire().await else {
        return Err("shutting down".into());
    };
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        if e.is_panic() {
            format!(
                "internal error: {}",
                super::panic_message(e.into_panic().as_ref())
            )
        } else {
            e.to_string()
        }
    })
}

/// The article page, or `None` (the feed's text stays) when it cannot be
/// had: the item is not lost for a slow site.
async fn article_page(engine: &Engine, feed: &FeedConfig, entry: &Entry) -> Option<String> {
    let link = entry.link.as_deref()?;
    let url = url::Url::parse(link).ok()?;
    match engine.fetcher.fetch_page(&url).await {
        Ok(page) => Some(page),
        Err(e) => {
            warn!(feed = %feed.name, item = %entry.id, error = %e, "article fetch failed; using the feed text");
            None
        }
    }
}

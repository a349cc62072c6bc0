//! Fetching feeds and article pages. The only module that uses reqwest.
//!
//! - conditional GET (ETag / Last-Modified): a 304 costs no parsing;
//! - connect and total timeouts, a cap on the response size, gzip and br;
//! - `file://` URLs read from disk with the same size cap, for feeds the
//!   operator configured only: regular files, the cap enforced while reading;
//! - article pages (links a feed chose) and redirects are http/https only;
//! - per host, at most `[poll] host_concurrency` requests at once and their
//!   starts `host_interval` apart, so a poll round never hammers an outlet;
//! - redirects followed hop by hop (http/https only); a chain of permanent
//!   ones is reported, so the feed's new address is used and shown;
//! - `Cache-Control: max-age` is reported for the scheduler;
//! - failures report Retry-After so the scheduler can honour it.

pub mod charset;
pub mod schedule;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    LOCATION, RETRY_AFTER,
};
use reqwest::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::Poll;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP client setup: {0}")]
    Client(reqwest::Error),
    #[error("request failed: {0}")]
    Request(String),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("response larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("unsupported URL {0}")]
    Unsupported(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("article links must be http or https, not {0}")]
    NotWeb(String),
}

impl FetchError {
    /// The server's Retry-After, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Hosts remembered before idle ones are forgotten.
const MAX_IDLE_HOSTS: usize = 4096;

/// Redirects followed before a fetch fails.
const MAX_REDIRECTS: usize = 5;

/// Validators from the previous fetch of a URL.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a successful fetch returned.
#[derive(Debug)]
pub enum Content {
    /// 304: the feed did not change.
    NotModified,
    Body {
        bytes: Vec<u8>,
        /// The charset of the Content-Type header.
        charset: Option<String>,
        validators: Validators,
    },
}

/// A successful fetch.
#[derive(Debug)]
pub struct Fetched {
    pub content: Content,
    /// `Cache-Control: max-age` (clamped like any server delay), unless the
    /// response also said `no-cache` or `no-store`.
    pub max_age: Option<Duration>,
    /// Where every redirect on the way was permanent (301, 308): the URL
    /// the resource now lives at.
    pub moved_to: Option<Url>,
}

/// One host's turn: held while a request to it runs.
pub struct HostTurn {
    _permit: OwnedSemaphorePermit,
}

/// A start time reserved with a host: [`Reservation::wait`] for the turn.
pub struct Reservation {
    host: Arc<Host>,
    start: tokio::time::Instant,
}

impl Reservation {
    /// Waits for the reserved start, then for a free slot of the host.
    pub async fn wait(self) -> Result<HostTurn, FetchError> {
        tokio::time::sleep_until(self.start).await;
        let permit = self
            .host
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| FetchError::Request(e.to_string()))?;
        Ok(HostTurn { _permit: permit })
    }
}

/// Politeness per host: at most `concurrency` requests at once, and their
/// starts at least `interval` apart.
struct Host {
    slots: Arc<Semaphore>,
    /// The earliest start of the next request.
    next_start: std::sync::Mutex<tokio::time::Instant>,
}

/// HTTP client with raqib's limits.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_bytes: u64,
    host_concurrency: usize,
    host_interval: Duration,
    hosts: Arc<std::sync::Mutex<HashMap<String, Arc<Host>>>>,
}

impl Fetcher {
    pub fn new(poll: &Poll) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(poll.user_agent.clone())
            .connect_timeout(poll.connect_timeout)
            .timeout(poll.timeout)
            // Redirects are followed here, hop by hop: each hop's scheme is
            // checked and whether they were all permanent is known.
            .redirect(reqwest::redirect::Policy::none())
            // Feeds of one host are polled a moment apart in a round, then
            // not for minutes: a connection kept idle longer only holds a
            // socket and ~30 KB of buffers (per host: thousands of them).
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(2)
            .build()
            .map_err(FetchError::Client)?;
        Ok(Fetcher {
            client,
            max_bytes: poll.max_bytes,
            host_concurrency: poll.host_concurrency.max(1),
            host_interval: poll.host_interval,
            hosts: Arc::default(),
        })
    }

    /// Fetches `url`, conditionally when `validators` are given, waiting
    /// for its host's turn first.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        match url.scheme() {
            "file" => self.fetch_file(url).await,
            "http" | "https" => {
                let turn = self.host_turn(url).await?;
                self.fetch_http(turn, url, validators).await
            }
            other => Err(FetchError::Unsupported(other.to_string())),
        }
    }

    /// [`Fetcher::fetch`] with the host's turn already taken (the poll
    /// stage takes it before its global slot, so that feeds waiting for a
    /// busy host do not hold slots others could use).
    pub async fn fetch_in_turn(
        &self,
        turn: Option<HostTurn>,
        url: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        match (url.scheme(), turn) {
            ("http" | "https", Some(turn)) => self.fetch_http(turn, url, validators).await,
            _ => self.fetch(url, validators).await,
        }
    }

    async fn fetch_file(&self, url: &Url) -> Result<Fetched, FetchError> {
        use tokio::io::AsyncReadExt;
        let path = url
            .to_file_path()
            .map_err(|_| FetchError::Unsupported(url.to_string()))?;
        let file_err = |source| FetchError::File {
            path: path.display().to_string(),
            source,
        };
        // A FIFO would block the open, a device read without end.
        let meta = tokio::fs::metadata(&path).await.map_err(file_err)?;
        if !meta.is_file() {
            return Err(FetchError::NotAFile(path.display().to_string()));
        }
        let file = tokio::fs::File::open(&path).await.map_err(file_err)?;
        let mut bytes = Vec::new();
        // The length the file reports is not trusted: read one byte past the cap.
        file.take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(file_err)?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(Fetched {
            content: Content::Body {
                bytes,
                charset: None,
                validators: Validators::default(),
            },
            max_age: None,
            moved_to: None,
        })
    }

    /// Waits until a request to `url`'s host may start: a free slot of the
    /// host, and the spacing since the previous start.
    pub async fn host_turn(&self, url: &Url) -> Result<HostTurn, FetchError> {
        self.reserve(url).wait().await
    }

    /// Reserves the next start time of a request to `url`'s host, now,
    /// without waiting: requests reserved in some order start in that
    /// order (the scheduler reserves in the order feeds fall due).
    pub fn reserve(&self, url: &Url) -> Reservation {
        let host = self.host(url.host_str().unwrap_or(""));
        let start = {
            let mut next = host
                .next_start
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let start = (*next).max(tokio::time::Instant::now());
            *next = start + self.host_interval;
            start
        };
        Reservation { host, start }
    }

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Article links name any host: forget the idle ones (no request
        // holds or awaits a slot, the spacing has passed) before the map
        // grows large.
        if hosts.len() >= MAX_IDLE_HOSTS && !hosts.contains_key(name) {
            let now = tokio::time::Instant::now();
            hosts.retain(|_, h| {
                Arc::strong_count(h) > 1
                    || *h
                        .next_start
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        > now
            });
        }
        hosts
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(self.host_concurrency)),
                    next_start: std::sync::Mutex::new(tokio::time::Instant::now()),
                })
            })
            .clone()
    }

    async fn fetch_http(
        &self,
        _turn: HostTurn,
        url: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        let mut permanent = true;
        let mut hops = 0;
        let mut resp = loop {
            let mut req = self.client.get(current.clone());
            if let Some(etag) = &validators.etag {
                req = req.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(IF_MODIFIED_SINCE, lm);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| FetchError::Request(crate::diag::error_chain(&e)))?;
            if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
                break resp;
            }
            let Some(location) = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l.trim()).ok())
            else {
                return Err(FetchError::Status {
                    status: resp.status().as_u16(),
                    retry_after: None,
                });
            };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(FetchError::Request(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )));
            }
            if !matches!(location.scheme(), "http" | "https") {
                return Err(FetchError::NotWeb(location.scheme().to_string()));
            }
            permanent &= matches!(
                resp.status(),
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            current = location;
        };
        let moved_to = (hops > 0 && permanent).then(|| current.clone());
        let status = resp.status();
        let max_age = max_age(resp.headers());
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                content: Content::NotModified,
                max_age,
                moved_to,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: retry_after(resp.headers()),
            });
        }
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let headers = resp.headers();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let charset = header(CONTENT_TYPE).and_then(|ct| charset::charset_of_content_type(&ct));
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError::Request(crate::diag::error_chain(&e)))?
        {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(FetchError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            content: Content::Body {
                bytes,
                charset,
                validators,
            },
            max_age,
            moved_to,
        })
    }

    /// Fetches an article page and returns it decoded to UTF-8. The URL
    /// comes from a feed, so only http and https are followed: a feed never
    /// makes raqib read a local file.
    pub async fn fetch_page(&self, url: &Url) -> Result<String, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::NotWeb(url.scheme().to_string()));
        }
        match self.fetch(url, &Validators::default()).await?.content {
            Content::Body { bytes, charset, .. } => {
                Ok(charset::decode_html(&bytes, charset.as_deref()))
            }
            Content::NotModified => Ok(String::new()),
        }
    }
}

/// `Cache-Control: max-age=N`, clamped to [`crate::time::MAX_SERVER_DELAY`];
/// `None` when absent, zero, or beside `no-cache` / `no-store`.
fn max_age(h: &HeaderMap) -> Option<Duration> {
    let mut age = None;
    for value in h.get_all(CACHE_CONTROL) {
        for directive in value.to_str().ok()?.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-cache" || directive == "no-store" {
                return None;
            }
            if let Some(n) = directive.strip_prefix("max-age=") {
                age = n.trim_matches('"').parse::<u64>().ok().filter(|n| *n > 0);
            }
        }
    }
    age.map(|s| crate::time::server_delay(Duration::from_secs(s)))
}

/// The Retry-After header (seconds or an HTTP date), clamped to
/// [`crate::time::MAX_SERVER_DELAY`].
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(v)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(crate::time::server_delay(d))
}

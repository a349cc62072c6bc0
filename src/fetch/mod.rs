//! Fetching feeds and article pages. The only module that uses reqwest.
//!
//! - conditional GET (ETag / Last-Modified): a 304 costs no parsing;
//! - connect and total timeouts, a cap on the response size, gzip and br;
//! - `file://` URLs read from disk with the same size cap, for feeds the
//!   operator configured only: regular files, the cap enforced while reading;
//! - article pages (links a feed chose) and redirects are http/https only;
//! - one request at a time per host, so a poll round never hammers an outlet;
//! - failures report Retry-After so the scheduler can honour it.

pub mod charset;
pub mod schedule;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::StatusCode;
use tokio::sync::{Mutex, Semaphore};
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
const MAX_IDLE_HOSTS: usize = 256;

/// Validators from the previous fetch of a URL.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the feed did not change.
    NotModified,
    Body {
        bytes: Vec<u8>,
        /// The charset of the Content-Type header.
        charset: Option<String>,
        validators: Validators,
    },
}

/// HTTP client with raqib's limits.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_bytes: u64,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Fetcher {
    pub fn new(poll: &Poll) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(poll.user_agent.clone())
            .connect_timeout(poll.connect_timeout)
            .timeout(poll.timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("more than 5 redirects")
                } else if matches!(attempt.url().scheme(), "http" | "https") {
                    attempt.follow()
                } else {
                    attempt.error("redirect to a URL that is not http or https")
                }
            }))
            .build()
            .map_err(FetchError::Client)?;
        Ok(Fetcher {
            client,
            max_bytes: poll.max_bytes,
            hosts: Arc::default(),
        })
    }

    /// Fetches `url`, conditionally when `validators` are given.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        match url.scheme() {
            "file" => self.fetch_file(url).await,
            "http" | "https" => self.fetch_http(url, validators).await,
            other => Err(FetchError::Unsupported(other.to_string())),
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
        Ok(Fetched::Body {
            bytes,
            charset: None,
            validators: Validators::default(),
        })
    }

    async fn host_permit(&self, url: &Url) -> Arc<Semaphore> {
        let host = url.host_str().unwrap_or("").to_string();
        let mut hosts = self.hosts.lock().await;
        // Article links name any host: forget the idle ones (no request
        // holds their semaphore) before the map grows large.
        if hosts.len() >= MAX_IDLE_HOSTS && !hosts.contains_key(&host) {
            hosts.retain(|_, s| Arc::strong_count(s) > 1);
        }
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    async fn fetch_http(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let host = self.host_permit(url).await;
        let _permit = host
            .acquire()
            .await
            .map_err(|e| FetchError::Request(e.to_string()))?;
        let mut req = self.client.get(url.clone());
        if let Some(etag) = &validators.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| FetchError::Request(crate::diag::error_chain(&e)))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
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
        Ok(Fetched::Body {
            bytes,
            charset,
            validators,
        })
    }

    /// Fetches an article page and returns it decoded to UTF-8. The URL
    /// comes from a feed, so only http and https are followed: a feed never
    /// makes raqib read a local file.
    pub async fn fetch_page(&self, url: &Url) -> Result<String, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::NotWeb(url.scheme().to_string()));
        }
        match self.fetch_http(url, &Validators::default()).await? {
            Fetched::Body { bytes, charset, .. } => {
                Ok(charset::decode_html(&bytes, charset.as_deref()))
            }
            Fetched::NotModified => Ok(String::new()),
        }
    }
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

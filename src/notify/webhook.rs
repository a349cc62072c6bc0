//! Webhooks: each new story, once, to the URLs `[[webhooks]]` names, as
//! raqib's JSON document or as an ntfy message. Entries wait in the same
//! outbox as mail (retried with backoff, dead letters, durable across a
//! crash); the `Idempotency-Key` header is the entry's id, so a receiver
//! drops what a crash made raqib post twice. With a `secret_file`, the
//! body is signed: `X-Raqib-Signature: sha256=<hex HMAC-SHA256 of the body>`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::render;
use super::SendError;
use crate::config::{Webhook, WebhookFormat};
use crate::store::{Item, Story};

/// A receiver that has not answered by then has failed this attempt.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The configured webhooks with their keys, and one HTTP client.
pub struct Webhooks {
    client: reqwest::Client,
    hooks: Vec<Hook>,
}

struct Hook {
    key: String,
    config: Webhook,
    secret: Option<Secret>,
}

/// An HMAC key: never printed.
struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("reading the webhook secret {path}: {source}")]
    Secret {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the webhook secret {0} is empty")]
    EmptySecret(PathBuf),
    #[error("webhook client: {0}")]
    Client(String),
}

/// One outlet of a story, as a webhook receives it.
#[derive(Debug, Serialize)]
pub struct Outlet {
    pub name: String,
    /// http(s) only; absent otherwise.
    pub url: Option<String>,
    /// When raqib first saw it (RFC 3339, UTC).
    pub first_seen: Option<String>,
    /// When the outlet says it published it.
    pub published: Option<String>,
    /// The outlet that reported first, as far as raqib can tell.
    pub first: bool,
}

/// The JSON document a webhook receives for a story.
#[derive(Debug, Serialize)]
pub struct Payload {
    /// The outbox entry's id (also the `Idempotency-Key` header).
    pub id: String,
    pub story: String,
    /// The topic ids the story matched (among those the webhook hears).
    pub topics: Vec<String>,
    pub topic_names: Vec<String>,
    pub title: String,
    pub excerpt: String,
    pub outlets: Vec<Outlet>,
    /// Why it matched, as the alert email says it.
    pub explanation: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Payload {
    pub fn new(
        id: &str,
        story: &Story,
        items: &[Item],
        topics: &[String],
        topic_names: Vec<String>,
        explanation: String,
    ) -> Payload {
        let first = render::first_seen(&story.copies);
        Payload {
            id: id.to_string(),
            story: story.id.clone(),
            topics: topics.to_vec(),
            topic_names,
            title: render::shown(&story.title, render::TITLE_CHARS),
            excerpt: items
                .first()
                .map(|i| render::excerpt(&i.text))
                .unwrap_or_default(),
            outlets: story
                .copies
                .iter()
                .take(render::MAX_OUTLETS)
                .enumerate()
                .map(|(i, c)| Outlet {
                    name: render::shown(&c.feed_name, render::NAME_CHARS),
                    url: render::web_link(c.link.as_deref()).map(str::to_string),
                    first_seen: c.seen.map(rfc3339),
                    published: c.published.map(rfc3339),
                    first: first == Some(i) || (first.is_none() && i == 0),
                })
                .collect(),
            explanation,
        }
    }

    /// The ntfy message: the title, then the first outlet's link.
    fn ntfy(&self) -> (String, Option<&str>) {
        let link = self.outlets.iter().find_map(|o| o.url.as_deref());
        let body = match link {
            Some(l) => format!("{}\n{l}", self.title),
            None => self.title.clone(),
        };
        (body, link)
    }
}

impl Webhooks {
    /// Reads the secrets and builds the client.
    pub fn new(hooks: &[Webhook]) -> Result<Webhooks, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            // The configured URL, not wherever a response points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("raqib/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        let mut out = Vec::with_capacity(hooks.len());
        for h in hooks {
            let secret = match &h.secret_file {
                Some(path) => {
                    let bytes = std::fs::read(path).map_err(|source| WebhookError::Secret {
                        path: path.clone(),
                        source,
                    })?;
                    let key = bytes.trim_ascii_end().to_vec();
                    if key.is_empty() {
                        return Err(WebhookError::EmptySecret(path.clone()));
                    }
                    Some(Secret(key))
                }
                None => None,
            };
            out.push(Hook {
                key: h.key(),
                config: h.clone(),
                secret,
            });
        }
        Ok(Webhooks { client, hooks: out })
    }

    /// The webhook whose key is `key`, if it is still configured.
    pub fn find(&self, key: &str) -> Option<&Webhook> {
        self.hooks.iter().find(|h| h.key == key).map(|h| &h.config)
    }

    /// Posts `payload` to the webhook `key`. A 2xx answer is success; 4xx
    /// (but 408 and 429) is a refusal that repeating will not change.
    pub async fn post(&self, key: &str, payload: &Payload) -> Result<(), SendError> {
        let Some(hook) = self.hooks.iter().find(|h| h.key == key) else {
            return Err(SendError {
                permanent: true,
                message: "this webhook is no longer configured".into(),
            });
        };
        let (body, content_type, click) = match hook.config.format {
            WebhookFormat::Json => (
                serde_json::to_vec(payload).map_err(|e| SendError {
                    permanent: true,
                    message: e.to_string(),
                })?,
                "application/json",
                None,
            ),
            WebhookFormat::Ntfy => {
                let (text, link) = payload.ntfy();
                (text.into_bytes(), "text/plain; charset=utf-8", link)
            }
        };
        let mut req = self
            .client
            .post(hook.config.url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header("Idempotency-Key", &payload.id);
        if let Some(link) = click {
            // ntfy opens this when the notification is tapped.
            req = req.header("Click", link);
        }
        if let Some(secret) = &hook.secret {
            req = req.header("X-Raqib-Signature", signature(&secret.0, &body));
        }
        let answer = req.body(body).send().await.map_err(|e| SendError {
            permanent: false,
            message: format!("posting to {}: {}", hook.config.url, without_url(&e)),
        })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let permanent = status.is_client_error()
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
        Err(SendError {
            permanent,
            message: format!("{} answered {status}", hook.config.url),
        })
    }
}

/// reqwest's error without the URL it repeats (the caller names it).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" ({u})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// `sha256=<hex HMAC-SHA256 of body under key>`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231, test case 2: key "Jefe".
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

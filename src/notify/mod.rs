//! Emails: rendering, the outbox drain, and delivery over SMTP (lettre) or
//! into a local maildir. The only module that uses lettre.
//!
//! An alert leaves the outbox only after the server (or the maildir) took
//! the message. Its Message-ID is derived from the alert id, so a retry after
//! an ambiguous failure (accepted, but the reply lost) can be recognised as
//! the same message by the receiving side.

pub mod digest;
pub mod render;
mod smtp;
pub mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::MultiPart;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use crate::config::{Delivery, Email, Security};
use crate::store::{Alert, AlertKind, Item, Store, StoreError};
use crate::watchlist::Watchlist;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("reading SMTP password: {0}")]
    Password(std::io::Error),
    #[error("SMTP setup: {0}")]
    Smtp(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookError),
}

/// A mail address with an optional display name (`name <a@b>` or `a@b`),
/// as lettre validates it: the one address type of the configuration and
/// the watchlist's recipients.
pub use lettre::message::Mailbox;

/// Parses an address the way delivery uses it; every address raqib reads
/// goes through here once, when its file is loaded.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim().parse::<Mailbox>().map_err(|e| e.to_string())
}

/// `X-Raqib-Topic: <topic id>`.
#[derive(Debug, Clone)]
struct TopicHeader(String);

impl Header for TopicHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Raqib-Topic")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(TopicHeader(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Id` (RFC 2919): mail clients can filter and mute per topic.
#[derive(Debug, Clone)]
struct ListId(String);

impl Header for ListId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListId(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

enum Transport {
    /// Implicit TLS: lettre's transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Plain or STARTTLS: raqib's own connection (see [`smtp`]).
    Direct(Box<smtp::Direct>),
    Maildir(PathBuf),
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

/// Sends messages through the configured transport.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    to: Vec<Mailbox>,
    admin: Mailbox,
    /// Feeds failing this long are listed at the end of digests.
    list_broken_after: Duration,
    timezone: chrono_tz::Tz,
    dead_letter_after: Duration,
    /// With digests on: immediate alerts older than this go to the digest.
    fold_after: Option<Duration>,
    webhooks: Option<webhook::Webhooks>,
}

/// What one drain of the outbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: usize,
    /// Alerts too old to send alone, folded into the next digest.
    pub folded: usize,
    pub failed: usize,
    pub waiting: usize,
    /// When the earliest message still waiting falls due.
    pub next_due: Option<DateTime<Utc>>,
}

impl Mailer {
    pub fn new(email: &Email) -> Result<Mailer, NotifyError> {
        let from = email.from.clone();
        let to = email.to.clone();
        let admin = email.admin.clone();
        let transport = match &email.delivery {
            Delivery::Maildir(p) => Transport::Maildir(p.clone()),
            Delivery::Smtp(s) => {
                let tls_params = || {
                    TlsParameters::new(s.host.clone()).map_err(|e| NotifyError::Smtp(e.to_string()))
                };
                let credentials = match &s.username {
                    Some(user) => {
                        let password = match &s.password_file {
                            Some(p) => std::fs::read_to_string(p).map_err(NotifyError::Password)?,
                            None => match std::env::var_os("CREDENTIALS_DIRECTORY") {
                                Some(dir) => std::fs::read_to_string(
                                    PathBuf::from(dir).join("smtp-password"),
                                )
                                .map_err(NotifyError::Password)?,
                                None => String::new(),
                            },
                        };
                        Some(Credentials::new(
                            user.clone(),
                            password.trim_end_matches(['\r', '\n']).to_string(),
                        ))
                    }
                    None => None,
                };
                match s.security {
                    Security::None => Transport::Direct(Box::new(smtp::Direct::new(
                        s.host.clone(),
                        s.port,
                        None,
                        credentials,
                        s.timeout,
                    ))),
                    Security::Starttls => Transport::Direct(Box::new(smtp::Direct::new(
                        s.host.clone(),
                        s.port,
                        Some(tls_params()?),
                        credentials,
                        s.timeout,
                    ))),
                    Security::Tls => {
                        let mut b =
                            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
                                .port(s.port)
                                .tls(Tls::Wrapper(tls_params()?))
                                .timeout(Some(s.timeout));
                        if let Some(c) = credentials {
                            b = b.credentials(c);
                        }
                        Transport::Smtp(b.build())
                    }
                }
            }
        };
        Ok(Mailer {
            transport,
            from,
            to,
            admin,
            list_broken_after: Duration::from_secs(3600),
            timezone: email.timezone,
            dead_letter_after: email.dead_letter_after,
            fold_after: None,
            webhooks: None,
        })
    }

    /// Folds immediate alerts older than `after` into the digest instead of
    /// sending them (only meaningful when digests are on).
    /// Delivers the outbox's webhook entries too.
    pub fn with_webhooks(mut self, webhooks: webhook::Webhooks) -> Mailer {
        self.webhooks = Some(webhooks);
        self
    }

    pub fn fold_stale_after(mut self, after: Option<Duration>) -> Mailer {
        self.fold_after = after;
        self
    }

    /// Feeds failing at least this long are listed at the end of digests
    /// (see [`crate::config::Alerts::list_broken_after`]).
    pub fn list_broken_after(mut self, after: Duration) -> Mailer {
        self.list_broken_after = after;
        self
    }

    /// Sends one message.
    pub async fn send(&self, msg: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: crate::diag::error_chain(&e),
            }),
            Transport::Direct(d) => d.send(&msg).await,
            Transport::Maildir(path) => {
                let bytes = msg.formatted();
                let path = path.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let md = maildir::Maildir::from(path);
                    md.create_dirs().map_err(|e| e.to_string())?;
                    md.store_new(&bytes).map(|_| ()).map_err(|e| e.to_string())
                })
                .await;
                match res {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(SendError {
                        permanent: false,
                        message: format!("maildir: {e}"),
                    }),
                    Err(e) => Err(SendError {
                        permanent: false,
                        message: format!("maildir task: {e}"),
                    }),
                }
            }
        }
    }

    /// Builds the email for `alert` from the store, or `None` when its story
    /// is gone (then the alert has nothing left to say).
    pub fn build_alert(
        &self,
        store: &Store,
        watchlist: &Watchlist,
        alert: &Alert,
    ) -> Result<Option<Message>, NotifyError> {
        self.build_alerts(store, watchlist, alert, &[])
    }

    /// [`Mailer::build_alert`] for a story alert and the `companions` of the
    /// same story for the same recipients (other topics): one message
    /// listing every topic.
    pub fn build_alerts(
        &self,
        store: &Store,
        watchlist: &Watchlist,
        alert: &Alert,
        companions: &[Alert],
    ) -> Result<Option<Message>, NotifyError> {
        let (r, topics) = match &alert.kind {
            AlertKind::Digest {
                topics, stories, ..
            } => {
                let sections = digest::sections(store, watchlist, topics, stories)?;
                let broken = digest::broken_feeds(store, alert.created, self.list_broken_after)?;
                (
                    render::digest(&sections, &broken, alert.created, self.timezone),
                    topics.clone(),
                )
            }
            AlertKind::FeedNotice { .. } => {
                let notices: Vec<render::Notice<'_>> = std::iter::once(alert)
                    .chain(companions)
                    .filter_map(|a| match &a.kind {
                        AlertKind::FeedNotice {
                            url,
                            name,
                            since,
                            error,
                            recovered,
                        } => Some(render::Notice {
                            name,
                            url,
                            since: *since,
                            error: error.as_deref(),
                            recovered: *recovered,
                        }),
                        _ => None,
                    })
                    .collect();
                let r = render::feed_notices(&notices, self.timezone);
                return self
                    .message(&alert.id, &alert.kind, r, &[], vec![self.admin.clone()])
                    .map(Some);
            }
            _ => {
                let topics: Vec<String> = std::iter::once(alert)
                    .chain(companions)
                    .map(|a| a.topic.clone())
                    .collect();
                let Some(StoryContext {
                    story,
                    items,
                    topic_names,
                    explanation,
                }) = story_context(store, watchlist, &alert.story, &topics)?
                else {
                    return Ok(None);
                };
                let topic_name = topic_names.join("، ");
                let last_before_limit = std::iter::once(alert)
                    .chain(companions)
                    .any(|a| a.kind == AlertKind::StoryLastBeforeLimit);
                let r = render::alert_in(
                    &story,
                    &items,
                    &topic_name,
                    watchlist.topics.len() > 1,
                    &explanation,
                    self.timezone,
                    last_before_limit,
                );
                (r, topics)
            }
        };
        // A single-topic message goes to that topic's recipients when it has
        // its own; everything else to [email].to.
        // A story's message goes to its topics' recipients (grouped so all
        // share them); a digest of several topics to [email].to.
        let recipients = match (&alert.kind, topics.first()) {
            (AlertKind::Digest { .. }, _) if topics.len() > 1 => self.to.clone(),
            (_, Some(first)) => self.recipients_of(watchlist, first),
            (_, None) => self.to.clone(),
        };
        let id = match alert.kind {
            AlertKind::Story | AlertKind::StoryLastBeforeLimit => {
                story_message_key(&alert.story, &recipients)
            }
            _ => alert.id.clone(),
        };
        self.message(&id, &alert.kind, r, &topics, recipients)
            .map(Some)
    }

    /// Who reads `topic`: its own recipients, else [email].to.
    fn recipients_of(&self, watchlist: &Watchlist, topic: &str) -> Vec<Mailbox> {
        match watchlist.topic(topic).filter(|t| !t.recipients.is_empty()) {
            // Checked with parse_mailbox when the watchlist was loaded.
            Some(t) => t
                .recipients
                .iter()
                .filter_map(|r| parse_mailbox(&r.address).ok())
                .collect(),
            None => self.to.clone(),
        }
    }

    /// A test message to `[email].to` through the configured transport:
    /// proof that mail gets out, before a story depends on it.
    pub fn test_message(&self) -> Result<Message, NotifyError> {
        let now = Utc::now();
        let when = render::local_time(now, self.timezone);
        let r = render::Rendered {
            subject: format!("رقيب: رسالة تجربة — {when}"),
            text: format!(
                "هذه رسالة تجربة من رقيب: البريد يصل.\nThis is a test message from raqib: mail gets through.\n{when}\n"
            ),
            html: format!(
                "<!DOCTYPE html><html dir=\"rtl\" lang=\"ar\"><head><meta charset=\"utf-8\"></head><body><p>هذه رسالة تجربة من رقيب: البريد يصل.</p><p dir=\"ltr\" lang=\"en\">This is a test message from raqib: mail gets through.</p><p><bdi dir=\"ltr\">{}</bdi></p></body></html>\n",
                html_escape::encode_text(&when)
            ),
        };
        let id = format!("test/{}", now.timestamp_nanos_opt().unwrap_or_default());
        self.message(&id, &AlertKind::Story, r, &[], self.to.clone())
    }

    /// The message for `alert` with the rendered `r`.
    fn message(
        &self,
        id: &str,
        kind: &AlertKind,
        r: render::Rendered,
        topics: &[String],
        recipients: Vec<Mailbox>,
    ) -> Result<Message, NotifyError> {
        let list = match (kind, topics.first()) {
            (AlertKind::FeedNotice { .. }, _) => "admin",
            (_, Some(topic)) => topic.as_str(),
            (_, None) => "digest",
        };
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(r.subject)
            .message_id(Some(message_id(id, &self.from)))
            .date(std::time::SystemTime::now());
        if !topics.is_empty() {
            b = b.header(TopicHeader(topics.join(", ")));
        }
        b = b
            .header(ListId(format!(
                "raqib {list} <{list}.raqib.{}>",
                self.from.email.domain()
            )))
            .header(AutoSubmitted);
        for to in recipients {
            b = b.to(to);
        }
        b.multipart(MultiPart::alternative_plain_html(r.text, r.html))
            .map_err(|e| NotifyError::Smtp(e.to_string()))
    }

    /// Sends every alert of the outbox that is due at `now` (every alert when
    /// `ignore_due`), removing each only after it was accepted. `stop` is
    /// asked before each message: when it says so, the rest wait.
    pub async fn drain(
        &self,
        store: &Store,
        watchlist: &Watchlist,
        now: DateTime<Utc>,
        ignore_due: bool,
        stop: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<DrainReport, NotifyError> {
        let mut report = DrainReport::default();
        let mut alerts = store.outbox()?;
        alerts.sort_by_key(|a| a.created);
        let mut stopped = false;
        let mut mail_down = false;
        // Alerts sent as companions of an earlier one in this pass.
        let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
        let is_story =
            |a: &Alert| matches!(a.kind, AlertKind::Story | AlertKind::StoryLastBeforeLimit);
        let is_notice = |a: &Alert| matches!(a.kind, AlertKind::FeedNotice { .. });
        let stale = |a: &Alert| {
            self.fold_after
                .is_some_and(|after| crate::time::span(a.created, now) > after)
        };
        let snapshot = alerts.clone();
        for mut alert in alerts {
            if done.contains(&alert.id) {
                continue;
            }
            stopped = stopped || stop();
            if stopped || (!ignore_due && alert.due > now) {
                report.waiting += 1;
                report.next_due = Some(report.next_due.map_or(alert.due, |d| d.min(alert.due)));
                continue;
            }
            if let AlertKind::Webhook { hook, topics } = &alert.kind {
                if self.webhooks.as_ref().and_then(|w| w.find(hook)).is_none() {
                    // Its webhook was taken out of the config: nothing to
                    // retry; kept among the dead letters.
                    alert.last_error = Some("its webhook is no longer configured".into());
                    store.bury(&alert)?;
                    warn!(alert = %alert.id, "webhook no longer configured; entry moved to the dead letters");
                    report.failed += 1;
                    continue;
                }
                match self
                    .post_webhook(store, watchlist, &alert, hook, topics)
                    .await?
                {
                    Ok(()) => {
                        store.mark_sent(&alert, now)?;
                        store.flush().await?;
                        info!(alert = %alert.id, story = %alert.story, "webhook posted");
                        metrics::counter!(crate::api::metrics::SENT).increment(1);
                        report.sent += 1;
                    }
                    Err(e) => {
                        // A receiver that is down delays only its own entries.
                        if let Some(due) = self.failed(store, &mut alert, &e, now)? {
                            report.next_due = Some(report.next_due.map_or(due, |d| d.min(due)));
                        }
                        report.failed += 1;
                    }
                }
                continue;
            }
            if mail_down {
                report.waiting += 1;
                continue;
            }
            // After a long outage an alert is old news: it joins the digest
            // (where its story already waits) instead of flooding the inbox.
            let story = is_story(&alert);
            if stale(&alert) && story {
                store.fold_alert(&alert, now)?;
                info!(alert = %alert.id, topic = %alert.topic, "alert too old after an outage; folded into the next digest");
                report.folded += 1;
                continue;
            }
            // The story's other due alerts for the same readers (other
            // topics) go in the same message.
            let companions: Vec<Alert> = if story {
                let readers = self.recipients_of(watchlist, &alert.topic);
                snapshot
                    .iter()
                    .filter(|o| {
                        o.id != alert.id
                            && o.story == alert.story
                            && is_story(o)
                            && !done.contains(&o.id)
                            && (ignore_due || o.due <= now)
                            && !stale(o)
                            && self.recipients_of(watchlist, &o.topic) == readers
                    })
                    .cloned()
                    .collect()
            } else if is_notice(&alert) {
                // Every other notice waiting, due or not, goes with it: all
                // go to the admin, and an outage breaks many feeds at once.
                snapshot
                    .iter()
                    .filter(|o| o.id != alert.id && is_notice(o) && !done.contains(&o.id))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            let Some(msg) = self.build_alerts(store, watchlist, &alert, &companions)? else {
                store.mark_sent(&alert, now)?;
                for c in &companions {
                    store.mark_sent(c, now)?;
                    done.insert(c.id.clone());
                }
                continue;
            };
            match self.send(msg).await {
                Ok(()) => {
                    store.mark_all_sent(std::iter::once(&alert).chain(&companions), now)?;
                    for c in &companions {
                        done.insert(c.id.clone());
                    }
                    // Durable before the next message: a crash can repeat
                    // at most the one message in flight (with its Message-ID).
                    store.flush().await?;
                    info!(alert = %alert.id, topic = %alert.topic, "alert sent");
                    metrics::counter!(crate::api::metrics::SENT).increment(1);
                    report.sent += 1;
                }
                Err(e) => {
                    match self.failed(store, &mut alert, &e, now)? {
                        None => {
                            for c in &companions {
                                store.bury(c)?;
                                done.insert(c.id.clone());
                            }
                        }
                        Some(due) => {
                            // Its companions wait with it, to go out together.
                            for c in &companions {
                                let mut c = c.clone();
                                c.attempts = alert.attempts;
                                c.last_error = alert.last_error.clone();
                                c.failing_since = alert.failing_since;
                                c.due = due;
                                store.update_alert(&c)?;
                                done.insert(c.id);
                            }
                            report.next_due = Some(report.next_due.map_or(due, |d| d.min(due)));
                        }
                    }
                    report.failed += 1;
                    if !e.permanent {
                        // The server is down or busy: the rest of the mail
                        // would fail too (webhooks are still tried).
                        mail_down = true;
                    }
                }
            }
        }
        Ok(report)
    }
}

/// What a story's messages say of it: the story, its items, the names of
/// `topics` and why it matched them.
struct StoryContext {
    story: crate::store::Story,
    items: Vec<Item>,
    topic_names: Vec<String>,
    explanation: String,
}

/// Reads `story` and its items; `None` when the story is gone.
fn story_context(
    store: &Store,
    watchlist: &Watchlist,
    story: &str,
    topics: &[String],
) -> Result<Option<StoryContext>, NotifyError> {
    let Some(story) = store.story(story)? else {
        return Ok(None);
    };
    let mut items: Vec<Item> = Vec::new();
    for c in &story.copies {
        if let Some(i) = store.item(&c.item)? {
            items.push(i);
        }
    }
    let name = |id: &str| -> String {
        watchlist
            .topic(id)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let explain = |id: &str| -> String {
        items
            .iter()
            .flat_map(|i| i.matches.iter())
            .find(|m| m.topic == id)
            .map(|m| m.explain())
            .unwrap_or_default()
    };
    let explanation = match topics {
        [one] => explain(one),
        several => several
            .iter()
            .map(|t| format!("{}: {}", name(t), explain(t)))
            .collect::<Vec<_>>()
            .join(" ؛ "),
    };
    let topic_names = topics.iter().map(|t| name(t)).collect();
    Ok(Some(StoryContext {
        story,
        items,
        topic_names,
        explanation,
    }))
}

impl Mailer {
    /// Posts a story's webhook entry; the outer error is the store's, the
    /// inner the receiver's. A story that is gone has nothing to post.
    async fn post_webhook(
        &self,
        store: &Store,
        watchlist: &Watchlist,
        alert: &Alert,
        hook: &str,
        topics: &[String],
    ) -> Result<Result<(), SendError>, NotifyError> {
        let Some(webhooks) = &self.webhooks else {
            return Ok(Err(SendError {
                permanent: true,
                message: "webhooks are not set up in this process".into(),
            }));
        };
        let Some(c) = story_context(store, watchlist, &alert.story, topics)? else {
            return Ok(Ok(()));
        };
        let payload = webhook::Payload::new(
            &alert.id,
            &c.story,
            &c.items,
            topics,
            c.topic_names,
            c.explanation,
        );
        Ok(webhooks.post(hook, &payload).await)
    }

    /// Records a failed attempt at `alert`: retried after a backoff, or
    /// buried once the receiver has refused it for `dead_letter_after`.
    /// Returns when it is due again (`None`: buried).
    fn failed(
        &self,
        store: &Store,
        alert: &mut Alert,
        e: &SendError,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, NotifyError> {
        metrics::counter!(crate::api::metrics::FAILED).increment(1);
        alert.attempts += 1;
        alert.last_error = Some(e.message.clone());
        if e.permanent {
            let since = *alert.failing_since.get_or_insert(now);
            if crate::time::span(since, now) >= self.dead_letter_after {
                store.bury(alert)?;
                error!(alert = %alert.id, attempts = alert.attempts, error = %e.message, "the receiver keeps refusing this message; moved to the dead letters");
                return Ok(None);
            }
        } else {
            alert.failing_since = None;
        }
        alert.due = crate::time::after(now, retry_delay(alert.attempts));
        store.update_alert(alert)?;
        warn!(alert = %alert.id, attempts = alert.attempts, permanent = e.permanent, error = %e.message, "delivery failed");
        Ok(Some(alert.due))
    }
}

/// Backoff between delivery attempts: 30 s doubling up to an hour.
fn retry_delay(attempts: u32) -> Duration {
    crate::time::backoff(
        Duration::from_secs(30),
        attempts,
        Duration::from_secs(3600),
        fastrand::f64(),
    )
}

/// What a story's message is known by: the story and who reads it (one
/// message per story per recipient set, whatever topics it lists).
fn story_message_key(story: &str, recipients: &[Mailbox]) -> String {
    let mut who: Vec<String> = recipients.iter().map(|m| m.email.to_string()).collect();
    who.sort();
    format!("{story}→{}", who.join(","))
}

/// A stable Message-ID for an alert: the same alert always gets the same id.
pub fn message_id(alert_id: &str, from: &Mailbox) -> String {
    let d = Sha256::digest(alert_id.as_bytes());
    let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let domain = from.email.domain();
    let domain = if domain.is_empty() {
        "raqib.localhost"
    } else {
        domain
    };
    format!("<{hex}.alert@{domain}>")
}

//! Configuration: raw TOML (serde, `deny_unknown_fields`) → validated
//! [`Config`]. Every error names `FILE:LINE:COL`. The rest of the program
//! only sees validated types.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::diag::Located;
use crate::notify::{parse_mailbox, Mailbox};
use crate::watchlist::Watchlist;

/// The shipped watchlist, used when a config names none and none is beside it.
pub const DEFAULT_WATCHLIST: &str = include_str!("../config/watchlist.toml");

/// Where the config is looked for when `--config` is not given.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("RAQIB_CONFIG") {
        return PathBuf::from(p);
    }
    let system = Path::new("/etc/raqib/raqib.toml");
    if system.exists() {
        return system.to_path_buf();
    }
    PathBuf::from("config/raqib.toml")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] Located),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    watchlist: Option<Spanned<String>>,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    feeds: Vec<RawFeed>,
    #[serde(default)]
    email: RawEmail,
    #[serde(default)]
    alerts: RawAlerts,
    digest: Option<RawDigest>,
    #[serde(default)]
    text: RawText,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    http: Option<RawHttp>,
    log_level: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Spanned<String>,
    #[serde(default)]
    allow_remote: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Spanned<String>,
    secret_file: Option<Spanned<String>>,
    topics: Option<Vec<Spanned<String>>>,
    format: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    #[serde(default = "yes")]
    fold_hamza_seats: bool,
}

impl Default for RawText {
    fn default() -> Self {
        RawText {
            fold_hamza_seats: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    at: Vec<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    per_topic: bool,
    #[serde(default)]
    send_empty: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    max_bytes: Option<Spanned<u64>>,
    concurrency: Option<Spanned<u32>>,
    host_concurrency: Option<Spanned<u32>>,
    host_interval: Option<Spanned<String>>,
    min_interval: Option<Spanned<String>>,
    max_interval: Option<Spanned<String>>,
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    fetch_article: bool,
    interval: Option<Spanned<String>>,
    selector: Option<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    from: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    dead_letter_after: Option<Spanned<String>>,
    to: Option<Vec<Spanned<String>>>,
    admin: Option<Spanned<String>>,
    smtp: Option<RawSmtp>,
    maildir: Option<RawMaildir>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Spanned<String>,
    port: Option<Spanned<u16>>,
    security: Option<Security>,
    username: Option<Spanned<String>>,
    /// Send the password over a connection without TLS to a host that is
    /// not this machine: refused unless set (an explicit opt-in).
    #[serde(default)]
    allow_plaintext_auth: bool,
    password_file: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaildir {
    path: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    window: Option<Spanned<String>>,
    max_per_hour: Option<Spanned<u32>>,
    stale_after: Option<Spanned<String>>,
    broken_feed_after: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
}

/// Transport security for SMTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
    None,
    Starttls,
    Tls,
}

/// Every topic's recipients parsed as delivery will parse them, with
/// `FILE:LINE:COL` of the first that is not an address.
fn check_recipients(w: &Watchlist, file: &Path, source: &str) -> Result<(), Located> {
    for t in &w.topics {
        for r in &t.recipients {
            parse_mailbox(&r.address).map_err(|e| {
                Located::at(
                    file,
                    source,
                    r.offset,
                    format!("{:?} is not an email address: {e}", r.address),
                )
            })?;
        }
    }
    Ok(())
}

/// True for a host name or address that is this machine.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    pub watchlist: PathBuf,
    /// True when `watchlist` was set; otherwise a missing file means the
    /// built-in default watchlist.
    pub watchlist_set: bool,
    pub storage: PathBuf,
    /// Items older than this are forgotten (and no longer found as copies).
    pub retention: Duration,
    pub poll: Poll,
    pub feeds: Vec<FeedConfig>,
    pub email: Email,
    pub alerts: Alerts,
    pub digest: Option<Digest>,
    /// ؤ and ئ fold to و and ي when matching and comparing (`[text]`).
    pub fold_hamza_seats: bool,
    /// `[[webhooks]]`: where new stories are posted besides email.
    pub webhooks: Vec<Webhook>,
    /// `[http] listen`: the API and metrics over TCP (the unix socket in
    /// the storage folder is always there).
    pub http: Option<std::net::SocketAddr>,
    /// `log_level` (a `tracing` filter such as "info" or "raqib=debug");
    /// `RAQIB_LOG` wins over it.
    pub log_level: Option<String>,
}

/// One `[[webhooks]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub url: Url,
    /// The HMAC key's file (read when the daemon starts; never logged).
    pub secret_file: Option<PathBuf>,
    /// Topic ids it hears of; `None`: all.
    pub topics: Option<Vec<String>>,
    pub format: WebhookFormat,
}

impl Webhook {
    /// What its outbox entries are known by: the URL's hash, so that a
    /// reordered config keeps them, and a changed URL does not send old
    /// entries to a new place.
    pub fn key(&self) -> String {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(self.url.as_str().as_bytes());
        d.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    pub fn hears(&self, topic: &str) -> bool {
        self.topics
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x == topic))
    }
}

/// What a webhook is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// raqib's JSON document.
    Json,
    /// An ntfy message: the title, then the first outlet's link.
    Ntfy,
}

/// Scheduled digests.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// Local times of day, sorted.
    pub at: Vec<chrono::NaiveTime>,
    pub timezone: chrono_tz::Tz,
    /// One digest per topic (to its recipients) instead of one for all.
    pub per_topic: bool,
    pub send_empty: bool,
}

#[derive(Debug, Clone)]
pub struct Poll {
    /// The interval set in `[poll]`, if any.
    pub interval: Option<Duration>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_bytes: u64,
    /// Feeds polled at the same time (fetch, parse, article pages).
    pub concurrency: usize,
    /// Requests to one host at the same time.
    pub host_concurrency: usize,
    /// The least time between the starts of two requests to one host.
    pub host_interval: Duration,
    /// Bounds of the adaptive interval (feeds with no `interval` set).
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub user_agent: String,
}

/// The poll interval used where none is set, until a feed's own dates
/// give a better one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub url: Url,
    pub name: String,
    pub fetch_article: bool,
    pub interval: Option<Duration>,
    /// CSS selector of the article's text on its page (implies
    /// `fetch_article`); checked at load.
    pub selector: Option<String>,
    /// CSS selectors of what to leave out inside it.
    pub exclude: Vec<String>,
}

impl FeedConfig {
    /// The site's extraction rule, if the feed has one.
    pub fn site_rule(&self) -> Option<crate::text::extract::SiteRule> {
        let s = self.selector.as_deref()?;
        crate::text::extract::SiteRule::new(s, &self.exclude).ok()
    }
}

#[derive(Debug, Clone)]
pub struct Email {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Who hears of broken feeds: `[email] admin`, else the first of `to`.
    pub admin: Mailbox,
    pub delivery: Delivery,
    /// Times in emails are shown in this zone.
    pub timezone: chrono_tz::Tz,
    /// A message the server keeps refusing permanently moves to the dead
    /// letters after this long.
    pub dead_letter_after: Duration,
}

#[derive(Debug, Clone)]
pub enum Delivery {
    Smtp(Smtp),
    Maildir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Alerts {
    pub window: Duration,
    /// Immediate alerts per topic per hour; the rest go to the next digest.
    /// 0 (the default): no limit, one email per story as the contract says.
    pub max_per_hour: u32,
    /// With digests on, an alert still unsent after this long (an SMTP
    /// outage) goes to the next digest instead.
    pub stale_after: Duration,
    /// A feed failing this long gets one email to the admin (and one when
    /// it recovers).
    pub broken_feed_after: Duration,
    /// A new feed's backlog (and what a feed that was failing longer than
    /// this carries when it comes back) published longer ago than this is
    /// stored, not alerted.
    pub max_age: Duration,
}

impl Alerts {
    /// Feeds failing this long are listed at the end of digests: an hour,
    /// or `broken_feed_after` when that is shorter.
    pub fn list_broken_after(&self) -> Duration {
        self.broken_feed_after.min(Duration::from_secs(3600))
    }

    /// How long the admin's notice that a feed broke (or recovered) waits
    /// for others to go in the same email: an outage on raqib's side breaks
    /// every feed within one round of polls. An hour, or a 24th of
    /// `broken_feed_after` when that is shorter.
    pub fn notice_window(&self) -> Duration {
        (self.broken_feed_after / 24).min(Duration::from_secs(3600))
    }
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Config::parse(path, &source)?)
    }

    /// Validates `source`, read from `file`.
    pub fn parse(file: &Path, source: &str) -> Result<Config, Located> {
        let raw: Raw = toml::from_str(source).map_err(|e| Located::from_toml(file, source, &e))?;
        let at = |span: Range<usize>, msg: String| Located::at(file, source, span.start, msg);
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let relative = |p: &str| -> PathBuf {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                dir.join(p)
            }
        };
        let duration = |s: &Spanned<String>| -> Result<Duration, Located> {
            let d = humantime::parse_duration(s.get_ref().trim())
                .map_err(|e| at(s.span(), format!("invalid duration {:?}: {e}", s.get_ref())))?;
            if d.is_zero() {
                return Err(at(s.span(), "a duration must be greater than zero".into()));
            }
            // Longer would only feed overflowing time arithmetic.
            if d > Duration::from_secs(100 * 365 * 24 * 3600) {
                return Err(at(s.span(), "a duration must be under 100 years".into()));
            }
            Ok(d)
        };
        let opt_duration =
            |s: &Option<Spanned<String>>, default: Duration| -> Result<Duration, Located> {
                s.as_ref()
                    .map(duration)
                    .transpose()
                    .map(|d| d.unwrap_or(default))
            };

        let watchlist = match &raw.watchlist {
            Some(w) if w.get_ref().trim().is_empty() => {
                return Err(at(w.span(), "watchlist path is empty".into()))
            }
            Some(w) => relative(w.get_ref()),
            None => dir.join("watchlist.toml"),
        };
        let storage = match &raw.storage.path {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err(at(p.span(), "storage path is empty".into()))
            }
            Some(p) => relative(p.get_ref()),
            None => match std::env::var_os("STATE_DIRECTORY") {
                // systemd may pass several directories separated by ':'.
                Some(s) => PathBuf::from(s.to_string_lossy().split(':').next().unwrap_or("data")),
                None => PathBuf::from("data"),
            },
        };

        let poll = Poll {
            interval: raw.poll.interval.as_ref().map(duration).transpose()?,
            timeout: opt_duration(&raw.poll.timeout, Duration::from_secs(30))?,
            connect_timeout: opt_duration(&raw.poll.connect_timeout, Duration::from_secs(10))?,
            max_bytes: match &raw.poll.max_bytes {
                Some(m) if *m.get_ref() < 1024 => {
                    return Err(at(m.span(), "max_bytes must be at least 1024".into()))
                }
                Some(m) => *m.get_ref(),
                None => 10 * 1024 * 1024,
            },
            concurrency: match &raw.poll.concurrency {
                Some(c) if *c.get_ref() == 0 => {
                    return Err(at(c.span(), "concurrency must be at least 1".into()))
                }
                Some(c) => *c.get_ref() as usize,
                None => 16,
            },
            host_concurrency: match &raw.poll.host_concurrency {
                Some(c) if *c.get_ref() == 0 => {
                    return Err(at(c.span(), "host_concurrency must be at least 1".into()))
                }
                Some(c) => *c.get_ref() as usize,
                None => 1,
            },
            host_interval: match &raw.poll.host_interval {
                // "0s" is allowed here: no spacing between requests to one host.
                Some(s) if humantime::parse_duration(s.get_ref().trim()) == Ok(Duration::ZERO) => {
                    Duration::ZERO
                }
                other => opt_duration(other, Duration::from_millis(500))?,
            },
            min_interval: opt_duration(&raw.poll.min_interval, Duration::from_secs(300))?,
            max_interval: opt_duration(&raw.poll.max_interval, Duration::from_secs(3600))?,
            user_agent: raw.poll.user_agent.clone().unwrap_or_else(|| {
                format!(
                    "raqib/{} (+https://crates.io/crates/raqib)",
                    env!("CARGO_PKG_VERSION")
                )
            }),
        };

        if poll.min_interval > poll.max_interval {
            let span = raw
                .poll
                .max_interval
                .as_ref()
                .or(raw.poll.min_interval.as_ref())
                .map(|s| s.span())
                .unwrap_or(0..0);
            return Err(at(
                span,
                "max_interval must not be shorter than min_interval".into(),
            ));
        }

        let mut feeds: Vec<FeedConfig> = Vec::new();
        // A set, not a scan of `feeds`: a newsroom's config lists thousands.
        let mut listed: std::collections::HashSet<Url> = std::collections::HashSet::new();
        for f in &raw.feeds {
            let raw_url = f.url.get_ref().trim();
            let url = match raw_url
                .strip_prefix("file:")
                .filter(|rest| !rest.starts_with('/'))
            {
                // "file:demo/feed.xml": a path relative to this file's folder,
                // so a config and its sample feeds can move together.
                Some(rest) => {
                    let path = relative(rest);
                    let path = if path.is_absolute() {
                        path
                    } else {
                        std::env::current_dir()
                            .map(|d| d.join(&path))
                            .unwrap_or(path)
                    };
                    Url::from_file_path(&path).map_err(|()| {
                        at(
                            f.url.span(),
                            format!("invalid feed path {:?}", path.display()),
                        )
                    })?
                }
                None => Url::parse(raw_url).map_err(|e| {
                    at(
                        f.url.span(),
                        format!("invalid feed URL {:?}: {e}", f.url.get_ref()),
                    )
                })?,
            };
            if !matches!(url.scheme(), "http" | "https" | "file") {
                return Err(at(
                    f.url.span(),
                    format!(
                        "feed URL scheme {:?} is not http, https or file",
                        url.scheme()
                    ),
                ));
            }
            if !listed.insert(url.clone()) {
                return Err(at(f.url.span(), format!("feed {url} is listed twice")));
            }
            if let Some(sel) = &f.selector {
                if let Err(e) = crate::text::extract::SiteRule::new(sel.get_ref(), &[]) {
                    return Err(at(sel.span(), e));
                }
            }
            for ex in &f.exclude {
                if let Err(e) = crate::text::extract::SiteRule::new(ex.get_ref(), &[]) {
                    return Err(at(ex.span(), e));
                }
            }
            let name = match &f.name {
                Some(n) if !n.trim().is_empty() => n.trim().to_string(),
                _ => match url.host_str() {
                    Some(h) if !h.is_empty() => h.to_string(),
                    // file:///srv/feeds/x.xml → "x.xml"
                    _ => url
                        .path_segments()
                        .and_then(|mut s| s.next_back())
                        .map(str::to_string)
                        .unwrap_or_else(|| url.to_string()),
                },
            };
            feeds.push(FeedConfig {
                url,
                name,
                fetch_article: f.fetch_article || f.selector.is_some(),
                interval: f.interval.as_ref().map(duration).transpose()?,
                selector: f.selector.as_ref().map(|s| s.get_ref().trim().to_string()),
                exclude: f
                    .exclude
                    .iter()
                    .map(|s| s.get_ref().trim().to_string())
                    .collect(),
            });
        }

        let address = |s: &Spanned<String>| -> Result<Mailbox, Located> {
            parse_mailbox(s.get_ref()).map_err(|e| {
                at(
                    s.span(),
                    format!("invalid email address {:?}: {e}", s.get_ref()),
                )
            })
        };
        let default = |s: &str| {
            parse_mailbox(s).map_err(|e| at(0..0, format!("built-in address {s:?}: {e}")))
        };
        let from = match &raw.email.from {
            Some(f) => address(f)?,
            None => default("raqib <raqib@localhost>")?,
        };
        let to = match &raw.email.to {
            Some(list) => list.iter().map(address).collect::<Result<Vec<_>, _>>()?,
            None => vec![default("root@localhost")?],
        };
        let admin = match &raw.email.admin {
            Some(a) => address(a)?,
            None => match to.first() {
                Some(first) => first.clone(),
                None => default("root@localhost")?,
            },
        };
        let delivery = match (&raw.email.smtp, &raw.email.maildir) {
            (Some(s), _) => {
                if s.host.get_ref().trim().is_empty() {
                    return Err(at(s.host.span(), "smtp host is empty".into()));
                }
                let port = match &s.port {
                    Some(p) if *p.get_ref() == 0 => {
                        return Err(at(p.span(), "port 0 is not a port".into()))
                    }
                    Some(p) => *p.get_ref(),
                    None => match s.security {
                        None | Some(Security::None) => 25,
                        Some(Security::Starttls) => 587,
                        Some(Security::Tls) => 465,
                    },
                };
                // Unset, the security follows the port's convention.
                let security = s.security.unwrap_or(match port {
                    465 => Security::Tls,
                    587 => Security::Starttls,
                    _ => Security::None,
                });
                let host = s.host.get_ref().trim().to_string();
                if let Some(user) = &s.username {
                    if security == Security::None && !is_loopback(&host) && !s.allow_plaintext_auth
                    {
                        return Err(at(
                            user.span(),
                            format!(
                                "a username with security = \"none\" would send the password to {host} \
                                 in clear: use security = \"starttls\" or \"tls\" (or set \
                                 allow_plaintext_auth = true if the network path is trusted)"
                            ),
                        ));
                    }
                }
                Delivery::Smtp(Smtp {
                    host,
                    port,
                    security,
                    username: s.username.as_ref().map(|u| u.get_ref().clone()),
                    password_file: s.password_file.as_ref().map(|p| relative(p.get_ref())),
                    timeout: opt_duration(&s.timeout, Duration::from_secs(30))?,
                })
            }
            (None, Some(m)) => Delivery::Maildir(relative(m.path.get_ref())),
            (None, None) => Delivery::Maildir(storage.join("mail")),
        };

        let zone = |s: &Spanned<String>| -> Result<chrono_tz::Tz, Located> {
            s.get_ref().trim().parse::<chrono_tz::Tz>().map_err(|_| {
                at(
                    s.span(),
                    format!(
                        "unknown time zone {:?} (use an IANA name such as \"Asia/Damascus\")",
                        s.get_ref()
                    ),
                )
            })
        };
        let timezone = raw
            .email
            .timezone
            .as_ref()
            .map(zone)
            .transpose()?
            .unwrap_or(chrono_tz::UTC);
        let alerts = Alerts {
            window: opt_duration(&raw.alerts.window, Duration::from_secs(120))?,
            max_per_hour: raw
                .alerts
                .max_per_hour
                .as_ref()
                .map(|m| *m.get_ref())
                .unwrap_or(0),
            stale_after: opt_duration(&raw.alerts.stale_after, Duration::from_secs(6 * 3600))?,
            broken_feed_after: opt_duration(
                &raw.alerts.broken_feed_after,
                Duration::from_secs(24 * 3600),
            )?,
            max_age: opt_duration(&raw.alerts.max_age, Duration::from_secs(2 * 24 * 3600))?,
        };
        let digest = match &raw.digest {
            None => None,
            Some(d) => {
                let mut times = Vec::new();
                for t in &d.at {
                    let v = chrono::NaiveTime::parse_from_str(t.get_ref().trim(), "%H:%M")
                        .map_err(|_| {
                            at(
                                t.span(),
                                format!(
                                    "invalid time {:?}: write HH:MM, e.g. \"07:00\"",
                                    t.get_ref()
                                ),
                            )
                        })?;
                    times.push(v);
                }
                if times.is_empty() {
                    return Err(Located::at(
                        file,
                        source,
                        0,
                        "[digest] at needs at least one time",
                    ));
                }
                times.sort();
                times.dedup();
                Some(Digest {
                    at: times,
                    timezone: d
                        .timezone
                        .as_ref()
                        .map(zone)
                        .transpose()?
                        .unwrap_or(timezone),
                    per_topic: d.per_topic,
                    send_empty: d.send_empty,
                })
            }
        };
        // Times shown to readers: [email] timezone; without one, the
        // digest's (a reader who schedules digests at 07:00 Damascus time
        // reads Damascus time everywhere), else UTC. One zone for alerts,
        // digests, previews and notices alike.
        let timezone = match (&raw.email.timezone, &digest) {
            (None, Some(d)) => d.timezone,
            _ => timezone,
        };
        let mut webhooks: Vec<Webhook> = Vec::new();
        for w in &raw.webhooks {
            let url = Url::parse(w.url.get_ref().trim()).map_err(|e| {
                at(
                    w.url.span(),
                    format!("invalid webhook URL {:?}: {e}", w.url.get_ref()),
                )
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(at(
                    w.url.span(),
                    format!("webhook URL scheme {:?} is not http or https", url.scheme()),
                ));
            }
            if webhooks.iter().any(|o| o.url == url) {
                return Err(at(w.url.span(), format!("webhook {url} is listed twice")));
            }
            let format = match w.format.as_ref().map(|f| (f, f.get_ref().trim())) {
                None | Some((_, "json")) => WebhookFormat::Json,
                Some((_, "ntfy")) => WebhookFormat::Ntfy,
                Some((f, other)) => {
                    return Err(at(
                        f.span(),
                        format!("webhook format {other:?} is not \"json\" or \"ntfy\""),
                    ))
                }
            };
            let topics = match &w.topics {
                None => None,
                Some(t) if t.is_empty() => {
                    return Err(at(
                        w.url.span(),
                        "topics = [] would send nothing: leave it out to send every topic".into(),
                    ))
                }
                Some(t) => Some(t.iter().map(|x| x.get_ref().trim().to_string()).collect()),
            };
            webhooks.push(Webhook {
                url,
                secret_file: w.secret_file.as_ref().map(|p| relative(p.get_ref())),
                topics,
                format,
            });
        }
        let http = match &raw.http {
            None => None,
            Some(h) => {
                let addr: std::net::SocketAddr =
                    h.listen.get_ref().trim().parse().map_err(|e| {
                        at(
                            h.listen.span(),
                            format!(
                                "invalid listen address {:?} (as \"127.0.0.1:9464\"): {e}",
                                h.listen.get_ref()
                            ),
                        )
                    })?;
                if !addr.ip().is_loopback() && !h.allow_remote {
                    return Err(at(
                        h.listen.span(),
                        format!(
                            "{addr} is reachable from other machines and the API has no \
                             authentication: listen on 127.0.0.1, or set allow_remote = true \
                             behind a firewall or proxy of your own"
                        ),
                    ));
                }
                Some(addr)
            }
        };
        let log_level = match &raw.log_level {
            None => None,
            Some(l) => {
                let v = l.get_ref().trim();
                tracing_subscriber::EnvFilter::try_new(v)
                    .map_err(|e| at(l.span(), format!("invalid log_level {v:?}: {e}")))?;
                Some(v.to_string())
            }
        };
        Ok(Config {
            file: file.to_path_buf(),
            watchlist_set: raw.watchlist.is_some(),
            watchlist,
            storage,
            retention: opt_duration(&raw.storage.retention, Duration::from_secs(30 * 86400))?,
            poll,
            feeds,
            email: Email {
                from,
                to,
                admin,
                delivery,
                timezone,
                dead_letter_after: opt_duration(
                    &raw.email.dead_letter_after,
                    Duration::from_secs(3 * 86400),
                )?,
            },
            alerts,
            digest,
            fold_hamza_seats: raw.text.fold_hamza_seats,
            webhooks,
            http,
            log_level,
        })
    }

    /// Reads and compiles the watchlist this config names.
    pub fn load_watchlist(&self) -> Result<Watchlist, ConfigError> {
        let source = match std::fs::read_to_string(&self.watchlist) {
            Ok(s) => s,
            // A config that names no watchlist, beside no watchlist.toml,
            // follows the default topic rather than failing.
            Err(e) if !self.watchlist_set && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Watchlist::parse(
                    Path::new("<built-in watchlist>"),
                    DEFAULT_WATCHLIST,
                )?);
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: self.watchlist.clone(),
                    source,
                })
            }
        };
        let watchlist = Watchlist::parse(&self.watchlist, &source)?;
        check_recipients(&watchlist, &self.watchlist, &source)?;
        Ok(watchlist)
    }

    /// The poll interval of a feed: its own, else `[poll]`'s, else the default.
    pub fn interval_of(&self, feed: &FeedConfig) -> Duration {
        feed.interval
            .or(self.poll.interval)
            .unwrap_or(DEFAULT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> Located {
        match Config::parse(Path::new("/etc/raqib/raqib.toml"), src) {
            Ok(_) => panic!("accepted: {src}"),
            Err(e) => e,
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(
            Path::new("/x/raqib.toml"),
            "[[feeds]]\nurl = \"file:///tmp/f.xml\"\n",
        );
        let c = match c {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.watchlist, PathBuf::from("/x/watchlist.toml"));
        assert_eq!(c.alerts.window, Duration::from_secs(120));
        assert!(matches!(c.email.delivery, Delivery::Maildir(_)));
        assert_eq!(c.interval_of(&c.feeds[0]), DEFAULT_INTERVAL);
    }

    #[test]
    fn relative_file_url_is_relative_to_the_config() {
        let c = Config::parse(
            Path::new("/etc/raqib/raqib.toml"),
            "[[feeds]]\nurl = \"file:demo/a.xml\"\n",
        );
        let url = c
            .map(|c| c.feeds[0].url.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(url.as_deref(), Ok("file:///etc/raqib/demo/a.xml"));
    }

    #[test]
    fn readers_see_one_zone_everywhere() -> Result<(), ConfigError> {
        let zone =
            |toml: &str| Config::parse(Path::new("/x/r.toml"), toml).map(|c| c.email.timezone);
        // The digest's zone is the readers' when [email] names none.
        assert_eq!(
            zone("[digest]\nat = [\"07:00\"]\ntimezone = \"Asia/Damascus\"\n")?,
            chrono_tz::Asia::Damascus
        );
        assert_eq!(
            zone("[email]\ntimezone = \"Europe/Berlin\"\n[digest]\nat = [\"07:00\"]\ntimezone = \"Asia/Damascus\"\n")?,
            chrono_tz::Europe::Berlin
        );
        assert_eq!(zone("")?, chrono_tz::UTC);
        Ok(())
    }

    #[test]
    fn digest_times_and_zones() {
        let c = Config::parse(
            Path::new("/x/r.toml"),
            "[digest]\nat = [\"19:00\", \"07:00\"]\ntimezone = \"Asia/Damascus\"\n",
        );
        let d = c.map_err(|e| e.to_string()).map(|c| c.digest);
        let d = match d {
            Ok(Some(d)) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(d.at.len(), 2);
        assert!(d.at[0] < d.at[1]);
        assert_eq!(d.timezone, chrono_tz::Asia::Damascus);
        let e = err("[digest]\nat = [\"7am\"]\n");
        assert_eq!((e.line, e.col), (2, 7), "{e}");
        let e = err("[email]\ntimezone = \"Mars/Olympus\"\n");
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn built_in_watchlist_when_none_is_named_or_present() {
        let dir = std::env::temp_dir().join(format!("raqib-nowl-{}", std::process::id()));
        let c = Config::parse(&dir.join("raqib.toml"), "").map_err(|e| e.to_string());
        let w = c.map(|c| {
            c.load_watchlist()
                .map(|w| w.topics.len())
                .map_err(|e| e.to_string())
        });
        assert_eq!(w, Ok(Ok(1)));
        let c = Config::parse(&dir.join("raqib.toml"), "watchlist = \"missing.toml\"\n")
            .map_err(|e| e.to_string());
        assert!(
            c.map(|c| c.load_watchlist().is_err()).unwrap_or(false),
            "a named file must exist"
        );
    }

    #[test]
    fn bad_duration_points_at_value() {
        let e = err("[poll]\ninterval = \"ten minutes\"\n");
        assert_eq!((e.line, e.col), (2, 12), "{e}");
    }

    #[test]
    fn unknown_key_points_at_key() {
        let e = err("[poll]\nintervall = \"1m\"\n");
        assert_eq!((e.line, e.col), (2, 1), "{e}");
        assert!(e.message.contains("intervall"), "{e}");
    }

    #[test]
    fn bad_url_and_scheme() {
        let e = err("[[feeds]]\nurl = \"not a url\"\n");
        assert_eq!(e.line, 2);
        let e = err("[[feeds]]\nurl = \"ftp://x.org/rss\"\n");
        assert!(e.message.contains("scheme"), "{e}");
    }

    #[test]
    fn a_feed_listed_twice_among_thousands_is_found_at_its_second_line() {
        let mut src: String = (0..3000)
            .map(|i| format!("[[feeds]]\nurl = \"https://site{i}.example/rss\"\n"))
            .collect();
        let c = Config::parse(Path::new("/x/r.toml"), &src).map(|c| c.feeds.len());
        assert_eq!(c.ok(), Some(3000));
        // The same URL as feed 7, with the host in capitals.
        src.push_str("[[feeds]]\nurl = \"https://SITE7.example/rss\"\n");
        let e = err(&src);
        assert_eq!(e.line, 6002, "{e}");
        assert!(e.message.contains("listed twice"), "{e}");
    }

    #[test]
    fn the_api_listens_on_loopback_unless_told_otherwise() {
        let e = err("[http]\nlisten = \"0.0.0.0:9464\"\n");
        assert_eq!((e.line, e.col), (2, 10), "{e}");
        assert!(e.message.contains("allow_remote"), "{e}");
        let e = err("[http]\nlisten = \"localhost\"\n");
        assert!(e.message.contains("127.0.0.1:9464"), "{e}");
        let ok = |src: &str| Config::parse(Path::new("/x/r.toml"), src).map(|c| c.http);
        assert!(matches!(
            ok("[http]\nlisten = \"127.0.0.1:9464\"\n"),
            Ok(Some(_))
        ));
        assert!(matches!(
            ok("[http]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n"),
            Ok(Some(_))
        ));
        assert!(matches!(ok(""), Ok(None)));
        let e = err("log_level = \"raqib=shout\"\n");
        assert!(e.message.contains("log_level"), "{e}");
    }

    #[test]
    fn a_password_in_clear_to_a_remote_host_is_refused() {
        let e = err("[email.smtp]\nhost = \"mail.example.org\"\nsecurity = \"none\"\nusername = \"raqib\"\n");
        assert_eq!((e.line, e.col), (4, 12), "{e}");
        assert!(e.message.contains("in clear"), "{e}");
        let smtp = |src: &str| match Config::parse(Path::new("/x/r.toml"), src) {
            Ok(Config {
                email:
                    Email {
                        delivery: Delivery::Smtp(s),
                        ..
                    },
                ..
            }) => (s.port, s.security),
            Ok(_) => panic!("no smtp"),
            Err(e) => panic!("{e}"),
        };
        // Loopback, or the explicit opt-in, is accepted.
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            smtp(&format!(
                "[email.smtp]\nhost = \"{host}\"\nusername = \"u\"\n"
            ));
        }
        smtp("[email.smtp]\nhost = \"m.example.org\"\nusername = \"u\"\nallow_plaintext_auth = true\n");
        // Security follows the port when not given.
        assert_eq!(
            smtp("[email.smtp]\nhost = \"m.example.org\"\nport = 587\nusername = \"u\"\n"),
            (587, Security::Starttls)
        );
        assert_eq!(
            smtp("[email.smtp]\nhost = \"m.example.org\"\nport = 465\n"),
            (465, Security::Tls)
        );
        assert_eq!(
            smtp("[email.smtp]\nhost = \"127.0.0.1\"\n"),
            (25, Security::None)
        );
    }

    #[test]
    fn absurd_durations_are_refused() {
        let e = err("[storage]\nretention = \"999999999y\"\n");
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn recipients_are_checked_as_delivery_parses_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wl = dir.path().join("watchlist.toml");
        let topic = |to: &str| {
            format!("[[topic]]\nid = \"t\"\nrecipients = [\"a@example.org\", {to:?}]\nall = [[\"سوريا\"]]\n")
        };
        let config = match Config::parse(
            &dir.path().join("raqib.toml"),
            "watchlist = \"watchlist.toml\"\n",
        ) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        std::fs::write(&wl, topic("Desk <desk@example.org>")).expect("write");
        assert!(config.load_watchlist().is_ok());
        // Accepted by a check for an @ and no space; refused by delivery.
        std::fs::write(&wl, topic("desk@@example.org")).expect("write");
        match config.load_watchlist() {
            Err(ConfigError::Invalid(e)) => {
                assert_eq!((e.line, e.col), (3, 32), "{e}");
                assert!(e.message.contains("not an email address"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}

//! Real servers on 127.0.0.1 for the integration tests: an HTTP feed server
//! (axum) with ETag support, and an SMTP server (mailin-embedded) that can be
//! told to refuse mail.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as AxPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One feed the HTTP server serves.
#[derive(Clone)]
pub struct Served {
    pub body: Vec<u8>,
    pub content_type: String,
}

#[derive(Default)]
pub struct HttpState {
    pub feeds: HashMap<String, Served>,
    /// Requests per feed name.
    pub requests: HashMap<String, usize>,
    /// 304 answers per feed name.
    pub not_modified: HashMap<String, usize>,
    /// Feeds that answer 503 with Retry-After.
    pub failing: Vec<String>,
    /// The Retry-After they send (default "120").
    pub retry_after: Option<String>,
}

pub type SharedHttp = Arc<Mutex<HttpState>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock_any(m)
}

/// The SMTP server's state, even after a panic elsewhere.
pub fn lock_smtp(m: &SharedSmtp) -> std::sync::MutexGuard<'_, SmtpState> {
    lock_any(m)
}

fn lock_any<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve_feed(
    State(state): State<SharedHttp>,
    AxPath(name): AxPath<String>,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&state);
    *st.requests.entry(name.clone()).or_default() += 1;
    if st.failing.contains(&name) {
        let retry_after = st.retry_after.clone().unwrap_or_else(|| "120".into());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, retry_after)],
            "busy",
        )
            .into_response();
    }
    let Some(feed) = st.feeds.get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}-{}\"", name, feed.body.len());
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        *st.not_modified.entry(name).or_default() += 1;
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, feed.content_type),
            (header::ETAG, etag),
        ],
        feed.body,
    )
        .into_response()
}

/// Starts the feed server on 127.0.0.1; feeds are at `/feeds/NAME`.
pub async fn start_http(feeds: HashMap<String, Served>) -> (SocketAddr, SharedHttp) {
    let state: SharedHttp = Arc::new(Mutex::new(HttpState {
        feeds,
        ..Default::default()
    }));
    let app = Router::new()
        .route("/feeds/{name}", get(serve_feed))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind http");
    let addr = listener.local_addr().expect("http addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, state)
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Posted {
    pub hook: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct HookState {
    pub posted: Vec<Posted>,
    /// Answers to give, in order, before answering 200.
    pub answers: Vec<u16>,
}

pub type SharedHooks = Arc<Mutex<HookState>>;

async fn receive_hook(
    State(state): State<SharedHooks>,
    AxPath(hook): AxPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut st = lock(&state);
    st.posted.push(Posted {
        hook,
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    let answer = if st.answers.is_empty() {
        200
    } else {
        st.answers.remove(0)
    };
    StatusCode::from_u16(answer).unwrap_or(StatusCode::OK)
}

/// Starts a webhook receiver on 127.0.0.1: it records what is posted to
/// `/hooks/NAME`.
pub async fn start_hooks() -> (SocketAddr, SharedHooks) {
    let state: SharedHooks = Arc::new(Mutex::new(HookState::default()));
    let app = Router::new()
        .route("/hooks/{name}", axum::routing::post(receive_hook))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind hooks");
    let addr = listener.local_addr().expect("hooks addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, state)
}

pub fn posted(hooks: &SharedHooks) -> Vec<Posted> {
    lock(hooks).posted.clone()
}

#[derive(Default)]
pub struct SmtpState {
    /// Every message accepted, as received.
    pub messages: Vec<Vec<u8>>,
    /// `Some(n)`: accept n more messages, then refuse with 451.
    pub accept_budget: Option<usize>,
    /// Refused DATA commands.
    pub refused: usize,
    /// `Some(n)`: once n messages were accepted, the next DATA waits (up
    /// to 30 s) until this is cleared, with `stalled` set meanwhile.
    pub stall_from: Option<usize>,
    pub stalled: bool,
}

pub type SharedSmtp = Arc<Mutex<SmtpState>>;

#[derive(Clone)]
struct Handler {
    state: SharedSmtp,
    buf: Vec<u8>,
}

impl mailin_embedded::Handler for Handler {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> mailin_embedded::Response {
        for _ in 0..600 {
            let mut st = lock(&self.state);
            match st.stall_from {
                Some(n) if st.messages.len() >= n => st.stalled = true,
                _ => break,
            }
            drop(st);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut st = lock(&self.state);
        if st.accept_budget == Some(0) {
            st.refused += 1;
            return mailin_embedded::response::INTERNAL_ERROR;
        }
        self.buf.clear();
        mailin_embedded::response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mut st = lock(&self.state);
        if let Some(n) = st.accept_budget.as_mut() {
            *n = n.saturating_sub(1);
        }
        st.messages.push(std::mem::take(&mut self.buf));
        mailin_embedded::response::OK
    }
}

/// Starts an SMTP server on 127.0.0.1 in a thread; returns its port.
pub fn start_smtp(state: SharedSmtp) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
    let port = listener.local_addr().expect("smtp addr").port();
    let mut server = mailin_embedded::Server::new(Handler {
        state,
        buf: Vec::new(),
    });
    server.with_name("localhost").with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    port
}

/// A loopback port with nothing listening: bound, noted, closed.
pub fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The three feeds of the end-to-end tests: UTF-8 RSS, Atom, and RSS in
/// windows-1256 declared only by the HTTP header.
pub fn standard_feeds() -> HashMap<String, Served> {
    let legacy = String::from_utf8(fixture("feeds/legacy_1256.xml")).expect("utf-8 fixture");
    let (legacy_bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&legacy);
    assert!(!unmappable, "fixture must be representable in windows-1256");
    HashMap::from([
        (
            "wire".to_string(),
            Served {
                body: fixture("feeds/wire_rss.xml"),
                content_type: "application/rss+xml".into(),
            },
        ),
        (
            "sham".to_string(),
            Served {
                body: fixture("feeds/outlet_atom.xml"),
                content_type: "application/atom+xml".into(),
            },
        ),
        (
            "khaleej".to_string(),
            Served {
                body: legacy_bytes.into_owned(),
                content_type: "text/xml; charset=windows-1256".into(),
            },
        ),
    ])
}

/// Writes a minimal config (contract keys only) and the default watchlist.
pub fn write_config(
    dir: &Path,
    http: SocketAddr,
    feeds: &[(&str, &str)],
    smtp_port: Option<u16>,
) -> PathBuf {
    let mut cfg = String::from("watchlist = \"watchlist.toml\"\n\n[storage]\npath = \"db\"\n\n[poll]\ninterval = \"1s\"\ntimeout = \"5s\"\n\n");
    for (name, display) in feeds {
        cfg.push_str(&format!(
            "[[feeds]]\nurl = \"http://{http}/feeds/{name}\"\nname = \"{display}\"\n\n"
        ));
    }
    cfg.push_str("[email]\nfrom = \"raqib <raqib@localhost>\"\nto = [\"analyst@example.org\"]\n\n");
    match smtp_port {
        Some(port) => cfg.push_str(&format!(
            "[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\n"
        )),
        None => cfg.push_str("[email.maildir]\npath = \"mail\"\n\n"),
    }
    // The fixtures' stories date from 2016: no backlog guard here (the
    // backlog tests set their own).
    cfg.push_str("[alerts]\nwindow = \"1s\"\nmax_age = \"30years\"\n");
    let path = dir.join("raqib.toml");
    std::fs::write(&path, cfg).expect("write config");
    let wl = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchlist.toml");
    std::fs::copy(wl, dir.join("watchlist.toml")).expect("copy watchlist");
    path
}

/// Runs the real binary with `args`; returns (exit code, stdout, stderr).
pub async fn raqib(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_raqib"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RAQIB_LOG", "debug")
        .output()
        .await
        .expect("run raqib");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The Message-IDs the server accepted: (all of them, the distinct ones).
pub fn message_ids(smtp: &SharedSmtp) -> (usize, usize) {
    let st = lock(smtp);
    let mut ids: Vec<String> = st
        .messages
        .iter()
        .map(|m| parse_mail(m).message_id)
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    (all, ids.len())
}

/// Every message delivered to the maildir under `dir` (`mail/new`).
pub fn maildir_mails(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir.join("mail/new")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| parse_mail(&std::fs::read(e.path()).expect("read mail")))
        .collect()
}

/// Every message the SMTP server accepted, parsed.
pub fn smtp_mails(smtp: &SharedSmtp) -> Vec<Mail> {
    lock(smtp).messages.iter().map(|m| parse_mail(m)).collect()
}

/// Adds `lines` (TOML keys) to the `[[feeds]]` table named `display` of
/// the config `write_config` wrote.
pub fn add_to_feed(cfg: &Path, display: &str, lines: &str) {
    let name = format!("name = \"{display}\"\n");
    let text = std::fs::read_to_string(cfg)
        .expect("read config")
        .replace(&name, &format!("{name}{lines}"));
    std::fs::write(cfg, text).expect("write config");
}

/// A parsed email: what the tests look at.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    /// The To header, as written.
    pub to: String,
    pub text: String,
    pub html: String,
    pub topic: String,
    pub message_id: String,
    pub raw: String,
}

pub fn parse_mail(raw: &[u8]) -> Mail {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("parsable email");
    Mail {
        subject: m.subject().unwrap_or_default().to_string(),
        to: m.header_raw("To").unwrap_or_default().trim().to_string(),
        text: m.body_text(0).map(|c| c.into_owned()).unwrap_or_default(),
        html: m.body_html(0).map(|c| c.into_owned()).unwrap_or_default(),
        topic: m
            .header_raw("X-Raqib-Topic")
            .unwrap_or_default()
            .trim()
            .to_string(),
        message_id: m.message_id().unwrap_or_default().to_string(),
        raw: String::from_utf8_lossy(raw).into_owned(),
    }
}

pub fn lock_hooks(h: &SharedHooks) -> std::sync::MutexGuard<'_, HookState> {
    lock_any(h)
}

/// An RSS 2.0 feed of `(guid, title, body)` items, each linked at
/// https://x.example/GUID.
pub fn rss_feed(items: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>",
    );
    for (guid, title, body) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><link>https://x.example/{guid}</link><title>{title}</title><description>{body}</description></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s.into_bytes()
}

/// Waits (at most `secs`) until `f` holds; panics naming `what` if not.
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}
